import mongoose, { Schema } from 'mongoose';
import type { AppContext } from '../context.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { DomainError } from '../errors.ts';
import { toUtcDay } from '../calendar/businessDate.ts';
import { TradingCalendar } from '../calendar/tradingCalendar.ts';

/**
 * Ops' changes to the holiday list, kept over the config's list: dates added and removed.
 * Keeping them apart from the config lets a config update still apply to other dates.
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

/** Rebuilds ctx.calendar from the config's holidays and ops' overrides. */
export async function refreshCalendar(ctx: AppContext): Promise<void> {
  const overrides = await HolidayOverrides.findById(OVERRIDES_ID).lean();
  const removed = new Set(overrides?.removed ?? []);
  const holidays = [...new Set([...ctx.config.holidays, ...(overrides?.added ?? [])])].filter((date) => !removed.has(date));
  ctx.calendar = new TradingCalendar({ holidays, cutoff: ctx.config.cutoff, zone: ctx.config.zone });
  loadedAt.set(ctx, Date.now());
}

export async function refreshCalendarIfStale(ctx: AppContext): Promise<void> {
  if (Date.now() - (loadedAt.get(ctx) ?? 0) >= CALENDAR_REFRESH_MS) await refreshCalendar(ctx);
}

/**
 * Ops mark a future date as a holiday or a trading day. Today and the past are fixed: trade
 * and confirm dates already given out were computed from them.
 */
export async function setHoliday(ctx: AppContext, date: string, holiday: boolean): Promise<{ date: string; holiday: boolean }> {
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  if (date <= today) throw new DomainError('date_not_in_future', `Only dates after today (${today}) can change`);
  if (isWeekend(date)) throw new DomainError('weekend_date', `${date} is a weekend day: it never trades`);
  const update = holiday
    ? { $addToSet: { added: date }, $pull: { removed: date } }
    : { $addToSet: { removed: date }, $pull: { added: date } };
  await retryOnWriteConflict(() => HolidayOverrides.updateOne({ _id: OVERRIDES_ID }, update, { upsert: true }), {
    retryDuplicateKey: true,
  });
  await refreshCalendar(ctx);
  return { date, holiday: !ctx.calendar.isTradingDay(date) };
}

export function holidaysBetween(ctx: AppContext, from: string, to: string): string[] {
  const dates: string[] = [];
  for (let date = from; date <= to; date = ctx.calendar.addCalendarDays(date, 1)) {
    if (!ctx.calendar.isTradingDay(date) && !isWeekend(date)) dates.push(date);
  }
  return dates;
}

function isWeekend(date: string): boolean {
  return toUtcDay(date).weekday >= 6;
}
