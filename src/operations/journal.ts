import type { QueryFilter } from 'mongoose';
import type { Document } from 'mongodb';
import { Account, accountsDriver } from '../accounts/model.ts';
import { driverCollection, rawCollection } from '../db/driver.ts';
import { groupUpdates } from '../db/groupCommit.ts';
import { setBounded } from '../db/readCache.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { newId } from '../ids.ts';
import type { Fen } from '../money/fen.ts';
import {
  accountBusy,
  fenceOf,
  finalityOf,
  type LegFinality,
  holds,
  markOf,
  nextObservation,
  observedBeforeCreation,
  parseToken,
  tokensOf,
  UNFINISHED_MARKS_MAX,
} from './marks.ts';
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

// Every request that moves money runs these updates: they skip Mongoose (see db/driver.ts).
const operations = driverCollection(Operation);
// Legs and transitions of concurrent requests go to the server grouped (see db/groupCommit.ts).
/** What a leg needs of an account besides its rule: see compareAndApply. */
const LEG_STATE = { legCount: 1, unfinishedMarks: 1 };
const accountUpdates = groupUpdates(rawCollection(Account), LEG_STATE);
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
 * Applies a leg once: the account update both checks the rule and leaves the step's mark, so
 * a second attempt (a replay, the recovery job) finds the mark and changes nothing. Then the
 * step and its postings are recorded on the operation, which finishes the mark: it may leave
 * the account. Returns false when the rule refused it or the leg was closed.
 */
export async function applyAccountLeg(operation: OperationDocument, leg: AccountLeg, at: Date): Promise<boolean> {
  if (operation.steps.includes(leg.step)) return true;
  if (!(await moveAccount(operation, leg))) return false;
  await recordStep(operation, leg.step, leg.postings, at);
  finishToken(leg.accountId ?? operation.userId, markOf(operation._id, leg.step));
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
  const outcome = await oneAtATime(accountId, () => compareAndApply(accountId, operation, leg));
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
  const outcome = await oneAtATime(accountId, () => compareAndApply(accountId, operation, { step, inc: {}, postings: [] }, 'fence'));
  if (outcome === 'refused') throw new Error(`closing ${step} of ${operation._id}: no account ${accountId}`);
  return outcome === 'closed';
}

/** Whether a step's leg is on its account, its mark not yet finished (a replay asks before its lease closes). */
export async function legApplied(accountId: string, operationId: string, step: string): Promise<boolean> {
  const state = await readLegState(accountId);
  return state !== undefined && holds(state.unfinishedMarks, markOf(operationId, step));
}

const FINALITY_FIELDS = { type: 1, status: 1, steps: 1, leaseId: 1 };

/** Attempts a leg makes when another process moved the account between its read and its update. */
const STALE_ATTEMPTS_MAX = 50;

interface LegState {
  legCount: number;
  unfinishedMarks: string;
  /** When this process saw the account so: see observedBeforeCreation. */
  observedAt: number;
}

/** Each account's leg count and marks as this process last saw them: a hint, never trusted. */
const knownLegStates = new Map<string, LegState>();
const KNOWN_ACCOUNTS_MAX = 4096;

type LegOutcome = 'applied' | 'refused' | 'closed';

/**
 * The leg as a compare-and-set on the account's leg count, from what this process knows of
 * it. A wrong guess costs one refused update: the group reads the account back, and it
 * tells applied (its mark is there), refused (same count: the rule said no) or stale (try
 * again from what was read). A mark leaves an account only once its operation records the
 * leg, so an account without the mark proves nothing by itself about a leg that may have
 * applied and finished: unless this process saw the account before it wrote the operation,
 * the operation's record, read after the account, decides (finishedOf). With 'fence', the
 * leg is closed instead of applied.
 */
async function compareAndApply(accountId: string, operation: OperationDocument, leg: AccountLeg, mode: 'apply' | 'fence' = 'apply'): Promise<LegOutcome> {
  const mark = markOf(operation._id, leg.step);
  const fence = fenceOf(operation._id, leg.step);
  for (let attempt = 0; attempt < STALE_ATTEMPTS_MAX; attempt++) {
    const known = knownLegStates.get(accountId) ?? (await readLegState(accountId));
    if (!known) return 'refused';
    if (holds(known.unfinishedMarks, mark)) return 'applied';
    if (holds(known.unfinishedMarks, fence)) return 'closed';
    if (!observedBeforeCreation(known, operation)) {
      const recorded = await recordedOutcome(operation._id, leg.step);
      if (recorded) return recorded;
    }
    const kept = await keptTokens(accountId, known.unfinishedMarks, mode === 'fence');
    const next = { legCount: known.legCount + 1, unfinishedMarks: [...kept, mode === 'fence' ? fence : mark].join(' ') };
    const update =
      mode === 'fence'
        ? { $inc: { legCount: 1 }, $set: { unfinishedMarks: next.unfinishedMarks } }
        : { $inc: { ...withHolding(leg.inc), legCount: 1 }, $set: { ...leg.set, unfinishedMarks: next.unfinishedMarks } };
    let stored: LegState | undefined;
    const done = await accountUpdates({
      filter: { _id: accountId, legCount: known.legCount, ...(mode === 'fence' ? {} : leg.guard) },
      update,
      applied: (account) => holds((stored = legStateOf(account)).unfinishedMarks, mode === 'fence' ? fence : mark),
    });
    if (done) {
      // Unread, the account is exactly what this update made of it.
      rememberLegState(accountId, stored ?? { ...next, observedAt: nextObservation() });
      forgetFinished(accountId, kept);
      return mode === 'fence' ? 'closed' : 'applied';
    }
    if (!stored) return 'refused';
    rememberLegState(accountId, stored);
    if (stored.legCount === known.legCount && mode === 'apply') return 'refused';
  }
  throw new Error(`leg on ${accountId}: the account kept moving under ${STALE_ATTEMPTS_MAX} attempts`);
}

async function readLegState(accountId: string): Promise<LegState | undefined> {
  const account = await accountsDriver.findOne({ _id: accountId }, { projection: LEG_STATE });
  return account ? legStateOf(account) : undefined;
}

function legStateOf(account: Document): LegState {
  return {
    legCount: (account.legCount as number | undefined) ?? 0,
    unfinishedMarks: (account.unfinishedMarks as string | undefined) ?? '',
    observedAt: nextObservation(),
  };
}

function rememberLegState(accountId: string, state: LegState): void {
  setBounded(knownLegStates, accountId, state, KNOWN_ACCOUNTS_MAX);
}

/**
 * The operation's own record of a leg, read now: applied (recorded, or as its type says),
 * closed (it ended without it) or undefined while the leg may still apply; null when there is
 * no such operation.
 */
async function readFinality(operationId: string, step: string): Promise<LegFinality | null> {
  const stored = await operations.findOne<OperationDocument>({ _id: operationId }, { projection: FINALITY_FIELDS });
  return stored ? finalityOf(stored, step) : null;
}

async function recordedOutcome(operationId: string, step: string): Promise<LegFinality> {
  const finality = await readFinality(operationId, step);
  if (finality === null) throw new Error(`leg ${step} of ${operationId}: no such operation`);
  return finality;
}

/**
 * The tokens an account keeps besides the new one: without those this process knows are
 * finished, and, when the bound is reached, without every token whose operation's record
 * makes it unnecessary. A fence is always placed; a mark beyond the bound is refused,
 * retryably, rather than dropping a proof.
 */
async function keptTokens(accountId: string, marks: string, fencing: boolean): Promise<string[]> {
  const finished = finishedTokens.get(accountId);
  let kept = tokensOf(marks).filter((token) => !finished?.has(token));
  if (kept.length < UNFINISHED_MARKS_MAX || fencing) return kept;
  const stillNeeded = await Promise.all(kept.map(async (token) => !(await tokenFinished(token))));
  kept = kept.filter((_, index) => stillNeeded[index]);
  if (kept.length >= UNFINISHED_MARKS_MAX) throw accountBusy();
  return kept;
}

/** Whether a token's operation has recorded what the token proved, so that it may leave. */
async function tokenFinished(token: string): Promise<boolean> {
  const { operationId, step, isFence } = parseToken(token);
  const finality = await readFinality(operationId, step);
  // A mark may go once the operation records the leg; a fence once it ended without it.
  return finality === (isFence ? 'closed' : 'applied');
}

/** Tokens this process knows are finished, by account; forgetting one only keeps a token longer. */
const finishedTokens = new Map<string, Set<string>>();

function finishToken(accountId: string, token: string): void {
  const tokens = finishedTokens.get(accountId) ?? new Set<string>();
  tokens.add(token);
  setBounded(finishedTokens, accountId, tokens, KNOWN_ACCOUNTS_MAX);
}

/** Marks of instant operations finish when their lease closes: its closer says so here. */
export function finishMarks(marks: { accountId: string; operationId: string; step: string }[]): void {
  for (const { accountId, operationId, step } of marks) finishToken(accountId, markOf(operationId, step));
}

/** After an update from an exact view: the account holds the kept tokens only, so only those stay known. */
function forgetFinished(accountId: string, kept: string[]): void {
  const tokens = finishedTokens.get(accountId);
  if (!tokens) return;
  for (const token of tokens) if (!kept.includes(token)) tokens.delete(token);
  if (tokens.size === 0) finishedTokens.delete(accountId);
}

/** Legs this process applies to one account go one after another, so they do not refuse each other. */
const accountQueues = new Map<string, Promise<unknown>>();

function oneAtATime<T>(accountId: string, task: () => Promise<T>): Promise<T> {
  const run = (accountQueues.get(accountId) ?? Promise.resolve()).then(task);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  accountQueues.set(accountId, settled);
  void settled.then(() => accountQueues.get(accountId) === settled && accountQueues.delete(accountId));
  return run;
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
