import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../context.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { withEvent, type EventDraft } from '../events/outbox.ts';
import { withRaisedPaymentPasswordEpoch } from './epochs.ts';
import { User, type UserDocument } from './model.ts';

/**
 * One password's stored attempt counter and lock on the user document: the payment password's,
 * and the login password's (shared by sign-in and every other login-password check).
 */
export interface AttemptRule {
  failures: 'paymentFailures' | 'loginFailures';
  lockedUntil: 'paymentLockedUntil' | 'loginLockedUntil';
  attemptsMax: number;
  lockMs: number;
  /** Raised with the lock, so money-out legs checked before it are refused (src/auth/epochs.ts). */
  epoch?: 'paymentPasswordEpoch';
  /** Set with the lock, unset with its lift: what finds stored locks by equality (the payment password's). */
  lockedMarker?: 'paymentLocked';
  /** The holder's events of the lock, filed in the writes that set and lift it (the payment password's: src/auth/events.ts). */
  events?: {
    locked(userId: string, at: Date, lockedUntil: Date, failedAttempts: number): EventDraft;
    unlocked(userId: string, at: Date, lockedUntil: Date): EventDraft;
  };
}

export type Reservation = { reserved: UserDocument; ordinal: number } | { lockedUntil: Date };

/**
 * Reserves one of the attempts a lock period allows before the (slow) check, so parallel
 * guesses cannot exceed them. A reservation counts as a failure until its check resolves it:
 * one never resolved (its process died) only brings the lock nearer. A request finding every
 * attempt held waits for the checks in flight (a right password frees them all); after
 * `waitMs` it counts the ones still held as the failures they may be and locks. Nothing but
 * the lock's own lifecycle (it lifts after lockMs, or a reset) ever hands an attempt out again.
 */
export async function reserveAttempt(
  ctx: AppContext,
  userId: string,
  rule: AttemptRule,
  waitMs: number,
  passedMeanwhile = () => false,
): Promise<Reservation | 'passed'> {
  const deadlineMs = Date.now() + waitMs;
  for (;;) {
    if (passedMeanwhile()) return 'passed';
    const reserved = await retryOnWriteConflict(() =>
      User.findOneAndUpdate(
        { _id: userId, [rule.lockedUntil]: null, [rule.failures]: { $lt: rule.attemptsMax } },
        { $inc: { [rule.failures]: 1 } },
        { returnDocument: 'after' },
      ).lean(),
    );
    if (reserved) return { reserved, ordinal: reserved[rule.failures] };
    const lockedUntil = await lockOf(ctx, userId, rule);
    if (lockedUntil) return { lockedUntil };
    if (Date.now() < deadlineMs) await sleep(10 + Math.random() * 40);
    else {
      // Null: an attempt came free meanwhile (a right password), so try again.
      const heldLock = await lockHeldAttempts(ctx, userId, rule);
      if (heldLock) return { lockedUntil: heldLock };
    }
  }
}

/**
 * The attempt passed against `checked` (the stored state it was checked with): the count starts
 * afresh, unless a lock was set meanwhile (it lifts only by itself) or, for a password with an
 * epoch, the password was reset or locked since (a check of the old one frees nothing).
 */
export async function attemptPassed(rule: AttemptRule, checked: UserDocument & { _id: string }): Promise<void> {
  const sameEpoch = rule.epoch ? { [rule.epoch]: checked[rule.epoch] } : {};
  await retryOnWriteConflict(() => User.updateOne({ _id: checked._id, [rule.lockedUntil]: null, ...sameEpoch }, { $set: { [rule.failures]: 0 } }));
}

/** The attempt failed: the one that used the allowance up locks. Returns the lock, if any. */
export async function attemptFailed(ctx: AppContext, userId: string, rule: AttemptRule, ordinal: number): Promise<Date | null> {
  if (ordinal < rule.attemptsMax) return null;
  return lockHeldAttempts(ctx, userId, rule);
}

/**
 * The live lock: one that has run out is lifted here, by a compare-and-set on the stored lock
 * itself that also starts the count afresh, so only the first request to see it lifts it and
 * no attempt reserved in between is lost. That write is the lock's end as stored, so it files
 * the rule's `unlocked` event: the end of a timed lock is announced by whoever first reads it
 * run out (a check, or the minute job's look: liftRunOutPaymentLocks), once.
 */
export async function lockOf(ctx: AppContext, userId: string, rule: AttemptRule): Promise<Date | null> {
  const lockedUntil = (await User.findById(userId, { [rule.lockedUntil]: 1 }).lean())?.[rule.lockedUntil] ?? null;
  const now = ctx.clock.now();
  if (!lockedUntil || lockedUntil > now) return lockedUntil;
  const lift = { $set: { [rule.lockedUntil]: null, [rule.failures]: 0 }, ...(rule.lockedMarker ? { $unset: { [rule.lockedMarker]: '' } } : {}) };
  await retryOnWriteConflict(() =>
    User.updateOne({ _id: userId, [rule.lockedUntil]: lockedUntil }, withEvent(lift, rule.events?.unlocked(userId, now, lockedUntil) ?? null)),
  );
  return null;
}

/** Locks when every attempt is used (each held one counted as failed); keeps a lock already set. */
async function lockHeldAttempts(ctx: AppContext, userId: string, rule: AttemptRule): Promise<Date | null> {
  const now = ctx.clock.now();
  const lockedUntil = new Date(now.getTime() + rule.lockMs);
  // The filter holds the count at attemptsMax (reservations stop there): the lock's event says so.
  const locked = rule.events?.locked(userId, now, lockedUntil, rule.attemptsMax) ?? null;
  const lock = (raise: Record<string, number> = {}, epochFilter: Record<string, number> = {}) =>
    retryOnWriteConflict(() =>
      User.findOneAndUpdate(
        { _id: userId, [rule.lockedUntil]: null, [rule.failures]: { $gte: rule.attemptsMax }, ...epochFilter },
        withEvent({ $set: { [rule.lockedUntil]: lockedUntil, ...(rule.lockedMarker ? { [rule.lockedMarker]: true } : {}), ...raise } }, locked),
      ).lean(),
    );
  const epochField = rule.epoch;
  // Raised only for a lock still to set: a raise for nothing refuses legs once for nothing.
  const user = await User.findById(userId, { [rule.lockedUntil]: 1, [rule.failures]: 1 }).lean();
  const lockDue = user != null && user[rule.lockedUntil] == null && user[rule.failures] >= rule.attemptsMax;
  if (epochField && lockDue) await withRaisedPaymentPasswordEpoch(userId, (epoch, next) => lock({ [epochField]: next }, { [epochField]: epoch }));
  else if (lockDue) await lock();
  return (await User.findById(userId, { [rule.lockedUntil]: 1 }).lean())?.[rule.lockedUntil] ?? null;
}
