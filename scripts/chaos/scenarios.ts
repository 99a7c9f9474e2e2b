/**
 * The chaos run's scenarios (issue 22): each runs beside the random traffic and reports its
 * own figures. A default run has them all; `--scenario NAME` runs one.
 */
import { DateTime } from 'luxon';
import { setTimeout as sleep } from 'node:timers/promises';
import { Account } from '../../src/accounts/model.ts';
import type { Clock } from '../../src/calendar/clock.ts';
import type { TradingCalendar } from '../../src/calendar/tradingCalendar.ts';
import type { AppConfig } from '../../src/config/config.ts';
import { FundDay, fundDayId } from '../../src/fund/model.ts';
import { formatYuan, parseYuan } from '../../src/money/fen.ts';
import { Operation } from '../../src/operations/model.ts';
import { storeTestClockOffset } from '../../src/sandbox/service.ts';
import { PAYMENT_PASSWORD, type SeededUser } from '../seed.ts';
import type { ApiKill, Processes } from './processes.ts';
import { inParallel, log, randomYuan, readJson, type Answer, type MoneyRequest, type Sender } from './traffic.ts';

export const SCENARIOS = ['hot-merchant', 'busy-holder', 'freeze', 'midnight', 'negative-day', 'max-amounts'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What the scenarios act on. */
export interface World {
  sender: Sender;
  processes: Processes;
  config: AppConfig;
  calendar: TradingCalendar;
  /** The processes' clock (shifted when the run crosses midnight). */
  clock: Clock;
  fundCode: string;
  holders: SeededUser[];
  hotMerchant: string;
  deadlineMs: number;
}

export interface Scenario {
  readonly name: ScenarioName;
  /** Runs beside the random traffic until the deadline (a burst under way finishes). */
  run(): Promise<void>;
  /** The scenario's figures for the summary, its checks' failures among them. */
  figures(): Promise<Record<string, number | string>>;
  /** The 万份收益 of the next day the ops client publishes, if this scenario chooses it. */
  yieldFor?(): string | undefined;
  /** Told once the ops client has published a day. */
  published?(day: string, yieldPer10k: string): void;
}

const keepGoing = (world: World) => () => Date.now() < world.deadlineMs && world.sender.budgetLeft;

/**
 * After each API kill, a burst of requests before recovery has closed what the killed process
 * left (its reserve lease closes only after expiry + recoverAfterMs): counts how many were
 * answered 201 before that.
 */
class BurstsAfterKills {
  bursts = 0;
  accepted = 0;
  acceptedBeforeRecovery = 0;
  mostBeforeOneRecovery = 0;

  constructor(
    private readonly world: World,
    private readonly scenario: ScenarioName,
    private readonly size: number,
    private readonly concurrency: number,
    private readonly requestOf: (index: number) => MoneyRequest,
  ) {}

  async run(): Promise<void> {
    const going = keepGoing(this.world);
    while (going()) {
      const kill = await Promise.race([this.world.processes.nextApiKill(), sleep(Math.max(0, this.world.deadlineMs - Date.now()))]);
      // A kill with nothing pending leaves nothing to recover.
      if (kill && kill.pendingAtKill > 0 && going()) await this.#burst(kill);
    }
  }

  async #burst(kill: ApiKill): Promise<void> {
    let recoveredAtMs = Number.POSITIVE_INFINITY;
    void kill.recovered.then((atMs) => (recoveredAtMs = atMs));
    const answers: Answer[] = [];
    await inParallel(this.size, this.concurrency, async (index) => {
      const answer = await this.world.sender.send(this.scenario, this.requestOf(index));
      if (answer?.status === 201) answers.push(answer);
    });
    const beforeRecovery = answers.filter((answer) => answer.atMs < recoveredAtMs).length;
    this.bursts++;
    this.accepted += answers.length;
    this.acceptedBeforeRecovery += beforeRecovery;
    this.mostBeforeOneRecovery = Math.max(this.mostBeforeOneRecovery, beforeRecovery);
  }
}

const randomOf = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** Issue 22 failure 1: a merchant receiving hundreds of payments between a crash and its recovery. */
class HotMerchant implements Scenario {
  readonly name = 'hot-merchant';
  readonly #bursts: BurstsAfterKills;

  constructor(world: World) {
    this.#bursts = new BurstsAfterKills(world, this.name, 300, 12, () => ({
      route: 'POST /v1/me/payments',
      body: { amount: randomYuan(1, 100), merchantId: world.hotMerchant, paymentPassword: PAYMENT_PASSWORD },
      auth: randomOf(world.holders).auth,
    }));
  }

  run = () => this.#bursts.run();

  async figures() {
    const { bursts, accepted, acceptedBeforeRecovery, mostBeforeOneRecovery } = this.#bursts;
    return { bursts, payments: accepted, paymentsBeforeRecovery: acceptedBeforeRecovery, mostBeforeOneRecovery };
  }
}

/** Issue 22 failure 2: one holder's hundreds of small legs while a killed process's operations wait. */
class BusyHolder implements Scenario {
  readonly name = 'busy-holder';
  readonly #bursts: BurstsAfterKills;

  constructor(
    private readonly world: World,
    private readonly holder: SeededUser,
  ) {
    this.#bursts = new BurstsAfterKills(world, this.name, 300, 6, (index) =>
      index % 2 === 0
        ? { route: 'POST /v1/me/top-ups', body: { amount: randomYuan(1, 99), bankCardId: holder.bankCardId }, auth: holder.auth }
        : { route: 'POST /v1/me/transfers-in', body: { amount: randomYuan(1, 99), channel: 'wallet', fundCode: world.fundCode }, auth: holder.auth },
    );
  }

  /** Her instant redemptions keep legs of hers in flight whenever a process dies. */
  async run(): Promise<void> {
    const going = keepGoing(this.world);
    const redeem = async () => {
      while (going()) await this.world.sender.send(this.name, { route: 'POST /v1/me/instant-redemptions', body: { amount: randomYuan(100, 2_000), paymentPassword: PAYMENT_PASSWORD }, auth: this.holder.auth });
    };
    await Promise.all([this.#bursts.run(), redeem()]);
  }

  async figures() {
    const { bursts, accepted, acceptedBeforeRecovery, mostBeforeOneRecovery } = this.#bursts;
    return { bursts, legs: accepted, legsBeforeRecovery: acceptedBeforeRecovery, mostBeforeOneRecovery };
  }
}

/** Issue 22 failure 3: an API process frozen (SIGSTOP) past its lease and the recovery delay, then resumed. */
class Freeze implements Scenario {
  readonly name = 'freeze';
  readonly frozenMs: number;

  constructor(private readonly world: World) {
    this.frozenMs = world.config.reserve.leaseLifetimeMs + world.config.jobs.recoverAfterMs + 3_000;
  }

  run = () => this.world.processes.freezeEvery(1.5 * this.frozenMs, this.frozenMs, keepGoing(this.world));

  async figures() {
    return { freezes: this.world.processes.freezes, frozenMs: this.frozenMs };
  }
}

/** When the clock must read Beijing midnight: this far into the traffic. */
const MIDNIGHT_INTO_TRAFFIC = 0.35;
/** How long processes following the stored clock take to see it move (they look every second). */
const CLOCK_FOLLOW_WAIT_MS = 2_500;
/** Holders' large instant redemptions straddle midnight by this much on each side. */
const STRADDLE_MS = 10_000;

/**
 * Moves the clock of the running processes (they follow the stored clock) so that it crosses
 * the next Beijing midnight a third of the way into the traffic about to start, and returns
 * the offset. Called once the processes and holders are ready: however slowly they started,
 * the crossing cannot pass before the traffic begins.
 */
export async function shiftClockAcrossMidnight(zone: string, trafficMs: number): Promise<number> {
  const crossingAtMs = Date.now() + CLOCK_FOLLOW_WAIT_MS + MIDNIGHT_INTO_TRAFFIC * trafficMs;
  const offsetMs = DateTime.fromMillis(crossingAtMs, { zone }).plus({ days: 1 }).startOf('day').toMillis() - crossingAtMs;
  await storeTestClockOffset(offsetMs);
  await sleep(CLOCK_FOLLOW_WAIT_MS);
  return offsetMs;
}

/**
 * Issue 22 failure 5: the run crosses 00:00 Asia/Shanghai (config clock.offsetMs), and every
 * holder sends large instant redemptions on both sides of it. The daily cap must hold for each
 * holder on each Beijing day (the cap's day is its operation's creation day).
 */
class Midnight implements Scenario {
  readonly name = 'midnight';
  readonly #startDay: string;

  constructor(private readonly world: World) {
    this.#startDay = world.calendar.businessDateOf(world.clock.now());
  }

  async run(): Promise<void> {
    const midnightMs = DateTime.fromISO(this.world.calendar.addCalendarDays(this.#startDay, 1), { zone: this.world.config.zone }).toMillis();
    const clockAheadMs = this.world.clock.now().getTime() - Date.now();
    const waitMs = midnightMs - clockAheadMs - STRADDLE_MS - Date.now();
    // The processes started so late (a loaded machine) that the crossing passed: the next one is a day away.
    if (waitMs > this.world.deadlineMs - Date.now()) {
      log('midnight: the crossing passed before the traffic began (slow start): skipped');
      return;
    }
    await sleep(Math.max(0, waitMs));
    const untilMs = Date.now() + 2 * STRADDLE_MS;
    // Three of them pass the cap of one day.
    const amount = formatYuan((this.world.config.limits.instantRedeemDailyMaxFen * 2n) / 5n);
    await inParallel(this.world.holders.length, this.world.holders.length, async (index) => {
      const holder = this.world.holders[index]!;
      while (Date.now() < untilMs) await this.world.sender.send(this.name, { route: 'POST /v1/me/instant-redemptions', body: { amount, paymentPassword: PAYMENT_PASSWORD }, auth: holder.auth });
    });
  }

  async figures() {
    const capFen = this.world.config.limits.instantRedeemDailyMaxFen;
    const byHolderDay = new Map<string, bigint>();
    const daysSeen = new Set<string>();
    for (const op of await Operation.find({ type: 'instant_redemption' }).lean()) {
      if (op.status === 'failed') continue;
      const day = this.world.calendar.businessDateOf(op.createdAt);
      daysSeen.add(day);
      const key = `${op.userId} ${day}`;
      byHolderDay.set(key, (byHolderDay.get(key) ?? 0n) + op.amountFen);
    }
    const instantAfterMidnight = [...byHolderDay].filter(([key]) => key.split(' ')[1]! > this.#startDay).length;
    return {
      startDay: this.#startDay,
      endDay: this.world.calendar.businessDateOf(this.world.clock.now()),
      daysWithInstantRedemptions: daysSeen.size,
      holderDaysAfterMidnight: instantAfterMidnight,
      capBreaks: [...byHolderDay.values()].filter((totalFen) => totalFen > capFen).length,
    };
  }
}

const NEGATIVE_YIELD_PER_10K = '-0.5000';
/** Which of the published days are negative (by their order of publication). */
const NEGATIVE_DAY_INDEXES = [1, 3];
/** The holders of one negative day start redeeming everything this far apart, so some race its accrual. */
const REDEEM_ALL_STAGGER_MS = 2_500;

/**
 * Issue 22 failure 6: a negative 万份收益 day is published and accrued while holders redeem
 * everything they hold. No share may go negative (the closing check), and each holder ends
 * the day's accrual with nothing left.
 */
class NegativeDay implements Scenario {
  readonly name = 'negative-day';
  #published = 0;
  readonly #races: Promise<void>[] = [];
  redeemed = 0;
  refused = 0;
  emptied = 0;

  constructor(
    private readonly world: World,
    private readonly holdersByDay: SeededUser[][],
  ) {}

  /** The 万份收益 the ops client publishes for its next day. */
  yieldFor(): string | undefined {
    return NEGATIVE_DAY_INDEXES.includes(this.#published) ? NEGATIVE_YIELD_PER_10K : undefined;
  }

  /** Called once the day is published: its holders start redeeming everything. */
  published(day: string, yieldPer10k: string): void {
    this.#published++;
    if (yieldPer10k !== NEGATIVE_YIELD_PER_10K) return;
    const holders = this.holdersByDay.shift() ?? [];
    holders.forEach((holder, index) => this.#races.push(sleep(index * REDEEM_ALL_STAGGER_MS).then(() => this.#redeemEverything(holder, day))));
  }

  async run(): Promise<void> {
    await sleep(Math.max(0, this.world.deadlineMs - Date.now()));
    await Promise.all(this.#races);
  }

  /** Reads her shares and redeems them all, again if the accrual moved them, until the day is accrued and nothing is left. */
  async #redeemEverything(holder: SeededUser, day: string): Promise<void> {
    for (let round = 0; round < 40; round++) {
      const sharesText = String((await readJson(this.world.processes, '/v1/me/account', holder.auth))['shares']);
      const dayStatus = (await FundDay.findById(fundDayId(this.world.fundCode, day)).lean())?.status;
      log(`negative-day ${day}: ${holder.userId} holds ${sharesText} shares, the day ${dayStatus}`);
      // Below zero: the closing check fails the run on it (her shares with unfolded income).
      if (sharesText.startsWith('-')) return;
      const sharesFen = parseYuan(sharesText);
      const accrued = dayStatus === 'accrued';
      if (sharesFen === 0n && accrued) {
        this.emptied++;
        return;
      }
      if (sharesFen > 0n) {
        const answer = await this.world.sender.send(this.name, { route: 'POST /v1/me/redemptions', body: { amount: formatYuan(sharesFen), channel: 'wallet', paymentPassword: PAYMENT_PASSWORD }, auth: holder.auth });
        log(`negative-day ${day}: ${holder.userId} redeems ${formatYuan(sharesFen)}: ${answer?.status ?? 'no answer'} ${answer?.code ?? ''}`);
        if (!answer) return; // past the time for answers
        if (answer?.status === 201) this.redeemed++;
        else this.refused++;
      }
      await sleep(500);
    }
  }

  async figures() {
    const days = await FundDay.find({ fundCode: this.world.fundCode }).lean();
    const negativeDaysAccrued = days.filter((day) => day.yieldPer10k < 0n && day.status === 'accrued').length;
    return { negativeDaysAccrued, redeemedEverything: this.redeemed, refused: this.refused, holdersEmptied: this.emptied };
  }
}

/**
 * Issue 22 failure 7: requests at the configured maxima (limits.operationMaxFen), one fen
 * above them, and a whale whose holding stands one operation under limits.balanceMaxFen and
 * whose wallet is topped up towards it. Refusals (4xx) are answers, not failures.
 */
class MaxAmounts implements Scenario {
  readonly name = 'max-amounts';

  constructor(
    private readonly world: World,
    private readonly whale: SeededUser,
  ) {}

  async run(): Promise<void> {
    const going = keepGoing(this.world);
    const lane = async () => {
      while (going()) await this.world.sender.send(this.name, this.#request());
    };
    await Promise.all([lane(), lane()]);
  }

  #request(): MoneyRequest {
    const { operationMaxFen } = this.world.config.limits;
    const amount = formatYuan(operationMaxFen);
    const auth = this.whale.auth;
    const roll = Math.random();
    if (roll < 0.5) return { route: 'POST /v1/me/top-ups', body: { amount, bankCardId: this.whale.bankCardId }, auth };
    if (roll < 0.55) return { route: 'POST /v1/me/top-ups', body: { amount: formatYuan(operationMaxFen + 1n), bankCardId: this.whale.bankCardId }, auth };
    if (roll < 0.7) return { route: 'POST /v1/me/transfers-in', body: { amount, channel: 'wallet', fundCode: this.world.fundCode }, auth };
    if (roll < 0.8) return { route: 'POST /v1/me/redemptions', body: { amount, channel: 'wallet', paymentPassword: PAYMENT_PASSWORD }, auth };
    if (roll < 0.9) return { route: 'POST /v1/me/instant-redemptions', body: { amount, paymentPassword: PAYMENT_PASSWORD }, auth };
    return { route: 'POST /v1/me/payments', body: { amount, merchantId: this.world.hotMerchant, paymentPassword: PAYMENT_PASSWORD }, auth };
  }

  async figures() {
    const account = await Account.findById(this.whale.userId).lean();
    const percentOfMax = (fen: bigint | undefined) => Number(((fen ?? 0n) * 10_000n) / this.world.config.limits.balanceMaxFen) / 100;
    return { walletPercentOfBalanceMax: percentOfMax(account?.walletFen), sharesPercentOfBalanceMax: percentOfMax(account?.sharesFen) };
  }
}

/** The scenarios of a run, given the holders set aside for them. */
export function scenariosFor(names: readonly ScenarioName[], world: World, roles: { busyHolder: SeededUser; redeemAllHolders: SeededUser[]; whale: SeededUser }): Scenario[] {
  const make: Record<ScenarioName, () => Scenario> = {
    'hot-merchant': () => new HotMerchant(world),
    'busy-holder': () => new BusyHolder(world, roles.busyHolder),
    freeze: () => new Freeze(world),
    midnight: () => new Midnight(world),
    'negative-day': () => new NegativeDay(world, NEGATIVE_DAY_INDEXES.map((_, index) => roles.redeemAllHolders.filter((__, holderIndex) => holderIndex % NEGATIVE_DAY_INDEXES.length === index))),
    'max-amounts': () => new MaxAmounts(world, roles.whale),
  };
  return names.map((name) => make[name]());
}
