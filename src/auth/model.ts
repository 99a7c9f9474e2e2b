import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { outboxPaths } from '../events/outbox.ts';

export type Role = 'user' | 'ops';

const userSchema = new Schema(
  {
    _id: { type: String, required: true },
    loginId: { type: String, required: true, unique: true },
    loginPasswordHash: { type: String, required: true },
    paymentPasswordHash: { type: String, default: null },
    /**
     * Payment-password attempts reserved since the last right one, lifted lock or reset: each
     * a failure until its check resolves it (see auth/attempts.ts).
     */
    paymentFailures: { type: Number, default: 0 },
    paymentLockedUntil: { type: Date, default: null },
    /** True while a payment lock is stored: the minute job finds the locks to lift by equality (src/auth/service.ts). */
    paymentLocked: { type: Boolean, default: undefined },
    /** Raised with each reset and lock, in the same update; copied to the account (src/auth/epochs.ts). */
    paymentPasswordEpoch: { type: Number, default: 0 },
    /** The same for the login password, shared by every check of it (sign-in, payment-password reset). */
    loginFailures: { type: Number, default: 0 },
    loginLockedUntil: { type: Date, default: null },
    roles: { type: [String], default: ['user'] },
    createdAt: { type: Date, required: true },
    /** The payment password's events (locked, unlocked, reset), filed with the writes that make them (src/auth/events.ts). */
    ...outboxPaths,
  },
  { versionKey: false, strict: 'throw' },
);
userSchema.index({ eventsDue: 1 });
userSchema.index({ paymentLocked: 1 });

export type UserDocument = InferSchemaType<typeof userSchema>;
export const User = mongoose.model('User', userSchema, 'users');

/** Bearer sessions: only the SHA-256 of the token is stored, so a leaked table grants nothing. */
const sessionSchema = new Schema(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    expiresAt: { type: Date, required: true },
    /** The holder's sessions epoch this session is valid in (src/auth/epochs.ts). */
    epoch: { type: Number, default: 0 },
    /** Set when a sign-out ends it: refused from then on, and left out when the others move to a raised epoch. */
    signedOutAt: { type: Date, default: null },
    /** The user's roles, kept in step by setRole, so a request reads one document, not two. */
    roles: { type: [String], default: undefined },
    /** Absent on sessions issued before events. */
    createdAt: { type: Date, default: undefined },
    /** Why a sign-out ended it, set with `signedOutAt`: told in its `session.revoked`. */
    signOutReason: { type: String, default: undefined },
    /** Its `session.created`, filed by the insert (src/auth/events.ts). */
    ...outboxPaths,
  },
  { versionKey: false, strict: 'throw' },
);
sessionSchema.index({ eventsDue: 1 });

export type SessionDocument = InferSchemaType<typeof sessionSchema>;
export const Session = mongoose.model('Session', sessionSchema, 'sessions');
