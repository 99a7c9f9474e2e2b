/**
 * How well the forecast did on the history it is given (docs/reserve-forecast.md, "Reading
 * the back-test"): a rolling origin moved `refitEveryDays` at a time, the forecast refitted at
 * each on the days before it only and judged on the next `horizonDays` days, beside the naive
 * forecast (the same weekday of the last week before the origin) on the very same days.
 *
 * MAPE leaves out the days whose actual total is zero (a percentage of nothing is undefined):
 * each channel says how many it left out. Coverage counts every day judged.
 */
import { addCalendarDays, daysBetween } from '../calendar/businessDate.ts';
import type { Festival, PlanningCalendar } from './calendarEffects.ts';
import { createForecaster } from './forecast.ts';
import { FLOW_CHANNELS, perChannel, type DailyFlow, type PerChannel } from './flows.ts';

export interface BacktestOptions {
  /** Days forecast from each origin: 7 unless told. */
  horizonDays?: number;
  /** Days between origins: 7 unless told. */
  refitEveryDays?: number;
  /** Days of history before the first origin: 182 unless told (half a year, so most effects were seen once). */
  trainingDays?: number;
  coveragePercent?: number;
  festivals?: readonly Festival[];
  paydays?: readonly number[];
}

export interface ChannelBacktest {
  /** Days judged: each a day both forecasts had an answer for. */
  days: number;
  /** Days left out of both MAPEs because nothing flowed. */
  zeroDaysExcluded: number;
  /** Mean absolute percentage error, in percent; null with no day to judge. */
  mapePercent: number | null;
  naiveMapePercent: number | null;
  /** Share of days inside [lower, upper], in percent, to read beside the nominal share. */
  coveragePercent: number | null;
}

export interface BacktestReport {
  /** The first and last day judged; null when the history is too short for one origin. */
  from: string | null;
  to: string | null;
  origins: number;
  horizonDays: number;
  refitEveryDays: number;
  nominalCoveragePercent: number;
  channels: PerChannel<ChannelBacktest>;
}

interface Tally {
  days: number;
  zeroDays: number;
  errorSum: number;
  naiveErrorSum: number;
  inside: number;
}

export function backtestForecast(history: readonly DailyFlow[], calendar: PlanningCalendar, options: BacktestOptions = {}): BacktestReport {
  const { horizonDays = 7, refitEveryDays = 7, trainingDays = 182, coveragePercent = 90 } = options;
  for (const [name, value] of Object.entries({ horizonDays, refitEveryDays, trainingDays })) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`backtestForecast: ${name} must be a whole number of days, at least 1`);
  }
  const days = [...history].sort((a, b) => (a.date < b.date ? -1 : 1));
  const byDate = new Map(days.map((day) => [day.date, day]));
  const forecaster = createForecaster(days, calendar, { coveragePercent, festivals: options.festivals, paydays: options.paydays });
  const tallies = perChannel<Tally>(() => ({ days: 0, zeroDays: 0, errorSum: 0, naiveErrorSum: 0, inside: 0 }));
  const judged: string[] = [];
  let origins = 0;
  const lastDate = days.at(-1)?.date;
  for (let origin = days[0] && addCalendarDays(days[0].date, trainingDays); lastDate && origin && origin <= lastDate; origin = addCalendarDays(origin, refitEveryDays)) {
    origins++;
    for (const forecast of forecaster.forecast(origin, Math.min(horizonDays, daysBetween(origin, lastDate) + 1))) {
      const actual = byDate.get(forecast.date);
      const naive = naiveForecast(byDate, forecast.date, origin);
      if (!actual || !naive) continue;
      judged.push(forecast.date);
      for (const channel of FLOW_CHANNELS) {
        const tally = tallies[channel];
        const actualFen = actual.totalsFen[channel];
        const { pointFen, lowerFen, upperFen } = forecast.channels[channel];
        tally.days++;
        if (lowerFen <= actualFen && actualFen <= upperFen) tally.inside++;
        if (actualFen === 0n) {
          tally.zeroDays++;
          continue;
        }
        tally.errorSum += relativeError(pointFen, actualFen);
        tally.naiveErrorSum += relativeError(naive.totalsFen[channel], actualFen);
      }
    }
  }
  judged.sort();
  return {
    from: judged[0] ?? null,
    to: judged.at(-1) ?? null,
    origins,
    horizonDays,
    refitEveryDays,
    nominalCoveragePercent: coveragePercent,
    channels: perChannel((channel) => channelFigures(tallies[channel])),
  };
}

/** The same weekday in the last week before the origin, if the history has it. */
function naiveForecast(byDate: Map<string, DailyFlow>, date: string, origin: string): DailyFlow | undefined {
  const weeksBack = Math.ceil((daysBetween(origin, date) + 1) / 7);
  return byDate.get(addCalendarDays(date, -7 * weeksBack));
}

const relativeError = (forecastFen: bigint, actualFen: bigint) => Math.abs(Number(forecastFen - actualFen)) / Number(actualFen);

function channelFigures(tally: Tally): ChannelBacktest {
  const scored = tally.days - tally.zeroDays;
  const percentOf = (sum: number, count: number) => (count > 0 ? (100 * sum) / count : null);
  return {
    days: tally.days,
    zeroDaysExcluded: tally.zeroDays,
    mapePercent: percentOf(tally.errorSum, scored),
    naiveMapePercent: percentOf(tally.naiveErrorSum, scored),
    coveragePercent: percentOf(tally.inside, tally.days),
  };
}
