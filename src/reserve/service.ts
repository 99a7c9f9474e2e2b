import { RECENT_STEPS_MAX } from '../accounts/model.ts';
import type { AppContext } from '../context.ts';
import { driverCollection } from '../db/driver.ts';
import { isDuplicateKey, retryOnWriteConflict } from '../db/writeConflict.ts';
import { log } from '../log.ts';
import { formatScaled, formatYuan, mulDiv, type Fen } from '../money/fen.ts';
import { recordStep } from '../operations/journal.ts';
import { Operation, type OperationDocument, type OperationType } from '../operations/model.ts';
import { ReserveShard, shardId, type ReserveShardDocument } from './model.ts';

// Every instant redemption updates a shard: without Mongoose (see db/driver.ts).
const shardCollection = driverCollection(ReserveShard);

/** Operations whose cash the reserve advances. */
export const INSTANT_TYPES: OperationType[] = ['instant_redemption', 'payment'];

export const reserveLedger = {
  available: (shard: string) => `${shard}:available`,
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

/** Reserves this process has seen open: shards are never removed, so their ids stay valid. */
const openReserves = new Set<string>();

/** The shard ids of the configured reserve, opening it the first time this process asks. */
async function shardIdsOf(ctx: AppContext): Promise<string[]> {
  const { name, shards } = ctx.config.reserve;
  if (!openReserves.has(name)) {
    await openReserve(ctx);
    openReserves.add(name);
  }
  return Array.from({ length: shards }, (_, index) => shardId(name, index));
}

/**
 * Applies one step of an operation to one shard: a guarded, replay-safe update (the step id
 * goes into the shard's recentSteps), then the step and its postings on the operation.
 * Returns false when the guard refused it.
 */
export async function applyShardLeg(
  ctx: AppContext,
  op: OperationDocument,
  leg: { step: string; shard: string; availableFen: Fen; outstandingFen: Fen; postings: { account: string; amountFen: Fen }[] },
): Promise<boolean> {
  if (op.steps.includes(leg.step)) return true;
  const stepId = `${op._id}:${leg.step}`;
  const guard = leg.availableFen < 0n ? { availableFen: { $gte: -leg.availableFen } } : {};
  const outstandingGuard = leg.outstandingFen < 0n ? { outstandingFen: { $gte: -leg.outstandingFen } } : {};
  const result = await retryOnWriteConflict(() =>
    shardCollection.updateOne(
      { _id: leg.shard, recentSteps: { $ne: stepId }, ...guard, ...outstandingGuard },
      {
        $inc: { availableFen: leg.availableFen, outstandingFen: leg.outstandingFen },
        $push: { recentSteps: { $each: [stepId], $slice: -RECENT_STEPS_MAX } },
      },
    ),
  );
  if (result.modifiedCount === 0 && !(await shardCollection.findOne({ _id: leg.shard, recentSteps: stepId }, { projection: { _id: 1 } }))) return false;
  await recordStep(op, leg.step, leg.postings, ctx.clock.now());
  return true;
}

/**
 * Takes the advance for an instant redemption from one shard that can cover it, starting
 * at a random shard so concurrent requests spread. After a crash (`afterCrash`: a recovery),
 * a shard that took it before the operation recorded it is found by the step id; a first
 * run has nothing to find and skips that read. Returns the shard, or null when no shard
 * can cover the amount.
 */
export async function takeAdvance(ctx: AppContext, op: OperationDocument, afterCrash: boolean): Promise<string | null> {
  const recorded = advanceShardOf(op);
  if (recorded) return recorded;
  const taken = afterCrash ? await ReserveShard.findOne({ recentSteps: `${op._id}:advance` }, { _id: 1 }).lean<{ _id: string }>() : null;
  const shards = await shardIdsOf(ctx);
  const start = Math.floor(Math.random() * shards.length);
  const order = taken ? [taken._id] : [...shards.slice(start), ...shards.slice(0, start)];
  for (const shard of order) {
    const X = op.amountFen;
    const postings = [
      { account: reserveLedger.available(shard), amountFen: -X },
      { account: reserveLedger.outstanding(shard), amountFen: X },
    ];
    // Recorded at once, not deferred: a shard's recent steps turn over in seconds under load,
    // so after a crash the operation must say which shard gave the advance.
    if (await applyShardLeg(ctx, op, { step: 'advance', shard, availableFen: -X, outstandingFen: X, postings })) return shard;
  }
  return null;
}

/** The shard an operation's advance came from, read from its journal. */
export function advanceShardOf(op: OperationDocument): string | null {
  const posting = op.postings.find((entry) => entry.step === 'advance' && entry.amountFen > 0n);
  return posting ? posting.account.slice(0, -':outstanding'.length) : null;
}

/** Returns the advance to its shard: at settlement (`repay`) or when the redemption is refused (`release`). */
export async function returnAdvance(ctx: AppContext, op: OperationDocument, step: 'repay' | 'release'): Promise<void> {
  const shard = advanceShardOf(op);
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

/** Size, available, outstanding advances by settlement date, utilisation and the low-water flag. */
export async function reserveReport(ctx: AppContext) {
  const shards = await openReserve(ctx);
  const availableFen = shards.reduce((sum, shard) => sum + shard.availableFen, 0n);
  const outstandingFen = shards.reduce((sum, shard) => sum + shard.outstandingFen, 0n);
  const sizeFen = availableFen + outstandingFen;
  const bySettleDate = await Operation.aggregate<{ _id: string; amountFen: bigint | number; count: number }>([
    { $match: { status: 'awaiting_settlement', type: { $in: INSTANT_TYPES } } },
    { $group: { _id: '$dueDate', amountFen: { $sum: '$amountFen' }, count: { $sum: 1 } } },
  ]);
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
    shards: shards.map((shard) => ({ id: shard._id, available: formatYuan(shard.availableFen), outstanding: formatYuan(shard.outstandingFen) })),
    outstandingBySettleDate: bySettleDate
      .sort((a, b) => (a._id < b._id ? -1 : 1))
      .map((row) => ({ settleDate: row._id, amount: formatYuan(BigInt(row.amountFen)), redemptions: row.count })),
  };
}

/** Below reserve.lowWaterPercent of its size: the reserve should be topped up. */
export function isLowWater(ctx: AppContext, availableFen: Fen, sizeFen: Fen): boolean {
  return sizeFen > 0n && availableFen * 100n < sizeFen * BigInt(ctx.config.reserve.lowWaterPercent);
}
