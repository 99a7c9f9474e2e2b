/**
 * The holder's security events (docs/events.md): each change files its event in the write
 * that makes it, and arrives in GET /v1/me/events after a relay; a refused sign-in and a wrong
 * payment password that does not lock file nothing; racing requests that make one change file
 * one event.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import request from 'supertest';
import { User } from '../../src/auth/model.ts';
import { liftRunOutPaymentLocks } from '../../src/auth/service.ts';
import { assertProblem, LOGIN_PASSWORD, newHolder, testApp, withoutBeijingTwins, type Holder, type TestApp } from '../support/api.ts';
import { eventsOf, typesOf, type ReadEvent } from '../support/events.ts';
import { holderWithShares, instant } from '../support/instant.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';

const WRONG = '000000';
const NEW_PAYMENT_PASSWORD = '246801';

async function signIn(t: TestApp, holder: Holder): Promise<Pick<Holder, 'auth'> & { token: string }> {
  const session = await request(t.app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: LOGIN_PASSWORD }).expect(201);
  return { token: session.body.token, auth: { Authorization: `Bearer ${session.body.token}` } };
}

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

const isSecurity = (event: ReadEvent) => /^(session|payment_password)\./.test(event.type);

/** The security events after the first `seen` events (instant redemptions file theirs too, when their lease notes them). */
const securityOf = (events: ReadEvent[], seen = 0) => events.slice(seen).filter(isSecurity);
const since = (events: ReadEvent[], seen: number) => typesOf(securityOf(events, seen));

describe('security events', function () {
  this.timeout(180_000);
  let t: TestApp;
  let holder: Holder;

  beforeEach(async () => {
    t = testApp('2024-06-03T10:00:00+08:00');
    useOwnReserve(t);
    const ops = await newHolder(t.app, { ops: true });
    await adjustReserve(t, ops, '10000.00', 'increase').expect(201);
    holder = await holderWithShares(t, '100.00');
  });

  it('tells of sign-in, lock, unlock by time, reset and every kind of sign-out, without secrets', async () => {
    const first = await eventsOf(t, holder);
    assert.deepEqual(since(first, 0), ['session.created', 'payment_password.reset']);
    assert.equal(securityOf(first)[1]!.data.previouslySet, false);

    const other = await signIn(t, holder);
    assertProblem(await request(t.app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: 'not the password' }), 401, 'login_failed');
    assertProblem(await instant(t, holder, '1.00', undefined, WRONG), 403, 'payment_password_wrong');
    assertProblem(await instant(t, holder, '1.00', undefined, WRONG), 403, 'payment_password_wrong');
    let events = await eventsOf(t, holder);
    assert.deepEqual(since(events, first.length), ['session.created'], 'a refused sign-in and wrong passwords that do not lock file nothing');
    assert.equal(securityOf(events).at(-1)!.data.session!.idEnd, tokenHash(other.token).slice(-8));

    assertProblem(await instant(t, holder, '1.00', undefined, WRONG), 423, 'payment_locked');
    const lockedUntil = new Date(t.clock.now().getTime() + t.ctx.config.security.paymentLockMs);
    t.clock.advance(t.ctx.config.security.paymentLockMs + 1_000);
    await instant(t, holder, '1.00').expect(201); // the first check to read the lock run out lifts it
    events = await eventsOf(t, holder);
    const [locked, unlocked] = securityOf(events).slice(-2);
    assert.deepEqual(withoutBeijingTwins(locked!.data.paymentPassword), { locked: true, lockedUntil: lockedUntil.toISOString(), failedAttempts: 3 });
    assert.equal(unlocked!.type, 'payment_password.unlocked');
    assert.deepEqual(withoutBeijingTwins(unlocked!.data.paymentPassword), { locked: false, lockedUntil: null, failedAttempts: 0 });
    assert.equal(unlocked!.data.endedBy, 'time');
    assert.equal(unlocked!.data.lockEndedAt, lockedUntil.toISOString());

    // Locked again, then reset: the reset lifts the lock and signs the other session out.
    for (const expected of [403, 403, 423]) assert.equal((await instant(t, holder, '1.00', undefined, WRONG)).status, expected);
    let seen = (await eventsOf(t, holder)).length;
    await request(t.app).put('/v1/me/payment-password').set(holder.auth).send({ loginPassword: LOGIN_PASSWORD, paymentPassword: NEW_PAYMENT_PASSWORD }).expect(204);
    events = await eventsOf(t, holder);
    assert.deepEqual(since(events, seen), ['payment_password.reset', 'payment_password.unlocked', 'session.revoked']);
    const [reset, liftedByReset, revoked] = securityOf(events, seen);
    assert.equal(reset!.data.previouslySet, true);
    assert.equal(liftedByReset!.data.endedBy, 'reset');
    assert.equal(revoked!.data.reason, 'payment_password_reset');
    assert.equal(revoked!.data.session!.idEnd, tokenHash(other.token).slice(-8));

    // A sign-out of this session, then of every session: read through a session still signed in.
    const reader = await signIn(t, holder);
    seen = (await eventsOf(t, reader)).length;
    await request(t.app).delete('/v1/me/session').set(holder.auth).expect(204);
    t.clock.advance(1_000); // a relay orders what it finds by time
    const everywhere = await signIn(t, holder);
    const lastReader = await signIn(t, holder);
    events = await eventsOf(t, lastReader);
    assert.deepEqual(since(events, seen), ['session.revoked', 'session.created', 'session.created']);
    assert.equal(securityOf(events, seen)[0]!.data.reason, 'sign_out');
    seen = events.length;
    await request(t.app).delete('/v1/me/sessions').set(everywhere.auth).expect(204);
    t.clock.advance(1_000);
    const after = await signIn(t, holder);
    events = await eventsOf(t, after);
    assert.deepEqual(since(events, seen), ['session.revoked', 'session.revoked', 'session.revoked', 'session.created']);
    assert.ok(securityOf(events, seen).slice(0, 3).every((event) => (event.data.reason as unknown) === 'sign_out_everywhere'));

    assert.ok(events.every((event) => event.holderId === holder.userId));
    const text = JSON.stringify(events);
    for (const secret of [holder.token, tokenHash(holder.token), other.token, tokenHash(other.token), 'scrypt$']) assert.ok(!text.includes(secret), `an event shows ${secret}`);
  });

  it('keeps a session signed out before any relay: its creation and its end both arrive', async () => {
    const seen = (await eventsOf(t, holder)).length;
    const brief = await signIn(t, holder);
    await request(t.app).delete('/v1/me/session').set(brief.auth).expect(204);
    assert.deepEqual(since(await eventsOf(t, holder), seen), ['session.created', 'session.revoked']);
  });

  it('files one lock for racing wrong passwords, and one unlock for racing requests and job looks that find it run out', async () => {
    const seen = (await eventsOf(t, holder)).length;
    const wrong = await Promise.all(Array.from({ length: 6 }, () => instant(t, holder, '1.00', undefined, WRONG)));
    assert.ok(wrong.some((response) => response.status === 423));
    t.clock.advance(t.ctx.config.security.paymentLockMs + 1_000);
    const [right] = await Promise.all([
      Promise.all(Array.from({ length: 4 }, () => instant(t, holder, '1.00'))),
      liftRunOutPaymentLocks(t.ctx),
      liftRunOutPaymentLocks(t.ctx),
    ]);
    assert.ok(right.every((response) => response.status === 201), JSON.stringify(right.map((response) => response.body)));
    assert.deepEqual(since(await eventsOf(t, holder), seen), ['payment_password.locked', 'payment_password.unlocked']);
    const user = await User.findById(holder.userId).lean();
    assert.deepEqual([user?.paymentLockedUntil, user?.paymentLocked], [null, undefined]);
  });

  it('tells of a lock\'s end within the minute job\'s look, though the holder tries nothing', async () => {
    for (const expected of [403, 403, 423]) assert.equal((await instant(t, holder, '1.00', undefined, WRONG)).status, expected);
    const seen = (await eventsOf(t, holder)).length;
    await liftRunOutPaymentLocks(t.ctx);
    assert.notEqual((await User.findById(holder.userId).lean())?.paymentLockedUntil, null, 'a lock still running is left alone');
    t.clock.advance(t.ctx.config.security.paymentLockMs);
    assert.ok((await liftRunOutPaymentLocks(t.ctx)) >= 1);
    const [unlocked] = securityOf(await eventsOf(t, holder), seen);
    assert.equal(unlocked?.type, 'payment_password.unlocked');
    assert.equal(unlocked.data.endedBy, 'time');
    assert.equal((await User.findById(holder.userId).lean())?.paymentLocked, undefined, 'the marker goes with the lock');
  });
});
