/**
 * Reading the event log: every event in order (ops, the webhook deliveries), or one holder's.
 * An event's id is its number, `evt_<12 digits>`; a holder's `income.credited` is read out of
 * its day's batch (src/income/events.ts) and numbered after it, `evt_<batch>_<income record>`,
 * so ids sort in the log's order and a cursor is simply the last id read.
 */
import type { AppContext } from '../context.ts';
import { DomainError } from '../errors.ts';
import { incomeAudience, incomeCredited, INCOME_BATCH, type IncomeBatchData } from '../income/events.ts';
import { IncomeRecord, incomeRecordId, partitionOf, type IncomeRecordDocument } from '../income/model.ts';
import type { EventType } from './catalogue.ts';
import { Event, EVENT_LOG_HEAD_ID, EventLogHead, EVENTS_PER_PAGE, type EventDocument } from './model.ts';

export interface PublicEvent {
  id: string;
  type: EventType;
  createdAt: string;
  holderId: string | null;
  data: Record<string, unknown>;
}

/** A place in the log: after event `seq`, and inside a batch after income record `recordId`. */
export interface LogPosition {
  seq: number;
  recordId?: string;
}

const SEQ_DIGITS = 12;
export const eventId = ({ seq, recordId }: LogPosition) => `evt_${String(seq).padStart(SEQ_DIGITS, '0')}${recordId ? `_${recordId}` : ''}`;
export const LOG_START: LogPosition = { seq: 0 };

export function parseEventId(id: string): LogPosition {
  const match = /^evt_(\d{12})(?:_(.{1,200}))?$/.exec(id);
  if (!match) throw new DomainError('invalid_cursor', 'The cursor is not an event id this service gave out');
  return { seq: Number(match[1]), ...(match[2] ? { recordId: match[2] } : {}) };
}

const publicEvent = (event: EventDocument): PublicEvent => ({
  id: eventId({ seq: event._id }),
  type: event.type as EventType,
  createdAt: event.createdAt.toISOString(),
  holderId: event.userId ?? null,
  data: event.data as Record<string, unknown>,
});

function incomeEvent(batch: EventDocument, record: IncomeRecordDocument): PublicEvent {
  const income = incomeCredited(batch.data as IncomeBatchData, record);
  return { id: eventId({ seq: batch._id, recordId: record._id }), type: 'income.credited', createdAt: batch.createdAt.toISOString(), holderId: income.holderId, data: { income } };
}

/** What a reader passes over: an event it wants, or only the place (an event of a type it does not). */
export interface LogStep {
  position: LogPosition;
  event: PublicEvent | null;
}

export type TypeFilter = (type: EventType) => boolean;
export const anyType: TypeFilter = () => true;

/**
 * Every event after `after`, in order, until the end of the log as it stands: a page of the log
 * at a time (by equality), each batch of income read out record by record when income is wanted.
 */
export async function* readLog(after: LogPosition, wants: TypeFilter): AsyncGenerator<LogStep> {
  for (let page = Math.floor(after.seq / EVENTS_PER_PAGE); ; page++) {
    const events = await Event.find({ page, _id: { $gte: after.seq } }).sort({ _id: 1 }).lean<EventDocument[]>();
    for (const event of events) {
      // `after` at a batch's own number, without a record, is past the whole batch.
      if (event.type === INCOME_BATCH) {
        if (event._id > after.seq) yield* readBatch(event, undefined, wants);
        else if (after.recordId !== undefined) yield* readBatch(event, after.recordId, wants);
      }
      else if (event._id > after.seq) yield { position: { seq: event._id }, event: wants(event.type as EventType) ? publicEvent(event) : null };
    }
    // The numbers form a run with no holes: a page that is not full is the end of the log.
    if (events.at(-1)?._id !== (page + 1) * EVENTS_PER_PAGE - 1) return;
  }
}

async function* readBatch(batch: EventDocument, afterRecordId: string | undefined, wants: TypeFilter): AsyncGenerator<LogStep> {
  if (wants('income.credited')) {
    const { bookKey } = batch.data as IncomeBatchData;
    const filter = { bookKey, ...(afterRecordId ? { _id: { $gt: afterRecordId } } : {}) };
    for await (const record of IncomeRecord.collection.find<IncomeRecordDocument>(filter as object, { batchSize: 1_000 }).sort({ _id: 1 })) {
      yield { position: { seq: batch._id, recordId: record._id }, event: incomeEvent(batch, record) };
    }
  }
  yield { position: { seq: batch._id }, event: null };
}

export interface EventPage {
  events: PublicEvent[];
  /** The id to read on from: the last event passed over, wanted or not. */
  next: string;
}

/** Steps a reader takes at most per page, so a filter that matches little still answers quickly. */
const STEPS_PER_PAGE_MAX = 5_000;

/** A page of the whole log for ops: up to `limit` events after `after`. */
export async function logPage(after: LogPosition, limit: number, wants: TypeFilter): Promise<EventPage> {
  const events: PublicEvent[] = [];
  let position = after;
  let steps = 0;
  for await (const step of readLog(after, wants)) {
    // A batch read out ends with a step at the batch itself: after it, its records are done.
    position = step.position;
    if (step.event) events.push(step.event);
    if (events.length >= limit || ++steps >= STEPS_PER_PAGE_MAX) break;
  }
  return { events, next: eventId(position) };
}

/**
 * One holder's events after `after`: its own (its audience) merged, in log order, with its
 * income, one record look-up per batch of its partition of each fund.
 */
export async function holderPage(ctx: AppContext, userId: string, after: LogPosition, limit: number, wants: TypeFilter): Promise<EventPage> {
  const partition = partitionOf(userId, ctx.config.accrual.partitions);
  const audiences = [userId, ...(wants('income.credited') ? ctx.config.funds.map((fund) => incomeAudience(fund.code, partition)) : [])];
  // One look-up per audience: FerretDB answers equality from an index, $in by a full scan.
  const lists = await Promise.all(audiences.map((audience) => Event.find({ audience, _id: { $gt: after.seq } }).lean<EventDocument[]>()));
  const found = lists.flat().sort((a, b) => a._id - b._id);
  const events: PublicEvent[] = [];
  let position = after;
  for (const event of found) {
    if (events.length >= limit) break;
    position = { seq: event._id };
    if (event.type !== INCOME_BATCH) {
      if (wants(event.type as EventType)) events.push(publicEvent(event));
      continue;
    }
    const batch = event.data as IncomeBatchData;
    const record = await IncomeRecord.findById(incomeRecordId(userId, batch.date)).lean<IncomeRecordDocument>();
    if (record?.bookKey !== batch.bookKey) continue;
    events.push(incomeEvent(event, record));
    position = { seq: event._id, recordId: record._id };
  }
  return { events, next: eventId(position) };
}

/** Where the log ends now: the head's hint, read on to the last event (the hint may lag). */
export async function endOfLog(): Promise<LogPosition> {
  const head = await EventLogHead.findById(EVENT_LOG_HEAD_ID).lean<{ next: number }>();
  let end: LogPosition = { seq: Math.max((head?.next ?? 1) - 1, 0) };
  for await (const step of readLog(end, () => false)) end = { seq: step.position.seq };
  return end;
}
