import request from 'supertest';
import { reconcileJournal } from '../../src/reconciliation/service.ts';
import { advanceDueOperations, recoverStuckOperations } from '../../src/operations/recovery.ts';
import { idempotencyKey, PAYMENT_PASSWORD, type Holder, type TestApp } from './api.ts';
import { subscribedHolder } from './income.ts';

const FUND = 'YEB001';

export function instant(t: TestApp, holder: Holder, amount: string, key = idempotencyKey(), paymentPassword = PAYMENT_PASSWORD) {
  return request(t.app).post('/v1/me/instant-redemptions').set(holder.auth).set('Idempotency-Key', key).send({ amount, paymentPassword });
}

export function pay(t: TestApp, holder: Holder, merchantId: string, amount: string, key = idempotencyKey()) {
  return request(t.app).post('/v1/me/payments').set(holder.auth).set('Idempotency-Key', key).send({ amount, merchantId, paymentPassword: PAYMENT_PASSWORD });
}

/** A holder with confirmed shares: transferred in on Thu 2024-05-30, confirmed Fri 05-31. */
export async function holderWithShares(t: TestApp, amount: string): Promise<Holder> {
  const at = t.clock.now();
  t.clock.set('2024-05-30T10:00:00+08:00');
  const holder = await subscribedHolder(t, FUND, amount);
  t.clock.set('2024-05-31T09:00:00+08:00');
  await advanceDueOperations(t.ctx);
  t.clock.set(at);
  return holder;
}

/** Lets every lease expire for everyone, and has the recovery job close them. */
export async function closeAllLeases(t: TestApp): Promise<void> {
  t.clock.advance(t.ctx.config.reserve.leaseLifetimeMs + t.ctx.config.jobs.recoverAfterMs + 1_000);
  await recoverStuckOperations(t.ctx);
}

/** Reconciliation's breaks on these accounts, or on the shards of these reserves. */
export async function breaksFor(ids: string[]) {
  return (await reconcileJournal()).breaks.filter((item) => ids.some((id) => item.userId === id || item.userId.startsWith(`reserve:${id}:`)));
}
