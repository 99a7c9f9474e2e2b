import { createHash, randomBytes } from 'node:crypto';
import { openAccount } from '../accounts/service.ts';
import type { AppContext } from '../context.ts';
import { isDuplicateKey, retryOnWriteConflict } from '../db/writeConflict.ts';
import { newId } from '../ids.ts';
import * as errors from './errors.ts';
import { Session, User, type Role } from './model.ts';
import { hashSecret, verifySecret } from './passwords.ts';

export interface Principal {
  userId: string;
  roles: Role[];
}

export async function registerUser(ctx: AppContext, loginId: string, loginPassword: string, roles: Role[] = ['user']) {
  const userId = newId('u');
  const createdAt = ctx.clock.now();
  try {
    await User.create({ _id: userId, loginId, loginPasswordHash: await hashSecret(loginPassword), roles, createdAt });
  } catch (error) {
    if (isDuplicateKey(error)) throw errors.loginIdTaken();
    throw error;
  }
  await openAccount(userId, createdAt);
  return { userId, loginId, roles };
}

export async function createSession(ctx: AppContext, loginId: string, loginPassword: string) {
  const user = await User.findOne({ loginId }).lean();
  // Hash even for an unknown login id, so timing does not tell which ids exist.
  const passwordOk = await verifySecret(loginPassword, user?.loginPasswordHash ?? (await dummyHash()));
  if (!user || !passwordOk) throw errors.wrongLogin();
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(ctx.clock.now().getTime() + ctx.config.security.tokenLifetimeMs);
  await Session.create({ _id: tokenHash(token), userId: user._id, roles: user.roles, expiresAt });
  return { token, userId: user._id, expiresAt };
}

export async function authenticate(ctx: AppContext, token: string): Promise<Principal> {
  const session = await Session.findById(tokenHash(token)).lean();
  if (!session || session.expiresAt <= ctx.clock.now()) throw errors.unauthenticated();
  return { userId: session.userId, roles: session.roles as Role[] };
}

/** Setting or resetting the payment password needs the login password, and lifts any lock. */
export async function setPaymentPassword(ctx: AppContext, userId: string, loginPassword: string, paymentPassword: string) {
  const user = await User.findById(userId).lean();
  if (!user || !(await verifySecret(loginPassword, user.loginPasswordHash))) throw errors.wrongLogin();
  const paymentPasswordHash = await hashSecret(paymentPassword);
  await retryOnWriteConflict(() =>
    User.updateOne({ _id: userId }, { $set: { paymentPasswordHash, paymentFailures: 0, paymentLockedUntil: null } }),
  );
}

/**
 * Guards every movement of money out of a holding. Wrong attempts are counted atomically;
 * reaching the limit locks payments for the configured time (3 hours).
 */
export async function verifyPaymentPassword(ctx: AppContext, userId: string, paymentPassword: string): Promise<void> {
  const user = await User.findById(userId).lean();
  if (!user) throw errors.unauthenticated();
  const now = ctx.clock.now();
  if (user.paymentLockedUntil && user.paymentLockedUntil > now) throw errors.paymentLocked(user.paymentLockedUntil);
  if (!user.paymentPasswordHash) throw errors.paymentPasswordNotSet();
  if (await verifySecret(paymentPassword, user.paymentPasswordHash)) {
    if (user.paymentFailures > 0) await retryOnWriteConflict(() => User.updateOne({ _id: userId }, { $set: { paymentFailures: 0 } }));
    return;
  }
  await recordWrongPaymentPassword(ctx, userId, now);
}

async function recordWrongPaymentPassword(ctx: AppContext, userId: string, now: Date): Promise<never> {
  const { paymentPasswordMaxAttempts, paymentLockMs } = ctx.config.security;
  const counted = await retryOnWriteConflict(() =>
    User.findOneAndUpdate({ _id: userId }, { $inc: { paymentFailures: 1 } }, { returnDocument: 'after' }).lean(),
  );
  const failures = counted?.paymentFailures ?? paymentPasswordMaxAttempts;
  if (failures < paymentPasswordMaxAttempts) throw errors.wrongPaymentPassword(paymentPasswordMaxAttempts - failures);
  const lockedUntil = new Date(now.getTime() + paymentLockMs);
  await retryOnWriteConflict(() =>
    User.updateOne({ _id: userId }, { $set: { paymentLockedUntil: lockedUntil, paymentFailures: 0 } }),
  );
  throw errors.paymentLocked(lockedUntil);
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

let dummy: Promise<string> | undefined;
function dummyHash(): Promise<string> {
  dummy ??= hashSecret(randomBytes(16).toString('hex'));
  return dummy;
}
