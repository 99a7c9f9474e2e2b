/**
 * Ending sessions, and revocation that is exact across processes (issue 22, session gaps):
 * sign-out of this token, sign-out everywhere, a payment-password reset that revokes the
 * holder's other sessions; a reset, a lock or a sign-out made through one process stops money
 * through another at once, though that one remembers the session and the password state.
 * Two app contexts stand for two processes: they share nothing in memory.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { Account } from '../../src/accounts/model.ts';
import { Session, User } from '../../src/auth/model.ts';
import { startOperation } from '../../src/operations/service.ts';
import { advanceOperation } from '../../src/operations/machine.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { assertProblem, balancesOf, idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp, topUp, type Holder, type TestApp } from '../support/api.ts';
import { subscribedHolder } from '../support/income.ts';
import { adjustReserve, ArmedFaults, useOwnReserve } from '../support/reserve.ts';
import { NO_FAULTS } from '../../src/faults.ts';

const WRONG = '000000';

/** Process A with a holder who redeems instantly, and process B on the same database and clock. */
async function twoProcesses() {
  const a = testApp('2024-05-30T10:00:00+08:00');
  useOwnReserve(a);
  const ops = await newHolder(a.app, { ops: true });
  await adjustReserve(a, ops, '1000.00', 'increase').expect(201);
  const holder = await subscribedHolder(a, 'YEB001', '100.00');
  a.clock.set('2024-05-31T10:00:00+08:00');
  await advanceDueOperations(a.ctx);
  const b = testApp('2024-05-31T10:00:00+08:00');
  const instant = (t: TestApp, who: Pick<Holder, 'auth'>, paymentPassword = PAYMENT_PASSWORD) =>
    request(t.app).post('/v1/me/instant-redemptions').set(who.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', paymentPassword });
  // A verifies and pays twice: its session and password state are remembered, the password verified.
  await instant(a, holder).expect(201);
  await instant(a, holder).expect(201);
  return { a, b, holder, instant };
}

async function signIn(t: TestApp, holder: Holder): Promise<Pick<Holder, 'auth'>> {
  const session = await request(t.app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: LOGIN_PASSWORD }).expect(201);
  return { auth: { Authorization: `Bearer ${session.body.token}` } };
}

describe('revocation across processes', function () {
  this.timeout(60_000);

  it('signing out through B makes the token 401 on money routes everywhere at once, and everywhere once A forgets it', async () => {
    const { a, b, holder, instant } = await twoProcesses();
    const other = await signIn(a, holder);
    await request(b.app).delete('/v1/me/session').set(holder.auth).expect(204);
    const before = await balancesOf(holder.userId);
    assertProblem(await instant(a, holder), 401, 'unauthenticated');
    assertProblem(await instant(b, holder), 401, 'unauthenticated');
    assertProblem(await request(b.app).get('/v1/me/account').set(holder.auth), 401, 'unauthenticated');
    // Read-only routes in A may use the session A read for security.sessionMemoryMs.
    a.clock.advance(a.ctx.config.security.sessionMemoryMs);
    assertProblem(await request(a.app).get('/v1/me/account').set(holder.auth), 401, 'unauthenticated');
    assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
    // The holder's other session goes on.
    await instant(a, other).expect(201);
  });

  it('signing out everywhere through B ends every session of the holder: money through A is refused at once', async () => {
    const { a, b, holder, instant } = await twoProcesses();
    const other = await signIn(a, holder);
    await instant(a, other).expect(201);
    await request(b.app).delete('/v1/me/sessions').set(holder.auth).expect(204);
    const before = await balancesOf(holder.userId);
    for (const who of [holder, other]) assertProblem(await instant(a, who), 401, 'unauthenticated');
    assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
    assert.equal(await Session.countDocuments({ userId: holder.userId }), 0);
    const again = await signIn(b, holder);
    await instant(a, again).expect(201);
  });

  it('a payment-password reset through B revokes the other sessions and stops the old password through A at once', async () => {
    const { a, b, holder, instant } = await twoProcesses();
    const resetter = await signIn(b, holder);
    await request(b.app).put('/v1/me/payment-password').set(resetter.auth).send({ loginPassword: LOGIN_PASSWORD, paymentPassword: '246801' }).expect(204);
    const before = await balancesOf(holder.userId);
    const old = await instant(a, holder);
    assert.ok(old.status >= 400, `the old session and password moved money: ${old.status}`);
    assertProblem(old, 401, 'unauthenticated');
    assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
    // The session that reset goes on, with the new password, through either process.
    await instant(a, resetter, '246801').expect(201);
    assertProblem(await instant(a, resetter), 403, 'payment_password_wrong');
  });

  it('a payment password just reset through B moves no money through A with the old password, same session', async () => {
    const { a, b, holder, instant } = await twoProcesses();
    await request(b.app).put('/v1/me/payment-password').set(holder.auth).send({ loginPassword: LOGIN_PASSWORD, paymentPassword: '246801' }).expect(204);
    const before = await balancesOf(holder.userId);
    const old = await instant(a, holder);
    assert.ok(old.status >= 400, `the old password moved money: ${old.status}`);
    // A's remembered state passed it; the leg, guarded by the epoch the reset raised, did not.
    assertProblem(old, 409, 'security_state_changed');
    assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
    assertProblem(await instant(a, holder), 403, 'payment_password_wrong');
    await instant(a, holder, '246801').expect(201);
  });

  it('a lock set through B stops payments through A at once, even with the right, just verified password', async () => {
    const { a, b, holder, instant } = await twoProcesses();
    assertProblem(await instant(b, holder, WRONG), 403, 'payment_password_wrong');
    assertProblem(await instant(b, holder, WRONG), 403, 'payment_password_wrong');
    assertProblem(await instant(b, holder, WRONG), 423, 'payment_locked');
    const before = await balancesOf(holder.userId);
    const refused = await instant(a, holder);
    assert.ok(refused.status >= 400, `a locked account moved money: ${refused.status}`);
    assertProblem(refused, 409, 'security_state_changed');
    assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
    assertProblem(await instant(a, holder), 423, 'payment_locked');
  });
});

describe('a sign-out that died half-way', function () {
  this.timeout(60_000);

  it('after its mark: the token\'s next fresh use finishes it, and a process that remembers the token moves no money', async () => {
    const { a, b, holder, instant } = await twoProcesses(); // A remembers the session and the verified password
    const faults = new ArmedFaults();
    b.ctx.faults = faults;
    faults.arm('security:after-sign-out-mark');
    await request(b.app).delete('/v1/me/session').set(holder.auth).catch(() => {}); // the request dies with its process
    b.ctx.faults = NO_FAULTS;
    // The holder tries again: the token is refused, and the sign-out it met half done is finished.
    assertProblem(await request(b.app).delete('/v1/me/session').set(holder.auth), 401, 'unauthenticated');
    const before = await balancesOf(holder.userId);
    assertProblem(await instant(a, holder), 401, 'unauthenticated');
    assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
    assert.equal(await Session.countDocuments({ userId: holder.userId }), 0);
  });

  it('refuses the signed-out token at once; the holder\'s other session pays again after one refusal', async () => {
    const { a, holder, instant } = await twoProcesses();
    const other = await signIn(a, holder);
    await instant(a, other).expect(201); // A remembers the other session, in the epoch before the sign-out
    const faults = new ArmedFaults();
    a.ctx.faults = faults;
    faults.arm('security:between-session-writes');
    await request(a.app).delete('/v1/me/session').set(holder.auth).catch(() => {}); // the request dies with its process
    a.ctx.faults = NO_FAULTS;
    const before = await balancesOf(holder.userId);
    assertProblem(await instant(a, holder), 401, 'unauthenticated');
    assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
    // The epoch rose but the live session was not moved up to it: refused once, then caught up.
    const first = await instant(a, other);
    if (first.status !== 201) assertProblem(first, 409, 'security_state_changed');
    await instant(a, other).expect(201);
  });
});

describe('a money leg checked before a revocation and applied after it', function () {
  this.timeout(60_000);

  /** A withdrawal and a redemption checked under the holder's epochs now, written but not yet applied (a stalled request, or left to the recovery job). */
  async function checkedButNotApplied(t: TestApp, holder: Holder) {
    const account = (await Account.findById(holder.userId).lean())!;
    const user = (await User.findById(holder.userId).lean())!;
    const securityEpochs = { sessions: account.sessionsEpoch, paymentPassword: user.paymentPasswordEpoch };
    const draft = { userId: holder.userId, amountFen: 100n, securityEpochs, request: {} };
    const at = t.clock.now();
    const withdrawal = await startOperation({ ...draft, idempotencyKey: idempotencyKey(), type: 'withdrawal', bankCardId: holder.bankCardId }, at);
    const redemption = await startOperation({ ...draft, idempotencyKey: idempotencyKey(), type: 'redemption', fundCode: 'YEB001', channel: 'wallet' }, at);
    return [withdrawal.operation, redemption.operation];
  }

  /** A holder with shares and a wallet, and a withdrawal and a redemption checked but not applied. */
  async function holderWithOperationsChecked() {
    const t = testApp('2024-05-30T10:00:00+08:00');
    const holder = await subscribedHolder(t, 'YEB001', '100.00');
    await topUp(t.app, holder, '10.00');
    t.clock.set('2024-05-31T10:00:00+08:00');
    await advanceDueOperations(t.ctx);
    return { t, holder, operations: await checkedButNotApplied(t, holder) };
  }

  const revocations = {
    'sign-out of this token': (t: TestApp, holder: Holder) => request(t.app).delete('/v1/me/session').set(holder.auth).expect(204),
    'sign-out everywhere': (t: TestApp, holder: Holder) => request(t.app).delete('/v1/me/sessions').set(holder.auth).expect(204),
    'payment-password reset': (t: TestApp, holder: Holder) =>
      request(t.app).put('/v1/me/payment-password').set(holder.auth).send({ loginPassword: LOGIN_PASSWORD, paymentPassword: '246801' }).expect(204),
  };

  for (const [revocation, revoke] of Object.entries(revocations)) {
    it(`after a ${revocation}, fails with security_state_changed and moves nothing`, async () => {
      const { t, holder, operations } = await holderWithOperationsChecked();
      await revoke(t, holder);
      const before = await balancesOf(holder.userId);
      for (const operation of operations) {
        const after = await advanceOperation(t.ctx, operation, 'recovery');
        assert.deepEqual([after.type, after.status, after.failure?.code], [operation.type, 'failed', 'security_state_changed']);
      }
      assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
    });
  }

  // A process dies between the two writes of a revocation: the user's state and the account's epoch.
  const crashing = {
    'payment-password reset': (t: TestApp, holder: Holder) => revocations['payment-password reset'](t, holder),
    'lock after wrong payment passwords': async (t: TestApp, holder: Holder) => {
      const wrong = () =>
        request(t.app).post('/v1/me/redemptions').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', channel: 'wallet', paymentPassword: WRONG });
      for (let attempt = 1; attempt < t.ctx.config.security.paymentPasswordMaxAttempts; attempt++) assertProblem(await wrong(), 403, 'payment_password_wrong');
      await wrong();
    },
  };

  for (const [revocation, revoke] of Object.entries(crashing)) {
    it(`a ${revocation} that crashed half-way still refuses what was checked before it, and the holder can pay again`, async () => {
      const { t, holder, operations } = await holderWithOperationsChecked();
      const faults = new ArmedFaults();
      t.ctx.faults = faults;
      faults.arm('security:between-epoch-writes');
      await revoke(t, holder).catch(() => {}); // the request dies with its process
      t.ctx.faults = NO_FAULTS;
      const before = await balancesOf(holder.userId);
      for (const operation of operations) {
        const after = await advanceOperation(t.ctx, operation, 'recovery');
        assert.deepEqual([after.type, after.status, after.failure?.code], [operation.type, 'failed', 'security_state_changed']);
      }
      assert.deepEqual(await balancesOf(holder.userId), before, 'nothing moved');
      // The revocation did not finish: the password is the one it was, and after one refusal it pays again.
      const pay = () =>
        request(t.app).post('/v1/me/redemptions').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', channel: 'wallet', paymentPassword: PAYMENT_PASSWORD });
      if (revocation.startsWith('lock')) await User.updateOne({ _id: holder.userId }, { $set: { paymentFailures: 0 } }); // as after a right password
      const first = await pay();
      if (first.status !== 201) assertProblem(first, 409, 'security_state_changed');
      await pay().expect(201);
    });
  }
});
