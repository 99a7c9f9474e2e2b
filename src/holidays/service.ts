import mongoose, { Schema } from 'mongoose';
import type { AppContext } from '../context.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { DomainError } from '../errors.ts';
import { toUtcDay } from '../calendar/businessDate.ts';
import { holidayScheduleOf } from '../calendar/holidaySchedule.ts';
import { TradingCalendar } from '../calendar/tradingCalendar.ts';
import { checkScheduleCoverage } from './coverage.ts';

/**
 * Ops' changes to the holiday list, kept over the config's and the package's: dates added
 * and removed. Keeping them apart lets a config or package update still apply to other dates.
 */
const holidayOverridesSchema = new Schema(
  {
    _id: { type: String, required: true },
    added: { type: [String], default: [] },
    removed: { type: [String], default: [] },
  },
  { versionKey: false, strict: 'throw' },
);
const HolidayOverrides = mongoose.model('HolidayOverrides', holidayOverridesSchema, 'holiday_overrides');
const OVERRIDES_ID = 'holidays';

/** How long a process trusts its copy before reading ops' changes again. */
export const CALENDAR_REFRESH_MS = 30_000;
const loadedAt = new WeakMap<AppContext, number>();

/** Rebuilds ctx.calendar from the package's schedule, the config's holidays and ops' overrides. */
export async function refreshCalendar(ctx: AppContext): Promise<void> {
  const overrides = await HolidayOverrides.findById(OVERRIDES_ID).lean();
  const schedule = holidayScheduleOf(ctx.config.holidays, { added: overrides?.added ?? [], removed: overrides?.removed ?? [] });
  ctx.calendar = new TradingCalendar({ ...schedule, cutoff: ctx.config.cutoff, zone: ctx.config.zone });
  loadedAt.set(ctx, Date.now());
}

/**
 * What the API (each /v1 request) and the job workers (each job) call: so every process of
 * the service also checks, now and then, that its holiday schedule is not running out. The
 * ops CLI refreshes without the check: its stdout is the command's answer.
 */
export async function refreshCalendarIfStale(ctx: AppContext): Promise<void> {
  if (Date.now() - (loadedAt.get(ctx) ?? 0) < CALENDAR_REFRESH_MS) return;
  await refreshCalendar(ctx);
  checkScheduleCoverage(ctx);
}

/**
 * Ops mark a future date as a holiday or a trading day. Today and the past are fixed: trade
 * and confirm dates already given out were computed from them.
 */
export async function setHoliday(ctx: AppContext, date: string, holiday: boolean): Promise<{ date: string; holiday: boolean }> {
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  if (date <= today) throw new DomainError('date_not_in_future', `Only dates after today (${today}) can change`, {}, { values: { today } });
  if (isWeekend(date)) throw new DomainError('weekend_date', `${date} is a weekend day: it never trades`, {}, { values: { date } });
  const update = holiday
    ? { $addToSet: { added: date }, $pull: { removed: date } }
    : { $addToSet: { removed: date }, $pull: { added: date } };
  await retryOnWriteConflict(() => HolidayOverrides.updateOne({ _id: OVERRIDES_ID }, update, { upsert: true }), {
    retryDuplicateKey: true,
  });
  await refreshCalendar(ctx);
  return { date, holiday: !ctx.calendar.isTradingDay(date) };
}

/** The weekday holidays and the make-up working days (which do not trade) from `from` through `to`. */
export function holidaysBetween(ctx: AppContext, from: string, to: string): { holidays: string[]; makeUpWorkdays: string[] } {
  const listed = { holidays: [] as string[], makeUpWorkdays: [] as string[] };
  for (let date = from; date <= to; date = ctx.calendar.addCalendarDays(date, 1)) {
    if (!ctx.calendar.isTradingDay(date) && !isWeekend(date)) listed.holidays.push(date);
    if (ctx.calendar.isMakeUpWorkday(date)) listed.makeUpWorkdays.push(date);
  }
  return listed;
}

function isWeekend(date: string): boolean {
  return toUtcDay(date).weekday >= 6;
}
