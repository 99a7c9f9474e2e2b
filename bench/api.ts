/**
 * `npm run bench:api [-- --seconds 10] [--concurrency 8,16,32,64] [--json]`: instant
 * redemptions through HTTP against the real API process, and in the same run, on the same
 * server, the floor: a bare Express route doing one guarded updateOne. For each: the
 * saturation rate (a closed loop of clients, at the count of those given that answers most
 * for that side; both sides warmed up, swept and measured alike, in turns), then p50/p99
 * latency with requests sent at half that rate (an open loop), and the CPU milliseconds each
 * request cost in each process (steadier than the rates on a noisy machine). An account holds
 * only the marks of its legs not yet finished, so its steady state is its state after a few
 * redemptions, which the warm-up reaches. With --json the last line is
 * one JSON object; with --cpu-prof-dir the API and floor processes write V8 CPU profiles
 * there when they stop. Last, the PostgreSQL transactions each request cost (FerretDB runs
 * every statement and read in its own), counted at saturation's client counts: the one figure
 * here that a busy machine does not move.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import mongoose from 'mongoose';
import pg from 'pg';
import { appConfig, type AppConfig } from '../src/config/config.ts';
import { connectMongoose, disconnectMongoose, ensureIndexes } from '../src/db/connection.ts';
import { freePort } from '../src/db/embedded/processes.ts';
import { startEmbeddedStack } from '../src/db/embedded/stack.ts';
import { PAYMENT_PASSWORD, seedMarket, type SeededUser } from '../scripts/seed.ts';
import { cpuByGroup, cpuMsPer, postmasterPid } from './processCpu.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const FUND = 'BENCHAPI';
const FLOOR_DOCUMENTS = 40;
const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '8,16,32,64' }, json: { type: 'boolean', default: false }, 'cpu-prof-dir': { type: 'string' } },
});
const seconds = Number(values.seconds);
const CLIENT_COUNTS = values.concurrency.split(',').map(Number);
const SLICE_MS = 1000;
/** Slices per side at each client count while looking for a side's saturation. */
const SWEEP_SLICES = 2;

type Send = () => Promise<boolean>;

/** One side of the comparison: its request, and how many clients send it at once. */
interface Side {
  send: Send;
  clients: number;
}

async function startServer(args: string[], uri: string, port: number, nodeConfig: object): Promise<ChildProcess> {
  const profile = values['cpu-prof-dir'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof-dir']}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, MONGODB_URI: uri, PORT: String(port), NODE_CONFIG: JSON.stringify(nodeConfig), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  while (!(await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false))) await sleep(100);
  return child;
}

interface Saturation {
  perS: number;
  /** CPU milliseconds per answered request, by process group. */
  cpuMs: Record<string, number>;
}

interface Tally {
  done: number;
  elapsedMs: number;
  cpuS: Record<string, number>;
}

/** A closed loop for `durationMs`: the side's clients, each sending its next request as the last one answers. */
async function closedLoop(side: Side, durationMs: number, readCpu: () => Record<string, number>, tally: Tally): Promise<void> {
  const start = performance.now();
  const cpuBefore = readCpu();
  await Promise.all(
    Array.from({ length: side.clients }, async () => {
      while (performance.now() - start < durationMs) if (await side.send()) tally.done++;
    }),
  );
  tally.elapsedMs += performance.now() - start;
  for (const [group, cpuS] of Object.entries(readCpu())) tally.cpuS[group] = (tally.cpuS[group] ?? 0) + cpuS - (cpuBefore[group] ?? 0);
}

/**
 * The rate of each side, over `slices` one-second slices each, taken in turn (A B B A A B...):
 * this machine's speed drifts from one minute to the next (by a fifth between runs), and
 * measured one after the other, the two sides would each get a different machine.
 */
async function interleavedRates(sides: Side[], readCpu: () => Record<string, number>, slices: number): Promise<Saturation[]> {
  const tallies = sides.map((): Tally => ({ done: 0, elapsedMs: 0, cpuS: {} }));
  for (let slice = 0; slice < slices; slice++) {
    const order = slice % 2 === 0 ? [...sides.keys()] : [...sides.keys()].reverse();
    for (const side of order) await closedLoop(sides[side]!, SLICE_MS, readCpu, tallies[side]!);
  }
  return tallies.map(({ done, elapsedMs, cpuS }) => ({ perS: (done * 1000) / elapsedMs, cpuMs: cpuMsPer(done, {}, cpuS) }));
}

/**
 * Each side's client count at saturation: the one of CLIENT_COUNTS at which it answered most
 * in short runs, both sides swept alike. A side whose request waits on more round trips needs
 * more clients in flight to keep the machine busy (an instant redemption writes twice, one
 * after the other; the floor once).
 */
async function saturatingClients(sends: Send[], readCpu: () => Record<string, number>): Promise<number[]> {
  const best = sends.map(() => ({ clients: CLIENT_COUNTS[0]!, perS: 0 }));
  for (const clients of CLIENT_COUNTS) {
    const runs = await interleavedRates(sends.map((send) => ({ send, clients })), readCpu, SWEEP_SLICES);
    runs.forEach((run, index) => {
      if (run.perS > best[index]!.perS) best[index] = { clients, perS: run.perS };
    });
  }
  return best.map(({ clients }) => clients);
}

/** An open loop at `ratePerS`: latencies of every request, sent on schedule whatever the answers. */
async function latenciesAt(send: Send, ratePerS: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const latencies: number[] = [];
  const inFlight: Promise<void>[] = [];
  const intervalMs = 1000 / ratePerS;
  const start = performance.now();
  for (let index = 0; index < ratePerS * seconds; index++) {
    const due = start + index * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    inFlight.push(send().then(() => void latencies.push(performance.now() - due)));
  }
  await Promise.all(inFlight);
  latencies.sort((a, b) => a - b);
  const at = (share: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * share))]! * 10) / 10;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** Counted requests for the transactions figure, and how long PostgreSQL may take to publish its counts (an idle backend reports within 10 s). */
const COUNTED_REQUESTS = 400;
const STATS_SETTLE_MS = 11_000;

/** PostgreSQL transactions (commits and rollbacks, all databases) per answered request of `side`, the machine otherwise idle. */
async function transactionsPer(side: Side, postgresPort: number): Promise<number> {
  const client = new pg.Client({ host: '127.0.0.1', port: postgresPort, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    const count = async () => {
      await sleep(STATS_SETTLE_MS);
      const { rows } = await client.query<{ n: string }>('SELECT sum(xact_commit + xact_rollback)::text AS n FROM pg_stat_database');
      return Number(rows[0]!.n);
    };
    const before = await count();
    let sent = 0;
    let answered = 0;
    await Promise.all(
      Array.from({ length: side.clients }, async () => {
        while (sent++ < COUNTED_REQUESTS) if (await side.send()) answered++;
      }),
    );
    // The two counting queries are transactions of their own.
    return Math.round(((await count()) - before - 2) / answered * 100) / 100;
  } finally {
    await client.end();
  }
}

/** The figures of one side without the other side's server, idle meanwhile. */
function withoutIdle(cpuMs: Record<string, number>, idle: string): Record<string, number> {
  const { [idle]: _idle, ...rest } = cpuMs;
  return rest;
}

async function main(): Promise<void> {
  const stack = await startEmbeddedStack({ databaseName: 'moneyfund_bench_api' });
  const children: ChildProcess[] = [];
  try {
    await connectMongoose(stack.uri);
    await ensureIndexes();
    const base = appConfig();
    const funds = [...base.funds, { code: FUND, name: 'bench', sevenDayYieldMode: 'compound' as const }];
    const config: AppConfig = { ...base, funds };
    const market = await seedMarket(config, { fundCode: FUND, holders: 40, reserveYuan: '10000000.00', topUpYuan: '10000.00', transferInYuan: '10000.00' });
    const counters = mongoose.connection.db!.collection<{ _id: string; n: number }>('bench_floor_counters');
    await counters.insertMany(Array.from({ length: FLOOR_DOCUMENTS }, (_, index) => ({ _id: `c${index}`, n: 0 })));
    const [apiPort, floorPort] = [await freePort(), await freePort()];
    // 40 holders stand for many clients: each sends far more than the per-user limit allows.
    const unlimited = { rateLimits: { login: { max: 1_000_000 }, paymentPassword: { max: 1_000_000 } } };
    children.push(await startServer(['src/server.ts'], stack.uri, apiPort, { funds, jobs: { only: [] }, security: unlimited }));
    children.push(await startServer(['bench/floorServer.ts'], stack.uri, floorPort, {}));

    let sequence = 0;
    const redeem: Send = async () => {
      const holder = market.holders[sequence++ % market.holders.length]!;
      const response = await fetch(`http://127.0.0.1:${apiPort}/v1/me/instant-redemptions`, {
        method: 'POST',
        headers: { ...holder.auth, 'content-type': 'application/json', 'idempotency-key': `bench-${process.pid}-${sequence}` },
        body: JSON.stringify({ amount: '0.01', paymentPassword: PAYMENT_PASSWORD }),
      });
      await response.arrayBuffer();
      return response.status === 201;
    };
    const floor: Send = async () => {
      const response = await fetch(`http://127.0.0.1:${floorPort}/floor/c${sequence++ % FLOOR_DOCUMENTS}`, { method: 'POST' });
      await response.arrayBuffer();
      return response.status === 201;
    };
    const postgres = postmasterPid(`${stack.dataDir}/pgdata`);
    const readCpu = () => cpuByGroup({ api: children[0]!.pid, floorServer: children[1]!.pid }, [postgres]);
    // Both sides warm up first (scrypt once per holder, JIT, connections, caches): a floor
    // measured cold ran a fifth slower than a warm one and flattered the ratio.
    const warmUpClients = CLIENT_COUNTS[0]!;
    await interleavedRates([{ send: redeem, clients: warmUpClients }, { send: floor, clients: warmUpClients }], readCpu, seconds);
    const [floorClients, redeemClients] = (await saturatingClients([floor, redeem], readCpu)) as [number, number];
    const [floorRun, redeemRun] = (await interleavedRates([{ send: floor, clients: floorClients }, { send: redeem, clients: redeemClients }], readCpu, seconds)) as [Saturation, Saturation];
    const [floorPerS, redemptionsPerS] = [floorRun.perS, redeemRun.perS];
    const latency = await latenciesAt(redeem, Math.max(1, Math.round(redemptionsPerS / 2)));
    const floorLatency = await latenciesAt(floor, Math.max(1, Math.round(floorPerS / 2)));
    const transactions = {
      perRedemption: await transactionsPer({ send: redeem, clients: redeemClients }, stack.postgresPort),
      perFloorUpdate: await transactionsPer({ send: floor, clients: floorClients }, stack.postgresPort),
    };
    const figures = {
      redemptionsPerS: Math.round(redemptionsPerS),
      floorPerS: Math.round(floorPerS),
      ratio: Math.round((redemptionsPerS / floorPerS) * 100) / 100,
      p50Ms: latency.p50Ms,
      p99Ms: latency.p99Ms,
      floorP50Ms: floorLatency.p50Ms,
      floorP99Ms: floorLatency.p99Ms,
      redemptionClients: redeemClients,
      floorClients,
      cpuMsPerRedemption: withoutIdle(redeemRun.cpuMs, 'floorServer'),
      cpuMsPerFloorUpdate: withoutIdle(floorRun.cpuMs, 'api'),
      postgresTransactions: transactions,
    };
    console.log(`instant redemptions ${figures.redemptionsPerS}/s (${redeemClients} clients), floor ${figures.floorPerS}/s (${floorClients} clients), ratio ${figures.ratio}`);
    console.log(`at half saturation: p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms (floor ${figures.floorP50Ms} / ${figures.floorP99Ms} ms)`);
    const cpuLine = (cpuMs: Record<string, number>) => Object.entries(cpuMs).map(([group, ms]) => `${group} ${ms}`).join(', ');
    console.log(`CPU ms per redemption: ${cpuLine(figures.cpuMsPerRedemption)}; per floor update: ${cpuLine(figures.cpuMsPerFloorUpdate)}`);
    console.log(`PostgreSQL transactions per redemption ${transactions.perRedemption}, per floor update ${transactions.perFloorUpdate}`);
    if (values.json) console.log(JSON.stringify(figures));
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await disconnectMongoose();
    await stack.stop();
  }
}

await main();
