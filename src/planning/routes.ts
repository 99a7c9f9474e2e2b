import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { apiRoutes } from '../http/openapi.ts';
import { yuanText } from '../http/openapi/schemas.ts';
import { businessDate } from '../http/validate.ts';
import { FLOW_CHANNELS } from './flows.ts';
import { FORECAST_METHODS } from './forecast.ts';
import { reservePlan } from './plan.ts';
import { planView } from './view.ts';

/** Days a plan forecasts at most: its simulation replays them, and the alert looks a few trading days ahead. */
export const PLAN_DAYS_MAX = 92;

/** What `GET /v1/ops/reserve/plan` and `npm run ops -- reserve plan` read. */
export const planQuery = z.strictObject({
  days: z
    .string()
    .regex(/^[1-9]\d{0,2}$/, 'expected a whole number of days')
    .transform(Number)
    .refine((days) => days <= PLAN_DAYS_MAX, `expected at most ${PLAN_DAYS_MAX} days`)
    .default(14)
    .describe('Days forecast from today'),
  serviceLevel: z
    .string()
    .regex(/^\d{1,3}(\.\d{1,3})?$/, 'expected a percentage such as 99.9')
    .transform(Number)
    .refine((percent) => percent >= 50 && percent <= 100, 'expected a percentage from 50 to 100')
    .default(99.9)
    .describe('The share of instant requests (of those the holders\' daily cap lets through) the recommended reserve must serve, in percent'),
  scenario: z
    .string()
    .max(64)
    .default('forecast-upper')
    .describe('history | forecast-upper | run:<percent>%:<hours>h (e.g. run:5%:4h) | festival:<MM-dd>:x<multiplier> (e.g. festival:11-11:x2)'),
});

const band = z.object({ point: yuanText, lower: yuanText, upper: yuanText });
const tally = z.object({ count: z.number().int(), amount: yuanText });
const simulation = z.object({
  size: yuanText,
  from: z.string(),
  until: z.string(),
  requests: z.number().int(),
  served: tally,
  refused: tally.extend({ forReserve: tally, forCap: tally }),
  servedPercent: z.number(),
  reserveServedPercent: z.number().describe('Served of the requests the holders\' daily cap let through: what the reserve decides'),
  peakUtilisationPercent: z.number(),
  hoursToExhaustion: z.number().nullable().describe('From the start to the first request refused for want of reserve; null if none was'),
  averageUnused: yuanText,
  idleCost: yuanText.describe("What the unused reserve would have earned at the fund's yield over the period"),
  leasesOpened: z.number().int(),
  stoppedEarly: z.boolean(),
});
const perFlowChannel = <T extends z.ZodType>(schema: T) => z.object(Object.fromEntries(FLOW_CHANNELS.map((channel) => [channel, schema])) as Record<(typeof FLOW_CHANNELS)[number], T>);

export const planSchema = z
  .object({
    asOf: z.string(),
    reserve: z.object({ name: z.string(), size: yuanText, available: yuanText, outstanding: yuanText }),
    history: z.object({ fromDate: businessDate.nullable(), toDate: businessDate.nullable(), days: z.number().int() }),
    forecast: z.object({
      method: z.enum(FORECAST_METHODS),
      coveragePercent: z.number(),
      days: z.array(z.object({ date: businessDate, reserveOutflow: band.describe('Instant redemptions and payments together'), channels: perFlowChannel(band) })),
    }),
    backtest: z.object({
      from: businessDate.nullable(),
      to: businessDate.nullable(),
      origins: z.number().int(),
      horizonDays: z.number().int(),
      refitEveryDays: z.number().int(),
      nominalCoveragePercent: z.number(),
      channels: perFlowChannel(
        z.object({ days: z.number().int(), zeroDaysExcluded: z.number().int(), mapePercent: z.number().nullable(), naiveMapePercent: z.number().nullable(), coveragePercent: z.number().nullable() }),
      ),
    }),
    coverage: z
      .object({ tradingDays: z.number().int(), through: businessDate, need: yuanText, peakSettleDate: businessDate.nullable(), size: yuanText, covered: z.boolean() })
      .describe("Whether the reserve's size covers the most the forecast's upper band advances at once over the next trading days"),
    scenario: z.object({ name: z.string(), requests: z.number().int(), total: yuanText, notes: z.array(z.string()) }),
    current: simulation.describe("The scenario at the reserve's current size"),
    recommendation: z
      .object({
        size: yuanText,
        shards: z.number().int(),
        leaseMax: yuanText,
        serviceLevelPercent: z.number(),
        servedPercent: z.number(),
        smallerSize: yuanText.describe('10% smaller'),
        smallerServedPercent: z.number(),
        tight: z.boolean().describe('The smaller size misses the service level'),
        simulation,
        simulations: z.number().int(),
      })
      .nullable(),
    elapsedMs: z.number().int(),
  })
  .meta({ id: 'ReservePlan' });

/** Ops only (the app mounts /v1/ops behind the ops role). */
export function planningRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Reserve', description: 'The liquidity reserve that advances instant redemptions and payments until their settle date (ops).' });
  api.get(
    '/v1/ops/reserve/plan',
    {
      operationId: 'planReserve',
      summary: 'Forecast the reserve\'s outflows, replay a scenario through the reserve, and recommend its size (docs/reserve-planning.md)',
      query: planQuery,
      responses: { 200: { description: 'The plan', body: planSchema } },
      problems: { invalid_scenario: 'a scenario the planner does not know', scenario_day_missing: 'a festival the flow history has no day of', plans_busy: 'plans already running or waiting on this server' },
    },
    async ({ query }, res) => {
      res.json(planView(await reservePlan(ctx, { days: query.days, serviceLevelPercent: query.serviceLevel, scenario: query.scenario })));
    },
  );
  return api.router;
}
