/**
 * One holder as support staff need to see them when a holder calls: the account as the holder
 * sees it, the latest operations and income, and whether payments or sign-in are locked. Built
 * from the services the holder's own routes use; it reads and never writes (an expired lock is
 * shown as lifted, which the holder's next check does for real).
 */
import type { AppContext } from '../context.ts';
import { User, Session } from '../auth/model.ts';
import { notFound } from '../errors.ts';
import { incomeHistory } from '../income/explain.ts';
import { accountView } from '../income/position.ts';
import { listOperations, operationView } from '../operations/service.ts';

export const LOOKUP_OPERATIONS_MAX = 20;
/** The income of the last 14 days: two weeks is what a holder asks about on the phone. */
export const LOOKUP_INCOME_DAYS = 14;

/** By user id, or else by login id (a login id never looks like a user id: those are ours). */
export async function lookUpHolder(ctx: AppContext, loginIdOrUserId: string) {
  const user =
    (await User.findById(loginIdOrUserId, USER_FIELDS).lean()) ?? (await User.findOne({ loginId: loginIdOrUserId }, USER_FIELDS).lean());
  if (!user) throw notFound(`Holder ${loginIdOrUserId}`);
  const userId = user._id;
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  const [account, operations, income, liveSessions] = await Promise.all([
    accountView(ctx, userId),
    listOperations(userId, LOOKUP_OPERATIONS_MAX),
    incomeHistory(ctx, userId, ctx.calendar.addCalendarDays(today, 1 - LOOKUP_INCOME_DAYS), today),
    Session.countDocuments({ userId, signedOutAt: null, expiresAt: { $gt: ctx.clock.now() } }),
  ]);
  return {
    userId,
    loginId: user.loginId,
    roles: user.roles,
    createdAt: user.createdAt.toISOString(),
    account,
    operations: operations.items.map(operationView),
    income,
    security: {
      paymentPasswordSet: user.paymentPasswordHash !== null,
      payment: lockState(ctx, user.paymentFailures, user.paymentLockedUntil, ctx.config.security.paymentPasswordMaxAttempts),
      login: lockState(ctx, user.loginFailures, user.loginLockedUntil, ctx.config.security.loginPasswordMaxAttempts),
      liveSessions,
    },
  };
}

const USER_FIELDS = { loginId: 1, roles: 1, createdAt: 1, paymentPasswordHash: 1, paymentFailures: 1, paymentLockedUntil: 1, loginFailures: 1, loginLockedUntil: 1 };

/** A lock past its end is lifted, and its count starts afresh, at the next check (src/auth/attempts.ts). */
function lockState(ctx: AppContext, failures: number, lockedUntil: Date | null | undefined, attemptsMax: number) {
  const expired = lockedUntil != null && lockedUntil <= ctx.clock.now();
  const failed = expired ? 0 : failures;
  return {
    locked: lockedUntil != null && !expired,
    lockedUntil: lockedUntil != null && !expired ? lockedUntil.toISOString() : null,
    wrongAttempts: failed,
    attemptsLeft: Math.max(attemptsMax - failed, 0),
  };
}

export type HolderLookup = Awaited<ReturnType<typeof lookUpHolder>>;
