/**
 * Realistic synthetic flow history for tests, benchmarks and the sandbox:
 * daily and hourly totals per channel with known calendar effects, a slow trend, a wandering
 * level and multiplicative noise, from a seeded generator so the same options give the same
 * days. Every effect and parameter is listed in docs/reserve-forecast.md.
 *
 * A day's expected total is a channel's base level times the product of its effects; the
 * effects of long breaks grow with the break's length, and the days inside a break take the
 * weekend's weekday effect, so the forecast's calendar features (one coefficient each) only
 * approximate them, as they would approximate real flows.
 */
import { dayContexts, DEFAULT_FESTIVALS, DEFAULT_PAYDAYS, MAJOR_BREAK_DAYS_MIN, type DayContext, type Festival, type PlanningCalendar } from './calendarEffects.ts';
import { seededRandom } from './random.ts';
import { perChannel, type DailyFlow, type FlowChannel, type PerChannel } from './flows.ts';

/** A festival and how much it multiplies the day's payments (instant redemptions rise by a third of that). */
export interface SyntheticFestival extends Festival {
  paymentMultiplier: number;
}

export const SYNTHETIC_FESTIVALS: readonly SyntheticFestival[] = DEFAULT_FESTIVALS.map((festival) => ({
  ...festival,
  paymentMultiplier: ({ '618': 1.8, double11: 3, double12: 1.6 } as Record<string, number>)[festival.name] ?? 1.5,
}));

export interface SyntheticOptions {
  /** The first date, yyyy-MM-dd. */
  fromDate: string;
  days: number;
  seed: number;
  calendar: PlanningCalendar;
  /** Multiplies every amount: 1 is a fund with some 2.5 million yuan of instant redemptions a day. Requests keep their size, so counts follow. */
  scale?: number;
  festivals?: readonly SyntheticFestival[];
  paydays?: readonly number[];
  /** Growth of every channel a year, 0.1 = 10%. */
  trendPerYear?: number;
  /** Multiplies each channel's noise (its standard deviation on the log scale); 0 gives the expected totals. */
  noise?: number;
}

/** A generator of about 2 million days: far more than a test or the sandbox asks. */
export const SYNTHETIC_DAYS_MAX = 20 * 366;
const HOURS = 24;
const DAYS_PER_YEAR = 365.25;

interface ChannelProfile {
  baseYuan: number;
  meanRequestYuan: number;
  /** Monday .. Sunday */
  weekday: readonly number[];
  /** A day off inside a long break, and more inside a major one. */
  inBreak: number;
  inMajorBreak: number;
  /** At full strength (a break of 7 days or more); a 3-day break has a fifth of it. */
  eve: readonly [number, number];
  after: readonly [number, number];
  makeUpWorkday: number;
  monthEnd: number;
  quarterEnd: number;
  payday: number;
  /** Share of a festival's payment multiplier this channel follows (1 = all of it). */
  festivalShare: number;
  /** Standard deviation of the day's noise on the log scale. */
  noiseSigma: number;
  /** Relative volume of each Beijing hour. */
  hourly: readonly number[];
}

const HOURLY = {
  instant: [2, 1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 8, 7, 6, 6, 6, 6, 6, 6, 7, 8, 8, 6, 4],
  payment: [2, 1, 1, 0.5, 0.5, 0.5, 1, 3, 5, 5, 5, 6, 9, 8, 5, 4, 4, 5, 8, 9, 8, 6, 4, 3],
  working: [0.5, 0.2, 0.2, 0.2, 0.2, 0.2, 0.5, 2, 6, 10, 11, 10, 7, 8, 9, 7, 4, 3, 3, 3, 3, 3, 2, 1],
  transferIn: [1, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 3, 6, 9, 9, 7, 6, 6, 6, 5, 4, 4, 5, 6, 7, 7, 5, 3],
};

const PROFILES: PerChannel<ChannelProfile> = {
  instant_redemption: {
    baseYuan: 2_500_000, meanRequestYuan: 1_500,
    weekday: [1.05, 1, 1, 1, 1.15, 0.85, 0.8], inBreak: 0.75, inMajorBreak: 0.85,
    eve: [2.5, 1.5], after: [1.2, 1.05], makeUpWorkday: 0.9, monthEnd: 1.25, quarterEnd: 1.15, payday: 0.95,
    festivalShare: 1 / 3, noiseSigma: 0.1, hourly: HOURLY.instant,
  },
  payment: {
    baseYuan: 4_000_000, meanRequestYuan: 120,
    weekday: [0.9, 0.9, 0.92, 0.95, 1.05, 1.25, 1.2], inBreak: 1.1, inMajorBreak: 1.3,
    eve: [1.4, 1.2], after: [1, 1], makeUpWorkday: 0.9, monthEnd: 1.1, quarterEnd: 1, payday: 1.1,
    festivalShare: 1, noiseSigma: 0.08, hourly: HOURLY.payment,
  },
  redemption: {
    baseYuan: 1_800_000, meanRequestYuan: 8_000,
    weekday: [1.1, 1, 1, 1, 1.05, 0.35, 0.3], inBreak: 0.6, inMajorBreak: 0.9,
    eve: [1.8, 1.3], after: [1.4, 1.1], makeUpWorkday: 0.8, monthEnd: 1.2, quarterEnd: 1.3, payday: 1,
    festivalShare: 0, noiseSigma: 0.12, hourly: HOURLY.working,
  },
  transfer_in: {
    baseYuan: 8_000_000, meanRequestYuan: 3_000,
    weekday: [1.05, 1, 1, 1, 0.95, 0.45, 0.4], inBreak: 0.7, inMajorBreak: 0.9,
    eve: [0.7, 0.9], after: [2.2, 1.5], makeUpWorkday: 0.8, monthEnd: 0.9, quarterEnd: 0.85, payday: 1.5,
    festivalShare: 0, noiseSigma: 0.1, hourly: HOURLY.transferIn,
  },
};

/** Day-to-day persistence of the wandering level, and its daily step (log scale): a stationary spread of about 6%. */
const LEVEL_PERSISTENCE = 0.97;
const LEVEL_STEP_SIGMA = 0.015;
/** Spread of each hour's share around the profile (log scale). */
const HOURLY_NOISE_SIGMA = 0.15;
/** On a festival, this share of its payments comes at midnight, when the sales open. */
const FESTIVAL_MIDNIGHT_SHARE = 0.2;

export function syntheticHistory(options: SyntheticOptions): DailyFlow[] {
  const { fromDate, days, seed, calendar, scale = 1, festivals = SYNTHETIC_FESTIVALS, paydays = DEFAULT_PAYDAYS, trendPerYear = 0.1, noise = 1 } = options;
  if (!Number.isInteger(days) || days < 0 || days > SYNTHETIC_DAYS_MAX) throw new RangeError(`syntheticHistory: days must be a whole number from 0 to ${SYNTHETIC_DAYS_MAX}`);
  if (!(scale > 0) || !(noise >= 0)) throw new RangeError('syntheticHistory: scale must be positive and noise not negative');
  const random = seededNormal(seed);
  const multiplierOf = new Map(festivals.map((festival) => [festival.name, festival.paymentMultiplier]));
  const contexts = dayContexts(calendar, fromDate, days, { festivals, paydays });
  const level = perChannel(() => 0);
  return contexts.map((day, index) => {
    const growth = (1 + trendPerYear) ** (index / DAYS_PER_YEAR);
    const totalsYuan = perChannel((channel) => {
      level[channel] = LEVEL_PERSISTENCE * level[channel] + noise * LEVEL_STEP_SIGMA * random.normal();
      const profile = PROFILES[channel];
      const festivalMultiplier = day.festival ? 1 + (multiplierOf.get(day.festival)! - 1) * profile.festivalShare : 1;
      const dayNoise = Math.exp(level[channel] + noise * profile.noiseSigma * random.normal());
      return scale * profile.baseYuan * growth * calendarMultiplier(profile, day) * festivalMultiplier * dayNoise;
    });
    const totalsFen = perChannel((channel) => BigInt(Math.round(totalsYuan[channel] * 100)));
    return {
      date: day.date,
      totalsFen,
      counts: perChannel((channel) => requestCount(totalsFen[channel], PROFILES[channel].meanRequestYuan)),
      hourlyFen: perChannel((channel) => splitByHour(totalsFen[channel], hourlyWeights(channel, day, random, noise))),
    };
  });
}

/** The product of a day's calendar effects for one channel, festivals aside. */
function calendarMultiplier(profile: ChannelProfile, day: DayContext): number {
  // A make-up working day works like a midweek day; a day off inside a break like a Saturday.
  const weekday = day.makeUpWorkday ? 3 : day.inBreakDays > 0 ? 6 : day.weekday;
  let multiplier = profile.weekday[weekday - 1]!;
  if (day.makeUpWorkday) multiplier *= profile.makeUpWorkday;
  if (day.inBreakDays > 0) multiplier *= day.inBreakDays >= MAJOR_BREAK_DAYS_MIN ? profile.inBreak * profile.inMajorBreak : profile.inBreak;
  if (day.breakAheadDays > 0) multiplier *= scaledByBreak(profile.eve[day.workingDaysToBreak - 1]!, day.breakAheadDays);
  if (day.breakBehindDays > 0) multiplier *= scaledByBreak(profile.after[day.workingDaysSinceBreak - 1]!, day.breakBehindDays);
  if (day.monthEnd) multiplier *= profile.monthEnd;
  if (day.quarterEnd) multiplier *= profile.quarterEnd;
  if (day.payday) multiplier *= profile.payday;
  return multiplier;
}

/** A break's effect at full strength from 7 days off, a fifth of it for 3 days. */
function scaledByBreak(fullEffect: number, breakDays: number): number {
  return 1 + (fullEffect - 1) * Math.min(1, (breakDays - 2) / (MAJOR_BREAK_DAYS_MIN - 2));
}

/** Requests of about the channel's mean size; at least one when anything moved. */
function requestCount(totalFen: bigint, meanRequestYuan: number): number {
  if (totalFen === 0n) return 0;
  return Math.max(1, Math.round(Number(totalFen) / (meanRequestYuan * 100)));
}

function hourlyWeights(channel: FlowChannel, day: DayContext, random: NormalSource, noise: number): number[] {
  const weights = PROFILES[channel].hourly.map((weight) => weight * Math.exp(noise * HOURLY_NOISE_SIGMA * random.normal()));
  if (day.festival && PROFILES[channel].festivalShare > 0) {
    const sum = weights.reduce((total, weight) => total + weight, 0);
    weights[0] = weights[0]! + (sum * FESTIVAL_MIDNIGHT_SHARE) / (1 - FESTIVAL_MIDNIGHT_SHARE);
  }
  return weights;
}

/** The total split in proportion to the weights, each hour whole fen, the hours summing to the total exactly (largest remainders). */
export function splitByHour(totalFen: bigint, weights: readonly number[]): bigint[] {
  if (weights.length !== HOURS) throw new RangeError(`splitByHour: ${HOURS} weights expected`);
  const weightSum = weights.reduce((total, weight) => total + weight, 0);
  const exact = weights.map((weight) => (Number(totalFen) * weight) / weightSum);
  const hours = exact.map((share) => BigInt(Math.floor(share)));
  let leftFen = totalFen - hours.reduce((total, share) => total + share, 0n);
  const byRemainder = exact.map((share, hour) => ({ hour, remainder: share - Math.floor(share) })).sort((a, b) => b.remainder - a.remainder);
  for (let index = 0; leftFen > 0n; index = (index + 1) % HOURS, leftFen--) hours[byRemainder[index]!.hour]! += 1n;
  return hours;
}

interface NormalSource {
  /** Standard normal. */
  normal(): number;
}

/** Normal draws from the planner's seeded source (Box-Muller; 1 - uniform is never 0, so the log is finite). */
function seededNormal(seed: number): NormalSource {
  const uniform = seededRandom(seed);
  return { normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()) };
}
