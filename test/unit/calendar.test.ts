import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { FixedClock, systemClock } from '../../src/calendar/clock.ts';
import { holidayScheduleOf, SCHEDULE_ALARM_DAYS, scheduleCoverageOn } from '../../src/calendar/holidaySchedule.ts';
import { TradingCalendar } from '../../src/calendar/tradingCalendar.ts';
import { appConfig } from '../../src/config/config.ts';
import { createContext } from '../../src/context.ts';

// The shipped schedule: the package's, under config/default.json's 2024..2026, which these tests also check.
const calendar = new TradingCalendar(holidayScheduleOf(appConfig().holidays));

/** A Shanghai wall-clock time, e.g. '2024-05-30T14:00'. */
const shanghai = (localTime: string) => new Date(`${localTime}+08:00`);

describe('trading calendar', () => {
  describe('trade date and confirm date of a transfer-in', () => {
    // [instant, why, trade date T, confirm date]
    const cases: [Date, string, string, string][] = [
      // domain.md worked examples
      [shanghai('2024-05-30T14:00'), 'Thu before cut-off', '2024-05-30', '2024-05-31'],
      [shanghai('2024-05-31T15:30'), 'Fri after cut-off: over the weekend', '2024-06-03', '2024-06-04'],
      [shanghai('2024-06-07T14:00'), 'Fri before Dragon Boat 06-08..06-10', '2024-06-07', '2024-06-11'],
      [shanghai('2024-06-06T14:00'), 'Thu before Dragon Boat', '2024-06-06', '2024-06-07'],
      // around the cut-off
      [shanghai('2024-05-30T14:59:59.999'), 'last millisecond before 15:00', '2024-05-30', '2024-05-31'],
      [shanghai('2024-05-30T15:00:00.000'), 'exactly 15:00 is after the cut-off', '2024-05-31', '2024-06-03'],
      [shanghai('2024-05-30T00:00'), 'midnight opens the day', '2024-05-30', '2024-05-31'],
      [shanghai('2024-05-30T23:59:59.999'), 'late evening', '2024-05-31', '2024-06-03'],
      [shanghai('2024-06-07T15:00'), 'Fri after cut-off before Dragon Boat', '2024-06-11', '2024-06-12'],
      [shanghai('2024-06-08T10:00'), 'Saturday inside the holiday', '2024-06-11', '2024-06-12'],
      [shanghai('2024-06-10T14:00'), 'Monday holiday before cut-off', '2024-06-11', '2024-06-12'],
      // the instant is UTC; the business day is Shanghai's
      [new Date('2024-05-30T16:30:00Z'), '00:30 Fri in Shanghai, still Thu in UTC', '2024-05-31', '2024-06-03'],
      [new Date('2024-05-30T15:59:59.999Z'), '23:59:59.999 Thu in Shanghai', '2024-05-31', '2024-06-03'],
      [new Date('2024-05-31T06:59:59.999Z'), '14:59:59.999 Fri in Shanghai', '2024-05-31', '2024-06-03'],
      [new Date('2024-05-31T07:00:00.000Z'), '15:00 Fri in Shanghai', '2024-06-03', '2024-06-04'],
      // National Day week 10-01..10-07, with make-up working days Sun 09-29 and Sat 10-12
      [shanghai('2024-09-30T14:00'), 'Mon before National Day, before cut-off', '2024-09-30', '2024-10-08'],
      [shanghai('2024-09-30T15:00'), 'Mon before National Day, at cut-off', '2024-10-08', '2024-10-09'],
      [shanghai('2024-09-29T10:00'), 'make-up working Sunday does not trade', '2024-09-30', '2024-10-08'],
      [shanghai('2024-10-04T10:00'), 'Friday inside the holiday', '2024-10-08', '2024-10-09'],
      [shanghai('2024-10-11T15:00'), 'Fri after cut-off before the make-up Saturday', '2024-10-14', '2024-10-15'],
      [shanghai('2024-10-12T10:00'), 'make-up working Saturday does not trade', '2024-10-14', '2024-10-15'],
      // across the year end and Spring Festival 2025 (01-28..02-04)
      [shanghai('2024-12-31T15:00'), 'New Year 2025', '2025-01-02', '2025-01-03'],
      [shanghai('2025-01-27T14:00'), 'Mon before Spring Festival', '2025-01-27', '2025-02-05'],
      [shanghai('2025-01-26T10:00'), 'make-up working Sunday before Spring Festival', '2025-01-27', '2025-02-05'],
    ];
    for (const [instant, why, tradeDate, confirmDate] of cases) {
      it(`${instant.toISOString()} (${why}): T ${tradeDate}, confirmed ${confirmDate}`, () => {
        assert.equal(calendar.tradeDateOf(instant), tradeDate);
        assert.equal(calendar.confirmDateOf(tradeDate), confirmDate);
      });
    }
  });

  describe('businessDateOf', () => {
    const cases: [Date, string][] = [
      [new Date('2024-05-30T15:59:59.999Z'), '2024-05-30'],
      [new Date('2024-05-30T16:00:00.000Z'), '2024-05-31'],
      [new Date('2024-05-30T16:30:00Z'), '2024-05-31'],
      [new Date('2024-12-31T16:00:00Z'), '2025-01-01'],
    ];
    for (const [instant, businessDate] of cases) {
      it(`${instant.toISOString()} is ${businessDate} in Shanghai`, () => {
        assert.equal(calendar.businessDateOf(instant), businessDate);
      });
    }
  });

  describe('isTradingDay', () => {
    const cases: [string, boolean, string][] = [
      ['2024-05-30', true, 'Thursday'],
      ['2024-06-01', false, 'Saturday'],
      ['2024-06-02', false, 'Sunday'],
      ['2024-06-10', false, 'Dragon Boat Monday'],
      ['2024-06-11', true, 'Tuesday after Dragon Boat'],
      ['2024-10-01', false, 'National Day'],
      ['2024-10-07', false, 'last day of National Day week'],
      ['2024-10-08', true, 'first day back'],
      ['2024-09-29', false, 'make-up working Sunday'],
      ['2024-10-12', false, 'make-up working Saturday'],
      ['2025-10-08', false, 'National Day 2025 runs to 10-08'],
      ['2026-02-23', false, 'Spring Festival 2026 Monday'],
      ['2026-02-24', true, 'after Spring Festival 2026'],
    ];
    for (const [businessDate, isTrading, why] of cases) {
      it(`${businessDate} (${why}) ${isTrading ? 'trades' : 'does not trade'}`, () => {
        assert.equal(calendar.isTradingDay(businessDate), isTrading);
      });
    }
  });

  describe('nextTradingDay', () => {
    const cases: [string, string][] = [
      ['2024-05-30', '2024-05-31'], // strictly after, even from a trading day
      ['2024-05-31', '2024-06-03'],
      ['2024-06-07', '2024-06-11'],
      ['2024-09-30', '2024-10-08'],
      ['2024-10-11', '2024-10-14'],
    ];
    for (const [businessDate, next] of cases) {
      it(`after ${businessDate} comes ${next}`, () => {
        assert.equal(calendar.nextTradingDay(businessDate), next);
      });
    }
  });

  describe('calendar-day arithmetic', () => {
    const additions: [string, number, string][] = [
      ['2024-05-31', 1, '2024-06-01'],
      ['2024-02-28', 1, '2024-02-29'], // leap year
      ['2025-02-28', 1, '2025-03-01'],
      ['2024-12-31', 1, '2025-01-01'],
      ['2024-06-01', -1, '2024-05-31'],
      ['2024-06-01', 0, '2024-06-01'],
      ['2024-01-01', 366, '2025-01-01'],
    ];
    for (const [businessDate, days, expected] of additions) {
      it(`${businessDate} + ${days} days = ${expected}`, () => {
        assert.equal(calendar.addCalendarDays(businessDate, days), expected);
        assert.equal(calendar.daysBetween(businessDate, expected), days);
      });
    }
    it('daysBetween is negative backwards', () => {
      assert.equal(calendar.daysBetween('2024-06-11', '2024-06-07'), -4);
    });
  });

  describe('a custom cut-off', () => {
    const earlyClose = new TradingCalendar({ knownThrough: '2024-12-31', holidays: [], cutoff: '11:30' });
    it('trades before it and rolls over at it', () => {
      assert.equal(earlyClose.cutoff, '11:30');
      assert.equal(earlyClose.zone, 'Asia/Shanghai');
      assert.equal(earlyClose.tradeDateOf(shanghai('2024-06-10T11:29:59.999')), '2024-06-10');
      assert.equal(earlyClose.tradeDateOf(shanghai('2024-06-10T11:30')), '2024-06-11');
    });
  });

  describe('remembered answers (one calendar asked again and again, as a process does)', () => {
    it('crosses the cut-off and Beijing midnight back and forth within and between minutes', () => {
      const asked = new TradingCalendar(holidayScheduleOf(appConfig().holidays));
      const walk: [string, string, string][] = [
        ['2024-05-30T14:59:00.000', '2024-05-30', '2024-05-30'],
        ['2024-05-30T14:59:59.999', '2024-05-30', '2024-05-30'],
        ['2024-05-30T15:00:00.000', '2024-05-30', '2024-05-31'],
        ['2024-05-30T14:59:30.000', '2024-05-30', '2024-05-30'],
        ['2024-05-31T23:59:59.999', '2024-05-31', '2024-06-03'],
        ['2024-06-01T00:00:00.000', '2024-06-01', '2024-06-03'],
        ['2024-05-31T00:00:00.000', '2024-05-31', '2024-05-31'],
      ];
      for (const [localTime, businessDate, tradeDate] of walk) {
        assert.equal(asked.businessDateOf(shanghai(localTime)), businessDate, localTime);
        assert.equal(asked.tradeDateOf(shanghai(localTime)), tradeDate, localTime);
        assert.equal(asked.nextTradingDay(tradeDate), calendar.nextTradingDay(tradeDate));
      }
    });

    it('keeps each calendar\'s holidays apart', () => {
      const withHoliday = new TradingCalendar({ knownThrough: '2024-12-31', holidays: ['2024-05-31'] });
      const without = new TradingCalendar({ knownThrough: '2024-12-31', holidays: [] });
      assert.equal(withHoliday.nextTradingDay('2024-05-30'), '2024-06-03');
      assert.equal(without.nextTradingDay('2024-05-30'), '2024-05-31');
    });
  });

  describe('programmer errors fail loudly', () => {
    it('refuses a bad cut-off, zone or holiday', () => {
      assert.throws(() => new TradingCalendar({ knownThrough: '2024-12-31', holidays: [], cutoff: '15:00:00' }), /cutoff/);
      assert.throws(() => new TradingCalendar({ knownThrough: '2024-12-31', holidays: [], cutoff: '24:00' }), /cutoff/);
      assert.throws(() => new TradingCalendar({ knownThrough: '2024-12-31', holidays: [], zone: 'Mars/Olympus' }), /zone/);
      assert.throws(() => new TradingCalendar({ knownThrough: '2024-12-31', holidays: ['2024-02-30'] }), /holiday date/);
      assert.throws(() => new TradingCalendar({ knownThrough: '2024-12-31', holidays: ['2024-6-10'] }), /holiday date/);
    });
    it('refuses malformed dates and invalid instants', () => {
      assert.throws(() => calendar.isTradingDay('2024-13-01'), RangeError);
      assert.throws(() => calendar.addCalendarDays('20240601', 1), RangeError);
      assert.throws(() => calendar.addCalendarDays('2024-06-01', 1.5), RangeError);
      assert.throws(() => calendar.tradeDateOf(new Date(Number.NaN)), RangeError);
    });
    it('refuses a confirm date for a day that cannot be T', () => {
      assert.throws(() => calendar.confirmDateOf('2024-06-08'), /not a trading day/);
    });
    it('stops when no day trades for a year', () => {
      const everyDayOf2024 = Array.from({ length: 366 }, (_, day) => calendar.addCalendarDays('2024-01-01', day));
      const closed = new TradingCalendar({ knownThrough: '2024-12-31', holidays: everyDayOf2024 });
      assert.throws(() => closed.nextTradingDay('2023-12-31'), /no trading day/);
    });
  });
});

describe('holiday schedule: package, then config, then ops', () => {
  const holidaysIn = (holidays: readonly string[], from: string, to: string) => holidays.filter((date) => date >= from && date <= to);

  it('knows the package\'s years through the last one it ships, with their make-up working days', async () => {
    const years = (await readdir(new URL('../../node_modules/chinese-days/dist/years', import.meta.url))).filter((file) => file.endsWith('.json')).map((file) => file.slice(0, 4));
    const packageOnly = holidayScheduleOf([]);
    assert.equal(packageOnly.knownThrough, `${years.sort().at(-1)}-12-31`);
    assert.deepEqual(holidaysIn(packageOnly.holidays, '2026-10-01', '2026-10-31'), ['2026-10-01', '2026-10-02', '2026-10-03', '2026-10-04', '2026-10-05', '2026-10-06', '2026-10-07']);
    assert.deepEqual(holidaysIn(packageOnly.makeUpWorkdays, '2026-09-01', '2026-10-31').sort(), ['2026-09-20', '2026-10-10']);
  });

  it('takes the config\'s list as the whole list of each year it names, and the package\'s for the others', () => {
    const schedule = holidayScheduleOf(['2026-03-02', '2027-02-08']);
    assert.deepEqual(holidaysIn(schedule.holidays, '2026-01-01', '2027-12-31'), ['2026-03-02', '2027-02-08']);
    assert.ok(schedule.holidays.includes('2025-10-01'), 'a year the config does not name keeps the package\'s list');
    assert.equal(schedule.knownThrough, '2027-12-31');
  });

  it('applies ops\' overrides last; an added day extends the known schedule to that day only', () => {
    const schedule = holidayScheduleOf(['2026-10-01'], { added: ['2027-01-04'], removed: ['2026-10-01', '2025-10-08'] });
    assert.deepEqual(holidaysIn(schedule.holidays, '2025-10-08', '2027-12-31'), ['2027-01-04']);
    assert.equal(schedule.knownThrough, '2027-01-04');
    assert.equal(holidayScheduleOf([], { added: ['2025-03-12'], removed: [] }).knownThrough, holidayScheduleOf([]).knownThrough, 'an earlier day changes nothing');
  });

  it(`is known more than ${SCHEDULE_ALARM_DAYS} days ahead, ending within them, ended after its last day`, () => {
    const statusOn = (today: string) => scheduleCoverageOn(today, '2026-12-31');
    assert.deepEqual(statusOn('2026-10-31'), { knownThrough: '2026-12-31', daysRemaining: 61, status: 'known' });
    assert.equal(statusOn('2026-11-01').status, 'ending', '60 days ahead');
    assert.deepEqual(statusOn('2026-11-02'), { knownThrough: '2026-12-31', daysRemaining: 59, status: 'ending' });
    assert.equal(statusOn('2026-12-31').status, 'ending', 'its last day');
    assert.deepEqual(statusOn('2027-01-01'), { knownThrough: '2026-12-31', daysRemaining: -1, status: 'ended' });
  });

  it('lists make-up working days, which never trade', () => {
    const packageOnly = new TradingCalendar(holidayScheduleOf([]));
    assert.equal(packageOnly.isMakeUpWorkday('2026-10-10'), true);
    assert.equal(packageOnly.isTradingDay('2026-10-10'), false);
    assert.equal(packageOnly.isMakeUpWorkday('2026-10-09'), false);
  });
});

describe('clock', () => {
  it('the system clock tells the time', () => {
    const before = Date.now();
    const now = systemClock.now().getTime();
    assert.ok(now >= before && now <= Date.now());
  });

  it('a context built from config clock.offsetMs tells the time moved by the offset', () => {
    const offsetMs = 6 * 3_600_000;
    const { clock } = createContext({ config: { ...appConfig(), clock: { offsetMs, followStored: false } } });
    const before = Date.now();
    const now = clock.now().getTime();
    assert.ok(now >= before + offsetMs && now <= Date.now() + offsetMs);
    assert.equal(createContext({ config: appConfig() }).clock, systemClock);
  });

  it('a fixed clock stands still until set or advanced', () => {
    const clock = new FixedClock('2024-05-30T14:59:59.999+08:00');
    assert.equal(calendar.tradeDateOf(clock.now()), '2024-05-30');
    clock.advance(1);
    assert.equal(clock.now().toISOString(), '2024-05-30T07:00:00.000Z');
    assert.equal(calendar.tradeDateOf(clock.now()), '2024-05-31');
    clock.set(new Date('2024-06-07T06:00:00Z'));
    assert.equal(calendar.tradeDateOf(clock.now()), '2024-06-07');
  });

  it('hands out copies, so callers cannot move it', () => {
    const clock = new FixedClock(new Date('2024-05-30T06:00:00Z'));
    clock.now().setTime(0);
    assert.equal(clock.now().toISOString(), '2024-05-30T06:00:00.000Z');
  });

  it('refuses invalid instants and durations', () => {
    assert.throws(() => new FixedClock('yesterday'), RangeError);
    const clock = new FixedClock(new Date(0));
    assert.throws(() => clock.set(new Date(Number.NaN)), RangeError);
    assert.throws(() => clock.advance(Number.NaN), RangeError);
  });
});
