import { createHash, randomBytes } from 'node:crypto';
import { openAccount } from '../accounts/service.ts';
import type { AppContext } from '../context.ts';
import { driverCollection } from '../db/driver.ts';
import { readCachePerContext } from '../db/readCache.ts';
import { isDuplicateKey, retryOnWriteConflict } from '../db/writeConflict.ts';
import { DomainError, notFound } from '../errors.ts';
import { faultPoint } from '../faults.ts';
import { newId } from '../ids.ts';
import { filedOnInsert, withEvent } from '../events/outbox.ts';
import { attemptFailed, attemptPassed, lockOf, reserveAttempt, type AttemptRule } from './attempts.ts';
import { paymentPasswordLocked, paymentPasswordReset, paymentPasswordUnlocked, revocationDrafts, sessionCreated, type SignOutReason } from './events.ts';
import { catchUpPaymentPasswordEpoch, raiseSessionsEpoch, sessionsEpochOf, withRaisedPaymentPasswordEpoch } from './epochs.ts';
import * as errors from './errors.ts';
import { Session, User, type Role, type SessionDocument, type UserDocument } from './model.ts';
import { hashSecret, verifySecret, withHashingSlot } from './passwords.ts';
import { rememberVerified, wasVerifiedRecently } from './verifiedPasswords.ts';

// Every request reads its session, every payment the password state: without Mongoose (see db/driver.ts).
const sessions = driverCollection(Session);
const users = driverCollection(User);
// A holder's routes use nothing of a session that changes: its expiry is checked on each use,
// and roles matter only on the ops routes, which read it fresh.
const cachedSessions = readCachePerContext<SessionDocument | null>((config) => config.security.sessionMemoryMs);
const PASSWORD_STATE = { paymentPasswordHash: 1, paymentFailures: 1, paymentLockedUntil: 1, paymentPasswordEpoch: 1 };
type PasswordState = Pick<UserDocument, keyof typeof PASSWORD_STATE>;
const cachedPasswordStates = readCachePerContext<PasswordState | null>();

export interface Principal {
  userId: string;
  roles: Role[];
  /** The session's id (its token's hash), and the sessions epoch it is valid in (src/auth/epochs.ts). */
  sessionId: string;
  sessionsEpoch: number;
  /** Read a while ago (security.sessionMemoryMs): a money leg's epoch guard or confirmSession stands for a fresh read. */
  sessionRemembered: boolean;
}

export async function registerUser(ctx: AppContext, loginId: string, loginPassword: string, roles: Role[] = ['user']) {
  const userId = newId('u');
  const createdAt = ctx.clock.now();
  // The account first: a crash in between leaves an orphan account, never a user without one.
  await openAccount(userId, createdAt);
  const loginPasswordHash = await withHashingSlot(ctx, () => hashSecret(loginPassword));
  try {
    await User.create({ _id: userId, loginId, loginPasswordHash, roles, createdAt });
  } catch (error) {
    if (isDuplicateKey(error)) throw errors.loginIdTaken();
    throw error;
  }
  return { userId, loginId, roles };
}

/**
 * A locked login answers as a wrong password does, so sign-in never tells which ids exist;
 * the holder learns of the lock where they are known (PUT /v1/me/payment-password).
 */
export async function createSession(ctx: AppContext, loginId: string, loginPassword: string) {
  return issueSession(ctx, await provenUser(ctx, loginId, loginPassword), ctx.config.security.tokenLifetimeMs);
}

/** The user a login id and its password prove, counted on the login's attempts and lock as a sign-in is. */
export async function provenUser(ctx: AppContext, loginId: string, loginPassword: string) {
  const user = await withHashingSlot(ctx, async () => {
    const found = await User.findOne({ loginId }, { _id: 1, roles: 1 }).lean();
    const passes = found ? await loginPasswordPasses(ctx, found._id, loginPassword) : 'unknown';
    // Hash where no check did (an unknown id, a locked login), so timing tells nothing.
    if (passes === 'unknown' || passes instanceof Date) await verifySecret(loginPassword, await dummyHash());
    return passes === true ? found : null;
  });
  if (!user) throw errors.wrongLogin();
  return user;
}

const loginRule = (ctx: AppContext): AttemptRule => ({
  failures: 'loginFailures',
  lockedUntil: 'loginLockedUntil',
  attemptsMax: ctx.config.security.loginPasswordMaxAttempts,
  lockMs: ctx.config.security.loginLockMs,
});

/**
 * Every login-password check (sign-in, setting the payment password) counts on the one stored
 * counter and lock, with the payment password's reservation discipline. Run in a hashing slot.
 */
async function loginPasswordPasses(ctx: AppContext, userId: string, loginPassword: string): Promise<true | 'wrong' | Date> {
  const rule = loginRule(ctx);
  const attempt = await reserveAttempt(ctx, userId, rule, ctx.config.security.paymentAttemptWaitMs);
  if (attempt === 'passed') throw new Error('login attempts have no quiet pass');
  if ('lockedUntil' in attempt) return attempt.lockedUntil;
  if (await verifySecret(loginPassword, attempt.reserved.loginPasswordHash)) {
    await attemptPassed(rule, attempt.reserved);
    return true;
  }
  return (await attemptFailed(ctx, userId, rule, attempt.ordinal)) ?? 'wrong';
}

/** A token for scripts lives a day by default (security.tokenLifetimeMs) and a month at most. */
export const OPS_TOKEN_LIFETIME_HOURS_MAX = 24 * 31;
const HOUR_MS = 3_600_000;

const userNotFound = (loginId: string) => notFound(`User ${loginId}`, { key: 'not_found_user', values: { loginId } });

/**
 * A session token for an ops user, for scripts and the dashboard, issued by the ops CLI
 * without the login password: only someone with access to the database can run the CLI.
 */
export async function issueOpsToken(ctx: AppContext, loginId: string, lifetimeHours?: number) {
  if (lifetimeHours !== undefined && !(Number.isInteger(lifetimeHours) && lifetimeHours >= 1 && lifetimeHours <= OPS_TOKEN_LIFETIME_HOURS_MAX)) {
    throw new DomainError('invalid_request', `--lifetime-hours must be a whole number from 1 to ${OPS_TOKEN_LIFETIME_HOURS_MAX}`, {}, {
      key: 'invalid_request_ops_token_lifetime',
      values: { hoursMax: OPS_TOKEN_LIFETIME_HOURS_MAX },
    });
  }
  const user = await User.findOne({ loginId }, { _id: 1, roles: 1 }).lean();
  if (!user) throw userNotFound(loginId);
  if (!user.roles.includes('ops')) {
    throw new DomainError('forbidden', `${loginId} does not have the ops role: grant-ops first`, {}, { key: 'forbidden_ops_role_missing', values: { loginId } });
  }
  const session = await issueSession(ctx, user, lifetimeHours === undefined ? ctx.config.security.tokenLifetimeMs : lifetimeHours * HOUR_MS);
  return { token: session.token, userId: user._id, loginId, expiresAt: session.expiresAt.toISOString() };
}

export async function userIdOfLogin(loginId: string): Promise<string> {
  const user = await User.findOne({ loginId }, { _id: 1 }).lean();
  if (!user) throw userNotFound(loginId);
  return user._id;
}

async function issueSession(ctx: AppContext, user: { _id: string; roles: string[] }, lifetimeMs: number) {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(ctx.clock.now().getTime() + lifetimeMs);
  const id = tokenHash(token);
  const epoch = await sessionsEpochOf(user._id);
  const session = { _id: id, userId: user._id, expiresAt, roles: user.roles, epoch, createdAt: ctx.clock.now() };
  await Session.create({ ...session, ...filedOnInsert([sessionCreated(session)]) });
  // A sign-out everywhere since the read above may have missed this session: it is newer.
  const epochNow = await sessionsEpochOf(user._id);
  if (epochNow !== epoch) await retryOnWriteConflict(() => Session.updateOne({ _id: id }, { $set: { epoch: epochNow } }));
  // A role changed since the read above: setRole may have missed this session.
  await syncSessionRoles(user._id);
  return { token, userId: user._id, expiresAt };
}

/**
 * Sessions carry the user's roles, which setRole keeps in step at once, so taking a role away
 * takes effect on the next request. A session from before that (no roles) reads the user.
 */
export async function authenticate(ctx: AppContext, token: string, sessionRead: 'fresh' | 'cached' = 'fresh'): Promise<Principal> {
  const id = tokenHash(token);
  const read = () => sessions.findOne<SessionDocument>({ _id: id });
  const session = await requireLive(ctx, sessionRead === 'cached' ? await cachedSessions(ctx).get(id, read) : await read());
  const roles = session.roles ?? (await User.findById(session.userId, { roles: 1 }).lean())?.roles;
  if (!roles) throw errors.unauthenticated();
  return { userId: session.userId, roles: roles as Role[], sessionId: id, sessionsEpoch: session.epoch ?? 0, sessionRemembered: sessionRead === 'cached' };
}

/**
 * Sign-out of one session: its token is refused from now on, and no money leg checked under it
 * applies any more in any process, whatever that process remembers of the session: the
 * holder's sessions epoch rises, and the holder's other sessions move up to it.
 */
export async function signOut(ctx: AppContext, principal: Pick<Principal, 'userId' | 'sessionId'>): Promise<void> {
  await endSessions(ctx, principal.userId, { _id: principal.sessionId }, 'sign_out');
  cachedSessions(ctx).forget(principal.sessionId);
}

/**
 * Sign-out everywhere: every session of the holder ends, and no money leg checked under one of
 * them applies any more, whatever another process remembers (src/auth/epochs.ts).
 */
export async function signOutEverywhere(ctx: AppContext, principal: Principal): Promise<void> {
  await endSessions(ctx, principal.userId, {}, 'sign_out_everywhere');
  cachedSessions(ctx).forget(principal.sessionId);
}

/** Ends every session of the holder but `keptSessionId`, which moves to the raised epoch. */
async function signOutOthers(ctx: AppContext, userId: string, keptSessionId: string): Promise<void> {
  await endSessions(ctx, userId, { _id: { $ne: keptSessionId } }, 'payment_password_reset');
  cachedSessions(ctx).forget(keptSessionId);
}

/**
 * Ends the holder's sessions that `ending` selects, in an order that is safe at every crash:
 * they are marked signed out (refused from then on), then the sign-out is finished.
 */
async function endSessions(ctx: AppContext, userId: string, ending: Record<string, unknown>, reason: SignOutReason): Promise<void> {
  // A target state, over sessions not yet marked: safe to retry after a partial failure.
  await retryOnWriteConflict(() => Session.updateMany({ ...ending, userId, signedOutAt: null }, { $set: { signedOutAt: ctx.clock.now(), signOutReason: reason } }));
  await faultPoint('security:after-sign-out-mark');
  await finishSignOuts(userId);
}

/**
 * The holder's sessions epoch is raised (legs checked under any session before it are
 * refused), the sessions not signed out move up to it, and the signed-out ones go. Safe to
 * repeat: a sign-out that died part-way is finished by the next request that meets one of
 * its marked sessions (requireLive); a live session left behind catches up after a refusal.
 * The raise is what makes a sign-out stand for money, so it files `session.revoked` for each
 * marked session read before it; only those are deleted after it (one by `_id` each: a session
 * marked meanwhile waits for the raise of its own sign-out, which files its event).
 */
async function finishSignOuts(userId: string): Promise<void> {
  const ended = await Session.find({ userId, signedOutAt: { $ne: null } }).lean<(SessionDocument & { _id: string })[]>();
  const epoch = await raiseSessionsEpoch(userId, revocationDrafts(ended));
  await faultPoint('security:between-session-writes');
  await moveLiveSessionsUp(userId, epoch);
  await Promise.all(ended.map((session) => retryOnWriteConflict(() => Session.deleteOne({ _id: session._id }))));
}

/** A session that is not live is refused (401); one a sign-out marked but did not finish is finished first, so its token moves no money anywhere. */
async function requireLive(ctx: AppContext, session: SessionDocument | null): Promise<SessionDocument> {
  if (session?.signedOutAt != null) await finishSignOuts(session.userId);
  if (session == null || session.signedOutAt != null || session.expiresAt <= ctx.clock.now()) throw errors.unauthenticated();
  return session;
}

/** Every session of the holder that no sign-out marked is valid in the holder's epoch `epoch` (a $max: safe to repeat). */
async function moveLiveSessionsUp(userId: string, epoch: number, only: Record<string, unknown> = {}): Promise<void> {
  await retryOnWriteConflict(() => Session.updateMany({ ...only, userId, signedOutAt: null }, { $max: { epoch } }));
}

/**
 * A session remembered by this process is confirmed before a request that is not only an
 * epoch-guarded leg (a payment-password check counts an attempt): a signed-out token is refused.
 */
export async function confirmSession(ctx: AppContext, principal: Pick<Principal, 'sessionId' | 'sessionRemembered'>): Promise<void> {
  if (principal.sessionRemembered) await readLiveSession(ctx, principal.sessionId);
}

/**
 * A money leg was refused on its epochs: the session this process remembers may be stale. A
 * session signed out since is refused now (401); a live one moves up to the holder's epoch,
 * which a sign-out that died before moving the live sessions up left behind.
 */
export async function sessionStateChanged(ctx: AppContext, principal: Pick<Principal, 'userId' | 'sessionId'>): Promise<void> {
  cachedSessions(ctx).forget(principal.sessionId);
  await readLiveSession(ctx, principal.sessionId);
  await moveLiveSessionsUp(principal.userId, await sessionsEpochOf(principal.userId), { _id: principal.sessionId });
}

async function readLiveSession(ctx: AppContext, sessionId: string): Promise<SessionDocument> {
  return requireLive(ctx, await sessions.findOne<SessionDocument>({ _id: sessionId }));
}


/**
 * Setting or resetting the payment password needs the login password, lifts any lock, and
 * ends the holder's other sessions; money-out legs checked before it are refused.
 */
export async function setPaymentPassword(ctx: AppContext, principal: Principal, loginPassword: string, paymentPassword: string) {
  const { userId } = principal;
  const paymentPasswordHash = await withHashingSlot(ctx, async () => {
    const passes = await loginPasswordPasses(ctx, userId, loginPassword);
    if (passes instanceof Date) throw errors.loginLocked(passes);
    if (passes !== true) throw errors.wrongLoginPassword();
    return hashSecret(paymentPassword);
  });
  await withRaisedPaymentPasswordEpoch(userId, (epoch, next) => storePaymentPassword(ctx, userId, paymentPasswordHash, epoch, next));
  cachedPasswordStates(ctx).forget(userId);
  await signOutOthers(ctx, userId, principal.sessionId);
}

/**
 * The reset itself, from epoch `epoch` to `next` (null once another change raised it): a
 * compare-and-set on the epoch and on the stored lock, so the write knows whether it lifts a
 * lock and files `payment_password.unlocked` with its `payment_password.reset` exactly then.
 */
async function storePaymentPassword(ctx: AppContext, userId: string, paymentPasswordHash: string, epoch: number, next: number) {
  for (;;) {
    const before = await User.findById(userId, { paymentPasswordHash: 1, paymentLockedUntil: 1, paymentPasswordEpoch: 1 }).lean();
    if (before?.paymentPasswordEpoch !== epoch) return null;
    const at = ctx.clock.now();
    const { paymentLockedUntil } = before;
    const events = [paymentPasswordReset(userId, at, before.paymentPasswordHash != null), ...(paymentLockedUntil ? [paymentPasswordUnlocked(userId, at, paymentLockedUntil)] : [])];
    const update = withEvent({ $set: { paymentPasswordHash, paymentFailures: 0, paymentLockedUntil: null, paymentPasswordEpoch: next }, $unset: { paymentLocked: '' } }, events);
    const stored = await retryOnWriteConflict(() => User.findOneAndUpdate({ _id: userId, paymentPasswordEpoch: epoch, paymentLockedUntil }, update).lean());
    // Not stored: the epoch moved (decided again by the caller) or a lock was lifted meanwhile (read again).
    if (stored) return stored;
  }
}

/**
 * The payment-password epoch of the remembered state when the password passes with nothing to
 * count or clear: not locked, no wrong attempts outstanding, and this process verified this
 * very password recently; else null. A request that passes so may skip the full check (and
 * its side effects); otherwise it must make it.
 */
export async function paymentPasswordPassesQuietly(ctx: AppContext, userId: string, paymentPassword: string): Promise<number | null> {
  // Stale by a moment at most: this process forgets it on every change it makes, and a lock
  // or reset made elsewhere in that moment raised the epoch, which refuses the leg.
  const user = await cachedPasswordStates(ctx).get(userId, () => users.findOne<PasswordState>({ _id: userId }, { projection: PASSWORD_STATE }));
  if (!user?.paymentPasswordHash || user.paymentFailures > 0 || user.paymentLockedUntil) return null;
  return wasVerifiedRecently(userId, user.paymentPasswordHash, paymentPassword, Date.now()) ? (user.paymentPasswordEpoch ?? 0) : null;
}

/** A leg was refused on its epochs: what this process remembers of the password state is stale, and the user's epoch may lag. */
export async function paymentPasswordStateChanged(ctx: AppContext, userId: string): Promise<void> {
  await catchUpPaymentPasswordEpoch(userId);
  cachedPasswordStates(ctx).forget(userId);
}

/**
 * Guards every movement of money out of a holding. An attempt is counted before the password
 * is checked (one guarded update), so parallel guesses cannot get more than the allowed
 * number checked; the attempt that uses up the allowance locks payments if it was wrong.
 * Returns the payment-password epoch of the stored state the check used (src/auth/epochs.ts).
 */
export async function verifyPaymentPassword(ctx: AppContext, userId: string, paymentPassword: string): Promise<number> {
  try {
    return await checkPaymentPassword(ctx, userId, paymentPassword);
  } finally {
    // The check may have counted, reset or locked: the quiet path must see that at once.
    cachedPasswordStates(ctx).forget(userId);
  }
}

const paymentRule = (ctx: AppContext): AttemptRule => ({
  failures: 'paymentFailures',
  lockedUntil: 'paymentLockedUntil',
  attemptsMax: ctx.config.security.paymentPasswordMaxAttempts,
  lockMs: ctx.config.security.paymentLockMs,
  epoch: 'paymentPasswordEpoch',
  lockedMarker: 'paymentLocked',
  events: { locked: paymentPasswordLocked, unlocked: paymentPasswordUnlocked },
});

/**
 * The minute job's look at stored payment locks: each one run out is lifted as the first check
 * to read it would lift it (lockOf: a compare-and-set on the lock, filing
 * `payment_password.unlocked`), so a holder who tries nothing hears of the end within a minute
 * of it. Found by equality on the marker the lock sets, so a look reads only the locked (few).
 */
export async function liftRunOutPaymentLocks(ctx: AppContext): Promise<number> {
  const locked = await User.find({ paymentLocked: true }, { paymentLockedUntil: 1 }).lean();
  const now = ctx.clock.now();
  const runOut = locked.filter((user) => user.paymentLockedUntil && user.paymentLockedUntil <= now);
  for (const user of runOut) await lockOf(ctx, user._id, paymentRule(ctx));
  return runOut.length;
}

async function checkPaymentPassword(ctx: AppContext, userId: string, paymentPassword: string): Promise<number> {
  const rule = paymentRule(ctx);
  const user = await User.findById(userId).lean();
  if (!user) throw errors.unauthenticated();
  if (!user.paymentPasswordHash) throw errors.paymentPasswordNotSet();
  const lockedUntil = user.paymentLockedUntil && (await lockOf(ctx, userId, rule));
  if (lockedUntil) throw errors.paymentLocked(lockedUntil);
  const storedHash = user.paymentPasswordHash;
  const verifiedRecently = () => wasVerifiedRecently(userId, storedHash, paymentPassword, Date.now());
  if (verifiedRecently()) {
    // A right password resets the count of wrong ones, as after a slow check.
    if (user.paymentFailures > 0) await attemptPassed(rule, user);
    return user.paymentPasswordEpoch;
  }
  return withHashingSlot(ctx, () => checkInSlot(ctx, user, paymentPassword, verifiedRecently));
}

/** The slow check; `verifiedMeanwhile` tells whether another request verified the password `user` holds. */
async function checkInSlot(ctx: AppContext, user: UserDocument & { _id: string }, paymentPassword: string, verifiedMeanwhile: () => boolean): Promise<number> {
  const rule = paymentRule(ctx);
  const userId = user._id;
  const attempt = await reserveAttempt(ctx, userId, rule, ctx.config.security.paymentAttemptWaitMs, verifiedMeanwhile);
  if (attempt === 'passed') {
    await attemptPassed(rule, user);
    return user.paymentPasswordEpoch;
  }
  if ('lockedUntil' in attempt) throw errors.paymentLocked(attempt.lockedUntil);
  const storedHash = attempt.reserved.paymentPasswordHash!;
  if (await verifySecret(paymentPassword, storedHash)) {
    await attemptPassed(rule, attempt.reserved);
    rememberVerified(userId, storedHash, paymentPassword, Date.now(), ctx.config.security.paymentVerifiedMemoryMs);
    return attempt.reserved.paymentPasswordEpoch;
  }
  const lockedUntil = await attemptFailed(ctx, userId, rule, attempt.ordinal);
  if (lockedUntil) throw errors.paymentLocked(lockedUntil);
  throw errors.wrongPaymentPassword(Math.max(rule.attemptsMax - attempt.ordinal, 0));
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

let dummy: Promise<string> | undefined;
function dummyHash(): Promise<string> {
  dummy ??= hashSecret(randomBytes(16).toString('hex'));
  return dummy;
}

/**
 * Ops grant and take away roles (the ops CLI); open sessions get the change once it is copied
 * to them, before this returns, so it applies from the user's next request on.
 */
export async function setRole(loginId: string, role: Role, granted: boolean): Promise<{ userId: string; roles: Role[] }> {
  const update = granted ? { $addToSet: { roles: role } } : { $pull: { roles: role } };
  const user = await retryOnWriteConflict(() => User.findOneAndUpdate({ loginId }, update, { returnDocument: 'after' }).lean());
  if (!user) throw userNotFound(loginId);
  return { userId: user._id, roles: await syncSessionRoles(user._id) };
}

const ROLE_SYNC_ROUNDS_MAX = 20;

/**
 * Copies the user's roles onto its sessions until a read of the user after the copy finds
 * them unchanged, so two racing role changes cannot leave sessions with the loser's roles.
 * The update sets a target state, so a retry after a partial failure is safe.
 */
async function syncSessionRoles(userId: string): Promise<Role[]> {
  for (let round = 0; round < ROLE_SYNC_ROUNDS_MAX; round++) {
    const roles = (await User.findById(userId, { roles: 1 }).lean())!.roles as Role[];
    await retryOnWriteConflict(() => Session.updateMany({ userId }, { $set: { roles } }));
    const after = (await User.findById(userId, { roles: 1 }).lean())!.roles as Role[];
    if (after.join() === roles.join()) return roles;
  }
  throw new Error(`roles of ${userId} kept changing while copied to its sessions`);
}
