/**
 * The holder's security events (docs/events.md), each filed in the one write that makes its change:
 * - `payment_password.locked`: the compare-and-set that sets the lock when the attempts run out
 *   (src/auth/attempts.ts), on the user document;
 * - `payment_password.unlocked`: the write that lifts the stored lock: the compare-and-set of
 *   the first check to read it expired (its end is written by whoever first reads it run out),
 *   or a reset;
 * - `payment_password.reset`: the compare-and-set that stores the new password;
 * - `session.created`: the session's insert;
 * - `session.revoked`: the raise of the holder's sessions epoch that finishes a sign-out (one
 *   session, all of them, or all but one after a reset), on the account: from that write on no
 *   money leg checked under the session applies. The session documents it ends are deleted
 *   after it, so it also carries their `session.created` if that was not relayed yet.
 * No hashes, no tokens: a session is named by the last characters of its id.
 */
import { Account } from '../accounts/model.ts';
import { registerEventSource } from '../events/log.ts';
import { eventDraft, type EventDraft, type OutboxFields } from '../events/outbox.ts';
import { Session, User, type SessionDocument } from './model.ts';

/** Why a sign-out ended a session, as `session.revoked` tells it. */
export type SignOutReason = 'sign_out' | 'sign_out_everywhere' | 'payment_password_reset';

const paymentPasswordView = (lockedUntil: Date | null, failedAttempts: number) => ({
  locked: lockedUntil !== null,
  lockedUntil: lockedUntil?.toISOString() ?? null,
  failedAttempts,
});

export const paymentPasswordLocked = (userId: string, at: Date, lockedUntil: Date, failedAttempts: number): EventDraft =>
  eventDraft('payment_password.locked', userId, at, { paymentPassword: paymentPasswordView(lockedUntil, failedAttempts) });

/** The stored lock ended: its time ran out (written by the first check to read it so), or a reset lifted it early. */
export const paymentPasswordUnlocked = (userId: string, at: Date, lockedUntil: Date): EventDraft =>
  eventDraft('payment_password.unlocked', userId, at, {
    paymentPassword: paymentPasswordView(null, 0),
    lockEndedAt: (lockedUntil < at ? lockedUntil : at).toISOString(),
    endedBy: lockedUntil <= at ? 'time' : 'reset',
  });

export const paymentPasswordReset = (userId: string, at: Date, previouslySet: boolean): EventDraft =>
  eventDraft('payment_password.reset', userId, at, { paymentPassword: { set: true, ...paymentPasswordView(null, 0) }, previouslySet });

type StoredSession = SessionDocument & OutboxFields & { _id: string };

const SESSION_ID_SHOWN = 8;

const sessionView = (session: StoredSession) => ({
  idEnd: session._id.slice(-SESSION_ID_SHOWN),
  createdAt: session.createdAt?.toISOString() ?? null,
  expiresAt: session.expiresAt.toISOString(),
  signedOutAt: session.signedOutAt?.toISOString() ?? null,
});

/** A session has one creation and one end: its id keys each, however often filed. */
export const sessionCreated = (session: StoredSession & { createdAt: Date }): EventDraft =>
  eventDraft('session.created', session.userId, session.createdAt, { session: sessionView(session) }, `${session._id}:session.created`);

/**
 * What a sign-out's epoch raise files for the sessions it finishes (each marked signed out):
 * their revocations, and their creations still in their outboxes, since they are deleted next.
 */
export function revocationDrafts(ended: StoredSession[]): EventDraft[] {
  return ended.flatMap((session) => [
    ...(session.eventsDue ? (session.outbox ?? []) : []),
    eventDraft('session.revoked', session.userId, session.signedOutAt!, { session: sessionView(session), reason: session.signOutReason ?? 'sign_out' }, `${session._id}:session.revoked`),
  ]);
}

// A relay pass orders events by time, and ties by source: a sign-in before what its session does.
registerEventSource({ name: 'sessions', model: Session as never });
registerEventSource({ name: 'users', model: User as never });
registerEventSource({ name: 'accounts', model: Account as never });
