import assert from 'node:assert/strict';
import request from 'supertest';
import { User } from '../../src/auth/model.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { assertProblem, balancesOf, idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp } from '../support/api.ts';
import { subscribedHolder } from '../support/income.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';

/** A holder with confirmed shares, a funded reserve of the test's own, and a way to redeem 1.00 instantly. */
async function holderWhoRedeems() {
  const t = testApp('2024-05-30T10:00:00+08:00');
  useOwnReserve(t);
  const ops = await newHolder(t.app, { ops: true });
  await adjustReserve(t, ops, '1000.00', 'increase').expect(201);
  const holder = await subscribedHolder(t, 'YEB001', '100.00');
  t.clock.set('2024-05-31T10:00:00+08:00');
  await advanceDueOperations(t.ctx);
  const instant = (paymentPassword: string) =>
    request(t.app).post('/v1/me/instant-redemptions').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', paymentPassword });
  return { t, holder, instant };
}

describe('the memory of verified payment passwords', function () {
  this.timeout(60_000);

  it('skips the slow hash for a password just verified, yet counts wrong ones and forgets on reset', async () => {
    const { t, holder, instant } = await holderWhoRedeems();
    await instant(PAYMENT_PASSWORD).expect(201);
    await instant(PAYMENT_PASSWORD).expect(201); // remembered
    assertProblem(await instant('000000'), 403, 'payment_password_wrong');
    assert.equal((await User.findById(holder.userId).lean())!.paymentFailures, 1);
    await instant(PAYMENT_PASSWORD).expect(201);
    assert.equal((await User.findById(holder.userId).lean())!.paymentFailures, 0, 'a right password resets the count');
    await request(t.app).put('/v1/me/payment-password').set(holder.auth).send({ loginPassword: LOGIN_PASSWORD, paymentPassword: '246801' }).expect(204);
    assertProblem(await instant(PAYMENT_PASSWORD), 403, 'payment_password_wrong');
    await instant('246801').expect(201);
  });

  it('a lock another process set stops money here at once, though this process remembers the password state', async () => {
    const { t, holder, instant } = await holderWhoRedeems();
    await instant(PAYMENT_PASSWORD).expect(201); // the slow check
    await instant(PAYMENT_PASSWORD).expect(201); // the quiet path: the state is read and remembered
    const other = testApp('2024-05-31T10:00:00+08:00'); // a second process on the same database
    const wrongThere = () =>
      request(other.app).post('/v1/me/instant-redemptions').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', paymentPassword: '000000' });
    assertProblem(await wrongThere(), 403, 'payment_password_wrong');
    assertProblem(await wrongThere(), 403, 'payment_password_wrong');
    assertProblem(await wrongThere(), 423, 'payment_locked');
    const before = await balancesOf(holder.userId);
    // Here the right, just verified password passes the remembered state, but the lock raised
    // the epoch its leg is guarded by: refused, and the remembered state is forgotten...
    assertProblem(await instant(PAYMENT_PASSWORD), 409, 'security_state_changed');
    // ...so the next request sees the lock.
    assertProblem(await instant(PAYMENT_PASSWORD), 423, 'payment_locked');
    assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
  });

  it('counts attempts checks in flight hold for the whole wait as failures: payments lock, nothing moves', async () => {
    const { t, holder, instant } = await holderWhoRedeems();
    t.ctx.config = { ...t.ctx.config, security: { ...t.ctx.config.security, paymentAttemptWaitMs: 300 } };
    // Three checks reserved and unresolved (running, stalled or dead: nobody can tell), no lock.
    await User.updateOne({ _id: holder.userId }, { $set: { paymentFailures: 3 } });
    const before = await balancesOf(holder.userId);
    const answer = await instant(PAYMENT_PASSWORD);
    assertProblem(answer, 423, 'payment_locked');
    const lockedUntil = new Date(t.clock.now().getTime() + t.ctx.config.security.paymentLockMs);
    assert.equal(answer.body.lockedUntil, lockedUntil.toISOString());
    const user = (await User.findById(holder.userId).lean())!;
    assert.deepEqual([user.paymentFailures, user.paymentLockedUntil], [3, lockedUntil], 'locked, no attempt taken');
    assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
  });
});
