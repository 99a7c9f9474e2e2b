/**
 * The liquidity reserve at the end of each day, derived from the journal: a reserve
 * account's balance at an instant is the sum of its postings up to then. Size moves only
 * with ops' adjustments (postings against reserve:funding). A lease moves money from
 * available to leased and its close moves the unused rest back: neither changes the size or
 * the outstanding, so the leases' own operations need not be read. An advance moves money
 * from leased to outstanding, and its repay from outstanding to available.
 *
 * What is read, all by equality on indexed fields: every reserve adjustment (ops' few), the
 * advances in flight now (by status, as the live report does), and the instant redemptions
 * and payments whose trade date falls from 31 days before the range to the trading day after
 * it. An advance is repaid on the first trading day after its trade date, so one with an
 * older trade date was repaid before the range began and adds nothing to it, unless its
 * settlement came more than 31 days late (the settlement job runs every minute; an advance
 * still unpaid is found by its status whatever its age). The cost grows with the instant
 * volume of the range plus those 31 days, not with the history.
 */
import type { QueryFilter } from 'mongoose';
import type { AppContext } from '../context.ts';
import { formatScaled, formatYuan, mulDiv, type Fen } from '../money/fen.ts';
import { Operation, type OperationDocument, type OperationStatus } from '../operations/model.ts';
import { INSTANT_TYPES, isLowWater, reserveReport } from '../reserve/service.ts';
import type { CsvTable } from './csv.ts';
import { endOfDay, startOfDay, type ReportRange } from './range.ts';

const SETTLEMENT_LATE_DAYS_MAX = 31;
const IN_FLIGHT: OperationStatus[] = ['pending', 'awaiting_settlement'];

type Journal = Pick<OperationDocument, '_id' | 'postings'>;

/** One instant's postings to the reserve's accounts, summed. */
interface Movement {
  atMs: number;
  sizeFen: Fen;
  advancedFen: Fen;
  returnedFen: Fen;
}

interface Balances {
  sizeFen: Fen;
  outstandingFen: Fen;
}

export async function reserveDailyReport(ctx: AppContext, range: ReportRange) {
  const reserveName = ctx.config.reserve.name;
  const [current, operations] = await Promise.all([reserveReport(ctx), reserveOperations(ctx, range)]);
  const movements = movementsOf(operations, `reserve:${reserveName}:`);
  const balances: Balances = { sizeFen: 0n, outstandingFen: 0n };
  let next = 0;
  const opening = startOfDay(ctx, range.from).getTime();
  for (; next < movements.length && movements[next]!.atMs < opening; next++) apply(balances, movements[next]!);
  const now = ctx.clock.now().getTime();
  const days = range.dates.map((date) => {
    const endMs = endOfDay(ctx, date).getTime();
    const day = { advancedFen: 0n, returnedFen: 0n, adjustedFen: 0n, peakOutstandingFen: balances.outstandingFen, peakBasisPoints: basisPoints(balances) };
    for (; next < movements.length && movements[next]!.atMs < endMs; next++) {
      const movement = movements[next]!;
      apply(balances, movement);
      day.advancedFen += movement.advancedFen;
      day.returnedFen += movement.returnedFen;
      day.adjustedFen += movement.sizeFen;
      if (balances.outstandingFen > day.peakOutstandingFen) day.peakOutstandingFen = balances.outstandingFen;
      if (basisPoints(balances) > day.peakBasisPoints) day.peakBasisPoints = basisPoints(balances);
    }
    return dayRow(ctx, date, balances, day, endMs <= now);
  });
  return { reserveName, from: range.from, to: range.to, current, days };
}

export type ReserveDailyReport = Awaited<ReturnType<typeof reserveDailyReport>>;

function dayRow(
  ctx: AppContext,
  date: string,
  balances: Balances,
  day: { advancedFen: Fen; returnedFen: Fen; adjustedFen: Fen; peakOutstandingFen: Fen; peakBasisPoints: bigint },
  final: boolean,
) {
  const availableFen = balances.sizeFen - balances.outstandingFen;
  return {
    date,
    size: formatYuan(balances.sizeFen),
    available: formatYuan(availableFen),
    outstanding: formatYuan(balances.outstandingFen),
    utilisationPercent: formatScaled(basisPoints(balances), 2),
    advanced: formatYuan(day.advancedFen),
    repaid: formatYuan(day.returnedFen),
    adjusted: formatYuan(day.adjustedFen),
    peakOutstanding: formatYuan(day.peakOutstandingFen),
    peakUtilisationPercent: formatScaled(day.peakBasisPoints, 2),
    lowWater: isLowWater(ctx, availableFen, balances.sizeFen),
    /** False for today: the figures are those of now, the day has not ended. */
    final,
  };
}

/** Outstanding over size in hundredths of a percent, truncated as the live report does: never overstated. */
function basisPoints({ sizeFen, outstandingFen }: Balances): bigint {
  return sizeFen === 0n ? 0n : mulDiv(outstandingFen, 10_000n, sizeFen, 'down');
}

function apply(balances: Balances, movement: Movement): void {
  balances.sizeFen += movement.sizeFen;
  balances.outstandingFen += movement.advancedFen - movement.returnedFen;
}

/** Every operation that can have moved the reserve in the range, each once. */
async function reserveOperations(ctx: AppContext, range: ReportRange): Promise<Journal[]> {
  // Every calendar day, not only trading days: a weekday made a holiday keeps the trades already dated to it.
  const firstTradeDate = ctx.calendar.addCalendarDays(range.from, -SETTLEMENT_LATE_DAYS_MAX);
  const dayCount = ctx.calendar.daysBetween(firstTradeDate, ctx.calendar.nextTradingDay(range.to)) + 1;
  const tradeDates = Array.from({ length: dayCount }, (_, index) => ctx.calendar.addCalendarDays(firstTradeDate, index));
  const filters: QueryFilter<OperationDocument>[] = [
    { type: 'reserve_adjustment' },
    ...INSTANT_TYPES.flatMap((type) => [...IN_FLIGHT.map((status) => ({ type, status })), ...tradeDates.map((tradeDate) => ({ type, tradeDate }))]),
  ];
  const found = await Promise.all(filters.map((filter) => Operation.find(filter, { postings: 1 }).lean<Journal[]>()));
  return [...new Map(found.flat().map((op) => [op._id, op])).values()];
}

/** The postings to the reserve's accounts, summed per instant, in time order. */
function movementsOf(operations: Journal[], accountPrefix: string): Movement[] {
  const byInstant = new Map<number, Movement>();
  for (const posting of operations.flatMap((op) => op.postings)) {
    if (!posting.account.startsWith(accountPrefix)) continue;
    const atMs = posting.at.getTime();
    const movement = byInstant.get(atMs) ?? { atMs, sizeFen: 0n, advancedFen: 0n, returnedFen: 0n };
    movement.sizeFen += posting.amountFen;
    if (posting.account.endsWith(':outstanding')) {
      if (posting.amountFen > 0n) movement.advancedFen += posting.amountFen;
      else movement.returnedFen -= posting.amountFen;
    }
    byInstant.set(atMs, movement);
  }
  return [...byInstant.values()].sort((a, b) => a.atMs - b.atMs);
}

const COLUMNS = [
  'date',
  'size',
  'available',
  'outstanding',
  'utilisationPercent',
  'advanced',
  'repaid',
  'adjusted',
  'peakOutstanding',
  'peakUtilisationPercent',
  'lowWater',
  'final',
] as const;

/** The days, one row each; the live `current` block is the last row of a range that ends today. */
export function reserveDailyCsv(report: ReserveDailyReport): CsvTable {
  return { filename: `reserve-${report.reserveName}-daily-${report.from}-to-${report.to}.csv`, columns: COLUMNS, rows: report.days };
}
