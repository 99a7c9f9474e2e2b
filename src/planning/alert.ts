/**
 * `reserve.forecast_uncovered` and `reserve.forecast_covered`: the reserve's size against the
 * most the forecast's upper band advances at once over the next trading days (config
 * planning.alertTradingDays; src/planning/plan.ts, coverageOf). Looked at by the
 * watch-reserve-forecast job (config planning.checkEvery); a crossing moves the alert's state
 * and files its event in one compare-and-set (src/alertStates), and is logged. The metric
 * moneyfund_reserve_forecast_uncovered reads the stored state.
 */
import { alertStatus, observeAlert } from '../alertStates/service.ts';
import type { AppContext } from '../context.ts';
import { log } from '../log.ts';
import { formatYuan } from '../money/fen.ts';
import type { ForecastCoverage } from './compute.ts';
import { forecastCoverage } from './plan.ts';

export const forecastAlertKey = (reserveName: string) => `reserve:${reserveName}:forecast`;

export async function watchReserveForecast(ctx: AppContext): Promise<ForecastCoverage> {
  const { name } = ctx.config.reserve;
  const coverage = await forecastCoverage(ctx);
  const reserve = {
    name,
    size: formatYuan(coverage.sizeFen),
    need: formatYuan(coverage.needFen),
    peakSettleDate: coverage.peakSettleDate,
    tradingDays: coverage.tradingDays,
    through: coverage.throughDate,
    covered: coverage.covered,
  };
  if (!coverage.covered) log.warn({ reserve }, "liquidity reserve below the forecast's upper band for the next trading days");
  await observeAlert(forecastAlertKey(name), !coverage.covered, { firing: 'reserve.forecast_uncovered', recovered: 'reserve.forecast_covered' }, ctx.clock.now(), { reserve });
  return coverage;
}

/** 1 while the alert fires, 0 when it does not, null before its first look. */
export async function forecastAlertFiring(ctx: AppContext): Promise<number | null> {
  const status = await alertStatus(forecastAlertKey(ctx.config.reserve.name));
  return status === null ? null : status === 'firing' ? 1 : 0;
}
