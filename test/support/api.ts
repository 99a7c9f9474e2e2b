import assert from 'node:assert/strict';
import type { Express } from 'express';
import type { Response } from 'supertest';
import request from 'supertest';
import { createApp } from '../../src/app.ts';
import { FixedClock } from '../../src/calendar/clock.ts';
import { Account, type AccountDocument } from '../../src/accounts/model.ts';
import { User } from '../../src/auth/model.ts';
import { appConfig, type AppConfig } from '../../src/config/config.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { SimulatedBank } from '../../src/bank/simulatedBank.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { uniqueId } from './database.ts';

export interface TestApp {
  ctx: AppContext;
  app: Express;
  clock: FixedClock;
  bank: SimulatedBank;
}

/** The real app on the real database, with a clock the test moves and a bank it can break. */
export function testApp(startAt = '2024-05-30T14:00:00+08:00', limits: Partial<AppConfig['limits']> = {}): TestApp {
  const clock = new FixedClock(startAt);
  const bank = new SimulatedBank();
  const config = appConfig();
  const ctx = createContext({ clock, bank, config: { ...config, limits: { ...config.limits, ...limits } } });
  return { ctx, app: createApp(ctx), clock, bank };
}

export interface Holder {
  userId: string;
  loginId: string;
  token: string;
  bankCardId: string;
  auth: { Authorization: string };
}

export const LOGIN_PASSWORD = 'correct horse 1';
export const PAYMENT_PASSWORD = '135790';

/** Registers a holder through the API, signs in, sets a payment password and binds a card. */
export async function newHolder(app: Express, options: { ops?: boolean } = {}): Promise<Holder> {
  const loginId = uniqueId('holder');
  const registered = await request(app).post('/v1/users').send({ loginId, loginPassword: LOGIN_PASSWORD }).expect(201);
  const userId = registered.body.userId as string;
  if (options.ops) await User.updateOne({ _id: userId }, { $set: { roles: ['user', 'ops'] } });
  const session = await request(app).post('/v1/sessions').send({ loginId, loginPassword: LOGIN_PASSWORD }).expect(201);
  const auth = { Authorization: `Bearer ${session.body.token}` };
  await request(app)
    .put('/v1/me/payment-password')
    .set(auth)
    .send({ loginPassword: LOGIN_PASSWORD, paymentPassword: PAYMENT_PASSWORD })
    .expect(204);
  const card = await request(app).post('/v1/me/bank-cards').set(auth).send({ cardNumber: '6222020200112233' }).expect(201);
  return { userId, loginId, token: session.body.token, bankCardId: card.body.bankCard.bankCardId, auth };
}

/** Puts money in the holder's wallet through a card top-up. */
export async function topUp(app: Express, holder: Holder, amount: string): Promise<void> {
  await request(app)
    .post('/v1/me/top-ups')
    .set(holder.auth)
    .set('Idempotency-Key', uniqueId('topup'))
    .send({ amount, bankCardId: holder.bankCardId })
    .expect(201);
}

export async function balancesOf(userId: string): Promise<Pick<AccountDocument, 'walletFen' | 'sharesFen' | 'subscribingFen' | 'redeemingFen'>> {
  const account = await Account.findById(userId).lean<AccountDocument>();
  if (!account) throw new Error(`no account ${userId}`);
  const { walletFen, sharesFen, subscribingFen, redeemingFen } = account;
  return { walletFen, sharesFen, subscribingFen, redeemingFen };
}

export function idempotencyKey(): string {
  return uniqueId('key');
}

/**
 * Runs the due-operations job one second before `date` begins and one second after, and
 * returns the holder's balances after each run: a rule "due on date" shows in the pair.
 */
export async function runDueJobsAround(t: TestApp, date: string, userId: string) {
  t.clock.set(`${t.ctx.calendar.addCalendarDays(date, -1)}T23:59:59+08:00`);
  await advanceDueOperations(t.ctx);
  const dayBefore = await balancesOf(userId);
  t.clock.set(`${date}T00:00:01+08:00`);
  await advanceDueOperations(t.ctx);
  return { dayBefore, onTheDay: await balancesOf(userId) };
}

/**
 * An answer without the Beijing-time twins the serializer adds (src/calendar/beijingTime.ts), each
 * checked to be its instant: for the zod schemas of src, which describe the UTC instants only.
 */
export function withoutBeijingTwins(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutBeijingTwins);
  if (value === null || typeof value !== 'object') return value;
  const members = Object.entries(value);
  for (const [name, twin] of members.filter(([member]) => member.endsWith('Beijing'))) {
    const utc: unknown = (value as Record<string, unknown>)[name.slice(0, -'Beijing'.length)];
    assert.equal(twin === null ? null : Date.parse(String(twin)), utc === null ? null : Date.parse(String(utc)), `${name} is the same instant`);
  }
  return Object.fromEntries(members.filter(([name]) => !name.endsWith('Beijing')).map(([name, inner]) => [name, withoutBeijingTwins(inner)]));
}

/** A problem+json answer with the given status and stable code. */
/** A daily maximum's refusal, saying how much is left of it today: in its own member and in its detail. */
export function assertDailyLeft(response: Response, code: string, remainingToday: string): void {
  assertProblem(response, 409, code);
  assert.equal(response.body.remainingToday, remainingToday);
  assert.match(response.body.detail, new RegExp(`: ${remainingToday.replace('.', '\\.')} yuan is left today$`));
}

export function assertProblem(response: Response, status: number, code: string): void {
  assert.equal(response.status, status, `status ${response.status}: ${JSON.stringify(response.body)}`);
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
  assert.equal(response.body.status, status);
  assert.equal(response.body.code, code);
  assert.equal(typeof response.body.detail, 'string');
  assert.ok(response.body.detail.length > 0, 'detail is not empty');
}
