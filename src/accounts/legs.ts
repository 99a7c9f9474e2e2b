/**
 * Legs on holders' and merchants' account documents: each a guarded, replay-safe
 * single-document update of the operation engine (src/operations/guardedLeg.ts), whose mark
 * leaves the account once the operation recorded the step. The ledger accounts name where each
 * balance's postings go.
 */
import type { QueryFilter } from 'mongoose';
import type { Fen } from '../money/fen.ts';
import { applyGuardedLeg, finishMark, legDocuments, legHeld } from '../operations/guardedLeg.ts';
import { recordStep, type PostingDraft } from '../operations/journal.ts';
import type { OperationDocument } from '../operations/model.ts';
import { Account } from './model.ts';

export type BalanceField = 'walletFen' | 'sharesFen' | 'subscribingFen' | 'redeemingFen';
/** Counters a leg may move besides balances; holdingFen is derived, never given. */
type CounterField = 'transferInTodayFen' | 'instantTodayFen';

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
  /** See GuardedLeg (src/operations/guardedLeg.ts). */
  onlyWriterApplies?: boolean;
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

/** The holders' and merchants' accounts, as documents of guarded legs. */
const accountLegs = legDocuments(Account);

/**
 * Applies a leg once: the account update both checks the rule and leaves the step's mark, so
 * a second attempt (a replay, the recovery job) finds the mark and changes nothing. Then the
 * step and its postings are recorded on the operation, which finishes the mark: it may leave
 * the account. Returns false when the rule refused it or the leg was closed.
 */
export async function applyAccountLeg(operation: OperationDocument, leg: AccountLeg, at: Date): Promise<boolean> {
  if (operation.steps.includes(leg.step)) return true;
  if (!(await moveAccount(operation, leg))) return false;
  await recordStep(operation, leg.step, leg.postings, at);
  finishMark(accountLegs, leg.accountId ?? operation.userId, operation._id, leg.step);
  return true;
}

/**
 * The leg on its account alone, once: for an operation written with its steps already (an
 * instant redemption), whose holder's leg commits it. False when the rule refused it or the
 * leg was closed (a fence: the operation failed, or is failing, without it).
 */
export async function moveAccount(operation: OperationDocument, leg: AccountLeg): Promise<boolean> {
  assertBalanced(leg);
  const accountId = leg.accountId ?? operation.userId;
  const outcome = await applyGuardedLeg(accountLegs, accountId, operation, { ...leg, inc: withHolding(leg.inc) });
  if (outcome === 'applied') return true;
  // Only a rule can refuse a leg: an unguarded credit that finds no account is a defect.
  if (outcome === 'refused' && !leg.guard) throw new Error(`step ${leg.step} of ${operation._id}: no account ${accountId}`);
  return false;
}

/**
 * Closes a leg that has not applied, before its operation fails without it: a fence on the
 * account, set in a compare-and-set that finds the mark absent, which every later attempt of
 * the leg meets (a frozen request, a replay, recovery). False when the leg applied after all:
 * the operation must then go on with it.
 */
export async function closeAccountLeg(operation: OperationDocument, step: string, accountId = operation.userId): Promise<boolean> {
  const outcome = await applyGuardedLeg(accountLegs, accountId, operation, { step, inc: {} }, 'fence');
  if (outcome === 'refused') throw new Error(`closing ${step} of ${operation._id}: no account ${accountId}`);
  return outcome === 'closed';
}

/** Whether a step's leg is on its account, its mark not yet finished (a replay asks before its lease closes). */
export function legApplied(accountId: string, operationId: string, step: string): Promise<boolean> {
  return legHeld(accountLegs, accountId, operationId, step);
}

/** Marks of instant operations finish when their lease's owner notes them, or the lease closes. */
export function finishMarks(marks: { accountId: string; operationId: string; step: string }[]): void {
  for (const { accountId, operationId, step } of marks) finishMark(accountLegs, accountId, operationId, step);
}

export interface FinishedMark {
  accountId: string;
  operationId: string;
  step: string;
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
