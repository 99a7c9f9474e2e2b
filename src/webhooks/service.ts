/**
 * The webhook endpoints ops register (docs/webhooks.md): a URL, the event types it wants and
 * a secret shown once. Paused endpoints keep their place; a deleted one is gone.
 */
import type { AppContext } from '../context.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { DomainError, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { endOfLog } from '../events/feed.ts';
import { comparePositions, cursorOf, cursorPosition, positionBefore } from './logPosition.ts';
import { newWebhookSecret } from './signature.ts';
import {
  DELIVERIES_PER_PAGE,
  WebhookDelivery,
  WebhookEndpoint,
  type DeliveryOutcome,
  type WebhookDeliveryDocument,
  type WebhookEndpointDocument,
  type WebhookEndpointStatus,
} from './model.ts';
import { deliveryPage } from './delivery.ts';

/** Each endpoint costs every event a look: a bound keeps that small. */
export const WEBHOOK_ENDPOINTS_MAX = 16;

export interface WebhookEndpointInput {
  url: string;
  types: string[];
  description?: string;
}

type EndpointFields = Omit<WebhookEndpointDocument, 'leaseHolder' | 'leaseExpiresAt'>;

export function webhookEndpointView(endpoint: EndpointFields) {
  const { _id, url, types, description, status, createdAt, createdBy, updatedAt } = endpoint;
  return { id: _id, url, types, description: description ?? null, status, createdAt: createdAt.toISOString(), createdBy, updatedAt: updatedAt.toISOString(), delivery: deliveryStateView(endpoint) };
}

/** Where its deliveries stand: the last event passed, and the event being retried, if one is. */
function deliveryStateView({ cursor, failingEventId, failedAttempts, nextAttemptAt }: EndpointFields) {
  return {
    cursor: cursorOf(cursorPosition(cursor)),
    retrying: failingEventId !== null && failingEventId !== undefined,
    failingEventId: failingEventId ?? null,
    failedAttempts: failedAttempts ?? 0,
    nextAttemptAt: nextAttemptAt?.toISOString() ?? null,
  };
}

/** Registers an endpoint, enabled; the answer is the only one that carries its secret. */
export async function createWebhookEndpoint(ctx: AppContext, input: WebhookEndpointInput, createdBy: string) {
  if ((await WebhookEndpoint.countDocuments({})) >= WEBHOOK_ENDPOINTS_MAX) {
    throw new DomainError('webhook_endpoints_full', `At most ${WEBHOOK_ENDPOINTS_MAX} webhook endpoints: delete one first`, {}, { values: { endpointsMax: WEBHOOK_ENDPOINTS_MAX } });
  }
  const now = ctx.clock.now();
  const endpoint = {
    _id: newId('we'),
    url: input.url,
    types: input.types,
    description: input.description ?? null,
    secret: newWebhookSecret(),
    status: 'enabled' as const,
    createdAt: now,
    createdBy,
    updatedAt: now,
    // Sent what happens from now on; a replay sends what came before.
    cursor: cursorOf(await endOfLog()),
    failingEventId: null,
    failedAttempts: 0,
    nextAttemptAt: null,
    deliveriesLogged: 0,
  };
  await WebhookEndpoint.create(endpoint);
  return { ...webhookEndpointView(endpoint), secret: endpoint.secret };
}

export async function listWebhookEndpoints() {
  const endpoints = await WebhookEndpoint.find({}).sort({ createdAt: 1 }).lean<WebhookEndpointDocument[]>();
  return { endpoints: endpoints.map(webhookEndpointView) };
}

const unknownEndpoint = (id: string) => notFound(`The webhook endpoint ${id}`, { key: 'not_found_webhook_endpoint', values: { id } });

export async function findWebhookEndpoint(id: string) {
  const endpoint = await WebhookEndpoint.findById(id).lean<WebhookEndpointDocument>();
  if (!endpoint) throw unknownEndpoint(id);
  return webhookEndpointView(endpoint);
}

/** Pauses or resumes: a paused endpoint is sent nothing until resumed. */
export async function setWebhookEndpointStatus(ctx: AppContext, id: string, status: WebhookEndpointStatus) {
  const updated = await retryOnWriteConflict(() =>
    WebhookEndpoint.findOneAndUpdate({ _id: id }, { $set: { status, updatedAt: ctx.clock.now() } }, { returnDocument: 'after' }).lean<WebhookEndpointDocument>(),
  );
  if (!updated) throw unknownEndpoint(id);
  return webhookEndpointView(updated);
}

export async function deleteWebhookEndpoint(id: string): Promise<{ id: string; deleted: true }> {
  const deleted = await WebhookEndpoint.deleteOne({ _id: id });
  if (deleted.deletedCount === 0) throw unknownEndpoint(id);
  return { id, deleted: true };
}

/**
 * Moves the cursor back to just before the event `fromEventId`, by compare-and-set on the
 * cursor read (a worker moving it meanwhile makes this read again, and the worker's own write
 * fail), and forgets the retry in progress: that event and everything after it are sent again.
 */
export async function replayWebhookEndpoint(ctx: AppContext, id: string, fromEventId: string) {
  const before = await positionBefore(fromEventId);
  if (!before) throw new DomainError('unknown_event', `No event ${fromEventId} in the log`, {}, { values: { eventId: fromEventId } });
  for (;;) {
    const endpoint = await WebhookEndpoint.findById(id).lean<WebhookEndpointDocument>();
    if (!endpoint) throw unknownEndpoint(id);
    if (comparePositions(before, cursorPosition(endpoint.cursor)) > 0) {
      throw new DomainError('replay_ahead_of_cursor', `The endpoint has not reached ${fromEventId} yet: a replay only goes back`, {}, { values: { eventId: fromEventId } });
    }
    const replayed = await retryOnWriteConflict(() =>
      WebhookEndpoint.findOneAndUpdate(
        { _id: id, cursor: endpoint.cursor ?? null },
        { $set: { cursor: cursorOf(before), failingEventId: null, failedAttempts: 0, nextAttemptAt: null, updatedAt: ctx.clock.now() } },
        { returnDocument: 'after' },
      ).lean<WebhookEndpointDocument>(),
    );
    if (replayed) return webhookEndpointView(replayed);
  }
}

function deliveryEntryView(entry: WebhookDeliveryDocument) {
  const { _id, endpointId, eventId, eventType, attempt, outcome, httpStatus, error, latencyMs, at } = entry;
  return { id: _id, endpointId, eventId, eventType, attempt, outcome, httpStatus: httpStatus ?? null, error: error ?? null, latencyMs, at: at.toISOString() };
}

/** Pages of the log a listing reads at most, so a rare outcome still answers quickly (read on from `next`). */
const LOG_PAGES_PER_LISTING_MAX = 50;

function entryNumberOf(endpointId: string, deliveryId: string): number {
  const match = /^(.+):(\d{12})$/.exec(deliveryId);
  if (match?.[1] !== endpointId) throw new DomainError('invalid_cursor', 'The cursor is not a delivery id of this endpoint');
  return Number(match[2]);
}

/**
 * An endpoint's delivery log, oldest first, after the entry `after`: a page of the log at a
 * time by equality; the attempts given up by equality on their own field.
 */
export async function listWebhookDeliveries(id: string, after: string | undefined, limit: number, outcome?: DeliveryOutcome) {
  const endpoint = await WebhookEndpoint.findById(id).lean<WebhookEndpointDocument>();
  if (!endpoint) throw unknownEndpoint(id);
  const afterNumber = after === undefined ? 0 : entryNumberOf(id, after);
  const isAfter = (entry: WebhookDeliveryDocument) => after === undefined || entry._id > after;
  const byId = (a: WebhookDeliveryDocument, b: WebhookDeliveryDocument) => (a._id < b._id ? -1 : 1);
  if (outcome === 'failed') {
    const failed = (await WebhookDelivery.find({ failedOf: id }).lean<WebhookDeliveryDocument[]>()).filter(isAfter).sort(byId).slice(0, limit);
    return { deliveries: failed.map(deliveryEntryView), next: failed.at(-1)?._id ?? after ?? null };
  }
  const found: WebhookDeliveryDocument[] = [];
  let next = after ?? null;
  const lastPage = Math.floor(endpoint.deliveriesLogged / DELIVERIES_PER_PAGE);
  const firstPage = Math.floor(afterNumber / DELIVERIES_PER_PAGE);
  for (let page = firstPage; page <= lastPage && page < firstPage + LOG_PAGES_PER_LISTING_MAX && found.length < limit; page++) {
    const entries = (await WebhookDelivery.find({ page: deliveryPage(id, page * DELIVERIES_PER_PAGE) }).lean<WebhookDeliveryDocument[]>()).filter(isAfter).sort(byId);
    for (const entry of entries) {
      if (found.length >= limit) break;
      next = entry._id;
      if (!outcome || entry.outcome === outcome) found.push(entry);
    }
  }
  return { deliveries: found.map(deliveryEntryView), next };
}
