import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { outboxPaths } from '../events/outbox.ts';

export const OPERATION_TYPES = [
  'top_up',
  'withdrawal',
  'transfer_in',
  'redemption',
  'instant_redemption',
  'payment',
  'reserve_adjustment',
  'reserve_lease',
] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

export const OPERATION_STATUSES = [
  'pending',
  'awaiting_confirmation',
  'awaiting_settlement',
  'completed',
  'failed',
] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

/** Journal entry: `account` is a ledger account such as wallet:<userId> or bank:clearing. */
const postingSchema = new Schema(
  {
    step: { type: String, required: true },
    account: { type: String, required: true },
    amountFen: { type: BigInt, required: true },
    at: { type: Date, required: true },
  },
  { _id: false },
);

/**
 * One money movement asked for by a holder: its idempotency key, its legs as they are
 * applied (`steps`, `postings`: each step's postings sum to zero) and its status. It is
 * written before any money moves, so a crash leaves a trace the recovery job can finish.
 */
const operationSchema = new Schema(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    idempotencyKey: { type: String, required: true },
    requestHash: { type: String, required: true },
    type: { type: String, enum: OPERATION_TYPES, required: true },
    status: { type: String, enum: OPERATION_STATUSES, required: true },
    amountFen: { type: BigInt, required: true },
    fundCode: { type: String, default: null },
    /** wallet or bank_card: where a transfer-in comes from / a redemption goes to. */
    channel: { type: String, default: null },
    bankCardId: { type: String, default: null },
    /** The merchant a payment goes to. */
    merchantId: { type: String, default: null },
    /** A payment's merchant as it was named when paid, for the holder's history. */
    merchantName: { type: String, default: null },
    /** A reserve adjustment: increase or decrease. */
    direction: { type: String, enum: ['increase', 'decrease', null], default: null },
    /**
     * The reserve lease an instant redemption's advance comes out of (a lease's own id on the
     * lease), its shard, and until when the lease may give advances.
     */
    leaseId: { type: String, default: null },
    reserveShard: { type: String, default: null },
    leaseExpiresAt: { type: Date, default: null },
    /**
     * Set on a lease by anyone but its owner before it reads the lease's redemptions to close
     * it: a redemption written after that read sees it and moves nothing (src/reserve/leases.ts).
     */
    leaseClosingAt: { type: Date, default: null },
    tradeDate: { type: String, default: null },
    /** Confirmation date of a transfer-in; settlement date of a redemption. */
    dueDate: { type: String, default: null },
    /**
     * The day this operation's share postings change what earns (a transfer-in's confirm
     * date, a redemption's request day), and the accrual book key of that day and holder.
     */
    sharesEffectDate: { type: String, default: null },
    sharesEffectKey: { type: String, default: null },
    steps: { type: [String], default: [] },
    postings: { type: [postingSchema], default: [] },
    failure: { type: { code: String, detail: String, remainingToday: String }, default: null },
    /** Failed by recovery after its request ended without a final answer, and told by an event for that (src/operations/machine.ts). */
    failureToldByEvent: { type: Boolean, default: undefined },
    /** A money-out request's security epochs when its session and payment password were checked (src/auth/epochs.ts). */
    securityEpochs: { type: { sessions: Number, paymentPassword: Number }, default: null },
    /** The first answer given to the caller, replayed verbatim for the same key. */
    response: { type: { status: Number, body: Schema.Types.Mixed }, default: null },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    /** Set by each transition: a writer that sent several at once tells its own by it. */
    transitionId: { type: String, default: null },
    /** The events its transitions filed, until relayed (src/events/outbox.ts). */
    ...outboxPaths,
  },
  { versionKey: false, strict: 'throw' },
);
operationSchema.index({ userId: 1, idempotencyKey: 1 }, { unique: true });
operationSchema.index({ status: 1 });
operationSchema.index({ sharesEffectKey: 1 });
// A lease closes on the sum of the advances taken from it.
operationSchema.index({ leaseId: 1 });
// Reports select by equality: a fund's flows of one trade date, the instant advances of a
// trade date, every reserve adjustment (type alone uses the prefix).
operationSchema.index({ type: 1, tradeDate: 1 });
operationSchema.index({ eventsDue: 1 });

export type OperationDocument = InferSchemaType<typeof operationSchema> & { _id: string };
export type Posting = InferSchemaType<typeof postingSchema>;
export const Operation = mongoose.model('Operation', operationSchema, 'operations');
