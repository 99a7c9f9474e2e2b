import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { idempotencyKeyOf, sendAnswer } from '../http/idempotency.ts';
import { amountYuan, parseBody } from '../http/validate.ts';
import { adjustReserve } from '../transfers/service.ts';
import { reserveReport } from './service.ts';

const adjustmentRequest = z.strictObject({ amount: amountYuan, direction: z.enum(['increase', 'decrease']) });

/** Ops only (the app mounts /v1/ops behind the ops role). */
export function reserveRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get('/v1/ops/reserve', async (_req, res) => {
    res.json(await reserveReport(ctx));
  });
  router.post('/v1/ops/reserve/adjustments', async (req, res) => {
    const caller = { userId: principalOf(res).userId, idempotencyKey: idempotencyKeyOf(req) };
    const { amount, direction } = parseBody(adjustmentRequest, req);
    sendAnswer(res, await adjustReserve(ctx, caller, { amountFen: amount, direction }));
  });
  return router;
}
