import type { AppContext } from '../context.ts';
import { isDuplicateKey, retryOnWriteConflict } from '../db/writeConflict.ts';
import { badRequest, DomainError, notFound } from '../errors.ts';
import { formatYuan } from '../money/fen.ts';
import { formatScaled } from '../money/rounding.ts';
import type { FundConfig } from '../config/config.ts';
import { formatYieldPer10k, parseYieldPer10k, sevenDayYield } from '../money/yield.ts';
import { FundBook, FundDay, fundDayId, OPEN_DAY_STATUSES, type FundBookDocument, type FundDayDocument, type FundDayStatus } from './model.ts';

export const unknownFund = (fundCode: string) =>
  new DomainError('unknown_fund', `No fund ${fundCode} in the catalogue: GET /v1/funds lists them`, {}, { values: { fundCode } });

const yieldBeforeFundStart = (fundCode: string, date: string, lastAccruedDate: string) =>
  new DomainError(
    'yield_before_fund_start',
    `${date} is before the first day ${fundCode} accrued (its accrual stands at ${lastAccruedDate}), and ${fundCode} has no start day set: with none, its first accrued day is its start and no earlier day can be published. A fund given a start day (funds[].startDate, or PUT /v1/ops/funds/${fundCode}/start before any accrual) takes earlier days as reference`,
    {},
    { values: { fundCode, date, lastAccruedDate } },
  );

const yieldAlreadyAccrued = (fundCode: string, date: string, status: string) =>
  new DomainError(
    'yield_already_accrued',
    status === 'accrued'
      ? `The 万份收益 of ${fundCode} for ${date} has been accrued and can no longer change`
      : `The 万份收益 of ${fundCode} for ${date} is being accrued now and can no longer change`,
    {},
    { ...(status === 'accrued' ? {} : { key: 'yield_already_accrued_accruing' }), values: { fundCode, date } },
  );

const yieldDateInFuture = (ctx: AppContext, date: string) =>
  new DomainError('yield_date_in_future', `${date} has not begun in ${ctx.config.zone}: publish a day from today back`, {}, { values: { date, zone: ctx.config.zone } });

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

/** The fund's start day: set by ops on its book, else its config's; null with neither (its first published day starts it). */
export function startDateOf(ctx: AppContext, book: FundBookDocument): string | null {
  return book.startDate ?? requireFund(ctx, book._id).startDate ?? null;
}

/** Inside the fund's plausibility band (funds[].yieldPer10kBand, inclusive), or the fund has none. */
export function isPlausible(fund: FundConfig, yieldPer10k: bigint): boolean {
  const band = fund.yieldPer10kBand;
  return !band || (parseYieldPer10k(band.min) <= yieldPer10k && yieldPer10k <= parseYieldPer10k(band.max));
}

/** What publishing a day's 万份收益 does to it. */
export type YieldChange = 'new' | 'correction' | 'unchanged' | 'refused';

export interface DayPlan {
  date: string;
  yieldPer10k: bigint;
  change: YieldChange;
  /** The status the day takes (or keeps); when refused, the current one (null: never published). */
  status: FundDayStatus | null;
  refusal: DomainError | null;
  /** The day as read when planned: a write compares against it. */
  current: FundDayDocument | null;
}

/** What the fund knows when planning publications: its config, book, start day and today. */
export interface PublishingState {
  fund: FundConfig;
  book: FundBookDocument;
  startDate: string | null;
  today: string;
}

export async function publishingState(ctx: AppContext, fundCode: string): Promise<PublishingState> {
  const fund = requireFund(ctx, fundCode);
  const book = await fundBookOf(ctx, fundCode);
  return { fund, book, startDate: startDateOf(ctx, book), today: ctx.calendar.businessDateOf(ctx.clock.now()) };
}

/**
 * What publishing `yieldPer10k` for `date` would do, given the day as it stands: a day before
 * the start is reference, one outside the plausibility band pending, the rest published;
 * a day taken up by accrual, a day not begun, or (for a fund with no start day) a day before
 * its first accrued one is refused.
 */
export function planDay(ctx: AppContext, state: PublishingState, date: string, yieldPer10k: bigint, current: FundDayDocument | null): DayPlan {
  const refused = (refusal: DomainError): DayPlan => ({ date, yieldPer10k, change: 'refused', status: current?.status ?? null, refusal, current });
  const { fund, book, startDate, today } = state;
  if (date > today) return refused(yieldDateInFuture(ctx, date));
  if (current && !(OPEN_DAY_STATUSES as readonly string[]).includes(current.status)) return refused(yieldAlreadyAccrued(fund.code, date, current.status));
  if (!current && startDate === null && book.lastAccruedDate != null && date <= book.lastAccruedDate) {
    return refused(yieldBeforeFundStart(fund.code, date, book.lastAccruedDate));
  }
  // A value a second ops user confirmed stays confirmed when published again as it is (a retried
  // request, the same file imported twice): only a new value needs a new confirmation.
  const confirmedAsIs = current?.confirmedBy != null && current.yieldPer10k === yieldPer10k;
  const status: FundDayStatus = confirmedAsIs
    ? current.status
    : !isPlausible(fund, yieldPer10k)
      ? 'pending'
      : startDate !== null && date < startDate
        ? 'reference'
        : 'published';
  const change: YieldChange = !current ? 'new' : current.yieldPer10k === yieldPer10k && current.status === status ? 'unchanged' : 'correction';
  return { date, yieldPer10k, change, status, refusal: null, current };
}

/**
 * Writes a planned day: an insert for a new one, else a compare-and-set on the day as planned
 * from (status and value). False when the day changed since: plan again.
 */
export async function writePlan(ctx: AppContext, fundCode: string, plan: DayPlan, publishedBy: string): Promise<boolean> {
  if (plan.change === 'unchanged' || plan.change === 'refused') return true;
  const _id = fundDayId(fundCode, plan.date);
  const fields = { status: plan.status!, yieldPer10k: plan.yieldPer10k, publishedAt: ctx.clock.now(), publishedBy, confirmedAt: null, confirmedBy: null };
  if (plan.change === 'new') {
    try {
      await FundDay.create({ _id, fundCode, date: plan.date, ...fields });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }
  const { status, yieldPer10k } = plan.current!;
  const corrected = await retryOnWriteConflict(() => FundDay.updateOne({ _id, status, yieldPer10k }, { $set: fields }));
  return corrected.matchedCount === 1;
}

const PUBLISH_ATTEMPTS_MAX = 5;

/**
 * Ops publish the 万份收益 of a calendar day that has begun. It may be corrected until the
 * day's accrual starts; from then on it is fixed, like everything the day distributed. A
 * value outside the fund's plausibility band is kept pending until a second ops user
 * confirms it (confirmYield); a day before the fund's start day is kept as reference.
 */
export async function publishDay(
  ctx: AppContext,
  input: { fundCode: string; date: string; yieldPer10k: bigint; publishedBy: string },
): Promise<{ day: FundDayDocument; change: YieldChange }> {
  const _id = fundDayId(input.fundCode, input.date);
  for (let attempt = 0; attempt < PUBLISH_ATTEMPTS_MAX; attempt++) {
    const state = await publishingState(ctx, input.fundCode);
    const plan = planDay(ctx, state, input.date, input.yieldPer10k, await FundDay.findById(_id).lean<FundDayDocument>());
    if (plan.refusal) throw plan.refusal;
    if (await writePlan(ctx, input.fundCode, plan, input.publishedBy)) {
      return { day: (await FundDay.findById(_id).lean<FundDayDocument>())!, change: plan.change };
    }
  }
  throw new Error(`publishing ${_id}: lost ${PUBLISH_ATTEMPTS_MAX} races in a row`);
}

export async function publishYield(ctx: AppContext, input: { fundCode: string; date: string; yieldPer10k: bigint; publishedBy: string }): Promise<FundDayDocument> {
  return (await publishDay(ctx, input)).day;
}

/**
 * A second ops user confirms a pending 万份收益: the value they saw (a compare-and-set on it
 * and on its publisher, so a value changed since is never confirmed unseen). The day then
 * counts as published (or reference, before the start day).
 */
export async function confirmYield(
  ctx: AppContext,
  input: { fundCode: string; date: string; yieldPer10k: bigint; confirmedBy: string },
): Promise<FundDayDocument> {
  const { fundCode, date, yieldPer10k, confirmedBy } = input;
  const _id = fundDayId(fundCode, date);
  for (let attempt = 0; attempt < PUBLISH_ATTEMPTS_MAX; attempt++) {
    const state = await publishingState(ctx, fundCode);
    const day = await FundDay.findById(_id).lean<FundDayDocument>();
    refuseConfirmation(fundCode, date, day, yieldPer10k, confirmedBy);
    const status = state.startDate !== null && date < state.startDate ? 'reference' : 'published';
    const confirmed = await retryOnWriteConflict(() =>
      FundDay.updateOne(
        { _id, status: 'pending', yieldPer10k, publishedBy: day!.publishedBy },
        { $set: { status, confirmedAt: ctx.clock.now(), confirmedBy } },
      ),
    );
    if (confirmed.matchedCount === 1) return (await FundDay.findById(_id).lean<FundDayDocument>())!;
  }
  throw new Error(`confirming ${_id}: lost ${PUBLISH_ATTEMPTS_MAX} races in a row`);
}

function refuseConfirmation(fundCode: string, date: string, day: FundDayDocument | null, yieldPer10k: bigint, confirmedBy: string): void {
  const values = { fundCode, date };
  if (day?.status !== 'pending') {
    throw new DomainError(
      'yield_not_pending',
      day ? `The 万份收益 of ${fundCode} for ${date} is ${day.status}: it waits for no confirmation` : `No 万份收益 of ${fundCode} for ${date} has been published: there is nothing to confirm`,
      {},
      { ...(day ? {} : { key: 'yield_not_pending_missing' }), values: { ...values, status: day?.status ?? 'missing' } },
    );
  }
  if (day.yieldPer10k !== yieldPer10k) {
    const waiting = formatYieldPer10k(day.yieldPer10k);
    throw new DomainError(
      'yield_changed',
      `The 万份收益 of ${fundCode} for ${date} waiting for confirmation is ${waiting}, not ${formatYieldPer10k(yieldPer10k)}: it changed since you read it; nothing was confirmed`,
      { yieldPer10k: waiting },
      { values: { ...values, waiting, asked: formatYieldPer10k(yieldPer10k) } },
    );
  }
  if (day.publishedBy === confirmedBy) {
    throw new DomainError(
      'yield_confirmation_own',
      `You published the 万份收益 of ${fundCode} for ${date}: a second ops user must confirm it`,
      {},
      { values },
    );
  }
}

/** The days of the fund waiting for a second ops user, oldest first. */
export async function pendingYields(ctx: AppContext, fundCode: string) {
  const fund = requireFund(ctx, fundCode);
  const days = await FundDay.find({ fundCode, status: 'pending' }).lean<FundDayDocument[]>();
  return {
    fundCode,
    band: fund.yieldPer10kBand ?? null,
    days: days
      .sort((a, b) => a.date.localeCompare(b.date))
      .map((day) => ({ date: day.date, yieldPer10k: formatYieldPer10k(day.yieldPer10k), publishedBy: day.publishedBy, publishedAt: day.publishedAt.toISOString() })),
  };
}

/** The 万份收益 of the 7 calendar days ending at `date`, oldest first; missing days are left out. */
export async function yieldWindow(ctx: AppContext, fundCode: string, date: string): Promise<bigint[]> {
  const dates = [6, 5, 4, 3, 2, 1, 0].map((back) => ctx.calendar.addCalendarDays(date, -back));
  const days = await Promise.all(dates.map((day) => FundDay.findById(fundDayId(fundCode, day)).lean<FundDayDocument>()));
  return days.filter((day) => day !== null && countsInYield(day)).map((day) => day!.yieldPer10k);
}

/** Reference days are the fund's published history: they count. A pending day counts nowhere. */
export const countsInYield = (day: Pick<FundDayDocument, 'status'>) => day.status !== 'pending';

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
  // A pending value is not the fund's until a second ops user confirms it: not shown.
  return dates.map((date, index) => {
    const day = days[index];
    if (!day) return { fundCode, date, status: 'missing' };
    return day.status === 'pending' ? { fundCode, date, status: 'pending' } : fundDayView(day);
  });
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
    blocked: due ? blockedBy(next, day) : null,
    residualAccount: formatScaled(BigInt(book.residualFen8), 10),
  };
}

/** Why accrual cannot take the due day `date`, if it cannot: a day not published, or one waiting for confirmation. */
function blockedBy(date: string, day: FundDayDocument | null): string | null {
  if (!day) return `no 万份收益 published for ${date}: it blocks every later day`;
  if (day.status === 'pending') {
    return `the 万份收益 of ${date} (${formatYieldPer10k(day.yieldPer10k)}) is outside the fund's plausibility band and waits for a second ops user to confirm it: it blocks every later day`;
  }
  return null;
}

/**
 * The day after the last accrued one; for a fund never accrued, its start day, or with none
 * its earliest published day that is not reference.
 */
export async function nextDayToAccrue(ctx: AppContext, book: FundBookDocument): Promise<string | null> {
  if (book.lastAccruedDate != null) return ctx.calendar.addCalendarDays(book.lastAccruedDate, 1);
  const startDate = startDateOf(ctx, book);
  if (startDate !== null) return startDate;
  const published = await FundDay.find({ fundCode: book._id, status: { $ne: 'reference' } }, { date: 1 }).lean<{ date: string }[]>();
  const dates = published.map((day) => day.date).sort();
  return dates[0] ?? null;
}

/**
 * Ops set the fund's start day, and may put it right until the accrual opens the fund's first
 * day: accrual begins there and the days before it are reference. The accrual pins the day it
 * opens on the fund's book first (firstOpenedDate), and this write requires none pinned: of the
 * two, the later one on the book loses, never both win. Setting the fixed day again relabels
 * the days (finishing a run stopped in between).
 */
export async function setFundStart(ctx: AppContext, fundCode: string, startDate: string): Promise<{ fundCode: string; startDate: string }> {
  requireFund(ctx, fundCode);
  const book = await fundBookOf(ctx, fundCode);
  const [takenUp] = await FundDay.find({ fundCode, status: { $in: ['accruing', 'accrued'] } }, { date: 1 }).sort({ date: 1 }).limit(1).lean<{ date: string }[]>();
  const fixedSince = book.firstOpenedDate ?? takenUp?.date ?? book.lastAccruedDate ?? null;
  if (fixedSince !== null) {
    if (startDateOf(ctx, book) === startDate) return relabelDays(fundCode, startDate);
    throw new DomainError('fund_start_fixed', `${fundCode} has accrued from ${fixedSince}: its start day can no longer be chosen`, {}, { values: { fundCode, since: fixedSince } });
  }
  const set = await retryOnWriteConflict(() => FundBook.updateOne({ _id: fundCode, lastAccruedDate: null, firstOpenedDate: null }, { $set: { startDate } }));
  if (set.matchedCount === 0) return setFundStart(ctx, fundCode, startDate); // the first accrual came first: explain
  return relabelDays(fundCode, startDate);
}

/** The days' labels for a start day; target states, so a retry after a partial failure is safe. */
async function relabelDays(fundCode: string, startDate: string): Promise<{ fundCode: string; startDate: string }> {
  await retryOnWriteConflict(() => FundDay.updateMany({ fundCode, date: { $lt: startDate }, status: 'published' }, { $set: { status: 'reference' } }));
  await retryOnWriteConflict(() => FundDay.updateMany({ fundCode, date: { $gte: startDate }, status: 'reference' }, { $set: { status: 'published' } }));
  return { fundCode, startDate };
}

export async function findFundDay(fundCode: string, date: string): Promise<FundDayDocument> {
  const day = await FundDay.findById(fundDayId(fundCode, date)).lean<FundDayDocument>();
  if (!day) throw notFound(`The fund day ${fundCode} ${date}`);
  return day;
}
