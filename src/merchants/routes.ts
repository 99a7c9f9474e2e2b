import type { Router } from 'express';
import { z } from 'zod';
import { apiActor, audited } from '../audit/service.ts';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes } from '../http/openapi.ts';
import { yuanText } from '../http/openapi/schemas.ts';
import { identifier } from '../http/validate.ts';
import { createMerchant, merchantView } from './service.ts';

const merchantRequest = z.strictObject({ name: z.string().min(1).max(100) });
const merchantSchema = z.object({ id: z.string(), name: z.string(), wallet: yuanText.describe('What the merchant has been paid') }).meta({ id: 'Merchant' });

/** Ops only (the app mounts /v1/ops behind the ops role). */
export function merchantRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Merchants', description: 'Merchants that holders pay from their fund shares, each with a wallet of its own (ops).' });
  api.post(
    '/v1/ops/merchants',
    {
      operationId: 'createMerchant',
      summary: 'Register a merchant, with a wallet of its own',
      body: merchantRequest,
      responses: { 201: { description: 'Registered', body: merchantSchema } },
    },
    async ({ body }, res) => {
      const actor = await apiActor(principalOf(res).userId);
      const merchant = await audited(ctx, { actor, action: 'merchant.create', target: body.name, request: body }, () => createMerchant(ctx, body.name), (created) => ({
        result: { merchantId: created.id },
      }));
      res.status(201).json(merchant);
    },
  );
  api.get(
    '/v1/ops/merchants/:merchantId',
    {
      operationId: 'getMerchant',
      summary: 'A merchant and its wallet',
      params: z.object({ merchantId: identifier }),
      responses: { 200: { description: 'The merchant', body: merchantSchema } },
      problems: { unknown_merchant: 'no merchant has this id' },
    },
    async ({ params }, res) => {
      res.json(await merchantView(params.merchantId));
    },
  );
  return api.router;
}
