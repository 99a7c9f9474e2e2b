/**
 * `npm run bench:planning -- [--days N] [--seed S] [--forecast-days F] [--json]`: the reserve
 * planner's statistics on N days of synthetic history (366 unless told): how long generating
 * them takes, one forecast of the next F days (30) with its intervals, and the back-test (weekly
 * origins, 7-day horizon) with its figures. The floor, from the same run: the naive forecast's
 * back-test alone (a lookup a day, no fitting). Pure computation: no database.
 */
import { parseArgs } from 'node:util';
import { holidayScheduleOf } from '../src/calendar/holidaySchedule.ts';
import { TradingCalendar } from '../src/calendar/tradingCalendar.ts';
import { addCalendarDays } from '../src/calendar/businessDate.ts';
import { backtestForecast } from '../src/planning/backtest.ts';
import { forecastFlows } from '../src/planning/forecast.ts';
import { FLOW_CHANNELS } from '../src/planning/flows.ts';
import { syntheticHistory } from '../src/planning/synthetic.ts';

const { values } = parseArgs({
  options: { days: { type: 'string', default: '366' }, seed: { type: 'string', default: '1' }, 'forecast-days': { type: 'string', default: '30' }, json: { type: 'boolean', default: false } },
});
const days = Number(values.days);
const seed = Number(values.seed);
const forecastDays = Number(values['forecast-days']);
const calendar = new TradingCalendar(holidayScheduleOf([]));
const fromDate = '2024-01-01';

const timed = <T>(work: () => T): [T, number] => {
  const startMs = performance.now();
  const result = work();
  return [result, performance.now() - startMs];
};

const [history, generateMs] = timed(() => syntheticHistory({ fromDate, days, seed, calendar }));
const [, forecastMs] = timed(() => forecastFlows(history, calendar, { fromDate: addCalendarDays(fromDate, days), days: forecastDays }));
const [report, backtestMs] = timed(() => backtestForecast(history, calendar));
const [naiveLookups, floorMs] = timed(() => {
  const byDate = new Map(history.map((day) => [day.date, day]));
  let found = 0;
  for (const day of history) if (byDate.has(addCalendarDays(day.date, -7))) found++;
  return found;
});

const figures = {
  days,
  seed,
  generateMs: Math.round(generateMs),
  forecastMs: Math.round(forecastMs),
  forecastDays,
  backtestMs: Math.round(backtestMs),
  floorNaiveLookupMs: Math.round(floorMs),
  naiveLookups,
  backtest: report,
};
if (values.json) {
  console.log(JSON.stringify(figures, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
} else {
  console.log(`${days} days of synthetic history (seed ${seed}): generated in ${figures.generateMs} ms`);
  console.log(`forecast of ${forecastDays} days with intervals: ${figures.forecastMs} ms`);
  console.log(`back-test, ${report.origins} weekly origins, ${report.from}..${report.to}: ${figures.backtestMs} ms (floor, the naive lookups alone: ${figures.floorNaiveLookupMs} ms)`);
  console.log(`channel              days  MAPE %  naive MAPE %  coverage % (nominal ${report.nominalCoveragePercent})`);
  for (const channel of FLOW_CHANNELS) {
    const { days: judged, mapePercent, naiveMapePercent, coveragePercent } = report.channels[channel];
    console.log(`${channel.padEnd(20)} ${String(judged).padStart(4)}  ${mapePercent?.toFixed(1).padStart(6)}  ${naiveMapePercent?.toFixed(1).padStart(12)}  ${coveragePercent?.toFixed(1).padStart(10)}`);
  }
}
