/**
 * The flow history the planner forecasts from: each business date's totals
 * and counts per channel, and per Beijing hour, rolled up from the service's own operations
 * and kept in `flow_days`, beside days imported from a CSV file (src/planning/csv.ts).
 *
 * A day is the Beijing date of a request (its `createdAt`), not its trade date: the reserve
 * pays an instant redemption the moment it is asked for. An operation counts when it stands:
 * accepted (awaiting confirmation or settlement, or completed). A failed one moved nothing; a
 * pending one is still in flight, and a day that has one is answered but not stored, so it is
 * rolled up again once recovery has settled it.
 *
 * Reads are equality lookups on the operations' trade date (its { type, tradeDate } index): a
 * request made on D has a trade date from D to the first trading day after D, so those trade
 * dates are read and each operation kept by its createdAt. Ops may add a holiday after the day (the trade dates
 * read reach the current next trading day, past it); a holiday removed after the day can leave
 * a request dated to a day beyond the current next trading day, which this reading misses.
 */
import { DateTime } from 'luxon';
import type { AnyBulkWriteOperation } from 'mongoose';
import { addCalendarDays, daysBetween, isBusinessDate } from '../calendar/businessDate.ts';
import type { AppContext } from '../context.ts';
import { badRequest } from '../errors.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { Operation, type OperationDocument, type OperationStatus } from '../operations/model.ts';
import { FLOW_CHANNELS, perChannel, type DailyFlow, type FlowChannel } from './flows.ts';
import { FlowDay, flowDayId, type FlowDayDocument, type FlowDaySource } from './model.ts';

/** Statuses of an operation that stands: the money moved, or will on its due date. */
const STANDING: readonly OperationStatus[] = ['awaiting_confirmation', 'awaiting_settlement', 'completed'];
const HOURS = 24;
/** Three years a call: a forecast uses no more. */
export const FLOW_HISTORY_DAYS_MAX = 3 * 366;
/** Upserts a command: FerretDB hangs on big update commands. */
const UPSERT_BATCH_MAX = 20;
/** Trade dates read at once while rolling up. */
const READS_IN_FLIGHT = 8;

type Flow = Pick<OperationDocument, 'type' | 'status' | 'amountFen' | 'createdAt'>;

/** A day rolled up, and whether it may be stored: false while one of its requests is still in flight. */
interface RolledUpDay {
  flow: DailyFlow;
  settled: boolean;
}

/**
 * Rolls up one business date from the operations and stores it (an upsert: running it again
 * rewrites the same figures) when the day is over and none of its requests is in flight.
 */
export async function rollUpFlowDay(ctx: AppContext, date: string): Promise<DailyFlow> {
  const [day] = await rollUpFlowDays(ctx, [date]);
  return day!.flow;
}

/** For the nightly job: yesterday, Beijing time. */
export async function rollUpYesterday(ctx: AppContext): Promise<DailyFlow> {
  return rollUpFlowDay(ctx, addCalendarDays(todayOf(ctx), -1));
}

async function rollUpFlowDays(ctx: AppContext, dates: readonly string[]): Promise<RolledUpDay[]> {
  const days = new Map(dates.map((date) => [date, emptyTally(date)]));
  for (const flow of await flowsRequestedOn(ctx, dates)) {
    const local = DateTime.fromJSDate(flow.createdAt, { zone: ctx.config.zone });
    const tally = days.get(local.toISODate()!);
    if (!tally) continue;
    if (flow.status === 'pending') tally.settled = false;
    if (!STANDING.includes(flow.status)) continue;
    const channel = flow.type as FlowChannel;
    tally.flow.totalsFen[channel] += flow.amountFen;
    tally.flow.counts[channel] += 1;
    tally.flow.hourlyFen![channel]![local.hour]! += flow.amountFen;
  }
  const today = todayOf(ctx);
  const rolled = [...days.values()];
  await storeDays(ctx, rolled.filter((day) => day.settled && day.flow.date < today).map((day) => day.flow), 'service');
  return rolled;
}

const emptyTally = (date: string): RolledUpDay => ({
  flow: { date, totalsFen: perChannel(() => 0n), counts: perChannel(() => 0), hourlyFen: perChannel(() => new Array<bigint>(HOURS).fill(0n)) },
  settled: true,
});

/** The flow operations whose trade date could belong to a request made on one of the dates (more; the caller keeps its own). */
async function flowsRequestedOn(ctx: AppContext, dates: readonly string[]): Promise<Flow[]> {
  const tradeDates = new Set<string>();
  for (const date of dates) {
    const last = ctx.calendar.nextTradingDay(date);
    for (let tradeDate = date; tradeDate <= last; tradeDate = addCalendarDays(tradeDate, 1)) tradeDates.add(tradeDate);
  }
  // Equality on the trade date is what FerretDB pushes down; the types are sorted out after the fetch (as the fund's daily report reads).
  const filters = [...tradeDates].map((tradeDate) => ({ tradeDate, type: { $in: [...FLOW_CHANNELS] } }));
  const found: Flow[] = [];
  for (let first = 0; first < filters.length; first += READS_IN_FLIGHT) {
    const batch = filters.slice(first, first + READS_IN_FLIGHT);
    const results = await Promise.all(batch.map((filter) => Operation.find(filter, { type: 1, status: 1, amountFen: 1, createdAt: 1 }).lean<Flow[]>()));
    found.push(...results.flat());
  }
  return found;
}

/** Upserts the days of one source, 20 to a command; each document is rewritten whole, so writing it twice is writing it once. */
export async function storeDays(ctx: AppContext, days: readonly DailyFlow[], source: FlowDaySource): Promise<void> {
  const writtenAt = ctx.clock.now();
  const writes: AnyBulkWriteOperation[] = days.map((day) => ({
    updateOne: {
      filter: { _id: flowDayId(day.date, source) },
      update: {
        $set: {
          date: day.date,
          month: day.date.slice(0, 7),
          source,
          totalsFen: perChannel((channel) => day.totalsFen[channel].toString()),
          counts: day.counts,
          hourlyFen: day.hourlyFen ? perChannel((channel) => (day.hourlyFen![channel] ?? new Array<bigint>(HOURS).fill(0n)).map(String)) : null,
          writtenAt,
        },
      },
      upsert: true,
    },
  }));
  for (let first = 0; first < writes.length; first += UPSERT_BATCH_MAX) {
    // The same target state each time: a batch refused part-way by a conflict or a racing upsert is safe to send again.
    await retryOnWriteConflict(() => FlowDay.bulkWrite(writes.slice(first, first + UPSERT_BATCH_MAX), { ordered: false }), { retryDuplicateKey: true });
  }
}

/**
 * The days from `fromDate` to `toDate` (or yesterday, if earlier: today is not over), oldest
 * first. A closed day not stored yet is rolled up now. Where both sources have a day, the
 * service's own wins if it counted any request, else the import's. A day neither speaks for is
 * a day of zero flows from the service's first day with a request on, and left out before it
 * (the fund was not here yet: a gap, not a day of nothing).
 */
export async function flowHistory(ctx: AppContext, range: { fromDate: string; toDate: string }): Promise<DailyFlow[]> {
  const lastClosed = addCalendarDays(todayOf(ctx), -1);
  const toDate = range.toDate < lastClosed ? range.toDate : lastClosed;
  const badDate = [range.fromDate, range.toDate].find((date) => !isBusinessDate(date));
  if (badDate !== undefined) throw badRequest(`${JSON.stringify(badDate)} is not a yyyy-MM-dd date`);
  const dayCount = daysBetween(range.fromDate, range.toDate) + 1;
  if (dayCount < 1 || dayCount > FLOW_HISTORY_DAYS_MAX) {
    throw badRequest(`fromDate must not be after toDate, and the range at most ${FLOW_HISTORY_DAYS_MAX} days`, {}, { key: 'invalid_request_range', values: { daysMax: FLOW_HISTORY_DAYS_MAX } });
  }
  if (toDate < range.fromDate) return [];
  const dates = Array.from({ length: daysBetween(range.fromDate, toDate) + 1 }, (_, index) => addCalendarDays(range.fromDate, index));
  const stored = await storedDays(dates);
  const missing = dates.filter((date) => !stored.has(flowDayId(date, 'service')));
  const rolled = new Map((await rollUpFlowDays(ctx, missing)).map((day) => [day.flow.date, day.flow]));
  const service = dates.map((date) => rolled.get(date) ?? flowOf(stored.get(flowDayId(date, 'service'))!));
  const serviceStart = service.find(countsAny)?.date;
  return service.flatMap((day) => {
    const imported = stored.get(flowDayId(day.date, 'import'));
    if (countsAny(day) || (!imported && serviceStart !== undefined && day.date >= serviceStart)) return [day];
    return imported ? [flowOf(imported)] : [];
  });
}

const countsAny = (day: DailyFlow) => FLOW_CHANNELS.some((channel) => day.counts[channel] > 0);

async function storedDays(dates: readonly string[]): Promise<Map<string, FlowDayDocument>> {
  const months = [...new Set(dates.map((date) => date.slice(0, 7)))];
  const found = await Promise.all(months.map((month) => FlowDay.find({ month }).lean<FlowDayDocument[]>()));
  const wanted = new Set(dates);
  return new Map(found.flat().filter((day) => wanted.has(day.date)).map((day) => [day._id, day]));
}

function flowOf(document: FlowDayDocument): DailyFlow {
  const hourly = document.hourlyFen;
  return {
    date: document.date,
    totalsFen: perChannel((channel) => BigInt(document.totalsFen[channel])),
    counts: perChannel((channel) => document.counts[channel]),
    ...(hourly ? { hourlyFen: perChannel((channel) => hourly[channel].map((amount) => BigInt(amount))) } : {}),
  };
}

const todayOf = (ctx: AppContext) => ctx.calendar.businessDateOf(ctx.clock.now());
