// The Asia/Shanghai trading calendar: which days trade, the 15:00 cut-off, T and T+1.
import { DateTime, IANAZone } from 'luxon';
import { addCalendarDays, daysBetween, isBusinessDate, toUtcDay } from './businessDate.ts';

export interface TradingCalendarOptions {
  /** Public holidays, 'yyyy-MM-dd'. Weekends need not be listed. */
  holidays: readonly string[];
  /** Weekend days worked in exchange for a holiday (调休): known, so ops see them; never trading days. */
  makeUpWorkdays?: readonly string[];
  /** The last day the holiday list speaks for (src/calendar/holidaySchedule.ts). */
  knownThrough: string;
  /** 'HH:mm' local time; a request at or after it trades on the next trading day. */
  cutoff?: string;
  zone?: string;
}

const CUTOFF_PATTERN = /^([01]\d|2[0-3]):([0-5]\d)$/;
// A year without a trading day means the holiday list is wrong: stop instead of looping.
const TRADING_DAY_SEARCH_MAX_DAYS = 366;
const MS_PER_MINUTE = 60_000;
// Next trading days remembered: a few years of dates, forgotten together when full.
const NEXT_TRADING_DAYS_REMEMBERED_MAX = 2048;

/** Where an instant falls in the zone's days: the same for every instant of one UTC minute. */
interface LocalMinute {
  epochMinute: number;
  businessDate: string;
  tradeDate: string;
}

export class TradingCalendar {
  readonly zone: string;
  readonly cutoff: string;
  readonly knownThrough: string;
  readonly #holidays: ReadonlySet<string>;
  readonly #makeUpWorkdays: ReadonlySet<string>;
  readonly #cutoffMinutes: number;
  // Every money request asks for its dates, and luxon's date arithmetic cost about a tenth
  // of a redemption's CPU in the API process: the current minute's dates and each date's
  // next trading day are worked out once.
  #lastMinute: LocalMinute | undefined;
  readonly #nextTradingDays = new Map<string, string>();

  constructor({ holidays, makeUpWorkdays = [], knownThrough, cutoff = '15:00', zone = 'Asia/Shanghai' }: TradingCalendarOptions) {
    const cutoffMatch = CUTOFF_PATTERN.exec(cutoff);
    if (!cutoffMatch) throw new RangeError(`TradingCalendar: cutoff must be HH:mm, got ${JSON.stringify(cutoff)}`);
    if (!IANAZone.isValidZone(zone)) throw new RangeError(`TradingCalendar: unknown zone ${JSON.stringify(zone)}`);
    const badDate = [...holidays, ...makeUpWorkdays, knownThrough].find((date) => !isBusinessDate(date));
    if (badDate !== undefined) throw new RangeError(`TradingCalendar: bad holiday date ${JSON.stringify(badDate)}`);
    this.zone = zone;
    this.cutoff = cutoff;
    this.knownThrough = knownThrough;
    this.#cutoffMinutes = Number(cutoffMatch[1]) * 60 + Number(cutoffMatch[2]);
    this.#holidays = new Set(holidays);
    this.#makeUpWorkdays = new Set(makeUpWorkdays);
  }

  /** What it was built with: a worker thread builds the same calendar from it (src/planning/planWorker.ts). */
  get options(): Required<TradingCalendarOptions> {
    return { holidays: [...this.#holidays], makeUpWorkdays: [...this.#makeUpWorkdays], knownThrough: this.knownThrough, cutoff: this.cutoff, zone: this.zone };
  }

  /** The calendar day of the instant in the calendar's zone. */
  businessDateOf(instant: Date): string {
    return this.#localMinute(instant).businessDate;
  }

  /**
   * A weekday that is not a holiday. Weekend make-up working days do not trade: China's
   * exchanges stay shut on every weekend day, and a fund trades only when they are open.
   */
  isTradingDay(businessDate: string): boolean {
    const isWeekday = toUtcDay(businessDate).weekday <= 5;
    return isWeekday && !this.#holidays.has(businessDate);
  }

  /** A weekend day worked in exchange for a holiday (调休): a working day that does not trade. */
  isMakeUpWorkday(businessDate: string): boolean {
    return this.#makeUpWorkdays.has(businessDate);
  }

  /** The first trading day strictly after the date. */
  nextTradingDay(businessDate: string): string {
    let next = this.#nextTradingDays.get(businessDate);
    if (next === undefined) {
      if (this.#nextTradingDays.size >= NEXT_TRADING_DAYS_REMEMBERED_MAX) this.#nextTradingDays.clear();
      this.#nextTradingDays.set(businessDate, (next = this.#searchNextTradingDay(businessDate)));
    }
    return next;
  }

  #searchNextTradingDay(businessDate: string): string {
    let candidate = businessDate;
    for (let step = 0; step < TRADING_DAY_SEARCH_MAX_DAYS; step++) {
      candidate = addCalendarDays(candidate, 1);
      if (this.isTradingDay(candidate)) return candidate;
    }
    throw new Error(`TradingCalendar: no trading day within a year after ${businessDate}`);
  }

  /** T: the instant's own day if it trades and the instant is before the cut-off, else the next trading day. */
  tradeDateOf(instant: Date): string {
    return this.#localMinute(instant).tradeDate;
  }

  /** The first trading day after T, when a subscription is confirmed or a redemption settles. */
  confirmDateOf(tradeDate: string): string {
    if (!this.isTradingDay(tradeDate)) throw new RangeError(`confirmDateOf: ${tradeDate} is not a trading day`);
    return this.nextTradingDay(tradeDate);
  }

  addCalendarDays(businessDate: string, days: number): string {
    return addCalendarDays(businessDate, days);
  }

  /** Calendar days from `from` to `to`: positive when `to` is later. */
  daysBetween(from: string, to: string): number {
    return daysBetween(from, to);
  }

  /** Zone offsets are whole minutes, so one UTC minute is one local minute. */
  #localMinute(instant: Date): LocalMinute {
    const epochMinute = Math.floor(instant.getTime() / MS_PER_MINUTE);
    if (this.#lastMinute?.epochMinute === epochMinute) return this.#lastMinute;
    const localTime = DateTime.fromJSDate(instant, { zone: this.zone });
    if (!localTime.isValid) throw new RangeError(`TradingCalendar: invalid instant ${String(instant)}`);
    const businessDate = localTime.toISODate();
    const beforeCutoff = localTime.hour * 60 + localTime.minute < this.#cutoffMinutes;
    const tradeDate = beforeCutoff && this.isTradingDay(businessDate) ? businessDate : this.nextTradingDay(businessDate);
    this.#lastMinute = { epochMinute, businessDate, tradeDate };
    return this.#lastMinute;
  }
}
