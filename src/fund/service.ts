import type { AppContext } from '../context.ts';
import { isDuplicateKey, retryOnWriteConflict } from '../db/writeConflict.ts';
import { badRequest, DomainError, notFound } from '../errors.ts';
import { formatYuan } from '../money/fen.ts';
import { formatScaled } from '../money/rounding.ts';
import { formatYieldPer10k, sevenDayYield } from '../money/yield.ts';
import { FundBook, FundDay, fundDayId, type FundBookDocument, type FundDayDocument } from './model.ts';

export const unknownFund = (fundCode: string) =>
  new DomainError('unknown_fund', `No fund ${fundCode} in the catalogue: GET /v1/funds lists them`);

const yieldBeforeFundStart = (fundCode: string, date: string, lastAccruedDate: string) =>
  new DomainError(
    'yield_before_fund_start',
    `${date} is before the first day ${fundCode} accrued (its accrual stands at ${lastAccruedDate}): a day before a fund's start cannot be published`,
  );

const yieldAlreadyAccrued = (fundCode: string, date: string) =>
  new DomainError('yield_already_accrued', `The 万份收益 of ${fundCode} for ${date} has been accrued and can no longer change`);

export function requireFund(ctx: AppContext, fundCode: string) {
  const fund = ctx.config.funds.find((candidate) => candidate.code === fundCode);
  if (!fund) throw unknownFund(fundCode);
  return fund;
}

/** The fund's book, opened on first use with the configured partition count. */
export async function fundBookOf(ctx: AppContext, fundCode: string): Promise<FundBookDocument> {
  const book = await FundBook.findById(fundCode).lean<FundBookDocument>();
  if (book) return book;
  await retryOnWriteConflict(
    () => FundBook.updateOne({ _id: fundCode }, { $setOnInsert: { partitionCount: ctx.config.accrual.partitions } }, { upsert: true }),
    { retryDuplicateKey: true },
  );
  return (await FundBook.findById(fundCode).lean<FundBookDocument>())!;
}

/**
 * Ops publish the 万份收益 of a calendar day that has begun. It may be corrected until the
 * day's accrual starts; from then on it is fixed, like everything the day distributed.
 */
export async function publishYield(
  ctx: AppContext,
  input: { fundCode: string; date: string; yieldPer10k: bigint; publishedBy: string },
): Promise<FundDayDocument> {
  requireFund(ctx, input.fundCode);
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  if (input.date > today) {
    throw new DomainError('yield_date_in_future', `${input.date} has not begun in ${ctx.config.zone}: publish a day from today back`);
  }
  const book = await fundBookOf(ctx, input.fundCode);
  const _id = fundDayId(input.fundCode, input.date);
  if (book.lastAccruedDate != null && input.date <= book.lastAccruedDate) {
    // Days are accrued in order from the first published one: an earlier day never was.
    if (!(await FundDay.exists({ _id }))) throw yieldBeforeFundStart(input.fundCode, input.date, book.lastAccruedDate);
    throw yieldAlreadyAccrued(input.fundCode, input.date);
  }
  const fields = { yieldPer10k: input.yieldPer10k, publishedAt: ctx.clock.now(), publishedBy: input.publishedBy };
  try {
    await FundDay.create({ _id, fundCode: input.fundCode, date: input.date, status: 'published', ...fields });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    const corrected = await retryOnWriteConflict(() => FundDay.updateOne({ _id, status: 'published' }, { $set: fields }));
    if (corrected.matchedCount === 0) throw yieldAlreadyAccrued(input.fundCode, input.date);
  }
  return (await FundDay.findById(_id).lean<FundDayDocument>())!;
}

/** The 万份收益 of the 7 calendar days ending at `date`, oldest first; missing days are left out. */
export async function yieldWindow(ctx: AppContext, fundCode: string, date: string): Promise<bigint[]> {
  const dates = [6, 5, 4, 3, 2, 1, 0].map((back) => ctx.calendar.addCalendarDays(date, -back));
  const days = await Promise.all(dates.map((day) => FundDay.findById(fundDayId(fundCode, day)).lean<FundDayDocument>()));
  return days.filter((day) => day !== null).map((day) => day.yieldPer10k);
}

export async function sevenDayYields(ctx: AppContext, fundCode: string, date: string) {
  const rates = await yieldWindow(ctx, fundCode, date);
  return { compound: sevenDayYield(rates, 'compound'), simple: sevenDayYield(rates, 'simple') };
}

/** The calendar days from..to, oldest first; a range reversed or longer than daysMax is a 400. */
export function datesInRange(ctx: AppContext, from: string, to: string, daysMax: number): string[] {
  const dayCount = ctx.calendar.daysBetween(from, to) + 1;
  if (dayCount < 1 || dayCount > daysMax) {
    throw new DomainError('invalid_request', `from must not be after to, and the range at most ${daysMax} days`);
  }
  return Array.from({ length: dayCount }, (_, index) => ctx.calendar.addCalendarDays(from, index));
}

/**
 * The range a caller asked for (both ends or neither), else the `defaultDays` through today in
 * Beijing: today is in, with its figures as they stand now.
 */
export function askedOrRecentDays(ctx: AppContext, from: string | undefined, to: string | undefined, defaultDays: number) {
  if ((from === undefined) !== (to === undefined)) throw badRequest(`Give both from and to, or neither for the ${defaultDays} days through today`);
  const last = to ?? ctx.calendar.businessDateOf(ctx.clock.now());
  return { from: from ?? ctx.calendar.addCalendarDays(last, 1 - defaultDays), to: last };
}

/** The fund's days in a range as published and accrued; a day nobody published shows as missing. */
export async function fundDays(ctx: AppContext, fundCode: string, from: string, to: string) {
  requireFund(ctx, fundCode);
  const dates = datesInRange(ctx, from, to, 366);
  const days = await Promise.all(dates.map((date) => FundDay.findById(fundDayId(fundCode, date)).lean<FundDayDocument>()));
  return dates.map((date, index) => (days[index] ? fundDayView(days[index]) : { fundCode, date, status: 'missing' }));
}

export function fundDayView(day: FundDayDocument) {
  const accrued = day.status === 'accrued';
  return {
    fundCode: day.fundCode,
    date: day.date,
    status: day.status,
    yieldPer10k: formatYieldPer10k(day.yieldPer10k),
    sevenDayYieldCompoundPercent: day.sevenDayYieldCompoundPercent,
    sevenDayYieldSimplePercent: day.sevenDayYieldSimplePercent,
    publishedAt: day.publishedAt.toISOString(),
    accruedAt: day.accruedAt?.toISOString() ?? null,
    holders: accrued ? day.holders : null,
    eligibleShares: accrued ? formatYuan(BigInt(day.eligibleSharesFen!)) : null,
    incomeDistributed: accrued ? formatYuan(BigInt(day.distributedFen!)) : null,
    /** In yuan with 10 decimals: the exact sub-fen remainder booked to the residual account. */
    residual: accrued ? formatScaled(BigInt(day.residualFen8!), 10) : null,
  };
}

/**
 * Where the fund's accrual stands: the last day accrued, the next one due and, when that
 * day has no published 万份收益, that it blocks every later day.
 */
export async function accrualStatus(ctx: AppContext, fundCode: string) {
  requireFund(ctx, fundCode);
  const book = await fundBookOf(ctx, fundCode);
  const next = await nextDayToAccrue(ctx, book);
  const yesterday = ctx.calendar.addCalendarDays(ctx.calendar.businessDateOf(ctx.clock.now()), -1);
  const day = next ? await FundDay.findById(fundDayId(fundCode, next)).lean<FundDayDocument>() : null;
  const due = next !== null && next <= yesterday;
  return {
    fundCode,
    lastAccruedDate: book.lastAccruedDate ?? null,
    nextDate: next,
    nextStatus: next === null ? null : (day?.status ?? 'missing'),
    blocked: due && !day ? `no 万份收益 published for ${next}: it blocks every later day` : null,
    residualAccount: formatScaled(BigInt(book.residualFen8), 10),
  };
}

/** The day after the last accrued one; for a fund never accrued, its earliest published day. */
export async function nextDayToAccrue(ctx: AppContext, book: FundBookDocument): Promise<string | null> {
  if (book.lastAccruedDate != null) return ctx.calendar.addCalendarDays(book.lastAccruedDate, 1);
  const published = await FundDay.find({ fundCode: book._id }, { date: 1 }).lean<{ date: string }[]>();
  const dates = published.map((day) => day.date).sort();
  return dates[0] ?? null;
}

export async function findFundDay(fundCode: string, date: string): Promise<FundDayDocument> {
  const day = await FundDay.findById(fundDayId(fundCode, date)).lean<FundDayDocument>();
  if (!day) throw notFound(`The fund day ${fundCode} ${date}`);
  return day;
}
