import { driverCollection, rawCollection } from '../db/driver.ts';
import { groupUpdates } from '../db/groupCommit.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { newId } from '../ids.ts';
import type { Fen } from '../money/fen.ts';
import { faultPoint } from '../faults.ts';
import { withEvent, type EventDraft } from '../events/outbox.ts';
import { Operation, type OperationDocument, type OperationStatus } from './model.ts';

export interface PostingDraft {
  account: string;
  amountFen: Fen;
}

// Every request that moves money runs these updates: they skip Mongoose (see db/driver.ts).
const operations = driverCollection(Operation);
// Transitions of concurrent requests go to the server grouped (see db/groupCommit.ts).
const operationUpdates = groupUpdates(rawCollection(Operation), { transitionId: 1 });

/** Operations whose in-memory copy may lag the database: another actor moved them. */
const staleOperations = new WeakSet<OperationDocument>();
/** How a request answers once its operation leaves `pending`: kept by the first transition. */
const answerers = new WeakMap<OperationDocument, (operation: OperationDocument) => unknown>();

/**
 * The event a transition files with itself, if any (src/transfers/events.ts registers the
 * rule): `announceFailure` when the failure was decided after the request that asked for the
 * operation had ended, so nobody has told its holder yet.
 */
type TransitionEvents = (after: OperationDocument, from: OperationStatus[], announceFailure: boolean) => EventDraft | null;
let eventOfTransition: TransitionEvents = () => null;

export function registerTransitionEvents(rule: TransitionEvents): void {
  eventOfTransition = rule;
}

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
  announceFailure = false,
): Promise<boolean> {
  const answerOf = to === 'pending' ? undefined : answerers.get(operation);
  // One try only: after a lost race the answer may already be stored by another actor.
  answerers.delete(operation);
  const changes = { status: to, updatedAt: at, transitionId: newId('tr'), ...extra };
  if (answerOf) Object.assign(changes, { response: answerOf({ ...operation, ...changes }) });
  const event = eventOfTransition({ ...operation, ...changes } as OperationDocument, from, announceFailure);
  await faultPoint('transition:before');
  const moved = await operationUpdates({
    filter: { _id: operation._id, status: { $in: from } },
    // The event goes in the write that makes the change: it exists if and only if the change does.
    update: withEvent({ $set: changes }, event),
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
