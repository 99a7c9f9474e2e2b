import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes, type ProblemDocs } from '../http/openapi.ts';
import { exactYuanText, instantText, yieldPer10kText, yuanText } from '../http/openapi/schemas.ts';
import { formatYieldPer10k } from '../money/yield.ts';
import { businessDate, dateRangeQuery, yieldPer10k } from '../http/validate.ts';
import { apiActor, audited } from '../audit/service.ts';
import { CSV_HEADER, IMPORT_LINES_MAX, IMPORT_ROWS_MAX, importYields } from './import.ts';
import { FUND_DAY_STATUSES } from './model.ts';
import { accrualStatus, confirmYield, fundDays, fundDayView, pendingYields, publishDay, setFundStart } from './service.ts';

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
const pendingDay = z
  .object({ fundCode: z.string(), date: businessDate, status: z.literal('pending') })
  .describe('A 万份收益 outside the plausibility band waits for a second ops user: not shown, and it counts nowhere until confirmed');
const publishedDay = fundDaySchema.extend({
  change: z.enum(['new', 'correction', 'unchanged']).describe('What the request did to the day'),
});
const fundStart = z.object({ fundCode: z.string(), startDate: businessDate }).meta({ id: 'FundStart' });
const importRequest = z.strictObject({
  lines: z
    .array(z.string().max(200))
    .min(1)
    .max(IMPORT_LINES_MAX)
    .describe(
      `The CSV file's lines (JSON strings carry no line breaks): a header \`${CSV_HEADER}\`, then one day a line, e.g. \`2024-06-03,0.4123\`; at most ${IMPORT_ROWS_MAX} rows. Errors name the line, the header being line 1. From a file: \`jq -R -s '{lines: split("\\n")}' history.csv\``,
    ),
  dryRun: z.boolean().default(false).describe('Answer what each row would do, and write nothing'),
});
const importAnswer = z
  .object({
    fundCode: z.string(),
    dryRun: z.boolean(),
    startDate: businessDate.nullable().describe("The fund's start day: rows before it are reference"),
    counts: z.object({
      rows: z.number().int(),
      new: z.number().int(),
      correction: z.number().int(),
      unchanged: z.number().int(),
      refused: z.number().int(),
      conflict: z.number().int().describe('Changed by someone else between the check and the write: left as they wrote it'),
      pending: z.number().int().describe('New or corrected rows outside the plausibility band: they wait for a second ops user'),
      reference: z.number().int(),
    }),
    rows: z.array(
      z.object({
        line: z.number().int(),
        date: businessDate,
        yieldPer10k: yieldPer10kText,
        change: z.enum(['new', 'correction', 'unchanged', 'refused', 'conflict']),
        status: z.enum([...FUND_DAY_STATUSES, 'missing']).describe('The status the day takes (refused: the one it has)'),
        reason: z.object({ code: z.string(), detail: z.string() }).nullable().describe('Why a row is refused'),
      }),
    ),
  })
  .meta({ id: 'YieldImport' });
const pendingList = z.object({
  fundCode: z.string(),
  band: z.object({ min: yieldPer10kText, max: yieldPer10kText }).nullable(),
  days: z.array(z.object({ date: businessDate, yieldPer10k: yieldPer10kText, publishedBy: z.string().describe('The publisher\'s user id'), publishedAt: instantText })),
});
const PUBLISH_PROBLEMS: ProblemDocs = {
  yield_already_accrued: 'the day is being accrued or has been: its 万份收益 can no longer change',
  yield_before_fund_start: 'the fund has no start day set and the day is before its first accrued day',
  yield_date_in_future: 'the day has not begun',
};

const accrualSchema = z.object({
  fundCode: z.string(),
  lastAccruedDate: businessDate.nullable(),
  nextDate: businessDate.nullable().describe('The next day to accrue; null when nothing is published after the last accrued day'),
  nextStatus: z.enum([...FUND_DAY_STATUSES, 'missing']).nullable(),
  blocked: z.string().nullable().describe('Why accrual cannot go on: a due day has no 万份收益, or its 万份收益 waits for a second ops user'),
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
        200: {
          description: 'Every day of the range, oldest first; days before the fund\'s start day are `reference`',
          body: z.object({ fundCode: z.string(), days: z.array(z.union([fundDaySchema, missingDay, pendingDay])) }),
        },
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
      description:
        'A value outside the fund\'s plausibility band (funds[].yieldPer10kBand) is stored `pending`: it is not accrued and not in the 7-day yield until a second ops user confirms it. A day before the fund\'s start day is stored as `reference`.',
      params: z.object({ fundCode, date: businessDate }),
      body: publishBody,
      responses: { 200: { description: 'The day as published', body: publishedDay } },
      problems: [UNKNOWN_FUND, PUBLISH_PROBLEMS],
    },
    async ({ params, body }, res) => {
      const actor = await apiActor(principalOf(res).userId);
      const request = { yieldPer10k: formatYieldPer10k(body.yieldPer10k) };
      const { day, change } = await audited(
        ctx,
        { actor, action: 'yield.publish', target: `${params.fundCode} ${params.date}`, request },
        () => publishDay(ctx, { ...params, yieldPer10k: body.yieldPer10k, publishedBy: actor.id }),
        (published) => ({ result: { change: published.change, status: published.day.status } }),
      );
      res.json({ ...fundDayView(day), change });
    },
  );
  api.post(
    '/v1/ops/funds/:fundCode/yields/import',
    {
      operationId: 'importYields',
      summary: 'Publish many days\' 万份收益 from a CSV file, or see what it would do (dryRun)',
      description: `Every row is checked before anything is written: a malformed line is a 400 naming it, a refused row (a day accrued or not begun) refuses the whole file with a 409 naming its line; nothing is written either way. Rows before the fund's start day are stored as reference, rows outside the plausibility band as pending. At most ${IMPORT_ROWS_MAX} rows.`,
      params: z.object({ fundCode }),
      body: importRequest,
      responses: { 200: { description: 'What each row did (or, in a dry run, would do)', body: importAnswer } },
      problems: [
        UNKNOWN_FUND,
        {
          invalid_csv: 'a line that is not a day and a 万份收益, a bad header, a date twice, no rows or too many; names the line',
          yield_import_refused: 'a row cannot be published (accrued, not begun, before the first accrued day of a fund with no start day); names the line',
        },
      ],
    },
    async ({ params, body }, res) => {
      const actor = await apiActor(principalOf(res).userId);
      const run = () => importYields(ctx, { fundCode: params.fundCode, lines: body.lines, dryRun: body.dryRun, publishedBy: actor.id });
      // A dry run writes nothing: not an action to audit.
      if (body.dryRun) return void res.json(await run());
      const request = { lines: body.lines.length };
      res.json(await audited(ctx, { actor, action: 'yield.import', target: params.fundCode, request }, run, (imported) => ({ result: imported.counts })));
    },
  );
  api.get(
    '/v1/ops/funds/:fundCode/yields/pending',
    {
      operationId: 'listPendingYields',
      summary: 'The days whose 万份收益 waits for a second ops user',
      params: z.object({ fundCode }),
      responses: { 200: { description: 'The pending days, oldest first, and the fund\'s band', body: pendingList } },
      problems: UNKNOWN_FUND,
    },
    async ({ params }, res) => {
      res.json(await pendingYields(ctx, params.fundCode));
    },
  );
  api.post(
    '/v1/ops/funds/:fundCode/yields/:date/confirm',
    {
      operationId: 'confirmYield',
      summary: 'Confirm a pending 万份收益, as an ops user other than its publisher',
      description: 'The body carries the value being confirmed: if the day has changed since it was read, nothing is confirmed (409 yield_changed).',
      params: z.object({ fundCode, date: businessDate }),
      body: publishBody,
      responses: { 200: { description: 'The day, now published (or reference, before the start day)', body: fundDaySchema } },
      problems: [
        UNKNOWN_FUND,
        {
          yield_not_pending: 'the day waits for no confirmation (never published, already confirmed, or inside the band)',
          yield_changed: 'the value waiting is not the one in the body: it changed since it was read',
          yield_confirmation_own: 'the caller published the value: a second ops user must confirm it',
        },
      ],
    },
    async ({ params, body }, res) => {
      const actor = await apiActor(principalOf(res).userId);
      const request = { yieldPer10k: formatYieldPer10k(body.yieldPer10k) };
      const day = await audited(ctx, { actor, action: 'yield.confirm', target: `${params.fundCode} ${params.date}`, request }, () =>
        confirmYield(ctx, { ...params, yieldPer10k: body.yieldPer10k, confirmedBy: actor.id }),
      );
      res.json(fundDayView(day));
    },
  );
  api.put(
    '/v1/ops/funds/:fundCode/start',
    {
      operationId: 'setFundStart',
      summary: 'Set the fund\'s start day, or put it right, until the accrual opens its first day',
      description: 'Accrual begins on the start day; days before it are reference (shown, in the 7-day yield, never accrued, never blocking). Without one, the config\'s funds[].startDate, else the first published day, is the start.',
      params: z.object({ fundCode }),
      body: z.strictObject({ startDate: businessDate }),
      responses: { 200: { description: 'The start day', body: fundStart } },
      problems: [
        UNKNOWN_FUND,
        { fund_start_fixed: 'the accrual has opened a day of the fund: its start is fixed' },
      ],
    },
    async ({ params, body }, res) => {
      const actor = await apiActor(principalOf(res).userId);
      res.json(await audited(ctx, { actor, action: 'fund.start', target: params.fundCode, request: body }, () => setFundStart(ctx, params.fundCode, body.startDate)));
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
