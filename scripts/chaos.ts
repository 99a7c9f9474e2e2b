/**
 * `npm run chaos -- [--seconds 45] [--clients 16] [--operations 3000] [--kill-every-ms 3000] [--json]`
 *
 * Many concurrent clients send random money requests (top-ups, transfer-ins, normal and
 * instant redemptions, merchant payments, accrual days) over HTTP to an API process while a
 * worker process runs the jobs; every few seconds one of the two is killed with SIGKILL and
 * started again. Clients retry with the same Idempotency-Key until they get an answer. Then
 * recovery runs until nothing is pending, and the books are checked: fen created or lost
 * (money held, merchants' receipts included, = money that came in: bank charges, reserve
 * funding, income distributed), reconciliation breaks and negative balances. All must be 0. Bounded in time and count; loopback only; the
 * database belongs to this process, never to one it kills.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Account, type AccountDocument } from '../src/accounts/model.ts';
import { SimulatedBankTransfer } from '../src/bank/model.ts';
import { appConfig, type AppConfig } from '../src/config/config.ts';
import { createContext } from '../src/context.ts';
import { connectMongoose, disconnectMongoose, ensureIndexes } from '../src/db/connection.ts';
import { freePort } from '../src/db/embedded/processes.ts';
import { startEmbeddedStack } from '../src/db/embedded/stack.ts';
import { FundDay } from '../src/fund/model.ts';
import { incomePosition } from '../src/income/fold.ts';
import { receiptTotals } from '../src/merchants/service.ts';
import { Operation } from '../src/operations/model.ts';
import { reconcileJournal } from '../src/reconciliation/service.ts';
import { ReserveShard } from '../src/reserve/model.ts';
import { recoverStuckOperations } from '../src/operations/recovery.ts';
import { PAYMENT_PASSWORD, seedMarket, type Market } from './seed.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const FUND = 'CHAOS1';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '45' },
    clients: { type: 'string', default: '16' },
    operations: { type: 'string', default: '3000' },
    'kill-every-ms': { type: 'string', default: '3000' },
    holders: { type: 'string', default: '6' },
    json: { type: 'boolean', default: false },
  },
});

/** Settings for the processes under test: the chaos fund, quick jobs and quick recovery. */
const overrides = {
  funds: [...appConfig().funds, { code: FUND, name: 'Chaos fund', sevenDayYieldMode: 'compound' }],
  jobs: { processEveryMs: 200, recoverAfterMs: 2_000, lockLifetimeMs: 5_000 },
  accrual: { checkEvery: '5 seconds', partitions: appConfig().accrual.partitions },
  // Small, short reserve leases: many open and close (and die with the API) in one run.
  reserve: { leaseMaxFen: '1000000', leaseLifetimeMs: 3_000 },
  // A few holders stand for many clients: the per-user request limits would refuse most of them.
  security: { rateLimits: { login: { max: 1_000_000 }, paymentPassword: { max: 1_000_000 } } },
};

const log = (text: string) => process.stderr.write(`chaos: ${text}\n`);

async function main(): Promise<number> {
  const stack = await startEmbeddedStack({ databaseName: 'moneyfund_chaos' });
  try {
    await connectMongoose(stack.uri);
    await ensureIndexes();
    return await run(stack.uri);
  } finally {
    await disconnectMongoose();
    await stack.stop();
  }
}

async function run(uri: string): Promise<number> {
  const base = appConfig();
  const config: AppConfig = {
    ...base,
    funds: overrides.funds as AppConfig['funds'],
    accrual: { ...base.accrual, ...overrides.accrual },
    jobs: { ...base.jobs, ...overrides.jobs },
  };
  const setup = await seedMarket(config, { fundCode: FUND, holders: Number(values.holders), reserveYuan: '200000.00', topUpYuan: '50000.00', transferInYuan: '30000.00' });
  const calendar = createContext({ config }).calendar;
  const today = calendar.businessDateOf(new Date());
  const processes = new Processes(uri);
  await processes.startAll();
  const [firstYieldDay, lastYieldDay] = [setup.confirmDate, calendar.addCalendarDays(today, -1)];
  log(`API on ${processes.baseUrl}; ${setup.holders.length} holders; traffic for ${values.seconds} s; accrual days ${firstYieldDay}..${lastYieldDay}`);
  const traffic = new Traffic(processes, setup, firstYieldDay, lastYieldDay);
  const deadline = Date.now() + Number(values.seconds) * 1000;
  const killer = processes.killEvery(Number(values['kill-every-ms']), () => Date.now() < deadline && traffic.sent < Number(values.operations));
  await Promise.all(Array.from({ length: Number(values.clients) }, (_, index) => traffic.client(index, deadline)));
  await killer;
  log(`${traffic.sent} operations sent, ${processes.kills} kills; waiting for recovery`);
  await settle(processes);
  const live = createContext({ config });
  await recoverStuckOperations(live);
  await processes.stopAll();
  const books = await checkBooks();
  const summary = { operations: traffic.sent, answered: traffic.answered, kills: processes.kills, ...books, outcomes: traffic.outcomes };
  console.log(`operations ${summary.operations} (answered ${summary.answered}), kills ${summary.kills}, fen created ${summary.createdFen}, fen lost ${summary.lostFen}, breaks ${summary.breaks}, negative balances ${summary.negatives}`);
  if (values.json) console.log(JSON.stringify(summary));
  return summary.createdFen === 0 && summary.lostFen === 0 && summary.breaks === 0 && summary.negatives === 0 ? 0 : 1;
}

/** The API process and the worker process, each killed and started again at random. */
class Processes {
  kills = 0;
  baseUrl = '';
  #api: ChildProcess | undefined;
  #worker: ChildProcess | undefined;
  #port = 0;
  readonly #logFile = path.join(os.tmpdir(), `chaos-${process.pid}.log`);

  constructor(private readonly uri: string) {}

  async startAll(): Promise<void> {
    this.#port = await freePort();
    this.baseUrl = `http://127.0.0.1:${this.#port}`;
    this.#api = await this.#spawn([]);
    this.#worker = await this.#spawn(['--worker']);
    await this.waitForApi();
  }

  async #spawn(args: string[]): Promise<ChildProcess> {
    const handle = await open(this.#logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, MONGODB_URI: this.uri, PORT: String(this.#port), NODE_CONFIG: JSON.stringify(overrides), LOG_LEVEL: 'warn' },
      stdio: ['ignore', handle.fd, handle.fd],
    });
    await handle.close();
    return child;
  }

  async waitForApi(): Promise<void> {
    while (!(await fetch(`${this.baseUrl}/healthz`).then((response) => response.ok, () => false))) await sleep(100);
  }

  async killEvery(intervalMs: number, keepGoing: () => boolean): Promise<void> {
    while (keepGoing()) {
      await sleep(intervalMs * (0.5 + Math.random()));
      if (!keepGoing()) return;
      const which = Math.random() < 0.6 ? 'api' : 'worker';
      const victim = which === 'api' ? this.#api : this.#worker;
      victim?.kill('SIGKILL');
      this.kills++;
      await sleep(200);
      if (which === 'api') this.#api = await this.#spawn([]);
      else this.#worker = await this.#spawn(['--worker']);
    }
  }

  async stopAll(): Promise<void> {
    for (const child of [this.#api, this.#worker]) {
      if (!child || child.exitCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
}

type Setup = Market;

/** Failures the operation stored (nothing moved): a replay gets them again, so they are final. */
const FINAL_5XX = ['interrupted', 'bank_unavailable'];

/** The clients: random operations, each retried with its key until it gets a final answer. */
class Traffic {
  sent = 0;
  answered = 0;
  /** Final answers by route and status, e.g. "POST /v1/me/payments 201". */
  readonly outcomes: Record<string, number> = {};
  #nextYieldDay: string;

  constructor(
    private readonly processes: Processes,
    private readonly setup: Setup,
    firstYieldDay: string,
    private readonly lastYieldDay: string,
  ) {
    this.#nextYieldDay = firstYieldDay;
  }

  async client(index: number, deadline: number): Promise<void> {
    while (Date.now() < deadline && this.sent < Number(values.operations)) {
      this.sent++;
      const [route, body, auth] = this.#randomOperation(index);
      if (await this.#send(route, body, auth, deadline + 30_000)) this.answered++;
    }
  }

  /** Ops publish the next day's 万份收益; the worker then accrues it. */
  #accrualDay(): [string, object, { Authorization: string }] {
    const day = this.#nextYieldDay;
    this.#nextYieldDay = new Date(Date.parse(`${day}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    return [`PUT /v1/ops/funds/${FUND}/yields/${day}`, { yieldPer10k: '0.4123' }, this.setup.ops.auth];
  }

  #randomOperation(index: number): [string, object, { Authorization: string }] {
    const holder = this.setup.holders[Math.floor(Math.random() * this.setup.holders.length)]!;
    const amount = `${1 + Math.floor(Math.random() * 300)}.${String(Math.floor(Math.random() * 100)).padStart(2, '0')}`;
    const roll = Math.random();
    if (index === 0 && roll < 0.2 && this.#nextYieldDay <= this.lastYieldDay) return this.#accrualDay();
    if (roll < 0.15) return ['POST /v1/me/top-ups', { amount, bankCardId: holder.bankCardId }, holder.auth];
    if (roll < 0.35) return ['POST /v1/me/transfers-in', { amount, channel: 'wallet', fundCode: FUND }, holder.auth];
    if (roll < 0.5) return ['POST /v1/me/redemptions', { amount, channel: 'wallet', paymentPassword: PAYMENT_PASSWORD }, holder.auth];
    if (roll < 0.8) return ['POST /v1/me/instant-redemptions', { amount, paymentPassword: PAYMENT_PASSWORD }, holder.auth];
    return ['POST /v1/me/payments', { amount, merchantId: this.setup.merchant, paymentPassword: PAYMENT_PASSWORD }, holder.auth];
  }

  /** Sends until a final answer (2xx or a 4xx other than 409 request_in_progress), same key each time. */
  async #send(route: string, body: object, auth: { Authorization: string }, giveUpAt: number): Promise<boolean> {
    const [method, pathname] = route.split(' ') as [string, string];
    const key = `chaos-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
    while (Date.now() < giveUpAt) {
      try {
        const response = await fetch(`${this.processes.baseUrl}${pathname}`, {
          method,
          headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const answer = (await response.json().catch(() => ({}))) as { code?: string };
        if ((response.status < 500 && answer.code !== 'request_in_progress') || FINAL_5XX.includes(answer.code ?? '')) {
          const outcome = `${method} ${pathname.startsWith('/v1/ops/funds') ? '/v1/ops/funds/:fund/yields/:date' : pathname} ${response.status}${answer.code ? ` ${answer.code}` : ''}`;
          this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
          return true;
        }
      } catch {
        // the API was killed under us: the same key again once it is back
      }
      await sleep(100 + Math.random() * 200);
    }
    return false;
  }
}

/** Waits (the processes' recovery job at work) until no operation is pending. */
async function settle(processes: Processes): Promise<void> {
  await processes.waitForApi();
  const giveUpAt = Date.now() + 120_000;
  while (Date.now() < giveUpAt && (await Operation.countDocuments({ status: 'pending' })) > 0) await sleep(500);
}

/**
 * Money held (wallets, shares with unfolded income, amounts in flight, merchants' receipts, the
 * reserve's shards) against money that came in (bank charges − payouts, reserve funding, income
 * distributed); and every balance that went below zero.
 */
async function checkBooks() {
  let heldFen = 0n;
  let negatives = 0;
  const held = (balancesFen: bigint[]) => {
    negatives += balancesFen.filter((balanceFen) => balanceFen < 0n).length;
    return balancesFen.reduce((sum, balanceFen) => sum + balanceFen, 0n);
  };
  for await (const found of Account.find().lean<AccountDocument[]>().cursor()) {
    const account = found as unknown as AccountDocument;
    heldFen += held([account.walletFen, account.sharesFen, account.subscribingFen, account.redeemingFen]) + (await incomePosition(account)).unfoldedFen;
  }
  for (const { totalFen } of await receiptTotals()) heldFen += totalFen;
  for (const shard of await ReserveShard.find().lean()) heldFen += held([shard.availableFen, shard.leasedFen, shard.outstandingFen]);
  let cameInFen = 0n;
  for (const transfer of await SimulatedBankTransfer.find({ outcome: 'succeeded' }).lean()) cameInFen += transfer.kind === 'charge' ? transfer.amountFen : -transfer.amountFen;
  for (const op of await Operation.find({ type: 'reserve_adjustment', status: 'completed' }).lean()) cameInFen += op.direction === 'increase' ? op.amountFen : -op.amountFen;
  for (const day of await FundDay.find({ fundCode: FUND, status: 'accrued' }).lean()) cameInFen += BigInt(day.distributedFen ?? 0n);
  const report = await reconcileJournal();
  const differenceFen = heldFen - cameInFen;
  return {
    createdFen: Number(differenceFen > 0n ? differenceFen : 0n),
    lostFen: Number(differenceFen < 0n ? -differenceFen : 0n),
    breaks: report.breaks.length + (report.balanced ? 0 : 1),
    negatives,
    pending: await Operation.countDocuments({ status: 'pending' }),
    daysAccrued: await FundDay.countDocuments({ fundCode: FUND, status: 'accrued' }),
  };
}

process.exitCode = await main();
