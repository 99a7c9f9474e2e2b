import assert from 'node:assert/strict';
import request from 'supertest';
import { sweepWallets } from '../../src/sweep/service.ts';
import { assertProblem, balancesOf, newHolder, testApp, topUp, type Holder, type TestApp } from '../support/api.ts';

describe('auto-sweep', function () {
  this.timeout(60_000);
  let t: TestApp;
  let holder: Holder;

  beforeEach(async () => {
    t = testApp('2024-06-03T10:00:00+08:00');
    holder = await newHolder(t.app);
    await topUp(t.app, holder, '1000.00');
  });

  it('moves the wallet above the amount to keep into the fund each morning, once a day', async () => {
    const setting = await request(t.app).put('/v1/me/auto-sweep').set(holder.auth).send({ enabled: true, keep: '100.00' }).expect(200);
    assert.deepEqual(setting.body, { enabled: true, keep: '100.00', onArrival: false });
    t.clock.set('2024-06-04T06:00:00+08:00');
    await sweepWallets(t.ctx);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 10_000n, sharesFen: 0n, subscribingFen: 90_000n, redeemingFen: 0n });
    await topUp(t.app, holder, '5.00');
    await sweepWallets(t.ctx); // the same morning again: today's sweep is done
    assert.equal((await balancesOf(holder.userId)).walletFen, 10_500n);
    const history = (await request(t.app).get('/v1/me/operations').set(holder.auth).expect(200)).body.items;
    const sweep = history.find((op: { type: string }) => op.type === 'transfer_in');
    assert.equal(sweep.amount, '900.00');
    assert.equal(sweep.tradeDate, '2024-06-04'); // a normal transfer-in with its own trade date
    assert.equal(sweep.confirmDate, '2024-06-05');
  });

  it('sweeps a top-up as it arrives when asked to, and never below the amount to keep', async () => {
    await request(t.app).put('/v1/me/auto-sweep').set(holder.auth).send({ enabled: true, keep: '1000.00', onArrival: true }).expect(200);
    await topUp(t.app, holder, '30.00');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 100_000n, sharesFen: 0n, subscribingFen: 3_000n, redeemingFen: 0n });
    await request(t.app).put('/v1/me/auto-sweep').set(holder.auth).send({ enabled: false, keep: '0', onArrival: true }).expect(200);
    await topUp(t.app, holder, '30.00');
    assert.equal((await balancesOf(holder.userId)).walletFen, 103_000n);
  });

  it('refuses a bad setting and changes nothing', async () => {
    for (const body of [{ enabled: true, keep: '-1' }, { enabled: 'yes', keep: '1' }, { enabled: true }, { enabled: true, keep: '1', extra: 1 }]) {
      assertProblem(await request(t.app).put('/v1/me/auto-sweep').set(holder.auth).send(body), 400, 'invalid_request');
    }
    const account = (await request(t.app).get('/v1/me/account').set(holder.auth).expect(200)).body;
    assert.deepEqual(account.autoSweep, { enabled: false, keep: '0.00', onArrival: false });
  });
});
