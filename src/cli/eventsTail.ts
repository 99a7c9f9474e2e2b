/**
 * `npm run ops -- events tail`: the event log as it grows, one line an event (or its JSON with
 * --json), polling the log once a second from its end (or from a given event, or from the
 * start) until stopped. It reads the log only: the API and worker processes relay events into it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError } from 'commander';
import { EVENT_TYPES, type EventType } from '../events/catalogue.ts';
import { anyType, endOfLog, eventId, logPage, LOG_START, parseEventId, type LogPosition, type PublicEvent, type TypeFilter } from '../events/feed.ts';

export const TAIL_POLL_MS = 1_000;
const EVENTS_PER_READ = 100;

export function eventTypesOption(value: string): EventType[] {
  const types = value.split(',').map((type) => type.trim()).filter(Boolean);
  const unknown = types.filter((type) => !(EVENT_TYPES as readonly string[]).includes(type));
  if (unknown.length > 0 || types.length === 0) throw new InvalidArgumentError(`unknown event types: ${unknown.join(', ') || '(none)'}; known: ${EVENT_TYPES.join(', ')}`);
  return types as EventType[];
}

export function eventIdOption(value: string): LogPosition {
  if (!/^evt_\d{12}(_.+)?$/.test(value)) throw new InvalidArgumentError('expected an event id, e.g. evt_000000000042');
  return parseEventId(value);
}

// The fields of an event's object that say what happened, in this order, when it has them.
const SUMMARY_FIELDS = ['type', 'status', 'amount', 'fundCode', 'date', 'income', 'locked', 'lockedUntil', 'endedBy', 'idEnd', 'reason', 'available', 'size', 'breaks', 'unbalancedOperations', 'knownThrough', 'daysRemaining', 'yieldPer10k'];

/** A few words of what the event says: the telling fields of its object(s), name=value. */
export function eventSummary(event: PublicEvent): string {
  const fields = new Map<string, unknown>();
  for (const [key, value] of Object.entries(event.data)) {
    if (value !== null && typeof value === 'object') for (const [field, inner] of Object.entries(value)) fields.set(field, inner);
    else fields.set(key, value);
  }
  return SUMMARY_FIELDS.filter((field) => fields.has(field) && typeof fields.get(field) !== 'object').map((field) => `${field}=${String(fields.get(field))}`).join(' ');
}

export const eventLine = (event: PublicEvent) => [event.id, event.type, event.holderId ?? 'ops', eventSummary(event)].join('  ');

export interface TailOptions {
  types?: EventType[];
  from?: LogPosition;
  all?: boolean;
  json?: boolean;
}

/** Where a tail starts: after --from, at the start with --all, else at the end of the log as it stands. */
export async function tailStart(options: TailOptions): Promise<LogPosition> {
  return options.from ?? (options.all ? LOG_START : endOfLog());
}

/** Prints events logged after `from` as they come, until `stop` aborts; resolves with the position read to. */
export async function tailEvents(from: LogPosition, options: TailOptions, write: (text: string) => void, stop: AbortSignal): Promise<LogPosition> {
  const wants: TypeFilter = options.types ? (type) => options.types!.includes(type) : anyType;
  let position = from;
  while (!stop.aborted) {
    const page = await logPage(position, EVENTS_PER_READ, wants);
    for (const event of page.events) write(`${options.json ? JSON.stringify(event) : eventLine(event)}\n`);
    const movedOn = page.next !== eventId(position);
    position = parseEventId(page.next);
    // More may be waiting right behind a page that moved: read on at once; else wait a poll.
    if (!movedOn) await sleep(TAIL_POLL_MS, undefined, { signal: stop }).catch(() => undefined);
  }
  return position;
}
