/**
 * Places in the event log as an endpoint's cursor uses them. A cursor is the id of the last
 * event passed: `evt_<n>` once everything through number n is passed (for a batch of income,
 * all its records), `evt_<n>_<record>` inside a batch.
 */
import { EventLogHead } from '../events/model.ts';
import { anyType, eventId, LOG_START, parseEventId, readLog, type LogPosition, type LogStep, type TypeFilter } from '../events/feed.ts';

/** The relay's hint of the first free number (src/events/log.ts keeps it under this id). */
const EVENT_LOG_HEAD_ID = 'events';

export const cursorPosition = (cursor: string | null | undefined): LogPosition => (cursor ? parseEventId(cursor) : LOG_START);
export const cursorOf = (position: LogPosition): string => eventId(position);

/**
 * Every step after `after`. readLog reads a batch out again when asked to start at its number
 * without a record (it yields the batch's end at that same number): the steps at `after`
 * itself are dropped, so `evt_<n>` means "all of n passed".
 */
export async function* stepsAfter(after: LogPosition, wants: TypeFilter): AsyncGenerator<LogStep> {
  for await (const step of readLog(after, wants)) {
    if (after.recordId === undefined && step.position.seq === after.seq) continue;
    yield step;
  }
}

/** Where the log ends now: a new endpoint starts there, as a Stripe endpoint is sent only what happens after it is added. */
export async function endOfLog(): Promise<LogPosition> {
  const head = await EventLogHead.findById(EVENT_LOG_HEAD_ID).lean<{ next: number }>();
  // The hint may lag the log (a relay that stopped between its insert and the hint): read on to the end.
  let end: LogPosition = { seq: Math.max((head?.next ?? 1) - 1, 0) };
  for await (const step of stepsAfter(end, () => false)) end = { seq: step.position.seq };
  return end;
}

/** Orders places: by number, and inside a batch by record, the batch's end (no record) last. */
export function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a.seq !== b.seq) return a.seq - b.seq;
  if (a.recordId === b.recordId) return 0;
  if (a.recordId === undefined) return 1;
  if (b.recordId === undefined) return -1;
  return a.recordId < b.recordId ? -1 : 1;
}

/** The place just before the event with this id, or null when the log holds no such event. */
export async function positionBefore(id: string): Promise<LogPosition | null> {
  const target = parseEventId(id);
  let previous: LogPosition = { seq: Math.max(target.seq - 1, 0) };
  for await (const step of stepsAfter(previous, anyType)) {
    const order = comparePositions(step.position, target);
    if (order === 0) return step.event ? previous : null;
    if (order > 0) return null;
    previous = step.position;
  }
  return null;
}
