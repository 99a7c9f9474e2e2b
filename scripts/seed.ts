/**
 * Seeds a small market through the app itself (for the chaos script and the API benchmark):
 * an ops user, a merchant, a funded reserve, and holders who transferred into a fund a week
 * ago on a clock of their own, so they hold confirmed shares now. Sessions are signed in on
 * the real clock, for processes that run on it.
 */
import request from 'supertest';
import { createApp } from '../src/app.ts';
import { setRole } from '../src/auth/service.ts';
import { FixedClock } from '../src/calendar/clock.ts';
import type { AppConfig } from '../src/config/config.ts';
import { createContext } from '../src/context.ts';
import { log } from '../src/log.ts';
import { formatYuan } from '../src/money/fen.ts';
import { advanceDueOperations } from '../src/operations/recovery.ts';

export const PAYMENT_PASSWORD = '135790';
const LOGIN_PASSWORD = 'seed horse 1';

type App = ReturnType<typeof createApp>;

export interface SeededUser {
  userId: string;
  loginId: string;
  auth: { Authorization: string };
  bankCardId: string;
}

export interface Market {
  ops: SeededUser;
  merchant: string;
  holders: SeededUser[];
  /** Holders whose holding and wallet stand one operation maximum under the balance maximum. */
  whales: SeededUser[];
  /** When the holders' shares were confirmed (the first day they earn). */
  confirmDate: string;
}

export async function seedMarket(
  marketConfig: AppConfig,
  options: { fundCode: string; holders: number; reserveYuan: string; topUpYuan: string; transferInYuan: string; whales?: number },
): Promise<Market> {
  // The seeding signs every holder in from one address: the per-client sign-in limits are not for it.
  const unlimited = { windowMs: 60_000, max: 1_000_000 };
  const rateLimits = { ...marketConfig.security.rateLimits, login: unlimited, loginPerAddress: unlimited };
  const config: AppConfig = { ...marketConfig, security: { ...marketConfig.security, rateLimits } };
  // The seeding's own requests would print a log line each among the script's figures.
  if (!process.env.LOG_LEVEL) log.level = 'warn';
  const calendar = createContext({ config }).calendar;
  const weekAgo = calendar.addCalendarDays(calendar.businessDateOf(new Date()), -7);
  let subscribeDay = weekAgo;
  while (!calendar.isTradingDay(subscribeDay) || calendar.confirmDateOf(subscribeDay) > weekAgo) subscribeDay = calendar.addCalendarDays(subscribeDay, -1);
  const clock = new FixedClock(`${subscribeDay}T10:00:00+08:00`);
  const ctx = createContext({ config, clock });
  const app = createApp(ctx);
  const key = () => `seed-${Math.random().toString(36).slice(2)}`;
  const ops = await register(app, 'seed-ops');
  await setRole(ops.loginId, 'ops', true);
  await request(app).post('/v1/ops/reserve/adjustments').set(ops.auth).set('Idempotency-Key', key()).send({ amount: options.reserveYuan, direction: 'increase' }).expect(201);
  const merchant = (await request(app).post('/v1/ops/merchants').set(ops.auth).send({ name: 'Seed Cafe' }).expect(201)).body.id as string;
  const holders: SeededUser[] = [];
  for (let index = 0; index < options.holders; index++) {
    const holder = await register(app, `seed-holder-${index}`);
    await request(app).post('/v1/me/top-ups').set(holder.auth).set('Idempotency-Key', key()).send({ amount: options.topUpYuan, bankCardId: holder.bankCardId }).expect(201);
    await request(app)
      .post('/v1/me/transfers-in')
      .set(holder.auth)
      .set('Idempotency-Key', key())
      .send({ amount: options.transferInYuan, channel: 'wallet', fundCode: options.fundCode })
      .expect(201);
    holders.push(holder);
  }
  const whales: SeededUser[] = [];
  for (let index = 0; index < (options.whales ?? 0); index++) whales.push(await seedWhale(app, config, options.fundCode, key));
  const confirmDate = calendar.confirmDateOf(subscribeDay);
  clock.set(`${confirmDate}T09:00:00+08:00`);
  await advanceDueOperations(ctx);
  const live = createApp(createContext({ config }));
  for (const user of [ops, ...holders, ...whales]) user.auth = await signIn(live, user.loginId);
  return { ops, merchant, holders, whales, confirmDate };
}

/**
 * A holder who tops up and transfers in the operation maximum until one more would pass the
 * balance maximum, in her holding and in her wallet.
 */
async function seedWhale(app: App, config: AppConfig, fundCode: string, key: () => string): Promise<SeededUser> {
  const whale = await register(app, 'seed-whale');
  const { operationMaxFen, balanceMaxFen } = config.limits;
  const amount = formatYuan(operationMaxFen);
  for (let heldFen = 0n; heldFen + 2n * operationMaxFen <= balanceMaxFen; heldFen += operationMaxFen) {
    await request(app).post('/v1/me/top-ups').set(whale.auth).set('Idempotency-Key', key()).send({ amount, bankCardId: whale.bankCardId }).expect(201);
    await request(app).post('/v1/me/transfers-in').set(whale.auth).set('Idempotency-Key', key()).send({ amount, channel: 'wallet', fundCode }).expect(201);
    await request(app).post('/v1/me/top-ups').set(whale.auth).set('Idempotency-Key', key()).send({ amount, bankCardId: whale.bankCardId }).expect(201);
  }
  return whale;
}

async function signIn(app: App, loginId: string) {
  const { token } = (await request(app).post('/v1/sessions').send({ loginId, loginPassword: LOGIN_PASSWORD }).expect(201)).body;
  return { Authorization: `Bearer ${token}` };
}

async function register(app: App, prefix: string): Promise<SeededUser> {
  const loginId = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  const { userId } = (await request(app).post('/v1/users').send({ loginId, loginPassword: LOGIN_PASSWORD }).expect(201)).body;
  const auth = await signIn(app, loginId);
  await request(app).put('/v1/me/payment-password').set(auth).send({ loginPassword: LOGIN_PASSWORD, paymentPassword: PAYMENT_PASSWORD }).expect(204);
  const card = await request(app).post('/v1/me/bank-cards').set(auth).send({ cardNumber: '6222020200112233' }).expect(201);
  return { userId, loginId, auth, bankCardId: card.body.bankCard.bankCardId };
}
