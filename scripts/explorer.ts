/**
 * The fault-injection explorer of the operation engine (after TigerBeetle's VOPR): each seed
 * sends a burst of random money requests through two API processes on one database, and at
 * every fault point of the engine (src/faults.ts and the machines' own points)
 * the seed may crash the request there (abandon it, as a process dying) or stall it (hold
 * it past every timeout while the clock moves on, replays and recovery close what it left,
 * and then let it go on). Then recovery and settlement run, and the books must hold: no
 * reconciliation break, nothing negative, every answered 201 standing, every failure moving
 * nothing, nothing pending, and each operation's events exactly those of what stands (none
 * lost to a crash, none for a change that did not happen). Used by `npm run explore` and, for a few seeds, by the tests.
 */
import request from 'supertest';
import { Account, type AccountDocument } from '../src/accounts/model.ts';
import { Operation, type OperationDocument } from '../src/operations/model.ts';
import { reconcileJournal } from '../src/reconciliation/service.ts';
import { ReserveShard, type ReserveShardDocument } from '../src/reserve/model.ts';
import { advanceDueOperations, recoverStuckOperations } from '../src/operations/recovery.ts';
import { createApp } from '../src/app.ts';
import { SimulatedBank } from '../src/bank/simulatedBank.ts';
import { FixedClock, type Clock } from '../src/calendar/clock.ts';
import { appConfig, type AppConfig } from '../src/config/config.ts';
import { createContext } from '../src/context.ts';
import { LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, topUp, type Holder, type TestApp } from '../test/support/api.ts';
import { uniqueId } from '../test/support/database.ts';
import { adjustReserve } from '../test/support/reserve.ts';
import { NO_FAULTS, type FaultPoints } from '../src/faults.ts';
import { Event, type EventDocument } from '../src/events/model.ts';
import { relayAll } from '../src/events/log.ts';
import { eventKeyOf, expectedEventsOf, failureMaybeTold } from './chaos/events.ts';

const FUND = 'YEB001';
const HOLDERS = 3;
const ACTIONS_PER_SEED = 12;
const CRASH_PER_POINT = 0.06;
const STALL_PER_POINT = 0.04;
const SETTLE_TIMEOUT_MS = 60_000;
const QUIET_MS = 2_000;

/** What a seed did, in order; echoed as it happens with EXPLORE_TRACE=1. */
class Trace extends Array<string> {
  override push(...lines: string[]): number {
    if (process.env.EXPLORE_TRACE) for (const line of lines) process.stderr.write(`  ${line}\n`);
    return super.push(...lines);
  }
}

export interface SeedResult {
  seed: number;
  failures: string[];
  trace: string[];
}

/** A small seeded generator (mulberry32): the same seed makes the same run. */
function randomOf(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

class InjectedCrash extends Error {}

/**
 * Points inside a document's queue of legs: the two simulated processes share this Node
 * process's queues, so a stall there would hold the other process's legs too (a real frozen
 * process holds only its own). Stalls come just before the queue instead ('leg:before-queue').
 */
const HELD_IN_QUEUE = /^leg:(before|after)-update$/;

/** One request's faults: at each point the seed crashes, stalls (until released) or passes. */
class SeededFaults implements FaultPoints {
  stalled = false;
  constructor(
    private readonly random: () => number,
    private readonly trace: (line: string) => void,
    private readonly released: Promise<void>,
  ) {}

  async hit(point: string): Promise<void> {
    const draw = this.random();
    if (draw < CRASH_PER_POINT) {
      this.trace(`crash at ${point}`);
      throw new InjectedCrash(`injected crash at ${point}`);
    }
    if (draw < CRASH_PER_POINT + STALL_PER_POINT && !this.stalled && !HELD_IN_QUEUE.test(point)) {
      this.trace(`stall at ${point}`);
      this.stalled = true;
      await this.released;
      this.trace(`resumed at ${point}`);
    }
  }
}

/**
 * The second process's clock: the world's, behind by a lag each seed draws. Nothing may rest
 * on the processes' clocks agreeing (docs/operation-engine.md): leases, recovery and replays
 * then see that process's operations and leases as older, or younger, than it does.
 */
class LaggingClock implements Clock {
  lagMs = 0;
  constructor(private readonly world: FixedClock) {}
  now(): Date {
    return new Date(this.world.now().getTime() - this.lagMs);
  }
}

interface World {
  /** Two processes take the burst of requests; the third, never faulted, replays and recovers. */
  processes: [TestApp, TestApp, TestApp];
  secondClock: LaggingClock;
  ops: Holder;
  holders: Holder[];
  reserve: string;
}

/** Two API processes on one clock and one reserve, holders with confirmed shares. */
export async function createWorld(): Promise<World> {
  const reserve = uniqueId('r').toLowerCase().replace(/[^a-z0-9-]/g, '');
  const base = appConfig();
  // A few holders stand for many clients: the per-client request limits would refuse them.
  const unlimited = { windowMs: 60_000, max: 1_000_000 };
  const config: AppConfig = {
    ...base,
    reserve: { ...base.reserve, name: reserve },
    security: { ...base.security, rateLimits: { login: unlimited, loginPerAddress: unlimited, paymentPassword: unlimited } },
  };
  const clock = new FixedClock('2024-05-30T10:00:00+08:00');
  const secondClock = new LaggingClock(clock);
  const [first, second, survivor] = [explorerProcess(config, clock), explorerProcess(config, clock, secondClock), explorerProcess(config, clock)];
  const ops = await newHolder(first.app, { ops: true });
  await adjustReserve(first, ops, '1000000.00', 'increase').expect(201);
  const holders: Holder[] = [];
  for (let index = 0; index < HOLDERS; index++) {
    const holder = await newHolder(first.app);
    await topUp(first.app, holder, '20000.00');
    await request(first.app).post('/v1/me/transfers-in').set(holder.auth).set('Idempotency-Key', uniqueId('seed')).send({ amount: '10000.00', channel: 'wallet', fundCode: FUND }).expect(201);
    holders.push(holder);
  }
  first.clock.set('2024-05-31T09:00:00+08:00');
  await advanceDueOperations(first.ctx);
  first.clock.set('2024-06-03T10:00:00+08:00');
  return { processes: [first, second, survivor], secondClock, ops, holders, reserve };
}

/** An API process of the world: its own memory (leases, caches), the world's config, its clock on the world's. */
function explorerProcess(config: AppConfig, clock: FixedClock, own: Clock = clock): TestApp {
  const bank = new SimulatedBank();
  const ctx = createContext({ config, clock: own, bank, faults: new FaultsByKey() });
  return { ctx, app: createApp(ctx), clock, bank };
}

interface Action {
  label: string;
  holder: Holder;
  send: (app: TestApp, key: string) => request.Test;
}

function actionOf(world: World, random: () => number, merchantId: string): Action {
  const holder = world.holders[Math.floor(random() * world.holders.length)]!;
  // Mostly small amounts; now and then more than anyone holds, to be refused.
  const amount = random() < 0.1 ? '900000.00' : `${1 + Math.floor(random() * 3000)}.${String(Math.floor(random() * 100)).padStart(2, '0')}`;
  const post = (path: string, body: object) => (t: TestApp, key: string) => request(t.app).post(path).set(holder.auth).set('Idempotency-Key', key).send(body);
  const kinds: [string, Action['send']][] = [
    ['instant', post('/v1/me/instant-redemptions', { amount, paymentPassword: PAYMENT_PASSWORD })],
    ['payment', post('/v1/me/payments', { amount, merchantId, paymentPassword: PAYMENT_PASSWORD })],
    ['top-up', post('/v1/me/top-ups', { amount, bankCardId: holder.bankCardId })],
    ['transfer-in', post('/v1/me/transfers-in', { amount, channel: 'wallet', fundCode: FUND })],
    ['redemption', post('/v1/me/redemptions', { amount, channel: 'wallet', paymentPassword: PAYMENT_PASSWORD })],
    ['withdrawal', post('/v1/me/withdrawals', { amount, bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD })],
  ];
  const [kind, send] = kinds[Math.floor(random() * kinds.length)]!;
  return { label: `${kind} ${amount} by ${holder.userId}`, holder, send };
}

interface Sent {
  action: Action;
  key: string;
  status?: number;
  faults: SeededFaults;
}

/** Runs one seed on the world and checks the books. */
export async function exploreSeed(world: World, seed: number): Promise<SeedResult> {
  const random = randomOf(seed);
  const trace = new Trace();
  const [first, second, survivor] = world.processes;
  // Half the seeds: P2's clock runs behind, by up to twice the time recovery waits.
  world.secondClock.lagMs = random() < 0.5 ? 0 : Math.floor(random() * 2 * first.ctx.config.jobs.recoverAfterMs);
  trace.push(`P2's clock ${world.secondClock.lagMs} ms behind`);
  const clock = first.clock;
  for (const holder of world.holders) holder.auth = await signIn(first, holder.loginId);
  world.ops.auth = await signIn(first, world.ops.loginId);
  const merchantId = (await request(first.app).post('/v1/ops/merchants').set(world.ops.auth).send({ name: `Shop ${seed}` }).expect(201)).body.id as string;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const sent: Sent[] = [];
  const running = Array.from({ length: ACTIONS_PER_SEED }, (_, index) => {
    const action = actionOf(world, random, merchantId);
    const process = random() < 0.5 ? first : second;
    const faults = new SeededFaults(randomOf(seed * 1_000 + index), (line) => trace.push(`#${index} ${line}`), released);
    const entry: Sent = { action, key: `explore-${seed}-${index}-${uniqueId('k')}`, faults };
    sent.push(entry);
    trace.push(`#${index} ${action.label} via ${process === first ? 'P1' : 'P2'}`);
    (process.ctx.faults as FaultsByKey).byKey.set(entry.key, faults);
    return action.send(process, entry.key).then((response) => {
      entry.status = response.status;
      trace.push(`#${index} answered ${response.status} ${response.status >= 400 ? (response.body.code ?? '') : ''}`);
    });
  });
  await untilSettledOrStalled(sent);
  // The world moves on past every lease and timeout: replays and recovery, through a process
  // no stall holds up (a frozen process serves nothing), close what was left.
  clock.advance(first.ctx.config.reserve.leaseLifetimeMs + first.ctx.config.jobs.recoverAfterMs + 1_000);
  for (const entry of sent.filter((item) => item.status === 500)) {
    const replay = await entry.action.send(survivor, entry.key);
    trace.push(`replay of ${entry.key}: ${replay.status}`);
  }
  await recoverStuckOperations(survivor.ctx);
  release();
  await Promise.race([Promise.all(running), timeout(SETTLE_TIMEOUT_MS, 'stalled requests never finished')]);
  await settleEverything(world);
  return { seed, failures: await checkBooks(world, sent), trace: [...trace] };
}

/** Each request's own faults, by its Idempotency-Key (src/app.ts asks forRequest). */
class FaultsByKey implements FaultPoints {
  readonly byKey = new Map<string, FaultPoints>();
  async hit(): Promise<void> {}
  forRequest(headers: Record<string, string | string[] | undefined>): FaultPoints {
    return this.byKey.get(String(headers['idempotency-key'])) ?? NO_FAULTS;
  }
}

/**
 * Until every request has answered or stalled, or is queued behind a stalled one (a stall
 * freezes the legs of its document in its process, as a frozen process would): no answer
 * for QUIET_MS while a stall holds.
 */
async function untilSettledOrStalled(sent: Sent[]): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let answered = -1;
  let quietSinceMs = Date.now();
  while (sent.some((entry) => entry.status === undefined && !entry.faults.stalled)) {
    const nowAnswered = sent.filter((entry) => entry.status !== undefined).length;
    if (nowAnswered !== answered) [answered, quietSinceMs] = [nowAnswered, Date.now()];
    if (sent.some((entry) => entry.faults.stalled) && Date.now() - quietSinceMs > QUIET_MS) return;
    if (Date.now() > deadline) throw new Error('requests neither answered nor stalled');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Recovery until nothing is pending, then the settle dates come and go. */
async function settleEverything(world: World): Promise<void> {
  const [first, second] = world.processes;
  for (const process of world.processes) (process.ctx.faults as FaultsByKey).byKey.clear();
  const clock = first.clock;
  for (let round = 0; round < 3; round++) {
    clock.advance(first.ctx.config.reserve.leaseLifetimeMs + first.ctx.config.jobs.recoverAfterMs + 1_000);
    await recoverStuckOperations(second.ctx);
    await recoverStuckOperations(first.ctx);
  }
  const today = first.ctx.calendar.businessDateOf(clock.now());
  const settleDay = first.ctx.calendar.nextTradingDay(first.ctx.calendar.nextTradingDay(today));
  clock.set(`${settleDay}T09:00:00+08:00`);
  await advanceDueOperations(second.ctx);
  await recoverStuckOperations(second.ctx);
  clock.set(`${settleDay}T10:00:00+08:00`);
}

async function checkBooks(world: World, sent: Sent[]): Promise<string[]> {
  const failures: string[] = [];
  const ids = new Set([...world.holders.map((holder) => holder.userId)]);
  const report = await reconcileJournal();
  // 'reserve': the advances of every reserve against what their closed leases put outstanding.
  const ours = (userId: string) => ids.has(userId) || userId === 'reserve' || userId.startsWith(`reserve:${world.reserve}:`) || userId.startsWith('m_');
  const breaks = report.breaks.filter((item) => ours(item.userId));
  for (const item of breaks) failures.push(`break: ${JSON.stringify(item)}`);
  for (const account of await Account.find({ _id: { $in: [...ids] } }).lean<AccountDocument[]>()) {
    for (const field of ['walletFen', 'sharesFen', 'subscribingFen', 'redeemingFen', 'holdingFen'] as const) {
      if (account[field] < 0n) failures.push(`negative ${field} on ${account._id}: ${account[field]}`);
    }
  }
  for (const shard of await ReserveShard.find({ reserveName: world.reserve }).lean<ReserveShardDocument[]>()) {
    for (const field of ['availableFen', 'leasedFen', 'outstandingFen'] as const) {
      if (shard[field] < 0n) failures.push(`negative ${field} on ${shard._id}: ${shard[field]}`);
    }
  }
  await relayAll();
  const logged = await loggedEventKeys([...ids]);
  for (const entry of sent) {
    const op = await Operation.findOne({ userId: entry.action.holder.userId, idempotencyKey: entry.key }).lean<OperationDocument>();
    if (op) failures.push(...eventFailures(op, logged));
    if (entry.status === 201 && (!op || op.status === 'failed')) failures.push(`answered 201 but ${op ? `failed (${op.failure?.code})` : 'no operation'}: ${entry.key}`);
    if (op?.status === 'failed' && !movesNothing(op)) failures.push(`failed but moved money: ${op._id}`);
    if (op?.status === 'pending') failures.push(`still pending: ${op._id} (${op.type})`);
  }
  return failures;
}

/** Each holder's logged events, keyed `<operation>:<type>`, counted. */
async function loggedEventKeys(holderIds: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const event of (await Promise.all(holderIds.map((audience) => Event.find({ audience }).lean<EventDocument[]>()))).flat()) {
    const key = eventKeyOf(event.type, event.data as Record<string, unknown>);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** The operation's events against what stands: each expected once; none other, but a failure decided after its request. */
function eventFailures(op: OperationDocument, logged: Map<string, number>): string[] {
  const expected = expectedEventsOf(op);
  const failures = expected.filter((key) => logged.get(key) !== 1).map((key) => `event ${key} logged ${logged.get(key) ?? 0} times`);
  const told = [...logged.keys()].filter((key) => key.startsWith(`${op._id}:`) && !expected.includes(key));
  const excused = [failureMaybeTold(op)];
  return [...failures, ...told.filter((key) => !excused.includes(key)).map((key) => `event ${key} logged for what did not happen`)];
}

/** Every ledger account's postings of the operation net to zero. */
function movesNothing(op: OperationDocument): boolean {
  const net = new Map<string, bigint>();
  for (const posting of op.postings) net.set(posting.account, (net.get(posting.account) ?? 0n) + posting.amountFen);
  return [...net.values()].every((amountFen) => amountFen === 0n);
}

async function signIn(t: TestApp, loginId: string) {
  const session = await request(t.app).post('/v1/sessions').send({ loginId, loginPassword: LOGIN_PASSWORD }).expect(201);
  return { Authorization: `Bearer ${session.body.token}` };
}

function timeout(ms: number, why: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(why)), ms).unref());
}
