/**
 * The security rules of domain.md: passwords kept only as slow salted hashes; three wrong
 * payment passwords lock money-out for 3 hours (lifted by time or by a reset), also under
 * concurrent attempts; a user sees only their own money and ops endpoints need the ops
 * role; sign-in does not tell which login ids exist; sessions expire.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Response } from 'supertest';
import type { Express } from 'express';
import { Session, User } from '../../src/auth/model.ts';
import { setRole } from '../../src/auth/service.ts';
import { Operation } from '../../src/operations/model.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import {
  balancesOf,
  idempotencyKey,
  LOGIN_PASSWORD,
  newHolder,
  PAYMENT_PASSWORD,
  testApp,
  topUp,
  type Holder,
  assertProblem,
} from '../support/api.ts';
import { uniqueId } from '../support/database.ts';

const HOUR_MS = 60 * 60 * 1000;
const LOCK_MS = 3 * HOUR_MS;
const WRONG = '000000';

/** Stored documents as text (their bigints included), to search for secrets. */
const asText = (value: unknown) => JSON.stringify(value, (_key, field) => (typeof field === 'bigint' ? field.toString() : field));


async function historyIds(app: Express, holder: Holder): Promise<string[]> {
  const response = await request(app).get('/v1/me/operations?limit=100').set(holder.auth).expect(200);
  return (response.body.items as { id: string }[]).map((item) => item.id).sort();
}

describe('password storage', () => {
  const { app } = testApp();

  it('keeps the login and payment passwords only as salted scrypt hashes', async () => {
    const holders = await Promise.all([newHolder(app), newHolder(app)]);
    const users = await Promise.all(holders.map((holder) => User.findById(holder.userId).lean()));
    for (const user of users) {
      assert.ok(user, 'the user exists');
      const stored = asText(user);
      assert.ok(!stored.includes(LOGIN_PASSWORD), 'no login password in the document');
      assert.ok(!stored.includes(`"${PAYMENT_PASSWORD}"`), 'no payment password in the document');
      for (const hash of [user.loginPasswordHash, user.paymentPasswordHash]) {
        assert.match(String(hash), /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
        assert.ok(Number(String(hash).split('$')[1]) >= 2 ** 14, 'a slow cost parameter');
      }
    }
    // The same passwords give different hashes: each one has its own salt.
    assert.notEqual(users[0]?.loginPasswordHash, users[1]?.loginPasswordHash);
    assert.notEqual(users[0]?.paymentPasswordHash, users[1]?.paymentPasswordHash);
  });

  it('keeps neither the bearer token of a session nor the payment password of an operation', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    await request(app)
      .post('/v1/me/withdrawals')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '1.00', bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD })
      .expect(201);
    const sessions = await Session.find({ userId: holder.userId }).lean();
    assert.equal(sessions.length, 1);
    assert.ok(!asText(sessions).includes(holder.token), 'no token in the sessions');
    const operations = await Operation.find({ userId: holder.userId }).lean();
    assert.equal(operations.length, 2);
    assert.ok(!asText(operations).includes(`"${PAYMENT_PASSWORD}"`), 'no payment password in the operations');
  });
});

describe('payment password lockout', () => {
  const { app, ctx, clock } = testApp();

  /** 80.00 in the wallet and 20.00 of confirmed shares, at Fri 2024-05-31 10:00. */
  async function holderWithMoney(): Promise<Holder> {
    clock.set('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(app);
    await topUp(app, holder, '100.00');
    await request(app)
      .post('/v1/me/transfers-in')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '20.00', channel: 'wallet', fundCode: 'YEB001' })
      .expect(201);
    clock.set('2024-05-31T00:00:01+08:00');
    await advanceDueOperations(ctx);
    clock.set('2024-05-31T10:00:00+08:00');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 8000n, sharesFen: 2000n, subscribingFen: 0n, redeemingFen: 0n });
    return holder;
  }

  /** Every way money leaves a holding that this API offers, 1.00 at a time. */
  const moneyOut = {
    withdrawal: (holder: Holder, paymentPassword: string) =>
      request(app)
        .post('/v1/me/withdrawals')
        .set(holder.auth)
        .set('Idempotency-Key', idempotencyKey())
        .send({ amount: '1.00', bankCardId: holder.bankCardId, paymentPassword }),
    redemption: (holder: Holder, paymentPassword: string) =>
      request(app)
        .post('/v1/me/redemptions')
        .set(holder.auth)
        .set('Idempotency-Key', idempotencyKey())
        .send({ amount: '1.00', channel: 'wallet', paymentPassword }),
  };
  const ways = Object.entries(moneyOut);

  const lockedUntilFrom = (lockedAt: Date) => new Date(lockedAt.getTime() + LOCK_MS).toISOString();

  /** Both ways out answer 423 with this lockedUntil, even with the right password. */
  async function assertLocked(holder: Holder, lockedUntil: string): Promise<void> {
    for (const [way, send] of ways) {
      const response = await send(holder, PAYMENT_PASSWORD);
      assertProblem(response, 423, 'payment_locked');
      assert.equal(response.body.lockedUntil, lockedUntil, `${way} locked until`);
    }
  }

  /** Three wrong passwords, the last one locks: returns the lockedUntil it answered. */
  async function lockOut(holder: Holder): Promise<string> {
    const first = await moneyOut.withdrawal(holder, WRONG);
    assertProblem(first, 403, 'payment_password_wrong');
    assert.equal(first.body.attemptsLeft, 2);
    const second = await moneyOut.redemption(holder, WRONG);
    assertProblem(second, 403, 'payment_password_wrong');
    assert.equal(second.body.attemptsLeft, 1);
    const third = await moneyOut.withdrawal(holder, WRONG);
    assertProblem(third, 423, 'payment_locked');
    assert.equal(third.body.lockedUntil, lockedUntilFrom(clock.now()));
    return third.body.lockedUntil;
  }

  it('runs with 3 attempts and a 3-hour lock', () => {
    assert.equal(ctx.config.security.paymentPasswordMaxAttempts, 3);
    assert.equal(ctx.config.security.paymentLockMs, LOCK_MS);
  });

  it('three wrong passwords lock withdrawal and redemption for 3 hours; then the lock lifts by itself', async () => {
    const holder = await holderWithMoney();
    const balances = await balancesOf(holder.userId);
    const history = await historyIds(app, holder);

    const lockedUntil = await lockOut(holder);
    await assertLocked(holder, lockedUntil);
    assertProblem(await moneyOut.withdrawal(holder, WRONG), 423, 'payment_locked');
    assert.deepEqual(await balancesOf(holder.userId), balances, 'nothing moved');
    assert.deepEqual(await historyIds(app, holder), history, 'no operation was written');

    clock.advance(LOCK_MS - 1000);
    await assertLocked(holder, lockedUntil);
    assert.deepEqual(await balancesOf(holder.userId), balances, 'nothing moved');

    clock.advance(1000);
    await moneyOut.withdrawal(holder, PAYMENT_PASSWORD).expect(201);
    await moneyOut.redemption(holder, PAYMENT_PASSWORD).expect(201);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 7900n, sharesFen: 1900n, subscribingFen: 0n, redeemingFen: 100n });

    // The lifted lock leaves a fresh count of attempts.
    const wrong = await moneyOut.withdrawal(holder, WRONG);
    assertProblem(wrong, 403, 'payment_password_wrong');
    assert.equal(wrong.body.attemptsLeft, 2);
  });

  it('resetting the payment password with the login password lifts the lock at once', async () => {
    const holder = await holderWithMoney();
    const lockedUntil = await lockOut(holder);

    const notReset = await request(app)
      .put('/v1/me/payment-password')
      .set(holder.auth)
      .send({ loginPassword: 'not the login password', paymentPassword: '246813' });
    assertProblem(notReset, 403, 'login_password_wrong');
    await assertLocked(holder, lockedUntil);

    await request(app)
      .put('/v1/me/payment-password')
      .set(holder.auth)
      .send({ loginPassword: LOGIN_PASSWORD, paymentPassword: '246813' })
      .expect(204);
    await moneyOut.withdrawal(holder, '246813').expect(201);
    await moneyOut.redemption(holder, '246813').expect(201);
    const old = await moneyOut.withdrawal(holder, PAYMENT_PASSWORD);
    assertProblem(old, 403, 'payment_password_wrong');
    assert.equal(old.body.attemptsLeft, 2);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 7900n, sharesFen: 1900n, subscribingFen: 0n, redeemingFen: 100n });
  });

  it('a right password after two wrong ones resets the count', async () => {
    const holder = await holderWithMoney();
    for (let round = 0; round < 2; round++) {
      assert.equal((await moneyOut.withdrawal(holder, WRONG)).body.attemptsLeft, 2);
      assert.equal((await moneyOut.redemption(holder, WRONG)).body.attemptsLeft, 1);
      await moneyOut.withdrawal(holder, PAYMENT_PASSWORD).expect(201);
    }
    const wrong = await moneyOut.redemption(holder, WRONG);
    assertProblem(wrong, 403, 'payment_password_wrong');
    assert.equal(wrong.body.attemptsLeft, 2);
    assert.equal((await balancesOf(holder.userId)).walletFen, 7800n);
  });

  describe('under concurrent attempts', () => {
    /** Six wrong passwords at once, half by withdrawal, half by redemption. */
    async function sixWrongAtOnce(holder: Holder): Promise<Response[]> {
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, index) => (index % 2 === 0 ? moneyOut.withdrawal : moneyOut.redemption)(holder, WRONG)),
      );
      for (const answer of answers) {
        if (answer.status === 403) assertProblem(answer, 403, 'payment_password_wrong');
        else assertProblem(answer, 423, 'payment_locked');
      }
      return answers;
    }

    it('six wrong passwords at once still lock, and the lock holds', async () => {
      const holder = await holderWithMoney();
      const balances = await balancesOf(holder.userId);
      const history = await historyIds(app, holder);

      const answers = await sixWrongAtOnce(holder);
      assert.ok(answers.some((answer) => answer.status === 423), 'some attempt locked');
      const lockedUntil = lockedUntilFrom(clock.now());
      await assertLocked(holder, lockedUntil);
      clock.advance(LOCK_MS - 1000);
      await assertLocked(holder, lockedUntil);
      assert.deepEqual(await balancesOf(holder.userId), balances, 'nothing moved');
      assert.deepEqual(await historyIds(app, holder), history, 'no operation was written');
    });

    // Product bug (see the report): every request reads the lock before its (slow) scrypt
    // check, so all concurrent attempts are checked and counted, and the count is reset by
    // a separate update; an attacker gets as many guesses as requests sent at once, and
    // leftover counts may re-lock the holder after a single wrong password once the lock lifts.
    it('six wrong passwords at once check no more than three, and leave a fresh count after the lock', async () => {
      const holder = await holderWithMoney();
      const answers = await sixWrongAtOnce(holder);
      const checkedAndRefused = answers.filter((answer) => answer.status === 403).length;
      assert.ok(checkedAndRefused <= 2, `${checkedAndRefused} wrong passwords were checked before the lock, at most 2 may be`);

      clock.advance(LOCK_MS);
      const wrong = await moneyOut.withdrawal(holder, WRONG);
      assertProblem(wrong, 403, 'payment_password_wrong');
      assert.equal(wrong.body.attemptsLeft, 2);
    });
  });
});

describe('who sees what', () => {
  const { app } = testApp();
  let alice: Holder;
  let bob: Holder;
  let ops: Holder;
  let bobsOperationId: string;

  before(async () => {
    [alice, bob, ops] = await Promise.all([newHolder(app), newHolder(app), newHolder(app, { ops: true })]);
    await topUp(app, bob, '5.00');
    [bobsOperationId] = (await historyIds(app, bob)) as [string];
  });

  it("a user reading another's account gets 404, exactly as for an account that does not exist", async () => {
    const others = await request(app).get(`/v1/accounts/${bob.userId}`).set(alice.auth);
    assertProblem(others, 404, 'not_found');
    assert.ok(!JSON.stringify(others.body).includes('5.00'), 'no balance leaks');
    const missing = await request(app).get(`/v1/accounts/${uniqueId('u')}`).set(alice.auth);
    assert.deepEqual(others.body, missing.body);
  });

  it('a user reads their own account by id', async () => {
    const own = await request(app).get(`/v1/accounts/${bob.userId}`).set(bob.auth).expect(200);
    assert.equal(own.body.userId, bob.userId);
    assert.equal(own.body.wallet, '5.00');
  });

  it("a user reading another's operation gets 404, and does not see it in their history", async () => {
    assertProblem(await request(app).get(`/v1/me/operations/${bobsOperationId}`).set(alice.auth), 404, 'not_found');
    assert.ok(!(await historyIds(app, alice)).includes(bobsOperationId));
    const own = await request(app).get(`/v1/me/operations/${bobsOperationId}`).set(bob.auth).expect(200);
    assert.equal(own.body.operation.id, bobsOperationId);
    assert.equal(own.body.operation.amount, '5.00');
  });

  it('an ops user reads any account and the reconciliation', async () => {
    const account = await request(app).get(`/v1/accounts/${bob.userId}`).set(ops.auth).expect(200);
    assert.equal(account.body.userId, bob.userId);
    assert.equal(account.body.wallet, '5.00');
    const reconciliation = await request(app).get('/v1/ops/reconciliation').set(ops.auth).expect(200);
    assert.equal(typeof reconciliation.body.balanced, 'boolean');
    assert.ok(reconciliation.body.accountsChecked >= 3);
  });

  it('taking the ops role away takes effect on the next request of an open session', async () => {
    const former = await newHolder(app, { ops: true });
    await request(app).get('/v1/ops/reconciliation').set(former.auth).expect(200);
    // The holder's routes remember the session (with the ops role) in this process...
    await request(app).get('/v1/me/account').set(former.auth).expect(200);
    await setRole(former.loginId, 'ops', false);
    // ...the ops routes read it afresh.
    assertProblem(await request(app).get('/v1/ops/reconciliation').set(former.auth), 403, 'forbidden');
    await request(app).get('/v1/me/account').set(former.auth).expect(200);
  });

  it('a plain user gets 403 on ops endpoints, and no token gets 401', async () => {
    assertProblem(await request(app).get('/v1/ops/reconciliation').set(alice.auth), 403, 'forbidden');
    assertProblem(await request(app).get('/v1/ops/reconciliation'), 401, 'unauthenticated');
    assertProblem(await request(app).get(`/v1/accounts/${alice.userId}`), 401, 'unauthenticated');
  });
});

describe('sign-in and registration', () => {
  const { app } = testApp();

  it('a wrong password and an unknown login id get the same 401', async () => {
    const holder = await newHolder(app);
    const wrongPassword = await request(app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: 'not the password' });
    const unknownId = await request(app).post('/v1/sessions').send({ loginId: uniqueId('nobody'), loginPassword: LOGIN_PASSWORD });
    assertProblem(wrongPassword, 401, 'login_failed');
    assertProblem(unknownId, 401, 'login_failed');
    assert.deepEqual(wrongPassword.body, unknownId.body);
    assert.equal(await Session.countDocuments({ userId: holder.userId }), 1, 'no session was opened');
  });

  it('registering a taken login id gets 409 and leaves the first user as it was', async () => {
    const holder = await newHolder(app);
    const taken = await request(app).post('/v1/users').send({ loginId: holder.loginId, loginPassword: 'another password' });
    assertProblem(taken, 409, 'login_id_taken');
    assert.equal(await User.countDocuments({ loginId: holder.loginId }), 1);
    await request(app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: LOGIN_PASSWORD }).expect(201);
    assertProblem(
      await request(app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: 'another password' }),
      401,
      'login_failed',
    );
  });
});

describe('session lifetime', () => {
  const { app, ctx, clock } = testApp();

  it('a token works until its lifetime is over, then gets 401', async () => {
    const lifetimeMs = ctx.config.security.tokenLifetimeMs;
    const holder = await newHolder(app);
    await topUp(app, holder, '3.00');
    const session = await request(app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: LOGIN_PASSWORD }).expect(201);
    assert.equal(session.body.expiresAt, new Date(clock.now().getTime() + lifetimeMs).toISOString());

    clock.advance(lifetimeMs - 1);
    await request(app).get('/v1/me/account').set(holder.auth).expect(200);

    clock.advance(1);
    assertProblem(await request(app).get('/v1/me/account').set(holder.auth), 401, 'unauthenticated');
    const balances = await balancesOf(holder.userId);
    assertProblem(
      await request(app)
        .post('/v1/me/withdrawals')
        .set(holder.auth)
        .set('Idempotency-Key', idempotencyKey())
        .send({ amount: '1.00', bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD }),
      401,
      'unauthenticated',
    );
    assert.deepEqual(await balancesOf(holder.userId), balances);

    const again = await request(app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: LOGIN_PASSWORD }).expect(201);
    await request(app).get('/v1/me/account').set('Authorization', `Bearer ${again.body.token}`).expect(200);
  });
});
