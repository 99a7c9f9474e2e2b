/**
 * Three `npm run worker` processes accrue one fund day through Agenda; one is killed with
 * SIGKILL in the middle of a partition. The others take its partition over once its lock
 * lifetime passes, resume from the checkpoint, and the day ends exactly as a clean run
 * of the same book in one process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appConfig } from '../../src/config/config.ts';
import { FundDay, fundDayId, type FundDayDocument } from '../../src/fund/model.ts';
import { accrueThrough } from '../../src/income/accrual.ts';
import { AccrualPartition, dayKey } from '../../src/income/model.ts';
import { ACCRUE_INCOME_JOB, ACCRUE_PARTITION_JOB } from '../../src/income/scheduled.ts';
import { testApp } from '../support/api.ts';
import { seedBook } from '../support/book.ts';
import { testDatabaseUri, uniqueId } from '../support/database.ts';
import { addTestFund, publish, recordsOfDay } from '../support/income.ts';
import { newHolder } from '../support/api.ts';
import { until } from '../support/until.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOLDERS = 2_400;
const LOCK_LIFETIME_MS = 4_000;

function startWorker(fundCode: string, logFile: string): Promise<ChildProcess> {
  const config = appConfig();
  const nodeConfig = {
    funds: [...config.funds, { code: fundCode, name: 'kill test', sevenDayYieldMode: 'compound' }],
    jobs: { processEveryMs: 100, lockLifetimeMs: LOCK_LIFETIME_MS, only: [ACCRUE_INCOME_JOB, ACCRUE_PARTITION_JOB] },
    accrual: { batchSize: 25, pauseBetweenBatchesMs: 40 },
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

describe('accrual workers', function () {
  this.timeout(240_000);
  const workers: ChildProcess[] = [];

  after(() => {
    for (const worker of workers) worker.kill('SIGKILL');
  });

  it('three workers, one killed mid-partition: the others finish after the lock lifetime, as one clean run would', async () => {
    const t = testApp('2024-07-02T20:00:00+08:00');
    const ops = await newHolder(t.app, { ops: true });
    const killed = addTestFund(t);
    const clean = addTestFund(t);
    const partitionCount = t.ctx.config.accrual.partitions;
    const sharesFenOf = (index: number) => BigInt(100_000 + index * 7_919);
    for (const fundCode of [killed, clean]) {
      await seedBook({ fundCode, date: '2024-07-01', holders: HOLDERS, partitionCount, holderPrefix: uniqueId(`${fundCode}-h`), sharesFenOf });
      await publish(t, ops, fundCode, '2024-07-02', '0.4123');
    }
    t.clock.set('2024-07-03T01:00:00+08:00');
    await accrueThrough(t.ctx, clean, '2024-07-02');

    const logFile = path.join(os.tmpdir(), `${uniqueId('accrual-workers')}.log`);
    for (let index = 0; index < 3; index++) workers.push(await startWorker(killed, logFile));
    const pids = new Set(workers.map((worker) => worker.pid));
    const victim = await until('a partition half written by a worker', 120_000, async () => {
      const part = await AccrualPartition.findOne({ dayKey: dayKey(killed, '2024-07-02'), status: 'open', checkpointHolderId: { $ne: null } }).lean();
      return part && pids.has(part.workerPid ?? -1) ? part : undefined;
    });
    const victimWorker = workers.find((worker) => worker.pid === victim.workerPid)!;
    victimWorker.kill('SIGKILL');
    const killedAt = Date.now();

    const day = await until('the day accrued', 120_000, async () => {
      const found = await FundDay.findById(fundDayId(killed, '2024-07-02')).lean<FundDayDocument>();
      return found?.status === 'accrued' ? found : undefined;
    });
    const resumed = (await AccrualPartition.findById(victim._id).lean())!;
    assert.equal(resumed.status, 'done');
    assert.notEqual(resumed.workerPid, victim.workerPid, 'another worker finished the killed partition');
    assert.ok(Date.now() - killedAt >= LOCK_LIFETIME_MS / 2, 'the partition waited for its lock to lapse');

    const reference = (await FundDay.findById(fundDayId(clean, '2024-07-02')).lean<FundDayDocument>())!;
    assert.equal(day.holders, HOLDERS);
    for (const field of ['holders', 'eligibleSharesFen', 'distributedFen', 'residualFen8', 'sevenDayYieldCompoundPercent'] as const) {
      assert.equal(day[field], reference[field], field);
    }
    assert.equal((await recordsOfDay(killed, '2024-07-02', partitionCount)).length, HOLDERS);
    const incomes = async (fundCode: string) => (await recordsOfDay(fundCode, '2024-07-02', partitionCount)).map((record) => String(record.incomeFen)).sort();
    assert.deepEqual(await incomes(killed), await incomes(clean));
  });
});
