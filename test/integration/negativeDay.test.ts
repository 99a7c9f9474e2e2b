import assert from 'node:assert/strict';
import request from 'supertest';
import { fundDay } from '../support/income.ts';
import { foldIncome } from '../../src/income/fold.ts';
import { reconcileJournal } from '../../src/reconciliation/service.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { balancesOf, newHolder, testApp, topUp, type Holder, type TestApp } from '../support/api.ts';
import { accrueAt, addTestFund, incomeOf, publish, redeem, subscribedHolder, transferIn } from '../support/income.ts';
import { instant } from '../support/instant.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';

async function accountOf(t: TestApp, holder: Holder) {
  return (await request(t.app).get('/v1/me/account').set(holder.auth).expect(200)).body;
}

async function breaksOf(userId: string) {
  return (await reconcileJournal()).breaks.filter((item) => item.userId === userId);
}

/**
 * Issue failure 6: a leg on D+1 decided before D's accrual closed redeems shares that D's loss
 * then takes. The loss the shares no longer cover is owed by the holder and taken from the
 * next shares in: never a negative balance, and never a fund whose accrual stops.
 */
describe('a redemption racing a negative day\'s accrual', function () {
  this.timeout(120_000);
  let t: TestApp;
  let ops: Holder;
  let fund: string;
  let holder: Holder;

  beforeEach(async () => {
    t = testApp('2024-05-30T14:00:00+08:00');
    ops = await newHolder(t.app, { ops: true });
    fund = addTestFund(t);
    holder = await subscribedHolder(t, fund, '10000.00'); // Thu 14:00, confirmed Fri 05-31
    t.clock.set('2024-05-31T09:00:00+08:00');
    await advanceDueOperations(t.ctx);
    await publish(t, ops, fund, '2024-05-31', '-5.0000'); // 10,000 shares lose 5.00
    await publish(t, ops, fund, '2024-06-01', '1.0000');
    await publish(t, ops, fund, '2024-06-02', '1.0000');
    t.clock.set('2024-06-01T00:30:00+08:00'); // after midnight, before 05-31 is accrued
  });

  async function assertOwesFiveYuan() {
    assert.deepEqual(await accrueAt(t, fund, '2024-05-31'), ['2024-05-31']);
    await foldIncome(holder.userId);
    assert.equal((await balancesOf(holder.userId)).sharesFen, 0n, 'shares never go below zero');
    const account = await accountOf(t, holder);
    assert.equal(account.shares, '0.00');
    assert.equal(account.owed, '5.00');
    assert.deepEqual(await breaksOf(holder.userId), []);
    // The next day's accrual goes on: the holder earns nothing on the loss it owes.
    assert.deepEqual(await accrueAt(t, fund, '2024-06-01'), ['2024-06-01']);
    assert.equal((await fundDay(fund, '2024-06-01')).status, 'accrued');
    const owing = (await incomeOf(holder.userId, '2024-06-01'))!;
    assert.deepEqual([owing.eligibleSharesFen, owing.incomeFen, owing.shortfallFen], [0n, 0n, 500n]);
    // Shares in pay it first: 10.00 in leaves 5.00 of shares, and 5.00 earns from then on.
    await topUp(t.app, holder, '10.00');
    await transferIn(t.app, holder, fund, '10.00'); // Sat 06-01 → confirmed Tue 06-04
    t.clock.set('2024-06-04T09:00:00+08:00');
    await advanceDueOperations(t.ctx);
    await foldIncome(holder.userId);
    assert.equal((await accountOf(t, holder)).shares, '5.00');
    assert.equal((await accountOf(t, holder)).owed, '0.00');
    assert.deepEqual(await breaksOf(holder.userId), []);
  }

  it('a normal redemption of everything: the loss is owed, the next accrual runs, shares in pay it', async () => {
    await redeem(t.app, holder, '10000.00');
    await assertOwesFiveYuan();
  });

  it('an instant redemption of everything: the same', async () => {
    useOwnReserve(t);
    await adjustReserve(t, ops, '200000.00', 'increase').expect(201);
    const answer = await instant(t, holder, '10000.00');
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    await assertOwesFiveYuan();
  });
});
