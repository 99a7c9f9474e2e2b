import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { driverCollection } from '../db/driver.ts';
import { outboxPaths } from '../events/outbox.ts';

/**
 * A holder's money in one document: wallet, confirmed shares and the amounts in flight, so
 * each leg of an operation on the holder's side is one guarded single-document update.
 * Every leg is a compare-and-set on `legCount` that also leaves its step's mark in
 * `unfinishedMarks`: replaying a step finds its mark and changes nothing
 * (src/operations/journal.ts). A mark leaves only once its operation has recorded the leg
 * (src/operations/marks.ts). The marks are one string, not an array: FerretDB decodes every
 * array element on its own.
 */
const accountSchema = new Schema(
  {
    _id: { type: String, required: true },
    fundCode: { type: String, default: null },
    walletFen: { type: BigInt, default: 0n },
    sharesFen: { type: BigInt, default: 0n },
    subscribingFen: { type: BigInt, default: 0n },
    redeemingFen: { type: BigInt, default: 0n },
    /** sharesFen + subscribingFen, kept by every leg, so the holding limit is one guard. */
    holdingFen: { type: BigInt, default: 0n },
    /** The natural day (Asia/Shanghai) of transferInTodayFen, for the daily transfer-in limit. */
    transferInDate: { type: String, default: null },
    transferInTodayFen: { type: BigInt, default: 0n },
    /** Income folded into sharesFen so far (src/income/fold.ts), and the last day folded. */
    incomeFoldedFen: { type: BigInt, default: 0n },
    /**
     * A loss folded in that the shares no longer covered (a leg on D+1 redeemed them before D's
     * negative day was accrued): owed by the holder, paid by the next shares in. The position
     * in the fund is sharesFen - shortfallFen; sharesFen itself never goes below zero.
     */
    shortfallFen: { type: BigInt, default: 0n },
    /** The natural day (Asia/Shanghai) of instantTodayFen, for the instant-redemption cap. */
    instantDate: { type: String, default: null },
    instantTodayFen: { type: BigInt, default: 0n },
    incomeFoldedThrough: { type: String, default: null },
    /** Auto-sweep: wallet money above autoSweepKeepFen moves into the fund each morning. */
    autoSweepOn: { type: Boolean, default: false },
    autoSweepKeepFen: { type: BigInt, default: 0n },
    /** Also sweep a top-up as soon as it lands in the wallet. */
    autoSweepOnArrival: { type: Boolean, default: false },
    legCount: { type: Number, default: 0 },
    /**
     * Security epochs (src/auth/epochs.ts): raised by sign-out everywhere and a payment-password
     * reset (sessions), by a reset and a lock (payment password). A money-out leg carries the
     * ones its request was checked under and is refused once either has moved past them.
     */
    sessionsEpoch: { type: Number, default: 0 },
    paymentPasswordEpoch: { type: Number, default: 0 },
    /** The `session.revoked` events a sign-out files with the raise of `sessionsEpoch` (src/auth/events.ts). */
    ...outboxPaths,
    /** The marks and fences of legs not yet finished (src/operations/marks.ts), space-separated. */
    unfinishedMarks: { type: String, default: '' },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);
accountSchema.index({ autoSweepOn: 1 });
accountSchema.index({ eventsDue: 1 });


export type AccountDocument = InferSchemaType<typeof accountSchema> & { _id: string };
export const Account = mongoose.model('Account', accountSchema, 'accounts');
/** Every money request reads or moves an account: these calls skip Mongoose (see db/driver.ts). */
export const accountsDriver = driverCollection(Account);
