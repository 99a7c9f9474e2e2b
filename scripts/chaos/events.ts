/**
 * The chaos verdict on events: after the run, the event log against what stands. Each
 * operation's expected events are read off its final state, by a table of its own (not the
 * engine's rule): a status reached means its event; a failure means one only when money had
 * moved; a sweep's refusal is told; an instant operation that stands succeeded. Every income
 * record of an accrued day is one income.credited, every accrued day one fund_day.accrued.
 * Both sides are keyed `<object>:<type>`; a key logged twice counts as extra.
 */
import { relayAll } from '../../src/events/log.ts';
import '../../src/events/sources.ts';
import { anyType, LOG_START, readLog } from '../../src/events/feed.ts';
import { FundDay, type FundDayDocument } from '../../src/fund/model.ts';
import { IncomeRecord, holderOfRecord } from '../../src/income/model.ts';
import { Operation, type OperationDocument } from '../../src/operations/model.ts';

export interface EventVerdict {
  expected: number;
  logged: number;
  missing: string[];
  extra: string[];
  /** Instant operations failed as interrupted: told when recovery decided it, not when their request did. */
  interruptedTold: number;
}

export function expectedEventsOf(op: OperationDocument): string[] {
  const moved = op.steps.length > 0;
  const sweep = op.idempotencyKey.startsWith('auto-sweep:');
  const key = (type: string) => `${op._id}:${type}`;
  const accepted = key(sweep ? 'auto_sweep.succeeded' : 'transfer_in.accepted');
  switch (op.type) {
    case 'top_up':
    case 'withdrawal':
      if (op.status === 'completed') return [key(`${op.type}.succeeded`)];
      return op.status === 'failed' && moved ? [key(`${op.type}.failed`)] : [];
    case 'transfer_in':
      if (op.status === 'awaiting_confirmation') return [accepted];
      if (op.status === 'completed') return [accepted, key('transfer_in.confirmed')];
      if (op.status === 'failed' && moved) return [key('transfer_in.failed')];
      return op.status === 'failed' && sweep ? [key('auto_sweep.failed')] : [];
    case 'redemption':
      if (op.status === 'awaiting_settlement') return [key('redemption.accepted')];
      if (op.status === 'completed') return [key('redemption.accepted'), key('redemption.settled')];
      return op.status === 'failed' && moved ? [key('redemption.failed')] : [];
    case 'instant_redemption':
    case 'payment':
      return op.status === 'failed' ? [] : [key(`${op.type}.succeeded`)];
    default:
      return [];
  }
}

const COMPARED = /^(top_up|withdrawal|transfer_in|redemption|instant_redemption|payment|auto_sweep|income|fund_day)\./;

export async function compareEvents(): Promise<EventVerdict> {
  // The processes are gone; what they filed is not: relayed here until nothing is due.
  await relayAll();
  const expected = new Set<string>();
  const interrupted = new Set<string>();
  for await (const found of Operation.find().lean<OperationDocument[]>().cursor()) {
    const op = found as unknown as OperationDocument;
    for (const key of expectedEventsOf(op)) expected.add(key);
    if (op.status === 'failed' && op.failure?.code === 'interrupted') interrupted.add(`${op._id}:${op.type}.failed`);
  }
  for (const day of await FundDay.find({ status: 'accrued' }).lean<FundDayDocument[]>()) {
    expected.add(`${day.fundCode}:${day.date}:fund_day.accrued`);
    for (let partition = 0; partition < (day.partitionCount ?? 0); partition++) {
      for (const record of await IncomeRecord.find({ bookKey: `${day.fundCode}:${day.date}:${partition}` }, { _id: 1 }).lean()) {
        expected.add(`${holderOfRecord(record._id)}:${day.fundCode}:${day.date}:income.credited`);
      }
    }
  }
  const logged = new Set<string>();
  const extra: string[] = [];
  let interruptedTold = 0;
  for await (const { event } of readLog(LOG_START, anyType)) {
    if (!event || !COMPARED.test(event.type)) continue;
    const key = eventKeyOf(event.type, event.data);
    if (interrupted.has(key)) interruptedTold++;
    else if (logged.has(key) || !expected.has(key)) extra.push(key);
    logged.add(key);
  }
  const missing = [...expected].filter((key) => !logged.has(key));
  return { expected: expected.size, logged: logged.size, missing, extra, interruptedTold };
}

export function eventKeyOf(type: string, data: Record<string, unknown>): string {
  const operation = data.operation as { id: string } | undefined;
  if (operation) return `${operation.id}:${type}`;
  const income = data.income as { holderId: string; fundCode: string; date: string } | undefined;
  if (income) return `${income.holderId}:${income.fundCode}:${income.date}:${type}`;
  const day = data.fundDay as { fundCode: string; date: string };
  return `${day.fundCode}:${day.date}:${type}`;
}
