/**
 * The reserve plan as the API and the CLI answer it: money as yuan text, shares in percent.
 */
import { formatYuan, type Fen } from '../money/fen.ts';
import type { ChannelForecast } from './forecast.ts';
import { RESERVE_CHANNELS, perChannel } from './flows.ts';
import type { ReservePlan } from './compute.ts';
import type { SimulationResult, Tally } from './simulate.ts';

const band = (forecast: ChannelForecast) => ({ point: formatYuan(forecast.pointFen), lower: formatYuan(forecast.lowerFen), upper: formatYuan(forecast.upperFen) });
const tally = (counted: Tally) => ({ count: counted.count, amount: formatYuan(counted.amountFen) });
/** A statistic to two decimals: more is noise to whoever reads it. */
const hundredths = (percent: number | null) => (percent === null ? null : Math.round(percent * 100) / 100);
const sum = (values: Fen[]) => values.reduce((total, value) => total + value, 0n);

export function planView(plan: ReservePlan) {
  const { recommendation } = plan;
  return {
    asOf: plan.asOf.toISOString(),
    reserve: { name: plan.reserve.name, size: formatYuan(plan.reserve.sizeFen), available: formatYuan(plan.reserve.availableFen), outstanding: formatYuan(plan.reserve.outstandingFen) },
    history: plan.history,
    forecast: {
      method: plan.forecast.method,
      coveragePercent: plan.forecast.coveragePercent,
      days: plan.forecast.days.map((day) => ({
        date: day.date,
        // What the reserve advances that day: instant redemptions and payments together.
        reserveOutflow: {
          point: formatYuan(sum(RESERVE_CHANNELS.map((channel) => day.channels[channel].pointFen))),
          lower: formatYuan(sum(RESERVE_CHANNELS.map((channel) => day.channels[channel].lowerFen))),
          upper: formatYuan(sum(RESERVE_CHANNELS.map((channel) => day.channels[channel].upperFen))),
        },
        channels: perChannel((channel) => band(day.channels[channel])),
      })),
    },
    backtest: {
      ...plan.backtest,
      channels: perChannel((channel) => {
        const figures = plan.backtest.channels[channel];
        return { ...figures, mapePercent: hundredths(figures.mapePercent), naiveMapePercent: hundredths(figures.naiveMapePercent), coveragePercent: hundredths(figures.coveragePercent) };
      }),
    },
    coverage: {
      tradingDays: plan.coverage.tradingDays,
      through: plan.coverage.throughDate,
      need: formatYuan(plan.coverage.needFen),
      peakSettleDate: plan.coverage.peakSettleDate,
      size: formatYuan(plan.coverage.sizeFen),
      covered: plan.coverage.covered,
    },
    scenario: { name: plan.scenario.name, requests: plan.scenario.requests, total: formatYuan(plan.scenario.totalFen), notes: plan.scenario.notes },
    current: simulationView(plan.current),
    recommendation: recommendation && {
      size: formatYuan(recommendation.sizeFen),
      shards: recommendation.shards,
      leaseMax: formatYuan(recommendation.leaseMaxFen),
      serviceLevelPercent: recommendation.serviceLevelPercent,
      servedPercent: recommendation.servedPercent,
      smallerSize: formatYuan(recommendation.smallerSizeFen),
      smallerServedPercent: recommendation.smallerServedPercent,
      tight: recommendation.tight,
      simulation: simulationView(recommendation.result),
      simulations: recommendation.simulations,
    },
    elapsedMs: plan.elapsedMs,
  };
}

export type PlanView = ReturnType<typeof planView>;

export function simulationView(result: SimulationResult) {
  return {
    size: formatYuan(result.sizeFen),
    from: new Date(result.fromMs).toISOString(),
    until: new Date(result.untilMs).toISOString(),
    requests: result.requests,
    served: tally(result.served),
    refused: { ...tally(result.refused), forReserve: tally(result.refused.forReserve), forCap: tally(result.refused.forCap) },
    servedPercent: result.servedPercent,
    reserveServedPercent: result.reserveServedPercent,
    peakUtilisationPercent: result.peakUtilisationPercent,
    hoursToExhaustion: result.hoursToExhaustion,
    averageUnused: formatYuan(result.averageUnusedFen),
    idleCost: formatYuan(result.idleCostFen),
    leasesOpened: result.leasesOpened,
    stoppedEarly: result.stoppedEarly,
  };
}
