/**
 * The proofs a leg leaves on the document it moves (src/operations/journal.ts): a mark
 * `<operationId>:<step>` when the leg applied, a fence `!<operationId>:<step>` when the leg
 * was closed before its operation failed without it. A token leaves its document only once
 * the operation's own record makes it unnecessary (finalityOf), never by age or eviction;
 * the unfinished tokens of a document are bounded, and a leg beyond the bound is refused,
 * retryably.
 */
import { DomainError } from '../errors.ts';
import type { OperationDocument, OperationType } from './model.ts';

/** Unfinished marks one account may hold; a leg past it waits for some to finish. */
export const UNFINISHED_MARKS_MAX = 64;

export const markOf = (operationId: string, step: string) => `${operationId}:${step}`;
export const fenceOf = (operationId: string, step: string) => `!${operationId}:${step}`;

export const tokensOf = (marks: string): string[] => (marks ? marks.split(' ') : []);
export const holds = (marks: string, token: string) => tokensOf(marks).includes(token);
/** Whether a leg was closed on a document: its operation failed, or is failing, without it. */
export const legFenced = (document: { unfinishedMarks?: string | null }, operationId: string, step: string) =>
  holds(document.unfinishedMarks ?? '', fenceOf(operationId, step));

export function parseToken(token: string): { operationId: string; step: string; isFence: boolean } {
  const isFence = token.startsWith('!');
  const body = isFence ? token.slice(1) : token;
  const colon = body.indexOf(':');
  return { operationId: body.slice(0, colon), step: body.slice(colon + 1), isFence };
}

export const accountBusy = () =>
  new DomainError('account_busy', 'Too many movements of this account are still being finished; this one has not reached the account: the service finishes it, or send it again shortly with the same Idempotency-Key', {
    retryAfterSeconds: 1,
  });

export const isAccountBusy = (error: unknown) => error instanceof DomainError && error.code === 'account_busy';

/**
 * A process's own order of events: when it saw a document, and when it wrote an operation.
 * An account seen before the operation was written cannot have held a leg of it.
 */
let observations = 0;
export const nextObservation = () => ++observations;
const creations = new WeakMap<OperationDocument, number>();

/** Called just before the operation is written. */
export function noteCreation(operation: OperationDocument): void {
  creations.set(operation, nextObservation());
}

export function observedBeforeCreation(state: { observedAt: number }, operation: OperationDocument): boolean {
  const createdAt = creations.get(operation);
  return createdAt !== undefined && state.observedAt < createdAt;
}

export type LegFinality = 'applied' | 'closed' | undefined;
type FinalityRule = (operation: Pick<OperationDocument, '_id' | 'type' | 'status' | 'steps' | 'leaseId'>, step: string) => Promise<LegFinality>;

/**
 * What an operation's record says of one of its legs: applied (the step is recorded), closed
 * (the operation ended without it) or undefined while it may still apply. A step of an
 * operation type whose record says it otherwise registers its own rule.
 */
const rules = new Map<string, FinalityRule>();

export function registerLegFinality(types: OperationType[], step: string, rule: FinalityRule): void {
  for (const type of types) rules.set(`${type}:${step}`, rule);
}

export async function finalityOf(operation: Pick<OperationDocument, '_id' | 'type' | 'status' | 'steps' | 'leaseId'>, step: string): Promise<LegFinality> {
  const rule = rules.get(`${operation.type}:${step}`);
  if (rule) return rule(operation, step);
  if (operation.steps.includes(step)) return 'applied';
  return operation.status === 'completed' || operation.status === 'failed' ? 'closed' : undefined;
}
