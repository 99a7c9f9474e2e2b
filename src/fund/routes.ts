import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { dateParam, dateRangeQuery, parseBody, parsedString, parseQuery } from '../http/validate.ts';
import { parseYieldPer10k } from '../money/yield.ts';
import { accrualStatus, fundDays, fundDayView, publishYield } from './service.ts';

const publishBody = z.strictObject({ yieldPer10k: parsedString(parseYieldPer10k, 16) });

export function fundRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get('/v1/funds/:fundCode/days', async (req, res) => {
    const { from, to } = parseQuery(dateRangeQuery, req);
    res.json({ fundCode: req.params.fundCode, days: await fundDays(ctx, String(req.params.fundCode), from, to) });
  });
  // Ops only (the app mounts /v1/ops behind the ops role).
  router.put('/v1/ops/funds/:fundCode/yields/:date', async (req, res) => {
    const body = parseBody(publishBody, req);
    const date = dateParam(req.params.date);
    const day = await publishYield(ctx, {
      fundCode: String(req.params.fundCode),
      date,
      yieldPer10k: body.yieldPer10k,
      publishedBy: principalOf(res).userId,
    });
    res.json(fundDayView(day));
  });
  router.get('/v1/ops/funds/:fundCode/accrual', async (req, res) => {
    res.json(await accrualStatus(ctx, String(req.params.fundCode)));
  });
  return router;
}
