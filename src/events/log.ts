/**
 * The event log and its relay. Changes file their events in an outbox on the document they
 * change (src/events/outbox.ts); the relay copies them into the log, numbered, then clears
 * them. Any number of relays may run at once, and any may pause or die at any point:
 *
 * - a number is taken by inserting the event under it (unique `_id`), in order, with one
 *   ordered insert, so the numbers that exist always form a run with no holes: an insert at
 *   number n+1 is tried only after n exists, and a relay that lost number n to another stops
 *   there and looks again. A reader that has seen n has seen everything before it;
 * - a change relayed twice is one event: the unique `sourceKey` refuses the second copy;
 * - the outbox is cleared only after its events are in the log, by a compare-and-set on the
 *   document's `outboxToken`, so an event filed meanwhile stays due.
 */
import type { Model } from 'mongoose';
import { MongoBulkWriteError } from 'mongodb';
import { isDuplicateKey, retryOnWriteConflict } from '../db/writeConflict.ts';
import { faultPoint } from '../faults.ts';
import { log } from '../log.ts';
import { Event, EVENT_LOG_HEAD_ID, EventLogHead, EVENTS_PER_PAGE, type EventDocument } from './model.ts';
import type { EventDraft, OutboxFields } from './outbox.ts';

type SourceDocument = OutboxFields & { _id: string };

/** A collection whose documents file events: how a due document's drafts are made. */
export interface EventSource {
  name: string;
  model: Model<never>;
  /** The document's drafts; by default its outbox as filed. */
  draftsOf?(document: SourceDocument): Promise<EventDraft[]>;
}

const sources: EventSource[] = [];

export function registerEventSource(source: EventSource): void {
  if (!sources.some((known) => known.name === source.name)) sources.push(source);
}

/**
 * Documents per ordered insert. FerretDB 1.24 inserts a command's documents in batches of 100
 * and, after a duplicate key, stops only the batch it is in: the next batches are inserted
 * anyway, past the hole (docs/database.md). One batch per command keeps the insert ordered.
 */
export const ORDERED_INSERT_MAX = 100;

/** Due documents one relay pass takes from each source. */
const DUE_PER_PASS = 100;

/** One pass: every due document's events into the log, then its outbox cleared. Returns the events appended. */
export async function relayEvents(): Promise<number> {
  const taken = await Promise.all(
    sources.map(async (source) => ({ source, due: await source.model.find({ eventsDue: true }).limit(DUE_PER_PASS).lean<SourceDocument[]>() })),
  );
  const drafts: EventDraft[] = [];
  for (const { source, due } of taken) {
    for (const document of due) drafts.push(...(source.draftsOf ? await source.draftsOf(document) : (document.outbox ?? [])));
  }
  // In the order the changes happened, across sources, within a pass (a stable sort).
  const appended = await appendEvents(drafts.sort((a, b) => a.at.getTime() - b.at.getTime()));
  await faultPoint('relay:before-clear');
  for (const { source, due } of taken) for (const document of due) await clearOutbox(source.model, document);
  return appended;
}

/** Whether any change waits for the relay. */
async function eventsDue(): Promise<boolean> {
  return (await Promise.all(sources.map((source) => source.model.exists({ eventsDue: true })))).some(Boolean);
}

/** Relays until nothing is due (tests, the chaos verdict, a process that stops). */
export async function relayAll(): Promise<void> {
  do await relayEvents();
  while (await eventsDue());
}

async function clearOutbox(model: Model<never>, document: SourceDocument): Promise<void> {
  // A push renews the token: an event filed after the read keeps the document due.
  await retryOnWriteConflict(() =>
    model.updateOne({ _id: document._id, outboxToken: document.outboxToken ?? null } as never, { $set: { outbox: [] }, $unset: { eventsDue: '', outboxToken: '' } } as never),
  );
}

/** Appends drafts to the log in their order, each once; returns how many were new. */
export async function appendEvents(drafts: EventDraft[]): Promise<number> {
  let pending = drafts;
  let appended = 0;
  while (pending.length > 0) {
    const first = await firstFreeNumber();
    const documents = pending.slice(0, ORDERED_INSERT_MAX).map((draft, index) => logDocument(draft, first + index));
    const inserted = await insertInOrder(documents);
    appended += inserted;
    await retryOnWriteConflict(() => EventLogHead.updateOne({ _id: EVENT_LOG_HEAD_ID }, { $max: { next: first + inserted } }, { upsert: true }));
    // Stopped at a taken number: the draft there is either logged already (drop it) or lost
    // its number to another relay (try it again at the next free one).
    const stoppedAt = pending[inserted];
    pending = pending.slice(inserted);
    if (stoppedAt && (await Event.exists({ sourceKey: stoppedAt.sourceKey }))) pending = pending.slice(1);
  }
  return appended;
}

/** Inserts in order, stopping at the first taken number or key; returns how many went in. */
async function insertInOrder(documents: EventDocument[]): Promise<number> {
  try {
    await Event.collection.insertMany(documents as never[], { ordered: true });
    return documents.length;
  } catch (error) {
    if (error instanceof MongoBulkWriteError && [error.writeErrors].flat().every((writeError) => writeError.code === 11000)) return error.insertedCount;
    if (isDuplicateKey(error)) return 0;
    throw error;
  }
}

/** The first number not yet taken, from the head's hint on: numbers are taken in order, so it is the end of the run. */
async function firstFreeNumber(): Promise<number> {
  const head = await EventLogHead.findById(EVENT_LOG_HEAD_ID).lean<{ next: number }>();
  let number = head?.next ?? 1;
  while (await Event.exists({ _id: number })) number++;
  return number;
}

function logDocument(draft: EventDraft, seq: number): EventDocument {
  const { sourceKey, type, userId, audience, at, data } = draft;
  return { _id: seq, sourceKey, page: Math.floor(seq / EVENTS_PER_PAGE), audience, type, userId, createdAt: at, data } as EventDocument;
}

/** Relays every few hundred milliseconds until stopped: the worker's and the API's loop. */
export function startEventRelay(everyMs: number): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = relayEvents()
      .then(() => undefined)
      .catch((error: unknown) => log.warn({ err: error }, 'event relay pass failed; the next pass tries again'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, everyMs).unref();
      });
  };
  timer = setTimeout(tick, everyMs).unref();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
