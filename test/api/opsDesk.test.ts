import assert from 'node:assert/strict';
import request from 'supertest';
import { jobsAlertOf, JOB_OVERDUE_MS, type Alert } from '../../src/dashboard/alerts.ts';
import { Operation } from '../../src/operations/model.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { runReconciliation } from '../../src/reconciliation/job.ts';
import { assertProblem, balancesOf, idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp, topUp, type Holder, type TestApp, withoutBeijingTwins } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';
import { accrueAt, addTestFund, publish, subscribedHolder } from '../support/income.ts';
import { unbalancedTopUp } from '../support/journal.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';

async function alertsOf(t: TestApp, ops: Holder, fundCode: string): Promise<Record<string, Alert>> {
  const response = await request(t.app).get(`/v1/ops/alerts?fundCode=${fundCode}`).set(ops.auth).expect(200);
  assert.deepEqual(response.body.alerts.map((alert: Alert) => alert.kind), ['reserve', 'reconciliation', 'accrual', 'jobs', 'calendar']);
  return Object.fromEntries(response.body.alerts.map((alert: Alert) => [alert.kind, alert]));
}

/** A session of now: moving the clock far ahead ends the old one. */
async function signedInAgain(t: TestApp, holder: Holder): Promise<Holder> {
  const session = await request(t.app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: LOGIN_PASSWORD }).expect(201);
  return { ...holder, token: session.body.token, auth: { Authorization: `Bearer ${session.body.token}` } };
}

describe('ops desk: alerts', () => {
  let t: TestApp;
  let ops: Holder;
  let fund: string;

  beforeEach(async () => {
    t = testApp('2024-06-03T10:00:00+08:00');
    useOwnReserve(t);
    // One shard, so one instant redemption can draw the reserve below its low-water share.
    t.ctx.config = { ...t.ctx.config, reserve: { ...t.ctx.config.reserve, shards: 1 } };
    fund = addTestFund(t);
    ops = await newHolder(t.app, { ops: true });
  });

  it('says the reserve is empty, then fine once funded, then low once drawn below its low-water mark', async () => {
    const empty = (await alertsOf(t, ops, fund)).reserve!;
    assert.deepEqual([empty.level, empty.reason, empty.values.available, empty.values.size], ['critical', 'reserve_empty', '0.00', '0.00']);

    await adjustReserve(t, ops, '1000.00', 'increase').expect(201);
    const funded = (await alertsOf(t, ops, fund)).reserve!;
    assert.deepEqual([funded.level, funded.reason, funded.summary], ['ok', 'reserve_ok', '¥1000.00 available of ¥1000.00']);

    // Shares confirmed on 06-04, then an instant redemption that leaves less than the low-water share available.
    const holder = await subscribedHolder(t, fund, '2000.00');
    t.clock.set('2024-06-04T10:00:00+08:00');
    await advanceDueOperations(t.ctx);
    const drawAmount = `${1000 - Math.floor((t.ctx.config.reserve.lowWaterPercent * 1000) / 100) + 1}.00`;
    await request(t.app)
      .post('/v1/me/instant-redemptions')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: drawAmount, paymentPassword: PAYMENT_PASSWORD })
      .expect(201);
    const low = (await alertsOf(t, ops, fund)).reserve!;
    assert.deepEqual([low.level, low.reason, low.values.lowWaterPercent], ['warning', 'reserve_low', t.ctx.config.reserve.lowWaterPercent]);
  });

  it('counts the fund\'s ended days not accrued: a warning for yesterday, critical from two, fine once accrued', async () => {
    await subscribedHolder(t, fund, '500.00');
    await publish(t, ops, fund, '2024-06-03', '0.4000');
    t.clock.set('2024-06-04T09:00:00+08:00');
    const yesterday = (await alertsOf(t, ops, fund)).accrual!;
    assert.deepEqual([yesterday.level, yesterday.reason, yesterday.values], ['warning', 'accrual_yesterday_pending', { fundCode: fund, lagDays: 1 }]);

    t.clock.set('2024-06-06T09:00:00+08:00');
    const lagging = (await alertsOf(t, ops, fund)).accrual!;
    assert.deepEqual([lagging.level, lagging.reason, lagging.values.lagDays], ['critical', 'accrual_lagging', 3]);

    await publish(t, ops, fund, '2024-06-04', '0.4000');
    await publish(t, ops, fund, '2024-06-05', '0.4000');
    await accrueAt(t, fund, '2024-06-05');
    const accrued = (await alertsOf(t, ops, fund)).accrual!;
    assert.deepEqual([accrued.level, accrued.reason], ['ok', 'accrual_up_to_date']);
  });

  it('turns critical while the latest reconciliation has breaks', async () => {
    const operationId = uniqueId('op');
    await Operation.collection.insertOne(unbalancedTopUp(operationId));
    try {
      const broken = await runReconciliation(t.ctx);
      const alert = (await alertsOf(t, ops, fund)).reconciliation!;
      assert.deepEqual([alert.level, alert.reason], ['critical', 'reconciliation_breaks']);
      assert.deepEqual(alert.values, { balances: broken.breaks.length, unbalancedOperations: broken.unbalancedOperations.length });
    } finally {
      await Operation.deleteOne({ _id: operationId });
    }
    const mended = await runReconciliation(t.ctx);
    const clean = mended.breaks.length + mended.unbalancedOperations.length === 0;
    assert.equal((await alertsOf(t, ops, fund)).reconciliation!.level, clean ? 'ok' : 'critical');
  });

  it('warns 60 days before the holiday schedule ends and is critical once it has', async () => {
    const known = (await alertsOf(t, ops, fund)).calendar!;
    assert.equal(known.level, 'ok');
    const { knownThrough } = known.values;
    t.clock.set(`${t.ctx.calendar.addCalendarDays(String(knownThrough), -59)}T10:00:00+08:00`);
    ops = await signedInAgain(t, ops);
    const ending = (await alertsOf(t, ops, fund)).calendar!;
    assert.deepEqual([ending.level, ending.reason, ending.values.daysRemaining], ['warning', 'calendar_ending', 59]);
    t.clock.set(`${t.ctx.calendar.addCalendarDays(String(knownThrough), 1)}T10:00:00+08:00`);
    ops = await signedInAgain(t, ops);
    assert.equal((await alertsOf(t, ops, fund)).calendar!.reason, 'calendar_ended');
  });

  it('calls recurring jobs stalled when their next run is long past, and warns when no scheduler ever ran', () => {
    const now = Date.parse('2026-12-06T08:00:00Z');
    const onTime = [{ name: 'reconcile', nextRunAt: new Date(now + 60_000) }, { name: 'auto-sweep', nextRunAt: new Date(now - JOB_OVERDUE_MS + 1000) }];
    assert.equal(jobsAlertOf(['reconcile', 'auto-sweep'], onTime, now).level, 'ok');
    const late = [{ name: 'reconcile', nextRunAt: new Date(now - JOB_OVERDUE_MS - 1000) }, onTime[1]!];
    assert.deepEqual(jobsAlertOf(['reconcile', 'auto-sweep'], late, now).values, { jobs: 'reconcile', count: 1 });
    assert.deepEqual(jobsAlertOf(['reconcile', 'auto-sweep'], [onTime[0]!], now).values, { jobs: 'auto-sweep', count: 1 }, 'a recurring job with no document');
    assert.equal(jobsAlertOf(['reconcile'], [], now).reason, 'jobs_never_scheduled');
  });

  it('refuses an unknown fund, a holder without the ops role and a caller without a token', async () => {
    assertProblem(await request(t.app).get('/v1/ops/alerts?fundCode=NOPE').set(ops.auth), 422, 'unknown_fund');
    assertProblem(await request(t.app).get('/v1/ops/alerts?color=red').set(ops.auth), 400, 'invalid_request');
    const holder = await newHolder(t.app);
    assertProblem(await request(t.app).get('/v1/ops/alerts').set(holder.auth), 403, 'forbidden');
    assertProblem(await request(t.app).get('/v1/ops/alerts'), 401, 'unauthenticated');
  });
});

describe('ops desk: holder look-up', () => {
  let t: TestApp;
  let ops: Holder;
  let fund: string;

  before(async () => {
    t = testApp('2024-06-03T10:00:00+08:00');
    fund = addTestFund(t);
    ops = await newHolder(t.app, { ops: true });
  });

  it('finds a holder by login id and by user id: the account, latest operations, income and lock state', async () => {
    const holder = await subscribedHolder(t, fund, '3000.00');
    await topUp(t.app, holder, '250.00');
    await publish(t, ops, fund, '2024-06-04', '0.5000');
    t.clock.set('2024-06-04T10:00:00+08:00');
    await advanceDueOperations(t.ctx);
    await accrueAt(t, fund, '2024-06-04');

    const byLogin = await request(t.app).get(`/v1/ops/holders/${holder.loginId}`).set(ops.auth).expect(200);
    const byId = await request(t.app).get(`/v1/ops/holders/${holder.userId}`).set(ops.auth).expect(200);
    assert.deepEqual(byLogin.body, byId.body);
    const lookups = (await request(t.app).get(`/v1/ops/audit?actor=${ops.userId}&action=holder.lookup`).set(ops.auth).expect(200)).body.items;
    assert.deepEqual(
      lookups.slice(0, 2).map((item: { target: string; result: { userId: string } }) => [item.target, item.result.userId]),
      [[holder.userId, holder.userId], [holder.loginId, holder.userId]],
      'support reading a holder is on the record',
    );
    const found = byLogin.body;
    assert.deepEqual([found.userId, found.loginId, found.roles], [holder.userId, holder.loginId, ['user']]);
    const own = await request(t.app).get('/v1/me/account').set(holder.auth).expect(200);
    assert.deepEqual(found.account, own.body, 'the account as the holder sees it');
    assert.deepEqual(
      found.operations.map((op: { type: string; amount: string }) => [op.type, op.amount]),
      [['top_up', '250.00'], ['transfer_in', '3000.00'], ['top_up', '3000.00']],
      'newest first',
    );
    assert.deepEqual(found.income.map((day: { date: string; income: string }) => [day.date, day.income]), [['2024-06-04', '0.15']]);
    assert.deepEqual(withoutBeijingTwins(found.security), {
      paymentPasswordSet: true,
      payment: { locked: false, lockedUntil: null, wrongAttempts: 0, attemptsLeft: t.ctx.config.security.paymentPasswordMaxAttempts },
      login: { locked: false, lockedUntil: null, wrongAttempts: 0, attemptsLeft: t.ctx.config.security.loginPasswordMaxAttempts },
      liveSessions: 1,
    });
  });

  it('shows payments locked after wrong payment passwords, until the lock runs out', async () => {
    const holder = await subscribedHolder(t, fund, '100.00');
    const before = await balancesOf(holder.userId);
    const attempts = t.ctx.config.security.paymentPasswordMaxAttempts;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const refused = await request(t.app)
        .post('/v1/me/redemptions')
        .set(holder.auth)
        .set('Idempotency-Key', idempotencyKey())
        .send({ amount: '10.00', channel: 'wallet', paymentPassword: '000000' });
      assert.ok([403, 423].includes(refused.status), `attempt ${attempt}: ${refused.status}`);
    }
    const locked = withoutBeijingTwins((await request(t.app).get(`/v1/ops/holders/${holder.loginId}`).set(ops.auth).expect(200)).body.security.payment) as { locked: boolean; lockedUntil: string; wrongAttempts: number; attemptsLeft: number };
    assert.deepEqual([locked.locked, locked.wrongAttempts, locked.attemptsLeft], [true, attempts, 0]);
    assert.equal(Date.parse(locked.lockedUntil), t.clock.now().getTime() + t.ctx.config.security.paymentLockMs);
    assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');

    t.clock.set(new Date(Date.parse(locked.lockedUntil) + 1000));
    ops = await signedInAgain(t, ops);
    const lifted = withoutBeijingTwins((await request(t.app).get(`/v1/ops/holders/${holder.loginId}`).set(ops.auth).expect(200)).body.security.payment);
    assert.deepEqual(lifted, { locked: false, lockedUntil: null, wrongAttempts: 0, attemptsLeft: attempts });
    t.clock.set('2024-06-04T10:00:00+08:00');
  });

  it('answers 404 for an unknown holder, 403 to a holder without the ops role, 401 without a token', async () => {
    assertProblem(await request(t.app).get(`/v1/ops/holders/${uniqueId('nobody')}`).set(ops.auth), 404, 'not_found');
    const holder = await newHolder(t.app);
    assertProblem(await request(t.app).get(`/v1/ops/holders/${holder.loginId}`).set(holder.auth), 403, 'forbidden');
    assertProblem(await request(t.app).get(`/v1/ops/holders/${holder.loginId}`), 401, 'unauthenticated');
  });
});
