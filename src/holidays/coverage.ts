import { observeAlert } from '../alertStates/service.ts';
import type { AppContext } from '../context.ts';
import { scheduleCoverageOn, type ScheduleCoverage } from '../calendar/holidaySchedule.ts';

// The business day each process last warned on: a warning a day, however often it is asked.
const warnedOn = new WeakMap<AppContext, string>();

/**
 * How far the known holiday schedule reaches from today. Past its end every weekday would
 * trade, holidays or not, so the log says so once a day per process (a process has one
 * context) from SCHEDULE_ALARM_DAYS before the end: a warning, then an error once it ended.
 */
export function checkScheduleCoverage(ctx: AppContext): ScheduleCoverage {
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  const coverage = scheduleCoverageOn(today, ctx.calendar.knownThrough);
  if (coverage.status !== 'known' && warnedOn.get(ctx) !== today) {
    warnedOn.set(ctx, today);
    const level = coverage.status === 'ended' ? 'error' : 'warn';
    ctx.log[level]({ ...coverage, today }, scheduleWarningOf(coverage));
  }
  return coverage;
}

/** What the log and /readyz say about a schedule that is ending or has ended. */
export function scheduleWarningOf({ knownThrough, daysRemaining, status }: ScheduleCoverage): string {
  const remedy = 'upgrade the chinese-days package or add the coming holidays to the config `holidays`';
  if (status === 'ended') return `calendar: the known holiday schedule ended on ${knownThrough}; later weekdays are treated as trading days: ${remedy}`;
  return `calendar: the known holiday schedule ends on ${knownThrough}, in ${daysRemaining} days: ${remedy}`;
}

export const CALENDAR_ALERT_KEY = 'calendar:coverage';

/**
 * `calendar.coverage_ending`: filed when the schedule starts to end (SCHEDULE_ALARM_DAYS before
 * its last known day, or already past it) by the minute job's look; once per crossing, and
 * again only after new holidays made it known again.
 */
export async function watchScheduleCoverage(ctx: AppContext): Promise<void> {
  const coverage = checkScheduleCoverage(ctx);
  await observeAlert(CALENDAR_ALERT_KEY, coverage.status !== 'known', { firing: 'calendar.coverage_ending' }, ctx.clock.now(), { coverage });
}
