import { Operation, type OperationDocument } from '../operations/model.ts';

/** What the lease's redemptions advanced. */
export async function usageOf(leaseId: string): Promise<{ usedFen: bigint }> {
  const redemptions = await Operation.find({ leaseId }, { steps: 1, amountFen: 1 }).lean<Pick<OperationDocument, 'steps' | 'amountFen'>[]>();
  return { usedFen: redemptions.filter((op) => op.steps.includes('advance')).reduce((sum, op) => sum + op.amountFen, 0n) };
}

/** Advances out of open leases, by shard: still in the shards' leased, already outstanding. */
export async function openLeaseUsage(reserveName: string): Promise<Map<string, bigint>> {
  const open = await Operation.find({ type: 'reserve_lease', status: 'pending' }, { reserveShard: 1, steps: 1 }).lean<Pick<OperationDocument, '_id' | 'reserveShard' | 'steps'>[]>();
  const usedByShard = new Map<string, bigint>();
  for (const lease of open) {
    if (!lease.reserveShard?.startsWith(`reserve:${reserveName}:`) || !lease.steps.includes('lease') || lease.steps.includes('close')) continue;
    const { usedFen } = await usageOf(lease._id);
    usedByShard.set(lease.reserveShard, (usedByShard.get(lease.reserveShard) ?? 0n) + usedFen);
  }
  return usedByShard;
}
