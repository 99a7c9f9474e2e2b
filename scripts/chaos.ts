/**
 * `npm run chaos -- [--seconds 90] [--clients 16] [--operations 12000] [--kill-every-ms 5000]
 *   [--scenario all|hot-merchant|busy-holder|freeze|midnight|negative-day|max-amounts] [--json]`
 *
 * Many concurrent clients send random money requests (top-ups, transfer-ins, normal and
 * instant redemptions, merchant payments, accrual days) over HTTP to two API processes on one
 * database while a worker process runs the jobs; every few seconds one of them is killed with
 * SIGKILL and started again. Clients resend with the same Idempotency-Key, to one API process
 * and then the other, until they get an answer. Beside that traffic run the scenarios of issue
 * 22 (scripts/chaos/scenarios.ts; all of them unless --scenario picks one): a hot merchant,
 * a holder with hundreds of legs, an API process frozen past its lease, a run across Beijing
 * midnight, a negative day, and amounts at the configured maxima. Then recovery runs until
 * nothing is pending, and the books are checked: fen created or lost (money held, merchants'
 * receipts included, = money that came in: bank charges, reserve funding, income
 * distributed), reconciliation breaks, negative balances, operations left pending, holders
 * over the daily instant cap; and the event log against the operations and income that stand
 * (scripts/chaos/events.ts): events missing or extra, in the log and at a webhook receiver
 * attached for the run (deduplicated by id, signatures checked). All must be 0. Bounded in time and count; loopback only; the
 * database belongs to this process, never to one it kills.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Account, type AccountDocument } from '../src/accounts/model.ts';
import { SimulatedBankTransfer } from '../src/bank/model.ts';
import { appConfig, type AppConfig } from '../src/config/config.ts';
import { createContext } from '../src/context.ts';
import { connectMongoose, disconnectMongoose, ensureIndexes } from '../src/db/connection.ts';
import { startEmbeddedStack } from '../src/db/embedded/stack.ts';
import { FundDay, fundDayId } from '../src/fund/model.ts';
import { incomePosition } from '../src/income/fold.ts';
import { receiptTotals } from '../src/merchants/service.ts';
import { Operation } from '../src/operations/model.ts';
import { reconcileJournal } from '../src/reconciliation/service.ts';
import { ReserveShard } from '../src/reserve/model.ts';
import { recoverStuckOperations } from '../src/operations/recovery.ts';
import { ChaosReceiver, compareEvents } from './chaos/events.ts';
import { Processes } from './chaos/processes.ts';
import { shiftClockAcrossMidnight, SCENARIOS, scenariosFor, type Scenario, type ScenarioName, type World } from './chaos/scenarios.ts';
import { log, randomYuan, Sender, type MoneyRequest } from './chaos/traffic.ts';
import { PAYMENT_PASSWORD, seedMarket, type Market } from './seed.ts';

const FUND = 'CHAOS1';
/** A client waits this long for an answer before it sends its next request (the slow one goes on resending). */
const CLIENT_PATIENCE_MS = 3_000;
/** Requests still resending after the traffic may take this long to get their answer. */
const ANSWER_GRACE_MS = 90_000;
const SETTLE_TIMEOUT_MS = 120_000;
/** After the run, how long this process may take to deliver what the workers left to the receiver. */
const RECEIVER_DRAIN_MS = 180_000;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '90' },
    clients: { type: 'string', default: '16' },
    operations: { type: 'string', default: '12000' },
    'kill-every-ms': { type: 'string', default: '5000' },
    holders: { type: 'string', default: '6' },
    scenario: { type: 'string', default: 'all' },
    json: { type: 'boolean', default: false },
  },
});

const scenarioNames: readonly ScenarioName[] = values.scenario === 'all' ? SCENARIOS : [values.scenario as ScenarioName];
if (!scenarioNames.every((name) => SCENARIOS.includes(name))) throw new Error(`--scenario: expected all or one of ${SCENARIOS.join(', ')}`);

/**
 * Settings for the processes under test: the chaos fund, quick jobs, small short reserve
 * leases (many open, close and die with an API process in one run), and a recovery delay long
 * enough for a few hundred requests to land between a kill and the recovery of what it left.
 */
const overrides = {
  funds: [...appConfig().funds, { code: FUND, name: 'Chaos fund', sevenDayYieldMode: 'compound' }],
  jobs: { processEveryMs: 200, recoverAfterMs: 10_000, lockLifetimeMs: 10_000 },
  accrual: { checkEvery: '5 seconds', partitions: appConfig().accrual.partitions },
  reserve: { leaseMaxFen: '1000000', leaseLifetimeMs: 3_000 },
  // A few holders stand for many clients: the per-user request limits would refuse most of them.
  // Sessions signed in on the real clock must outlive a clock moved up to a day ahead.
  security: { tokenLifetimeMs: 7 * 86_400_000, rateLimits: { login: { max: 1_000_000 }, paymentPassword: { max: 1_000_000 } } },
};

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

/** The holders set aside for scenarios, beyond the random traffic's. */
const BUSY_HOLDERS = 1;
const REDEEM_ALL_HOLDERS = 4;

function chaosConfig(offsetMs: number): AppConfig {
  const base = appConfig();
  return {
    ...base,
    funds: overrides.funds as AppConfig['funds'],
    accrual: { ...base.accrual, ...overrides.accrual },
    jobs: { ...base.jobs, ...overrides.jobs },
    reserve: { ...base.reserve, ...overrides.reserve, leaseMaxFen: BigInt(overrides.reserve.leaseMaxFen) },
    security: { ...base.security, tokenLifetimeMs: overrides.security.tokenLifetimeMs },
    clock: { offsetMs, followStored: false },
  };
}

async function run(uri: string): Promise<number> {
  const baseHolders = Number(values.holders);
  const market = await seedMarket(chaosConfig(0), {
    fundCode: FUND,
    holders: baseHolders + BUSY_HOLDERS + REDEEM_ALL_HOLDERS,
    reserveYuan: '2000000.00',
    topUpYuan: '200000.00',
    transferInYuan: '100000.00',
    whales: scenarioNames.includes('max-amounts') ? 1 : 0,
  });
  const trafficMs = Number(values.seconds) * 1000;
  // Every process follows the clock stored in the database: it is moved once they are all up.
  const processes = new Processes(uri, { ...overrides, clock: { offsetMs: 0, followStored: true } });
  await processes.startAll();
  const receiver = new ChaosReceiver();
  await receiver.register(processes.apiUrls[0]!, market.ops.auth);
  const merchantId = await coldMerchant(processes, market);
  const offsetMs = scenarioNames.includes('midnight') ? await shiftClockAcrossMidnight(appConfig().zone, trafficMs) : 0;
  const config = chaosConfig(offsetMs);
  const ctx = createContext({ config });
  const deadlineMs = Date.now() + trafficMs;
  const sender = new Sender(processes, Number(values.operations), deadlineMs + ANSWER_GRACE_MS);
  const holders = market.holders.slice(0, baseHolders);
  const world: World = { sender, processes, config, calendar: ctx.calendar, clock: ctx.clock, fundCode: FUND, holders, hotMerchant: market.merchant, deadlineMs };
  const scenarios = scenariosFor(scenarioNames, world, {
    busyHolder: market.holders[baseHolders]!,
    redeemAllHolders: market.holders.slice(baseHolders + BUSY_HOLDERS),
    whale: market.whales[0]!,
  });
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  const traffic = new RandomTraffic(world, market, merchantId, scenarios);
  log(`APIs on ${processes.apiUrls.join(', ')}; ${holders.length} holders; scenarios ${scenarioNames.join(', ')}; traffic for ${values.seconds} s from ${ctx.clock.now().toISOString()} (clock offset ${offsetMs} ms); accrual days ${market.confirmDate}..${ctx.calendar.addCalendarDays(today, -1)}`);
  const going = () => Date.now() < deadlineMs && sender.budgetLeft;
  const startedAtMs = Date.now();
  await Promise.all([
    processes.killEvery(Number(values['kill-every-ms']), going),
    processes.watchHealth(going),
    traffic.run(market.confirmDate, ctx.calendar.addCalendarDays(today, -1)),
    ...scenarios.map((scenario) => scenario.run()),
  ]);
  await sender.drain();
  log(`${sender.sent} operations sent, ${processes.kills} kills, ${processes.freezes} freezes; waiting for recovery`);
  await settle(processes);
  await recoverStuckOperations(ctx);
  await processes.stopAll();
  const books = await checkBooks();
  const events = await compareEvents();
  const receiverDrained = await receiver.drain(ctx, RECEIVER_DRAIN_MS);
  const received = await receiver.compare();
  receiver.close();
  const figures: Record<string, Record<string, number | string>> = {};
  for (const scenario of scenarios) figures[scenario.name] = { requests: sender.sentBy[scenario.name] ?? 0, ...(await scenario.figures()) };
  const summary = {
    operations: sender.sent,
    answered: sender.answered,
    kills: processes.kills,
    freezes: processes.freezes,
    longestRecoveryMs: processes.longestRecoveryMs,
    noApiMs: processes.noApiMs,
    seconds: Math.round((Date.now() - startedAtMs) / 1000),
    ...books,
    webhooks: { drained: receiverDrained, ...received },
    events: { expected: events.expected, logged: events.logged, missing: events.missing.length, extra: events.extra.length, toldAfterRequest: events.toldAfterRequest, missingFound: events.missing.slice(0, 20), extraFound: events.extra.slice(0, 20) },
    scenarios: figures,
    outcomes: sender.outcomes,
    resentAfter: sender.resentAfter,
    unanswered: sender.unanswered,
  };
  const capBreaks = Number(figures['midnight']?.['capBreaks'] ?? 0);
  console.log(`operations ${summary.operations} (answered ${summary.answered}), kills ${summary.kills}, freezes ${summary.freezes}, fen created ${summary.createdFen}, fen lost ${summary.lostFen}, breaks ${summary.breaks}, negative balances ${summary.negatives}, fen owed after negative days ${summary.owedFen}, pending ${summary.pending}, ${summary.seconds} s`);
  console.log(`  events: expected ${events.expected}, logged ${events.logged}, missing ${events.missing.length}, extra ${events.extra.length} (failures decided after their request, told: ${events.toldAfterRequest})`);
  console.log(`  webhook receiver: ${received.received} received (${received.resent} resent, deduplicated by id), missing ${received.missing}, extra ${received.extra}, bad signatures ${received.badSignatures}${receiverDrained ? '' : ', NOT DRAINED'}`);
  for (const [name, scenarioFigures] of Object.entries(figures)) console.log(`  ${name}: ${Object.entries(scenarioFigures).map(([key, value]) => `${key} ${value}`).join(', ')}`);
  if (values.json) console.log(JSON.stringify(summary));
  const clean = summary.createdFen === 0 && summary.lostFen === 0 && summary.breaks === 0 && summary.negatives === 0 && summary.pending === 0 && capBreaks === 0 && events.missing.length === 0 && events.extra.length === 0;
  const hooksClean = receiverDrained && received.missing === 0 && received.extra === 0 && received.badSignatures === 0;
  return clean && hooksClean ? 0 : 1;
}

/** A second merchant: the hot one gets most payments, this one the rest. */
async function coldMerchant(processes: Processes, market: Market): Promise<string> {
  const response = await fetch(`${processes.apiUrls[0]}/v1/ops/merchants`, {
    method: 'POST',
    headers: { ...market.ops.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Chaos Corner Shop' }),
  });
  if (response.status !== 201) throw new Error(`creating a merchant answered ${response.status}`);
  return ((await response.json()) as { id: string }).id;
}

/** The clients' random money requests, and ops publishing the fund's days one after the other. */
class RandomTraffic {
  /** The share of payments that go to the hot merchant. */
  readonly #hotShare: number;

  constructor(
    private readonly world: World,
    private readonly market: Market,
    private readonly coldMerchant: string,
    private readonly scenarios: Scenario[],
  ) {
    this.#hotShare = scenarios.some((scenario) => scenario.name === 'hot-merchant') ? 0.9 : 0.5;
  }

  async run(firstYieldDay: string, lastYieldDay: string): Promise<void> {
    const client = async () => {
      while (this.#going()) await this.world.sender.sendPatiently('random', this.#randomRequest(), CLIENT_PATIENCE_MS);
    };
    await Promise.all([this.#publishDays(firstYieldDay, lastYieldDay), ...Array.from({ length: Number(values.clients) }, client)]);
  }

  #going = () => Date.now() < this.world.deadlineMs && this.world.sender.budgetLeft;

  /** Each day once the one before is accrued, so that each day's accrual meets the traffic of its own. */
  async #publishDays(firstDay: string, lastDay: string): Promise<void> {
    for (let day = firstDay; day <= lastDay && this.#going(); day = this.world.calendar.addCalendarDays(day, 1)) {
      await this.#publish(day);
      while (this.#going() && (await FundDay.findById(fundDayId(FUND, day)).lean())?.status !== 'accrued') await sleep(1_000);
    }
  }

  /** Ops publish the day's 万份收益 (the worker then accrues it). */
  async #publish(day: string): Promise<void> {
    const yieldPer10k = this.scenarios.map((scenario) => scenario.yieldFor?.()).find((chosen) => chosen !== undefined) ?? '0.4123';
    const answer = await this.world.sender.send('random', { route: `PUT /v1/ops/funds/${FUND}/yields/${day}`, body: { yieldPer10k }, auth: this.market.ops.auth });
    if (answer && answer.status < 300) for (const scenario of this.scenarios) scenario.published?.(day, yieldPer10k);
  }

  #randomRequest(): MoneyRequest {
    const holder = this.world.holders[Math.floor(Math.random() * this.world.holders.length)]!;
    const amount = randomYuan(100, 30_099);
    const auth = holder.auth;
    const roll = Math.random();
    if (roll < 0.15) return { route: 'POST /v1/me/top-ups', body: { amount, bankCardId: holder.bankCardId }, auth };
    if (roll < 0.35) return { route: 'POST /v1/me/transfers-in', body: { amount, channel: 'wallet', fundCode: FUND }, auth };
    if (roll < 0.5) return { route: 'POST /v1/me/redemptions', body: { amount, channel: 'wallet', paymentPassword: PAYMENT_PASSWORD }, auth };
    if (roll < 0.8) return { route: 'POST /v1/me/instant-redemptions', body: { amount, paymentPassword: PAYMENT_PASSWORD }, auth };
    const merchantId = Math.random() < this.#hotShare ? this.world.hotMerchant : this.coldMerchant;
    return { route: 'POST /v1/me/payments', body: { amount, merchantId, paymentPassword: PAYMENT_PASSWORD }, auth };
  }
}

/** Waits (the processes' recovery job at work) until no operation is pending. */
async function settle(processes: Processes): Promise<void> {
  await processes.waitForApis();
  const giveUpAt = Date.now() + SETTLE_TIMEOUT_MS;
  while (Date.now() < giveUpAt && (await Operation.countDocuments({ status: 'pending' })) > 0) await sleep(500);
}

/**
 * Money held (wallets, shares with unfolded income, amounts in flight, merchants' receipts, the
 * reserve's shards) against money that came in (bank charges − payouts, reserve funding, income
 * distributed); and every balance that went below zero.
 */
async function checkBooks() {
  let heldFen = 0n;
  /** Each balance below zero, e.g. "shares of user_… -500" (fen), for the report. */
  const negativeBalances: string[] = [];
  const held = (owner: string, balancesFen: Record<string, bigint>) => {
    for (const [name, balanceFen] of Object.entries(balancesFen)) if (balanceFen < 0n) negativeBalances.push(`${name} of ${owner} ${balanceFen}`);
    return Object.values(balancesFen).reduce((sum, balanceFen) => sum + balanceFen, 0n);
  };
  let owedFen = 0n;
  for await (const found of Account.find().lean<AccountDocument[]>().cursor()) {
    const account = found as unknown as AccountDocument;
    const { unfoldedFen } = await incomePosition(account);
    // The position in the fund: shares less a negative day's loss they no longer covered (owed,
    // src/income/fold.ts), with the income not yet folded in. Below zero it is owed, not held.
    const positionFen = account.sharesFen - (account.shortfallFen ?? 0n) + unfoldedFen;
    if (positionFen < 0n) owedFen -= positionFen;
    heldFen += held(account._id, { wallet: account.walletFen, shares: account.sharesFen, subscribing: account.subscribingFen, redeeming: account.redeemingFen });
    heldFen += positionFen - account.sharesFen;
  }
  for (const { totalFen } of await receiptTotals()) heldFen += totalFen;
  for (const shard of await ReserveShard.find().lean()) heldFen += held(shard._id, { available: shard.availableFen, leased: shard.leasedFen, outstanding: shard.outstandingFen });
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
    breaksFound: report.breaks.map((found) => `${found.field} of ${found.userId}: balance ${found.balance}, postings ${found.postings}${found.rule ? ` (${found.rule})` : ''}`),
    negatives: negativeBalances.length,
    owedFen: Number(owedFen),
    negativeBalances,
    pending: await Operation.countDocuments({ status: 'pending' }),
    daysAccrued: await FundDay.countDocuments({ fundCode: FUND, status: 'accrued' }),
  };
}

process.exitCode = await main();
