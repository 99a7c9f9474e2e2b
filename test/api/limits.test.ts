/**
 * The optional transfer-in limits (off by default): a holding maximum, a daily maximum per
 * natural day in Beijing, and a fund-wide quota per trade date. A refusal moves nothing.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Express } from 'express';
import { Account, type AccountDocument } from '../../src/accounts/model.ts';
import { SimulatedBankTransfer } from '../../src/bank/model.ts';
import { SimulatedBank } from '../../src/bank/simulatedBank.ts';
import type { Fen } from '../../src/money/fen.ts';
import { FundQuota } from '../../src/transfers/model.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { assertDailyLeft, assertProblem, balancesOf, idempotencyKey, newHolder, testApp, topUp, type Holder } from '../support/api.ts';
import { Gate } from '../support/gate.ts';
import { eventsOf, typesOf } from '../support/events.ts';

/** A bank whose next charge waits until the test opens its gate: a card transfer-in whose leg lands late. */
class GatedBank extends SimulatedBank {
  #gate: Gate | null = null;

  holdNextCharge(): Gate {
    return (this.#gate = new Gate());
  }

  override async charge(reference: string, bankCardId: string, amountFen: Fen) {
    const gate = this.#gate;
    this.#gate = null;
    await gate?.pass();
    return super.charge(reference, bankCardId, amountFen);
  }
}

function transferIn(app: Express, holder: Holder, amount: string, fundCode = 'MMF002', channel: 'wallet' | 'bank_card' = 'wallet') {
  return request(app)
    .post('/v1/me/transfers-in')
    .set(holder.auth)
    .set('Idempotency-Key', idempotencyKey())
    .send({ amount, channel, fundCode, ...(channel === 'bank_card' ? { bankCardId: holder.bankCardId } : {}) });
}

describe('transfer-in limits', () => {
  it('holding maximum: shares plus pending subscriptions stay at or under it', async () => {
    const { app, ctx, clock } = testApp('2024-05-30T10:00:00+08:00', { holdingMaxFen: 10000n });
    const holder = await newHolder(app);
    await topUp(app, holder, '200.00');
    await transferIn(app, holder, '60.00').expect(201);
    clock.set('2024-05-31T09:00:00+08:00');
    await advanceDueOperations(ctx);
    assertProblem(await transferIn(app, holder, '40.01'), 409, 'holding_limit_exceeded');
    await transferIn(app, holder, '40.00').expect(201);
    assertProblem(await transferIn(app, holder, '0.01'), 409, 'holding_limit_exceeded');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 10000n, sharesFen: 6000n, subscribingFen: 4000n, redeemingFen: 0n });
  });

  it('daily maximum counts per natural day in Beijing, not UTC', async () => {
    const { app, clock } = testApp('2024-05-30T07:00:00+08:00', { transferInDailyMaxFen: 5000n });
    const holder = await newHolder(app);
    await topUp(app, holder, '200.00');
    await transferIn(app, holder, '30.00').expect(201); // 2024-05-29 23:00 UTC
    clock.set('2024-05-30T09:00:00+08:00'); // another UTC day, the same Beijing day
    assertDailyLeft(await transferIn(app, holder, '20.01'), 'transfer_in_daily_limit_exceeded', '20.00');
    await transferIn(app, holder, '20.00').expect(201);
    clock.set('2024-05-30T23:59:59+08:00');
    assertDailyLeft(await transferIn(app, holder, '0.01'), 'transfer_in_daily_limit_exceeded', '0.00');
    clock.set('2024-05-31T00:00:00+08:00');
    await transferIn(app, holder, '50.00').expect(201);
    assertProblem(await transferIn(app, holder, '50.01'), 409, 'transfer_in_daily_limit_exceeded');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 10000n, sharesFen: 0n, subscribingFen: 10000n, redeemingFen: 0n });
  });

  it('daily maximum: a leg held across Beijing midnight counts toward the later day it lands on, never resetting it', async () => {
    const { app, ctx, clock } = testApp('2024-06-04T23:59:59.800+08:00', { transferInDailyMaxFen: 10000n });
    const bank = new GatedBank();
    ctx.bank = bank;
    const holder = await newHolder(app);
    await topUp(app, holder, '30.00');
    const gate = bank.holdNextCharge();
    const late = transferIn(app, holder, '60.00', 'MMF002', 'bank_card').then((response) => response); // day D: its card charge (before its leg) is slow
    await gate.reached;
    clock.set('2024-06-05T00:00:00.100+08:00');
    await transferIn(app, holder, '30.00').expect(201); // day D+1
    gate.open();
    assert.equal((await late).status, 201, 'it fits under the later day: counted there');
    const account = (await Account.findById(holder.userId).lean<AccountDocument>())!;
    assert.deepEqual([account.transferInDate, account.transferInTodayFen], ['2024-06-05', 9000n], "the later day's counter stands");
    assertProblem(await transferIn(app, holder, '10.01', 'MMF002', 'bank_card'), 409, 'transfer_in_daily_limit_exceeded');
    await transferIn(app, holder, '10.00', 'MMF002', 'bank_card').expect(201);
    assertProblem(await transferIn(app, holder, '0.01', 'MMF002', 'bank_card'), 409, 'transfer_in_daily_limit_exceeded');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 0n, sharesFen: 0n, subscribingFen: 10000n, redeemingFen: 0n });
  });

  it('a card transfer-in over a limit is refused before the card is charged', async () => {
    const { app } = testApp('2024-05-30T10:00:00+08:00', { transferInDailyMaxFen: 5000n });
    const holder = await newHolder(app);
    const refused = await request(app)
      .post('/v1/me/transfers-in')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '50.01', channel: 'bank_card', bankCardId: holder.bankCardId, fundCode: 'MMF002' });
    assertProblem(refused, 409, 'transfer_in_daily_limit_exceeded');
    assert.equal(await SimulatedBankTransfer.countDocuments({ _id: `${refused.body.operationId}:charge` }), 0);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 0n, sharesFen: 0n, subscribingFen: 0n, redeemingFen: 0n });
  });

  it("fund quota: 20 holders race for a trade date's quota; exactly what fits is taken", async () => {
    // A trade date of its own, so other tests' subscriptions do not share this quota.
    const { app } = testApp('2024-07-17T10:00:00+08:00', { fundDailyQuotaFen: 10000n });
    const holders = await Promise.all(Array.from({ length: 20 }, () => newHolder(app)));
    for (const holder of holders) await topUp(app, holder, '10.00');
    const responses = await Promise.all(holders.map((holder) => transferIn(app, holder, '10.00', 'YEB001')));
    assert.equal(responses.filter((response) => response.status === 201).length, 10);
    for (const refused of responses.filter((response) => response.status !== 201)) assertProblem(refused, 409, 'fund_quota_exceeded');
    assert.equal((await FundQuota.findById('YEB001:2024-07-17').lean())?.subscribedFen, 10000n);
    const subscribedFen = (await Promise.all(holders.map((holder) => balancesOf(holder.userId)))).reduce(
      (sum, balances) => sum + balances.subscribingFen,
      0n,
    );
    assert.equal(subscribedFen, 10000n);
  });

  it('a refused subscription gives its quota back, tells of nothing, and the next trade date starts afresh', async () => {
    const t = testApp('2024-07-18T10:00:00+08:00', { fundDailyQuotaFen: 5000n });
    const { app, clock } = t;
    const poor = await newHolder(app);
    const rich = await newHolder(app);
    await topUp(app, rich, '100.00');
    assertProblem(await transferIn(app, poor, '50.00', 'YEB001'), 409, 'insufficient_balance');
    // Its quota was taken and given back, moving no money: a refused request has its answer and no event.
    assert.deepEqual(typesOf(await eventsOf(t, poor)).filter((type) => type.startsWith('transfer_in.')), []);
    await transferIn(app, rich, '50.00', 'YEB001').expect(201);
    assertProblem(await transferIn(app, rich, '0.01', 'YEB001'), 409, 'fund_quota_exceeded');
    clock.set('2024-07-19T10:00:00+08:00');
    await transferIn(app, rich, '50.00', 'YEB001').expect(201);
    assert.equal((await FundQuota.findById('YEB001:2024-07-18').lean())?.subscribedFen, 5000n);
  });
});
