/**
 * The smallest liquidity reserve, and the lease size and shard count with it, that serves a
 * target share of a profile's instant requests (docs/reserve-simulation.md).
 *
 * The share served grows with the size, nearly always: leases take slices of what is
 * available, so a larger reserve can now and then fragment differently and refuse a request a
 * smaller one served. The search therefore brackets the size by doubling, bisects it to
 * PRECISION, and then checks a few larger sizes; one that misses the target restarts the
 * search above it. Candidate setups are tried against the best size so far: one that cannot
 * serve the target with a little less is not searched further. The current config is tried
 * first, so a tie keeps it.
 */
import type { Fen } from '../money/fen.ts';
import { simulateReserve, type ReserveRequest, type ReserveSetup, type SimulationResult } from './simulate.ts';

export interface RecommendOptions {
  /** Of the requests the holders' cap lets through, e.g. 99.9. */
  serviceLevelPercent: number;
  /** Shard counts to try; by default the setup's, 1, 2, 4, 8 and 16. */
  shardCandidates?: readonly number[];
  /** Lease maxima to try; by default the setup's and 10, 100 and 1,000 times the mean request. */
  leaseMaxCandidates?: readonly Fen[];
}

export interface CandidateSetup {
  shards: number;
  leaseMaxFen: Fen;
  /** The smallest size found for it; null when it cannot do with 0.2% less than the best one so far (not searched further). */
  sizeFen: Fen | null;
}

export interface ReserveRecommendation {
  sizeFen: Fen;
  shards: number;
  leaseMaxFen: Fen;
  serviceLevelPercent: number;
  /** reserveServedPercent at the recommended size, and at 10% less. */
  servedPercent: number;
  smallerSizeFen: Fen;
  smallerServedPercent: number;
  /** The smaller size misses the target: the recommendation is not padded. */
  tight: boolean;
  /** The simulation at the recommended size. */
  result: SimulationResult;
  candidates: CandidateSetup[];
  simulations: number;
}

/** Bisection stops when the bracket is this fraction of its top (0.2%). */
const PRECISION_PER_MILLE = 2n;
/** Larger sizes checked after a bisection, in per mille above its answer. */
const CHECKS_ABOVE_PER_MILLE = [20n, 50n, 100n];
const SEARCH_RESTARTS_MAX = 3;
const STEPS_MAX = 128;
/** From a hint read off the peak the reserve reached unbounded, the bracket's first step is 5%. */
const HINTED_STEP_PER_MILLE = 50n;

export function recommendReserve(
  requestsFactory: () => Iterable<ReserveRequest>,
  base: ReserveSetup,
  options: RecommendOptions,
  onProgress?: (doneShare: number) => void,
): ReserveRecommendation | null {
  const demand = demandOf(requestsFactory());
  const target = options.serviceLevelPercent;
  if (!(target > 0 && target <= 100)) throw new RangeError(`recommendReserve: service level ${target} is not in (0, 100]`);
  // More refusals for want of reserve than this and the target is missed, whatever the cap refused.
  const reserveRefusalsMax = Math.floor((demand.count * (100 - target)) / 100);
  let simulations = 0;
  const simulate = (setup: ReserveSetup, sizeFen: Fen, refusalsMax?: number) => {
    simulations++;
    return simulateReserve({ ...setup, sizeFen, requests: requestsFactory(), ...(refusalsMax === undefined ? {} : { reserveRefusalsMax: refusalsMax }) });
  };
  const passes = (setup: ReserveSetup) => (sizeFen: Fen) => {
    const result = simulate(setup, sizeFen, reserveRefusalsMax);
    return !result.stoppedEarly && result.reserveServedPercent >= target;
  };

  // With room for everything, what the reserve's advances and leases reach at their peak: near the answer.
  const unboundedPeakFen = (setup: ReserveSetup) => {
    const roomFen = demand.totalFen + demand.maxFen * BigInt(setup.shards);
    const peakFen = simulate(setup, roomFen).peakUsedFen;
    return peakFen > 0n ? peakFen : 100n;
  };
  const shardCandidates = unique([base.shards, ...(options.shardCandidates ?? [1, 2, 4, 8, 16])]);
  const meanFen = demand.count === 0 ? 1n : demand.totalFen / BigInt(demand.count) || 1n;
  const leaseCandidates = unique([base.leaseMaxFen, ...(options.leaseMaxCandidates ?? [10n, 100n, 1000n].map((times) => meanFen * times))]);
  const stepsTotal = shardCandidates.length + leaseCandidates.length - 1;
  const candidates: CandidateSetup[] = [];
  const search: { best: { setup: ReserveSetup; sizeFen: Fen } | null } = { best: null };
  const tryCandidate = (setup: ReserveSetup) => {
    if (candidates.some((tried) => tried.shards === setup.shards && tried.leaseMaxFen === setup.leaseMaxFen)) return;
    const check = passes(setup);
    const { best } = search;
    const sizeFen = best && !check(best.sizeFen - (best.sizeFen * PRECISION_PER_MILLE) / 1000n) ? null : smallestPassing(check, best?.sizeFen ?? unboundedPeakFen(setup), 0n, HINTED_STEP_PER_MILLE);
    candidates.push({ shards: setup.shards, leaseMaxFen: setup.leaseMaxFen, sizeFen });
    if (sizeFen !== null && (!best || sizeFen < best.sizeFen)) search.best = { setup, sizeFen };
    onProgress?.(Math.min(0.95, candidates.length / stepsTotal));
  };
  for (const shards of shardCandidates) tryCandidate({ ...base, shards });
  const bestShards = search.best?.setup.shards ?? base.shards;
  for (const leaseMaxFen of leaseCandidates) tryCandidate({ ...base, shards: bestShards, leaseMaxFen });
  if (!search.best) return null;

  const { setup } = search.best;
  const chosen = verifiedAbove(passes(setup), search.best.sizeFen);
  const result = simulate(setup, chosen);
  const smallerSizeFen = (chosen * 9n) / 10n;
  const smaller = simulate(setup, smallerSizeFen);
  onProgress?.(1);
  return {
    sizeFen: chosen,
    shards: setup.shards,
    leaseMaxFen: setup.leaseMaxFen,
    serviceLevelPercent: target,
    servedPercent: result.reserveServedPercent,
    smallerSizeFen,
    smallerServedPercent: smaller.reserveServedPercent,
    tight: smaller.reserveServedPercent < target,
    result,
    candidates,
    simulations,
  };
}

/** How many requests a profile stands for, their total and its largest request. */
function demandOf(requests: Iterable<ReserveRequest>): { count: number; totalFen: Fen; maxFen: Fen } {
  let count = 0;
  let totalFen = 0n;
  let maxFen = 1n;
  for (const request of requests) {
    count += request.count ?? 1;
    totalFen += request.amountFen;
    if (request.amountFen > maxFen) maxFen = request.amountFen;
  }
  return { count, totalFen, maxFen };
}

/**
 * The smallest size that passes, to PRECISION, above `lowFen` (a size known to miss): bracketed
 * from the hint by steps of `stepPerMille` at first (by default halving or doubling), each twice
 * the last, then bisected. A whole yuan, rounded up.
 */
export function smallestPassing(passes: (sizeFen: Fen) => boolean, hintFen: Fen, lowFen = 0n, stepPerMille = 1000n): Fen {
  let low = lowFen;
  let high = hintFen > low + 100n ? hintFen : low + 100n;
  // Each step twice the last, up to halving or doubling: a far hint costs a few trials, not many.
  let step = stepPerMille;
  const nextStep = () => (step = step * 2n < 1000n ? step * 2n : 1000n);
  if (passes(high)) {
    for (let steps = 0; steps < STEPS_MAX; steps++, nextStep()) {
      const lower = (high * 1000n) / (1000n + step);
      if (lower <= low) break;
      if (!passes(lower)) {
        low = lower;
        break;
      }
      high = lower;
    }
  } else {
    for (let steps = 0; ; steps++, nextStep()) {
      if (steps === STEPS_MAX) throw new Error(`no reserve up to ${high} fen serves the target`);
      low = high;
      high += (high * step) / 1000n + 100n;
      if (passes(high)) break;
    }
  }
  while (high - low > 100n && (high - low) * 1000n > high * PRECISION_PER_MILLE) {
    const middle = low + (high - low) / 2n;
    if (passes(middle)) high = middle;
    else low = middle;
  }
  return wholeYuanUp(high, passes);
}

/** Rounded up to a whole yuan, if that still passes (the share served is only nearly monotone). */
function wholeYuanUp(sizeFen: Fen, passes: (sizeFen: Fen) => boolean): Fen {
  const roundedFen = ((sizeFen + 99n) / 100n) * 100n;
  return roundedFen === sizeFen || passes(roundedFen) ? roundedFen : sizeFen;
}

/**
 * The size, checked at a few larger sizes: where one misses the target the size is not safe
 * to recommend, and the search starts again above it.
 */
export function verifiedAbove(passes: (sizeFen: Fen) => boolean, sizeFen: Fen): Fen {
  let chosen = sizeFen;
  for (let restart = 0; restart < SEARCH_RESTARTS_MAX; restart++) {
    const missed = CHECKS_ABOVE_PER_MILLE.map((perMille) => chosen + (chosen * perMille) / 1000n).filter((larger) => !passes(larger));
    if (missed.length === 0) return chosen;
    const highestMissFen = missed.at(-1)!;
    chosen = smallestPassing(passes, highestMissFen + 100n, highestMissFen);
  }
  return chosen;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
