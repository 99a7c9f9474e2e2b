/**
 * /metrics (request latency by route template, accrual lag and duration, the reserve, the
 * recovery backlog, recurring jobs), /healthz and /readyz, X-Request-Id, and a log without
 * secrets, read from a real server process.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import mongoose from 'mongoose';
import request from 'supertest';
import { createApp } from '../../src/app.ts';
import { appConfig } from '../../src/config/config.ts';
import { createContext } from '../../src/context.ts';
import { retryOnWriteConflict } from '../../src/db/writeConflict.ts';
import { FundDay, fundDayId, type FundDayDocument } from '../../src/fund/model.ts';
import { checkScheduleCoverage } from '../../src/holidays/coverage.ts';
import { accruePartition, closeAccrualDay, openAccrualDay, openPartitions } from '../../src/income/accrual.ts';
import { Readiness } from '../../src/observability/readiness.ts';
import { Operation, type OperationDocument } from '../../src/operations/model.ts';
import { parseYuan } from '../../src/money/fen.ts';
import { JOBS_COLLECTION, startScheduler, stopScheduler } from '../../src/scheduler.ts';
import { runReconciliation } from '../../src/reconciliation/job.ts';
import { advanceOperation } from '../../src/operations/machine.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { assertProblem, idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp, topUp, type TestApp } from '../support/api.ts';
import { testDatabaseUri, uniqueId } from '../support/database.ts';
import { addTestFund, publishDays, subscribedHolder } from '../support/income.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';
import { logLinesOf, startServerProcess, type ServerProcess } from '../support/serverProcess.ts';
import { unbalancedTopUp } from '../support/journal.ts';
import { until } from '../support/until.ts';

/** The value of one series in a Prometheus text exposition, or undefined when it is absent. */
function seriesValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? '').split(',').filter(Boolean);
    if (wanted.length === present.length && wanted.every((label) => present.includes(label))) return Number(match[3]);
  }
  return undefined;
}

async function scrape(t: Pick<TestApp, 'app'>): Promise<string> {
  const response = await request(t.app).get('/metrics').expect(200);
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return response.text;
}

const fenOf = (yuan: string) => Number(parseYuan(yuan));

describe('observability', function () {
  this.timeout(120_000);

  describe('/metrics', () => {
    it('times requests by method, route template and status, never by raw path', async () => {
      const t = testApp('2024-05-30T10:00:00+08:00');
      const holder = await newHolder(t.app);
      await topUp(t.app, holder, '1.00');
      const [operation] = (await request(t.app).get('/v1/me/operations').set(holder.auth).expect(200)).body.items;
      await request(t.app).get(`/v1/me/operations/${operation.id}`).set(holder.auth).expect(200);
      await request(t.app).get(`/v1/me/operations/${operation.id}`).set(holder.auth).expect(200);
      await request(t.app).get('/v1/me/operations/op-nothing-here').set(holder.auth).expect(404);
      await request(t.app).get(`/v1/no/such/${operation.id}`).expect(404);
      await request(t.app).get('/v1/me/account').expect(401); // refused before it reached its route

      const text = await scrape(t);
      const count = (method: string, route: string, status: number) =>
        seriesValue(text, 'moneyfund_http_request_duration_seconds_count', { method, route, status_code: String(status) });
      assert.equal(count('GET', '/v1/me/operations/:operationId', 200), 2);
      assert.equal(count('GET', '/v1/me/operations/:operationId', 404), 1);
      assert.equal(count('POST', '/v1/me/top-ups', 201), 1);
      assert.equal(count('POST', '/v1/sessions', 201), 1);
      assert.equal(count('GET', 'unmatched', 404), 1);
      assert.equal(count('GET', 'unmatched', 401), 1);
      assert.ok(!text.includes(operation.id), 'no operation id in any label');
      assert.ok(!text.includes(holder.userId), 'no user id in any label');
      assert.equal(seriesValue(text, 'moneyfund_http_requests_in_flight'), 1, 'the scrape itself');
      assert.ok(seriesValue(text, 'process_cpu_user_seconds_total')! > 0, 'process metrics');
      assert.ok(seriesValue(text, 'nodejs_heap_size_used_bytes')! > 0, 'Node metrics');
    });

    it('shows each fund\'s accrual lag and how long its last day took, read from the fund days', async () => {
      const t = testApp('2024-07-02T01:00:00+08:00');
      const ops = await newHolder(t.app, { ops: true });
      const accrued = addTestFund(t);
      const neverAccrued = addTestFund(t);
      const nothingPublished = addTestFund(t);
      await publishDays(t, ops, accrued, '2024-07-01', '2024-07-03', '0.4000');
      await publishDays(t, ops, neverAccrued, '2024-07-02', '2024-07-03', '0.4000');
      await subscribedHolder(t, accrued, '100.00');

      // 07-01 opened at 01:00 on 07-02 and closed 42.5 s later.
      t.clock.set('2024-07-02T01:00:00+08:00');
      assert.equal((await openAccrualDay(t.ctx, accrued))?.date, '2024-07-01');
      for (const partition of await openPartitions(accrued, '2024-07-01')) await accruePartition(t.ctx, accrued, '2024-07-01', partition);
      t.clock.advance(42_500);
      assert.equal(await closeAccrualDay(t.ctx, accrued, '2024-07-01'), true);
      const day = (await FundDay.findById(fundDayId(accrued, '2024-07-01')).lean<FundDayDocument>())!;
      assert.equal(day.accruedAt!.getTime() - day.accrualStartedAt!.getTime(), 42_500);

      t.clock.set('2024-07-04T09:00:00+08:00'); // 07-02 and 07-03 have ended, not accrued
      const text = await scrape(t);
      assert.equal(seriesValue(text, 'moneyfund_accrual_lag_days', { fund: accrued }), 2);
      assert.equal(seriesValue(text, 'moneyfund_accrual_last_day_duration_seconds', { fund: accrued }), 42.5);
      assert.equal(seriesValue(text, 'moneyfund_accrual_lag_days', { fund: neverAccrued }), 2, 'from its first published day');
      assert.equal(seriesValue(text, 'moneyfund_accrual_last_day_duration_seconds', { fund: neverAccrued }), undefined);
      assert.equal(seriesValue(text, 'moneyfund_accrual_lag_days', { fund: nothingPublished }), 0, 'nothing to accrue');
    });

    it('reads the reserve\'s available, outstanding and low-water flag as the ops report does', async () => {
      const t = testApp('2024-05-30T10:00:00+08:00');
      useOwnReserve(t);
      const ops = await newHolder(t.app, { ops: true });
      const holder = await subscribedHolder(t, 'YEB001', '200.00');
      t.clock.set('2024-05-31T09:00:00+08:00');
      await advanceDueOperations(t.ctx); // the shares are confirmed
      await adjustReserve(t, ops, '100.00', 'increase').expect(201); // 12.50 in each of the 8 shards

      /** [available fen, outstanding fen, low water] from /metrics and from the ops report. */
      const figures = async () => {
        const text = await scrape(t);
        const report = (await request(t.app).get('/v1/ops/reserve').set(ops.auth).expect(200)).body;
        return {
          metrics: ['moneyfund_reserve_available_fen', 'moneyfund_reserve_outstanding_fen', 'moneyfund_reserve_low_water'].map((name) => seriesValue(text, name)),
          report: [fenOf(report.available), fenOf(report.outstanding), report.lowWater ? 1 : 0],
        };
      };
      const funded = await figures();
      assert.deepEqual(funded.metrics, [10_000, 0, 0]);
      assert.deepEqual(funded.metrics, funded.report);

      // An advance comes from one shard: seven of them drained.
      for (let index = 0; index < 7; index++) {
        await request(t.app)
          .post('/v1/me/instant-redemptions')
          .set(holder.auth)
          .set('Idempotency-Key', idempotencyKey())
          .send({ amount: '12.50', paymentPassword: PAYMENT_PASSWORD })
          .expect(201);
      }
      const drawn = await figures();
      assert.deepEqual(drawn.metrics, [1_250, 8_750, 1], '12.5% left is below the 20% low-water mark');
      assert.deepEqual(drawn.metrics, drawn.report);
    });

    it('counts operations pending longer than jobs.recoverAfterMs', async () => {
      const t = testApp('2024-03-13T03:17:00+08:00');
      const holder = await newHolder(t.app);
      const backlog = async () => seriesValue(await scrape(t), 'moneyfund_recovery_backlog_operations')!;
      const before = await backlog();
      t.bank.behaviour = { mode: 'unavailable', delayMs: 0 };
      const answer = await request(t.app)
        .post('/v1/me/top-ups')
        .set(holder.auth)
        .set('Idempotency-Key', idempotencyKey())
        .send({ amount: '3.00', bankCardId: holder.bankCardId })
        .expect(202);
      assert.equal(await backlog(), before, 'a young pending operation is not backlog yet');
      t.clock.advance(t.ctx.config.jobs.recoverAfterMs + 1_000);
      assert.equal(await backlog(), before + 1);

      t.bank.behaviour = { mode: 'ok', delayMs: 0 };
      const pending = (await Operation.findById(answer.body.operation.id).lean<OperationDocument>())!;
      // The bank never recorded the charge: recovery cancels it.
      assert.equal((await advanceOperation(t.ctx, pending, 'recovery')).status, 'failed');
      assert.equal(await backlog(), before);
    });

    it('shows when each recurring job last finished, from the job collection', async () => {
      const config = appConfig();
      const ctx = createContext({ config: { ...config, jobs: { ...config.jobs, only: ['recover-stuck-operations'] } } });
      const jobs = mongoose.connection.db!.collection(JOBS_COLLECTION);
      const recurring = { name: 'recover-stuck-operations', type: 'single' };
      const startedAt = new Date();
      const scheduler = await startScheduler(ctx, { processJobs: true });
      try {
        // An earlier test's run may have set the next one a minute ahead: due now.
        await retryOnWriteConflict(() => jobs.updateOne(recurring, { $set: { nextRunAt: new Date() } }));
        await until('the job finished', 30_000, async () => (await jobs.findOne(recurring))?.lastFinishedAt >= startedAt);
      } finally {
        await stopScheduler(ctx, scheduler, 1_000);
      }
      const finishedAt = (await jobs.findOne(recurring))!.lastFinishedAt as Date;
      const text = await scrape({ app: createApp(ctx) });
      assert.equal(seriesValue(text, 'moneyfund_job_last_finished_timestamp_seconds', { job: 'recover-stuck-operations' }), finishedAt.getTime() / 1000);
    });
  });

  describe('/metrics: reconciliation', () => {
    it('counts the breaks the latest scheduled reconciliation found, by kind', async () => {
      const t = testApp();
      const breaksNow = async () => {
        const text = await scrape(t);
        return ['balance', 'unbalanced_operation'].map((kind) => seriesValue(text, 'moneyfund_reconciliation_breaks', { kind }));
      };
      const operationId = uniqueId('op');
      await Operation.collection.insertOne(unbalancedTopUp(operationId));
      try {
        const broken = await runReconciliation(t.ctx);
        assert.ok(broken.unbalancedOperations.length >= 1);
        assert.deepEqual(await breaksNow(), [broken.breaks.length, broken.unbalancedOperations.length]);
      } finally {
        await Operation.deleteOne({ _id: operationId });
      }
      const mended = await runReconciliation(t.ctx);
      assert.deepEqual(await breaksNow(), [mended.breaks.length, mended.unbalancedOperations.length]);
    });
  });

  describe('/healthz and /readyz', () => {
    it('is live, and ready when the database answers and no scheduler is expected', async () => {
      const { app } = testApp();
      assert.deepEqual((await request(app).get('/healthz').expect(200)).body, { status: 'ok' });
      const ready = await request(app).get('/readyz').expect(200);
      const { calendar, ...checks } = ready.body.checks;
      assert.deepEqual({ ...ready.body, checks }, { status: 'ready', checks: { database: 'ok', scheduler: 'not_run', shuttingDown: false } });
      assert.equal(calendar.status, 'known', 'the holiday schedule reaches well past 2024-05-30 (test/api/calendarSchedule.test.ts)');
    });

    it('is ready once the scheduler has started, not once it has stopped or the process is shutting down', async () => {
      const config = appConfig();
      const ctx = createContext({ config: { ...config, jobs: { ...config.jobs, only: [] } } });
      const app = createApp(ctx);
      const scheduler = await startScheduler(ctx, { processJobs: true });
      assert.equal((await request(app).get('/readyz').expect(200)).body.checks.scheduler, 'started');
      await stopScheduler(ctx, scheduler, 1_000);
      const stopped = await request(app).get('/readyz');
      assertProblem(stopped, 503, 'not_ready');
      assert.equal(stopped.body.detail, 'Not ready: scheduler: stopped');
      assert.deepEqual(stopped.body.checks, { database: 'ok', scheduler: 'stopped', shuttingDown: false, calendar: checkScheduleCoverage(ctx) });

      const other = createContext();
      other.readiness.shuttingDown = true;
      const shuttingDown = await request(createApp(other)).get('/readyz');
      assertProblem(shuttingDown, 503, 'not_ready');
      assert.equal(shuttingDown.body.detail, 'Not ready: process: shutting down');
      await request(createApp(other)).get('/healthz').expect(200);
    });

    it('is not ready when its database connection does not answer, and says so', async () => {
      const connection = await mongoose.createConnection(testDatabaseUri()).asPromise();
      const ctx = createContext({ readiness: new Readiness(connection) });
      const app = createApp(ctx);
      await request(app).get('/readyz').expect(200);
      await connection.close();
      const down = await request(app).get('/readyz');
      assertProblem(down, 503, 'not_ready');
      assert.equal(down.body.detail, 'Not ready: database: not connected');
      assert.equal(down.body.checks.database, 'not connected');
      await request(app).get('/healthz').expect(200);
    });
  });

  describe('X-Request-Id', () => {
    it('keeps a sane incoming id, and makes one for a missing or odd one', async () => {
      const { app } = testApp();
      const given = uniqueId('trace');
      assert.equal((await request(app).get('/healthz').set('X-Request-Id', given).expect(200)).headers['x-request-id'], given);
      const made = (await request(app).get('/healthz').expect(200)).headers['x-request-id'];
      assert.match(String(made), /^[0-9a-f-]{36}$/);
      for (const odd of ['has spaces in it', 'x'.repeat(129), 'semi;colon']) {
        const answered = (await request(app).get('/healthz').set('X-Request-Id', odd).expect(200)).headers['x-request-id'];
        assert.match(String(answered), /^[0-9a-f-]{36}$/, odd);
      }
    });
  });

  describe('the log of a real server process', () => {
    let server: ServerProcess | undefined;
    after(async () => {
      server?.child.kill('SIGTERM');
      await server?.exited;
    });

    it('has one line per request with route, status, duration and request id, and no password or token', async () => {
      server = await startServerProcess();
      const loginId = uniqueId('logged');
      const loginPassword = `${LOGIN_PASSWORD}-${uniqueId('secret')}`;
      const paymentPassword = '864209';
      const wrongPassword = `wrong-${uniqueId('secret')}`;
      const call = async (method: string, route: string, body?: object, headers: Record<string, string> = {}) => {
        const response = await fetch(`${server!.baseUrl}${route}`, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
          body: body && JSON.stringify(body),
        });
        const text = await response.text();
        return { status: response.status, requestId: response.headers.get('x-request-id')!, body: (text ? JSON.parse(text) : {}) as Record<string, any> };
      };
      const calls: Awaited<ReturnType<typeof call>>[] = [];
      calls.push(await call('POST', '/v1/users', { loginId, loginPassword }));
      calls.push(await call('POST', '/v1/sessions', { loginId, loginPassword: wrongPassword }));
      const session = await call('POST', '/v1/sessions', { loginId, loginPassword });
      calls.push(session);
      const auth = { authorization: `Bearer ${session.body.token}` };
      calls.push(await call('PUT', '/v1/me/payment-password', { loginPassword, paymentPassword }, auth));
      const card = await call('POST', '/v1/me/bank-cards', { cardNumber: '6222020200112233' }, auth);
      calls.push(card);
      const withdrawal = await call(
        'POST',
        '/v1/me/withdrawals',
        { amount: '1.00', bankCardId: card.body.bankCard.bankCardId, paymentPassword },
        { ...auth, 'idempotency-key': idempotencyKey(), 'x-request-id': 'client-trace-0001' },
      );
      calls.push(withdrawal);
      calls.push(await call('GET', '/v1/me/account', undefined, auth));
      assert.deepEqual(
        calls.map((answer) => answer.status),
        [201, 401, 201, 204, 201, 409, 200],
      );
      assert.equal(withdrawal.requestId, 'client-trace-0001');

      // A line is written when the answer has gone out: the last ones may trail the answers.
      const requestLines = async () => new Map((await logLinesOf(server!)).filter((line) => line.msg === 'request').map((line) => [line.requestId, line]));
      await until('a line for every request', 30_000, async () => {
        const lines = await requestLines();
        return calls.every((answer) => lines.has(answer.requestId));
      });
      const byId = await requestLines();
      const logged = calls.map((answer) => byId.get(answer.requestId)!);
      assert.deepEqual(
        logged.map((line) => [line.method, line.route, line.status]),
        [
          ['POST', '/v1/users', 201],
          ['POST', '/v1/sessions', 401],
          ['POST', '/v1/sessions', 201],
          ['PUT', '/v1/me/payment-password', 204],
          ['POST', '/v1/me/bank-cards', 201],
          ['POST', '/v1/me/withdrawals', 409],
          ['GET', '/v1/me/account', 200],
        ],
      );
      for (const line of logged) assert.equal(typeof line.durationMs, 'number');
      assert.equal(logged[6]!.userId, session.body.userId);

      const everything = await readFile(server.logFile, 'utf8');
      // The 6 digits quoted, as a leaked JSON value would be: bare, they could be part of a timestamp.
      for (const secret of [loginPassword, wrongPassword, `"${paymentPassword}"`, session.body.token as string, 'Bearer', 'authorization']) {
        assert.ok(!everything.includes(secret), `the log does not contain ${secret.slice(0, 12)}…`);
      }
    });
  });
});
