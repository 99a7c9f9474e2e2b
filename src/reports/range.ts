import { DateTime } from 'luxon';
import type { AppContext } from '../context.ts';
import { askedOrRecentDays, datesInRange } from '../fund/service.ts';
import { badRequest } from '../errors.ts';

/** A report reads a bounded number of days: every one is a handful of equality lookups. */
export const REPORT_DAYS_MAX = 92;
const DEFAULT_DAYS = 30;

export interface ReportRange {
  from: string;
  to: string;
  /** Every calendar day from..to, oldest first. */
  dates: string[];
}

/**
 * The days a report covers: from..to as asked, or the 30 days through today (so today's
 * movements show, as they stand now). Both or neither, from not after to, at most 92 days, and
 * nothing after today (a day that has not begun has no figures).
 */
export function reportRange(ctx: AppContext, from?: string, to?: string): ReportRange {
  const range = askedOrRecentDays(ctx, from, to, DEFAULT_DAYS);
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  if (range.to > today) {
    throw badRequest(`to must not be after today, ${today} in ${ctx.config.zone}`, {}, { key: 'invalid_request_to_after_today', values: { today, zone: ctx.config.zone } });
  }
  return { ...range, dates: datesInRange(ctx, range.from, range.to, REPORT_DAYS_MAX) };
}

/** The instant a business date begins in the service's zone (00:00 Beijing time). */
export function startOfDay(ctx: AppContext, date: string): Date {
  return DateTime.fromISO(date, { zone: ctx.config.zone }).toJSDate();
}

/** The instant a business date ends: the start of the next one. */
export function endOfDay(ctx: AppContext, date: string): Date {
  return startOfDay(ctx, ctx.calendar.addCalendarDays(date, 1));
}
