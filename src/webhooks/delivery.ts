/**
 * Webhook deliveries (docs/webhooks.md): each enabled endpoint is sent every event of its
 * types, signed, at least once, in the log's order, from every process's delivery loop.
 *
 * - A worker takes an endpoint by a compare-and-set lease on its document (holder, expiry),
 *   renews it at half-time while it works, and gives it back when done: one worker per
 *   endpoint at a time, endpoints delivered independently of each other.
 * - The cursor moves only by a compare-and-set from the value the worker read, together with
 *   the lease: a worker that was paused past its lease finds its write refused and stops,
 *   never moving the cursor back nor past an event it did not send.
 * - A failed attempt (non-2xx, timeout, no connection) waits `retryDelaysMs` and holds back
 *   the events after it (order); once the event is `retryWindowMs` old a failed attempt gives
 *   it up and the endpoint moves on.
 * - Each attempt is a delivery log entry; entries are appended in batches after the
 *   compare-and-set that numbers them. A crash loses at most a batch's entries, and resends
 *   at most a batch's events.
 */
import type { AppContext } from '../context.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import type { EventType } from '../events/catalogue.ts';
import { withBeijingTwins } from '../calendar/beijingTime.ts';
import { readLog, type LogPosition, type PublicEvent, type TypeFilter } from '../events/feed.ts';
import { Event } from '../events/model.ts';
import { newId } from '../ids.ts';
import { log } from '../log.ts';
import { cursorOf, cursorPosition } from './logPosition.ts';
import { DELIVERIES_PER_PAGE, WebhookDelivery, WebhookEndpoint, type DeliveryOutcome, type WebhookDeliveryDocument, type WebhookEndpointDocument } from './model.ts';
import { SIGNATURE_HEADER, signatureHeader } from './signature.ts';

/** Attempts logged (and events passed) between two writes of the cursor. */
const DELIVERIES_PER_FLUSH = 100;
const ENTRY_NUMBER_DIGITS = 12;

export const deliveryId = (endpointId: string, number: number) => `${endpointId}:${String(number).padStart(ENTRY_NUMBER_DIGITS, '0')}`;
export const deliveryPage = (endpointId: string, number: number) => `${endpointId}:${Math.floor(number / DELIVERIES_PER_PAGE)}`;

const wantsOf = (types: readonly string[]): TypeFilter => (types.includes('*') ? () => true : (type: EventType) => types.includes(type));

interface AttemptResult {
  ok: boolean;
  httpStatus: number | null;
  error: string | null;
  latencyMs: number;
}

/**
 * One signed POST of one event, serialized as the API answers it (each instant with its Beijing
 * twin); never throws. The signature's time is the real one: receivers check it against theirs.
 */
async function post(endpoint: WebhookEndpointDocument, event: PublicEvent, timeoutMs: number, zone: string): Promise<AttemptResult> {
  const body = JSON.stringify(event, withBeijingTwins(zone));
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  try {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', [SIGNATURE_HEADER]: signatureHeader(endpoint.secret, Math.floor(Date.now() / 1000), body) },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Read to the end so the connection is kept for the next event (the timeout still bounds it).
    await response.arrayBuffer();
    return { ok: response.status >= 200 && response.status < 300, httpStatus: response.status, error: null, latencyMs: latencyMs() };
  } catch (error) {
    return { ok: false, httpStatus: null, error: failureOf(error), latencyMs: latencyMs() };
  }
}

function failureOf(error: unknown): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') return 'timeout';
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  return String(cause?.message ?? (error as Error).message ?? error).slice(0, 200);
}

/** The wait after the n-th failed attempt at an event; the last step repeats. */
export const retryDelayMs = (ctx: AppContext, failedAttempts: number): number => {
  const delays = ctx.config.webhooks.retryDelaysMs;
  return delays[Math.min(failedAttempts, delays.length) - 1]!;
};

type EntryDraft = Omit<WebhookDeliveryDocument, '_id' | 'page' | 'failedOf'>;
type RetryState = Pick<WebhookEndpointDocument, 'failingEventId' | 'failedAttempts' | 'nextAttemptAt'>;
const NO_RETRY: RetryState = { failingEventId: null, failedAttempts: 0, nextAttemptAt: null };

/**
 * A worker's hold on one endpoint: the document as it last read or wrote it (the next
 * compare-and-set's expectations), and what it has done since (the next write).
 */
class EndpointRun {
  readonly #ctx: AppContext;
  readonly #workerId: string;
  #read: WebhookEndpointDocument;
  #position: LogPosition;
  #retry: RetryState;
  #entries: EntryDraft[] = [];

  constructor(ctx: AppContext, workerId: string, taken: WebhookEndpointDocument) {
    this.#ctx = ctx;
    this.#workerId = workerId;
    this.#read = taken;
    this.#position = cursorPosition(taken.cursor);
    this.#retry = { failingEventId: taken.failingEventId, failedAttempts: taken.failedAttempts, nextAttemptAt: taken.nextAttemptAt };
  }

  /** Sends every due event after the cursor, until the log's end, a failure that must wait, or the lease is lost. */
  async deliver(stopping: () => boolean): Promise<void> {
    for await (const step of readLog(this.#position, wantsOf(this.#read.types))) {
      if (this.#mustRenew() && !(await this.#keep())) return;
      if (step.event && !(await this.#attempt(step.event))) break;
      this.#position = step.position;
      if (this.#entries.length >= DELIVERIES_PER_FLUSH && !(await this.#keep())) return;
      if (stopping()) break;
    }
    await this.#write(true);
  }

  /** Writes what was done and renews the lease; false when the worker must stop (given back when paused). */
  async #keep(): Promise<boolean> {
    const written = await this.#write(false);
    if (written?.status === 'enabled') return true;
    // Paused: its place kept, the endpoint given back so that a resume is served at once.
    if (written) await this.#write(true);
    return false;
  }

  /** At half the lease: renewed before the next send, so the lease outlives the send (timeoutMs <= leaseMs / 2). */
  #mustRenew(): boolean {
    return this.#ctx.clock.now().getTime() >= this.#read.leaseExpiresAt!.getTime() - this.#ctx.config.webhooks.leaseMs / 2;
  }

  /** One attempt at the event: true when it is passed (delivered, or given up), false when it waits for a retry. */
  async #attempt(event: PublicEvent): Promise<boolean> {
    const { timeoutMs, retryWindowMs } = this.#ctx.config.webhooks;
    const attempt = this.#retry.failingEventId === event.id ? this.#retry.failedAttempts + 1 : 1;
    const { ok, httpStatus, error, latencyMs } = await post(this.#read, event, timeoutMs, this.#ctx.config.zone);
    const now = this.#ctx.clock.now();
    const expired = now.getTime() - Date.parse(event.createdAt) >= retryWindowMs;
    const outcome: DeliveryOutcome = ok ? 'delivered' : expired ? 'failed' : 'retrying';
    this.#entries.push({ endpointId: this.#read._id, eventId: event.id, eventType: event.type, attempt, outcome, httpStatus, error, latencyMs, at: now });
    if (outcome !== 'retrying') {
      this.#retry = NO_RETRY;
      return true;
    }
    this.#retry = { failingEventId: event.id, failedAttempts: attempt, nextAttemptAt: new Date(now.getTime() + retryDelayMs(this.#ctx, attempt)) };
    return false;
  }

  /**
   * Writes the cursor, the retry state and the entries' numbers by compare-and-set on what was
   * read (lease holder, cursor, entries numbered), renewing the lease or giving it back; then
   * appends the entries. Null when refused: the lease was lost, the endpoint replayed or deleted.
   */
  async #write(release: boolean): Promise<WebhookEndpointDocument | null> {
    const read = this.#read;
    const now = this.#ctx.clock.now();
    const next = {
      cursor: cursorOf(this.#position),
      deliveriesLogged: read.deliveriesLogged + this.#entries.length,
      ...this.#retry,
      leaseHolder: release ? null : this.#workerId,
      leaseExpiresAt: release ? null : new Date(now.getTime() + this.#ctx.config.webhooks.leaseMs),
    };
    const written = await retryOnWriteConflict(() =>
      WebhookEndpoint.findOneAndUpdate(
        { _id: read._id, leaseHolder: this.#workerId, cursor: read.cursor ?? null, deliveriesLogged: read.deliveriesLogged },
        { $set: next },
        { returnDocument: 'after' },
      ).lean<WebhookEndpointDocument>(),
    );
    if (!written) {
      log.info({ endpointId: read._id, workerId: this.#workerId }, 'webhook endpoint taken over, replayed or deleted: this worker stops');
      return null;
    }
    await appendEntries(this.#entries, read.deliveriesLogged);
    this.#entries = [];
    this.#read = written;
    return written;
  }
}

async function appendEntries(entries: EntryDraft[], numberedBefore: number): Promise<void> {
  if (entries.length === 0) return;
  const documents = entries.map((entry, index) => {
    const number = numberedBefore + index + 1;
    return { _id: deliveryId(entry.endpointId, number), page: deliveryPage(entry.endpointId, number), ...entry, ...(entry.outcome === 'failed' ? { failedOf: entry.endpointId } : {}) };
  });
  await WebhookDelivery.collection.insertMany(documents as never[], { ordered: false });
}

/** Nothing to send: no retry due, and no event after a cursor that stands at the end of a number. */
async function idle(ctx: AppContext, endpoint: WebhookEndpointDocument): Promise<boolean> {
  if (endpoint.nextAttemptAt) return endpoint.nextAttemptAt.getTime() > ctx.clock.now().getTime();
  const position = cursorPosition(endpoint.cursor);
  return position.recordId === undefined && !(await Event.exists({ _id: position.seq + 1 }));
}

/** Takes the endpoint when nobody holds it (or the holder's lease ran out): the document as taken, or null. */
async function takeLease(ctx: AppContext, endpoint: WebhookEndpointDocument, workerId: string): Promise<WebhookEndpointDocument | null> {
  const now = ctx.clock.now();
  if (endpoint.leaseHolder && endpoint.leaseExpiresAt && endpoint.leaseExpiresAt.getTime() > now.getTime()) return null;
  return retryOnWriteConflict(() =>
    WebhookEndpoint.findOneAndUpdate(
      { _id: endpoint._id, status: 'enabled', leaseHolder: endpoint.leaseHolder ?? null, leaseExpiresAt: endpoint.leaseExpiresAt ?? null },
      { $set: { leaseHolder: workerId, leaseExpiresAt: new Date(now.getTime() + ctx.config.webhooks.leaseMs) } },
      { returnDocument: 'after' },
    ).lean<WebhookEndpointDocument>(),
  );
}

/** One worker's pass at one endpoint: taken, delivered as far as it goes, given back. */
export async function deliverToEndpoint(ctx: AppContext, endpoint: WebhookEndpointDocument, workerId: string, stopping: () => boolean = () => false): Promise<void> {
  if (endpoint.status !== 'enabled' || (await idle(ctx, endpoint))) return;
  const taken = await takeLease(ctx, endpoint, workerId);
  if (taken) await new EndpointRun(ctx, workerId, taken).deliver(stopping);
}

/** One pass at every enabled endpoint, each on its own: what a test runs as one worker. */
export async function deliverWebhooks(ctx: AppContext, workerId: string = newId('wk')): Promise<void> {
  const endpoints = await WebhookEndpoint.find({ status: 'enabled' }).lean<WebhookEndpointDocument[]>();
  await Promise.all(endpoints.map((endpoint) => deliverToEndpoint(ctx, endpoint, workerId)));
}

/**
 * Every `deliverEveryMs`, starts a pass at each enabled endpoint this process is not already
 * delivering to, without waiting for the others: a hung endpoint holds only its own pass.
 * Returns the stop: no new passes, and the running ones end after their current event.
 */
export function startWebhookDelivery(ctx: AppContext): () => Promise<void> {
  const workerId = newId('wk');
  const running = new Map<string, Promise<void>>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const startPass = (endpoint: WebhookEndpointDocument) => {
    const pass = deliverToEndpoint(ctx, endpoint, workerId, () => stopped)
      .catch((error: unknown) => log.warn({ err: error, endpointId: endpoint._id }, 'webhook delivery pass failed; the next pass tries again'))
      .finally(() => running.delete(endpoint._id));
    running.set(endpoint._id, pass);
  };
  const tick = async () => {
    try {
      const endpoints = await WebhookEndpoint.find({ status: 'enabled' }).lean<WebhookEndpointDocument[]>();
      for (const endpoint of endpoints) if (!stopped && !running.has(endpoint._id)) startPass(endpoint);
    } catch (error) {
      log.warn({ err: error }, 'could not list webhook endpoints; the next tick tries again');
    }
    if (!stopped) timer = setTimeout(() => void tick(), ctx.config.webhooks.deliverEveryMs).unref();
  };
  timer = setTimeout(() => void tick(), ctx.config.webhooks.deliverEveryMs).unref();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await Promise.all(running.values());
  };
}
