import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { outboxPaths } from '../events/outbox.ts';

/**
 * One slice of the liquidity reserve. Every instant redemption takes its advance from one
 * shard, so concurrent redemptions spread over several documents instead of queueing on
 * one. size = available + leased + outstanding, per shard and in all; none goes negative
 * (every debit is guarded). `leasedFen` is lent to API processes (src/reserve/leases.ts):
 * their advances come out of it in memory and move to outstanding when the lease closes.
 * Each leg is a guarded leg of the operation engine, as on accounts (src/operations/guardedLeg.ts).
 */
const reserveShardSchema = new Schema(
  {
    /** `reserve:<name>:<index>` */
    _id: { type: String, required: true },
    /** The reserve the shard belongs to (config reserve.name). */
    reserveName: { type: String, required: true },
    availableFen: { type: BigInt, default: 0n },
    leasedFen: { type: BigInt, default: 0n },
    outstandingFen: { type: BigInt, default: 0n },
    legCount: { type: Number, default: 0 },
    unfinishedMarks: { type: String, default: '' },
  },
  { versionKey: false, strict: 'throw' },
);

export type ReserveShardDocument = InferSchemaType<typeof reserveShardSchema> & { _id: string };
export const ReserveShard = mongoose.model('ReserveShard', reserveShardSchema, 'reserve_shards');

reserveShardSchema.index({ reserveName: 1 });

export const shardId = (reserveName: string, index: number) => `reserve:${reserveName}:${index}`;

/**
 * Which instant redemptions of a lease were settled by the requests that wrote them
 * (committed by their holder's leg, or rewritten as failed): appended by the lease's owner
 * a few at a time, so that if it dies, whoever closes the lease checks only the others
 * (see src/transfers/instant.ts). Space-separated ids: one string, not an array.
 */
const leaseNoteSchema = new Schema(
  {
    _id: { type: String, required: true },
    leaseId: { type: String, required: true },
    operationIds: { type: String, required: true },
    /** Its operations' success events, until relayed (src/transfers/events.ts). */
    ...outboxPaths,
  },
  { versionKey: false, strict: 'throw' },
);
leaseNoteSchema.index({ leaseId: 1 });
leaseNoteSchema.index({ eventsDue: 1 });

export type LeaseNoteDocument = InferSchemaType<typeof leaseNoteSchema> & { _id: string };
export const LeaseNote = mongoose.model('LeaseNote', leaseNoteSchema, 'lease_notes');
