/**
 * Bounds that make int64 overflow impossible (config `limits.operationMaxFen`,
 * `limits.balanceMaxFen`): an amount above the per-operation maximum is refused at the edge
 * and changes nothing; a credit that would take a balance above its maximum is refused by the
 * guard of the update that moves the money, before the card is charged where it can be, and
 * refunded to the card where it cannot; accrual at the largest balance is exact.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { merchantView } from '../../src/merchants/service.ts';
import type { Express } from 'express';
import { SimulatedBankTransfer } from '../../src/bank/model.ts';
import { Operation, type OperationDocument } from '../../src/operations/model.ts';
import { reconcileJournal } from '../../src/reconciliation/service.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { assertProblem, balancesOf, idempotencyKey, newHolder, PAYMENT_PASSWORD, testApp, topUp, type Holder } from '../support/api.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';

const OPERATION_MAX = '50000000.00';
const ONE_FEN_OVER = '50000000.01';

function post(app: Express, holder: Holder, path: string, body: object) {
  return request(app).post(path).set(holder.auth).set('Idempotency-Key', idempotencyKey()).send(body);
}

function topUpRequest(app: Express, holder: Holder, amount: string) {
  return post(app, holder, '/v1/me/top-ups', { amount, bankCardId: holder.bankCardId });
}

async function operationsOf(userId: string): Promise<OperationDocument[]> {
  return Operation.find({ userId }).lean<OperationDocument[]>();
}

async function breaksOf(userId: string) {
  return (await reconcileJournal()).breaks.filter((item) => item.userId === userId);
}

describe('bounds: per operation and per balance', () => {
  it('an amount one fen over the per-operation maximum is a 422 on every money endpoint and changes nothing', async () => {
    const { app } = testApp('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(app);
    await topUp(app, holder, '100.00');
    const before = await balancesOf(holder.userId);
    const cases: [string, object][] = [
      ['/v1/me/top-ups', { amount: ONE_FEN_OVER, bankCardId: holder.bankCardId }],
      ['/v1/me/withdrawals', { amount: ONE_FEN_OVER, bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD }],
      ['/v1/me/transfers-in', { amount: ONE_FEN_OVER, channel: 'bank_card', bankCardId: holder.bankCardId, fundCode: 'YEB001' }],
      ['/v1/me/transfers-in', { amount: '999999999999999.99', channel: 'wallet', fundCode: 'YEB001' }],
      ['/v1/me/redemptions', { amount: ONE_FEN_OVER, channel: 'wallet', paymentPassword: PAYMENT_PASSWORD }],
      ['/v1/me/instant-redemptions', { amount: ONE_FEN_OVER, paymentPassword: PAYMENT_PASSWORD }],
    ];
    for (const [path, body] of cases) {
      const response = await post(app, holder, path, body);
      assertProblem(response, 422, 'amount_above_maximum');
      assert.match(response.body.detail, /50000000\.00/);
    }
    assert.deepEqual(await balancesOf(holder.userId), before);
    assert.equal((await operationsOf(holder.userId)).length, 1, 'only the first top-up');
    assert.equal(await SimulatedBankTransfer.countDocuments({ bankCardId: holder.bankCardId }), 1);
  });

  it('the per-operation maximum itself is accepted', async () => {
    const { app } = testApp('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(app);
    await topUpRequest(app, holder, OPERATION_MAX).expect(201);
    assert.equal((await balancesOf(holder.userId)).walletFen, 5_000_000_000n);
  });

  it('repeated maximum top-ups are refused at the wallet maximum before the card is charged; nothing is left pending', async () => {
    const { app } = testApp('2024-05-30T10:00:00+08:00', { operationMaxFen: 100_000n, balanceMaxFen: 250_000n } as never);
    const holder = await newHolder(app);
    await topUpRequest(app, holder, '1000.00').expect(201);
    await topUpRequest(app, holder, '1000.00').expect(201);
    const refused = await topUpRequest(app, holder, '1000.00');
    assertProblem(refused, 409, 'balance_limit_exceeded');
    assert.equal(await SimulatedBankTransfer.countDocuments({ _id: `${refused.body.operationId}:charge` }), 0, 'the card was not charged');
    await topUpRequest(app, holder, '500.00').expect(201);
    assertProblem(await topUpRequest(app, holder, '0.01'), 409, 'balance_limit_exceeded');
    assert.equal((await balancesOf(holder.userId)).walletFen, 250_000n);
    const operations = await operationsOf(holder.userId);
    assert.deepEqual(operations.map((op) => op.status).sort(), ['completed', 'completed', 'completed', 'failed', 'failed']);
    assert.deepEqual(await breaksOf(holder.userId), []);
  });

  it('a top-up refused at the wallet maximum after its card was charged is refunded to the card, and fails', async () => {
    const { app, bank } = testApp('2024-05-30T10:00:00+08:00', { operationMaxFen: 100_000n, balanceMaxFen: 250_000n } as never);
    const holder = await newHolder(app);
    await topUpRequest(app, holder, '1000.00').expect(201);
    // Both pass the check before the charge (1,000 + 1,000 <= 2,500); only one fits after it.
    bank.behaviour = { mode: 'ok', delayMs: 300 };
    const [first, second] = await Promise.all([topUpRequest(app, holder, '1000.00'), topUpRequest(app, holder, '1000.00')]);
    bank.behaviour = { mode: 'ok', delayMs: 0 };
    const statuses = [first.status, second.status].sort();
    assert.deepEqual(statuses, [201, 409], JSON.stringify([first.body, second.body]));
    const refused = first.status === 409 ? first : second;
    assertProblem(refused, 409, 'balance_limit_exceeded');
    const operationId = refused.body.operationId as string;
    const transfers = await SimulatedBankTransfer.find({ _id: { $in: [`${operationId}:charge`, `${operationId}:payout`] } }).lean();
    assert.deepEqual(
      transfers.map((transfer) => [transfer.kind, transfer.amountFen, transfer.outcome]).sort(),
      [['charge', 100_000n, 'succeeded'], ['payout', 100_000n, 'succeeded']],
      'charged, then refunded',
    );
    assert.equal((await balancesOf(holder.userId)).walletFen, 200_000n);
    const operation = (await Operation.findById(operationId).lean<OperationDocument>())!;
    assert.equal(operation.status, 'failed');
    assert.equal(operation.postings.reduce((sum, posting) => sum + posting.amountFen, 0n), 0n);
    assert.deepEqual(await breaksOf(holder.userId), []);
  });

  it('a transfer-in that would take the holding above the balance maximum is refused; a card is not charged', async () => {
    const { app } = testApp('2024-05-30T10:00:00+08:00', { operationMaxFen: 100_000n, balanceMaxFen: 150_000n } as never);
    const holder = await newHolder(app);
    await topUpRequest(app, holder, '1000.00').expect(201);
    await post(app, holder, '/v1/me/transfers-in', { amount: '1000.00', channel: 'wallet', fundCode: 'YEB001' }).expect(201);
    await topUpRequest(app, holder, '1000.00').expect(201);
    assertProblem(await post(app, holder, '/v1/me/transfers-in', { amount: '500.01', channel: 'wallet' }), 409, 'holding_limit_exceeded');
    const byCard = await post(app, holder, '/v1/me/transfers-in', { amount: '500.01', channel: 'bank_card', bankCardId: holder.bankCardId });
    assertProblem(byCard, 409, 'holding_limit_exceeded');
    assert.equal(await SimulatedBankTransfer.countDocuments({ _id: `${byCard.body.operationId}:charge` }), 0);
    await post(app, holder, '/v1/me/transfers-in', { amount: '500.00', channel: 'wallet' }).expect(201);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 50_000n, sharesFen: 0n, subscribingFen: 150_000n, redeemingFen: 0n });
  });

  it('an instant redemption that would take the wallet above its maximum is refused and moves nothing', async () => {
    // An operation maximum above the balance maximum, so one adjustment funds the reserve.
    const t = testApp('2024-05-30T10:00:00+08:00', { operationMaxFen: 2_000_000n, balanceMaxFen: 150_000n } as never);
    const { app, ctx, clock } = t;
    useOwnReserve(t);
    await adjustReserve(t, await newHolder(app, { ops: true }), '20000.00', 'increase').expect(201);
    const holder = await newHolder(app);
    await topUpRequest(app, holder, '1000.00').expect(201);
    await post(app, holder, '/v1/me/transfers-in', { amount: '1000.00', channel: 'wallet', fundCode: 'YEB001' }).expect(201);
    clock.set('2024-05-31T10:00:00+08:00');
    await advanceDueOperations(ctx);
    await topUpRequest(app, holder, '1000.00').expect(201);
    const refused = await post(app, holder, '/v1/me/instant-redemptions', { amount: '500.01', paymentPassword: PAYMENT_PASSWORD });
    assertProblem(refused, 409, 'balance_limit_exceeded');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 100_000n, sharesFen: 100_000n, subscribingFen: 0n, redeemingFen: 0n });
    await post(app, holder, '/v1/me/instant-redemptions', { amount: '500.00', paymentPassword: PAYMENT_PASSWORD }).expect(201);
    assert.equal((await balancesOf(holder.userId)).walletFen, 150_000n);
  });

  it('a normal redemption to a wallet that could not take it on the settle date is refused at request time', async () => {
    const { app, ctx, clock } = testApp('2024-05-30T10:00:00+08:00', { operationMaxFen: 100_000n, balanceMaxFen: 150_000n } as never);
    const holder = await newHolder(app);
    await topUpRequest(app, holder, '1000.00').expect(201);
    await post(app, holder, '/v1/me/transfers-in', { amount: '1000.00', channel: 'wallet', fundCode: 'YEB001' }).expect(201);
    clock.set('2024-05-31T10:00:00+08:00');
    await advanceDueOperations(ctx);
    await topUpRequest(app, holder, '1000.00').expect(201);
    const body = { channel: 'wallet', paymentPassword: PAYMENT_PASSWORD };
    assertProblem(await post(app, holder, '/v1/me/redemptions', { ...body, amount: '500.01' }), 409, 'balance_limit_exceeded');
    await post(app, holder, '/v1/me/redemptions', { ...body, amount: '500.00' }).expect(201);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 100_000n, sharesFen: 50_000n, subscribingFen: 0n, redeemingFen: 50_000n });
  });

  it('a merchant is paid whatever its total: its wallet is the exact sum of its receipts, held in no int64 field', async () => {
    // An operation maximum above the balance maximum, so one adjustment funds the reserve.
    const t = testApp('2024-05-30T10:00:00+08:00', { operationMaxFen: 2_000_000n, balanceMaxFen: 150_000n } as never);
    const { app, ctx, clock } = t;
    const ops = await newHolder(app, { ops: true });
    useOwnReserve(t);
    await adjustReserve(t, ops, '20000.00', 'increase').expect(201);
    const merchant = await request(app).post('/v1/ops/merchants').set(ops.auth).send({ name: 'Bounded shop' }).expect(201);
    const payers = [await newHolder(app), await newHolder(app)];
    for (const payer of payers) {
      await topUpRequest(app, payer, '1000.00').expect(201);
      await post(app, payer, '/v1/me/transfers-in', { amount: '1000.00', channel: 'wallet', fundCode: 'YEB001' }).expect(201);
    }
    clock.set('2024-05-31T10:00:00+08:00');
    await advanceDueOperations(ctx);
    const pay = (payer: Holder, amount: string) =>
      post(app, payer, '/v1/me/payments', { amount, merchantId: merchant.body.id, paymentPassword: PAYMENT_PASSWORD });
    await pay(payers[0]!, '1000.00').expect(201);
    await pay(payers[1]!, '1000.00').expect(201);
    assert.equal((await merchantView(merchant.body.id)).wallet, '2000.00');
  });
});
