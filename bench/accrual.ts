/**
 * `npm run bench:accrual -- --holders N [--workers W] [--webhook] [--json]`: one fund day accrued through
 * the real job path (Agenda, W `npm run worker` processes: the coordinator job runs a day of
 * up to accrual.inlineHoldersMax holders itself, a bigger one through partition jobs) for a
 * book of N holders, then 10 × N; against, in the same run and on the same server, the floor: the
 * raw driver reading N holder documents with a cursor and appending N income documents
 * (same indexes as income_records) with unordered insertMany, 1,000 a batch, measured with the
 * workers started and idle (the job's conditions) and, for reference, before they start.
 * Prints holders/s for both, their ratio and the workers' peak RSS; with --webhook, a webhook
 * endpoint for every event type is registered (its receiver on loopback) and the rate at which
 * the day's income.credited reached it; with --json the last line is one JSON object.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Agenda } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import mongoose from 'mongoose';
import { MongoClient, type Db } from 'mongodb';
import { appConfig } from '../src/config/config.ts';
import { createContext, type AppContext } from '../src/context.ts';
import { connectMongoose, ensureIndexes } from '../src/db/connection.ts';
import { startEmbeddedStack } from '../src/db/embedded/stack.ts';
import { FundDay, fundDayId } from '../src/fund/model.ts';
import { publishYield } from '../src/fund/service.ts';
import { ACCRUE_INCOME_JOB, ACCRUE_PARTITION_JOB } from '../src/income/scheduled.ts';
import { seedBook } from '../test/support/book.ts';
import { createWebhookEndpoint, deleteWebhookEndpoint } from '../src/webhooks/service.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BATCH = 1_000;
const DELIVERY_WAIT_MS = 600_000;
const SEEDED_DATE = '2024-06-02';
const ACCRUED_DATE = '2024-06-03';

const { values } = parseArgs({
  options: { holders: { type: 'string', default: '100000' }, workers: { type: 'string', default: '2' }, webhook: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
});
const holders = Number(values.holders);
const workerCount = Number(values.workers);
// The worker command exactly as `npm run worker` runs it; it begins with exec, so the pid is the node process's.
const WORKER_COMMAND: string = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.worker;
if (!WORKER_COMMAND.startsWith('exec ')) throw new Error('npm run worker must exec node: the bench reads the peak RSS of the pid it spawns');
const sharesFenOf = (index: number) => BigInt(100_000 + ((index * 7_919) % 10_000_000));

interface Figures {
  holders: number;
  jobHoldersPerS: number;
  /** The floor with the workers started and idle, as the job runs: the ratio's baseline. */
  floorHoldersPerS: number;
  ratio: number;
  /** The floor before any worker started, and the job's ratio to it. */
  floorAloneHoldersPerS: number;
  ratioToFloorAlone: number;
  peakRssMb: number;
  jobSeconds: number;
  /** With --webhook: the day's income.credited events a receiver on loopback got per second, from the day's close. */
  deliveredPerS?: number;
}

/**
 * With --webhook, an endpoint for every event type, registered before the day is published (so
 * the relay, the log and the deliveries all run beside the accrual), and its receiver on loopback.
 */
class BenchReceiver {
  incomeEvents = 0;
  lastAtMs = 0;
  readonly #server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk)).on('end', () => {
      if ((JSON.parse(body) as { type: string }).type === 'income.credited') [this.incomeEvents, this.lastAtMs] = [this.incomeEvents + 1, performance.now()];
      res.writeHead(200).end();
    });
  });
  #endpointId = '';

  async register(ctx: AppContext): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.#endpointId = (await createWebhookEndpoint(ctx, { url: `http://127.0.0.1:${port}/hooks`, types: ['*'] }, 'bench')).id;
  }

  async close(): Promise<void> {
    await deleteWebhookEndpoint(this.#endpointId);
    this.#server.close();
  }
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** The floor: the raw driver reads N holder documents and appends N income documents. */
async function floorHoldersPerS(db: Db, size: number): Promise<number> {
  const source = db.collection<{ _id: string }>(`bench_holders_${size}`);
  const target = db.collection<{ _id: string }>(`bench_income_${size}`);
  await target.createIndex({ bookKey: 1 });
  const startedAt = performance.now();
  let batch: object[] = [];
  for await (const holder of source.find({}, { batchSize: BATCH })) {
    batch.push({ _id: `${holder._id}:${ACCRUED_DATE}`, bookKey: `floor:${ACCRUED_DATE}`, eligibleSharesFen: 100_000n, incomeFen: 41n, cumulativeIncomeFen: 41n });
    if (batch.length === BATCH) {
      await target.insertMany(batch as never[], { ordered: false });
      batch = [];
    }
  }
  if (batch.length > 0) await target.insertMany(batch as never[], { ordered: false });
  const seconds = (performance.now() - startedAt) / 1000;
  await target.drop();
  return size / seconds;
}

async function seedHolderDocuments(db: Db, size: number, prefix: string): Promise<void> {
  const collection = db.collection(`bench_holders_${size}`);
  for (let start = 0; start < size; start += BATCH) {
    const documents = Array.from({ length: Math.min(BATCH, size - start) }, (_, offset) => ({
      _id: `${prefix}${start + offset}`,
      sharesFen: sharesFenOf(start + offset),
      walletFen: 0n,
      fundCode: 'BENCH',
    }));
    await collection.insertMany(documents as never[], { ordered: false });
  }
}

async function startWorkers(uri: string, fundCode: string, logFile: string): Promise<ChildProcess[]> {
  const nodeConfig = {
    funds: [...appConfig().funds, { code: fundCode, name: 'bench', sevenDayYieldMode: 'compound' }],
    jobs: { processEveryMs: 100, only: [ACCRUE_INCOME_JOB, ACCRUE_PARTITION_JOB] },
  };
  const handle = await open(logFile, 'a');
  const workers = Array.from({ length: workerCount }, () =>
    spawn('sh', ['-c', WORKER_COMMAND], {
      cwd: ROOT,
      env: { ...process.env, MONGODB_URI: uri, NODE_CONFIG: JSON.stringify(nodeConfig), LOG_LEVEL: 'info' },
      stdio: ['ignore', handle.fd, handle.fd],
    }),
  );
  await handle.close();
  return workers;
}

/** Waits for the 'jobs started' line of every worker in the log. */
async function workersStarted(logFile: string, workers: ChildProcess[]): Promise<void> {
  const started = () =>
    new Set(readFileSync(logFile, 'utf8').split('\n').filter((line) => line.includes('"msg":"jobs started"')).map((line) => JSON.parse(line).pid as number));
  while (!workers.every((worker) => started().has(worker.pid!))) await sleep(100);
}

/** Peak resident set (VmHWM) of a live process, in MB. */
function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

async function waitForAccrued(fundCode: string): Promise<void> {
  for (;;) {
    const day = await FundDay.findById(fundDayId(fundCode, ACCRUED_DATE), { status: 1 }).lean();
    if (day?.status === 'accrued') return;
    await sleep(100);
  }
}

async function measure(uri: string, db: Db, size: number): Promise<Figures> {
  const fundCode = `BN${size}`;
  const prefix = `h${size}-`;
  progress(`seeding ${size} holders and their book`);
  await seedHolderDocuments(db, size, prefix);
  const config = appConfig();
  await seedBook({ fundCode, date: SEEDED_DATE, holders: size, partitionCount: config.accrual.partitions, holderPrefix: prefix, sharesFenOf });
  progress(`floor: cursor read + insertMany of ${size}, no worker running`);
  const floorAlone = await floorHoldersPerS(db, size);

  const ctx = createContext({ config: { ...config, funds: [...config.funds, { code: fundCode, name: 'bench', sevenDayYieldMode: 'compound' }] } });
  const logFile = path.join(os.tmpdir(), `bench-accrual-${process.pid}.log`);
  const workers = await startWorkers(uri, fundCode, logFile);
  // Started, connected, then idle a moment before the clock starts: on a busy machine a worker
  // can take many seconds to boot, which is not the job's time.
  await workersStarted(logFile, workers);
  await sleep(2_000);
  const idleRssMb = Math.max(...workers.map((worker) => peakRssMb(worker.pid!)));
  progress(`workers idle at a peak RSS of ${Math.round(idleRssMb)} MB`);
  // The floor again in the job's conditions: idle workers poll their jobs and relay events,
  // which on two cores slowed the floor by a fifth to a third.
  progress(`floor: cursor read + insertMany of ${size}, the workers idle`);
  const floor = await floorHoldersPerS(db, size);
  progress(`job: ${workerCount} workers accrue ${size} holders (worker log: ${logFile})`);
  // The bench's own Agenda client connects (and checks its indexes) before the clock starts: not the job's cost.
  const agenda = new Agenda({ backend: new MongoBackend({ mongo: mongoose.connection.db!, collection: 'agenda_jobs' }) });
  await agenda.ready;
  const receiver = values.webhook ? new BenchReceiver() : null;
  await receiver?.register(ctx);
  const startedAt = performance.now();
  await publishYield(ctx, { fundCode, date: ACCRUED_DATE, yieldPer10k: 4123n, publishedBy: 'bench' });
  await agenda.now(ACCRUE_INCOME_JOB);
  await waitForAccrued(fundCode);
  const accruedAt = performance.now();
  const jobSeconds = (accruedAt - startedAt) / 1000;
  const deliveredPerS = receiver ? await deliveredPerSecond(receiver, size, accruedAt) : undefined;
  await receiver?.close();
  const peak = Math.max(...workers.map((worker) => peakRssMb(worker.pid!)));
  for (const worker of workers) worker.kill('SIGTERM');
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve))));
  const jobPerS = size / jobSeconds;
  return {
    holders: size,
    jobHoldersPerS: Math.round(jobPerS),
    floorHoldersPerS: Math.round(floor),
    ratio: round2(jobPerS / floor),
    floorAloneHoldersPerS: Math.round(floorAlone),
    ratioToFloorAlone: round2(jobPerS / floorAlone),
    peakRssMb: Math.round(peak),
    jobSeconds: round2(jobSeconds),
    deliveredPerS,
  };
}

/** Waits (at most DELIVERY_WAIT_MS) for the receiver to get every holder's income.credited. */
async function deliveredPerSecond(receiver: BenchReceiver, size: number, accruedAtMs: number): Promise<number> {
  const giveUpAt = Date.now() + DELIVERY_WAIT_MS;
  while (receiver.incomeEvents < size && Date.now() < giveUpAt) await sleep(200);
  if (receiver.incomeEvents < size) progress(`the receiver got ${receiver.incomeEvents} of ${size} income events in ${DELIVERY_WAIT_MS / 1000} s`);
  return Math.round(receiver.incomeEvents / ((receiver.lastAtMs - accruedAtMs) / 1000));
}

const round2 = (value: number) => Math.round(value * 100) / 100;

async function main(): Promise<void> {
  const stack = await startEmbeddedStack({ databaseName: 'moneyfund_bench' });
  const client = await MongoClient.connect(stack.uri, { maxPoolSize: 10, useBigInt64: true });
  await connectMongoose(stack.uri);
  await ensureIndexes();
  try {
    const base = await measure(stack.uri, client.db(), holders);
    const tenX = await measure(stack.uri, client.db(), holders * 10);
    console.log(`holders | job holders/s | floor holders/s | ratio | floor, no worker | ratio to it | worker peak RSS MB | job s${values.webhook ? ' | income events delivered/s' : ''}`);
    for (const row of [base, tenX]) {
      const figures = [row.holders, row.jobHoldersPerS, row.floorHoldersPerS, row.ratio, row.floorAloneHoldersPerS, row.ratioToFloorAlone, row.peakRssMb, row.jobSeconds];
      console.log(`${figures.join(' | ')}${values.webhook ? ` | ${row.deliveredPerS}` : ''}`);
    }
    const timeRatio = round2(tenX.jobSeconds / base.jobSeconds);
    console.log(`10× the holders took ${timeRatio}× the time`);
    if (values.json) {
      const { jobSeconds: _seconds, ...baseFigures } = base;
      const { jobSeconds: _tenXSeconds, deliveredPerS: _tenXDelivered, ...tenXFigures } = tenX;
      console.log(JSON.stringify({ ...baseFigures, tenX: tenXFigures, timeRatio10x: timeRatio }));
    }
  } finally {
    await mongoose.disconnect();
    await client.close();
    await stack.stop();
  }
}

await main();
