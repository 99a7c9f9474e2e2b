/**
 * The reserve plan (docs/reserve-planning.md): what the database knows (the flow
 * history, the reserve, the funds) read here, the arithmetic done in a worker thread
 * (src/planning/compute.ts, src/planning/worker.ts).
 */
import type { AppContext } from '../context.ts';
import { addCalendarDays } from '../calendar/businessDate.ts';
import { fundBookOf, findFundDay } from '../fund/service.ts';
import { formatYieldPer10k } from '../money/yield.ts';
import { reserveBalances } from '../reserve/service.ts';
import { forecastWithCoverage, type ForecastCoverage, type FundFigures, type PlanInputs, type PlanProgress, type PlanRequest, type ReservePlan } from './compute.ts';
import type { DailyFlow } from './flows.ts';
import { flowHistory } from './history.ts';
import { parseScenario } from './scenarios.ts';
import { computeInWorker } from './worker.ts';

export async function reservePlan(ctx: AppContext, request: PlanRequest, onProgress?: PlanProgress): Promise<ReservePlan> {
  parseScenario(request.scenario); // a scenario it does not know is refused before anything is read
  const inputs = await planInputs(ctx, request);
  return computeInWorker(inputs, ctx.calendar.options, onProgress);
}

async function planInputs(ctx: AppContext, request: PlanRequest): Promise<PlanInputs> {
  const now = ctx.clock.now();
  const today = ctx.calendar.businessDateOf(now);
  const [history, balances, fund] = await Promise.all([historyUpTo(ctx, today), reserveBalances(ctx), fundFigures(ctx)]);
  const { planning, reserve, limits, jobs, zone } = ctx.config;
  return {
    request,
    config: { planning, reserve, limits, jobs, zone },
    today,
    nowMs: now.getTime(),
    history,
    reserve: { name: reserve.name, sizeFen: balances.sizeFen, availableFen: balances.availableFen, outstandingFen: balances.outstandingFen },
    fund,
  };
}

/** The planning.historyDays before today. */
function historyUpTo(ctx: AppContext, today: string): Promise<DailyFlow[]> {
  return flowHistory(ctx, { fromDate: addCalendarDays(today, -ctx.config.planning.historyDays), toDate: addCalendarDays(today, -1) });
}

/**
 * Whether the reserve covers the forecast's upper band over the next trading days (the alert's
 * look, once an hour): a forecast without the search, done in the calling thread.
 */
export async function forecastCoverage(ctx: AppContext): Promise<ForecastCoverage> {
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  const [history, { sizeFen }] = await Promise.all([historyUpTo(ctx, today), reserveBalances(ctx)]);
  return forecastWithCoverage(ctx.config, ctx.calendar, today, history, 0, sizeFen).coverage;
}

/** Across the funds: the shares and holders of each one's last accrued day; the yield of the largest (what idle reserve forgoes). */
async function fundFigures(ctx: AppContext): Promise<FundFigures> {
  let aumFen = 0n;
  let holders = 0;
  let largest = { sharesFen: -1n, yieldPer10k: 0n };
  for (const { code } of ctx.config.funds) {
    const { lastAccruedDate } = await fundBookOf(ctx, code);
    if (!lastAccruedDate) continue;
    const day = await findFundDay(code, lastAccruedDate);
    const sharesFen = BigInt(day.eligibleSharesFen ?? '0');
    aumFen += sharesFen;
    holders += day.holders ?? 0;
    if (sharesFen > largest.sharesFen) largest = { sharesFen, yieldPer10k: day.yieldPer10k };
  }
  return { aumFen, yieldPer10kShares: formatYieldPer10k(largest.yieldPer10k), holders };
}
