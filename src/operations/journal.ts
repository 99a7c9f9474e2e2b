import type { QueryFilter } from 'mongoose';
import { Account, RECENT_STEPS_MAX } from '../accounts/model.ts';
import { driverCollection, rawCollection } from '../db/driver.ts';
import { groupUpdates } from '../db/groupCommit.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { newId } from '../ids.ts';
import type { Fen } from '../money/fen.ts';
import { Operation, type OperationDocument, type OperationStatus, type Posting } from './model.ts';

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
  /** Record the step with the operation's next transition instead of at once (see recordStep). */
  deferRecord?: boolean;
}

// Every request that moves money runs these updates: they skip Mongoose (see db/driver.ts).
const operations = driverCollection(Operation);
// Legs and transitions of concurrent requests go to the server grouped (see db/groupCommit.ts).
const accountUpdates = groupUpdates(rawCollection(Account), { recentSteps: 1 });
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
  const done = await accountUpdates({
    filter: { _id: accountId, recentSteps: { $ne: stepId }, ...leg.guard },
    update: {
      $inc: withHolding(leg.inc),
      ...(leg.set ? { $set: leg.set } : {}),
      $push: { recentSteps: { $each: [stepId], $slice: -RECENT_STEPS_MAX } },
    },
    // An account no leg has touched yet has no recentSteps.
    applied: (account) => ((account.recentSteps ?? []) as string[]).includes(stepId),
  });
  if (!done) {
    // Only a rule can refuse a leg: an unguarded credit that finds no account is a defect.
    if (!leg.guard) throw new Error(`step ${leg.step} of ${operation._id}: no account ${accountId}`);
    return false;
  }
  await recordStep(operation, leg.step, leg.postings, at, leg.deferRecord);
  return true;
}

/** Steps applied to their documents but not yet written on the operation (see recordStep). */
const unwrittenSteps = new WeakMap<OperationDocument, { steps: string[]; postings: Posting[] }>();
/** Operations whose in-memory copy may lag the database: another actor moved them. */
const staleOperations = new WeakSet<OperationDocument>();
/** How a request answers once its operation leaves `pending`: kept by the first transition. */
const answerers = new WeakMap<OperationDocument, (operation: OperationDocument) => unknown>();

/** The first transition out of `pending` also stores the answer, so replays get it verbatim. */
export function answerOnTransition(operation: OperationDocument, answerOf: (operation: OperationDocument) => unknown): void {
  answerers.set(operation, answerOf);
}

/**
 * Records a step (and its postings) on the operation, once. A deferred step is written with
 * the operation's next transition, saving an update on a hot path: that is safe because every
 * leg leaves its step id on the document it moved, so a recovery after a crash in between
 * finds the leg applied and records it then.
 */
export async function recordStep(operation: OperationDocument, step: string, postings: PostingDraft[], at: Date, defer = false): Promise<void> {
  if (operation.steps.includes(step)) return;
  const unwritten = unwrittenSteps.get(operation) ?? { steps: [], postings: [] };
  unwritten.steps.push(step);
  unwritten.postings.push(...postings.map((posting) => ({ ...posting, step, at })));
  unwrittenSteps.set(operation, unwritten);
  operation.steps.push(step);
  operation.postings.push(...postings.map((posting) => ({ ...posting, step, at })));
  if (defer) return;
  // Steps deferred earlier go first, in the same update.
  unwrittenSteps.delete(operation);
  const result = await retryOnWriteConflict(() =>
    operations.updateOne(
      { _id: operation._id, steps: { $nin: unwritten.steps } },
      { $push: { steps: { $each: unwritten.steps }, postings: { $each: unwritten.postings } }, $set: { updatedAt: at } },
    ),
  );
  if (result.modifiedCount === 0) staleOperations.add(operation);
  else operation.updatedAt = at;
}

/**
 * Moves the operation on from one of the expected statuses, writing its deferred steps in the
 * same update; false when another actor moved it first (the in-memory copy is then stale).
 */
export async function transition(
  operation: OperationDocument,
  from: OperationStatus[],
  to: OperationStatus,
  at: Date,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const unwritten = unwrittenSteps.get(operation);
  const answerOf = to === 'pending' ? undefined : answerers.get(operation);
  // One try only: after a lost race the answer may already be stored by another actor.
  answerers.delete(operation);
  const changes = { status: to, updatedAt: at, transitionId: newId('tr'), ...extra };
  if (answerOf) Object.assign(changes, { response: answerOf({ ...operation, ...changes }) });
  const moved = await operationUpdates({
    filter: { _id: operation._id, status: { $in: from }, ...(unwritten ? { steps: { $nin: unwritten.steps } } : {}) },
    update: {
      $set: changes,
      ...(unwritten ? { $push: { steps: { $each: unwritten.steps }, postings: { $each: unwritten.postings } } } : {}),
    },
    applied: (stored) => stored.transitionId === changes.transitionId,
  });
  unwrittenSteps.delete(operation);
  if (!moved) {
    staleOperations.add(operation);
    return false;
  }
  Object.assign(operation, changes);
  return true;
}

/** The operation as it stands: the in-memory copy unless another actor moved it meanwhile. */
export async function currentOperation(operation: OperationDocument): Promise<OperationDocument> {
  if (!staleOperations.has(operation) && !unwrittenSteps.has(operation)) return operation;
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
