import type { Router } from 'express';
import { z } from 'zod';
import { apiActor, audited } from '../audit/service.ts';
import type { AppContext } from '../context.ts';
import { EVENT_TYPES } from '../events/catalogue.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes } from '../http/openapi.ts';
import { instantText } from '../http/openapi/schemas.ts';
import { identifier } from '../http/validate.ts';
import { DELIVERY_OUTCOMES, WEBHOOK_ENDPOINT_STATUSES, type WebhookEndpointStatus } from './model.ts';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  findWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  replayWebhookEndpoint,
  setWebhookEndpointStatus,
  WEBHOOK_ENDPOINTS_MAX,
} from './service.ts';

/** Where deliveries go: http(s) only, no credentials in the URL (they would show in every list). */
const endpointUrl = z
  .string()
  .max(2048)
  .refine((text) => {
    if (!URL.canParse(text)) return false;
    const url = new URL(text);
    return ['http:', 'https:'].includes(url.protocol) && url.username === '' && url.password === '';
  }, 'expected an http or https URL without credentials')
  .meta({ examples: ['https://wallet.example/hooks/moneyfund'] });

const eventTypes = z
  .array(z.enum(['*', ...EVENT_TYPES]))
  .min(1)
  .max(EVENT_TYPES.length)
  .refine((types) => new Set(types).size === types.length, 'expected each event type once')
  .describe('The event types to send, or ["*"] for all');

/** A registration as the API and the CLI take it. */
export const webhookEndpointRequest = z.strictObject({ url: endpointUrl, types: eventTypes, description: z.string().min(1).max(200).optional() });

const endpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    types: z.array(z.string()),
    description: z.string().nullable(),
    status: z.enum(WEBHOOK_ENDPOINT_STATUSES),
    createdAt: instantText,
    createdBy: z.string().describe('The ops user who registered it'),
    updatedAt: instantText,
    delivery: z
      .object({
        cursor: z.string().describe('The last event passed (delivered, given up, or not of its types); the next delivery is the first of its types after it'),
        retrying: z.boolean().describe('The event after the cursor failed and is tried again at nextAttemptAt; the events after it wait'),
        failingEventId: z.string().nullable(),
        failedAttempts: z.number().int().describe('Attempts that failed at failingEventId'),
        nextAttemptAt: instantText.nullable(),
      })
      .describe('Where its deliveries stand (docs/webhooks.md)'),
  })
  .meta({ id: 'WebhookEndpoint' });

const DELIVERIES_PER_LISTING_MAX = 500;

/** An event id as the event routes give them out. */
const eventIdText = z.string().regex(/^evt_\d{12}(_[A-Za-z0-9_:.-]{1,200})?$/, 'expected an event id, e.g. evt_000000000042').meta({ examples: ['evt_000000000042'] });

/** A replay as the API and the CLI take it. */
export const webhookReplayRequest = z.strictObject({ from: eventIdText.describe('The first event to send again') });

const deliverySchema = z
  .object({
    id: z.string().describe('Sortable: later attempts have greater ids'),
    endpointId: z.string(),
    eventId: z.string(),
    eventType: z.enum(EVENT_TYPES),
    attempt: z.number().int().describe('1 for the first attempt at the event, 2 for the first retry, ...'),
    outcome: z.enum(DELIVERY_OUTCOMES).describe('delivered: a 2xx answer; retrying: failed, to be tried again; failed: failed and given up (the event was older than the retry window)'),
    httpStatus: z.number().int().nullable().describe('The receiver\'s status; null when none came'),
    error: z.string().nullable().describe('Why no status came: timeout, ECONNREFUSED, ...'),
    latencyMs: z.number().int(),
    at: instantText,
  })
  .meta({ id: 'WebhookDelivery' });

const deliveriesQuery = z.strictObject({
  after: z.string().max(300).optional().describe('The last delivery id read (a page\'s `next`); from the first when absent'),
  limit: z.coerce.number().int().min(1).max(DELIVERIES_PER_LISTING_MAX).default(100),
  status: z.enum(DELIVERY_OUTCOMES).optional().describe('Only attempts with this outcome'),
});

const UNKNOWN_ENDPOINT = { not_found: 'no webhook endpoint has this id' };
const endpointParams = z.object({ endpointId: identifier });

/** Ops only (the app mounts /v1/ops behind the ops role); every change is audited. */
export function webhookRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Webhooks', description: 'Endpoints that are sent the service\'s events, signed (ops).' });
  api.post(
    '/v1/ops/webhook-endpoints',
    {
      operationId: 'createWebhookEndpoint',
      summary: 'Register an endpoint; the answer carries its signing secret, once',
      body: webhookEndpointRequest,
      responses: { 201: { description: 'Registered and enabled', body: endpointSchema.extend({ secret: z.string().describe('Signs every delivery (docs/webhooks.md); never shown again') }) } },
      problems: { webhook_endpoints_full: `already ${WEBHOOK_ENDPOINTS_MAX} endpoints` },
    },
    async ({ body }, res) => {
      const actor = await apiActor(principalOf(res).userId);
      const created = await audited(ctx, { actor, action: 'webhook.create', target: body.url, request: { url: body.url, types: body.types } }, () =>
        createWebhookEndpoint(ctx, body, actor.id),
        // The secret stays out of the audit.
        (endpoint) => ({ result: { id: endpoint.id } }),
      );
      res.status(201).json(created);
    },
  );
  api.get(
    '/v1/ops/webhook-endpoints',
    { operationId: 'listWebhookEndpoints', summary: 'The registered endpoints, oldest first', responses: { 200: { description: 'The endpoints, without their secrets', body: z.object({ endpoints: z.array(endpointSchema) }) } } },
    async (_input, res) => {
      res.json(await listWebhookEndpoints());
    },
  );
  api.get(
    '/v1/ops/webhook-endpoints/:endpointId',
    { operationId: 'getWebhookEndpoint', summary: 'One endpoint', params: endpointParams, responses: { 200: { description: 'The endpoint, without its secret', body: endpointSchema } }, problems: UNKNOWN_ENDPOINT },
    async ({ params }, res) => {
      res.json(await findWebhookEndpoint(params.endpointId));
    },
  );
  for (const [verb, status] of [['pause', 'paused'], ['resume', 'enabled']] as const satisfies readonly (readonly [string, WebhookEndpointStatus])[]) {
    api.post(
      `/v1/ops/webhook-endpoints/:endpointId/${verb}`,
      {
        operationId: `${verb}WebhookEndpoint`,
        summary: verb === 'pause' ? 'Pause an endpoint: nothing is sent to it until it is resumed' : 'Resume a paused endpoint',
        params: endpointParams,
        responses: { 200: { description: 'The endpoint as it stands', body: endpointSchema } },
        problems: UNKNOWN_ENDPOINT,
      },
      async ({ params }, res) => {
        const actor = await apiActor(principalOf(res).userId);
        res.json(await audited(ctx, { actor, action: `webhook.${verb}`, target: params.endpointId }, () => setWebhookEndpointStatus(ctx, params.endpointId, status)));
      },
    );
  }
  api.get(
    '/v1/ops/webhook-endpoints/:endpointId/deliveries',
    {
      operationId: 'listWebhookDeliveries',
      summary: 'An endpoint\'s delivery log: one entry per attempt, oldest first, after a cursor',
      params: endpointParams,
      query: deliveriesQuery,
      responses: { 200: { description: 'A page of attempts', body: z.object({ deliveries: z.array(deliverySchema), next: z.string().nullable().describe('Pass as `after` to read on') }) } },
      problems: { ...UNKNOWN_ENDPOINT, invalid_cursor: 'after is not a delivery id of this endpoint' },
    },
    async ({ params, query }, res) => {
      res.json(await listWebhookDeliveries(params.endpointId, query.after, query.limit, query.status));
    },
  );
  api.post(
    '/v1/ops/webhook-endpoints/:endpointId/replay',
    {
      operationId: 'replayWebhookEndpoint',
      summary: 'Send an endpoint every event of its types again, from an event on',
      params: endpointParams,
      body: webhookReplayRequest,
      responses: { 200: { description: 'The endpoint, its cursor just before the event', body: endpointSchema } },
      problems: {
        ...UNKNOWN_ENDPOINT,
        unknown_event: 'the log holds no event with this id',
        replay_ahead_of_cursor: 'the endpoint has not reached the event yet: a replay only goes back',
      },
    },
    async ({ params, body }, res) => {
      const actor = await apiActor(principalOf(res).userId);
      res.json(await audited(ctx, { actor, action: 'webhook.replay', target: params.endpointId, request: { from: body.from } }, () => replayWebhookEndpoint(ctx, params.endpointId, body.from)));
    },
  );
  api.delete(
    '/v1/ops/webhook-endpoints/:endpointId',
    {
      operationId: 'deleteWebhookEndpoint',
      summary: 'Delete an endpoint',
      params: endpointParams,
      responses: { 200: { description: 'Deleted', body: z.object({ id: z.string(), deleted: z.literal(true) }) } },
      problems: UNKNOWN_ENDPOINT,
    },
    async ({ params }, res) => {
      const actor = await apiActor(principalOf(res).userId);
      res.json(await audited(ctx, { actor, action: 'webhook.delete', target: params.endpointId }, () => deleteWebhookEndpoint(params.endpointId)));
    },
  );
  return api.router;
}
