import mongoose, { Schema, type InferSchemaType } from 'mongoose';

export const WEBHOOK_ENDPOINT_STATUSES = ['enabled', 'paused'] as const;
export type WebhookEndpointStatus = (typeof WEBHOOK_ENDPOINT_STATUSES)[number];

/**
 * A receiver ops registered: where events are sent, which types (or `*`), and the secret the
 * deliveries are signed with (src/webhooks/signature.ts). The secret is answered once, when
 * the endpoint is registered, and never again.
 *
 * Its delivery state lives here too (src/webhooks/delivery.ts): the cursor (the id of the last
 * event of the log passed: sent, given up, or not of its types), the worker that holds it
 * (lease), the head event being retried, and how many delivery log entries it has numbered.
 */
const webhookEndpointSchema = new Schema(
  {
    _id: { type: String, required: true },
    url: { type: String, required: true },
    types: { type: [String], required: true },
    description: { type: String, default: null },
    secret: { type: String, required: true },
    status: { type: String, enum: WEBHOOK_ENDPOINT_STATUSES, required: true },
    createdAt: { type: Date, required: true },
    createdBy: { type: String, required: true },
    updatedAt: { type: Date, required: true },
    /** The last event passed; null: the log's start. Moved only by compare-and-set from the value read. */
    cursor: { type: String, default: null },
    leaseHolder: { type: String, default: null },
    leaseExpiresAt: { type: Date, default: null },
    /** The event after the cursor that failed and waits for `nextAttemptAt`; later events wait behind it. */
    failingEventId: { type: String, default: null },
    failedAttempts: { type: Number, default: 0 },
    nextAttemptAt: { type: Date, default: null },
    /** Delivery log entries numbered so far (each entry's number is in its id). */
    deliveriesLogged: { type: Number, default: 0 },
  },
  { versionKey: false, strict: 'throw' },
);

export type WebhookEndpointDocument = InferSchemaType<typeof webhookEndpointSchema> & { _id: string };
export const WebhookEndpoint = mongoose.model('WebhookEndpoint', webhookEndpointSchema, 'webhook_endpoints');

export const DELIVERY_OUTCOMES = ['delivered', 'retrying', 'failed'] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/**
 * The delivery log: one document per attempt, appended in batches, never updated. Entry n of
 * an endpoint is `<endpoint>:<n, 12 digits>` and sits on page `<endpoint>:<floor(n / 100)>`, so
 * a listing reads a page by equality (FerretDB answers only equality from an index).
 * `failedOf` (the endpoint id) is set on the attempts given up, so those are found by equality too.
 */
const webhookDeliverySchema = new Schema(
  {
    _id: { type: String, required: true },
    page: { type: String, required: true },
    endpointId: { type: String, required: true },
    eventId: { type: String, required: true },
    eventType: { type: String, required: true },
    /** 1 for the first attempt at this event, 2 for the first retry, ... */
    attempt: { type: Number, required: true },
    /** delivered (2xx), retrying (failed, tried again later), failed (failed, given up). */
    outcome: { type: String, enum: DELIVERY_OUTCOMES, required: true },
    failedOf: { type: String, default: undefined },
    httpStatus: { type: Number, default: null },
    /** Why no 2xx came when no status did: `timeout`, `ECONNREFUSED`, ... */
    error: { type: String, default: null },
    latencyMs: { type: Number, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);
webhookDeliverySchema.index({ page: 1 });
webhookDeliverySchema.index({ failedOf: 1 });

export const DELIVERIES_PER_PAGE = 100;
export type WebhookDeliveryDocument = InferSchemaType<typeof webhookDeliverySchema> & { _id: string };
export const WebhookDelivery = mongoose.model('WebhookDelivery', webhookDeliverySchema, 'webhook_deliveries');
