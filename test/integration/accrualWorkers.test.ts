/**
 * The accrual through Agenda. A day above accrual.inlineHoldersMax is cut into partition
 * jobs: three `npm run worker` processes share it, one is killed with SIGKILL in the middle
 * of a partition, the others take its partition over once its lock lifetime passes, resume
 * from the checkpoint, and the day ends exactly as a clean run of the same book in one
 * process. A smaller day is run by the coordinator job itself, with no partition job: the
 * same records and totals; a coordinator killed half-way, on a day one of whose partitions
 * another worker had left half done, is resumed by the next and credits every holder once.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agenda } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import mongoose from 'mongoose';
import { appConfig, type AppConfig } from '../../src/config/config.ts';
import { createContext } from '../../src/context.ts';
import { FundDay, fundDayId, type FundDayDocument } from '../../src/fund/model.ts';
import { accruePartition, accrueThrough, openAccrualDay } from '../../src/income/accrual.ts';
import { AccrualPartition, dayKey, type AccrualPartitionDocument } from '../../src/income/model.ts';
import { ACCRUE_INCOME_JOB, ACCRUE_PARTITION_JOB, coordinateAccrual } from '../../src/income/scheduled.ts';
import { JOBS_COLLECTION, startScheduler, stopScheduler } from '../../src/scheduler.ts';
import { testApp, type TestApp } from '../support/api.ts';
import { seedBook } from '../support/book.ts';
import { testDatabaseUri, uniqueId } from '../support/database.ts';
import { addTestFund, publish, recordsOfDay } from '../support/income.ts';
import { newHolder } from '../support/api.ts';
import { until } from '../support/until.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOLDERS = 2_400;
const LOCK_LIFETIME_MS = 4_000;
const DAY = '2024-07-02';

function startWorker(fundCode: string, logFile: string, accrual: Partial<AppConfig['accrual']>): Promise<ChildProcess> {
  const config = appConfig();
  const nodeConfig = {
    funds: [...config.funds, { code: fundCode, name: 'kill test', sevenDayYieldMode: 'compound' }],
    jobs: { processEveryMs: 100, lockLifetimeMs: LOCK_LIFETIME_MS, only: [ACCRUE_INCOME_JOB, ACCRUE_PARTITION_JOB] },
    accrual: { batchSize: 25, pauseBetweenBatchesMs: 40, ...accrual },
  };
  return open(logFile, 'a').then(async (handle) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', '--worker'], {
      cwd: ROOT,
      env: { ...process.env, MONGODB_URI: testDatabaseUri(), NODE_CONFIG: JSON.stringify(nodeConfig), LOG_LEVEL: 'info' },
      stdio: ['ignore', handle.fd, handle.fd],
    });
    await handle.close();
    return child;
  });
}

/** Two funds with the same seeded book and 万份收益 for DAY, the clock the morning after. */
async function twinFunds(t: TestApp, holders: number): Promise<[string, string]> {
  const ops = await newHolder(t.app, { ops: true });
  const funds: [string, string] = [addTestFund(t), addTestFund(t)];
  const sharesFenOf = (index: number) => BigInt(100_000 + index * 7_919);
  for (const fundCode of funds) {
    await seedBook({ fundCode, date: '2024-07-01', holders, partitionCount: t.ctx.config.accrual.partitions, holderPrefix: uniqueId(`${fundCode}-h`), sharesFenOf });
    await publish(t, ops, fundCode, DAY, '0.4123');
  }
  t.clock.set('2024-07-03T01:00:00+08:00');
  return funds;
}

async function accruedDay(fundCode: string, timeoutMs: number): Promise<FundDayDocument> {
  return until(`${fundCode} ${DAY} accrued`, timeoutMs, async () => {
    const found = await FundDay.findById(fundDayId(fundCode, DAY)).lean<FundDayDocument>();
    return found?.status === 'accrued' ? found : undefined;
  });
}

/** The day's figures and every holder's income must be those of the reference fund's. */
async function assertSameDay(t: TestApp, fundCode: string, referenceCode: string, holders: number): Promise<void> {
  const [day, reference] = await Promise.all([fundCode, referenceCode].map((code) => FundDay.findById(fundDayId(code, DAY)).lean<FundDayDocument>()));
  assert.equal(day!.holders, holders);
  for (const field of ['holders', 'eligibleSharesFen', 'distributedFen', 'residualFen8', 'sevenDayYieldCompoundPercent'] as const) {
    assert.equal(day![field], reference![field], field);
  }
  const partitionCount = t.ctx.config.accrual.partitions;
  assert.equal((await recordsOfDay(fundCode, DAY, partitionCount)).length, holders, 'one record per holder');
  const incomes = async (code: string) => (await recordsOfDay(code, DAY, partitionCount)).map((record) => `${record.incomeFen} ${record.cumulativeIncomeFen}`).sort();
  assert.deepEqual(await incomes(fundCode), await incomes(referenceCode));
}

const jobsCollection = () => mongoose.connection.db!.collection(JOBS_COLLECTION);
const partitionJobsOf = (fundCode: string) => jobsCollection().countDocuments({ name: ACCRUE_PARTITION_JOB, 'data.fundCode': fundCode });

/** A context on the test's clock that knows only this fund, with these job and accrual settings. */
function fundOnlyContext(t: TestApp, fundCode: string, jobs: Partial<AppConfig['jobs']>, accrual: Partial<AppConfig['accrual']>) {
  const base = t.ctx.config;
  const funds = base.funds.filter((fund) => fund.code === fundCode);
  return createContext({ clock: t.clock, config: { ...base, funds, jobs: { ...base.jobs, ...jobs }, accrual: { ...base.accrual, ...accrual } } });
}

/** Runs the coordinator job once in this process's own scheduler, for this fund only, until the day is accrued. */
async function coordinate(t: TestApp, fundCode: string, accrual: Partial<AppConfig['accrual']>): Promise<void> {
  const ctx = fundOnlyContext(t, fundCode, { only: [ACCRUE_INCOME_JOB, ACCRUE_PARTITION_JOB] }, accrual);
  const agenda = await startScheduler(ctx, { processJobs: true });
  try {
    await agenda.now(ACCRUE_INCOME_JOB);
    await accruedDay(fundCode, 60_000);
  } finally {
    await stopScheduler(ctx, agenda, 5_000);
  }
}

describe('accrual workers', function () {
  this.timeout(240_000);
  const workers: ChildProcess[] = [];

  // A test's workers know only its funds: left running, they would take the next test's coordinator job.
  afterEach(() => {
    for (const worker of workers.splice(0)) worker.kill('SIGKILL');
  });

  it('a small day is run by the coordinator itself, with no partition job, and ends as the partition jobs end it', async () => {
    const t = testApp('2024-07-02T20:00:00+08:00');
    const holders = 600;
    const [inline, partitioned] = await twinFunds(t, holders);
    await coordinate(t, partitioned, { inlineHoldersMax: holders - 1 });
    assert.equal(await partitionJobsOf(partitioned), t.ctx.config.accrual.partitions, 'a day over the threshold: a job per partition');
    await coordinate(t, inline, { inlineHoldersMax: holders });
    assert.equal(await partitionJobsOf(inline), 0, 'no partition job queued');
    const parts = await AccrualPartition.find({ dayKey: dayKey(inline, DAY) }).lean<AccrualPartitionDocument[]>();
    assert.ok(parts.length === t.ctx.config.accrual.partitions && parts.every((part) => part.status === 'done' && part.workerPid === process.pid));
    await assertSameDay(t, inline, partitioned, holders);
  });

  it('a coordinator stopped while it runs a day itself ends after its batches in flight and gives the day up at once', async () => {
    const t = testApp('2024-07-02T20:00:00+08:00');
    const holders = 400;
    const [stopped, clean] = await twinFunds(t, holders);
    await accrueThrough(t.ctx, clean, DAY);
    const base = t.ctx.config;
    const ctx = fundOnlyContext(t, stopped, { only: [ACCRUE_INCOME_JOB] }, { batchSize: 5, pauseBetweenBatchesMs: 300 });
    const agenda = await startScheduler(ctx, { processJobs: true });
    await agenda.now(ACCRUE_INCOME_JOB);
    await until('a partition half written by the coordinator', 30_000, () => AccrualPartition.findOne({ dayKey: dayKey(stopped, DAY), status: 'open', checkpointHolderId: { $ne: null } }).lean());
    await stopScheduler(ctx, agenda, 10_000);
    const day = (await FundDay.findById(fundDayId(stopped, DAY)).lean<FundDayDocument>())!;
    assert.equal(day.status, 'accruing');
    assert.equal(day.inlineRunner, null, 'the lease is given up');
    const done = await AccrualPartition.countDocuments({ dayKey: dayKey(stopped, DAY), status: 'done' });
    assert.ok(done < base.accrual.partitions, 'stopped before the end of the day');
    // The next coordinator (here, this process) need not wait for the lease to lapse.
    const next = fundOnlyContext(t, stopped, {}, {});
    await coordinateAccrual(next, { touch: async () => new Date(Date.now() + 60_000), enqueue: async () => assert.fail('no partition job') });
    assert.equal((await FundDay.findById(fundDayId(stopped, DAY)).lean<FundDayDocument>())!.status, 'accrued');
    await assertSameDay(t, stopped, clean, holders);
  });

  it('a day run inline for longer than its lease keeps it, renewed with the job lock a few times rather than after every batch', async () => {
    const t = testApp('2024-07-02T20:00:00+08:00');
    const holders = 400;
    const [fundCode, clean] = await twinFunds(t, holders);
    await accrueThrough(t.ctx, clean, DAY);
    // 80 batches of 5 holders, 4 partitions at a time, 100 ms apart: about 2 s, renewed every quarter of a 2 s lease.
    const ctx = fundOnlyContext(t, fundCode, { lockLifetimeMs: 2_000, only: [ACCRUE_INCOME_JOB] }, { batchSize: 5, pauseBetweenBatchesMs: 100 });
    const agenda = await startScheduler(ctx, { processJobs: true });
    const leasesSeen = new Set<number>();
    let lapsedWhileRunning = false;
    try {
      await agenda.now(ACCRUE_INCOME_JOB);
      await until(`${fundCode} ${DAY} accrued`, 60_000, async () => {
        const day = (await FundDay.findById(fundDayId(fundCode, DAY)).lean<FundDayDocument>())!;
        if (day.status === 'accruing' && day.inlineRunUntil) {
          leasesSeen.add(day.inlineRunUntil.getTime());
          lapsedWhileRunning ||= day.inlineRunUntil.getTime() < Date.now();
        }
        return day.status === 'accrued' ? day : undefined;
      });
    } finally {
      await stopScheduler(ctx, agenda, 5_000);
    }
    assert.equal(lapsedWhileRunning, false, 'the lease never lapsed while the run went on');
    assert.ok(leasesSeen.size >= 2, `renewed at least once (leases seen: ${leasesSeen.size})`);
    assert.ok(leasesSeen.size <= 8, `renewed a few times, not after each of 80 batches (leases seen: ${leasesSeen.size})`);
    await assertSameDay(t, fundCode, clean, holders);
  });

  it('three workers, one killed mid-partition: the others finish after the lock lifetime, as one clean run would', async () => {
    const t = testApp('2024-07-02T20:00:00+08:00');
    const [killed, clean] = await twinFunds(t, HOLDERS);
    await accrueThrough(t.ctx, clean, DAY);

    const logFile = path.join(os.tmpdir(), `${uniqueId('accrual-workers')}.log`);
    // A day this small would be run by the coordinator itself: partition jobs are what is tested.
    for (let index = 0; index < 3; index++) workers.push(await startWorker(killed, logFile, { inlineHoldersMax: 0 }));
    const pids = new Set(workers.map((worker) => worker.pid));
    const victim = await until('a partition half written by a worker', 120_000, async () => {
      const part = await AccrualPartition.findOne({ dayKey: dayKey(killed, DAY), status: 'open', checkpointHolderId: { $ne: null } }).lean();
      return part && pids.has(part.workerPid ?? -1) ? part : undefined;
    });
    const victimWorker = workers.find((worker) => worker.pid === victim.workerPid)!;
    victimWorker.kill('SIGKILL');
    const killedAt = Date.now();

    await accruedDay(killed, 120_000);
    const resumed = (await AccrualPartition.findById(victim._id).lean())!;
    assert.equal(resumed.status, 'done');
    assert.notEqual(resumed.workerPid, victim.workerPid, 'another worker finished the killed partition');
    assert.ok(Date.now() - killedAt >= LOCK_LIFETIME_MS / 2, 'the partition waited for its lock to lapse');
    await assertSameDay(t, killed, clean, HOLDERS);
  });

  it('a coordinator killed while it runs a day itself, one partition left half done by another worker: the next coordinator credits every holder once', async () => {
    const t = testApp('2024-07-02T20:00:00+08:00');
    const [killed, clean] = await twinFunds(t, HOLDERS);
    await accrueThrough(t.ctx, clean, DAY);
    // Another worker wrote one batch of partition 0 and died.
    const slow = createContext({ clock: t.clock, config: { ...t.ctx.config, accrual: { ...t.ctx.config.accrual, batchSize: 25 } } });
    const day = (await openAccrualDay(slow, killed))!;
    const died = new Error('the other worker died');
    await assert.rejects(accruePartition(slow, killed, day.date, 0, { afterBatch: () => Promise.reject(died) }), died);
    const halfDone = (await AccrualPartition.findOne({ dayKey: dayKey(killed, DAY), partition: 0 }).lean<AccrualPartitionDocument>())!;
    assert.ok(halfDone.status === 'open' && halfDone.holders === 25);

    const logFile = path.join(os.tmpdir(), `${uniqueId('accrual-coordinator')}.log`);
    for (let index = 0; index < 2; index++) workers.push(await startWorker(killed, logFile, {}));
    const pids = new Set(workers.map((worker) => worker.pid));
    const agenda = new Agenda({ backend: new MongoBackend({ mongo: mongoose.connection.db!, collection: JOBS_COLLECTION }) });
    await agenda.now(ACCRUE_INCOME_JOB);
    const victim = await until('a partition half written by the coordinator', 120_000, async () => {
      const part = await AccrualPartition.findOne({ dayKey: dayKey(killed, DAY), status: 'open', checkpointHolderId: { $ne: null }, partition: { $ne: 0 } }).lean();
      return part && pids.has(part.workerPid ?? -1) ? part : undefined;
    });
    workers.find((worker) => worker.pid === victim.workerPid)!.kill('SIGKILL');
    const killedAt = Date.now();

    await accruedDay(killed, 120_000);
    // The day's lease lapses with the job's lock: the coordinator taking the job over finds the
    // day free, rather than leased a moment longer and left to the next run a minute later.
    assert.ok(Date.now() - killedAt < LOCK_LIFETIME_MS + 15_000, `taken over once the lock lapsed (${Date.now() - killedAt} ms after the kill)`);
    assert.equal(await partitionJobsOf(killed), 0, 'no partition job queued');
    const parts = await AccrualPartition.find({ dayKey: dayKey(killed, DAY) }).lean<AccrualPartitionDocument[]>();
    assert.ok(parts.every((part) => part.status === 'done'));
    assert.ok(parts.some((part) => part.workerPid !== victim.workerPid && pids.has(part.workerPid ?? -1)), 'another worker resumed the day');
    await assertSameDay(t, killed, clean, HOLDERS);
  });
});
