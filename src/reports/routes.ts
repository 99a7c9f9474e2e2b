import type { Response, Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes, type ProblemDocs } from '../http/openapi.ts';
import { exactYuanText, instantText, yieldPer10kText, yuanText } from '../http/openapi/schemas.ts';
import { businessDate } from '../http/validate.ts';
import { OPERATION_STATUSES, OPERATION_TYPES } from '../operations/model.ts';
import { reserveReportSchema } from '../reserve/routes.ts';
import { csvText, type CsvTable } from './csv.ts';
import { fundDailyCsv, fundDailyReport } from './fundDaily.ts';
import { REPORT_DAYS_MAX, reportRange } from './range.ts';
import { reserveDailyCsv, reserveDailyReport } from './reserveDaily.ts';
import { holderStatement, statementCsv } from './statement.ts';

const reportQuery = z.strictObject({
  from: businessDate.optional().describe('The first day, included; with to, or neither (the 30 days through today)'),
  to: businessDate.optional().describe('The last day, included: today at the latest'),
  format: z.enum(['json', 'csv']).optional().describe('csv: the same figures as text/csv, one row per item (also by Accept: text/csv)'),
  bom: z
    .enum(['true', 'false'])
    .optional()
    .describe('true: the CSV starts with a UTF-8 byte order mark, so Excel (on Chinese Windows too) reads its Chinese text as UTF-8; default false. No effect on JSON'),
});
const RANGE_PROBLEMS: ProblemDocs = { invalid_request: `from without to (or the reverse), from after to, more than ${REPORT_DAYS_MAX} days, to after today` };
const CSV = 'With ?format=csv or Accept: text/csv: text/csv; charset=utf-8, RFC 4180, a header row, and Content-Disposition: attachment with a file name.';

const percent2Text = z.string().regex(/^\d+\.\d{2}$/).describe('In percent, truncated to 2 decimals');
const percent3Text = z.string().regex(/^-?\d+\.\d{3}$/).nullable().describe('7-day annualised yield in percent, 3 decimals; null with fewer than 7 published days');
const count = z.number().int().min(0);

const fundDailyDay = z.strictObject({
  date: businessDate,
  yieldPer10k: yieldPer10kText.nullable().describe('null: not published'),
  sevenDayYieldCompoundPercent: percent3Text,
  sevenDayYieldSimplePercent: percent3Text,
  aum: yuanText.nullable().describe('Shares held at the end of the day (eligible shares) plus the income credited for it; null until accrued'),
  holders: count.nullable().describe('Holders the accrual booked that day; null until accrued'),
  subscriptions: yuanText.describe('Transfers-in with this trade date, accepted (awaiting confirmation or confirmed)'),
  redemptions: yuanText.describe('Normal and instant redemptions and payments with this trade date, accepted'),
  incomeDistributed: yuanText.nullable(),
  residual: exactYuanText.nullable().describe('The exact sub-fen remainder booked to the residual account'),
  accrualStatus: z.enum(['missing', 'published', 'accruing', 'accrued']),
  eligibleShares: yuanText.nullable(),
  subscriptionCount: count,
  redemptionCount: count,
  normalRedemptions: yuanText,
  instantRedemptions: yuanText,
  payments: yuanText,
  netFlow: yuanText.describe('subscriptions − redemptions'),
});

const reserveDailyDay = z.strictObject({
  date: businessDate,
  size: yuanText.describe('At the end of the day (today: now)'),
  available: yuanText,
  outstanding: yuanText.describe('Advances not yet repaid'),
  utilisationPercent: percent2Text.describe('outstanding / size, truncated to 2 decimals'),
  advanced: yuanText.describe('Advanced during the day (instant redemptions and payments)'),
  repaid: yuanText.describe('Repaid during the day, at settlement'),
  adjusted: yuanText.describe("Ops' net change of the size during the day"),
  peakOutstanding: yuanText.describe('The most outstanding at any instant of the day'),
  peakUtilisationPercent: percent2Text.describe('The highest outstanding / size at any instant of the day'),
  lowWater: z.boolean().describe('available below reserve.lowWaterPercent of the size, or nothing available, at the end of the day'),
  final: z.boolean().describe('false for today: the figures are those of now'),
});

const balances = z.strictObject({
  asOf: instantText.describe('The instant of the balances: the start of from; the end of to, or now'),
  wallet: yuanText,
  shares: yuanText.describe('Fund shares, with the income credited through the day before (opening) or the last day (closing)'),
  owed: yuanText.describe('A negative day\'s loss the shares no longer covered, paid by the next shares in'),
  subscribing: yuanText,
  redeeming: yuanText,
  total: yuanText,
  cumulativeIncome: yuanText,
});
const statementOperation = z.strictObject({
  id: z.string(),
  date: businessDate.describe('The day of the request'),
  type: z.enum(OPERATION_TYPES),
  status: z.enum(OPERATION_STATUSES),
  amount: yuanText,
  tradeDate: businessDate.nullable(),
  createdAt: instantText,
  fundCode: z.string().nullable(),
  channel: z.enum(['wallet', 'bank_card']).nullable(),
  dueDate: businessDate.nullable().describe("A transfer-in's confirm date, a redemption's settle date"),
  failureCode: z.string().nullable(),
  walletChange: yuanText.describe('What the operation moved within the period'),
  sharesChange: yuanText,
  subscribingChange: yuanText,
  redeemingChange: yuanText,
  totalChange: yuanText,
});
/** What each report answers as JSON (exported for the tests that hold answers to them). */
export const fundDailySchema = z.strictObject({ fundCode: z.string(), from: businessDate, to: businessDate, days: z.array(fundDailyDay) });
export const reserveDailySchema = z.strictObject({ reserveName: z.string(), from: businessDate, to: businessDate, current: reserveReportSchema, days: z.array(reserveDailyDay) });
export const statementSchema = z.strictObject({
  userId: z.string(),
  from: businessDate,
  to: businessDate,
  opening: balances,
  closing: balances,
  operations: z.array(statementOperation).describe('Requested in the period, or moving money in it; oldest first'),
  income: z.array(z.strictObject({ date: businessDate, income: yuanText, cumulativeIncome: yuanText, eligibleShares: yuanText, fundCode: z.string() })),
  totals: z.strictObject({
    income: yuanText,
    in: yuanText.describe('Money that came in from outside (cards), net per operation'),
    out: yuanText.describe('Money that left (to cards, to merchants), net per operation'),
  }),
});

/** The fund and reserve reports (ops only: the app mounts /v1/ops behind the role) and a holder's own statement. */
export function reportRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Reports', description: 'Day-by-day reports for ops (the fund, the liquidity reserve) and the holder\'s statement, as JSON or CSV.' });
  api.get(
    '/v1/ops/reports/funds/:fundCode/daily',
    {
      operationId: 'getFundDailyReport',
      summary: `The fund day by day (at most ${REPORT_DAYS_MAX} days): 万份收益, 7-day yields, AUM, holders, flows by trade date, income, residual`,
      description: CSV,
      params: z.object({ fundCode: z.string().meta({ description: 'A fund code, as GET /v1/funds lists them', examples: ['YEB001'] }) }),
      query: reportQuery,
      responses: {
        200: { description: 'One entry per calendar day, oldest first', body: fundDailySchema, alsoAs: ['text/csv'] },
      },
      problems: [RANGE_PROBLEMS, { not_found: 'no such fund' }],
    },
    async ({ params, query }, res) => {
      const report = await fundDailyReport(ctx, params.fundCode, reportRange(ctx, query.from, query.to));
      sendReport(res, query, report, fundDailyCsv);
    },
  );
  api.get(
    '/v1/ops/reports/reserve/daily',
    {
      operationId: 'getReserveDailyReport',
      summary: `The liquidity reserve at the end of each day (at most ${REPORT_DAYS_MAX} days), derived from the journal, and as it stands now`,
      description: `${CSV} The CSV has the days only.`,
      query: reportQuery,
      responses: {
        200: {
          description: 'current: the live report; days: one entry per calendar day, oldest first',
          body: reserveDailySchema,
          alsoAs: ['text/csv'],
        },
      },
      problems: RANGE_PROBLEMS,
    },
    async ({ query }, res) => {
      sendReport(res, query, await reserveDailyReport(ctx, reportRange(ctx, query.from, query.to)), reserveDailyCsv);
    },
  );
  api.get(
    '/v1/me/statement',
    {
      operationId: 'getMyStatement',
      summary: `My statement for a period (at most ${REPORT_DAYS_MAX} days): opening and closing balances, operations, daily income, totals`,
      description: `${CSV} The CSV is one table: the opening balances, each operation's movements, each day's income, the totals, the closing balances.`,
      query: reportQuery,
      responses: { 200: { description: 'The statement', body: statementSchema, alsoAs: ['text/csv'] } },
      problems: RANGE_PROBLEMS,
    },
    async ({ query }, res) => {
      sendReport(res, query, await holderStatement(ctx, principalOf(res).userId, reportRange(ctx, query.from, query.to)), statementCsv);
    },
  );
  return api.router;
}

/**
 * JSON, or CSV when asked by ?format=csv or by an Accept header that prefers text/csv; ?format
 * wins. The CSV's amounts stay plain yuan ("1234.56"), numbers a spreadsheet sums: grouping
 * them or writing 万 would turn them into text.
 */
function sendReport<R>(res: Response, query: z.output<typeof reportQuery>, report: R, csvOf: (report: R) => CsvTable): void {
  res.vary('Accept');
  if ((query.format ?? (res.req.accepts(['application/json', 'text/csv']) === 'text/csv' ? 'csv' : 'json')) === 'json') {
    res.json(report);
    return;
  }
  const table = csvOf(report);
  // Quoted as the contract shows it; CsvTable file names need no escaping.
  res.set('Content-Disposition', `attachment; filename="${table.filename}"`).type('text/csv; charset=utf-8').send(csvText(table, { bom: query.bom === 'true' }));
}
