/**
 * The forecast of each flow channel for the next days, with prediction intervals
 * (docs/reserve-forecast.md says why this method):
 *
 * - a multiplicative seasonal baseline: log(total + ε) fitted by weighted ridge least squares
 *   on calendar features (weekday, days inside a long break, the working days before and after
 *   one, make-up working days, month and quarter ends, paydays, each shopping festival) and a
 *   linear trend, the older days weighing less, and the level of the last three weeks;
 * - intervals from the empirical quantiles of out-of-sample errors: the same model fitted at
 *   each of the last weeks' origins and compared with the days that followed (split conformal),
 *   so the stated coverage is what such forecasts achieved, not what the model believes;
 * - a history too short to fit (under REGRESSION_DAYS_MIN days) falls back to weekday means.
 *
 * Statistics run on numbers; the amounts answered are integer fen, rounded explicitly (the
 * point to the nearest fen, the lower bound down and the upper up).
 */
import { addCalendarDays, daysBetween } from '../calendar/businessDate.ts';
import { dayContexts, DEFAULT_FESTIVALS, MAJOR_BREAK_DAYS_MIN, type DayContext, type Festival, type PlanningCalendar } from './calendarEffects.ts';
import { FLOW_CHANNELS, perChannel, type DailyFlow, type FlowChannel, type PerChannel } from './flows.ts';

export interface ChannelForecast {
  pointFen: bigint;
  lowerFen: bigint;
  upperFen: bigint;
}

export interface DailyForecast {
  date: string;
  channels: PerChannel<ChannelForecast>;
}

export interface ForecastOptions {
  /** The first day forecast, yyyy-MM-dd: only history before it is used. */
  fromDate: string;
  days: number;
  /** The share of days the interval should hold, in percent: 90 unless told. */
  coveragePercent?: number;
  festivals?: readonly Festival[];
  paydays?: readonly number[];
}

export const FORECAST_METHODS = ['calendar_regression', 'weekday_means', 'no_history'] as const;
export type ForecastMethod = (typeof FORECAST_METHODS)[number];

/** Days a fit needs: eight weeks show each weekday eight times. */
const FIT_DAYS_MIN = 56;
/** Eight weeks to fit the calendar effects and four more of out-of-sample errors to size the intervals. */
export const REGRESSION_DAYS_MIN = FIT_DAYS_MIN + 28;
/** Days fitted: older ones add little and cost time. */
const TRAINING_DAYS_MAX = 3 * 366;
/** A forecast reaches a year ahead at most. */
export const FORECAST_DAYS_MAX = 366;
/** A day a year older weighs half as much: effects drift, the rare ones still need last year. */
const WEIGHT_HALF_LIFE_DAYS = 365;
/** Ridge penalty on each calendar effect (in recent days' weight): keeps an effect seen once or never from running wild. */
const RIDGE_PENALTY = 0.3;
/** The days whose mean error sets the level the forecast starts from: three weeks. */
const LEVEL_DAYS = 21;
/** Weekly origins whose out-of-sample errors size the intervals: a quarter of them. */
const CALIBRATION_ORIGINS = 13;
const CALIBRATION_STEP_DAYS = 7;
/** Forecasts are judged up to this far ahead when sizing intervals; longer horizons reuse the last. */
const CALIBRATION_HORIZON_DAYS_MAX = 28;
/** Same weekdays averaged by the fallback. */
const WEEKDAY_MEAN_WEEKS = 4;
/** Fewer fallback errors than this: the interval is [0, 2 × point], wide on purpose. */
const FALLBACK_ERRORS_MIN = 10;
const DAYS_PER_YEAR = 365.25;

/** Which method the forecast uses for a history: the regression needs REGRESSION_DAYS_MIN days within TRAINING_DAYS_MAX before the first day forecast. */
export function forecastMethodOf(history: readonly DailyFlow[], fromDate: string): ForecastMethod {
  const since = addCalendarDays(fromDate, -TRAINING_DAYS_MAX);
  return methodFor(history.filter((day) => since <= day.date && day.date < fromDate).length);
}

const methodFor = (trainingDays: number): ForecastMethod =>
  trainingDays >= REGRESSION_DAYS_MIN ? 'calendar_regression' : trainingDays > 0 ? 'weekday_means' : 'no_history';

export function forecastFlows(history: readonly DailyFlow[], calendar: PlanningCalendar, options: ForecastOptions): DailyForecast[] {
  return createForecaster(history, calendar, options).forecast(options.fromDate, options.days);
}

export interface Forecaster {
  forecast(fromDate: string, days: number): DailyForecast[];
}

/**
 * A forecaster over one history: fits are remembered by origin, so a back-test that moves its
 * origin a week at a time fits each origin once (each origin's intervals need the fits of the
 * weeks before it).
 */
export function createForecaster(history: readonly DailyFlow[], calendar: PlanningCalendar, options: Omit<ForecastOptions, 'fromDate' | 'days'>): Forecaster {
  const coveragePercent = options.coveragePercent ?? 90;
  if (!(coveragePercent > 0 && coveragePercent < 100)) throw new RangeError(`forecast: coveragePercent must be above 0 and below 100, got ${coveragePercent}`);
  const days = [...history].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  const timeline = new Timeline(days, calendar, options);
  const fits = new Map<number, ChannelFits | null>();
  const fitAt = (origin: number) => {
    if (!fits.has(origin)) fits.set(origin, fitOrigin(timeline, origin));
    return fits.get(origin)!;
  };
  return {
    forecast(fromDate, count) {
      if (!Number.isInteger(count) || count < 0 || count > FORECAST_DAYS_MAX) throw new RangeError(`forecast: days must be a whole number from 0 to ${FORECAST_DAYS_MAX}`);
      if (days.length === 0) return Array.from({ length: count }, (_, offset) => ({ date: addCalendarDays(fromDate, offset), channels: perChannel(() => NOTHING) }));
      timeline.extendThrough(addCalendarDays(fromDate, count));
      const origin = timeline.indexOf(fromDate);
      const regression = methodFor(timeline.trainingDays(origin).length) === 'calendar_regression';
      const channels = regression ? regressionForecast(timeline, fitAt, origin, count, coveragePercent) : weekdayMeanForecast(timeline, origin, count, coveragePercent);
      return Array.from({ length: count }, (_, offset) => ({
        date: addCalendarDays(fromDate, offset),
        channels: perChannel((channel) => channels[channel][offset]!),
      }));
    },
  };
}

/** The history laid on a day-by-day axis with each day's calendar features, grown as forecasts reach further. */
class Timeline {
  readonly startDate: string;
  readonly observed: (PerChannel<number> | undefined)[] = [];
  readonly contexts: DayContext[] = [];
  readonly features: Float64Array[] = [];
  readonly festivalNames: string[];
  readonly #calendar: PlanningCalendar;
  readonly #options: Omit<ForecastOptions, 'fromDate' | 'days'>;

  constructor(days: readonly DailyFlow[], calendar: PlanningCalendar, options: Omit<ForecastOptions, 'fromDate' | 'days'>) {
    this.#calendar = calendar;
    this.#options = options;
    this.festivalNames = (options.festivals ?? DEFAULT_FESTIVALS).map((festival) => festival.name);
    this.startDate = days[0]?.date ?? '1970-01-01';
    for (const day of days) this.observed[this.indexOf(day.date)] = perChannel((channel) => Number(day.totalsFen[channel]));
    if (days.length > 0) this.extendThrough(days.at(-1)!.date);
  }

  indexOf(date: string): number {
    return daysBetween(this.startDate, date);
  }

  dateOf(index: number): string {
    return addCalendarDays(this.startDate, index);
  }

  extendThrough(date: string): void {
    const known = this.contexts.length;
    const needed = this.indexOf(date) + 1 - known;
    if (needed <= 0) return;
    const added = dayContexts(this.#calendar, this.dateOf(known), needed, this.#options);
    for (const context of added) {
      this.contexts.push(context);
      this.features.push(calendarFeatures(context, this.festivalNames));
    }
  }

  /** The indexes of the days with history that a forecast from `index` learns from, oldest first. */
  trainingDays(index: number): number[] {
    const days: number[] = [];
    for (let at = Math.max(0, index - TRAINING_DAYS_MAX); at < Math.min(index, this.observed.length); at++) if (this.observed[at]) days.push(at);
    return days;
  }
}

/**
 * How a channel's totals go on the log scale for the days a forecast learns from: log(total + ε),
 * ε a hundredth of the median day (at least a yuan), so a day of zero has a finite log far
 * below a normal day's. A channel that never flowed on those days is forecast at zero.
 */
interface LogScale {
  offset: number;
  flowed: boolean;
}

function logScaleOf(timeline: Timeline, days: readonly number[], channel: FlowChannel): LogScale {
  const positive = days.map((at) => timeline.observed[at]![channel]).filter((total) => total > 0).sort((a, b) => a - b);
  const median = positive.length > 0 ? positive[Math.floor(positive.length / 2)]! : 0;
  return { offset: Math.max(100, median / 100), flowed: positive.length > 0 };
}

const logTotal = (timeline: Timeline, at: number, channel: FlowChannel, scale: LogScale) => Math.log(timeline.observed[at]![channel] + scale.offset);

/** The features of a day; the intercept and the trend are added by the fit. */
export const CALENDAR_FEATURES = [
  'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday',
  'makeUpWorkday', 'inLongBreak', 'inMajorBreak',
  'eveOfLongBreak', 'eveOfMajorBreak', 'secondDayBeforeLongBreak',
  'firstDayAfterLongBreak', 'firstDayAfterMajorBreak', 'secondDayAfterLongBreak',
  'monthEnd', 'quarterEnd', 'payday',
] as const;

function calendarFeatures(day: DayContext, festivalNames: readonly string[]): Float64Array {
  const flag = (condition: boolean) => (condition ? 1 : 0);
  const major = (days: number) => days >= MAJOR_BREAK_DAYS_MIN;
  const values = [
    ...[2, 3, 4, 5, 6, 7].map((weekday) => flag(day.weekday === weekday)),
    flag(day.makeUpWorkday),
    flag(day.inBreakDays > 0),
    flag(major(day.inBreakDays)),
    flag(day.workingDaysToBreak === 1),
    flag(day.workingDaysToBreak === 1 && major(day.breakAheadDays)),
    flag(day.workingDaysToBreak === 2),
    flag(day.workingDaysSinceBreak === 1),
    flag(day.workingDaysSinceBreak === 1 && major(day.breakBehindDays)),
    flag(day.workingDaysSinceBreak === 2),
    flag(day.monthEnd),
    flag(day.quarterEnd),
    flag(day.payday),
    ...festivalNames.map((name) => flag(day.festival === name)),
  ];
  return Float64Array.from(values);
}

/** A channel's fit at one origin: its log scale and coefficients (intercept, trend per year from the origin, then the calendar features). */
interface ChannelFit {
  scale: LogScale;
  coefficients: Float64Array;
}
type ChannelFits = PerChannel<ChannelFit>;

/** The fit on the days before `origin`, or null when they are too few. */
function fitOrigin(timeline: Timeline, origin: number): ChannelFits | null {
  const days = timeline.trainingDays(origin);
  if (days.length < FIT_DAYS_MIN) return null;
  const scales = perChannel((channel) => logScaleOf(timeline, days, channel));
  const width = 2 + timeline.features[0]!.length;
  const gram = new Float64Array(width * width);
  const moments = perChannel(() => new Float64Array(width));
  const row = new Float64Array(width);
  for (const at of days) {
    const weight = 0.5 ** ((origin - at) / WEIGHT_HALF_LIFE_DAYS);
    fillRow(row, timeline, at, origin);
    for (let i = 0; i < width; i++) {
      const weighted = weight * row[i]!;
      if (weighted === 0) continue;
      for (let j = i; j < width; j++) gram[i * width + j]! += weighted * row[j]!;
      for (const channel of FLOW_CHANNELS) moments[channel][i]! += weighted * logTotal(timeline, at, channel, scales[channel]);
    }
  }
  for (let i = 0; i < width; i++) for (let j = 0; j < i; j++) gram[i * width + j] = gram[j * width + i]!;
  for (let i = 2; i < width; i++) gram[i * width + i]! += RIDGE_PENALTY;
  return perChannel((channel) => withRecentLevel(timeline, days, origin, { scale: scales[channel], coefficients: solveSymmetric(gram, moments[channel], width) }, channel));
}

/**
 * The fit moved to the level of the last LEVEL_DAYS days: their mean error is added to the
 * intercept. The trend follows the year; this follows a level that wanders for weeks (a
 * promotion of the fund, a competitor's yield), which the days' weights alone react to slowly.
 */
function withRecentLevel(timeline: Timeline, days: readonly number[], origin: number, fit: ChannelFit, channel: FlowChannel): ChannelFit {
  const recent = days.slice(-LEVEL_DAYS);
  let errorSum = 0;
  for (const at of recent) errorSum += logTotal(timeline, at, channel, fit.scale) - predictLog(fit, timeline, at, origin);
  fit.coefficients[0] = fit.coefficients[0]! + errorSum / recent.length;
  return fit;
}

function fillRow(row: Float64Array, timeline: Timeline, at: number, origin: number): void {
  row[0] = 1;
  row[1] = (at - origin) / DAYS_PER_YEAR;
  row.set(timeline.features[at]!, 2);
}

function predictLog({ coefficients }: ChannelFit, timeline: Timeline, at: number, origin: number): number {
  const row = new Float64Array(coefficients.length);
  fillRow(row, timeline, at, origin);
  let sum = 0;
  for (let i = 0; i < coefficients.length; i++) sum += coefficients[i]! * row[i]!;
  return sum;
}

/** Solves A x = b for a symmetric positive definite A (Cholesky). */
function solveSymmetric(matrix: Float64Array, rhs: Float64Array, size: number): Float64Array {
  const lower = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = matrix[i * size + j]!;
      for (let k = 0; k < j; k++) sum -= lower[i * size + k]! * lower[j * size + k]!;
      // An intercept or trend the data cannot tell apart (a single day): a tiny floor keeps the solve finite.
      lower[i * size + j] = i === j ? Math.sqrt(Math.max(sum, 1e-9)) : sum / lower[j * size + j]!;
    }
  }
  const forward = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    let sum = rhs[i]!;
    for (let k = 0; k < i; k++) sum -= lower[i * size + k]! * forward[k]!;
    forward[i] = sum / lower[i * size + i]!;
  }
  const solution = new Float64Array(size);
  for (let i = size - 1; i >= 0; i--) {
    let sum = forward[i]!;
    for (let k = i + 1; k < size; k++) sum -= lower[k * size + i]! * solution[k]!;
    solution[i] = sum / lower[i * size + i]!;
  }
  return solution;
}

function regressionForecast(
  timeline: Timeline,
  fitAt: (origin: number) => ChannelFits | null,
  origin: number,
  count: number,
  coveragePercent: number,
): PerChannel<ChannelForecast[]> {
  const fit = fitAt(origin)!;
  const horizonMax = Math.min(Math.max(count, 1), CALIBRATION_HORIZON_DAYS_MAX);
  const errors = calibrationErrors(timeline, fitAt, origin, horizonMax);
  return perChannel((channel) => {
    const { scale } = fit[channel];
    if (!scale.flowed) return Array.from({ length: count }, () => NOTHING);
    const [lowerError, upperError] = errorQuantiles(errors[channel], coveragePercent);
    return Array.from({ length: count }, (_, offset) => {
      const logPoint = predictLog(fit[channel], timeline, origin + offset, origin);
      return amountsOf(logPoint, logPoint + lowerError, logPoint + upperError, scale.offset);
    });
  });
}

/** Log errors (actual − forecast) of the fits at the weekly origins before `origin`, on the days after each that the history has. */
function calibrationErrors(timeline: Timeline, fitAt: (origin: number) => ChannelFits | null, origin: number, horizonMax: number): PerChannel<number[]> {
  const errors = perChannel<number[]>(() => []);
  for (let step = 1; step <= CALIBRATION_ORIGINS + Math.ceil(horizonMax / CALIBRATION_STEP_DAYS); step++) {
    const pastOrigin = origin - step * CALIBRATION_STEP_DAYS;
    const fit = fitAt(pastOrigin);
    if (!fit) break;
    for (let at = pastOrigin; at < Math.min(origin, pastOrigin + horizonMax); at++) {
      if (!timeline.observed[at]) continue;
      for (const channel of FLOW_CHANNELS) errors[channel].push(logTotal(timeline, at, channel, fit[channel].scale) - predictLog(fit[channel], timeline, at, pastOrigin));
    }
  }
  return errors;
}

/**
 * The errors' quantiles at the interval's two tails, with the split-conformal correction for a
 * finite sample (the ⌈(n+1)(1−α/2)⌉-th smallest): with too few errors, the interval is as wide as
 * the widest error seen.
 */
function errorQuantiles(errors: number[], coveragePercent: number): [number, number] {
  if (errors.length === 0) return [-Infinity, Math.log(2)];
  const sorted = [...errors].sort((a, b) => a - b);
  const tail = (1 - coveragePercent / 100) / 2;
  const rank = Math.min(sorted.length, Math.ceil((sorted.length + 1) * (1 - tail)));
  return [sorted[sorted.length - rank]!, sorted[rank - 1]!];
}

/** Fen from the log scale: the point rounded to the nearest fen, the lower bound down, the upper up, none below zero. */
function amountsOf(logPoint: number, logLower: number, logUpper: number, offset: number): ChannelForecast {
  const fenOf = (logValue: number, round: (value: number) => number) => BigInt(Math.max(0, round(Math.exp(logValue) - offset)));
  const pointFen = fenOf(logPoint, Math.round);
  const lowerFen = fenOf(logLower, Math.floor);
  const upperFen = fenOf(logUpper, Math.ceil);
  return { pointFen, lowerFen: lowerFen < pointFen ? lowerFen : pointFen, upperFen: upperFen > pointFen ? upperFen : pointFen };
}

/**
 * The fallback for a short history: each weekday's mean over its last WEEKDAY_MEAN_WEEKS
 * occurrences (the mean of all days for a weekday not seen yet), the interval from how far each
 * day stood from the mean of its weekday's other days. No calendar effects: a short history
 * cannot show them, so a holiday eve in the next days is forecast as a plain day.
 */
function weekdayMeanForecast(timeline: Timeline, origin: number, count: number, coveragePercent: number): PerChannel<ChannelForecast[]> {
  const seen = timeline.trainingDays(origin);
  return perChannel((channel) => {
    const { offset, flowed } = logScaleOf(timeline, seen, channel);
    if (!flowed) return Array.from({ length: count }, () => NOTHING);
    const totalOf = (at: number) => timeline.observed[at]![channel];
    const byWeekday = new Map<number, number[]>();
    for (const at of seen) byWeekday.set(timeline.contexts[at]!.weekday, [...(byWeekday.get(timeline.contexts[at]!.weekday) ?? []), at]);
    const overallMean = mean(seen.map(totalOf));
    const meanOf = (weekday: number) => {
      const days = (byWeekday.get(weekday) ?? []).slice(-WEEKDAY_MEAN_WEEKS);
      return days.length > 0 ? mean(days.map(totalOf)) : overallMean;
    };
    const errors = [...byWeekday.values()].flatMap((days) =>
      days.length < 2 ? [] : days.map((at) => Math.log(totalOf(at) + offset) - Math.log(mean(days.filter((other) => other !== at).map(totalOf)) + offset)),
    );
    const [lowerError, upperError] = errors.length >= FALLBACK_ERRORS_MIN ? errorQuantiles(errors, coveragePercent) : [-Infinity, Math.log(2)];
    return Array.from({ length: count }, (_, index) => {
      const logPoint = Math.log(meanOf(timeline.contexts[origin + index]!.weekday) + offset);
      return amountsOf(logPoint, logPoint + lowerError, logPoint + upperError, offset);
    });
  });
}

const NOTHING: ChannelForecast = { pointFen: 0n, lowerFen: 0n, upperFen: 0n };

const mean = (values: number[]) => values.reduce((total, value) => total + value, 0) / values.length;
