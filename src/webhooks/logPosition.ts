/**
 * Places in the event log as an endpoint's cursor uses them. A cursor is the id of the last
 * event passed: `evt_<n>` once everything through number n is passed (for a batch of income,
 * all its records), `evt_<n>_<record>` inside a batch.
 */
import { anyType, eventId, LOG_START, parseEventId, readLog, type LogPosition } from '../events/feed.ts';

export const cursorPosition = (cursor: string | null | undefined): LogPosition => (cursor ? parseEventId(cursor) : LOG_START);
export const cursorOf = (position: LogPosition): string => eventId(position);

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
  for await (const step of readLog(previous, anyType)) {
    const order = comparePositions(step.position, target);
    if (order === 0) return step.event ? previous : null;
    if (order > 0) return null;
    previous = step.position;
  }
  return null;
}
