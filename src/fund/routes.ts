import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes, type ProblemDocs } from '../http/openapi.ts';
import { exactYuanText, instantText, yieldPer10kText, yuanText } from '../http/openapi/schemas.ts';
import { businessDate, dateRangeQuery, yieldPer10k } from '../http/validate.ts';
import { FUND_DAY_STATUSES } from './model.ts';
import { accrualStatus, fundDays, fundDayView, publishYield } from './service.ts';

const fundCode = z.string().meta({ description: 'A fund code, as GET /v1/funds lists them', examples: ['YEB001'] });
const publishBody = z.strictObject({ yieldPer10k });
const UNKNOWN_FUND: ProblemDocs = { unknown_fund: 'no fund has this code' };

/** The catalogue and the rest of the fund's routes are mounted apart, under one tag. */
const FUNDS_TAG = { name: 'Funds', description: 'The fund catalogue, each fund\'s published days (万份收益, 7-day yield) and, for ops, publishing them and following accrual.' };

const percentText = z
  .string()
  .regex(/^-?\d+\.\d{3}$/)
  .nullable()
  .describe('7-day annualised yield in percent, 3 decimals; null with fewer than 7 published days');

/** What fundDayView answers: one published day of the fund and, once accrued, its figures. */
export const fundDaySchema = z
  .object({
    fundCode: z.string(),
    date: businessDate,
    status: z.enum(FUND_DAY_STATUSES),
    yieldPer10k: yieldPer10kText,
    sevenDayYieldCompoundPercent: percentText,
    sevenDayYieldSimplePercent: percentText,
    publishedAt: instantText,
    accruedAt: instantText.nullable(),
    holders: z.number().int().nullable().describe('Accrued days only (null before)'),
    eligibleShares: yuanText.nullable(),
    incomeDistributed: yuanText.nullable(),
    residual: exactYuanText.nullable().describe('The exact sub-fen remainder booked to the residual account'),
  })
  .meta({ id: 'FundDay' });
const missingDay = z.object({ fundCode: z.string(), date: businessDate, status: z.literal('missing') }).describe('No 万份收益 published for the day');

const accrualSchema = z.object({
  fundCode: z.string(),
  lastAccruedDate: businessDate.nullable(),
  nextDate: businessDate.nullable().describe('The next day to accrue; null when nothing is published after the last accrued day'),
  nextStatus: z.enum([...FUND_DAY_STATUSES, 'missing']).nullable(),
  blocked: z.string().nullable().describe('Why accrual cannot go on, when a due day has no 万份收益'),
  residualAccount: exactYuanText,
});

/** The catalogue: public, and mounted before the app's /v1 middleware, as it needs nothing of it. */
export function fundCatalogueRoutes(ctx: AppContext): Router {
  const api = apiRoutes(FUNDS_TAG);
  api.get(
    '/v1/funds',
    {
      operationId: 'listFunds',
      summary: 'The fund catalogue',
      responses: { 200: { description: 'The funds a transfer-in may pick', body: z.object({ funds: z.array(z.object({ code: z.string(), name: z.string() })) }) } },
    },
    (_input, res) => {
      res.json({ funds: ctx.config.funds.map(({ code, name }) => ({ code, name })) });
    },
  );
  return api.router;
}

export function fundRoutes(ctx: AppContext): Router {
  const api = apiRoutes(FUNDS_TAG);
  api.get(
    '/v1/funds/:fundCode/days',
    {
      operationId: 'listFundDays',
      summary: 'The fund\'s days: 万份收益, 7-day yields and accrual figures',
      params: z.object({ fundCode }),
      query: dateRangeQuery,
      responses: {
        200: { description: 'Every day of the range, oldest first', body: z.object({ fundCode: z.string(), days: z.array(z.union([fundDaySchema, missingDay])) }) },
      },
      problems: [UNKNOWN_FUND, { invalid_request: 'from after to, or more than 366 days' }],
    },
    async ({ params, query }, res) => {
      res.json({ fundCode: params.fundCode, days: await fundDays(ctx, params.fundCode, query.from, query.to) });
    },
  );
  // Ops only (the app mounts /v1/ops behind the ops role).
  api.put(
    '/v1/ops/funds/:fundCode/yields/:date',
    {
      operationId: 'publishYield',
      summary: 'Publish, or correct until it is accrued, a day\'s 万份收益',
      params: z.object({ fundCode, date: businessDate }),
      body: publishBody,
      responses: { 200: { description: 'The day as published', body: fundDaySchema } },
      problems: [
        UNKNOWN_FUND,
        {
          yield_already_accrued: 'the day has been accrued: its 万份收益 can no longer change',
          yield_before_fund_start: 'the day is before the first day the fund accrued, and was never published',
          yield_date_in_future: 'the day has not begun',
        },
      ],
    },
    async ({ params, body }, res) => {
      const day = await publishYield(ctx, { ...params, yieldPer10k: body.yieldPer10k, publishedBy: principalOf(res).userId });
      res.json(fundDayView(day));
    },
  );
  api.get(
    '/v1/ops/funds/:fundCode/accrual',
    {
      operationId: 'getAccrualStatus',
      summary: 'Where the fund\'s accrual stands: last accrued day, next day, what blocks it',
      params: z.object({ fundCode }),
      responses: { 200: { description: 'The accrual status', body: accrualSchema } },
      problems: UNKNOWN_FUND,
    },
    async ({ params }, res) => {
      res.json(await accrualStatus(ctx, params.fundCode));
    },
  );
  return api.router;
}
