/**
 * Transfer-in end to end: the trade date and confirm date of every worked example in
 * domain.md, the seconds around the 15:00 cut-off, a holiday week, confirmation by the job,
 * races for one wallet and idempotent replays.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { balancesOf, idempotencyKey, newHolder, runDueJobsAround, testApp, topUp, type Holder } from '../support/api.ts';

const t = testApp();
const { app, clock } = t;

function transferIn(holder: Holder, amount: string, key = idempotencyKey()) {
  return request(app)
    .post('/v1/me/transfers-in')
    .set(holder.auth)
    .set('Idempotency-Key', key)
    .send({ amount, channel: 'wallet', fundCode: 'YEB001' });
}

describe('transfer-in', () => {
  const examples = [
    { at: '2024-05-30T14:00:00+08:00', tradeDate: '2024-05-30', confirmDate: '2024-05-31', why: 'Thu before cut-off' },
    { at: '2024-05-31T15:30:00+08:00', tradeDate: '2024-06-03', confirmDate: '2024-06-04', why: 'Fri after cut-off' },
    { at: '2024-06-07T14:00:00+08:00', tradeDate: '2024-06-07', confirmDate: '2024-06-11', why: 'Fri before Dragon Boat' },
    { at: '2024-06-06T14:00:00+08:00', tradeDate: '2024-06-06', confirmDate: '2024-06-07', why: 'Thu before Dragon Boat' },
    { at: '2024-05-29T14:59:59+08:00', tradeDate: '2024-05-29', confirmDate: '2024-05-30', why: 'one second before cut-off' },
    { at: '2024-05-29T15:00:00+08:00', tradeDate: '2024-05-30', confirmDate: '2024-05-31', why: 'at the cut-off' },
    { at: '2024-09-30T14:00:00+08:00', tradeDate: '2024-09-30', confirmDate: '2024-10-08', why: 'before National Day' },
    { at: '2024-09-30T15:00:00+08:00', tradeDate: '2024-10-08', confirmDate: '2024-10-09', why: 'cut-off before National Day' },
    { at: '2024-10-03T10:00:00+08:00', tradeDate: '2024-10-08', confirmDate: '2024-10-09', why: 'inside National Day' },
    { at: '2024-10-12T10:00:00+08:00', tradeDate: '2024-10-14', confirmDate: '2024-10-15', why: 'weekend make-up working day' },
    { at: '2024-05-30T23:30:00+08:00', tradeDate: '2024-05-31', confirmDate: '2024-06-03', why: 'Shanghai night is UTC afternoon' },
  ];

  for (const example of examples) {
    it(`${example.why}: ${example.at} trades ${example.tradeDate}, confirms ${example.confirmDate}`, async () => {
      clock.set(example.at);
      const holder = await newHolder(app);
      await topUp(app, holder, '100.00');
      const response = await transferIn(holder, '40.00').expect(201);
      assert.equal(response.body.operation.tradeDate, example.tradeDate);
      assert.equal(response.body.operation.confirmDate, example.confirmDate);
      assert.deepEqual(await balancesOf(holder.userId), { walletFen: 6000n, sharesFen: 0n, subscribingFen: 4000n, redeemingFen: 0n });

      const { dayBefore, onTheDay } = await runDueJobsAround(t, example.confirmDate, holder.userId);
      assert.equal(dayBefore.sharesFen, 0n, 'not confirmed the day before');
      assert.deepEqual(onTheDay, { walletFen: 6000n, sharesFen: 4000n, subscribingFen: 0n, redeemingFen: 0n });
      const account = await request(app).get('/v1/me/account').set(holder.auth).expect(200);
      assert.equal(account.body.shares, '40.00');
      assert.deepEqual(account.body.pendingSubscriptions, []);
    });
  }

  it('shows pending subscriptions with their dates on the account', async () => {
    clock.set('2024-06-07T14:00:00+08:00');
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    await transferIn(holder, '2.50').expect(201);
    const account = await request(app).get('/v1/me/account').set(holder.auth).expect(200);
    assert.equal(account.body.fund.code, 'YEB001');
    assert.equal(account.body.wallet, '7.50');
    assert.equal(account.body.subscribing, '2.50');
    assert.equal(account.body.total, '10.00');
    assert.equal(account.body.pendingSubscriptions.length, 1);
    assert.equal(account.body.pendingSubscriptions[0].confirmDate, '2024-06-11');
  });

  it('from a bank card: the card is charged and the money is subscribed', async () => {
    clock.set('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(app);
    await request(app)
      .post('/v1/me/transfers-in')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '12.34', channel: 'bank_card', bankCardId: holder.bankCardId, fundCode: 'YEB001' })
      .expect(201);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 0n, sharesFen: 0n, subscribingFen: 1234n, redeemingFen: 0n });
  });

  it('50 concurrent transfer-ins from a wallet that affords 10: exactly 10 succeed', async () => {
    clock.set('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(app);
    await topUp(app, holder, '100.00');
    const responses = await Promise.all(Array.from({ length: 50 }, () => transferIn(holder, '10.00')));
    const statuses = responses.map((response) => response.status);
    assert.equal(statuses.filter((status) => status === 201).length, 10);
    assert.equal(statuses.filter((status) => status === 409).length, 40);
    for (const refused of responses.filter((response) => response.status === 409)) {
      assert.equal(refused.body.code, 'insufficient_balance');
    }
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 0n, sharesFen: 0n, subscribingFen: 10000n, redeemingFen: 0n });
  });

  it('a replayed Idempotency-Key returns the first answer and moves nothing', async () => {
    clock.set('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(app);
    await topUp(app, holder, '50.00');
    const key = idempotencyKey();
    const first = await transferIn(holder, '20.00', key).expect(201);
    const again = await transferIn(holder, '20.00', key).expect(201);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.deepEqual(again.body, first.body);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 3000n, sharesFen: 0n, subscribingFen: 2000n, redeemingFen: 0n });
  });

  it('ten racing requests with one key move the money once', async () => {
    clock.set('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(app);
    await topUp(app, holder, '50.00');
    const key = idempotencyKey();
    const responses = await Promise.all(Array.from({ length: 10 }, () => transferIn(holder, '20.00', key)));
    for (const response of responses) assert.ok([201, 409].includes(response.status), `status ${response.status}`);
    assert.ok(responses.some((response) => response.status === 201));
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 3000n, sharesFen: 0n, subscribingFen: 2000n, redeemingFen: 0n });
    const history = await request(app).get('/v1/me/operations').set(holder.auth).expect(200);
    assert.equal(history.body.items.filter((item: { type: string }) => item.type === 'transfer_in').length, 1);
  });

  it('the first transfer-in must pick a fund, and switching funds needs an empty position', async () => {
    clock.set('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(app);
    await topUp(app, holder, '30.00');
    const send = (body: object) =>
      request(app).post('/v1/me/transfers-in').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send(body);
    const noFund = await send({ amount: '1.00', channel: 'wallet' }).expect(422);
    assert.equal(noFund.body.code, 'fund_required');
    await send({ amount: '10.00', channel: 'wallet', fundCode: 'YEB001' }).expect(201);
    const switched = await send({ amount: '10.00', channel: 'wallet', fundCode: 'MMF002' }).expect(409);
    assert.equal(switched.body.code, 'fund_switch_not_allowed');
    await send({ amount: '5.00', channel: 'wallet' }).expect(201);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 1500n, sharesFen: 0n, subscribingFen: 1500n, redeemingFen: 0n });
  });
});
