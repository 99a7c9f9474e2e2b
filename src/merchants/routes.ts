import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { identifier, parseBody } from '../http/validate.ts';
import { createMerchant, merchantView } from './service.ts';

const merchantRequest = z.strictObject({ name: z.string().min(1).max(100) });

/** Ops only (the app mounts /v1/ops behind the ops role). */
export function merchantRoutes(ctx: AppContext): Router {
  const router = Router();
  router.post('/v1/ops/merchants', async (req, res) => {
    const { name } = parseBody(merchantRequest, req);
    res.status(201).json(await createMerchant(ctx, name));
  });
  router.get('/v1/ops/merchants/:merchantId', async (req, res) => {
    res.json(await merchantView(identifier.parse(String(req.params.merchantId))));
  });
  return router;
}
