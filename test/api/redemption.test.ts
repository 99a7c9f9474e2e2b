/**
 * Normal redemption: shares leave at once, the cash arrives on the first trading day after
 * T (to the wallet, or through the bank to the card), across weekends and holidays.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { SimulatedBankTransfer } from '../../src/bank/model.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { balancesOf, idempotencyKey, newHolder, PAYMENT_PASSWORD, runDueJobsAround, testApp, topUp, type Holder } from '../support/api.ts';

const t = testApp();
const { app, ctx, clock } = t;

/** A holder with confirmed shares, bought on 2024-05-30 and confirmed on 05-31. */
async function holderWithShares(amount: string): Promise<Holder> {
  clock.set('2024-05-30T10:00:00+08:00');
  const holder = await newHolder(app);
  await topUp(app, holder, amount);
  await request(app)
    .post('/v1/me/transfers-in')
    .set(holder.auth)
    .set('Idempotency-Key', idempotencyKey())
    .send({ amount, channel: 'wallet', fundCode: 'YEB001' })
    .expect(201);
  clock.set('2024-05-31T00:00:01+08:00');
  await advanceDueOperations(ctx);
  return holder;
}

function redeem(holder: Holder, body: Record<string, unknown>) {
  return request(app)
    .post('/v1/me/redemptions')
    .set(holder.auth)
    .set('Idempotency-Key', idempotencyKey())
    .send({ paymentPassword: PAYMENT_PASSWORD, ...body });
}

describe('normal redemption', () => {
  const settlements = [
    { at: '2024-06-05T10:00:00+08:00', tradeDate: '2024-06-05', settleDate: '2024-06-06', why: 'a Wednesday' },
    { at: '2024-06-07T16:00:00+08:00', tradeDate: '2024-06-11', settleDate: '2024-06-12', why: 'Friday after cut-off, before Dragon Boat' },
    { at: '2024-06-07T10:00:00+08:00', tradeDate: '2024-06-07', settleDate: '2024-06-11', why: 'Friday before Dragon Boat' },
    { at: '2024-10-03T10:00:00+08:00', tradeDate: '2024-10-08', settleDate: '2024-10-09', why: 'inside National Day' },
  ];

  for (const example of settlements) {
    it(`${example.why}: shares leave at once, cash reaches the wallet on ${example.settleDate}`, async () => {
      const holder = await holderWithShares('80.00');
      clock.set(example.at);
      const response = await redeem(holder, { amount: '30.00', channel: 'wallet' }).expect(201);
      assert.equal(response.body.operation.status, 'awaiting_settlement');
      assert.equal(response.body.operation.tradeDate, example.tradeDate);
      assert.equal(response.body.operation.settleDate, example.settleDate);
      assert.deepEqual(await balancesOf(holder.userId), { walletFen: 0n, sharesFen: 5000n, subscribingFen: 0n, redeemingFen: 3000n });

      const { dayBefore, onTheDay } = await runDueJobsAround(t, example.settleDate, holder.userId);
      assert.equal(dayBefore.walletFen, 0n, 'not paid the day before');
      assert.deepEqual(onTheDay, { walletFen: 3000n, sharesFen: 5000n, subscribingFen: 0n, redeemingFen: 0n });
    });
  }

  it('to a bank card: the bank pays out once on the settle date', async () => {
    const holder = await holderWithShares('25.00');
    clock.set('2024-06-05T10:00:00+08:00');
    const response = await redeem(holder, { amount: '25.00', channel: 'bank_card', bankCardId: holder.bankCardId }).expect(201);
    clock.set('2024-06-06T09:00:00+08:00');
    await advanceDueOperations(ctx);
    await advanceDueOperations(ctx);
    const payouts = await SimulatedBankTransfer.find({ _id: `${response.body.operation.id}:payout` }).lean();
    assert.equal(payouts.length, 1);
    assert.equal(payouts[0]!.amountFen, 2500n);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 0n, sharesFen: 0n, subscribingFen: 0n, redeemingFen: 0n });
  });

  it('a card payout the bank declines lands in the wallet instead', async () => {
    const holder = await holderWithShares('25.00');
    clock.set('2024-06-05T10:00:00+08:00');
    await redeem(holder, { amount: '10.00', channel: 'bank_card', bankCardId: holder.bankCardId }).expect(201);
    clock.set('2024-06-06T09:00:00+08:00');
    const bank = ctx.bank as import('../../src/bank/simulatedBank.ts').SimulatedBank;
    bank.behaviour = { mode: 'decline', delayMs: 0 };
    try {
      await advanceDueOperations(ctx);
    } finally {
      bank.behaviour = { mode: 'ok', delayMs: 0 };
    }
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 1000n, sharesFen: 1500n, subscribingFen: 0n, redeemingFen: 0n });
  });

  it('cannot redeem more than the confirmed shares, nor unconfirmed ones', async () => {
    clock.set('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    await request(app)
      .post('/v1/me/transfers-in')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '10.00', channel: 'wallet', fundCode: 'YEB001' })
      .expect(201);
    const refused = await redeem(holder, { amount: '0.01', channel: 'wallet' }).expect(409);
    assert.equal(refused.body.code, 'insufficient_shares');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 0n, sharesFen: 0n, subscribingFen: 1000n, redeemingFen: 0n });
  });

  it('redeeming everything and settling frees the holder to switch funds', async () => {
    const holder = await holderWithShares('10.00');
    clock.set('2024-06-05T10:00:00+08:00');
    await redeem(holder, { amount: '10.00', channel: 'wallet' }).expect(201);
    clock.set('2024-06-06T09:00:00+08:00');
    await advanceDueOperations(ctx);
    await request(app)
      .post('/v1/me/transfers-in')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '10.00', channel: 'wallet', fundCode: 'MMF002' })
      .expect(201);
    const account = await request(app).get('/v1/me/account').set(holder.auth).expect(200);
    assert.equal(account.body.fund.code, 'MMF002');
  });
});
