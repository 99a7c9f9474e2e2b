import type { QueryFilter } from 'mongoose';
import { Account } from '../accounts/model.ts';
import { driverCollection, rawCollection } from '../db/driver.ts';
import { groupUpdates } from '../db/groupCommit.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { newId } from '../ids.ts';
import type { Fen } from '../money/fen.ts';
import { faultPoint } from '../faults.ts';
import { applyGuardedLeg, finishMark, legDocuments, legHeld } from './guardedLeg.ts';
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
  /** See GuardedLeg (src/operations/guardedLeg.ts). */
  onlyWriterApplies?: boolean;
}

// Every request that moves money runs these updates: they skip Mongoose (see db/driver.ts).
const operations = driverCollection(Operation);
// Transitions of concurrent requests go to the server grouped (see db/groupCommit.ts).
const operationUpdates = groupUpdates(rawCollection(Operation), { transitionId: 1 });

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

/** Operations whose in-memory copy may lag the database: another actor moved them. */
const staleOperations = new WeakSet<OperationDocument>();
/** How a request answers once its operation leaves `pending`: kept by the first transition. */
const answerers = new WeakMap<OperationDocument, (operation: OperationDocument) => unknown>();

/** The first transition out of `pending` also stores the answer, so replays get it verbatim. */
export function answerOnTransition(operation: OperationDocument, answerOf: (operation: OperationDocument) => unknown): void {
  answerers.set(operation, answerOf);
}

/** Records a step (and its postings) on the operation, once. */
export async function recordStep(operation: OperationDocument, step: string, postings: PostingDraft[], at: Date): Promise<void> {
  if (operation.steps.includes(step)) return;
  const written = postings.map((posting) => ({ ...posting, step, at }));
  await faultPoint('step:before-record');
  operation.steps.push(step);
  operation.postings.push(...written);
  const result = await retryOnWriteConflict(() =>
    operations.updateOne({ _id: operation._id, steps: { $ne: step } }, { $push: { steps: step, postings: { $each: written } }, $set: { updatedAt: at } }),
  );
  if (result.modifiedCount === 0) staleOperations.add(operation);
  else operation.updatedAt = at;
}

/**
 * Moves the operation on from one of the expected statuses; false when another actor moved
 * it first (the in-memory copy is then stale).
 */
export async function transition(
  operation: OperationDocument,
  from: OperationStatus[],
  to: OperationStatus,
  at: Date,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const answerOf = to === 'pending' ? undefined : answerers.get(operation);
  // One try only: after a lost race the answer may already be stored by another actor.
  answerers.delete(operation);
  const changes = { status: to, updatedAt: at, transitionId: newId('tr'), ...extra };
  if (answerOf) Object.assign(changes, { response: answerOf({ ...operation, ...changes }) });
  await faultPoint('transition:before');
  const moved = await operationUpdates({
    filter: { _id: operation._id, status: { $in: from } },
    update: { $set: changes },
    applied: (stored) => stored.transitionId === changes.transitionId,
  });
  if (!moved) {
    staleOperations.add(operation);
    return false;
  }
  Object.assign(operation, changes);
  return true;
}

/** The operation as it stands: the in-memory copy unless another actor moved it meanwhile. */
export async function currentOperation(operation: OperationDocument): Promise<OperationDocument> {
  if (!staleOperations.has(operation)) return operation;
  return (await Operation.findById(operation._id).lean<OperationDocument>())!;
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
