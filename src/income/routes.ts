import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes } from '../http/openapi.ts';
import { exactYuanText, yieldPer10kText, yuanText } from '../http/openapi/schemas.ts';
import { businessDate } from '../http/validate.ts';
import { askedOrRecentDays } from '../fund/service.ts';
import { explainIncome, incomeHistory } from './explain.ts';

export const incomeDay = z.object({
  date: businessDate,
  fundCode: z.string(),
  eligibleShares: yuanText,
  income: yuanText,
  cumulativeIncome: yuanText,
});

/** Without a range, the holder's last 30 days through today, as the reports default. */
const INCOME_DEFAULT_DAYS = 30;
const incomeRangeQuery = z.strictObject({
  from: businessDate.optional().describe(`The first day, included; with to, or neither (the ${INCOME_DEFAULT_DAYS} days through today)`),
  to: businessDate.optional().describe('The last day, included'),
});

const REASON_CODES = 'shares_confirmed, redeemed, no_eligible_shares, zero_yield, negative_yield, below_minimum, truncated, not_yet_confirmed, not_published, not_accrued, before_fund_start';
const explanation = z.object({
  date: businessDate,
  fundCode: z.string().nullable(),
  status: z.enum(['accrued', 'not_published', 'not_accrued', 'before_fund_start', 'no_holding']),
  yieldPer10k: yieldPer10kText.optional().describe('Once published'),
  eligibleShares: yuanText.optional().describe('accrued only: the shares that earned that day'),
  exactIncome: exactYuanText.optional().describe('accrued only: eligible shares × 万份收益 / 10,000, exact'),
  income: yuanText.optional().describe('accrued only: what was credited, truncated toward zero to the fen'),
  cumulativeIncome: yuanText.nullable().optional(),
  reasons: z.array(z.object({ code: z.string().describe(`One of ${REASON_CODES}`), detail: z.string() })),
});

export function incomeRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Income', description: 'The holder\'s daily income, and how one day\'s was worked out.' });
  api.get(
    '/v1/me/income',
    {
      operationId: 'listMyIncome',
      summary: 'My income day by day (at most 31 days), newest first',
      query: incomeRangeQuery,
      responses: {
        200: { description: 'The days with income records; days without one are left out', body: z.object({ from: businessDate, to: businessDate, days: z.array(incomeDay) }) },
      },
      problems: { invalid_request: 'from without to (or the reverse), from after to, or more than 31 days' },
    },
    async ({ query }, res) => {
      const { from, to } = askedOrRecentDays(ctx, query.from, query.to, INCOME_DEFAULT_DAYS);
      res.json({ from, to, days: await incomeHistory(ctx, principalOf(res).userId, from, to) });
    },
  );
  api.get(
    '/v1/me/income/:date',
    {
      operationId: 'explainMyIncome',
      summary: 'Why I was credited what I was on a day',
      params: z.object({ date: businessDate }),
      responses: { 200: { description: 'The explanation, with each rule that shaped the amount', body: explanation } },
    },
    async ({ params }, res) => {
      res.json(await explainIncome(ctx, principalOf(res).userId, params.date));
    },
  );
  return api.router;
}
