/**
 * Reading the event log: every event in order (ops, the webhook deliveries), or one holder's.
 * An event's id is its number, `evt_<12 digits>`. A batch (one entry standing for many events,
 * such as a day's income: src/income/events.ts registers its reader) is read out member by
 * member, each numbered after it, `evt_<batch>_<member key>`, so ids sort in the log's order
 * and a cursor is simply the last id read.
 */
import type { AppContext } from '../context.ts';
import { DomainError } from '../errors.ts';
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

export const publicEvent = (event: EventDocument): PublicEvent => ({
  id: eventId({ seq: event._id }),
  type: event.type as EventType,
  createdAt: event.createdAt.toISOString(),
  holderId: event.userId ?? null,
  data: event.data as Record<string, unknown>,
});

export interface BatchMember {
  key: string;
  event: PublicEvent;
}

/** How the log's entries of one batch type are read out (registered by the domain that writes them). */
export interface BatchReader {
  /** The type of the events a batch stands for. */
  memberType: EventType;
  /** Every member after `afterKey`, in key order. */
  members(batch: EventDocument, afterKey: string | undefined): AsyncIterable<BatchMember>;
  /** The audiences under which a holder's batches are logged. */
  audiencesOf(ctx: AppContext, holderId: string): string[];
  /** The holder's member of a batch, if it has one. */
  memberOf(batch: EventDocument, holderId: string): Promise<BatchMember | null>;
}

const batchReaders = new Map<string, BatchReader>();

export function registerBatchReader(batchType: string, reader: BatchReader): void {
  batchReaders.set(batchType, reader);
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
      const reader = batchReaders.get(event.type);
      // `after` at a batch's own number, without a member, is past the whole batch.
      if (reader) {
        if (event._id > after.seq) yield* readBatch(reader, event, undefined, wants);
        else if (after.recordId !== undefined) yield* readBatch(reader, event, after.recordId, wants);
      }
      else if (event._id > after.seq) yield { position: { seq: event._id }, event: wants(event.type as EventType) ? publicEvent(event) : null };
    }
    // The numbers form a run with no holes: a page that is not full is the end of the log.
    if (events.at(-1)?._id !== (page + 1) * EVENTS_PER_PAGE - 1) return;
  }
}

async function* readBatch(reader: BatchReader, batch: EventDocument, afterKey: string | undefined, wants: TypeFilter): AsyncGenerator<LogStep> {
  if (wants(reader.memberType)) {
    for await (const { key, event } of reader.members(batch, afterKey)) yield { position: { seq: batch._id, recordId: key }, event };
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
 * members of batches (its income: one record look-up per batch of its partition of each fund).
 */
export async function holderPage(ctx: AppContext, userId: string, after: LogPosition, limit: number, wants: TypeFilter): Promise<EventPage> {
  const readers = [...batchReaders.values()].filter((reader) => wants(reader.memberType));
  const audiences = [userId, ...readers.flatMap((reader) => reader.audiencesOf(ctx, userId))];
  // One look-up per audience: FerretDB answers equality from an index, $in by a full scan.
  const lists = await Promise.all(audiences.map((audience) => Event.find({ audience, _id: { $gt: after.seq } }).lean<EventDocument[]>()));
  const found = lists.flat().sort((a, b) => a._id - b._id);
  const events: PublicEvent[] = [];
  let position = after;
  for (const event of found) {
    if (events.length >= limit) break;
    position = { seq: event._id };
    const reader = batchReaders.get(event.type);
    if (!reader) {
      if (wants(event.type as EventType)) events.push(publicEvent(event));
      continue;
    }
    const member = await reader.memberOf(event, userId);
    if (!member) continue;
    events.push(member.event);
    position = { seq: event._id, recordId: member.key };
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
