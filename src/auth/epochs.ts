import { Account, accountsDriver, type AccountDocument } from '../accounts/model.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';

/**
 * Revocation that is exact across processes with no extra read on the hot path: the holder's
 * account document carries two epochs, and a money-out leg (a guarded update of that very
 * document) carries the ones its request was checked under, so a leg checked before a
 * sign-out everywhere, a payment-password reset or a lock is refused, whatever another process
 * still remembers. Sessions are stamped with the sessions epoch when issued (a reset restamps
 * the session that made it); the payment password's is raised on the user document in the same
 * update as the reset or lock, read with the state a check uses, and then copied here.
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

/** Ends every session issued so far for money: returns the epoch sessions issued from now on carry. */
export async function raiseSessionsEpoch(userId: string): Promise<number> {
  const account = await retryOnWriteConflict(() =>
    Account.findOneAndUpdate({ _id: userId }, { $inc: { sessionsEpoch: 1 } }, { returnDocument: 'after' }).lean(),
  );
  return account?.sessionsEpoch ?? 0;
}

/** Copies a raised payment-password epoch from the user to the account; never lowers it. */
export async function copyPaymentPasswordEpoch(userId: string, epoch: number): Promise<void> {
  await retryOnWriteConflict(() => Account.updateOne({ _id: userId }, { $max: { paymentPasswordEpoch: epoch } }));
}
