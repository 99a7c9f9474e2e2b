/**
 * Ops change the holiday list at run time; the change moves the trade and confirm dates of
 * later requests, reaches other processes, and cannot rewrite today or the past.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { refreshCalendar } from '../../src/holidays/service.ts';
import { assertProblem, idempotencyKey, newHolder, testApp, topUp } from '../support/api.ts';

// Dates no other test uses: the holiday list is shared by every test on the database.
const EXTRA_HOLIDAY = '2025-03-12'; // a Wednesday
const { app, ctx, clock } = testApp('2025-03-05T10:00:00+08:00');
const otherProcess = testApp('2025-03-05T10:00:00+08:00');

describe('holidays changed by ops', () => {
  after(async () => {
    clock.set('2025-03-05T10:00:00+08:00');
    await request(app).delete(`/v1/ops/calendar/holidays/${EXTRA_HOLIDAY}`).set((await newHolder(app, { ops: true })).auth);
  });

  it('a new holiday moves the confirm date of later transfer-ins, here and in another process', async () => {
    const ops = await newHolder(app, { ops: true });
    const added = await request(app).put(`/v1/ops/calendar/holidays/${EXTRA_HOLIDAY}`).set(ops.auth).expect(200);
    assert.deepEqual(added.body, { date: EXTRA_HOLIDAY, holiday: true });
    const listed = await request(app).get('/v1/ops/calendar/holidays').query({ from: '2025-03-01', to: '2025-03-31' }).set(ops.auth).expect(200);
    assert.deepEqual(listed.body.holidays, [EXTRA_HOLIDAY]);

    clock.set('2025-03-11T14:00:00+08:00');
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    const send = () =>
      request(app).post('/v1/me/transfers-in').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', channel: 'wallet', fundCode: 'YEB001' });
    assert.equal((await send().expect(201)).body.operation.confirmDate, '2025-03-13');

    await refreshCalendar(otherProcess.ctx);
    assert.equal(otherProcess.ctx.calendar.isTradingDay(EXTRA_HOLIDAY), false);

    clock.set('2025-03-05T10:00:00+08:00');
    const removed = await request(app).delete(`/v1/ops/calendar/holidays/${EXTRA_HOLIDAY}`).set(ops.auth).expect(200);
    assert.deepEqual(removed.body, { date: EXTRA_HOLIDAY, holiday: false });
    clock.set('2025-03-11T14:00:00+08:00');
    assert.equal((await send().expect(201)).body.operation.confirmDate, '2025-03-12');
  });

  it('a configured holiday can be turned into a trading day', async () => {
    const ops = await newHolder(app, { ops: true });
    clock.set('2025-03-05T10:00:00+08:00');
    await request(app).delete('/v1/ops/calendar/holidays/2025-04-04').set(ops.auth).expect(200);
    assert.equal(ctx.calendar.isTradingDay('2025-04-04'), true);
    await request(app).put('/v1/ops/calendar/holidays/2025-04-04').set(ops.auth).expect(200);
    assert.equal(ctx.calendar.isTradingDay('2025-04-04'), false);
  });

  it('refuses today, the past, weekends, bad dates, and callers without the ops role', async () => {
    const ops = await newHolder(app, { ops: true });
    const holder = await newHolder(app);
    clock.set('2025-03-05T10:00:00+08:00');
    assertProblem(await request(app).put('/v1/ops/calendar/holidays/2025-03-05').set(ops.auth), 422, 'date_not_in_future');
    assertProblem(await request(app).delete('/v1/ops/calendar/holidays/2025-01-01').set(ops.auth), 422, 'date_not_in_future');
    assertProblem(await request(app).put('/v1/ops/calendar/holidays/2025-03-08').set(ops.auth), 422, 'weekend_date');
    assertProblem(await request(app).put('/v1/ops/calendar/holidays/2025-02-30').set(ops.auth), 400, 'invalid_request');
    assertProblem(await request(app).get('/v1/ops/calendar/holidays').query({ from: '2025-01-01', to: '2026-06-01' }).set(ops.auth), 400, 'invalid_request');
    assertProblem(await request(app).put(`/v1/ops/calendar/holidays/${EXTRA_HOLIDAY}`).set(holder.auth), 403, 'forbidden');
    assert.equal(ctx.calendar.isTradingDay('2025-03-05'), true);
  });
});
