import { Account, accountsDriver, type AccountDocument } from '../accounts/model.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { withEvent, type EventDraft } from '../events/outbox.ts';
import { faultPoint } from '../faults.ts';
import { User } from './model.ts';

/**
 * Revocation that is exact across processes with no extra read on the hot path: the holder's
 * account document carries two epochs, and a money-out leg (a guarded update of that very
 * document) carries the ones its request was checked under, so a leg checked before a
 * sign-out everywhere, a payment-password reset or a lock is refused, whatever another process
 * still remembers. Sessions are stamped with the sessions epoch when issued (a reset restamps
 * the session that made it); the payment password's is raised here first, then on the user
 * document in the same update as the reset or lock, read with the state a check uses.
 */
export interface SecurityEpochs {
  sessions: number;
  paymentPassword: number;
}

/** An operation as stored: its epochs, if a money-out check gave it some (a missing one counts as 0). */
interface CheckedOperation {
  securityEpochs?: { sessions?: number | null; paymentPassword?: number | null } | null;
}

/** What a leg's filter adds: neither epoch moved past the request's (absent counts as 0: older accounts). */
export function epochGuard(op: CheckedOperation): Record<string, unknown> {
  const epochs = op.securityEpochs;
  if (!epochs) return {};
  return { sessionsEpoch: { $not: { $gt: epochs.sessions ?? 0 } }, paymentPasswordEpoch: { $not: { $gt: epochs.paymentPassword ?? 0 } } };
}

export function epochsMovedOn(op: CheckedOperation, account: Pick<AccountDocument, 'sessionsEpoch' | 'paymentPasswordEpoch'>): boolean {
  const epochs = op.securityEpochs;
  if (!epochs) return false;
  return (account.sessionsEpoch ?? 0) > (epochs.sessions ?? 0) || (account.paymentPasswordEpoch ?? 0) > (epochs.paymentPassword ?? 0);
}

export const SECURITY_STATE_CHANGED = 'security_state_changed';

/** Why a money-out leg was refused: its epochs, or else the leg's own rule. */
export async function legRefusal(op: CheckedOperation & { userId: string }, ruleCode: string): Promise<string> {
  const account = await accountsDriver.findOne<AccountDocument>({ _id: op.userId }, { projection: { sessionsEpoch: 1, paymentPasswordEpoch: 1 } });
  return account && epochsMovedOn(op, account) ? SECURITY_STATE_CHANGED : ruleCode;
}

export async function sessionsEpochOf(userId: string): Promise<number> {
  return (await Account.findById(userId, { sessionsEpoch: 1 }).lean())?.sessionsEpoch ?? 0;
}

/**
 * Ends every session issued so far for money: returns the epoch sessions issued from now on
 * carry. `events`: the sign-out's, filed in this very write (src/auth/events.ts).
 */
export async function raiseSessionsEpoch(userId: string, events: EventDraft[] = []): Promise<number> {
  const account = await retryOnWriteConflict(() =>
    Account.findOneAndUpdate({ _id: userId }, withEvent({ $inc: { sessionsEpoch: 1 } }, events), { returnDocument: 'after' }).lean(),
  );
  return account?.sessionsEpoch ?? 0;
}

const RAISE_ATTEMPTS_MAX = 20;

/**
 * Changes the user's password state (a reset, a lock) under a raised payment-password epoch.
 * The account's epoch, the one legs enforce, is raised first: a crash between the two writes
 * leaves every leg checked under the old state refused (fail-safe), never one applied after
 * the change; the refusal then catches the user's epoch up (catchUpPaymentPasswordEpoch).
 * `change` is the user's compare-and-set from `epoch` to `next`: null when its own condition
 * no longer holds. A raise made meanwhile by another change makes it decide again.
 */
export async function withRaisedPaymentPasswordEpoch<T>(userId: string, change: (epoch: number, next: number) => Promise<T | null>): Promise<T | null> {
  for (let attempt = 0; attempt < RAISE_ATTEMPTS_MAX; attempt++) {
    const epoch = await userPaymentPasswordEpoch(userId);
    await retryOnWriteConflict(() => Account.updateOne({ _id: userId }, { $max: { paymentPasswordEpoch: epoch + 1 } }));
    await faultPoint('security:between-epoch-writes');
    const changed = await change(epoch, epoch + 1);
    if (changed !== null || (await userPaymentPasswordEpoch(userId)) === epoch) return changed;
  }
  throw new Error(`payment-password epoch of ${userId}: raised elsewhere ${RAISE_ATTEMPTS_MAX} times in a row`);
}

/**
 * After a leg refused on its epochs: a change that died between its two writes left the
 * user's epoch behind the account's, and checks would go on stamping the old one. The change
 * itself never happened, so the user's state stands; only its epoch catches up.
 */
export async function catchUpPaymentPasswordEpoch(userId: string): Promise<void> {
  const account = await accountsDriver.findOne<AccountDocument>({ _id: userId }, { projection: { paymentPasswordEpoch: 1 } });
  const accountEpoch = account?.paymentPasswordEpoch ?? 0;
  if (accountEpoch > (await userPaymentPasswordEpoch(userId))) {
    await retryOnWriteConflict(() => User.updateOne({ _id: userId }, { $max: { paymentPasswordEpoch: accountEpoch } }));
  }
}

async function userPaymentPasswordEpoch(userId: string): Promise<number> {
  return (await User.findById(userId, { paymentPasswordEpoch: 1 }).lean())?.paymentPasswordEpoch ?? 0;
}
