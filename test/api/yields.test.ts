import assert from 'node:assert/strict';
import request from 'supertest';
import { FundDay, fundDayId } from '../../src/fund/model.ts';
import { assertProblem, newHolder, testApp, type Holder, type TestApp } from '../support/api.ts';
import { addTestFund } from '../support/income.ts';

describe('publishing the 万份收益', function () {
  this.timeout(60_000);
  let t: TestApp;
  let ops: Holder;
  let fund: string;

  before(async () => {
    t = testApp('2024-09-02T20:00:00+08:00');
    ops = await newHolder(t.app, { ops: true });
    fund = addTestFund(t);
  });

  const put = (date: string, body: unknown, auth = ops.auth) => request(t.app).put(`/v1/ops/funds/${fund}/yields/${date}`).set(auth).send(body as object);

  it('publishes a day, corrects it until it is accrued, and shows it on the fund calendar', async () => {
    const first = await put('2024-09-01', { yieldPer10k: '0.4123' }).expect(200);
    assert.equal(first.body.status, 'published');
    assert.equal(first.body.yieldPer10k, '0.4123');
    await put('2024-09-01', { yieldPer10k: '-0.05' }).expect(200);
    await put('2024-09-02', { yieldPer10k: '0' }).expect(200); // today, once it has begun
    const days = (await request(t.app).get(`/v1/funds/${fund}/days?from=2024-08-31&to=2024-09-02`).set(ops.auth).expect(200)).body.days;
    assert.deepEqual(
      days.map((day: { date: string; status: string; yieldPer10k?: string }) => [day.date, day.status, day.yieldPer10k]),
      [['2024-08-31', 'missing', undefined], ['2024-09-01', 'published', '-0.0500'], ['2024-09-02', 'published', '0.0000']],
    );
  });

  it('refuses bad 万份收益, future days, strangers and unknown funds, and changes nothing', async () => {
    const before = await FundDay.findById(fundDayId(fund, '2024-09-01')).lean();
    for (const yieldPer10k of ['0.41234', '1e-4', '+0.4', ' 0.4', '00.4', '10000', 0.4, null, { $gt: '' }, ['0.4']]) {
      assertProblem(await put('2024-09-01', { yieldPer10k }), 400, 'invalid_request');
    }
    assertProblem(await put('2024-09-01', { yieldPer10k: '0.4', extra: true }), 400, 'invalid_request');
    assertProblem(await put('2024-9-1', { yieldPer10k: '0.4' }), 400, 'invalid_request');
    assertProblem(await put('2024-09-03', { yieldPer10k: '0.4' }), 422, 'yield_date_in_future');
    const holder = await newHolder(t.app);
    assertProblem(await put('2024-09-01', { yieldPer10k: '0.4' }, holder.auth), 403, 'forbidden');
    assertProblem(
      await request(t.app).put('/v1/ops/funds/NOSUCHFUND/yields/2024-09-01').set(ops.auth).send({ yieldPer10k: '0.4' }),
      422,
      'unknown_fund',
    );
    assert.deepEqual(await FundDay.findById(fundDayId(fund, '2024-09-01')).lean(), before);
    assertProblem(await request(t.app).get('/v1/me/income/2024-13-01').set(holder.auth), 400, 'invalid_request');
    assertProblem(await request(t.app).get('/v1/me/income?from=2024-01-01&to=2024-03-01').set(holder.auth), 400, 'invalid_request');
    assertProblem(await request(t.app).get('/v1/me/income?from=2024-09-01').set(holder.auth), 400, 'invalid_request');
    const today = t.ctx.calendar.businessDateOf(t.clock.now());
    const recent = (await request(t.app).get('/v1/me/income').set(holder.auth).expect(200)).body;
    assert.deepEqual([recent.from, recent.to], [t.ctx.calendar.addCalendarDays(today, -29), today], 'like the reports: the 30 days through today');
    const unexplained = (await request(t.app).get('/v1/me/income/2024-09-01').set(holder.auth).expect(200)).body;
    assert.equal(unexplained.status, 'no_holding');
  });
});
