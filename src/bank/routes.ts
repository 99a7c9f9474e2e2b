import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { idempotencyKeyOf, sendAnswer } from '../http/idempotency.ts';
import { amountYuan, identifier, parseBody, paymentPassword } from '../http/validate.ts';
import { topUp, withdraw } from '../transfers/service.ts';
import { addBankCard, listBankCards } from './service.ts';

const cardBinding = z.strictObject({ cardNumber: z.string().regex(/^\d{12,19}$/, '12 to 19 digits') });
const topUpRequest = z.strictObject({ amount: amountYuan, bankCardId: identifier });
const withdrawalRequest = z.strictObject({ amount: amountYuan, bankCardId: identifier, paymentPassword });

export function bankRoutes(ctx: AppContext): Router {
  const router = Router();
  router.post('/v1/me/bank-cards', async (req, res) => {
    const input = parseBody(cardBinding, req);
    res.status(201).json({ bankCard: await addBankCard(ctx, principalOf(res).userId, input.cardNumber) });
  });
  router.get('/v1/me/bank-cards', async (_req, res) => {
    res.json({ items: await listBankCards(principalOf(res).userId) });
  });
  router.post('/v1/me/top-ups', async (req, res) => {
    const caller = { userId: principalOf(res).userId, idempotencyKey: idempotencyKeyOf(req) };
    const input = parseBody(topUpRequest, req);
    sendAnswer(res, await topUp(ctx, caller, { amountFen: input.amount, bankCardId: input.bankCardId }));
  });
  router.post('/v1/me/withdrawals', async (req, res) => {
    const caller = { userId: principalOf(res).userId, idempotencyKey: idempotencyKeyOf(req) };
    const input = parseBody(withdrawalRequest, req);
    sendAnswer(res, await withdraw(ctx, caller, { ...input, amountFen: input.amount }));
  });
  return router;
}
