/**
 * Security headers, body limits and rate limits. The limits are tested on apps whose config
 * sets them small (config/test.json sets them out of the other tests' reach).
 */
import assert from 'node:assert/strict';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../src/app.ts';
import { Session } from '../../src/auth/model.ts';
import { FixedClock } from '../../src/calendar/clock.ts';
import { appConfig, type AppConfig } from '../../src/config/config.ts';
import { createContext } from '../../src/context.ts';
import { Operation } from '../../src/operations/model.ts';
import { assertProblem, balancesOf, idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp, topUp, type Holder } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';

/** The real app with some settings changed, as a process started with that config would be. */
function appWith(change: (config: AppConfig) => AppConfig): Express {
  return createApp(createContext({ clock: new FixedClock('2024-05-30T10:00:00+08:00'), config: change(appConfig()) }));
}

function withRateLimits(limits: AppConfig['security']['rateLimits']): Express {
  return appWith((config) => ({ ...config, security: { ...config.security, rateLimits: limits } }));
}

const MINUTE = { windowMs: 60_000 };
const UNLIMITED = { ...MINUTE, max: 1_000_000 };

function assertRateLimited(response: request.Response): void {
  assertProblem(response, 429, 'rate_limited');
  const retryAfterSeconds = Number(response.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfterSeconds) && retryAfterSeconds >= 1 && retryAfterSeconds <= 60, `Retry-After ${response.headers['retry-after']}`);
  assert.equal(response.body.retryAfterSeconds, retryAfterSeconds);
  assert.equal(response.body.title, 'Too Many Requests');
  assert.match(String(response.headers['ratelimit-policy']), /q=\d+; w=60/);
}

describe('hardening', function () {
  this.timeout(120_000);

  describe('security headers', () => {
    it('sends a same-origin CSP without inline scripts, and the other helmet headers, on every answer', async () => {
      const { app } = testApp();
      for (const response of [await request(app).get('/v1/funds').expect(200), await request(app).get('/no/such/page').expect(404)]) {
        const csp = String(response.headers['content-security-policy']);
        const directives = new Map(csp.split(';').map((directive) => {
          const [name, ...sources] = directive.trim().split(/\s+/);
          return [name!, sources.join(' ')];
        }));
        assert.equal(directives.get('default-src'), "'self'");
        assert.equal(directives.get('script-src'), "'self'", 'scripts only as files from this origin');
        assert.equal(directives.get('script-src-attr'), "'none'", 'no inline event handlers');
        assert.equal(directives.get('style-src'), "'self' 'unsafe-inline'");
        assert.equal(directives.get('img-src'), "'self' data:");
        assert.equal(directives.get('object-src'), "'none'");
        assert.equal(directives.get('frame-ancestors'), "'none'");
        assert.equal(response.headers['x-frame-options'], 'DENY');
        assert.equal(response.headers['x-content-type-options'], 'nosniff');
        assert.equal(response.headers['referrer-policy'], 'no-referrer');
        assert.equal(response.headers['cross-origin-opener-policy'], 'same-origin');
        assert.match(String(response.headers['strict-transport-security']), /^max-age=\d+/);
        assert.equal(response.headers['x-powered-by'], undefined);
      }
    });

    it('marks every answer no-store and sends no ETag a client could never use', async () => {
      const { app } = testApp();
      for (const response of [await request(app).get('/v1/funds').expect(200), await request(app).get('/no/such/page').expect(404)]) {
        assert.equal(response.headers['cache-control'], 'no-store');
        assert.equal(response.headers.etag, undefined);
      }
    });
  });

  describe('body limits', () => {
    it('answers a body over http.bodyLimitBytes with 413 and a malformed one with 400, as problem+json', async () => {
      const app = appWith((config) => ({ ...config, http: { ...config.http, bodyLimitBytes: 256 } }));
      const loginId = uniqueId('limit');
      const fits = { loginId, loginPassword: 'p'.repeat(120) };
      assert.ok(JSON.stringify(fits).length <= 256);
      assertProblem(await request(app).post('/v1/sessions').send(fits), 401, 'login_failed');
      const tooLarge = { loginId, loginPassword: 'p'.repeat(300) };
      assertProblem(await request(app).post('/v1/sessions').send(tooLarge), 413, 'payload_too_large');
      assertProblem(await request(app).post('/v1/users').send(tooLarge), 413, 'payload_too_large');
      assert.equal((await request(app).post('/v1/users').send({ loginId, loginPassword: LOGIN_PASSWORD }).expect(201)).body.loginId, loginId, 'the id was free');
      const malformed = await request(app).post('/v1/sessions').set('Content-Type', 'application/json').send('{"loginId": "x", ');
      assertProblem(malformed, 400, 'invalid_request');
    });
  });

  describe('rate limits', () => {
    it('limits sign-in per address and login id, whatever the password, and leaves other login ids alone', async () => {
      const app = withRateLimits({ login: { ...MINUTE, max: 3 }, loginPerAddress: UNLIMITED, paymentPassword: UNLIMITED });
      const holder = await newHolder(app); // one sign-in of the 3
      const other = await newHolder(app);
      const signIn = (loginId: string, loginPassword: string) => request(app).post('/v1/sessions').send({ loginId, loginPassword });
      assertProblem(await signIn(holder.loginId, 'not the password'), 401, 'login_failed');
      assertProblem(await signIn(holder.loginId, 'not the password'), 401, 'login_failed');
      const sessionsBefore = await Session.countDocuments({ userId: holder.userId });
      assertRateLimited(await signIn(holder.loginId, 'not the password'));
      assertRateLimited(await signIn(holder.loginId, LOGIN_PASSWORD));
      assert.equal(await Session.countDocuments({ userId: holder.userId }), sessionsBefore, 'no session was opened');
      assert.equal((await signIn(other.loginId, LOGIN_PASSWORD)).status, 201, 'another login id from the same address');
      await request(app).get('/v1/me/account').set(holder.auth).expect(200); // a session already open still works
    });

    it('limits payment-password requests per user across their routes; nothing moves, other users and routes go on', async () => {
      const app = withRateLimits({ login: UNLIMITED, loginPerAddress: UNLIMITED, paymentPassword: { ...MINUTE, max: 4 } });
      const holder = await newHolder(app); // setting the payment password: 1 of the 4
      const other = await newHolder(app);
      await topUp(app, holder, '10.00');
      await topUp(app, other, '10.00');
      const withdraw = (who: Holder, key = idempotencyKey()) =>
        request(app).post('/v1/me/withdrawals').set(who.auth).set('Idempotency-Key', key).send({ amount: '1.00', bankCardId: who.bankCardId, paymentPassword: PAYMENT_PASSWORD });
      await withdraw(holder).expect(201);
      assertProblem(
        await request(app).post('/v1/me/redemptions').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', channel: 'wallet', paymentPassword: PAYMENT_PASSWORD }),
        409,
        'insufficient_shares',
      );
      await request(app).put('/v1/me/payment-password').set(holder.auth).send({ loginPassword: LOGIN_PASSWORD, paymentPassword: PAYMENT_PASSWORD }).expect(204);

      const balances = await balancesOf(holder.userId);
      const refusedKey = idempotencyKey();
      assertRateLimited(await withdraw(holder, refusedKey));
      assertRateLimited(
        await request(app).post('/v1/me/instant-redemptions').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', paymentPassword: PAYMENT_PASSWORD }),
      );
      assertRateLimited(
        await request(app).post('/v1/me/payments').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', merchantId: 'm_x', paymentPassword: PAYMENT_PASSWORD }),
      );
      assertRateLimited(await request(app).put('/v1/me/payment-password').set(holder.auth).send({ loginPassword: LOGIN_PASSWORD, paymentPassword: '246801' }));
      assert.deepEqual(await balancesOf(holder.userId), balances, 'nothing moved');
      assert.equal(await Operation.exists({ userId: holder.userId, idempotencyKey: refusedKey }), null, 'no operation was recorded');

      await withdraw(other).expect(201);
      await topUp(app, holder, '1.00'); // no payment password: not limited
      assert.equal((await balancesOf(holder.userId)).walletFen, balances.walletFen + 100n);
    });
  });
});
