import assert from 'node:assert/strict';
import { holidayScheduleOf } from '../../src/calendar/holidaySchedule.ts';
import { TradingCalendar } from '../../src/calendar/tradingCalendar.ts';
import { backtestForecast } from '../../src/planning/backtest.ts';
import { dayContexts } from '../../src/planning/calendarEffects.ts';
import { forecastFlows, forecastMethodOf } from '../../src/planning/forecast.ts';
import { FLOW_CHANNELS, perChannel, type DailyFlow } from '../../src/planning/flows.ts';
import { splitByHour, syntheticHistory } from '../../src/planning/synthetic.ts';

// The package's official Chinese holidays, as the app's calendar has them.
const calendar = new TradingCalendar(holidayScheduleOf([]));
const yuan = (fen: bigint) => Number(fen) / 100;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('reserve planning: calendar effects', () => {
  it('knows the eve of National Day 2024, its make-up Sunday, the days after, paydays moved to the working day before, and quarter ends', () => {
    const days = new Map(dayContexts(calendar, '2024-06-01', 200).map((day) => [day.date, day]));
    const pick = (date: string) => {
      const { working, makeUpWorkday, inBreakDays, breakAheadDays, workingDaysToBreak, breakBehindDays, workingDaysSinceBreak, monthEnd, quarterEnd, payday, festival } = days.get(date)!;
      return { working, makeUpWorkday, inBreakDays, breakAheadDays, workingDaysToBreak, breakBehindDays, workingDaysSinceBreak, monthEnd, quarterEnd, payday, festival };
    };
    const plain = { working: true, makeUpWorkday: false, inBreakDays: 0, breakAheadDays: 0, workingDaysToBreak: 0, breakBehindDays: 0, workingDaysSinceBreak: 0, monthEnd: false, quarterEnd: false, payday: false, festival: null };
    assert.deepEqual(pick('2024-09-29'), { ...plain, makeUpWorkday: true, breakAheadDays: 7, workingDaysToBreak: 2 }, 'a make-up Sunday, two working days before the break');
    assert.deepEqual(pick('2024-09-30'), { ...plain, breakAheadDays: 7, workingDaysToBreak: 1, monthEnd: true, quarterEnd: true }, 'the eve, and the last working day of the quarter');
    assert.deepEqual(pick('2024-10-03'), { ...plain, working: false, inBreakDays: 7 });
    assert.deepEqual(pick('2024-10-08'), { ...plain, breakBehindDays: 7, workingDaysSinceBreak: 1 });
    assert.deepEqual(pick('2024-10-09'), { ...plain, breakBehindDays: 7, workingDaysSinceBreak: 2 });
    assert.deepEqual(pick('2024-06-07'), { ...plain, payday: true, breakAheadDays: 3, workingDaysToBreak: 1 }, 'the eve of Dragon Boat (06-08..06-10), paying the 10th');
    assert.deepEqual(pick('2024-06-11'), { ...plain, breakBehindDays: 3, workingDaysSinceBreak: 1 });
    assert.deepEqual(pick('2024-06-14'), { ...plain, payday: true }, 'the 15th is a Saturday: paid on the Friday');
    assert.deepEqual(pick('2024-06-18'), { ...plain, festival: '618' });
    assert.equal(pick('2024-06-10').working, false);
    assert.deepEqual(pick('2024-06-28'), { ...plain, monthEnd: true, quarterEnd: true });
    assert.deepEqual(pick('2024-06-08'), { ...plain, working: false, inBreakDays: 3 });
  });
});

describe('reserve planning: synthetic history', () => {
  const history = syntheticHistory({ fromDate: '2023-01-01', days: 730, seed: 7, calendar });
  const byDate = new Map(history.map((day) => [day.date, day]));
  const total = (date: string, channel: (typeof FLOW_CHANNELS)[number]) => yuan(byDate.get(date)!.totalsFen[channel]);
  /** The median of the plain Tuesdays to Thursdays of the month before. */
  const typicalMidweek = (date: string, channel: (typeof FLOW_CHANNELS)[number]) =>
    median(
      dayContexts(calendar, `${date.slice(0, 5)}${String(Number(date.slice(5, 7)) - 1).padStart(2, '0')}-01`, 28)
        .filter((day) => [2, 3, 4].includes(day.weekday) && day.working && !day.payday && !day.monthEnd && !day.breakAheadDays && !day.breakBehindDays && !day.festival)
        .map((day) => total(day.date, channel)),
    );

  it('is the same for the same seed and differs for another', () => {
    assert.deepEqual(syntheticHistory({ fromDate: '2024-01-01', days: 30, seed: 7, calendar }), syntheticHistory({ fromDate: '2024-01-01', days: 30, seed: 7, calendar }));
    assert.notDeepEqual(syntheticHistory({ fromDate: '2024-01-01', days: 30, seed: 7, calendar }), syntheticHistory({ fromDate: '2024-01-01', days: 30, seed: 8, calendar }));
  });

  it('has counts of about the mean request size, hours that add up to the day exactly, and a scale', () => {
    for (const day of history.slice(0, 60)) {
      for (const channel of FLOW_CHANNELS) {
        assert.equal(day.hourlyFen![channel]!.length, 24);
        assert.equal(day.hourlyFen![channel]!.reduce((sum, amount) => sum + amount, 0n), day.totalsFen[channel]);
        assert.ok(day.counts[channel] > 0 && day.totalsFen[channel] > 0n);
      }
      assert.ok(Math.abs(yuan(day.totalsFen.payment) / day.counts.payment - 120) < 1, 'payments of 120 yuan on average');
    }
    const scaled = syntheticHistory({ fromDate: '2023-01-01', days: 30, seed: 7, calendar, scale: 0.01 });
    assert.ok(Math.abs(yuan(scaled[5]!.totalsFen.transfer_in) / yuan(history[5]!.totalsFen.transfer_in) - 0.01) < 1e-6);
    assert.ok(Math.abs(scaled[5]!.counts.transfer_in / history[5]!.counts.transfer_in - 0.01) < 0.01, 'a hundredth of the requests, of the same size');
    assert.deepEqual(splitByHour(10n, [1, ...new Array(23).fill(0)]), [10n, ...new Array(23).fill(0n)]);
  });

  it('shows its known effects: the holiday eve rush, pay-ins after Spring Festival, Singles\' Day payments, paydays, quiet weekends', () => {
    assert.ok(total('2024-09-30', 'instant_redemption') > 2.2 * typicalMidweek('2024-09-30', 'instant_redemption'), 'the eve of National Day');
    assert.ok(total('2024-02-18', 'transfer_in') > 1.5 * typicalMidweek('2024-03-01', 'transfer_in'), 'the first working day after Spring Festival (a make-up Sunday)');
    assert.ok(total('2023-11-11', 'payment') > 2.5 * typicalMidweek('2023-11-11', 'payment'), 'Singles\' Day');
    assert.ok(total('2024-04-10', 'transfer_in') > 1.3 * typicalMidweek('2024-04-10', 'transfer_in'), 'payday');
    assert.ok(total('2024-05-18', 'redemption') < 0.5 * typicalMidweek('2024-05-18', 'redemption'), 'a Saturday');
  });
});

describe('reserve planning: forecast and back-test', () => {
  it('beats the naive same-weekday forecast on every channel, with intervals that hold close to their nominal share, for every seed', () => {
    for (const seed of [11, 22, 33]) {
      const history = syntheticHistory({ fromDate: '2023-01-01', days: 550, seed, calendar });
      const report = backtestForecast(history, calendar);
      assert.equal(report.nominalCoveragePercent, 90);
      assert.ok(report.origins >= 50, `${report.origins} origins`);
      for (const channel of FLOW_CHANNELS) {
        const { days, mapePercent, naiveMapePercent, coveragePercent, zeroDaysExcluded } = report.channels[channel];
        const figures = `seed ${seed} ${channel}: MAPE ${mapePercent?.toFixed(1)}% vs naive ${naiveMapePercent?.toFixed(1)}%, coverage ${coveragePercent?.toFixed(1)}%`;
        assert.ok(days >= 350 && zeroDaysExcluded === 0, figures);
        assert.ok(mapePercent! < naiveMapePercent!, figures);
        assert.ok(coveragePercent! >= 80 && coveragePercent! <= 97, figures);
      }
    }
  });

  it('gives whole fen with lower ≤ point ≤ upper, wider intervals for a higher coverage, and only looks at the days before the first one forecast', () => {
    const history = syntheticHistory({ fromDate: '2023-01-01', days: 400, seed: 5, calendar });
    const options = { fromDate: '2023-12-01', days: 30 };
    const forecast = forecastFlows(history, calendar, options);
    assert.equal(forecast.length, 30);
    assert.equal(forecast[0]!.date, '2023-12-01');
    assert.deepEqual(forecastFlows(history.filter((day) => day.date < '2023-12-01'), calendar, options), forecast, 'later days change nothing');
    const wide = forecastFlows(history, calendar, { ...options, coveragePercent: 99 });
    forecast.forEach((day, index) => {
      for (const channel of FLOW_CHANNELS) {
        const { pointFen, lowerFen, upperFen } = day.channels[channel];
        assert.equal(typeof pointFen, 'bigint');
        assert.ok(0n <= lowerFen && lowerFen <= pointFen && pointFen <= upperFen);
        assert.ok(wide[index]!.channels[channel].upperFen >= upperFen && wide[index]!.channels[channel].lowerFen <= lowerFen);
      }
    });
    const eve = forecast.find((day) => day.date === '2023-12-12')!;
    assert.ok(eve.channels.payment.pointFen > forecast.find((day) => day.date === '2023-12-05')!.channels.payment.pointFen, 'Double 12 seen the year before');
  });

  it('falls back to weekday means on a short history, to nothing on none, and keeps a channel that never flows at zero', () => {
    const history = syntheticHistory({ fromDate: '2024-03-04', days: 28, seed: 3, calendar });
    const fromDate = '2024-04-01';
    assert.equal(forecastMethodOf(history, fromDate), 'weekday_means');
    const forecast = forecastFlows(history, calendar, { fromDate, days: 7 });
    const mondays = history.filter((day) => new Date(`${day.date}T00:00:00Z`).getUTCDay() === 1).map((day) => Number(day.totalsFen.transfer_in));
    const mondayMean = mondays.reduce((sum, total) => sum + total, 0) / mondays.length;
    assert.ok(Math.abs(Number(forecast[0]!.channels.transfer_in.pointFen) - mondayMean) <= 1, 'Monday 04-01: the mean of the 4 Mondays');
    assert.ok(forecast.every((day) => FLOW_CHANNELS.every((channel) => day.channels[channel].lowerFen <= day.channels[channel].pointFen && day.channels[channel].pointFen <= day.channels[channel].upperFen)));

    assert.equal(forecastMethodOf([], fromDate), 'no_history');
    assert.deepEqual(forecastFlows([], calendar, { fromDate, days: 2 }).map((day) => day.channels.payment), [
      { pointFen: 0n, lowerFen: 0n, upperFen: 0n },
      { pointFen: 0n, lowerFen: 0n, upperFen: 0n },
    ]);

    const noPayments: DailyFlow[] = syntheticHistory({ fromDate: '2023-01-01', days: 300, seed: 4, calendar }).map((day) => ({
      ...day,
      totalsFen: { ...day.totalsFen, payment: 0n },
      counts: { ...day.counts, payment: 0 },
    }));
    assert.equal(forecastMethodOf(noPayments, '2023-10-28'), 'calendar_regression');
    assert.ok(forecastFlows(noPayments, calendar, { fromDate: '2023-10-28', days: 14 }).every((day) => day.channels.payment.upperFen === 0n));
    const report = backtestForecast(noPayments, calendar);
    assert.equal(report.channels.payment.mapePercent, null, 'every payment day is zero: no percentage to take');
    assert.equal(report.channels.payment.zeroDaysExcluded, report.channels.payment.days);
    assert.equal(report.channels.payment.coveragePercent, 100);
    assert.ok(report.channels.instant_redemption.mapePercent! < report.channels.instant_redemption.naiveMapePercent!);
    assert.deepEqual(perChannel((channel) => report.channels[channel].days), perChannel(() => report.channels.payment.days), 'every channel judged on the same days');
  });
});
