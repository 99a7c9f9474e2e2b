/**
 * Security limits never loosen with time or load (issue 22, failure 4): a payment-password
 * attempt reserved and never resolved counts as a failure until the lock's own lifecycle clears
 * it; password hashing has a bounded pool per process, a full one answers 503 at once; sign-in
 * is limited per address whatever the login id; login-password checks everywhere share one
 * stored counter and lockout.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { createApp } from '../../src/app.ts';
import { User } from '../../src/auth/model.ts';
import { FixedClock } from '../../src/calendar/clock.ts';
import { appConfig, type AppConfig } from '../../src/config/config.ts';
import { createContext } from '../../src/context.ts';
import {
  assertProblem,
  balancesOf,
  idempotencyKey,
  LOGIN_PASSWORD,
  newHolder,
  PAYMENT_PASSWORD,
  testApp,
  topUp,
  type Holder,
  type TestApp,
} from '../support/api.ts';
import { uniqueId } from '../support/database.ts';

const WRONG = '000000';

function withSecurity(t: TestApp, security: Partial<AppConfig['security']>): void {
  t.ctx.config = { ...t.ctx.config, security: { ...t.ctx.config.security, ...security } };
}

function withdrawal(t: TestApp, holder: Holder, paymentPassword: string) {
  return request(t.app)
    .post('/v1/me/withdrawals')
    .set(holder.auth)
    .set('Idempotency-Key', idempotencyKey())
    .send({ amount: '1.00', bankCardId: holder.bankCardId, paymentPassword });
}

const signInUnknown = (t: TestApp) => request(t.app).post('/v1/sessions').send({ loginId: uniqueId('nobody'), loginPassword: LOGIN_PASSWORD });

describe('payment-password attempts never loosen with time or load', function () {
  this.timeout(60_000);

  async function holderWithWallet(t: TestApp): Promise<Holder> {
    const holder = await newHolder(t.app);
    await topUp(t.app, holder, '10.00');
    return holder;
  }

  it('attempts a crash left reserved count as failures: even the right password is refused until the lock lifts', async () => {
    const t = testApp('2024-05-31T10:00:00+08:00');
    withSecurity(t, { paymentAttemptWaitMs: 200 });
    const holder = await holderWithWallet(t);
    // Three attempts reserved 20 s ago (real time and test time), none resolved, no lock: their process died.
    const reservedAt = new Date(Math.min(Date.now(), t.clock.now().getTime()) - 20_000);
    // (A field the reclaim-by-age of old read; written raw, as the schema no longer has it.)
    await User.collection.updateOne({ _id: holder.userId as never }, { $set: { paymentFailures: 3, paymentAttemptAt: reservedAt } });
    const balances = await balancesOf(holder.userId);

    const refused = await withdrawal(t, holder, PAYMENT_PASSWORD);
    assertProblem(refused, 423, 'payment_locked');
    assert.equal(refused.body.lockedUntil, new Date(t.clock.now().getTime() + t.ctx.config.security.paymentLockMs).toISOString());
    assert.deepEqual(await balancesOf(holder.userId), balances, 'nothing moved');

    t.clock.advance(t.ctx.config.security.paymentLockMs);
    await withdrawal(t, holder, PAYMENT_PASSWORD).expect(201);
    assert.equal((await User.findById(holder.userId).lean())!.paymentFailures, 0, 'the lifted lock left a fresh count');
  });

  it('a flood of unknown-id sign-ins during guesses checks no more than 3 payment passwords in one lock period, and a full hashing pool answers 503 at once', async () => {
    const t = testApp('2024-05-31T10:00:00+08:00');
    const holder = await holderWithWallet(t);
    withSecurity(t, { paymentAttemptWaitMs: 200, passwordHashing: { concurrency: 1, queueMax: 2 } });
    // Two wrong guesses checked, a third reserved 20 s ago whose check is stalled behind the flood.
    const reservedAt = new Date(Math.min(Date.now(), t.clock.now().getTime()) - 20_000);
    // (A field the reclaim-by-age of old read; written raw, as the schema no longer has it.)
    await User.collection.updateOne({ _id: holder.userId as never }, { $set: { paymentFailures: 3, paymentAttemptAt: reservedAt } });
    const balances = await balancesOf(holder.userId);

    const flood = Array.from({ length: 24 }, () => signInUnknown(t));
    // The attacker's guesses amid the flood; the last one happens to be right.
    const guesses = [WRONG, WRONG, WRONG, PAYMENT_PASSWORD].map((guess) => withdrawal(t, holder, guess));
    const [signIns, answers] = await Promise.all([Promise.all(flood), Promise.all(guesses)]);
    assert.deepEqual(await balancesOf(holder.userId), balances, 'nothing moved');
    const user = (await User.findById(holder.userId).lean())!;
    assert.equal(user.paymentFailures, 3, 'no attempt was handed out again');

    for (const answer of answers) {
      if (answer.status === 503) {
        assertProblem(answer, 503, 'password_checks_busy');
        assert.equal(answer.headers['retry-after'], '1');
      } else assertProblem(answer, 423, 'payment_locked');
    }
    const busySignIns = signIns.filter((answer) => answer.status === 503);
    assert.ok(busySignIns.length > 0, 'the flood saturated the pool: some sign-ins were turned away at once');
    for (const answer of signIns) {
      if (answer.status === 503) assertProblem(answer, 503, 'password_checks_busy');
      else assertProblem(answer, 401, 'login_failed');
    }
  });

  it('a full hashing pool turns a payment away with 503 and Retry-After at once: nothing counted, nothing moved', async () => {
    const t = testApp('2024-05-31T10:00:00+08:00');
    const holder = await holderWithWallet(t);
    withSecurity(t, { passwordHashing: { concurrency: 1, queueMax: 0 } });
    const balances = await balancesOf(holder.userId);
    const [first, second] = await Promise.all([signInUnknown(t), withdrawal(t, holder, WRONG)]);
    assertProblem(first, 401, 'login_failed');
    assertProblem(second, 503, 'password_checks_busy');
    assert.equal(second.headers['retry-after'], '1');
    assert.equal(second.body.retryAfterSeconds, 1);
    assert.equal((await User.findById(holder.userId).lean())!.paymentFailures, 0, 'nothing counted');
    assert.deepEqual(await balancesOf(holder.userId), balances, 'nothing moved');
  });
});

describe('sign-in limits', function () {
  this.timeout(60_000);

  it('limits sign-ins per address whatever the login id, unknown ids included', async () => {
    const config = appConfig();
    const rateLimits = { ...config.security.rateLimits, loginPerAddress: { windowMs: 60_000, max: 5 } };
    const ctx = createContext({ clock: new FixedClock('2024-05-31T10:00:00+08:00'), config: { ...config, security: { ...config.security, rateLimits } } });
    const app = createApp(ctx);
    for (let attempt = 0; attempt < 5; attempt++) {
      assertProblem(await request(app).post('/v1/sessions').send({ loginId: uniqueId('nobody'), loginPassword: LOGIN_PASSWORD }), 401, 'login_failed');
    }
    const limited = await request(app).post('/v1/sessions').send({ loginId: uniqueId('nobody'), loginPassword: LOGIN_PASSWORD });
    assertProblem(limited, 429, 'rate_limited');
    assert.ok(Number(limited.headers['retry-after']) > 0);
  });

  it('login-password guesses through PUT /v1/me/payment-password lock out, and sign-in shares the counter', async () => {
    const t = testApp('2024-05-31T10:00:00+08:00');
    const holder = await newHolder(t.app);
    const hashBefore = (await User.findById(holder.userId).lean())!.paymentPasswordHash;
    const reset = (loginPassword: string) =>
      request(t.app).put('/v1/me/payment-password').set(holder.auth).send({ loginPassword, paymentPassword: '246813' });
    const { loginPasswordMaxAttempts, loginLockMs } = t.ctx.config.security;
    // One wrong sign-in and the rest through the reset: one counter.
    assertProblem(await request(t.app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: 'not the password' }), 401, 'login_failed');
    for (let attempt = 1; attempt < loginPasswordMaxAttempts - 1; attempt++) {
      assertProblem(await reset('not the password'), 403, 'login_password_wrong');
    }
    const locking = await reset('not the password');
    assertProblem(locking, 423, 'login_locked');
    assert.equal(locking.body.lockedUntil, new Date(t.clock.now().getTime() + loginLockMs).toISOString());
    // Locked: even the right login password is refused, here and at sign-in, and nothing changes.
    assertProblem(await reset(LOGIN_PASSWORD), 423, 'login_locked');
    assertProblem(await request(t.app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: LOGIN_PASSWORD }), 401, 'login_failed');
    assert.equal((await User.findById(holder.userId).lean())!.paymentPasswordHash, hashBefore, 'the payment password is unchanged');

    t.clock.advance(loginLockMs);
    await reset(LOGIN_PASSWORD).expect(204);
    await request(t.app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: LOGIN_PASSWORD }).expect(201);
  });

  it('concurrent wrong login passwords check no more than the allowed number', async () => {
    const t = testApp('2024-05-31T10:00:00+08:00');
    const holder = await newHolder(t.app);
    const { loginPasswordMaxAttempts } = t.ctx.config.security;
    const answers = await Promise.all(
      Array.from({ length: loginPasswordMaxAttempts * 2 }, () =>
        request(t.app).put('/v1/me/payment-password').set(holder.auth).send({ loginPassword: 'not the password', paymentPassword: '246813' }),
      ),
    );
    const checked = answers.filter((answer) => answer.status === 403).length;
    assert.ok(checked <= loginPasswordMaxAttempts - 1, `${checked} wrong login passwords were refused unlocked`);
    assert.ok(answers.some((answer) => answer.status === 423), 'the account locked');
    for (const answer of answers) if (answer.status !== 403) assertProblem(answer, 423, 'login_locked');
  });
});
