/**
 * SIGTERM to the real server process while it serves a slow request and runs an accrual
 * partition job: the request gets its answer, new connections are refused, the job's lock
 * is released (and the job handed over), the process exits 0, and the partition resumes
 * elsewhere from its checkpoint.
 */
import assert from 'node:assert/strict';
import { ObjectId } from 'mongodb';
import mongoose from 'mongoose';
import { User } from '../../src/auth/model.ts';
import { retryOnWriteConflict } from '../../src/db/writeConflict.ts';
import { createContext } from '../../src/context.ts';
import { accrueThrough, openAccrualDay } from '../../src/income/accrual.ts';
import { AccrualPartition, dayKey, type AccrualPartitionDocument } from '../../src/income/model.ts';
import { ACCRUE_INCOME_JOB, ACCRUE_PARTITION_JOB } from '../../src/income/scheduled.ts';
import { JOBS_COLLECTION, startScheduler, stopScheduler } from '../../src/scheduler.ts';
import { balancesOf, idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp } from '../support/api.ts';
import { seedBook } from '../support/book.ts';
import { uniqueId } from '../support/database.ts';
import { addTestFund, fundDay, publish } from '../support/income.ts';
import { logLinesOf, startServerProcess, type ServerProcess } from '../support/serverProcess.ts';
import { until } from '../support/until.ts';

const HOLDERS = 1_600;
const DAY = '2024-07-02';
/** How long a payment waits for attempts held by checks in flight before it counts them failed and locks. */
const ATTEMPT_WAIT_MS = 3_000;

const JSON_BODY = { 'content-type': 'application/json' };

/** A holder with 5.00 in the wallet, a payment password and a card, signed up through the server process. */
async function holderOf(server: ServerProcess) {
  const post = async (route: string, body: object, headers: Record<string, string> = {}) => {
    const response = await fetch(`${server.baseUrl}${route}`, { method: route.endsWith('password') ? 'PUT' : 'POST', headers: { ...JSON_BODY, ...headers }, body: JSON.stringify(body) });
    assert.ok(response.ok, `${route}: ${response.status}`);
    return response.status === 204 ? {} : ((await response.json()) as Record<string, any>);
  };
  const login = { loginId: uniqueId('shutdown'), loginPassword: LOGIN_PASSWORD };
  const { userId } = await post('/v1/users', login);
  const auth = { Authorization: `Bearer ${(await post('/v1/sessions', login)).token}` };
  await post('/v1/me/payment-password', { loginPassword: LOGIN_PASSWORD, paymentPassword: PAYMENT_PASSWORD }, auth);
  const bankCardId: string = (await post('/v1/me/bank-cards', { cardNumber: '6222020200112233' }, auth)).bankCard.bankCardId;
  await post('/v1/me/top-ups', { amount: '5.00', bankCardId }, { ...auth, 'idempotency-key': idempotencyKey() });
  return { userId: userId as string, auth, bankCardId };
}

async function inFlightRequests(server: ServerProcess): Promise<number> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  return Number(/^moneyfund_http_requests_in_flight (\d+)$/m.exec(text)?.[1]);
}

describe('graceful shutdown', function () {
  this.timeout(240_000);
  let server: ServerProcess | undefined;
  after(() => {
    server?.child.kill('SIGKILL');
  });

  it('on SIGTERM the request in flight is answered, the running job\'s lock is released, and the process exits 0', async () => {
    const t = testApp('2024-07-02T20:00:00+08:00');
    const ops = await newHolder(t.app, { ops: true });
    const fund = addTestFund(t);
    const partitionCount = t.ctx.config.accrual.partitions;
    await seedBook({ fundCode: fund, date: '2024-07-01', holders: HOLDERS, partitionCount, holderPrefix: uniqueId(`${fund}-h`), sharesFenOf: () => 1_000_000n });
    await publish(t, ops, fund, DAY, '0.4123');

    server = await startServerProcess({
      funds: [{ code: fund, name: 'shutdown test', sevenDayYieldMode: 'compound' }],
      jobs: { processEveryMs: 100, only: [ACCRUE_INCOME_JOB, ACCRUE_PARTITION_JOB] },
      // About 100 holders a partition in batches of 5, a pause after each: a partition takes seconds.
      // A day this small would be run by the coordinator itself: partition jobs are what is tested.
      accrual: { batchSize: 5, pauseBetweenBatchesMs: 300, inlineHoldersMax: 0 },
      security: { paymentAttemptWaitMs: ATTEMPT_WAIT_MS },
    });
    // Signed up through the process: a session opened by the test's app runs on its fixed clock.
    const holder = await holderOf(server);
    const jobs = mongoose.connection.db!.collection(JOBS_COLLECTION);
    // The coordinator may be scheduled a minute ahead by an earlier process: due now.
    await retryOnWriteConflict(() => jobs.updateOne({ name: ACCRUE_INCOME_JOB, type: 'single' }, { $set: { nextRunAt: new Date() } }));
    const partitionsOfDay = { dayKey: dayKey(fund, DAY) };
    const lockedJobs = { name: ACCRUE_PARTITION_JOB, 'data.fundCode': fund, lockedAt: { $ne: null } };
    await until('a partition job half-way through its partition', 60_000, async () => {
      const job = await jobs.findOne(lockedJobs);
      if (!job) return undefined;
      const part = await AccrualPartition.findOne({ ...partitionsOfDay, partition: job.data.partition }).lean<AccrualPartitionDocument>();
      return part?.status === 'open' && part.checkpointHolderId !== null && part.workerPid === server!.child.pid;
    });

    // The slow request: the holder's payment-password attempts all look in flight, so the
    // withdrawal waits for them the whole security.paymentAttemptWaitMs, then counts them failed.
    await retryOnWriteConflict(() => User.updateOne({ _id: holder.userId }, { $set: { paymentFailures: 3 } }));
    const withdrawal = fetch(`${server.baseUrl}/v1/me/withdrawals`, {
      method: 'POST',
      headers: { ...holder.auth, ...JSON_BODY, 'idempotency-key': idempotencyKey() },
      body: JSON.stringify({ amount: '2.00', bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD }),
    });
    await until('the withdrawal in flight', 10_000, async () => (await inFlightRequests(server!)) >= 2); // it and the scrape
    const running = await jobs.find(lockedJobs).toArray();
    assert.equal(running.length, 1, 'one partition job at a time');
    server.child.kill('SIGTERM');

    await until('the shutdown under way', 10_000, async () => (await logLinesOf(server!)).some((line) => line.msg === 'shutting down'));
    await assert.rejects(fetch(`${server.baseUrl}/healthz`), 'no new connection is accepted');
    const answer = await withdrawal;
    assert.equal(answer.status, 423);
    assert.equal(answer.headers.get('connection'), 'close');
    assert.equal(((await answer.json()) as { code: string }).code, 'payment_locked');
    assert.equal((await balancesOf(holder.userId)).walletFen, 500n);

    assert.equal(await server.exited, 0, 'exit code');
    const job = (await jobs.findOne({ _id: running[0]!._id }))!;
    assert.equal(job.lockedAt, null, 'the lock is released');
    assert.ok(job.nextRunAt instanceof Date, 'handed over: due again, for another worker');
    assert.equal(await jobs.countDocuments({ 'data.fundCode': fund, lockedAt: { $ne: null } }), 0, 'no lock of the process is left');
    const interrupted = (await AccrualPartition.findOne({ ...partitionsOfDay, partition: job.data.partition }).lean<AccrualPartitionDocument>())!;
    assert.notEqual(interrupted.checkpointHolderId, null, 'it stopped after a checkpoint');
    const messages = (await logLinesOf(server)).map((line) => line.msg);
    assert.ok(messages.includes('job handed over: this process is stopping'));
    // The last word of the shutdown is 'stopped'. A request's access line is written when its
    // response closes, and one CI run saw it land after 'stopped': only the order of lines.
    assert.equal(messages.filter((message) => message !== 'request').at(-1), 'stopped');

    // Another process (here, this one) finishes the day from the checkpoints: every holder once.
    t.clock.set('2024-07-03T01:00:00+08:00');
    assert.deepEqual(await accrueThrough(t.ctx, fund, DAY), [DAY]);
    assert.equal((await fundDay(fund, DAY)).holders, HOLDERS);
  });

  it('an unlock Agenda makes without waiting for it cannot end the process when it fails', async () => {
    const t = testApp('2024-07-03T01:00:00+08:00');
    const ctx = createContext({ clock: t.clock, config: { ...t.ctx.config, jobs: { ...t.ctx.config.jobs, only: [] } } });
    const agenda = await startScheduler(ctx, { processJobs: false });
    try {
      // A job id the update cannot use stands for any failure of that update (a write conflict on FerretDB).
      const unlock = (agenda.db as unknown as { unlockJob(job: object): Promise<void> }).unlockJob({ _id: 'not an object id' });
      await assert.doesNotReject(unlock);
    } finally {
      await stopScheduler(ctx, agenda, 300);
    }
  });

  it('a job still running when the wait runs out has its lock released all the same (Agenda\'s stop() keeps it)', async () => {
    const t = testApp('2024-07-03T01:00:00+08:00');
    const ops = await newHolder(t.app, { ops: true });
    const fund = addTestFund(t);
    const base = t.ctx.config;
    // A long pause after each batch: the job touches its lock (where it could stop) only after it.
    const ctx = createContext({
      clock: t.clock,
      config: { ...base, jobs: { ...base.jobs, only: [ACCRUE_PARTITION_JOB] }, accrual: { ...base.accrual, batchSize: 5, pauseBetweenBatchesMs: 4_000 } },
    });
    await seedBook({ fundCode: fund, date: '2024-07-01', holders: 400, partitionCount: base.accrual.partitions, holderPrefix: uniqueId(`${fund}-h`), sharesFenOf: () => 1_000_000n });
    await publish(t, ops, fund, DAY, '0.4123');
    await openAccrualDay(ctx, fund);
    const agenda = await startScheduler(ctx, { processJobs: true });
    const queued = await agenda.now(ACCRUE_PARTITION_JOB, { fundCode: fund, date: DAY, partition: 0 });
    const jobs = mongoose.connection.db!.collection(JOBS_COLLECTION);
    const jobId = { _id: new ObjectId(String(queued.attrs._id)) };
    const lockOf = async () => (await jobs.findOne(jobId))!.lockedAt as Date | null;
    await until('the partition paused after its first batch', 30_000, async () => {
      const part = await AccrualPartition.findOne({ dayKey: dayKey(fund, DAY), partition: 0 }).lean<AccrualPartitionDocument>();
      return part?.checkpointHolderId != null && (await lockOf()) !== null;
    });

    await retryOnWriteConflict(() => agenda.stop(false));
    assert.notEqual(await lockOf(), null, 'Agenda 6 stop() leaves a running job locked');
    await stopScheduler(ctx, agenda, 300);
    const released = (await jobs.findOne(jobId))!;
    assert.equal(released.lockedAt, null, 'released when the wait ran out');
    assert.ok(released.nextRunAt instanceof Date, 'a one-off job is due again, for another worker');
    assert.equal(ctx.readiness.scheduler, 'stopped');
    // The job itself stops at its next touch and is handed over; wait for it so nothing runs on.
    await until('the job ended', 30_000, async () => (await jobs.findOne(jobId))!.lastFinishedAt != null);
    assert.deepEqual(await accrueThrough(t.ctx, fund, DAY), [DAY], 'the day finishes from the checkpoints');
  });
});
