import type { AppContext } from '../context.ts';
import { log } from '../log.ts';
import { advanceOperation } from './machine.ts';
import { Operation, type OperationDocument, type OperationStatus } from './model.ts';

/**
 * Confirms subscriptions and settles redemptions whose date has come. Selects by status
 * (an equality FerretDB serves from an index) and compares dates here.
 */
export async function advanceDueOperations(ctx: AppContext): Promise<{ confirmed: number; settled: number }> {
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  const confirmed = await advanceEach(ctx, 'awaiting_confirmation', (op) => op.dueDate !== null && op.dueDate! <= today);
  const settled = await advanceEach(ctx, 'awaiting_settlement', (op) => op.dueDate !== null && op.dueDate! <= today);
  return { confirmed, settled };
}

/** Drives operations a crash (or a silent bank) left pending, forward or back. */
export async function recoverStuckOperations(ctx: AppContext): Promise<{ recovered: number }> {
  const staleBefore = ctx.clock.now().getTime() - ctx.config.jobs.recoverAfterMs;
  const stale = (op: OperationDocument) => op.updatedAt.getTime() <= staleBefore;
  // Reserve leases last: one closes once the redemptions it advanced are no longer pending.
  const recovered = await advanceEach(ctx, 'pending', (op) => stale(op) && op.type !== 'reserve_lease');
  const leasesClosed = await advanceEach(ctx, 'pending', (op) => stale(op) && op.type === 'reserve_lease');
  return { recovered: recovered + leasesClosed };
}

async function advanceEach(ctx: AppContext, status: OperationStatus, isDue: (op: OperationDocument) => boolean): Promise<number> {
  let advanced = 0;
  for await (const operation of Operation.find({ status }).lean<OperationDocument[]>().cursor({ batchSize: 500 })) {
    const op = operation as unknown as OperationDocument;
    if (!isDue(op)) continue;
    try {
      const after = await advanceOperation(ctx, op, status === 'pending' ? 'recovery' : 'request');
      if (after.status !== status) advanced++;
      else log.warn({ operationId: op._id, status }, 'operation could not advance yet');
    } catch (error) {
      // One broken operation must not hold up every one behind it.
      log.error({ err: error, operationId: op._id, status }, 'operation failed to advance');
    }
  }
  return advanced;
}
