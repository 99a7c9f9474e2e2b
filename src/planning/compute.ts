/**
 * The reserve plan's arithmetic, with no database and no clock (docs/reserve-planning.md): the
 * forecast from the history and its back-test beside the naive forecast, whether the reserve
 * covers the upper band over the next trading days, a scenario's requests replayed through the
 * simulator at the current size, and the smallest reserve that serves the service level. It
 * runs in a worker thread (src/planning/worker.ts): a search of some thirty simulations must
 * not hold an API process's requests.
 */
import { addCalendarDays } from '../calendar/businessDate.ts';
import type { TradingCalendar } from '../calendar/tradingCalendar.ts';
import type { AppConfig } from '../config/config.ts';
import type { Fen } from '../money/fen.ts';
import { backtestForecast, type BacktestReport } from './backtest.ts';
import { forecastFlows, forecastMethodOf, type DailyForecast, type ForecastMethod } from './forecast.ts';
import { RESERVE_CHANNELS, type DailyFlow } from './flows.ts';
import { recommendReserve, type ReserveRecommendation } from './recommend.ts';
import { parseScenario, profileOfScenario, type FlowRequestOptions, type RequestProfile, type ScenarioSpec } from './scenarios.ts';
import { reserveSetupOf, simulateReserve, type ReserveSetup, type SimulationResult } from './simulate.ts';

export interface PlanRequest {
  /** Days forecast, from today. */
  days: number;
  /** Of the instant requests the holders' cap lets through, e.g. 99.9. */
  serviceLevelPercent: number;
  /** history, forecast-upper, run:<percent>%:<hours>h or festival:<MM-dd>:x<multiplier>. */
  scenario: string;
}

export type PlanConfig = Pick<AppConfig, 'planning' | 'reserve' | 'limits' | 'jobs' | 'zone'>;

/** The fund's figures a plan needs: what it holds (a run's AUM), its yield (idle cost) and its holders. */
export interface FundFigures {
  aumFen: Fen;
  yieldPer10kShares: string;
  /** 0 before the fund's first accrued day. */
  holders: number;
}

/** What the database tells a plan: everything else is arithmetic. */
export interface PlanInputs {
  request: PlanRequest;
  config: PlanConfig;
  today: string;
  nowMs: number;
  history: DailyFlow[];
  reserve: { name: string; sizeFen: Fen; availableFen: Fen; outstandingFen: Fen };
  fund: FundFigures;
}

export interface ReservePlan {
  asOf: Date;
  reserve: PlanInputs['reserve'];
  history: { fromDate: string | null; toDate: string | null; days: number };
  forecast: { method: ForecastMethod; coveragePercent: number; days: DailyForecast[] };
  backtest: BacktestReport;
  coverage: ForecastCoverage;
  scenario: { name: string; requests: number; totalFen: Fen; notes: string[] };
  /** The scenario at the reserve's current size. */
  current: SimulationResult;
  /** Null when no size serves the level (e.g. a request larger than any lease could be). */
  recommendation: ReserveRecommendation | null;
  elapsedMs: number;
}

export interface ForecastCoverage {
  /** The trading days looked at (config planning.alertTradingDays), the last one included. */
  tradingDays: number;
  throughDate: string;
  /**
   * The most the reserve must hold at once by the upper band: what instant redemptions and
   * payments advance from one trading day to the next (a long holiday's days all settle on
   * the first trading day after it).
   */
  needFen: Fen;
  /** The settle date of that peak. */
  peakSettleDate: string | null;
  sizeFen: Fen;
  covered: boolean;
}

/** Progress of a long plan, 0 to 1: the CLI's bar. */
export type PlanProgress = (doneShare: number) => void;

/** Seeds the simulation's random choices, so a plan asked twice answers the same. */
const PLAN_SEED = 1;
/** What one simulation of a plan replays at most, about: see batchesPerHourFor. */
const SIMULATED_REQUESTS_MAX = 40_000;
const BATCHES_PER_HOUR_MAX = 60;
/** The share of the progress bar the simulation at the current size takes; the search takes the rest. */
const CURRENT_SHARE = 0.1;

export function computePlan(inputs: PlanInputs, calendar: TradingCalendar, onProgress?: PlanProgress): ReservePlan {
  const startedAtMs = Date.now();
  const { request, config, today, history, reserve, fund } = inputs;
  const spec = parseScenario(request.scenario);
  const { planning } = config;
  const forecast = forecastWithCoverage(config, calendar, today, history, request.days, reserve.sizeFen);
  const backtest = backtestForecast(history, calendar, { coveragePercent: planning.coveragePercent, festivals: planning.festivals, paydays: planning.paydays });
  const profile = profileOf(inputs, calendar, spec, forecast.days);
  // Drawn once: every simulation of the search replays the same requests.
  const requests = [...profile.requests()];
  const setup: ReserveSetup = {
    ...reserveSetupOf(config, calendar, { processes: planning.apiProcesses, yieldPer10kShares: fund.yieldPer10kShares, seed: PLAN_SEED }),
    fromMs: profile.fromMs,
    untilMs: profile.untilMs,
  };
  const current = simulateReserve({ ...setup, sizeFen: reserve.sizeFen, requests }, (share) => onProgress?.(share * CURRENT_SHARE));
  const recommendation = recommendReserve(() => requests, setup, { serviceLevelPercent: request.serviceLevelPercent }, (share) => onProgress?.(CURRENT_SHARE + share * (1 - CURRENT_SHARE)));
  return {
    asOf: new Date(inputs.nowMs),
    reserve,
    history: { fromDate: history[0]?.date ?? null, toDate: history.at(-1)?.date ?? null, days: history.length },
    forecast: { method: forecastMethodOf(history, today), coveragePercent: planning.coveragePercent, days: forecast.days },
    backtest,
    coverage: forecast.coverage,
    scenario: { name: profile.name, requests: profile.requestCount, totalFen: profile.totalFen, notes: profile.notes },
    current,
    recommendation,
    elapsedMs: Date.now() - startedAtMs,
  };
}

/** The forecast of `days` days from today, and whether a reserve of `sizeFen` covers its upper band. */
export function forecastWithCoverage(config: PlanConfig, calendar: TradingCalendar, today: string, history: DailyFlow[], days: number, sizeFen: Fen) {
  const { planning } = config;
  // The coverage's window may reach past the days asked: forecast whichever is longer.
  const throughDate = tradingDaysAhead(calendar, today, planning.alertTradingDays);
  const horizonDays = Math.max(days, calendar.daysBetween(today, throughDate) + 1);
  const options = { coveragePercent: planning.coveragePercent, festivals: planning.festivals, paydays: planning.paydays };
  const forecast = forecastFlows(history, calendar, { ...options, fromDate: today, days: horizonDays });
  const coverage = coverageOf(calendar, forecast.filter((day) => day.date <= throughDate), sizeFen);
  return { days: forecast.slice(0, days), coverage: { ...coverage, tradingDays: planning.alertTradingDays, throughDate } };
}

function tradingDaysAhead(calendar: TradingCalendar, today: string, tradingDays: number): string {
  let date = today;
  for (let day = 0; day < tradingDays; day++) date = calendar.nextTradingDay(date);
  return date;
}

/**
 * The upper band's reserve outflows grouped by the date they are repaid (the next trading day
 * after the day they are asked: an advance asked after the cut-off waits a trading day more,
 * which the grouping leaves out), and the largest group.
 */
function coverageOf(calendar: TradingCalendar, forecast: DailyForecast[], sizeFen: Fen): Omit<ForecastCoverage, 'tradingDays' | 'throughDate'> {
  const bySettleDate = new Map<string, Fen>();
  for (const day of forecast) {
    const settleDate = calendar.nextTradingDay(day.date);
    const upperFen = RESERVE_CHANNELS.reduce((sum, channel) => sum + day.channels[channel].upperFen, 0n);
    bySettleDate.set(settleDate, (bySettleDate.get(settleDate) ?? 0n) + upperFen);
  }
  let peak: [string, Fen] | null = null;
  for (const entry of bySettleDate) if (!peak || entry[1] > peak[1]) peak = entry;
  const needFen = peak?.[1] ?? 0n;
  return { needFen, peakSettleDate: peak?.[0] ?? null, sizeFen, covered: sizeFen >= needFen };
}

/**
 * Simulated requests per channel and hour at most, so that a plan over many days replays about
 * SIMULATED_REQUESTS_MAX requests whatever its length: a search for the recommended size runs
 * some thirty simulations, and a year must answer in seconds. An hour's requests beyond it are
 * equal batches, each granted or refused as one (docs/reserve-simulation.md).
 */
function batchesPerHourFor(days: number): number {
  return Math.max(1, Math.min(BATCHES_PER_HOUR_MAX, Math.floor(SIMULATED_REQUESTS_MAX / (Math.max(1, days) * 24 * RESERVE_CHANNELS.length))));
}

function profileOf(inputs: PlanInputs, calendar: TradingCalendar, spec: ScenarioSpec, forecast: DailyForecast[]): RequestProfile {
  const { history, fund, config } = inputs;
  const days = spec.kind === 'history' ? history.length : forecast.length;
  return profileOfScenario(spec, {
    history,
    forecast,
    seed: PLAN_SEED,
    holders: fund.holders > 0 ? fund.holders : busiestDayRequests(history),
    // A forecast gives totals only: its requests are of the history's mean size; the history has its own counts.
    ...(spec.kind === 'history' ? {} : { meanRequestFen: meanRequestsOf(history) }),
    zone: calendar.zone,
    batchesPerHourMax: batchesPerHourFor(days),
    aumFen: fund.aumFen,
    startMs: inputs.nowMs,
    instantDailyMaxFen: config.limits.instantRedeemDailyMaxFen,
  });
}

/**
 * Holders for a fund with no accrued day here yet (a history imported): as many as the busiest
 * day's requests, each from a holder of its own, so the daily cap binds no more than it must.
 */
function busiestDayRequests(history: DailyFlow[]): number {
  return Math.max(1, ...history.map((day) => RESERVE_CHANNELS.reduce((sum, channel) => sum + day.counts[channel], 0)));
}

/** The history's mean request per reserve channel (a forecast gives totals only); 100 yuan without any. */
function meanRequestsOf(history: DailyFlow[]): FlowRequestOptions['meanRequestFen'] {
  const meanOf = (channel: (typeof RESERVE_CHANNELS)[number]) => {
    const totalFen = history.reduce((sum, day) => sum + day.totalsFen[channel], 0n);
    const count = history.reduce((sum, day) => sum + day.counts[channel], 0);
    return count > 0 && totalFen > 0n ? totalFen / BigInt(count) || 1n : 10_000n;
  };
  return { instant_redemption: meanOf('instant_redemption'), payment: meanOf('payment') };
}
