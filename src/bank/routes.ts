import type { Router } from 'express';
import { z } from 'zod';
import { PAYMENT_PASSWORD_PROBLEMS } from '../auth/routes.ts';
import type { AppContext } from '../context.ts';
import { moneyOutCaller, principalOf } from '../http/auth.ts';
import { sendAnswer } from '../http/idempotency.ts';
import { apiRoutes, type ProblemDocs } from '../http/openapi.ts';
import { instantText } from '../http/openapi/schemas.ts';
import { amountYuan, identifier, paymentPassword } from '../http/validate.ts';
import { operationAnswer, STILL_AT_THE_BANK } from '../operations/routes.ts';
import { topUpAndSweep } from '../sweep/service.ts';
import { withdraw } from '../transfers/service.ts';
import { addBankCard, listBankCards } from './service.ts';

const cardBinding = z.strictObject({
  cardNumber: z.string().regex(/^\d{12,19}$/, '12 to 19 digits').describe('The full card number: only its last 4 digits are kept'),
});
const topUpRequest = z.strictObject({ amount: amountYuan, bankCardId: identifier });
const withdrawalRequest = z.strictObject({ amount: amountYuan, bankCardId: identifier, paymentPassword });

const bankCardSchema = z
  .object({ bankCardId: z.string().describe('What a top-up or withdrawal names the card by'), bankName: z.string(), last4: z.string().regex(/^\d{4}$/), createdAt: instantText })
  .meta({ id: 'BankCard' });

/** What a request that goes through the bank can meet. */
export const BANK_PROBLEMS: ProblemDocs = {
  unknown_bank_card: 'no such bank card on this account',
  bank_declined: 'the bank declined; nothing moved',
  bank_unavailable: 'the bank never received it; nothing moved',
};

export function bankRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Bank cards and wallet', description: 'The holder\'s bank cards, and the wallet\'s top-ups from them and withdrawals to them.' });
  api.post(
    '/v1/me/bank-cards',
    {
      operationId: 'bindBankCard',
      summary: 'Bind a bank card',
      body: cardBinding,
      responses: { 201: { description: 'Bound', body: z.object({ bankCard: bankCardSchema }) } },
    },
    async ({ body }, res) => {
      res.status(201).json({ bankCard: await addBankCard(principalOf(res).userId, body.cardNumber, ctx.clock.now()) });
    },
  );
  api.get(
    '/v1/me/bank-cards',
    {
      operationId: 'listBankCards',
      summary: 'My bank cards, oldest first',
      responses: { 200: { description: 'The cards', body: z.object({ items: z.array(bankCardSchema) }) } },
    },
    async (_input, res) => {
      res.json({ items: await listBankCards(principalOf(res).userId) });
    },
  );
  api.post(
    '/v1/me/top-ups',
    {
      operationId: 'topUp',
      summary: 'Top up the wallet from a bank card',
      description: 'With auto-sweep on arrival switched on, the amount above the amount to keep moves on into the fund.',
      idempotencyKey: true,
      body: topUpRequest,
      responses: { 201: { description: 'Completed: the money is in the wallet', body: operationAnswer }, 202: STILL_AT_THE_BANK },
      problems: [BANK_PROBLEMS, { balance_limit_exceeded: 'the wallet would pass its maximum; the card is not charged (or, charged meanwhile, refunded)' }],
    },
    async ({ body, idempotencyKey }, res) => {
      const caller = { userId: principalOf(res).userId, idempotencyKey };
      sendAnswer(res, await topUpAndSweep(ctx, caller, { amountFen: body.amount, bankCardId: body.bankCardId }));
    },
  );
  api.post(
    '/v1/me/withdrawals',
    {
      operationId: 'withdraw',
      summary: 'Withdraw from the wallet to a bank card',
      idempotencyKey: true,
      body: withdrawalRequest,
      responses: { 201: { description: 'Completed: the money left the wallet for the card', body: operationAnswer }, 202: STILL_AT_THE_BANK },
      problems: [BANK_PROBLEMS, PAYMENT_PASSWORD_PROBLEMS, { insufficient_balance: '' }],
    },
    async ({ body, idempotencyKey }, res) => {
      const caller = moneyOutCaller(res, idempotencyKey);
      sendAnswer(res, await withdraw(ctx, caller, { ...body, amountFen: body.amount }));
    },
  );
  return api.router;
}
