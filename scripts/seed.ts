/**
 * Seeds a small market (for the chaos script and the API benchmark) with the sandbox's
 * seeding calls (src/sandbox/book.ts): an ops user, a merchant, a funded reserve, and holders
 * who transferred into a fund a week ago on a clock of their own, so they hold confirmed
 * shares now. Sessions are signed in on the real clock, for processes that run on it.
 */
import { createSession, setRole } from '../src/auth/service.ts';
import { FixedClock } from '../src/calendar/clock.ts';
import type { AppConfig } from '../src/config/config.ts';
import { createContext, type AppContext } from '../src/context.ts';
import { answerFor } from '../src/http/answers.ts';
import { log } from '../src/log.ts';
import { createMerchant } from '../src/merchants/service.ts';
import { formatYuan } from '../src/money/fen.ts';
import { registerAnswerRenderer } from '../src/operations/answers.ts';
import { advanceDueOperations } from '../src/operations/recovery.ts';
import { fundReserve, registerHolder, subscribe, topUpWallet, type BookUser } from '../src/sandbox/book.ts';

export const PAYMENT_PASSWORD = '135790';
const LOGIN_PASSWORD = 'seed horse 1';

export interface SeededUser extends BookUser {
  auth: { Authorization: string };
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
  config: AppConfig,
  options: { fundCode: string; holders: number; reserveYuan: string; topUpYuan: string; transferInYuan: string; whales?: number },
): Promise<Market> {
  // The seeding's own operations would print a log line each among the script's figures.
  if (!process.env.LOG_LEVEL) log.level = 'warn';
  registerAnswerRenderer(answerFor);
  const calendar = createContext({ config }).calendar;
  const weekAgo = calendar.addCalendarDays(calendar.businessDateOf(new Date()), -7);
  let subscribeDay = weekAgo;
  while (!calendar.isTradingDay(subscribeDay) || calendar.confirmDateOf(subscribeDay) > weekAgo) subscribeDay = calendar.addCalendarDays(subscribeDay, -1);
  const clock = new FixedClock(`${subscribeDay}T10:00:00+08:00`);
  const ctx = createContext({ config, clock });
  const key = () => `seed-${Math.random().toString(36).slice(2)}`;
  const ops = await register(ctx, 'seed-ops');
  await setRole(ops.loginId, 'ops', true);
  await fundReserve(ctx, ops.userId, options.reserveYuan, key());
  const merchant = (await createMerchant(ctx, 'Seed Cafe')).id;
  const holders: BookUser[] = [];
  for (let index = 0; index < options.holders; index++) {
    const holder = await register(ctx, `seed-holder-${index}`);
    await subscribe(ctx, holder, { topUpYuan: options.topUpYuan, transferInYuan: options.transferInYuan, fundCode: options.fundCode, key: key() });
    holders.push(holder);
  }
  const whales: BookUser[] = [];
  for (let index = 0; index < (options.whales ?? 0); index++) whales.push(await seedWhale(ctx, options.fundCode, key));
  const confirmDate = calendar.confirmDateOf(subscribeDay);
  clock.set(`${confirmDate}T09:00:00+08:00`);
  await advanceDueOperations(ctx);
  const live = createContext({ config });
  // One at a time: sign-ins share a small pool of password hashing, which turns a crowd away.
  const signedIn = async (users: BookUser[]): Promise<SeededUser[]> => {
    const seeded: SeededUser[] = [];
    for (const user of users) seeded.push({ ...user, auth: await signIn(live, user.loginId) });
    return seeded;
  };
  return { ops: (await signedIn([ops]))[0]!, merchant, holders: await signedIn(holders), whales: await signedIn(whales), confirmDate };
}

/**
 * A holder who tops up and transfers in the operation maximum until one more would pass the
 * balance maximum, in her holding and in her wallet.
 */
async function seedWhale(ctx: AppContext, fundCode: string, key: () => string): Promise<BookUser> {
  const whale = await register(ctx, 'seed-whale');
  const { operationMaxFen, balanceMaxFen } = ctx.config.limits;
  const amount = formatYuan(operationMaxFen);
  for (let heldFen = 0n; heldFen + 2n * operationMaxFen <= balanceMaxFen; heldFen += operationMaxFen) {
    await subscribe(ctx, whale, { topUpYuan: amount, transferInYuan: amount, fundCode, key: key() });
    await topUpWallet(ctx, whale, amount, key());
  }
  return whale;
}

async function signIn(ctx: AppContext, loginId: string) {
  const { token } = await createSession(ctx, loginId, LOGIN_PASSWORD);
  return { Authorization: `Bearer ${token}` };
}

function register(ctx: AppContext, prefix: string): Promise<BookUser> {
  const loginId = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  return registerHolder(ctx, { loginId, loginPassword: LOGIN_PASSWORD, paymentPassword: PAYMENT_PASSWORD });
}
