import type { Router } from 'express';
import { z } from 'zod';
import { PAYMENT_PASSWORD_PROBLEMS } from '../auth/routes.ts';
import { BANK_PROBLEMS } from '../bank/routes.ts';
import type { AppContext } from '../context.ts';
import { moneyOutCaller, principalOf } from '../http/auth.ts';
import { sendAnswer } from '../http/idempotency.ts';
import { apiRoutes, type ProblemDocs } from '../http/openapi.ts';
import { amountYuan, identifier, paymentPassword } from '../http/validate.ts';
import { operationAnswer, STILL_AT_THE_BANK } from '../operations/routes.ts';
import { payMerchant, redeem, redeemInstantly, transferIn } from './service.ts';

/**
 * One shape per channel: a card channel needs a card, the wallet channel takes none. As a
 * union the rule is part of the schema, so the document states it too (a oneOf).
 */
function byChannel<F extends z.ZodRawShape>(fields: F) {
  return z.discriminatedUnion(
    'channel',
    [
      z.strictObject({ ...fields, channel: z.literal('wallet') }),
      z.strictObject({ ...fields, channel: z.literal('bank_card'), bankCardId: identifier }),
    ],
    { error: 'expected wallet or bank_card' },
  );
}

const transferInRequest = byChannel({
  amount: amountYuan,
  fundCode: identifier.optional().describe('The fund; the first transfer-in must name it, later ones may leave it out'),
});
const redemptionRequest = byChannel({ amount: amountYuan, paymentPassword });

const instantRequest = z.strictObject({ amount: amountYuan, paymentPassword });
const paymentRequest = z.strictObject({ amount: amountYuan, merchantId: identifier, paymentPassword });

const INSTANT_PROBLEMS: ProblemDocs[] = [
  PAYMENT_PASSWORD_PROBLEMS,
  {
    insufficient_shares: '',
    instant_daily_limit_exceeded: 'past the cap of the natural day (Beijing time); `remainingToday` says what is left of it',
    reserve_exhausted: 'its `alternative` is the normal redemption that pays the same amount, and when',
    balance_limit_exceeded: 'the receiving wallet would pass its maximum',
    interrupted: 'the request stopped (a crash, or too slow for its reserve lease) before any money moved; send it again with a new Idempotency-Key',
  },
];

export function transferRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Fund transfers', description: 'Money into the fund and out of it: transfers-in, normal and instant redemptions, and payments to merchants from fund shares.' });
  api.post(
    '/v1/me/transfers-in',
    {
      operationId: 'transferIn',
      summary: 'Move money from the wallet or a card into the fund',
      description: 'Becomes a pending subscription with its trade date T (15:00 Beijing cut-off, trading days only), confirmed into shares on the first trading day after T.',
      idempotencyKey: true,
      body: transferInRequest,
      responses: { 201: { description: 'Accepted: awaiting confirmation on its confirm date', body: operationAnswer }, 202: STILL_AT_THE_BANK },
      problems: [
        BANK_PROBLEMS,
        {
          insufficient_balance: '',
          fund_switch_not_allowed: '',
          holding_limit_exceeded: 'above the holding maximum or the balance maximum',
          transfer_in_daily_limit_exceeded: 'past the daily transfer-in maximum (Beijing time); `remainingToday` says what is left of it',
          fund_quota_exceeded: '',
          unknown_fund: 'no fund has this code',
          fund_required: 'the first transfer-in must name the fund',
        },
      ],
    },
    async ({ body: { amount, ...input }, idempotencyKey }, res) => {
      const caller = { userId: principalOf(res).userId, idempotencyKey };
      sendAnswer(res, await transferIn(ctx, caller, { ...input, amountFen: amount }));
    },
  );
  api.post(
    '/v1/me/redemptions',
    {
      operationId: 'redeem',
      summary: 'Normal redemption to the wallet or a card',
      description: 'The shares leave at once; the cash arrives on the first trading day after T.',
      idempotencyKey: true,
      body: redemptionRequest,
      responses: { 201: { description: 'Accepted: awaiting settlement on its settle date', body: operationAnswer } },
      problems: [PAYMENT_PASSWORD_PROBLEMS, { insufficient_shares: '', balance_limit_exceeded: 'to the wallet, which could pass its maximum on the settle date', unknown_bank_card: 'no such bank card on this account' }],
    },
    async ({ body: { amount, ...input }, idempotencyKey }, res) => {
      const caller = moneyOutCaller(res, idempotencyKey);
      sendAnswer(res, await redeem(ctx, caller, { ...input, amountFen: amount }));
    },
  );
  api.post(
    '/v1/me/instant-redemptions',
    {
      operationId: 'redeemInstantly',
      summary: 'Instant redemption (T+0) to the wallet',
      description: 'The cash is in the wallet at once, advanced by the liquidity reserve; capped per holder per natural day in Beijing.',
      idempotencyKey: true,
      body: instantRequest,
      responses: { 201: { description: 'Completed: the cash is in the wallet', body: operationAnswer } },
      problems: INSTANT_PROBLEMS,
    },
    async ({ body: { amount, paymentPassword: password }, idempotencyKey }, res) => {
      const caller = moneyOutCaller(res, idempotencyKey);
      sendAnswer(res, await redeemInstantly(ctx, caller, { amountFen: amount, paymentPassword: password }));
    },
  );
  api.post(
    '/v1/me/payments',
    {
      operationId: 'payMerchant',
      summary: 'Pay a merchant from the fund',
      description: 'An instant redemption whose cash lands in the merchant\'s wallet.',
      idempotencyKey: true,
      body: paymentRequest,
      responses: { 201: { description: 'Paid', body: operationAnswer } },
      problems: [...INSTANT_PROBLEMS, { unknown_merchant: 'no merchant has this id' }],
    },
    async ({ body: { amount, ...input }, idempotencyKey }, res) => {
      const caller = moneyOutCaller(res, idempotencyKey);
      sendAnswer(res, await payMerchant(ctx, caller, { ...input, amountFen: amount }));
    },
  );
  return api.router;
}
