import type { AppContext } from '../context.ts';
import { isDuplicateKey } from '../db/writeConflict.ts';
import { log } from '../log.ts';
import { formatScaled, formatYuan, mulDiv, type Fen } from '../money/fen.ts';
import { applyGuardedLeg, finishMark, legDocuments } from '../operations/guardedLeg.ts';
import { recordStep } from '../operations/journal.ts';
import { Operation, type OperationDocument, type OperationType } from '../operations/model.ts';
import { openLeaseUsage } from './leaseUsage.ts';
import { ReserveShard, shardId, type ReserveShardDocument } from './model.ts';


/** Operations whose cash the reserve advances. */
export const INSTANT_TYPES: OperationType[] = ['instant_redemption', 'payment'];

export const reserveLedger = {
  available: (shard: string) => `${shard}:available`,
  /** Lent to an API process's lease (src/reserve/leases.ts): its advances come out of it. */
  leased: (shard: string) => `${shard}:leased`,
  outstanding: (shard: string) => `${shard}:outstanding`,
  /** Where ops' money comes from and returns to: the bank's advance line. */
  funding: 'reserve:funding',
} as const;

/** Creates the shards once (idempotent): the reserve starts empty until ops fund it. */
export async function openReserve(ctx: AppContext): Promise<ReserveShardDocument[]> {
  const reserveName = ctx.config.reserve.name;
  const ids = Array.from({ length: ctx.config.reserve.shards }, (_, index) => shardId(reserveName, index));
  const existing = await ReserveShard.find({ reserveName }).lean<ReserveShardDocument[]>();
  if (ids.every((id) => existing.some((shard) => shard._id === id))) return existing;
  for (const _id of ids.filter((id) => !existing.some((shard) => shard._id === id))) {
    try {
      await ReserveShard.create({ _id, reserveName });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }
  return ReserveShard.find({ reserveName }).lean<ReserveShardDocument[]>();
}

/** The shards, as documents of guarded legs (src/operations/guardedLeg.ts). */
const shardLegs = legDocuments(ReserveShard);

/**
 * Applies one step of an operation to one shard: a guarded, replay-safe update (its mark stays
 * on the shard until the operation records the step), then the step and its postings on the
 * operation. Returns false when the guard refused it.
 */
export async function applyShardLeg(
  ctx: AppContext,
  op: OperationDocument,
  leg: { step: string; shard: string; postings: { account: string; amountFen: Fen }[] } & Partial<Record<ShardField, Fen>>,
): Promise<boolean> {
  if (op.steps.includes(leg.step)) return true;
  const moves = SHARD_FIELDS.filter((field) => (leg[field] ?? 0n) !== 0n).map((field) => [field, leg[field]!] as const);
  // Every debit is guarded: no field goes negative.
  const guards = moves.filter(([, amountFen]) => amountFen < 0n).map(([field, amountFen]) => [field, { $gte: -amountFen }]);
  const outcome = await applyGuardedLeg(shardLegs, leg.shard, op, { step: leg.step, guard: Object.fromEntries(guards), inc: Object.fromEntries(moves) });
  if (outcome !== 'applied') return false;
  await recordStep(op, leg.step, leg.postings, ctx.clock.now());
  finishMark(shardLegs, leg.shard, op._id, leg.step);
  return true;
}

const SHARD_FIELDS = ['availableFen', 'leasedFen', 'outstandingFen'] as const;
type ShardField = (typeof SHARD_FIELDS)[number];

/**
 * Closes a shard leg its operation has not recorded, before the operation fails without it
 * (a fence the leg meets, however late); false when the leg applied after all.
 */
export async function closeShardLeg(op: OperationDocument, shard: string, step: string): Promise<boolean> {
  return (await applyGuardedLeg(shardLegs, shard, op, { step, inc: {} }, 'fence')) === 'closed';
}

/** An instant redemption's advance: out of its lease, journal-only (see src/reserve/leases.ts). */
export function advancePostings(op: Pick<OperationDocument, 'reserveShard' | 'amountFen'>) {
  return [
    { account: reserveLedger.leased(op.reserveShard!), amountFen: -op.amountFen },
    { account: reserveLedger.outstanding(op.reserveShard!), amountFen: op.amountFen },
  ];
}

/** Repays the advance to its shard at settlement (its lease closed: the shard's outstanding holds it). */
export async function repayAdvance(ctx: AppContext, op: OperationDocument): Promise<void> {
  const step = 'repay';
  // The shard whose outstanding the advance went to, as the journal says.
  const shard = op.postings.find((posting) => posting.step === 'advance' && posting.amountFen > 0n)?.account.slice(0, -':outstanding'.length);
  if (!shard || op.steps.includes(step)) return;
  const X = op.amountFen;
  const postings = [
    { account: reserveLedger.outstanding(shard), amountFen: -X },
    { account: reserveLedger.available(shard), amountFen: X },
  ];
  if (!(await applyShardLeg(ctx, op, { step, shard, availableFen: X, outstandingFen: -X, postings }))) {
    throw new Error(`${op._id}: ${step} of ${X} fen refused by ${shard}`);
  }
}

/** An amount spread evenly over the shards (the first ones take the remainder). */
export function shardShares(amountFen: Fen, shardCount: number): Fen[] {
  const count = BigInt(shardCount);
  return Array.from({ length: shardCount }, (_, index) => amountFen / count + (BigInt(index) < amountFen % count ? 1n : 0n));
}

/**
 * The reserve's balances, exact while leases are open: an open lease's advances are still in
 * its shard's leased but are outstanding, and its unused rest is available.
 */
export async function reserveBalances(ctx: AppContext) {
  const shards = await openReserve(ctx);
  const usedByShard = await openLeaseUsage(ctx.config.reserve.name);
  const balances = shards.map((shard) => {
    const usedFen = usedByShard.get(shard._id) ?? 0n;
    return { id: shard._id, availableFen: shard.availableFen + shard.leasedFen - usedFen, outstandingFen: shard.outstandingFen + usedFen };
  });
  const availableFen = balances.reduce((sum, shard) => sum + shard.availableFen, 0n);
  const outstandingFen = balances.reduce((sum, shard) => sum + shard.outstandingFen, 0n);
  return { sizeFen: availableFen + outstandingFen, availableFen, outstandingFen, shards: balances };
}

/** Size, available, outstanding advances by settlement date, utilisation and the low-water flag. */
export async function reserveReport(ctx: AppContext) {
  const { sizeFen, availableFen, outstandingFen, shards } = await reserveBalances(ctx);
  const bySettleDate = await outstandingBySettleDate(ctx.config.reserve.name);
  const lowWater = isLowWater(ctx, availableFen, sizeFen);
  if (lowWater) log.warn({ availableFen: String(availableFen), sizeFen: String(sizeFen) }, 'liquidity reserve below its low-water mark');
  return {
    size: formatYuan(sizeFen),
    available: formatYuan(availableFen),
    outstanding: formatYuan(outstandingFen),
    // truncated: a utilisation is never overstated
    utilisationPercent: sizeFen === 0n ? '0.00' : formatScaled(mulDiv(outstandingFen, 10_000n, sizeFen, 'down'), 2),
    lowWater,
    lowWaterPercent: ctx.config.reserve.lowWaterPercent,
    shards: shards.map((shard) => ({ id: shard.id, available: formatYuan(shard.availableFen), outstanding: formatYuan(shard.outstandingFen) })),
    outstandingBySettleDate: [...bySettleDate.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([settleDate, row]) => ({ settleDate, amount: formatYuan(row.amountFen), redemptions: row.count })),
  };
}

/**
 * The reserve's advances awaiting settlement, summed per settle date here: a `$group` counting
 * with `{$sum: 1}` answers 0 on FerretDB 1.24, and a database `$sum` of int64 may lose
 * exactness. They are the instant volume of a trading day or two, read by equality on their
 * status; an advance is the reserve's when the lease that granted it is.
 */
async function outstandingBySettleDate(reserveName: string): Promise<Map<string, { amountFen: Fen; count: number }>> {
  const awaiting = await Operation.find({ status: 'awaiting_settlement', type: { $in: INSTANT_TYPES } }, { dueDate: 1, amountFen: 1, leaseId: 1 }).lean<
    Pick<OperationDocument, 'dueDate' | 'amountFen' | 'leaseId'>[]
  >();
  const leaseIds = [...new Set(awaiting.map((op) => op.leaseId!))];
  // One lookup by _id a lease (a few): FerretDB serves equality from an index, and `$in` after a scan.
  const leases = await Promise.all(leaseIds.map((leaseId) => Operation.findById(leaseId, { userId: 1 }).lean<{ _id: string; userId: string }>()));
  const own = new Set(leases.filter((lease) => lease?.userId === `reserve:${reserveName}`).map((lease) => lease!._id));
  const byDate = new Map<string, { amountFen: Fen; count: number }>();
  for (const { dueDate, amountFen } of awaiting.filter((op) => own.has(op.leaseId!))) {
    const row = byDate.get(dueDate!) ?? { amountFen: 0n, count: 0 };
    byDate.set(dueDate!, { amountFen: row.amountFen + amountFen, count: row.count + 1 });
  }
  return byDate;
}

/** Below reserve.lowWaterPercent of its size, or empty (nothing to advance, even unsized): the reserve should be topped up. */
export function isLowWater(ctx: AppContext, availableFen: Fen, sizeFen: Fen): boolean {
  return availableFen <= 0n || availableFen * 100n < sizeFen * BigInt(ctx.config.reserve.lowWaterPercent);
}
