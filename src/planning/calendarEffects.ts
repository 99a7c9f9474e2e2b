/**
 * What a business date is, for the flows (docs/reserve-forecast.md): weekday, working day or
 * not, where it stands to a long break (Spring Festival, National Day, ...), make-up working
 * days, month and quarter ends, paydays and named shopping festivals. The generator draws its
 * effects from these and the forecast fits one coefficient to each.
 */
import { addCalendarDays, toUtcDay } from '../calendar/businessDate.ts';
import type { TradingCalendar } from '../calendar/tradingCalendar.ts';

/** What the planner asks of the trading calendar: ctx.calendar answers it. */
export type PlanningCalendar = Pick<TradingCalendar, 'isTradingDay' | 'isMakeUpWorkday'>;

/** A shopping festival held on the same month and day every year ('11-11' for Singles' Day). */
export interface Festival {
  name: string;
  /** MM-dd */
  monthDay: string;
}

export const DEFAULT_FESTIVALS: readonly Festival[] = [
  { name: '618', monthDay: '06-18' },
  { name: 'double11', monthDay: '11-11' },
  { name: 'double12', monthDay: '12-12' },
];

/** Days of the month salaries are paid on; one that falls on a day off is paid the working day before (提前发放). */
export const DEFAULT_PAYDAYS: readonly number[] = [10, 15];

/** Days off in a row from which a break counts as long: a plain weekend is 2. */
export const LONG_BREAK_DAYS_MIN = 3;
/** A break this long is a major one (Spring Festival, National Day). */
export const MAJOR_BREAK_DAYS_MIN = 7;
/** Room around the asked days to see whole breaks (Spring Festival is 8-9 days) and month ends. */
const WINDOW_MARGIN_DAYS = 47;

export interface DayContext {
  date: string;
  /** 1 = Monday .. 7 = Sunday */
  weekday: number;
  /** A trading day or a make-up working day: offices work. */
  working: boolean;
  makeUpWorkday: boolean;
  /** A day off inside a break of LONG_BREAK_DAYS_MIN days or more: 0 otherwise. */
  inBreakDays: number;
  /** A working day before a long break: the break's length, and 1 on its eve, 2 the working day before; 0 when none is ahead within 2 working days. */
  breakAheadDays: number;
  workingDaysToBreak: number;
  /** A working day after a long break: its length, and 1 on the first working day after, 2 the next. */
  breakBehindDays: number;
  workingDaysSinceBreak: number;
  /** The last working day of its month, and of a quarter. */
  monthEnd: boolean;
  quarterEnd: boolean;
  payday: boolean;
  /** The festival held that day, if any. */
  festival: string | null;
}

export interface CalendarEffectOptions {
  festivals?: readonly Festival[];
  paydays?: readonly number[];
}

/** The contexts of `days` dates from `fromDate`, in date order. */
export function dayContexts(calendar: PlanningCalendar, fromDate: string, days: number, options: CalendarEffectOptions = {}): DayContext[] {
  const festivals = new Map((options.festivals ?? DEFAULT_FESTIVALS).map((festival) => [festival.monthDay, festival.name]));
  const paydays = options.paydays ?? DEFAULT_PAYDAYS;
  // The window reaches far enough on both sides to see each day's break and its month's end.
  const windowStart = addCalendarDays(fromDate, -WINDOW_MARGIN_DAYS);
  const windowDays = days + 2 * WINDOW_MARGIN_DAYS;
  const dates = Array.from({ length: windowDays }, (_, index) => addCalendarDays(windowStart, index));
  const working = dates.map((date) => calendar.isTradingDay(date) || calendar.isMakeUpWorkday(date));
  const breakLength = breakLengths(working);
  const paid = paidDays(dates, working, paydays);
  return Array.from({ length: days }, (_, index) => {
    const at = WINDOW_MARGIN_DAYS + index;
    const date = dates[at]!;
    const ahead = working[at] ? nearBreak(working, breakLength, at, 1) : NO_BREAK;
    const behind = working[at] ? nearBreak(working, breakLength, at, -1) : NO_BREAK;
    const monthEnd = working[at]! && isLastWorkingDayOfMonth(dates, working, at);
    return {
      date,
      weekday: toUtcDay(date).weekday,
      working: working[at]!,
      makeUpWorkday: calendar.isMakeUpWorkday(date),
      inBreakDays: !working[at] && breakLength[at]! >= LONG_BREAK_DAYS_MIN ? breakLength[at]! : 0,
      breakAheadDays: ahead.length,
      workingDaysToBreak: ahead.distance,
      breakBehindDays: behind.length,
      workingDaysSinceBreak: behind.distance,
      monthEnd,
      quarterEnd: monthEnd && Number(date.slice(5, 7)) % 3 === 0,
      payday: paid.has(at),
      festival: festivals.get(date.slice(5)) ?? null,
    };
  });
}

/** For each day off, the length of its run of days off; 0 for a working day. */
function breakLengths(working: readonly boolean[]): number[] {
  const lengths = new Array<number>(working.length).fill(0);
  for (let start = 0; start < working.length; ) {
    if (working[start]) {
      start++;
      continue;
    }
    let end = start;
    while (end < working.length && !working[end]) end++;
    lengths.fill(end - start, start, end);
    start = end;
  }
  return lengths;
}

const NO_BREAK = { length: 0, distance: 0 };

/**
 * The long break within 2 working days of a working day, looking forward (step 1) or back
 * (step -1): 1 for the eve (or the first day back), 2 for the working day before that. A plain
 * weekend on the way is stepped over without counting.
 */
function nearBreak(working: readonly boolean[], breakLength: readonly number[], at: number, step: 1 | -1) {
  let distance = 1;
  for (let index = at + step; index >= 0 && index < working.length; ) {
    if (working[index]) {
      if (++distance > 2) return NO_BREAK;
      index += step;
    } else if (breakLength[index]! >= LONG_BREAK_DAYS_MIN) {
      return { length: breakLength[index]!, distance };
    } else {
      index += step * breakLength[index]!;
    }
  }
  return NO_BREAK;
}

function isLastWorkingDayOfMonth(dates: readonly string[], working: readonly boolean[], at: number): boolean {
  const month = dates[at]!.slice(0, 7);
  for (let index = at + 1; index < dates.length && dates[index]!.startsWith(month); index++) if (working[index]) return false;
  return true;
}

/** Indexes of the days salaries arrive: each payday, or the last working day before it when it is a day off. */
function paidDays(dates: readonly string[], working: readonly boolean[], paydays: readonly number[]): Set<number> {
  const paid = new Set<number>();
  dates.forEach((date, index) => {
    if (!paydays.includes(Number(date.slice(8, 10)))) return;
    let payIndex = index;
    while (payIndex > 0 && !working[payIndex]) payIndex--;
    paid.add(payIndex);
  });
  return paid;
}
