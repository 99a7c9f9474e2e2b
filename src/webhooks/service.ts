/**
 * The webhook endpoints ops register (docs/webhooks.md): a URL, the event types it wants and
 * a secret shown once. Paused endpoints keep their place; a deleted one is gone.
 */
import type { AppContext } from '../context.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { DomainError, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { newWebhookSecret } from './signature.ts';
import { WebhookEndpoint, type WebhookEndpointDocument, type WebhookEndpointStatus } from './model.ts';

/** Each endpoint costs every event a look: a bound keeps that small. */
export const WEBHOOK_ENDPOINTS_MAX = 16;

export interface WebhookEndpointInput {
  url: string;
  types: string[];
  description?: string;
}

export function webhookEndpointView(endpoint: WebhookEndpointDocument) {
  const { _id, url, types, description, status, createdAt, createdBy, updatedAt } = endpoint;
  return { id: _id, url, types, description: description ?? null, status, createdAt: createdAt.toISOString(), createdBy, updatedAt: updatedAt.toISOString() };
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
