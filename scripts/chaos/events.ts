/**
 * The chaos verdict on events: after the run, the event log against what stands. Each
 * operation's expected events are read off its final state, by a table of its own (not the
 * engine's rule): a status reached means its event; a failure means one only when money had
 * moved; a sweep's refusal is told; an instant operation that stands succeeded. Every income
 * record of an accrued day is one income.credited, every accrued day one fund_day.accrued.
 * Both sides are keyed `<object>:<type>`; a key logged twice counts as extra. A webhook receiver
 * attached to the run is held to the same keys.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createContext, type AppContext } from '../../src/context.ts';
import { relayAll } from '../../src/events/log.ts';
import { Event } from '../../src/events/model.ts';
import { deliverWebhooks } from '../../src/webhooks/delivery.ts';
import { WebhookEndpoint } from '../../src/webhooks/model.ts';
import { replayWebhookEndpoint } from '../../src/webhooks/service.ts';
import { verifySignature } from '../../src/webhooks/signature.ts';
import '../../src/eventSources.ts';
import { anyType, endOfLog, eventId, LOG_START, readLog } from '../../src/events/feed.ts';
import { FundDay, type FundDayDocument } from '../../src/fund/model.ts';
import { IncomeRecord, holderOfRecord } from '../../src/income/model.ts';
import { Operation, type OperationDocument } from '../../src/operations/model.ts';

export interface EventVerdict {
  expected: number;
  logged: number;
  missing: string[];
  extra: string[];
  /** Failures decided after their request ended without a final answer (recovery): told, or not if the request had answered it. */
  toldAfterRequest: number;
}

/**
 * The failure event an operation may have, beyond expectedEventsOf: one decided by recovery
 * after its request ended without a final answer (it crashed, or answered 202) is told, and
 * one its request decided is not. The operation says which (failureToldByEvent): its stored
 * answer does not, as a resend answered after recovery stores one too. An instant operation is
 * failed after its request only as interrupted.
 */
export function failureMaybeTold(op: OperationDocument): string | null {
  if (op.status !== 'failed') return null;
  const instant = op.type === 'instant_redemption' || op.type === 'payment';
  return (instant ? op.failure?.code === 'interrupted' : op.failureToldByEvent === true) ? `${op._id}:${op.type}.failed` : null;
}

export function expectedEventsOf(op: OperationDocument): string[] {
  const moved = op.postings.length > 0;
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

/** What stands, as event keys: from each operation's final state, each accrued day and its income records. */
async function expectedKeys(): Promise<{ keys: Set<string>; maybeTold: Set<string> }> {
  const keys = new Set<string>();
  const maybeTold = new Set<string>();
  for await (const found of Operation.find().lean<OperationDocument[]>().cursor()) {
    const op = found as unknown as OperationDocument;
    for (const key of expectedEventsOf(op)) keys.add(key);
    const told = failureMaybeTold(op);
    if (told && !keys.has(told)) maybeTold.add(told);
  }
  for (const day of await FundDay.find({ status: 'accrued' }).lean<FundDayDocument[]>()) {
    keys.add(`${day.fundCode}:${day.date}:fund_day.accrued`);
    for (let partition = 0; partition < (day.partitionCount ?? 0); partition++) {
      for (const record of await IncomeRecord.find({ bookKey: `${day.fundCode}:${day.date}:${partition}` }, { _id: 1 }).lean()) {
        keys.add(`${holderOfRecord(record._id)}:${day.fundCode}:${day.date}:income.credited`);
      }
    }
  }
  return { keys, maybeTold };
}

interface Tally {
  seen: Set<string>;
  missing: string[];
  extra: string[];
  toldAfterRequest: number;
}

/** Events (from the log or a receiver) against what stands: each expected key once, none other but a failure decided after its request. */
function tally(events: Iterable<{ type: string; data: Record<string, unknown> }>, expected: { keys: Set<string>; maybeTold: Set<string> }): Tally {
  const seen = new Set<string>();
  const extra: string[] = [];
  let toldAfterRequest = 0;
  for (const { type, data } of events) {
    if (!COMPARED.test(type)) continue;
    const key = eventKeyOf(type, data);
    if (expected.maybeTold.has(key) && !seen.has(key)) toldAfterRequest++;
    else if (seen.has(key) || !expected.keys.has(key)) extra.push(key);
    seen.add(key);
  }
  return { seen, missing: [...expected.keys].filter((key) => !seen.has(key)), extra, toldAfterRequest };
}

export async function compareEvents(): Promise<EventVerdict> {
  // The processes are gone; what they filed is not: relayed here until nothing is due.
  await relayAll();
  const expected = await expectedKeys();
  const logged = [];
  for await (const { event } of readLog(LOG_START, anyType)) if (event) logged.push(event);
  const { seen, missing, extra, toldAfterRequest } = tally(logged, expected);
  return { expected: expected.keys.size, logged: seen.size, missing, extra, toldAfterRequest };
}

export function eventKeyOf(type: string, data: Record<string, unknown>): string {
  const operation = data.operation as { id: string } | undefined;
  if (operation) return `${operation.id}:${type}`;
  const income = data.income as { holderId: string; fundCode: string; date: string } | undefined;
  if (income) return `${income.holderId}:${income.fundCode}:${income.date}:${type}`;
  const day = data.fundDay as { fundCode: string; date: string } | undefined;
  // Security and ops events are not compared: keyed by type alone.
  return day ? `${day.fundCode}:${day.date}:${type}` : type;
}

/**
 * A webhook receiver on loopback for the run: registered for every type before the traffic,
 * replayed from the log's first event (the seeding's events came before it), it keeps each
 * delivery whose signature checks, by event id (at least once: a resend is the same id).
 */
export class ChaosReceiver {
  readonly byId = new Map<string, { type: string; data: Record<string, unknown> }>();
  deliveries = 0;
  badSignatures = 0;
  #server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk)).on('end', () => {
      this.deliveries++;
      if (verifySignature(this.#secret, String(req.headers['moneyfund-signature']), body, Math.floor(Date.now() / 1000)) !== 'valid') {
        this.badSignatures++;
        res.writeHead(400).end();
        return;
      }
      const event = JSON.parse(body) as { id: string; type: string; data: Record<string, unknown> };
      this.byId.set(event.id, { type: event.type, data: event.data });
      res.writeHead(200).end();
    });
  });
  #secret = '';
  #endpointId = '';

  async register(apiUrl: string, auth: Record<string, string>): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    const response = await fetch(`${apiUrl}/v1/ops/webhook-endpoints`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://127.0.0.1:${port}/hooks`, types: ['*'], description: 'chaos receiver' }),
    });
    if (response.status !== 201) throw new Error(`registering the receiver answered ${response.status}`);
    const endpoint = (await response.json()) as { id: string; secret: string };
    [this.#secret, this.#endpointId] = [endpoint.secret, endpoint.id];
    await relayAll();
    if (await Event.exists({ _id: 1 })) await replayWebhookEndpoint(createContext(), this.#endpointId, eventId({ seq: 1 }));
  }

  /** The processes are gone: this process delivers until the endpoint's cursor is at the end of the log. */
  async drain(ctx: AppContext, timeoutMs: number): Promise<boolean> {
    const end = eventId(await endOfLog());
    const giveUpAt = Date.now() + timeoutMs;
    while (Date.now() < giveUpAt) {
      await deliverWebhooks(ctx);
      if ((await WebhookEndpoint.findById(this.#endpointId).lean())?.cursor === end) return true;
      await sleep(1_000);
    }
    return false;
  }

  /** What the receiver got against what stands: the same keys as the log's verdict. */
  async compare(): Promise<{ received: number; missing: number; extra: number; badSignatures: number; resent: number }> {
    const { seen, missing, extra } = tally(this.byId.values(), await expectedKeys());
    return { received: seen.size, missing: missing.length, extra: extra.length, badSignatures: this.badSignatures, resent: this.deliveries - this.byId.size - this.badSignatures };
  }

  close(): void {
    this.#server.close();
  }
}
