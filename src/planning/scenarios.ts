/**
 * Flow profiles turned into the requests the reserve simulation replays
 * (docs/reserve-simulation.md): a history of daily totals, the upper band of a forecast, or a
 * named stress: a run on the fund ("x% of its AUM redeemed instantly within h hours") or a
 * festival ("11.11 at k times last year"). Seeded: the same profile gives the same requests.
 *
 * A day's total per channel becomes requests of equal size (the day's mean, to the fen), spread
 * over the day's hours by its hourly totals (or an assumed shape), at seeded instants within
 * each hour and from seeded holders. To keep a year to about a million simulated requests, an hour's
 * requests beyond batchesPerHourMax are grouped into equal batches, each granted or refused as
 * one and counted as the requests it stands for.
 */
import { DateTime } from 'luxon';
import { addCalendarDays } from '../calendar/businessDate.ts';
import { DomainError } from '../errors.ts';
import type { Fen } from '../money/fen.ts';
import { mulDiv, parseScaled } from '../money/rounding.ts';
import { RESERVE_CHANNELS, type DailyFlow, type FlowChannel } from './flows.ts';
import type { DailyForecast } from './forecast.ts';
import { seededRandom } from './random.ts';
import type { ReserveChannel, ReserveRequest } from './simulate.ts';

const CHANNELS = RESERVE_CHANNELS as readonly ReserveChannel[];
const MS_PER_HOUR = 3_600_000;
const HOURS_PER_DAY = 24;

/** Requests to replay, the same on every pass, with what they add up to. */
export interface RequestProfile {
  name: string;
  /** The period it covers: the simulation's idle cost and days are read over it. */
  fromMs: number;
  untilMs: number;
  requests(): Iterable<ReserveRequest>;
  /** The requests it stands for (a batch counts as its count) and their total. */
  requestCount: number;
  totalFen: Fen;
  /** What a reader of the result should know about how it was built. */
  notes: string[];
}

export interface FlowRequestOptions {
  seed: number;
  /** Mean request size per channel: a day's count is then its total over it. Without it, the day's own counts (history only). */
  meanRequestFen?: Partial<Record<ReserveChannel, Fen>>;
  /** Distinct holders the requests come from, drawn at random. */
  holders: number;
  /** 24 weights of the Beijing hours, for days without hourly totals; DEFAULT_HOURLY_SHAPE if absent. */
  hourlyShape?: readonly number[];
  /** Simulated requests per channel and hour at most: more are batched. 60 by default. */
  batchesPerHourMax?: number;
  zone?: string;
}

/**
 * Assumed share of a day's instant outflow in each Beijing hour, for days with no hourly
 * totals: quiet at night, a morning rise, a lunch and an evening peak.
 */
export const DEFAULT_HOURLY_SHAPE: readonly number[] = [2, 1, 1, 1, 1, 1, 2, 4, 6, 7, 8, 8, 8, 7, 6, 6, 6, 6, 6, 6, 7, 7, 5, 3];
const BATCHES_PER_HOUR_MAX = 60;
const SHAPE_SCALE = 1_000_000;

interface DayPlan {
  date: string;
  /** Per channel: the hour's total and its requests. */
  hours: Record<ReserveChannel, { amountFen: Fen; count: number }[]>;
}

/** Requests of a history's days, or of a forecast's upper band (each day at its upper bound). */
export function requestsOfFlows(days: readonly DailyFlow[] | readonly DailyForecast[], options: FlowRequestOptions): RequestProfile {
  if (days.length === 0) throw new RangeError('requestsOfFlows: no days');
  const sorted = [...days].sort((a, b) => (a.date < b.date ? -1 : 1));
  const plans = sorted.map((day) => dayPlan(day, options));
  const zone = options.zone ?? 'Asia/Shanghai';
  const batchesMax = options.batchesPerHourMax ?? BATCHES_PER_HOUR_MAX;
  const hourCells = plans.flatMap((plan) => CHANNELS.flatMap((channel) => plan.hours[channel]));
  const requestCount = hourCells.reduce((sum, cell) => sum + cell.count, 0);
  const batched = hourCells.some((cell) => cell.count > batchesMax);
  return {
    name: 'totalsFen' in sorted[0]! ? 'history' : 'forecast-upper',
    fromMs: dayStart(sorted[0]!.date, zone),
    untilMs: dayStart(addCalendarDays(sorted.at(-1)!.date, 1), zone),
    requests: () => planRequests(plans, { ...options, zone, batchesPerHourMax: batchesMax }),
    requestCount,
    totalFen: hourCells.reduce((sum, cell) => sum + cell.amountFen, 0n),
    notes: batched ? [`hours with more than ${batchesMax} requests of a channel are simulated as ${batchesMax} equal batches`] : [],
  };
}

function dayPlan(day: DailyFlow | DailyForecast, options: FlowRequestOptions): DayPlan {
  const hours = Object.fromEntries(
    CHANNELS.map((channel) => {
      const totalFen = 'totalsFen' in day ? day.totalsFen[channel] : day.channels[channel].upperFen;
      const count = requestCountOf(day, channel, totalFen, options);
      const hourly = 'hourlyFen' in day ? day.hourlyFen?.[channel] : undefined;
      const weights = hourly && hourly.some((fen) => fen > 0n) ? hourly : shapeWeights(options.hourlyShape ?? DEFAULT_HOURLY_SHAPE);
      // The requests follow the hours' weights; the money follows the requests: all of a day's are alike.
      const counts = count === 0 ? weights.map(() => 0) : splitFen(BigInt(count), weights).map(Number);
      const amounts = count === 0 ? weights.map(() => 0n) : splitFen(totalFen, counts.map(BigInt));
      return [channel, amounts.map((amountFen, hour) => ({ amountFen, count: counts[hour]! }))];
    }),
  ) as DayPlan['hours'];
  return { date: day.date, hours };
}

function requestCountOf(day: DailyFlow | DailyForecast, channel: ReserveChannel, totalFen: Fen, options: FlowRequestOptions): number {
  if (totalFen <= 0n) return 0;
  const meanFen = options.meanRequestFen?.[channel];
  if (meanFen === undefined && !('counts' in day)) throw new RangeError(`requestsOfFlows: a forecast needs a mean request size for ${channel}`);
  if (meanFen !== undefined && meanFen <= 0n) throw new RangeError(`requestsOfFlows: mean request of ${channel} must be positive`);
  const count = meanFen !== undefined ? mulDiv(totalFen, 1n, meanFen, 'up') : BigInt(Math.max(1, (day as DailyFlow).counts[channel]));
  // Every request at least a fen.
  return Number(count < totalFen ? count : totalFen);
}

/**
 * An amount split by weights, exactly: shares truncated, then a fen more to each of the first
 * weighted parts until none is left (fewer than there are weighted parts).
 */
export function splitFen(totalFen: Fen, weights: readonly bigint[]): Fen[] {
  const weightSum = weights.reduce((sum, weight) => sum + weight, 0n);
  if (weightSum <= 0n) throw new RangeError('splitFen: the weights add up to nothing');
  const shares = weights.map((weight) => (totalFen * weight) / weightSum);
  let leftFen = totalFen - shares.reduce((sum, share) => sum + share, 0n);
  for (let index = 0; leftFen > 0n; index++) {
    if (weights[index]! <= 0n) continue;
    shares[index]! += 1n;
    leftFen--;
  }
  return shares;
}

const shapeWeights = (shape: readonly number[]) => {
  if (shape.length !== HOURS_PER_DAY || shape.some((weight) => !(weight >= 0))) throw new RangeError('hourlyShape: 24 weights, none negative');
  return shape.map((weight) => BigInt(Math.round(weight * SHAPE_SCALE)));
};

function* planRequests(plans: readonly DayPlan[], options: FlowRequestOptions & { zone: string; batchesPerHourMax: number }): Generator<ReserveRequest> {
  const random = seededRandom(options.seed);
  for (const plan of plans) {
    const dayStartMs = dayStart(plan.date, options.zone);
    for (let hour = 0; hour < HOURS_PER_DAY; hour++) {
      const hourStartMs = dayStartMs + hour * MS_PER_HOUR; // Asia/Shanghai keeps no summer time
      const batches = CHANNELS.flatMap((channel) => hourBatches(channel, plan.hours[channel][hour]!, hourStartMs, options, random));
      yield* batches.sort((a, b) => a.atMs - b.atMs);
    }
  }
}

/** An hour's requests of a channel: at most batchesPerHourMax, each at a seeded instant of its slot of the hour. */
function hourBatches(
  channel: ReserveChannel,
  cell: { amountFen: Fen; count: number },
  hourStartMs: number,
  options: { holders: number; batchesPerHourMax: number },
  random: () => number,
): ReserveRequest[] {
  if (cell.count === 0) return [];
  const batchCount = Math.min(cell.count, options.batchesPerHourMax);
  const counts = splitFen(BigInt(cell.count), Array.from({ length: batchCount }, () => 1n)).map(Number);
  const amounts = splitFen(cell.amountFen, counts.map(BigInt));
  return counts.map((count, slot) => ({
    atMs: hourStartMs + Math.floor(((slot + random()) * MS_PER_HOUR) / batchCount),
    holderId: `h${Math.floor(random() * options.holders)}`,
    channel,
    amountFen: amounts[slot]!,
    ...(count > 1 ? { count } : {}),
  }));
}

const dayStart = (date: string, zone: string) => DateTime.fromISO(date, { zone }).toMillis();

export interface RunScenario {
  /** The fund's assets under management. */
  aumFen: Fen;
  /** Of the AUM, e.g. "5" or "0.5". */
  percent: string;
  hours: number;
  holders: number;
  startMs: number;
  /** The per-holder daily cap (config limits.instantRedeemDailyMaxFen): it bounds what each holder takes in a day. */
  instantDailyMaxFen: Fen;
  /** Each holder's requests; by default its whole share, up to the cap. */
  requestFen?: Fen;
  seed: number;
  /** Groups of holders who act alike, simulated as one batch each; 2,000 by default. */
  holderGroupsMax?: number;
  zone?: string;
}

const HOLDER_GROUPS_MAX = 2000;
const RUN_REQUESTS_MAX = 200_000;

/**
 * A run on the fund: `percent` of the AUM asked for instantly by `holders` holders in equal
 * shares, each holder's requests at seeded instants within `hours` from `startMs`. What the
 * holders ask beyond the cap is refused by it in the simulation; the notes say how much the cap
 * bounds the run to.
 */
export function runProfile(run: RunScenario): RequestProfile {
  const wantedFen = mulDiv(run.aumFen, parseScaled(run.percent, 2), 10_000n, 'down');
  const groups = Math.min(run.holders, run.holderGroupsMax ?? HOLDER_GROUPS_MAX);
  const groupSizes = splitFen(BigInt(run.holders), Array.from({ length: groups }, () => 1n)).map(Number);
  const shareFen = wantedFen / BigInt(run.holders);
  const untilMs = run.startMs + run.hours * MS_PER_HOUR;
  const days = naturalDaysTouched(run.startMs, untilMs, run.zone ?? 'Asia/Shanghai');
  const capBoundFen = run.instantDailyMaxFen * BigInt(run.holders) * BigInt(days);
  const notes = [
    `${run.holders} holders ask ${shareFen} fen each (${shareFen * BigInt(run.holders)} fen in all, ${run.percent}% of the AUM truncated to equal shares)`,
    `the per-holder cap of ${run.instantDailyMaxFen} fen a natural day bounds the run to ${capBoundFen} fen over the ${days} natural day(s) it touches`,
  ];
  let requestFen = run.requestFen ?? (shareFen < run.instantDailyMaxFen ? shareFen : run.instantDailyMaxFen);
  const requestsPerHolderMax = Math.max(1, Math.floor(RUN_REQUESTS_MAX / groups));
  if (requestFen > 0n && mulDiv(shareFen, 1n, requestFen, 'up') > BigInt(requestsPerHolderMax)) {
    requestFen = mulDiv(shareFen, 1n, BigInt(requestsPerHolderMax), 'up');
    notes.push(`requests raised to ${requestFen} fen so that each holder sends at most ${requestsPerHolderMax}`);
  }
  const asks = requestFen > 0n ? holderAsks(shareFen, requestFen) : [];
  return {
    name: `run:${run.percent}%:${run.hours}h`,
    fromMs: run.startMs,
    untilMs,
    requests: () => runRequests(run, groupSizes, asks, untilMs),
    requestCount: asks.length * run.holders,
    totalFen: shareFen * BigInt(run.holders),
    notes,
  };
}

/** A holder's share as requests of requestFen, the last one the rest. */
function holderAsks(shareFen: Fen, requestFen: Fen): Fen[] {
  const asks = Array.from({ length: Number(shareFen / requestFen) }, () => requestFen);
  if (shareFen % requestFen > 0n) asks.push(shareFen % requestFen);
  return asks;
}

function runRequests(run: RunScenario, groupSizes: number[], asks: Fen[], untilMs: number): ReserveRequest[] {
  const random = seededRandom(run.seed);
  const spanMs = untilMs - run.startMs;
  const requests = groupSizes.flatMap((size, group) =>
    asks.map((askFen) => ({
      atMs: run.startMs + Math.floor(random() * spanMs),
      holderId: `g${group}`,
      channel: 'instant_redemption' as const,
      amountFen: askFen * BigInt(size),
      ...(size > 1 ? { count: size } : {}),
    })),
  );
  return requests.sort((a, b) => a.atMs - b.atMs);
}

function naturalDaysTouched(fromMs: number, untilMs: number, zone: string): number {
  const first = DateTime.fromMillis(fromMs, { zone }).startOf('day');
  const last = DateTime.fromMillis(untilMs - 1, { zone }).startOf('day');
  return Math.round(last.diff(first, 'days').days) + 1;
}

/**
 * A festival at `multiplier` times its last occurrence in the history (totals, counts and
 * hours scaled), replayed on `on` (by default its next occurrence after the history), with the
 * reserve as full as the simulation starts it.
 */
export function festivalProfile(history: readonly DailyFlow[], festival: { monthDay: string; multiplier: string; on?: string }, options: FlowRequestOptions): RequestProfile {
  const day = [...history].reverse().find((flow) => flow.date.slice(5) === festival.monthDay);
  if (!day) {
    throw new DomainError('scenario_day_missing', `The flow history has no ${festival.monthDay} to scale`, {}, { values: { monthDay: festival.monthDay } });
  }
  const on = festival.on ?? nextOccurrence(history.reduce((last, flow) => (flow.date > last ? flow.date : last), day.date), festival.monthDay);
  const profile = requestsOfFlows([scaledDay(day, parseScaled(festival.multiplier, 2), on)], options);
  return { ...profile, name: `festival:${festival.monthDay}:x${festival.multiplier}`, notes: [`${day.date} at ${festival.multiplier} times, on ${on}`, ...profile.notes] };
}

/** The day's flows times hundredths / 100 (rounded half up), moved to `date`. */
function scaledDay(day: DailyFlow, hundredths: bigint, date: string): DailyFlow {
  const scale = (amountFen: Fen) => mulDiv(amountFen, hundredths, 100n, 'halfUp');
  const channels = Object.keys(day.totalsFen) as FlowChannel[];
  const hourlyFen = day.hourlyFen && Object.fromEntries(Object.entries(day.hourlyFen).map(([channel, hours]) => [channel, hours.map(scale)]));
  return {
    date,
    totalsFen: Object.fromEntries(channels.map((channel) => [channel, scale(day.totalsFen[channel])])) as DailyFlow['totalsFen'],
    counts: Object.fromEntries(channels.map((channel) => [channel, Number(scale(BigInt(day.counts[channel])))])) as DailyFlow['counts'],
    ...(hourlyFen ? { hourlyFen } : {}),
  };
}

/** The first date after `after` falling on month-day (a 02-29 waits for a leap year). */
function nextOccurrence(after: string, monthDay: string): string {
  const year = Number(after.slice(0, 4));
  for (let candidate = year; candidate <= year + 8; candidate++) {
    const date = `${candidate}-${monthDay}`;
    if (date > after && DateTime.fromISO(date).isValid) return date;
  }
  throw new RangeError(`no ${monthDay} after ${after}`);
}

/** What a scenario may be built from: the flow history, the forecast, the fund and the service's cap. */
export interface ScenarioSources extends Omit<FlowRequestOptions, 'hourlyShape'> {
  history?: readonly DailyFlow[];
  forecast?: readonly DailyForecast[];
  /** For a run: the fund's assets under management, and when it starts. */
  aumFen?: Fen;
  startMs?: number;
  instantDailyMaxFen: Fen;
}

/** The requests of a parsed scenario; a source it needs and lacks is a programmer's error. */
export function profileOfScenario(spec: ScenarioSpec, sources: ScenarioSources): RequestProfile {
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new RangeError(`scenario ${spec.kind} needs ${what}`);
    return value;
  };
  switch (spec.kind) {
    case 'history':
      return requestsOfFlows(need(sources.history, 'a flow history'), sources);
    case 'forecast-upper':
      return requestsOfFlows(need(sources.forecast, 'a forecast'), sources);
    case 'festival':
      return festivalProfile(need(sources.history, 'a flow history'), spec, sources);
    case 'run':
      return runProfile({
        aumFen: need(sources.aumFen, 'the AUM'),
        percent: spec.percent,
        hours: spec.hours,
        holders: sources.holders,
        startMs: need(sources.startMs, 'a start'),
        instantDailyMaxFen: sources.instantDailyMaxFen,
        seed: sources.seed,
        ...(sources.zone ? { zone: sources.zone } : {}),
      });
  }
}

/** A scenario as the API and the CLI name it. */
export type ScenarioSpec =
  | { kind: 'history' }
  | { kind: 'forecast-upper' }
  | { kind: 'run'; percent: string; hours: number }
  | { kind: 'festival'; monthDay: string; multiplier: string };

const RUN_PATTERN = /^run:(\d{1,3}(?:\.\d{1,2})?)%:(\d{1,3})h$/;
const FESTIVAL_PATTERN = /^festival:(\d{2}-\d{2}):x(\d{1,3}(?:\.\d{1,2})?)$/;
export const RUN_HOURS_MAX = 720;
const MULTIPLIER_MAX_HUNDREDTHS = 100_00n;

/** `history`, `forecast-upper`, `run:5%:4h` (0 < % ≤ 100, 1..720 h), `festival:11-11:x2` (0 < k ≤ 100). */
export function parseScenario(text: unknown): ScenarioSpec {
  if (text === 'history' || text === 'forecast-upper') return { kind: text };
  const shown = typeof text === 'string' ? text.slice(0, 64) : typeof text;
  const run = typeof text === 'string' ? RUN_PATTERN.exec(text) : null;
  if (run) {
    const percentHundredths = parseScaled(run[1]!, 2);
    const hours = Number(run[2]);
    if (percentHundredths > 0n && percentHundredths <= 100_00n && hours >= 1 && hours <= RUN_HOURS_MAX) return { kind: 'run', percent: run[1]!, hours };
    throw invalidScenario(shown, `a run takes more than 0 and at most 100 percent, over 1 to ${RUN_HOURS_MAX} hours`);
  }
  const festival = typeof text === 'string' ? FESTIVAL_PATTERN.exec(text) : null;
  if (festival) {
    const multiplierHundredths = parseScaled(festival[2]!, 2);
    if (!DateTime.fromISO(`2024-${festival[1]}`).isValid) throw invalidScenario(shown, `${festival[1]} is no month-day`);
    if (multiplierHundredths > 0n && multiplierHundredths <= MULTIPLIER_MAX_HUNDREDTHS) return { kind: 'festival', monthDay: festival[1]!, multiplier: festival[2]! };
    throw invalidScenario(shown, 'a festival multiplier is more than 0 and at most 100');
  }
  throw invalidScenario(shown, 'use history, forecast-upper, run:<percent>%:<hours>h (e.g. run:5%:4h) or festival:<MM-DD>:x<multiplier> (e.g. festival:11-11:x2)');
}

const invalidScenario = (scenario: string, why: string) => new DomainError('invalid_scenario', `Unknown stress scenario ${JSON.stringify(scenario)}: ${why}`, {}, { values: { scenario } });
