import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { notFound } from '../http/problem.ts';
import { parseQuery } from '../http/validate.ts';
import { findOwnOperation, listOperations, operationView } from '../operations/service.ts';
import { accountView } from './service.ts';

const PAGE_SIZE_MAX = 100;
const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(PAGE_SIZE_MAX).default(20),
  cursor: z.string().max(200).optional(),
});

export function accountRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get('/v1/me/account', async (_req, res) => {
    res.json(await accountView(ctx, principalOf(res).userId));
  });
  // Another holder's account answers 404, not 403: its existence is not disclosed.
  router.get('/v1/accounts/:userId', async (req, res) => {
    const principal = principalOf(res);
    const userId = String(req.params.userId);
    if (userId !== principal.userId && !principal.roles.includes('ops')) throw notFound('Account');
    res.json(await accountView(ctx, userId));
  });
  router.get('/v1/me/operations', async (req, res) => {
    const query = parseQuery(pageQuery, req);
    const page = await listOperations(principalOf(res).userId, query.limit, query.cursor);
    res.json({ items: page.items.map(operationView), nextCursor: page.nextCursor });
  });
  router.get('/v1/me/operations/:operationId', async (req, res) => {
    const operation = await findOwnOperation(principalOf(res).userId, String(req.params.operationId));
    res.json({ operation: operationView(operation) });
  });
  return router;
}
