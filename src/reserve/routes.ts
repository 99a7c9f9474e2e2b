import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { apiActor, audited, reserveAdjustmentAudit } from '../audit/service.ts';
import { principalOf } from '../http/auth.ts';
import { sendAnswer } from '../http/idempotency.ts';
import { apiRoutes } from '../http/openapi.ts';
import { yuanText } from '../http/openapi/schemas.ts';
import { amountYuan, businessDate } from '../http/validate.ts';
import { formatYuan } from '../money/fen.ts';
import { operationAnswer } from '../operations/routes.ts';
import { adjustReserve } from '../transfers/service.ts';
import { reserveReport } from './service.ts';

const adjustmentRequest = z.strictObject({ amount: amountYuan, direction: z.enum(['increase', 'decrease']) });

/** What reserveReport answers. */
export const reserveReportSchema = z
  .object({
    size: yuanText.describe('available + outstanding'),
    available: yuanText,
    outstanding: yuanText.describe('Advanced to instant redemptions and payments, repaid on their settle dates'),
    utilisationPercent: z.string().regex(/^\d+\.\d{2}$/).describe('outstanding / size in percent, truncated to 2 decimals'),
    lowWater: z.boolean().describe('available is below lowWaterPercent of the size, or nothing is available'),
    lowWaterPercent: z.number(),
    shards: z.array(z.object({ id: z.string(), available: yuanText, outstanding: yuanText })),
    outstandingBySettleDate: z.array(z.object({ settleDate: businessDate, amount: yuanText, redemptions: z.number().int() })),
  })
  .meta({ id: 'ReserveReport' });

/** Ops only (the app mounts /v1/ops behind the ops role). */
export function reserveRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Reserve', description: 'The liquidity reserve that advances instant redemptions and payments until their settle date (ops).' });
  api.get(
    '/v1/ops/reserve',
    {
      operationId: 'getReserve',
      summary: 'The liquidity reserve: size, available, outstanding by settle date, utilisation, low-water flag',
      responses: { 200: { description: 'The reserve report', body: reserveReportSchema } },
    },
    async (_input, res) => {
      res.json(await reserveReport(ctx));
    },
  );
  api.post(
    '/v1/ops/reserve/adjustments',
    {
      operationId: 'adjustReserve',
      summary: 'Fund or shrink the reserve, spread evenly over its shards',
      idempotencyKey: true,
      body: adjustmentRequest,
      responses: { 201: { description: 'Adjusted', body: operationAnswer } },
      problems: { reserve_available_insufficient: 'a decrease larger than what is available' },
    },
    async ({ body: { amount, direction }, idempotencyKey }, res) => {
      const actor = await apiActor(principalOf(res).userId);
      const caller = { userId: actor.id, idempotencyKey };
      const request = { amount: formatYuan(amount), direction, idempotencyKey };
      const answer = await audited(ctx, { actor, action: 'reserve.adjust', target: 'reserve', request }, () => adjustReserve(ctx, caller, { amountFen: amount, direction }), reserveAdjustmentAudit);
      sendAnswer(res, answer);
    },
  );
  return api.router;
}
