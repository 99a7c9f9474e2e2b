import { Router } from 'express';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { dateParam, dateRangeQuery, parseQuery } from '../http/validate.ts';
import { explainIncome, incomeHistory } from './explain.ts';

export function incomeRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get('/v1/me/income', async (req, res) => {
    const { from, to } = parseQuery(dateRangeQuery, req);
    res.json({ from, to, days: await incomeHistory(ctx, principalOf(res).userId, from, to) });
  });
  router.get('/v1/me/income/:date', async (req, res) => {
    res.json(await explainIncome(ctx, principalOf(res).userId, dateParam(req.params.date)));
  });
  return router;
}
