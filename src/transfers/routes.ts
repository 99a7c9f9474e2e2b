import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { idempotencyKeyOf, sendAnswer } from '../http/idempotency.ts';
import { amountYuan, identifier, parseBody, paymentPassword } from '../http/validate.ts';
import { payMerchant, redeem, redeemInstantly, transferIn } from './service.ts';

const channel = z.enum(['wallet', 'bank_card']);
/** A card channel needs a card; the wallet channel must not name one. */
const cardMatchesChannel = (input: { channel: string; bankCardId?: string | undefined }) =>
  (input.channel === 'bank_card') === (input.bankCardId !== undefined);
const cardRule = { message: 'bankCardId is required with channel bank_card and not allowed with wallet', path: ['bankCardId'] };

const transferInRequest = z
  .strictObject({ amount: amountYuan, channel, bankCardId: identifier.optional(), fundCode: identifier.optional() })
  .refine(cardMatchesChannel, cardRule);
const redemptionRequest = z
  .strictObject({ amount: amountYuan, channel, bankCardId: identifier.optional(), paymentPassword })
  .refine(cardMatchesChannel, cardRule);

const instantRequest = z.strictObject({ amount: amountYuan, paymentPassword });
const paymentRequest = z.strictObject({ amount: amountYuan, merchantId: identifier, paymentPassword });

export function transferRoutes(ctx: AppContext): Router {
  const router = Router();
  router.post('/v1/me/transfers-in', async (req, res) => {
    const caller = { userId: principalOf(res).userId, idempotencyKey: idempotencyKeyOf(req) };
    const { amount, ...input } = parseBody(transferInRequest, req);
    sendAnswer(res, await transferIn(ctx, caller, { ...input, amountFen: amount }));
  });
  router.post('/v1/me/redemptions', async (req, res) => {
    const caller = { userId: principalOf(res).userId, idempotencyKey: idempotencyKeyOf(req) };
    const { amount, ...input } = parseBody(redemptionRequest, req);
    sendAnswer(res, await redeem(ctx, caller, { ...input, amountFen: amount }));
  });
  router.post('/v1/me/instant-redemptions', async (req, res) => {
    const caller = { userId: principalOf(res).userId, idempotencyKey: idempotencyKeyOf(req) };
    const { amount, paymentPassword: password } = parseBody(instantRequest, req);
    sendAnswer(res, await redeemInstantly(ctx, caller, { amountFen: amount, paymentPassword: password }));
  });
  router.post('/v1/me/payments', async (req, res) => {
    const caller = { userId: principalOf(res).userId, idempotencyKey: idempotencyKeyOf(req) };
    const { amount, ...input } = parseBody(paymentRequest, req);
    sendAnswer(res, await payMerchant(ctx, caller, { ...input, amountFen: amount }));
  });
  return router;
}
