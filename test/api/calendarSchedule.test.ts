/**
 * The holiday schedule comes from the chinese-days package, under the config's list and ops'
 * overrides, and it cannot run out silently: from 60 days before its end the log (once a
 * day), /metrics, /readyz and GET /v1/ops/calendar/coverage say so.
 */
import assert from 'node:assert/strict';
import type { Express } from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from '../../src/app.ts';
import { FixedClock } from '../../src/calendar/clock.ts';
import { appConfig } from '../../src/config/config.ts';
import { createContext } from '../../src/context.ts';
import { refreshCalendar } from '../../src/holidays/service.ts';
import { idempotencyKey, newHolder, topUp } from '../support/api.ts';

/** An app whose clock the test moves and whose log lines it reads. */
function appAt(instant: string, config = appConfig()) {
  const clock = new FixedClock(instant);
  const logLines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  const ctx = createContext({ clock, config, log });
  return { ctx, app: createApp(ctx), clock, logLines };
}

/** An app at 10:00 Beijing time `daysBefore` days before the last day of the known schedule. */
async function appBeforeScheduleEnds(daysBefore: number) {
  const t = appAt('2024-05-30T10:00:00+08:00');
  await refreshCalendar(t.ctx); // ops' overrides on the shared database count as a source too
  const knownThrough = t.ctx.calendar.knownThrough;
  t.clock.set(`${t.ctx.calendar.addCalendarDays(knownThrough, -daysBefore)}T10:00:00+08:00`);
  return { ...t, knownThrough };
}

async function daysRemainingMetric(app: Express): Promise<number> {
  const text = (await request(app).get('/metrics').expect(200)).text;
  const match = /^moneyfund_calendar_known_days_remaining (\S+)$/m.exec(text);
  assert.ok(match, 'the metric is scraped');
  return Number(match[1]);
}

const calendarLines = (lines: Record<string, unknown>[]) => lines.filter((line) => String(line.msg).startsWith('calendar:'));

describe('the holiday schedule', function () {
  this.timeout(60_000);

  it('takes 2026 from the package when the config lists no holidays: National Day closes, the make-up Saturday does not trade', async () => {
    const t = appAt('2026-09-30T14:00:00+08:00', { ...appConfig(), holidays: [] });
    const holder = await newHolder(t.app);
    await topUp(t.app, holder, '10.00');
    const transferIn = () =>
      request(t.app).post('/v1/me/transfers-in').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', channel: 'wallet', fundCode: 'YEB001' });
    const beforeNationalDay = (await transferIn().expect(201)).body.operation;
    assert.deepEqual([beforeNationalDay.tradeDate, beforeNationalDay.confirmDate], ['2026-09-30', '2026-10-08']);
    t.clock.set('2026-10-10T10:00:00+08:00'); // a make-up working Saturday (调休)
    const onMakeUpDay = (await transferIn().expect(201)).body.operation;
    assert.deepEqual([onMakeUpDay.tradeDate, onMakeUpDay.confirmDate], ['2026-10-12', '2026-10-13']);

    const ops = await newHolder(t.app, { ops: true });
    const listed = await request(t.app).get('/v1/ops/calendar/holidays').query({ from: '2026-09-15', to: '2026-10-15' }).set(ops.auth).expect(200);
    assert.deepEqual(listed.body.holidays, ['2026-09-25', '2026-10-01', '2026-10-02', '2026-10-05', '2026-10-06', '2026-10-07']);
    assert.deepEqual(listed.body.makeUpWorkdays, ['2026-09-20', '2026-10-10']);
    assert.equal(listed.body.knownThrough, t.ctx.calendar.knownThrough);
  });

  it('raises the alarm 59 days before its end: a warning logged once a day, the metric, /readyz (still 200) and the ops coverage', async () => {
    const t = await appBeforeScheduleEnds(59);
    const expected = { knownThrough: t.knownThrough, daysRemaining: 59, status: 'ending' };
    for (let probe = 0; probe < 3; probe++) {
      const ready = await request(t.app).get('/readyz').expect(200);
      assert.equal(ready.body.status, 'ready');
      assert.deepEqual(ready.body.checks.calendar, expected);
      assert.match(ready.body.warnings[0], new RegExp(`ends on ${t.knownThrough}, in 59 days`));
    }
    assert.equal(await daysRemainingMetric(t.app), 59);
    const ops = await newHolder(t.app, { ops: true });
    assert.deepEqual((await request(t.app).get('/v1/ops/calendar/coverage').set(ops.auth).expect(200)).body, expected);

    const warned = calendarLines(t.logLines);
    assert.equal(warned.length, 1, 'one warning however often it is asked');
    assert.equal(warned[0]!.level, 40);
    assert.deepEqual([warned[0]!.knownThrough, warned[0]!.daysRemaining], [t.knownThrough, 59]);

    t.clock.advance(24 * 3_600_000);
    await request(t.app).get('/readyz').expect(200);
    assert.deepEqual(calendarLines(t.logLines).map((line) => line.daysRemaining), [59, 58], 'and once again the next day');
  });

  it('is quiet 61 days before its end', async () => {
    const t = await appBeforeScheduleEnds(61);
    const ready = await request(t.app).get('/readyz').expect(200);
    assert.deepEqual(ready.body.checks.calendar, { knownThrough: t.knownThrough, daysRemaining: 61, status: 'known' });
    assert.equal(ready.body.warnings, undefined);
    assert.equal(await daysRemainingMetric(t.app), 61);
    assert.deepEqual(calendarLines(t.logLines), []);
  });

  it('says clearly once it has ended, and an ops listing past its end shows where knowledge stops', async () => {
    const t = await appBeforeScheduleEnds(-1);
    const ready = await request(t.app).get('/readyz').expect(200);
    assert.deepEqual(ready.body.checks.calendar, { knownThrough: t.knownThrough, daysRemaining: -1, status: 'ended' });
    assert.match(ready.body.warnings[0], new RegExp(`ended on ${t.knownThrough}; later weekdays are treated as trading days`));
    assert.equal(await daysRemainingMetric(t.app), -1);
    const [ended] = calendarLines(t.logLines);
    assert.equal(ended!.level, 50, 'an error, no longer a warning');

    const ops = await newHolder(t.app, { ops: true });
    const to = t.ctx.calendar.addCalendarDays(t.knownThrough, 30);
    const listed = await request(t.app).get('/v1/ops/calendar/holidays').query({ from: t.knownThrough, to }).set(ops.auth).expect(200);
    assert.equal(listed.body.knownThrough, t.knownThrough);
  });
});
