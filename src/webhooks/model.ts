import mongoose, { Schema, type InferSchemaType } from 'mongoose';

export const WEBHOOK_ENDPOINT_STATUSES = ['enabled', 'paused'] as const;
export type WebhookEndpointStatus = (typeof WEBHOOK_ENDPOINT_STATUSES)[number];

/**
 * A receiver ops registered: where events are sent, which types (or `*`), and the secret the
 * deliveries are signed with (src/webhooks/signature.ts). The secret is answered once, when
 * the endpoint is registered, and never again.
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
  },
  { versionKey: false, strict: 'throw' },
);

export type WebhookEndpointDocument = InferSchemaType<typeof webhookEndpointSchema> & { _id: string };
export const WebhookEndpoint = mongoose.model('WebhookEndpoint', webhookEndpointSchema, 'webhook_endpoints');
