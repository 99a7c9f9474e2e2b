/**
 * How long the reserve simulation takes over a year of daily history at a realistic volume
 * (issue 25): `node --import tsx bench/reservePlan.ts [instantPerDay] [paymentsPerDay] [batchesPerHourMax]`.
 * The history is a plain one built here (weekday pattern, month ends, 11.11), so the figure
 * does not depend on the synthetic generator. Prints the simulation's time, its figures, and
 * the time of a recommendation over the same year.
 */
import { performance } from 'node:perf_hooks';
import { addCalendarDays } from '../src/calendar/businessDate.ts';
import { holidayScheduleOf } from '../src/calendar/holidaySchedule.ts';
import { TradingCalendar } from '../src/calendar/tradingCalendar.ts';
import { appConfig } from '../src/config/config.ts';
import { perChannel, type DailyFlow } from '../src/planning/flows.ts';
import { recommendReserve } from '../src/planning/recommend.ts';
import { requestsOfFlows } from '../src/planning/scenarios.ts';
import { reserveSetupOf, simulateReserve } from '../src/planning/simulate.ts';

const instantPerDay = Number(process.argv[2] ?? 500_000);
const paymentsPerDay = Number(process.argv[3] ?? 1_500_000);
const batchesPerHourMax = Number(process.argv[4] ?? 60);
const INSTANT_MEAN_FEN = 30_000n; // 300 yuan
const PAYMENT_MEAN_FEN = 5_000n; // 50 yuan

function yearOfHistory(from: string, days: number): DailyFlow[] {
  return Array.from({ length: days }, (_, index) => {
    const date = addCalendarDays(from, index);
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    const factor = (weekday === 0 || weekday === 6 ? 0.8 : 1) * (date.endsWith('-11-11') ? 3 : 1) * (date.slice(8) >= '28' ? 1.2 : 1);
    const instant = Math.round(instantPerDay * factor);
    const payments = Math.round(paymentsPerDay * factor);
    const counts = perChannel((channel) => (channel === 'instant_redemption' ? instant : channel === 'payment' ? payments : 0));
    const totalsFen = perChannel((channel) => (channel === 'instant_redemption' ? BigInt(instant) * INSTANT_MEAN_FEN : channel === 'payment' ? BigInt(payments) * PAYMENT_MEAN_FEN : 0n));
    return { date, totalsFen, counts };
  });
}

const config = appConfig();
const calendar = new TradingCalendar({ ...holidayScheduleOf(config.holidays), cutoff: config.cutoff, zone: config.zone });
const history = yearOfHistory('2025-01-01', 365);
const profile = requestsOfFlows(history, { seed: 7, holders: 10_000_000, batchesPerHourMax });
const setup = { ...reserveSetupOf(config, calendar, { processes: 4, yieldPer10kShares: '0.4000' }), fromMs: profile.fromMs, untilMs: profile.untilMs };
const yuan = (fen: bigint) => `${fen / 100n} yuan`;

console.log(`history: 365 days, ${instantPerDay} instant redemptions and ${paymentsPerDay} payments a weekday (${profile.requestCount} requests, ${yuan(profile.totalFen)})`);
let started = performance.now();
let simulated = 0;
for (const _request of profile.requests()) simulated++;
console.log(`generating the ${simulated} simulated requests alone: ${Math.round(performance.now() - started)} ms`);
started = performance.now();
const result = simulateReserve({ ...setup, sizeFen: 40_000_000_000n, requests: profile.requests() });
const simulationMs = performance.now() - started;
console.log(`simulateReserve, a year, 400,000,000 yuan, 4 processes, ${setup.shards} shards: ${Math.round(simulationMs)} ms`);
console.log(
  `  served ${result.served.count} of ${result.requests} (${result.servedPercent}%), refused for want of reserve ${result.refused.forReserve.count} (${yuan(result.refused.forReserve.amountFen)}), ` +
    `peak utilisation ${result.peakUtilisationPercent}%, hours to exhaustion ${result.hoursToExhaustion}, idle cost ${yuan(result.idleCostFen)}, ${result.leasesOpened} leases`,
);
started = performance.now();
const recommendation = recommendReserve(profile.requests, setup, { serviceLevelPercent: 99.9 });
const recommendMs = performance.now() - started;
if (recommendation) {
  console.log(
    `recommendReserve at 99.9%: ${yuan(recommendation.sizeFen)}, ${recommendation.shards} shards, lease max ${yuan(recommendation.leaseMaxFen)}; ` +
      `served ${recommendation.servedPercent}% (at ${yuan(recommendation.smallerSizeFen)}: ${recommendation.smallerServedPercent}%), tight ${recommendation.tight}; ` +
      `${recommendation.simulations} simulations in ${Math.round(recommendMs)} ms`,
  );
  const { result: at } = recommendation;
  console.log(`  at the recommendation: peak utilisation ${at.peakUtilisationPercent}%, average unused ${yuan(at.averageUnusedFen)}, idle cost over the year ${yuan(at.idleCostFen)} at 0.4000 yuan per 10,000 shares a day`);
  console.log(recommendation.candidates.map((candidate) => `  ${candidate.shards} shards, lease max ${yuan(candidate.leaseMaxFen)}: ${candidate.sizeFen === null ? 'not 0.2% below the best' : yuan(candidate.sizeFen)}`).join('\n'));
}
