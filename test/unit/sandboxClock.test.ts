import assert from 'node:assert/strict';
import { TestClock } from '../../src/calendar/clock.ts';
import { holidayScheduleOf } from '../../src/calendar/holidaySchedule.ts';
import { TradingCalendar } from '../../src/calendar/tradingCalendar.ts';
import { appConfig } from '../../src/config/config.ts';
import { DomainError } from '../../src/errors.ts';
import { clockTarget, type ClockMove } from '../../src/sandbox/clockMove.ts';
import { plausibleYieldPer10k } from '../../src/sandbox/service.ts';

const config = appConfig();
const calendar = new TradingCalendar({ ...holidayScheduleOf(config.holidays), cutoff: config.cutoff, zone: config.zone });
const shanghai = (localTime: string) => new Date(`${localTime}+08:00`);

describe('sandbox test clock', () => {
  // From Fri 2024-06-07 14:00, the day before Dragon Boat (06-08..06-10).
  const now = shanghai('2024-06-07T14:00');
  const cases: [ClockMove, string, string][] = [
    [{ to: '15:00' }, 'later today', '2024-06-07T15:00'],
    [{ to: '14:00' }, 'the present time of day: tomorrow', '2024-06-08T14:00'],
    [{ to: '09:30' }, 'earlier today: tomorrow', '2024-06-08T09:30'],
    [{ to: 'next-trading-day' }, 'over the weekend and the holiday, at 09:00', '2024-06-11T09:00'],
    [{ days: 3 }, 'whole days, same time of day', '2024-06-10T14:00'],
    [{ to: '2024-06-20T10:00' }, 'a local instant ahead', '2024-06-20T10:00'],
    [{ days: 31 }, 'the longest move', '2024-07-08T14:00'],
  ];
  for (const [move, why, expected] of cases) {
    it(`moves ${JSON.stringify(move)} to ${expected} (${why})`, () => {
      assert.equal(clockTarget(move, now, calendar).toISOString(), shanghai(expected).toISOString());
    });
  }

  const refusals: [ClockMove, string][] = [
    [{ to: '2024-06-07T14:00' }, 'clock_not_forward'],
    [{ to: '2024-06-07T13:59' }, 'clock_not_forward'],
    [{ to: '2024-07-08T14:01' }, 'clock_move_too_far'],
    [{ to: '2024-02-30T10:00' }, 'invalid_request'],
  ];
  for (const [move, code] of refusals) {
    it(`refuses ${JSON.stringify(move)} with ${code}`, () => {
      assert.throws(() => clockTarget(move, now, calendar), (error) => error instanceof DomainError && error.code === code);
    });
  }

  it('runs on with real time from its offset and never moves back', () => {
    const clock = new TestClock(86_400_000);
    assert.ok(Math.abs(clock.now().getTime() - (Date.now() + 86_400_000)) < 1_000);
    assert.throws(() => clock.moveToOffset(86_399_999), RangeError);
    clock.moveToOffset(90_000_000);
    assert.equal(clock.offsetMs, 90_000_000);
  });

  it('publishes a plausible 万份收益, the same on every run', () => {
    const rates = ['2024-06-07', '2024-06-08', '2024-12-31'].map((date) => plausibleYieldPer10k('YEB001', date));
    for (const rate of rates) assert.ok(rate >= 3500n && rate < 4200n, `${rate}`);
    assert.equal(plausibleYieldPer10k('YEB001', '2024-06-07'), rates[0]);
  });
});
