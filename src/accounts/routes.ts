import type { Router } from 'express';
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes } from '../http/openapi.ts';
import { yuanText } from '../http/openapi/schemas.ts';
import { badRequest, notFound } from '../errors.ts';
import { businessDate } from '../http/validate.ts';
import { operationAnswer, operationSchema } from '../operations/routes.ts';
import { OPERATION_STATUSES, OPERATION_TYPES } from '../operations/model.ts';
import { findOwnOperation, listOperations, operationView, type HistoryFilter } from '../operations/service.ts';
import { accountView } from '../income/position.ts';

const PAGE_SIZE_MAX = 100;
const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(PAGE_SIZE_MAX).default(20).describe('Operations per page'),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page, asked with the same filters'),
});
const historyQuery = pageQuery.extend({
  type: z.enum(OPERATION_TYPES).optional().describe('Only operations of this type'),
  status: z.enum(OPERATION_STATUSES).optional().describe('Only operations in this status'),
  from: businessDate.optional().describe('Only operations created on this day (Beijing time) or later'),
  to: businessDate.optional().describe('Only operations created on this day (Beijing time) or earlier'),
});

/** The history's filters as instants: a business date runs from 00:00 to 24:00 Beijing time. */
function historyFilter(ctx: AppContext, query: z.infer<typeof historyQuery>): HistoryFilter {
  const { type, status, from, to } = query;
  if (from && to && from > to) throw badRequest('from must not be after to', {}, { key: 'invalid_request_from_after_to' });
  const startOf = (date: string) => DateTime.fromISO(date, { zone: ctx.config.zone }).toJSDate();
  return {
    type,
    status,
    createdFrom: from ? startOf(from) : undefined,
    createdBefore: to ? startOf(ctx.calendar.addCalendarDays(to, 1)) : undefined,
  };
}

/** What accountView answers: the holder's whole position. */
export const accountSchema = z
  .object({
    userId: z.string(),
    fund: z.object({ code: z.string(), name: z.string() }).nullable().describe('The fund the first transfer-in picked'),
    wallet: yuanText,
    shares: yuanText.describe('Confirmed shares, income accrued so far included (1 share = 1 yuan)'),
    owed: yuanText.describe(
      'A negative day\'s loss the shares no longer covered (they were redeemed after midnight, before the day was accrued): paid by the next shares in',
    ),
    subscribing: yuanText.describe('Transfers-in waiting for their confirm date'),
    redeeming: yuanText.describe('Redemptions waiting for their settle date'),
    total: yuanText,
    income: z.object({
      yesterday: yuanText,
      cumulative: yuanText,
      lastAccruedDate: businessDate.nullable(),
    }),
    autoSweep: z.object({ enabled: z.boolean(), keep: yuanText, onArrival: z.boolean() }),
    pendingSubscriptions: z.array(operationSchema),
    pendingRedemptions: z.array(operationSchema),
  })
  .meta({ id: 'Account' });

export function accountRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Accounts', description: 'The holder\'s account (wallet, fund shares, amounts in flight, income) and history of operations.' });
  api.get(
    '/v1/me/account',
    {
      operationId: 'getMyAccount',
      summary: 'My wallet, shares, amounts in flight and income',
      responses: { 200: { description: 'The account', body: accountSchema } },
    },
    async (_input, res) => {
      res.json(await accountView(ctx, principalOf(res).userId));
    },
  );
  // Another holder's account answers 404, not 403: its existence is not disclosed.
  api.get(
    '/v1/accounts/:userId',
    {
      operationId: 'getAccount',
      summary: 'An account by user id: your own, or anyone\'s with the ops role',
      params: z.object({ userId: z.string() }),
      responses: { 200: { description: 'The account', body: accountSchema } },
      problems: { not_found: 'no such account, or another holder\'s' },
    },
    async ({ params }, res) => {
      const principal = principalOf(res);
      if (params.userId !== principal.userId && !principal.roles.includes('ops')) throw notFound('Account', { key: 'not_found_account' });
      res.json(await accountView(ctx, params.userId));
    },
  );
  api.get(
    '/v1/me/operations',
    {
      operationId: 'listMyOperations',
      summary: 'My operation history, newest first, optionally by type, status and the days it was created',
      query: historyQuery,
      responses: {
        200: {
          description: 'A page of operations; nextCursor is null on the last page',
          body: z.object({ items: z.array(operationSchema), nextCursor: z.string().nullable() }),
        },
      },
      problems: { invalid_cursor: 'the cursor is not one this service gave out', invalid_request: 'an unknown type or status, a malformed date, or from after to' },
    },
    async ({ query }, res) => {
      const page = await listOperations(principalOf(res).userId, query.limit, query.cursor, historyFilter(ctx, query));
      res.json({ items: page.items.map(operationView), nextCursor: page.nextCursor });
    },
  );
  api.get(
    '/v1/me/operations/:operationId',
    {
      operationId: 'getMyOperation',
      summary: 'One of my operations',
      params: z.object({ operationId: z.string() }),
      responses: { 200: { description: 'The operation', body: operationAnswer } },
      problems: { not_found: 'no such operation of this holder' },
    },
    async ({ params }, res) => {
      res.json({ operation: operationView(await findOwnOperation(principalOf(res).userId, params.operationId)) });
    },
  );
  return api.router;
}
