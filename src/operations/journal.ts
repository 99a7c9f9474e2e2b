import type { QueryFilter } from 'mongoose';
import { Account, RECENT_STEPS_MAX } from '../accounts/model.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import type { Fen } from '../money/fen.ts';
import { Operation, type OperationDocument, type OperationStatus } from './model.ts';

export type BalanceField = 'walletFen' | 'sharesFen' | 'subscribingFen' | 'redeemingFen';
/** Counters a leg may move besides balances; holdingFen is derived, never given. */
type CounterField = 'transferInTodayFen' | 'instantTodayFen';

export interface PostingDraft {
  account: string;
  amountFen: Fen;
}

/** One leg on the holder's account document: a guarded, replay-safe single-document update. */
export interface AccountLeg {
  step: string;
  /** The account the leg moves: the operation's holder unless named (a merchant's wallet). */
  accountId?: string;
  /** The rule the update must satisfy, e.g. { walletFen: { $gte: amountFen } }. */
  guard?: QueryFilter<unknown>;
  inc: Partial<Record<BalanceField | CounterField, Fen>>;
  set?: Record<string, unknown>;
  postings: PostingDraft[];
}

export const ledgerAccount = {
  wallet: (userId: string) => `wallet:${userId}`,
  shares: (userId: string) => `shares:${userId}`,
  subscribing: (userId: string) => `subscribing:${userId}`,
  redeeming: (userId: string) => `redeeming:${userId}`,
  bankClearing: 'bank:clearing',
  /** A payment's cash between the payer's shares and the merchant's wallet. */
  paymentsTransit: 'payments:transit',
} as const;

/** Ledger account of each balance field, so balances can be checked against postings. */
export const BALANCE_LEDGER: Record<BalanceField, (userId: string) => string> = {
  walletFen: ledgerAccount.wallet,
  sharesFen: ledgerAccount.shares,
  subscribingFen: ledgerAccount.subscribing,
  redeemingFen: ledgerAccount.redeeming,
};

/**
 * Applies a leg once: the account update both checks the rule and records the step id, so
 * a second attempt (a replay, the recovery job) finds the id and changes nothing. Then the
 * step and its postings are recorded on the operation. Returns false when the rule refused it.
 */
export async function applyAccountLeg(operation: OperationDocument, leg: AccountLeg, at: Date): Promise<boolean> {
  if (operation.steps.includes(leg.step)) return true;
  assertBalanced(leg);
  const stepId = `${operation._id}:${leg.step}`;
  const accountId = leg.accountId ?? operation.userId;
  const result = await retryOnWriteConflict(() =>
    Account.updateOne(
      { _id: accountId, recentSteps: { $ne: stepId }, ...leg.guard },
      {
        $inc: withHolding(leg.inc),
        ...(leg.set ? { $set: leg.set } : {}),
        $push: { recentSteps: { $each: [stepId], $slice: -RECENT_STEPS_MAX } },
      },
    ),
  );
  if (result.modifiedCount === 0 && !(await Account.exists({ _id: accountId, recentSteps: stepId }))) {
    // Only a rule can refuse a leg: an unguarded credit that finds no account is a defect.
    if (!leg.guard) throw new Error(`step ${leg.step} of ${operation._id}: no account ${accountId}`);
    return false;
  }
  await recordStep(operation, leg.step, leg.postings, at);
  return true;
}

/** Records a step (and its postings) on the operation, once. */
export async function recordStep(operation: OperationDocument, step: string, postings: PostingDraft[], at: Date): Promise<void> {
  if (operation.steps.includes(step)) return;
  await retryOnWriteConflict(() =>
    Operation.updateOne(
      { _id: operation._id, steps: { $ne: step } },
      {
        $push: { steps: step, postings: { $each: postings.map((posting) => ({ ...posting, step, at })) } },
        $set: { updatedAt: at },
      },
    ),
  );
  operation.steps.push(step);
  operation.postings.push(...postings.map((posting) => ({ ...posting, step, at })));
}

/** Moves the operation on from one of the expected statuses; false when another actor moved it first. */
export async function transition(
  operation: OperationDocument,
  from: OperationStatus[],
  to: OperationStatus,
  at: Date,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const result = await retryOnWriteConflict(() =>
    Operation.updateOne({ _id: operation._id, status: { $in: from } }, { $set: { status: to, updatedAt: at, ...extra } }),
  );
  return result.modifiedCount === 1;
}

/** The holding (shares + pending subscriptions) moves with them, in the same update. */
function withHolding(inc: AccountLeg['inc']): AccountLeg['inc'] & { holdingFen?: Fen } {
  const holdingFen = (inc.sharesFen ?? 0n) + (inc.subscribingFen ?? 0n);
  return holdingFen === 0n ? inc : { ...inc, holdingFen };
}

function assertBalanced(leg: AccountLeg): void {
  const totalFen = leg.postings.reduce((sum, posting) => sum + posting.amountFen, 0n);
  if (totalFen !== 0n) throw new Error(`step ${leg.step}: postings sum to ${totalFen}, not 0`);
}
