/**
 * The engine's state-machine helpers and its registry of machines. Each operation type's
 * machine lives with its domain and is registered here (src/transfers/advance.ts registers
 * the table of every type), so the engine drives any operation without importing a domain.
 */
import type { AppContext } from '../context.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { failureOf, type Failure } from '../errors.ts';
import { isAccountBusy } from './marks.ts';
import { currentOperation, transition } from './journal.ts';
import { Operation, type OperationDocument, type OperationType } from './model.ts';
import { reloadOperation } from './service.ts';

/**
 * Each operation is a small state machine whose steps are idempotent: the request drives it
 * as far as it can, and the jobs (confirmation, settlement, recovery) drive the rest with the
 * very same code. `recovery` marks a run that may follow a crash: the bank is asked what it
 * knows before it is called again.
 */
export type AdvanceMode = 'request' | 'recovery';

export type Machine = (ctx: AppContext, operation: OperationDocument, mode: AdvanceMode) => Promise<void>;

const machines = new Map<OperationType, Machine>();

export function registerMachines(table: Record<OperationType, Machine>): void {
  for (const [type, machine] of Object.entries(table)) machines.set(type as OperationType, machine);
}

export async function advanceOperation(ctx: AppContext, operation: OperationDocument, mode: AdvanceMode): Promise<OperationDocument> {
  const machine = machines.get(operation.type);
  if (!machine) throw new Error(`no machine registered for ${operation.type} operations: load src/transfers/advance.ts`);
  try {
    await machine(ctx, operation, mode);
  } catch (error) {
    if (!(mode === 'request' && isAccountBusy(error) && underway(operation))) throw error;
    // Money already moved (a leg applied, or the card charged): the caller is told the
    // operation is pending, not to send it again; the recovery applies the leg that waits.
  }
  return currentOperation(operation);
}

/** A leg applied, or the card charged: what a card top-up or transfer-in does before any leg. */
const underway = (operation: OperationDocument) =>
  operation.steps.length > 0 || operation.type === 'top_up' || (operation.type === 'transfer_in' && operation.channel === 'bank_card');

export function isDue(ctx: AppContext, op: OperationDocument): boolean {
  return op.dueDate !== null && op.dueDate !== undefined && op.dueDate <= ctx.calendar.businessDateOf(ctx.clock.now());
}

export async function moveTo(op: OperationDocument, from: OperationDocument['status'], to: OperationDocument['status'], at: Date) {
  if (!(await transition(op, [from], to, at))) op.status = (await reloadOperation(op._id)).status;
}

/** Why an operation is refused: a code, or a failure that adds facts to its code's detail. */
export type Refusal = string | Failure;
const failureFrom = (refusal: Refusal): Failure => (typeof refusal === 'string' ? failureOf(refusal) : refusal);

/** Keeps why an operation is failing, for a recovery that finishes the failure after a crash. */
export async function noteFailure(op: OperationDocument, refusal: Refusal): Promise<void> {
  const failure = failureFrom(refusal);
  await retryOnWriteConflict(() => Operation.updateOne({ _id: op._id, status: 'pending' }, { $set: { failure } }));
}

/**
 * Fails a pending operation. A failure decided by recovery (`mode`), after its request ended
 * without a final answer (it crashed, or answered 202 while the bank was silent), is told by an
 * event: its holder has not heard it otherwise (src/transfers/events.ts).
 */
export async function fail(ctx: AppContext, op: OperationDocument, refusal: Refusal, mode: AdvanceMode = 'request'): Promise<void> {
  // Marked on the operation too: a resend answered from it later cannot tell a reader otherwise whether it was told.
  const told = mode === 'recovery' ? { failureToldByEvent: true } : {};
  await transition(op, ['pending'], 'failed', ctx.clock.now(), { failure: failureFrom(refusal), ...told }, mode === 'recovery');
  op.status = 'failed';
}
