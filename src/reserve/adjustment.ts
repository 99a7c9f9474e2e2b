import type { AppContext } from '../context.ts';
import type { OperationDocument } from '../operations/model.ts';
import { fail, moveTo, noteFailure, type AdvanceMode } from '../operations/machine.ts';
import { lookAtReserve } from './lowWater.ts';
import { applyShardLeg, closeShardLeg, openReserve, reserveLedger, shardShares } from './service.ts';

/**
 * Ops fund the reserve or take money out of it, spread evenly over the shards: one guarded,
 * replay-safe leg per shard. A decrease a shard cannot cover is undone on the shards
 * already moved, and fails; nothing then has changed.
 */
export async function advanceReserveAdjustment(ctx: AppContext, op: OperationDocument, _mode: AdvanceMode): Promise<void> {
  if (op.status !== 'pending') return;
  const shards = (await openReserve(ctx)).map((shard) => shard._id).sort();
  const amounts = shardShares(op.amountFen, shards.length);
  const sign = op.direction === 'increase' ? 1n : -1n;
  // A refusal is noted before the undo, so a recovery after a crash finishes the undo.
  let refused = op.failure?.code === 'reserve_available_insufficient';
  for (const [index, shard] of shards.entries()) {
    if (refused) break;
    if (amounts[index] === 0n || (await moveShard(ctx, op, `shard-${index}`, shard, sign * amounts[index]!))) continue;
    // Closed before the undo, so no late attempt of it lands after; applied meanwhile, the next drive records it.
    if (!(await closeShardLeg(op, shard, `shard-${index}`))) return;
    await noteFailure(op, 'reserve_available_insufficient');
    refused = true;
  }
  if (refused) return undo(ctx, op, shards, amounts, sign);
  await moveTo(op, 'pending', 'completed', ctx.clock.now());
  await lookAtReserve(ctx);
}

async function undo(ctx: AppContext, op: OperationDocument, shards: string[], amounts: bigint[], sign: bigint): Promise<void> {
  for (const [index, shard] of shards.entries()) {
    if (op.steps.includes(`shard-${index}`) && !(await moveShard(ctx, op, `undo-${index}`, shard, -sign * amounts[index]!))) {
      throw new Error(`${op._id}: undo of shard ${shard} refused`);
    }
  }
  await fail(ctx, op, 'reserve_available_insufficient');
}

function moveShard(ctx: AppContext, op: OperationDocument, step: string, shard: string, amountFen: bigint): Promise<boolean> {
  const postings = [
    { account: reserveLedger.available(shard), amountFen },
    { account: reserveLedger.funding, amountFen: -amountFen },
  ];
  return applyShardLeg(ctx, op, { step, shard, availableFen: amountFen, outstandingFen: 0n, postings });
}
