// Which days China takes off, from three sources in rising precedence: the chinese-days
// package (it follows the State Council's yearly notices: upgrading it brings next year's),
// the config's `holidays`, and ops' overrides. docs/calendar.md says why each is read so.
import officialDays from 'chinese-days/dist/chinese-days.json' with { type: 'json' };
import { daysBetween } from './businessDate.ts';

export interface HolidaySchedule {
  /** Public holidays, 'yyyy-MM-dd' (the weekend days inside a holiday among them). */
  holidays: readonly string[];
  /** Weekend days worked in exchange for a holiday (调休): offices work, the exchanges stay shut. */
  makeUpWorkdays: readonly string[];
  /** The last day any source speaks for: later days are unknown, not plain weekdays. */
  knownThrough: string;
}

/** Ops' changes to the list: dates made holidays and dates made trading days. */
export interface HolidayOverrides {
  added: readonly string[];
  removed: readonly string[];
}

const NO_OVERRIDES: HolidayOverrides = { added: [], removed: [] };

const yearOf = (date: string) => date.slice(0, 4);
const endOfYear = (year: string) => `${year}-12-31`;
const latest = (dates: readonly string[]) => dates.reduce((later, date) => (date > later ? date : later));

/** A notice covers a whole year, so the package knows every day of the last year it lists. */
const OFFICIAL: HolidaySchedule = {
  holidays: Object.keys(officialDays.holidays),
  makeUpWorkdays: Object.keys(officialDays.workdays),
  knownThrough: endOfYear(yearOf(latest([...Object.keys(officialDays.holidays), ...Object.keys(officialDays.workdays)]))),
};

/**
 * The package's schedule, under the config's list for each year the config names (its list is
 * that year's whole list, so it can also correct the package), under ops' date-by-date changes.
 * An override extends the known schedule only to its own date: one added closure does not
 * vouch for the rest of its year.
 */
export function holidayScheduleOf(configHolidays: readonly string[], overrides: HolidayOverrides = NO_OVERRIDES): HolidaySchedule {
  const configYears = new Set(configHolidays.map(yearOf));
  const removed = new Set(overrides.removed);
  const holidays = new Set([...OFFICIAL.holidays.filter((date) => !configYears.has(yearOf(date))), ...configHolidays, ...overrides.added]);
  const knownThrough = latest([OFFICIAL.knownThrough, ...[...configYears].map(endOfYear), ...overrides.added]);
  return { holidays: [...holidays].filter((date) => !removed.has(date)).sort(), makeUpWorkdays: OFFICIAL.makeUpWorkdays, knownThrough };
}

/**
 * Warning time before the known schedule ends: the State Council publishes next year's
 * holidays between late October and December, so the alarm starts about when it is due.
 */
export const SCHEDULE_ALARM_DAYS = 60;

/** `ending`: the known schedule ends within SCHEDULE_ALARM_DAYS; `ended`: today is past it. */
export const SCHEDULE_STATUSES = ['known', 'ending', 'ended'] as const;
export type ScheduleStatus = (typeof SCHEDULE_STATUSES)[number];

export interface ScheduleCoverage {
  knownThrough: string;
  /** Days from today to knownThrough: 0 on its last day, negative once it has ended. */
  daysRemaining: number;
  status: ScheduleStatus;
}

export function scheduleCoverageOn(today: string, knownThrough: string): ScheduleCoverage {
  const daysRemaining = daysBetween(today, knownThrough);
  const status = daysRemaining < 0 ? 'ended' : daysRemaining <= SCHEDULE_ALARM_DAYS ? 'ending' : 'known';
  return { knownThrough, daysRemaining, status };
}
