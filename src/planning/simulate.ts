/**
 * The liquidity reserve under a flow of instant redemptions and payments, on a simulated
 * clock (docs/reserve-simulation.md): no database and no real time, the same rules
 * as the service. Each API process holds its own leases, one settle date each
 * (src/reserve/leases.ts): a request is served out of the first of them that still covers it,
 * or out of a new slice of a shard that can cover it (leaseSliceFen, a shard picked at random
 * among those that can); a lease past three quarters of its life is renewed ahead; an expired
 * lease returns its unused rest when its owner next leases (closeIdleLeases), or when the
 * recovery job closes it (jobs.recoverAfterMs after expiry), and what it advanced becomes its
 * shard's outstanding, repaid when the settle date begins (the settlement job runs every
 * minute). The holder's cap is checked after the grant, as the holder's leg does, and a
 * refused request gives its grant back to the lease.
 */
import { DateTime } from 'luxon';
import { addCalendarDays } from '../calendar/businessDate.ts';
import type { TradingCalendar } from '../calendar/tradingCalendar.ts';
import type { AppConfig } from '../config/config.ts';
import type { Fen } from '../money/fen.ts';
import { mulDiv } from '../money/rounding.ts';
import { FEN8_PER_FEN, parseYieldPer10k } from '../money/yield.ts';
import { isRenewalDue, leaseSliceFen } from '../reserve/leases.ts';
import { shardShares } from '../reserve/service.ts';
import { countAfterLeg, countsTowardInstantCap, dailyLeftFen, type DayCount } from '../transfers/dailyCounter.ts';
import { seededRandom } from './random.ts';

export type ReserveChannel = 'instant_redemption' | 'payment';

/** One request the reserve advances, at an instant of the simulated clock. */
export interface ReserveRequest {
  atMs: number;
  holderId: string;
  channel: ReserveChannel;
  /** The amount asked; for a batch, the sum of its `count` equal requests. */
  amountFen: Fen;
  /**
   * How many requests this one stands for (1 when absent): a batch of `count` holders who act
   * alike, each asking amountFen / count, granted or refused as one (see docs/reserve-simulation.md).
   */
  count?: number;
}

/** Everything a simulation needs but the reserve's size and the requests. */
export interface ReserveSetup {
  /** config reserve.shards: the size is spread over them as ops' adjustments do (shardShares). */
  shards: number;
  leaseMaxFen: Fen;
  leaseLifetimeMs: number;
  /** config jobs.recoverAfterMs: how long after its expiry anyone (the recovery job) closes a lease. */
  recoverAfterMs: number;
  /** API processes, each with its own leases. */
  processes: number;
  processSpread: 'round-robin' | 'random';
  calendar: TradingCalendar;
  instantDailyMaxFen: Fen;
  paymentsCountTowardInstantCap: boolean;
  /** The fund's 万份收益 (yuan per 10,000 shares a day, e.g. "0.4000"): what idle reserve forgoes. */
  yieldPer10kShares: string;
  /** Seeds the shard a new lease takes and, spread at random, each request's process. */
  seed: number;
  /** The period reported on; by default from the first request's day to the end of the last one's. */
  fromMs?: number;
  untilMs?: number;
  /**
   * Stop once more requests than this were refused for want of reserve: a size that misses a
   * service level need not run to the end (src/planning/recommend.ts). The result says so.
   */
  reserveRefusalsMax?: number;
}

export interface SimulationInput extends ReserveSetup {
  sizeFen: Fen;
  /** In time order. */
  requests: Iterable<ReserveRequest>;
}

export interface Tally {
  count: number;
  amountFen: Fen;
}

export interface SimulationDay {
  /** yyyy-MM-dd, Asia/Shanghai */
  date: string;
  requests: number;
  served: Tally;
  refusedForReserve: Tally;
  refusedForCap: Tally;
  repaidFen: Fen;
  /** Of the size: not available to a new lease (leased or outstanding), rounded up. */
  peakUtilisationPercent: number;
  availableAtEndFen: Fen;
  outstandingAtEndFen: Fen;
}

export interface SimulationResult {
  sizeFen: Fen;
  fromMs: number;
  untilMs: number;
  requests: number;
  served: Tally;
  refused: Tally & { forReserve: Tally; forCap: Tally };
  /** Served of all requests, truncated to 3 decimals. */
  servedPercent: number;
  /**
   * Served of the requests the holders' cap let through: what the reserve's size decides, and
   * what a service level is read on. Truncated to 3 decimals.
   */
  reserveServedPercent: number;
  /** Leased or outstanding over the size at its highest, rounded up to 2 decimals. */
  peakUtilisationPercent: number;
  /** Leased or outstanding at its highest. */
  peakUsedFen: Fen;
  /** From the start of the period to the first request refused for want of reserve. */
  hoursToExhaustion: number | null;
  /** The reserve not advanced to anyone, averaged over the period (truncated). */
  averageUnusedFen: Fen;
  /** What that unused money would have earned at the fund's yield over the period (truncated, as income is). */
  idleCostFen: Fen;
  leasesOpened: number;
  /** True when it stopped at reserveRefusalsMax: the figures cover the period up to there. */
  stoppedEarly: boolean;
  days: SimulationDay[];
}

/** The setup of this service's config (reserve, limits, jobs); the processes and the yield are the caller's. */
export function reserveSetupOf(
  config: Pick<AppConfig, 'reserve' | 'limits' | 'jobs'>,
  calendar: TradingCalendar,
  options: { processes: number; yieldPer10kShares: string; seed?: number },
): ReserveSetup {
  return {
    shards: config.reserve.shards,
    leaseMaxFen: config.reserve.leaseMaxFen,
    leaseLifetimeMs: config.reserve.leaseLifetimeMs,
    recoverAfterMs: config.jobs.recoverAfterMs,
    processes: options.processes,
    processSpread: 'round-robin',
    calendar,
    instantDailyMaxFen: config.limits.instantRedeemDailyMaxFen,
    paymentsCountTowardInstantCap: config.limits.paymentsCountTowardInstantCap,
    yieldPer10kShares: options.yieldPer10kShares,
    seed: options.seed ?? 1,
  };
}

const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000n;
const PROGRESS_EVERY_REQUESTS = 4096;

/**
 * Replays the requests through the reserve. `onProgress` is told the share of the period done
 * (every few thousand requests, when the period's end is given, and 1 at the end).
 */
export function simulateReserve(input: SimulationInput, onProgress?: (doneShare: number) => void): SimulationResult {
  checkSetup(input);
  const iterator = input.requests[Symbol.iterator]();
  let next = iterator.next();
  const fromMs = input.fromMs ?? (next.done ? 0 : dayStartMs(input.calendar, input.calendar.businessDateOf(new Date(next.value.atMs))));
  const simulation = new ReserveSimulation(input, fromMs);
  let lastAtMs = fromMs;
  let seen = 0;
  for (; !next.done; next = iterator.next()) {
    const request = next.value;
    if (request.atMs < lastAtMs) throw new RangeError(`simulateReserve: a request before the period or out of time order at ${new Date(request.atMs).toISOString()}`);
    if (input.untilMs !== undefined && request.atMs >= input.untilMs) break;
    lastAtMs = request.atMs;
    simulation.serve(request);
    if (simulation.stoppedEarly) break;
    if (onProgress && ++seen % PROGRESS_EVERY_REQUESTS === 0 && input.untilMs !== undefined) {
      onProgress(Math.min(1, (lastAtMs - fromMs) / (input.untilMs - fromMs)));
    }
  }
  const untilMs = simulation.stoppedEarly ? lastAtMs : (input.untilMs ?? dayStartMs(input.calendar, addCalendarDays(input.calendar.businessDateOf(new Date(lastAtMs)), 1)));
  const result = simulation.finish(untilMs);
  onProgress?.(1);
  return result;
}

function checkSetup(input: SimulationInput): void {
  const wholes = { shards: input.shards, processes: input.processes, leaseLifetimeMs: input.leaseLifetimeMs, recoverAfterMs: input.recoverAfterMs };
  const bad = Object.entries(wholes).find(([, value]) => !Number.isSafeInteger(value) || value < 1);
  if (bad) throw new RangeError(`simulateReserve: ${bad[0]} must be a whole number of at least 1, got ${bad[1]}`);
  if (input.sizeFen < 0n || input.leaseMaxFen < 1n) throw new RangeError('simulateReserve: a negative size or a lease maximum under a fen');
}

/** Midnight in the calendar's zone opening the date. */
export function dayStartMs(calendar: TradingCalendar, date: string): number {
  return DateTime.fromISO(date, { zone: calendar.zone }).toMillis();
}

interface SimLease {
  shard: number;
  dueDate: string;
  sizeFen: Fen;
  remainingFen: Fen;
  usableUntilMs: number;
  owner: number;
  closed: boolean;
}

const tally = (): Tally => ({ count: 0, amountFen: 0n });
const add = (into: Tally, count: number, amountFen: Fen) => {
  into.count += count;
  into.amountFen += amountFen;
};

class ReserveSimulation {
  readonly #input: SimulationInput;
  readonly #fromMs: number;
  readonly #random: () => number;
  readonly #availableFen: Fen[];
  readonly #outstandingFen: Fen[];
  /** Per process, its open leases in the order taken (a process's book). */
  readonly #books: SimLease[][];
  /** Every lease in the order taken, which is the order of expiry: the recovery job's queue. */
  readonly #expiring: SimLease[] = [];
  #expiringHead = 0;
  /** What closed leases advanced, by settle date and shard, until repaid. */
  readonly #dueFen = new Map<string, Fen[]>();
  readonly #holders = new Map<string, DayCount>();
  readonly #yieldPer10k: bigint;
  #advancedFen = 0n;
  #unusedFenMs = 0n;
  #atMs: number;
  #date: string;
  #nextDayStartMs = 0;
  /** The cut-off of today, and the settle date of requests until #dueDateUntilMs. */
  #cutoffMs = 0;
  #dueDate: string | undefined;
  #dueDateUntilMs = 0;
  #availableTotalFen: Fen;
  #dayPeakUsedFen = 0n;
  #day!: SimulationDay;
  readonly #days: SimulationDay[] = [];
  #requestIndex = 0;
  #leasesOpened = 0;
  #peakUsedFen = 0n;
  #firstExhaustedAtMs: number | null = null;
  readonly #served = tally();
  readonly #refusedForReserve = tally();
  readonly #refusedForCap = tally();
  stoppedEarly = false;

  constructor(input: SimulationInput, fromMs: number) {
    this.#input = input;
    this.#fromMs = fromMs;
    this.#atMs = fromMs;
    this.#random = seededRandom(input.seed);
    this.#availableFen = shardShares(input.sizeFen, input.shards);
    this.#availableTotalFen = input.sizeFen;
    this.#outstandingFen = this.#availableFen.map(() => 0n);
    this.#books = Array.from({ length: input.processes }, () => []);
    this.#yieldPer10k = parseYieldPer10k(input.yieldPer10kShares);
    this.#date = input.calendar.businessDateOf(new Date(fromMs));
    this.#startDay();
  }

  serve(request: ReserveRequest): void {
    this.#advanceTo(request.atMs);
    const count = request.count ?? 1;
    const dueDate = this.#dueDateAt(request.atMs);
    this.#day.requests += count;
    const lease = this.#grant(this.#processOf(), request.amountFen, dueDate);
    if (!lease) {
      this.#firstExhaustedAtMs ??= request.atMs;
      add(this.#refusedForReserve, count, request.amountFen);
      add(this.#day.refusedForReserve, count, request.amountFen);
      if (this.#refusedForReserve.count > (this.#input.reserveRefusalsMax ?? Infinity)) this.stoppedEarly = true;
      return;
    }
    if (!this.#capAllows(request, count)) {
      lease.remainingFen += request.amountFen; // the grant goes back
      add(this.#refusedForCap, count, request.amountFen);
      add(this.#day.refusedForCap, count, request.amountFen);
      return;
    }
    this.#advancedFen += request.amountFen;
    add(this.#served, count, request.amountFen);
    add(this.#day.served, count, request.amountFen);
  }

  finish(untilMs: number): SimulationResult {
    // The day that begins at untilMs is not the period's.
    this.#advanceTo(untilMs - 1);
    this.#passTime(untilMs);
    this.#closeDay();
    const { sizeFen } = this.#input;
    const periodMs = BigInt(Math.max(1, untilMs - this.#fromMs));
    const requests = this.#served.count + this.#refusedForReserve.count + this.#refusedForCap.count;
    const admitted = this.#served.count + this.#refusedForReserve.count;
    return {
      sizeFen,
      fromMs: this.#fromMs,
      untilMs,
      requests,
      served: this.#served,
      refused: {
        count: this.#refusedForReserve.count + this.#refusedForCap.count,
        amountFen: this.#refusedForReserve.amountFen + this.#refusedForCap.amountFen,
        forReserve: this.#refusedForReserve,
        forCap: this.#refusedForCap,
      },
      servedPercent: percentDown(this.#served.count, requests),
      reserveServedPercent: percentDown(this.#served.count, admitted),
      peakUtilisationPercent: utilisationPercent(this.#peakUsedFen, sizeFen),
      peakUsedFen: this.#peakUsedFen,
      hoursToExhaustion: this.#firstExhaustedAtMs === null ? null : Math.round(((this.#firstExhaustedAtMs - this.#fromMs) / MS_PER_HOUR) * 100) / 100,
      averageUnusedFen: this.#unusedFenMs / periodMs,
      idleCostFen: mulDiv(this.#unusedFenMs, this.#yieldPer10k, FEN8_PER_FEN * MS_PER_DAY, 'down'),
      leasesOpened: this.#leasesOpened,
      stoppedEarly: this.stoppedEarly,
      days: this.#days,
    };
  }

  /**
   * The settle date of a request now: the calendar's, asked once per stretch of the day on one
   * side of the cut-off (the trade date is the same all through one), since asking it for every
   * request was most of the simulation's time.
   */
  #dueDateAt(atMs: number): string {
    if (atMs >= this.#dueDateUntilMs || this.#dueDate === undefined) {
      const { calendar } = this.#input;
      this.#dueDate = calendar.nextTradingDay(calendar.tradeDateOf(new Date(atMs)));
      this.#dueDateUntilMs = atMs < this.#cutoffMs ? this.#cutoffMs : this.#nextDayStartMs;
    }
    return this.#dueDate;
  }

  #processOf(): number {
    const { processes, processSpread } = this.#input;
    const index = this.#requestIndex++;
    return processSpread === 'random' ? Math.floor(this.#random() * processes) : index % processes;
  }

  /** grantAdvance: the first lease of the process that covers it, renewed ahead when due, or a new one. */
  #grant(process: number, amountFen: Fen, dueDate: string): SimLease | null {
    const book = this.#books[process]!;
    let lease = this.#usableLease(book, amountFen, dueDate);
    if (lease && isRenewalDue(this.#atMs, lease.usableUntilMs, this.#input.leaseLifetimeMs) && !this.#hasSuccessor(book, lease)) {
      this.#openLease(process, amountFen, dueDate);
    }
    if (!lease && this.#openLease(process, amountFen, dueDate)) lease = this.#usableLease(book, amountFen, dueDate);
    if (lease) lease.remainingFen -= amountFen;
    return lease ?? null;
  }

  #usableLease(book: SimLease[], amountFen: Fen, dueDate: string): SimLease | undefined {
    return book.find((lease) => lease.dueDate === dueDate && this.#atMs < lease.usableUntilMs && lease.remainingFen >= amountFen);
  }

  #hasSuccessor(book: SimLease[], lease: SimLease): boolean {
    return book.some((other) => other.dueDate === lease.dueDate && other.usableUntilMs > lease.usableUntilMs);
  }

  /** openLease: the owner's idle leases close first, then a shard that can cover it, at random. */
  #openLease(process: number, amountFen: Fen, dueDate: string): boolean {
    const book = this.#books[process]!;
    for (let index = book.length - 1; index >= 0; index--) if (this.#atMs >= book[index]!.usableUntilMs) this.#close(book[index]!);
    const shard = this.#randomShardCovering(amountFen);
    if (shard === undefined) return false;
    const sizeFen = leaseSliceFen(this.#availableFen[shard]!, this.#input.leaseMaxFen, amountFen);
    this.#moveAvailable(shard, -sizeFen);
    const lease: SimLease = { shard, dueDate, sizeFen, remainingFen: sizeFen, usableUntilMs: this.#atMs + this.#input.leaseLifetimeMs, owner: process, closed: false };
    book.push(lease);
    this.#expiring.push(lease);
    this.#leasesOpened++;
    this.#noteUtilisation();
    return true;
  }

  /** One of the shards that can cover the amount, at random (openLease tries them in random order; the first takes it). */
  #randomShardCovering(amountFen: Fen): number | undefined {
    let covering = 0;
    for (const availableFen of this.#availableFen) if (availableFen >= amountFen) covering++;
    if (covering === 0) return undefined;
    let pick = Math.floor(this.#random() * covering);
    for (const [shard, availableFen] of this.#availableFen.entries()) {
      if (availableFen >= amountFen && pick-- === 0) return shard;
    }
    return undefined;
  }

  #moveAvailable(shard: number, amountFen: Fen): void {
    this.#availableFen[shard]! += amountFen;
    this.#availableTotalFen += amountFen;
  }

  /** closeLease: the unused rest back to available, the advances to outstanding (repaid at once when already due). */
  #close(lease: SimLease): void {
    if (lease.closed) return;
    lease.closed = true;
    const book = this.#books[lease.owner]!;
    book.splice(book.indexOf(lease), 1);
    const usedFen = lease.sizeFen - lease.remainingFen;
    this.#moveAvailable(lease.shard, lease.remainingFen);
    this.#outstandingFen[lease.shard]! += usedFen;
    const due = this.#dueFen.get(lease.dueDate) ?? this.#availableFen.map(() => 0n);
    due[lease.shard]! += usedFen;
    this.#dueFen.set(lease.dueDate, due);
    if (lease.dueDate <= this.#date) this.#repayDue();
  }

  #capAllows(request: ReserveRequest, count: number): boolean {
    const { instantDailyMaxFen, paymentsCountTowardInstantCap } = this.#input;
    if (!countsTowardInstantCap(request.channel, paymentsCountTowardInstantCap)) return true;
    const unitFen = request.amountFen / BigInt(count);
    const counted = this.#holders.get(request.holderId) ?? { date: null, amountFen: 0n };
    if (unitFen > dailyLeftFen(instantDailyMaxFen, counted, this.#date)) return false;
    this.#holders.set(request.holderId, countAfterLeg(counted, this.#date, unitFen));
    return true;
  }

  /** Moves the clock to `toMs`: the recovery job's closes and the settle dates' repayments on the way. */
  #advanceTo(toMs: number): void {
    for (;;) {
      const expiring = this.#nextExpiring();
      const closeAtMs = expiring ? expiring.usableUntilMs + this.#input.recoverAfterMs : Infinity;
      const eventMs = Math.min(closeAtMs, this.#nextDayStartMs);
      if (eventMs > toMs) break;
      this.#passTime(eventMs);
      if (eventMs === this.#nextDayStartMs) this.#startNextDay();
      else this.#close(expiring!);
    }
    this.#passTime(toMs);
  }

  #nextExpiring(): SimLease | undefined {
    while (this.#expiringHead < this.#expiring.length && this.#expiring[this.#expiringHead]!.closed) this.#expiringHead++;
    if (this.#expiringHead > 4096) {
      this.#expiring.splice(0, this.#expiringHead);
      this.#expiringHead = 0;
    }
    return this.#expiring[this.#expiringHead];
  }

  #passTime(toMs: number): void {
    if (toMs <= this.#atMs) return;
    this.#unusedFenMs += (this.#input.sizeFen - this.#advancedFen) * BigInt(toMs - this.#atMs);
    this.#atMs = toMs;
  }

  #startNextDay(): void {
    this.#closeDay();
    this.#date = addCalendarDays(this.#date, 1);
    this.#startDay();
    this.#repayDue();
  }

  #startDay(): void {
    const { calendar } = this.#input;
    this.#nextDayStartMs = dayStartMs(calendar, addCalendarDays(this.#date, 1));
    this.#cutoffMs = DateTime.fromISO(`${this.#date}T${calendar.cutoff}`, { zone: calendar.zone }).toMillis();
    this.#dueDateUntilMs = 0;
    // A counter of an earlier day counts nothing today (countedOnDay): forgotten, the same.
    this.#holders.clear();
    this.#dayPeakUsedFen = this.#usedFen();
    this.#day = this.#newDay();
  }

  /** The settlement job: what closed leases advanced for settle dates up to today goes back to available. */
  #repayDue(): void {
    for (const [dueDate, byShard] of this.#dueFen) {
      if (dueDate > this.#date) continue;
      for (const [shard, amountFen] of byShard.entries()) {
        this.#outstandingFen[shard]! -= amountFen;
        this.#moveAvailable(shard, amountFen);
        this.#advancedFen -= amountFen;
        this.#day.repaidFen += amountFen;
      }
      this.#dueFen.delete(dueDate);
    }
  }

  #usedFen(): Fen {
    return this.#input.sizeFen - this.#availableTotalFen;
  }

  #noteUtilisation(): void {
    const usedFen = this.#usedFen();
    if (usedFen > this.#peakUsedFen) this.#peakUsedFen = usedFen;
    if (usedFen > this.#dayPeakUsedFen) this.#dayPeakUsedFen = usedFen;
  }

  #newDay(): SimulationDay {
    return {
      date: this.#date,
      requests: 0,
      served: tally(),
      refusedForReserve: tally(),
      refusedForCap: tally(),
      repaidFen: 0n,
      peakUtilisationPercent: 0,
      availableAtEndFen: 0n,
      outstandingAtEndFen: 0n,
    };
  }

  #closeDay(): void {
    this.#day.peakUtilisationPercent = utilisationPercent(this.#dayPeakUsedFen, this.#input.sizeFen);
    this.#day.availableAtEndFen = this.#availableTotalFen;
    this.#day.outstandingAtEndFen = this.#outstandingFen.reduce((sum, outstandingFen) => sum + outstandingFen, 0n);
    this.#days.push(this.#day);
  }
}

/** part / whole in percent, truncated to 3 decimals: a service level is never overstated. 100 of nothing. */
function percentDown(part: number, whole: number): number {
  return whole === 0 ? 100 : Math.floor((part * 100_000) / whole) / 1000;
}

function utilisationPercent(usedFen: Fen, sizeFen: Fen): number {
  return sizeFen === 0n ? 0 : Number(mulDiv(usedFen, 10_000n, sizeFen, 'up')) / 100;
}
