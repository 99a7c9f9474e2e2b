import type { QueryFilter } from 'mongoose';
import { createHash } from 'node:crypto';
import type { Document } from 'mongodb';
import { Account, accountsDriver, RECENT_STEPS_MAX } from '../accounts/model.ts';
import { driverCollection, rawCollection } from '../db/driver.ts';
import { groupUpdates } from '../db/groupCommit.ts';
import { setBounded } from '../db/readCache.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { newId } from '../ids.ts';
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

// Every request that moves money runs these updates: they skip Mongoose (see db/driver.ts).
const operations = driverCollection(Operation);
// Legs and transitions of concurrent requests go to the server grouped (see db/groupCommit.ts).
/** What a leg needs of an account besides its rule: see compareAndApply. */
const LEG_STATE = { legCount: 1, recentStepMarks: 1 };
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
 * step and its postings are recorded on the operation. Returns false when the rule refused it.
 */
export async function applyAccountLeg(operation: OperationDocument, leg: AccountLeg, at: Date): Promise<boolean> {
  if (operation.steps.includes(leg.step)) return true;
  if (!(await moveAccount(operation, leg))) return false;
  await recordStep(operation, leg.step, leg.postings, at);
  return true;
}

/**
 * The leg on its account alone, once: for an operation written with its steps already (an
 * instant redemption), whose holder's leg commits it. False when the rule refused it.
 */
export async function moveAccount(operation: OperationDocument, leg: AccountLeg): Promise<boolean> {
  assertBalanced(leg);
  const accountId = leg.accountId ?? operation.userId;
  const mark = stepMark(operation._id, leg.step);
  if (await oneAtATime(accountId, () => compareAndApply(accountId, mark, leg))) return true;
  // Only a rule can refuse a leg: an unguarded credit that finds no account is a defect.
  if (!leg.guard) throw new Error(`step ${leg.step} of ${operation._id}: no account ${accountId}`);
  return false;
}

/** Whether a step's leg is on its account (recovery asks after a crash). */
export async function legApplied(accountId: string, operationId: string, step: string): Promise<boolean> {
  const state = await readLegState(accountId);
  return state !== undefined && holdsMark(state.recentStepMarks, stepMark(operationId, step));
}

/** A step's mark on an account: 72 bits of its id's hash, so 256 of them fit in 3.3 kB. */
export function stepMark(operationId: string, step: string): string {
  return createHash('sha256').update(`${operationId}:${step}`).digest('base64url').slice(0, MARK_LENGTH);
}

const MARK_LENGTH = 12;
/** Attempts a leg makes when another process moved the account between its read and its update. */
const STALE_ATTEMPTS_MAX = 50;

interface LegState {
  legCount: number;
  recentStepMarks: string;
}

/** Each account's leg count and marks as this process last saw them: a hint, never trusted. */
const knownLegStates = new Map<string, LegState>();
const KNOWN_ACCOUNTS_MAX = 4096;

/**
 * The leg as a compare-and-set on the account's leg count, from what this process knows of
 * it. A wrong guess costs one refused update: the group reads the account back, and it
 * tells applied (its mark is there), refused (same count: the rule said no) or stale (try
 * again from what was read).
 */
async function compareAndApply(accountId: string, mark: string, leg: AccountLeg): Promise<boolean> {
  for (let attempt = 0; attempt < STALE_ATTEMPTS_MAX; attempt++) {
    const known = knownLegStates.get(accountId) ?? (await readLegState(accountId));
    if (!known) return false;
    if (holdsMark(known.recentStepMarks, mark)) return true;
    const next = { legCount: known.legCount + 1, recentStepMarks: withMark(known.recentStepMarks, mark) };
    let stored: LegState | undefined;
    const done = await accountUpdates({
      filter: { _id: accountId, legCount: known.legCount, ...leg.guard },
      update: { $inc: { ...withHolding(leg.inc), legCount: 1 }, $set: { ...leg.set, recentStepMarks: next.recentStepMarks } },
      applied: (account) => holdsMark((stored = legStateOf(account)).recentStepMarks, mark),
    });
    if (done) {
      // Unread, the account is exactly what this update made of it.
      rememberLegState(accountId, stored ?? next);
      return true;
    }
    if (!stored) return false;
    rememberLegState(accountId, stored);
    if (stored.legCount === known.legCount) return false;
  }
  throw new Error(`leg on ${accountId}: the account kept moving under ${STALE_ATTEMPTS_MAX} attempts`);
}

async function readLegState(accountId: string): Promise<LegState | undefined> {
  const account = await accountsDriver.findOne({ _id: accountId }, { projection: LEG_STATE });
  return account ? legStateOf(account) : undefined;
}

function legStateOf(account: Document): LegState {
  return { legCount: (account.legCount as number | undefined) ?? 0, recentStepMarks: (account.recentStepMarks as string | undefined) ?? '' };
}

function rememberLegState(accountId: string, state: LegState): void {
  setBounded(knownLegStates, accountId, state, KNOWN_ACCOUNTS_MAX);
}

/** Marks have one length and no spaces, so a match can only be a whole mark. */
const holdsMark = (marks: string, mark: string) => marks.includes(mark);

/** The marks with one more at the end, the oldest dropped beyond RECENT_STEPS_MAX. */
function withMark(marks: string, mark: string): string {
  const kept = marks.length >= RECENT_STEPS_MAX * (MARK_LENGTH + 1) - 1 ? marks.slice(MARK_LENGTH + 1) : marks;
  return kept ? `${kept} ${mark}` : mark;
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
