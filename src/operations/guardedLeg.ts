/**
 * The one replay-safe guarded leg of the operation engine: a compare-and-set on a document's
 * leg count that checks the leg's rule, moves its counters and leaves the step's mark in the
 * document's `unfinishedMarks` (src/operations/marks.ts), in one single-document update. A
 * second attempt (a replay, recovery) finds the mark and changes nothing. A mark leaves the
 * document only once its operation has recorded the leg, piggybacked on a later leg of the
 * same document; a closer fences a leg that has not applied in the same compare-and-set that
 * finds its mark absent, and every later attempt meets the fence. Accounts, reserve shards
 * and fund quotas are documents of this kind.
 */
import type { Collection, Document } from 'mongodb';
import { driverCollection, rawCollection } from '../db/driver.ts';
import { groupUpdates } from '../db/groupCommit.ts';
import { setBounded } from '../db/readCache.ts';
import { faultPoint } from '../faults.ts';
import {
  accountBusy,
  fenceOf,
  finalityOf,
  holds,
  markOf,
  nextObservation,
  observedBeforeCreation,
  parseToken,
  tokensOf,
  UNFINISHED_MARKS_MAX,
  type LegFinality,
} from './marks.ts';
import { Operation, type OperationDocument } from './model.ts';

/** What a leg needs of its document besides its rule. */
const LEG_STATE = { legCount: 1, unfinishedMarks: 1 };
/** Attempts a leg makes when another process moved the document between its read and its update. */
const STALE_ATTEMPTS_MAX = 50;
const KNOWN_DOCUMENTS_MAX = 4096;
const FINALITY_FIELDS = { type: 1, status: 1, steps: 1, leaseId: 1 };

// Legs read operations on the hot path: without Mongoose (see db/driver.ts).
const operations = driverCollection(Operation);

export interface GuardedLeg {
  step: string;
  /** The rule the update must satisfy, e.g. { walletFen: { $gte: amountFen } }. */
  guard?: Document;
  inc: Record<string, bigint>;
  set?: Record<string, unknown>;
  /**
   * Only the request that wrote the operation ever applies this leg, and whoever closes it
   * fences it first: the document's mark or fence then says all the operation's record would,
   * and the record is not read (an instant redemption's holder leg).
   */
  onlyWriterApplies?: boolean;
}

export type LegOutcome = 'applied' | 'refused' | 'closed';

interface LegState {
  legCount: number;
  unfinishedMarks: string;
  /** When this process saw the document so: see observedBeforeCreation. */
  observedAt: number;
}

/** A collection whose documents take guarded legs, with what this process remembers of them. */
export interface LegDocuments {
  readonly updates: ReturnType<typeof groupUpdates>;
  readonly driver: ReturnType<typeof driverCollection>;
  /** Each document's leg count and marks as this process last saw them: a hint, never trusted. */
  readonly known: Map<string, LegState>;
  /** Tokens this process knows are finished, by document; forgetting one only keeps a token longer. */
  readonly finished: Map<string, Set<string>>;
  /** Legs this process applies to one document go one after another, so they do not refuse each other. */
  readonly queues: Map<string, Promise<unknown>>;
}

export function legDocuments(model: { collection: unknown }): LegDocuments {
  return {
    updates: groupUpdates(rawCollection(model) as Collection<Document>, LEG_STATE),
    driver: driverCollection(model),
    known: new Map(),
    finished: new Map(),
    queues: new Map(),
  };
}

/**
 * Applies the leg once (or, with 'fence', closes it). A wrong guess of the leg count costs one
 * refused update: the group reads the document back, and it tells applied (its mark is
 * there), refused (same count: the rule said no) or stale (try again from what was read). A
 * document without the mark proves nothing by itself about a leg that may have applied and
 * finished: unless this process saw the document before it wrote the operation, the
 * operation's record, read after the document, decides.
 */
export function applyGuardedLeg(
  target: LegDocuments,
  documentId: string,
  operation: OperationDocument,
  leg: GuardedLeg,
  mode: 'apply' | 'fence' = 'apply',
): Promise<LegOutcome> {
  return faultPoint('leg:before-queue').then(() => oneAtATime(target, documentId, () => compareAndApply(target, documentId, operation, leg, mode)));
}

async function compareAndApply(target: LegDocuments, id: string, operation: OperationDocument, leg: GuardedLeg, mode: 'apply' | 'fence'): Promise<LegOutcome> {
  const fencing = mode === 'fence';
  const mark = markOf(operation._id, leg.step);
  const fence = fenceOf(operation._id, leg.step);
  const token = fencing ? fence : mark;
  for (let attempt = 0; attempt < STALE_ATTEMPTS_MAX; attempt++) {
    const known = target.known.get(id) ?? (await readLegState(target, id));
    if (!known) return 'refused';
    if (holds(known.unfinishedMarks, mark)) return 'applied';
    if (holds(known.unfinishedMarks, fence)) return 'closed';
    if (!leg.onlyWriterApplies && !observedBeforeCreation(known, operation)) {
      const recorded = await recordedOutcome(operation._id, leg.step);
      if (recorded) return recorded;
    }
    const kept = await keptTokens(target, id, known.unfinishedMarks, fencing);
    const next = { legCount: known.legCount + 1, unfinishedMarks: [...kept, token].join(' ') };
    const update = fencing
      ? { $inc: { legCount: 1 }, $set: { unfinishedMarks: next.unfinishedMarks } }
      : { $inc: { ...leg.inc, legCount: 1 }, $set: { ...leg.set, unfinishedMarks: next.unfinishedMarks } };
    let stored: LegState | undefined;
    await faultPoint('leg:before-update');
    const done = await target.updates({
      filter: { _id: id, legCount: known.legCount, ...(fencing ? {} : leg.guard) },
      update,
      applied: (document) => holds((stored = legStateOf(document)).unfinishedMarks, token),
    });
    await faultPoint('leg:after-update');
    if (done) {
      // Unread, the document is exactly what this update made of it.
      rememberLegState(target, id, stored ?? { ...next, observedAt: nextObservation() });
      forgetFinished(target, id, kept);
      return fencing ? 'closed' : 'applied';
    }
    if (!stored) return 'refused';
    rememberLegState(target, id, stored);
    if (stored.legCount === known.legCount && !fencing) return 'refused';
  }
  throw new Error(`leg on ${id}: the document kept moving under ${STALE_ATTEMPTS_MAX} attempts`);
}

/** Whether a step's leg is on its document, its mark not yet finished. */
export async function legHeld(target: LegDocuments, id: string, operationId: string, step: string): Promise<boolean> {
  const state = await readLegState(target, id);
  return state !== undefined && holds(state.unfinishedMarks, markOf(operationId, step));
}

/** The leg is recorded on its operation (or, for an instant one, vouched for): its mark may leave. */
export function finishMark(target: LegDocuments, id: string, operationId: string, step: string): void {
  const tokens = target.finished.get(id) ?? new Set<string>();
  tokens.add(markOf(operationId, step));
  setBounded(target.finished, id, tokens, KNOWN_DOCUMENTS_MAX);
}

async function readLegState(target: LegDocuments, id: string): Promise<LegState | undefined> {
  const document = await target.driver.findOne<Document>({ _id: id }, { projection: LEG_STATE });
  return document ? legStateOf(document) : undefined;
}

function legStateOf(document: Document): LegState {
  return {
    legCount: (document.legCount as number | undefined) ?? 0,
    unfinishedMarks: (document.unfinishedMarks as string | undefined) ?? '',
    observedAt: nextObservation(),
  };
}

function rememberLegState(target: LegDocuments, id: string, state: LegState): void {
  setBounded(target.known, id, state, KNOWN_DOCUMENTS_MAX);
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
 * The tokens a document keeps besides the new one: without those this process knows are
 * finished, and, when the bound is reached, without every token whose operation's record
 * makes it unnecessary. A fence is always placed; a mark beyond the bound is refused,
 * retryably, rather than dropping a proof.
 */
async function keptTokens(target: LegDocuments, id: string, marks: string, fencing: boolean): Promise<string[]> {
  const finished = target.finished.get(id);
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

/** After an update from an exact view: the document holds the kept tokens only, so only those stay known. */
function forgetFinished(target: LegDocuments, id: string, kept: string[]): void {
  const tokens = target.finished.get(id);
  if (!tokens) return;
  for (const token of tokens) if (!kept.includes(token)) tokens.delete(token);
  if (tokens.size === 0) target.finished.delete(id);
}

function oneAtATime<T>(target: LegDocuments, id: string, task: () => Promise<T>): Promise<T> {
  const run = (target.queues.get(id) ?? Promise.resolve()).then(task);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  target.queues.set(id, settled);
  void settled.then(() => target.queues.get(id) === settled && target.queues.delete(id));
  return run;
}
