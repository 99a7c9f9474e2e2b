/**
 * The sandbox's test clock (model: Stripe's test clocks): ops move it forward, and the work
 * that falls due in between runs at once, as the jobs would have run it: each ended day gets
 * a plausible 万份收益, subscriptions confirm, redemptions settle, days accrue, wallets sweep.
 */
import { DateTime } from 'luxon';
import { TestClock } from '../calendar/clock.ts';
import type { AppContext } from '../context.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { DomainError } from '../errors.ts';
import { FundDay, type FundDayDocument } from '../fund/model.ts';
import { publishYield } from '../fund/service.ts';
import { accrueThrough } from '../income/accrual.ts';
import { log } from '../log.ts';
import { formatYieldPer10k } from '../money/yield.ts';
import { advanceDueOperations } from '../operations/recovery.ts';
import { sweepWallets } from '../sweep/service.ts';
import { clockTarget, type ClockMove } from './clockMove.ts';
import { BOOK_ID, CLOCK_ID, SandboxState } from './model.ts';

export const SANDBOX_PUBLISHER = 'sandbox';

/** The test clock where the sandbox left it: its offset is kept in the database. */
export async function openTestClock(): Promise<TestClock> {
  return new TestClock(await storedOffsetMs());
}

async function storedOffsetMs(): Promise<number> {
  const state = await SandboxState.findById(CLOCK_ID).lean();
  return state?.offsetMs ?? 0;
}

/**
 * The test clock of the sandbox this database holds, else null: the CLI works on a sandbox's
 * book in the sandbox's time (a day the test clock has begun is one real time has not).
 */
export async function testClockIfSandbox(): Promise<TestClock | null> {
  return (await SandboxState.exists({ _id: BOOK_ID })) ? openTestClock() : null;
}

/** The test clock of the sandbox this database holds; a database the sandbox never seeded has none. */
export async function sandboxTestClock(): Promise<TestClock> {
  const clock = await testClockIfSandbox();
  if (clock) return clock;
  throw new DomainError('sandbox_only', 'This database holds no sandbox: run the CLI with the sandbox\'s data folder (data/sandbox, or its MONEYFUND_DATA_DIR) while npm run sandbox runs', {}, { key: 'sandbox_only_database' });
}

/** Moves a process's test clock up to the stored one, which another process (the CLI) may have moved. */
export async function catchUpTestClock(clock: TestClock): Promise<void> {
  const offsetMs = await storedOffsetMs();
  if (offsetMs > clock.offsetMs) clock.moveToOffset(offsetMs);
}

/**
 * Keeps catching up every `everyMs` until the returned stop is called. A move elsewhere shows
 * here within that time; this process's jobs then find the work due on the new day.
 */
export function followTestClock(clock: TestClock, everyMs: number): () => void {
  const timer = setInterval(() => {
    catchUpTestClock(clock).catch((error: unknown) => log.warn({ err: error }, 'could not read the sandbox clock'));
  }, everyMs);
  return () => clearInterval(timer);
}

export interface DueWork {
  yieldsPublished: { fundCode: string; date: string; yieldPer10k: string }[];
  confirmed: number;
  settled: number;
  accrued: { fundCode: string; dates: string[] }[];
  swept: number | null;
}

/** Keeps a new offset for every process that follows the stored clock; $max: of two moves racing, the later wins and it never goes back. */
export async function storeTestClockOffset(offsetMs: number): Promise<void> {
  await retryOnWriteConflict(() => SandboxState.updateOne({ _id: CLOCK_ID }, { $max: { offsetMs } }, { upsert: true }), { retryDuplicateKey: true });
}

/** Moves the clock forward, keeps the new offset, then runs what fell due. */
export async function moveTestClock(ctx: AppContext, clock: TestClock, move: ClockMove) {
  const from = clock.now();
  const offsetMs = clockTarget(move, from, ctx.calendar).getTime() - Date.now();
  await storeTestClockOffset(offsetMs);
  clock.moveToOffset(Math.max(offsetMs, clock.offsetMs));
  const ran = await runDueWork(ctx, from);
  return { ...testClockView(ctx, clock), ran };
}

export function testClockView(ctx: AppContext, clock: TestClock) {
  const now = clock.now();
  const businessDate = ctx.calendar.businessDateOf(now);
  return {
    now: now.toISOString(),
    local: DateTime.fromJSDate(now, { zone: ctx.config.zone }).toFormat("yyyy-MM-dd'T'HH:mm:ss"),
    zone: ctx.config.zone,
    businessDate,
    tradingDay: ctx.calendar.isTradingDay(businessDate),
    tradeDate: ctx.calendar.tradeDateOf(now),
    offsetMs: clock.offsetMs,
  };
}

/**
 * The jobs' work for the clock's present, in their order: 万份收益 for every ended day
 * (the accrual needs each calendar day's), confirmations and settlements, accrual through
 * yesterday, and the morning sweep when the clock passed its hour since `from`.
 */
export async function runDueWork(ctx: AppContext, from: Date): Promise<DueWork> {
  const yesterday = ctx.calendar.addCalendarDays(ctx.calendar.businessDateOf(ctx.clock.now()), -1);
  const yieldsPublished = [];
  for (const fund of ctx.config.funds) yieldsPublished.push(...(await publishMissingYields(ctx, fund.code, yesterday)));
  const { confirmed, settled } = await advanceDueOperations(ctx);
  const accrued = [];
  for (const fund of ctx.config.funds) accrued.push({ fundCode: fund.code, dates: await accrueThrough(ctx, fund.code, yesterday) });
  const swept = sweepHourPassed(ctx, from) ? (await sweepWallets(ctx)).swept : null;
  return { yieldsPublished, confirmed, settled, accrued: accrued.filter((fund) => fund.dates.length > 0), swept };
}

/** Publishes the days after the fund's last published one through `through`; a fund never published is left alone. */
async function publishMissingYields(ctx: AppContext, fundCode: string, through: string) {
  const [latest] = await FundDay.find({ fundCode }, { date: 1 }).sort({ date: -1 }).limit(1).lean<Pick<FundDayDocument, 'date'>[]>();
  if (!latest) return [];
  return publishPlausibleYields(ctx, fundCode, ctx.calendar.addCalendarDays(latest.date, 1), through);
}

export async function publishPlausibleYields(ctx: AppContext, fundCode: string, from: string, through: string) {
  const published = [];
  for (let date = from; date <= through; date = ctx.calendar.addCalendarDays(date, 1)) {
    const day = await publishYield(ctx, { fundCode, date, yieldPer10k: plausibleYieldPer10k(fundCode, date), publishedBy: SANDBOX_PUBLISHER });
    published.push({ fundCode, date, yieldPer10k: formatYieldPer10k(day.yieldPer10k) });
  }
  return published;
}

/**
 * A 万份收益 like a money-market fund's of late: 0.3500 to 0.4199 yuan, the same for the same
 * fund and day on every run (a hash of both), so sandboxes agree with each other.
 */
export function plausibleYieldPer10k(fundCode: string, date: string): bigint {
  let hash = 0;
  for (const char of `${fundCode}:${date}`) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return 3500n + BigInt(hash % 700);
}

/** Whether the morning sweep's hour came between `from` and the clock's present. */
function sweepHourPassed(ctx: AppContext, from: Date): boolean {
  const start = DateTime.fromJSDate(from, { zone: ctx.config.zone });
  const firstSweepAfter = DateTime.fromISO(`${start.toISODate()}T${ctx.config.autoSweep.runAt}`, { zone: ctx.config.zone });
  const nextSweep = firstSweepAfter > start ? firstSweepAfter : firstSweepAfter.plus({ days: 1 });
  return nextSweep.toJSDate() <= ctx.clock.now();
}
