/**
 * The sandbox's seeded book, written once into a fresh sandbox through the same service
 * calls as the API's: an ops user, a funded reserve, a merchant, and holders who moved money
 * into the fund three months ago, so they hold confirmed shares and a history of daily income
 * at the 万份收益 published for every day since. Also what scripts/seed.ts builds its market from.
 */
import { DateTime } from 'luxon';
import mongoose from 'mongoose';
import { User } from '../auth/model.ts';
import { authenticate, createSession, registerUser, setPaymentPassword, setRole } from '../auth/service.ts';
import { addBankCard } from '../bank/service.ts';
import { FixedClock } from '../calendar/clock.ts';
import type { AppContext } from '../context.ts';
import { ensureIndexes } from '../db/connection.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { setFundStart } from '../fund/service.ts';
import { log } from '../log.ts';
import { createMerchant } from '../merchants/service.ts';
import { parsePositiveYuan } from '../money/fen.ts';
import { advanceDueOperations } from '../operations/recovery.ts';
import { adjustReserve, topUp, transferIn, type Answer } from '../transfers/service.ts';
import { BOOK_ID, SandboxState } from './model.ts';
import { publishPlausibleYields, runDueWork } from './service.ts';

export interface Login {
  loginId: string;
  loginPassword: string;
}
export interface HolderLogin extends Login {
  paymentPassword: string;
}

/** Printed at start and used by the README's quick start. */
export const SANDBOX_HOLDER: HolderLogin = { loginId: 'demo', loginPassword: 'demo horse 1', paymentPassword: '135790' };
export const SANDBOX_OPS: Login = { loginId: 'ops', loginPassword: 'ops horse 1' };
export const SANDBOX_MERCHANT = { id: 'm_sandbox_cafe', name: 'Sandbox Cafe' };
export const SANDBOX_FUND = 'YEB001';
/** How far back the holders subscribed: the income history they have. */
const HISTORY_DAYS = 92;
const RESERVE_YUAN = '1000000.00';
const OTHER_HOLDERS = [
  { loginId: 'lin', topUpYuan: '60000.00', transferInYuan: '50000.00' },
  { loginId: 'wang', topUpYuan: '9000.00', transferInYuan: '8000.00' },
  { loginId: 'zhao', topUpYuan: '150000.00', transferInYuan: '120000.00' },
];

export interface BookUser {
  userId: string;
  loginId: string;
  bankCardId: string;
}

/**
 * Seeds a fresh sandbox; a seeded one is left as it is. Returns whether it seeded. A seeding
 * cut off (Ctrl-C in its minute) is started again on an emptied database: only a sandbox
 * wrote that book. A database with users the sandbox did not seed is refused, never emptied.
 */
export async function seedSandboxBook(ctx: AppContext): Promise<boolean> {
  const book = await SandboxState.findById(BOOK_ID).lean();
  if (book?.seededAt) return false;
  if (book) await emptyDatabase();
  else if (await User.exists({})) throw new Error(`The sandbox's database holds a book it did not seed: give it a data folder (or database) of its own`);
  await SandboxState.create({ _id: BOOK_ID, seededAt: null });
  await seedBook(ctx);
  await retryOnWriteConflict(() => SandboxState.updateOne({ _id: BOOK_ID }, { $set: { seededAt: ctx.clock.now() } }));
  return true;
}

async function emptyDatabase(): Promise<void> {
  log.warn('the sandbox seeding was cut off: seeding again on an emptied database');
  await mongoose.connection.dropDatabase();
  await ensureIndexes();
}

async function seedBook(ctx: AppContext): Promise<void> {
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  let subscribeDay = ctx.calendar.addCalendarDays(today, -HISTORY_DAYS);
  while (!ctx.calendar.isTradingDay(subscribeDay)) subscribeDay = ctx.calendar.addCalendarDays(subscribeDay, -1);
  const past = new FixedClock(localInstant(ctx, subscribeDay, '10:00'));
  const pastCtx: AppContext = { ...ctx, clock: past };
  const ops = await registerHolder(pastCtx, { ...SANDBOX_OPS, paymentPassword: SANDBOX_HOLDER.paymentPassword });
  await setRole(ops.loginId, 'ops', true);
  await fundReserve(pastCtx, ops.userId, RESERVE_YUAN, 'sandbox-reserve-funding');
  await createMerchant(pastCtx, SANDBOX_MERCHANT.name, SANDBOX_MERCHANT.id);
  const holders = [{ ...SANDBOX_HOLDER, topUpYuan: '20000.00', transferInYuan: '15000.00' }];
  holders.push(...OTHER_HOLDERS.map((holder) => ({ ...SANDBOX_HOLDER, ...holder })));
  for (const { topUpYuan, transferInYuan, ...login } of holders) {
    const holder = await registerHolder(pastCtx, login);
    await subscribe(pastCtx, holder, { topUpYuan, transferInYuan, fundCode: SANDBOX_FUND, key: `sandbox-${login.loginId}` });
  }
  const confirmDate = ctx.calendar.confirmDateOf(subscribeDay);
  // A start day, so ops can try importing the fund's earlier history as reference.
  await setFundStart(ctx, SANDBOX_FUND, confirmDate);
  await publishPlausibleYields(ctx, SANDBOX_FUND, confirmDate, ctx.calendar.addCalendarDays(today, -1));
  past.set(localInstant(ctx, confirmDate, '09:00'));
  await advanceDueOperations(pastCtx);
  await runDueWork(ctx, ctx.clock.now());
}

/** A user with a login, a payment password and a (simulated) bank card, registered at the context's clock. */
export async function registerHolder(ctx: AppContext, login: HolderLogin): Promise<BookUser> {
  const { userId } = await registerUser(ctx, login.loginId, login.loginPassword);
  const principal = await authenticate(ctx, (await createSession(ctx, login.loginId, login.loginPassword)).token);
  await setPaymentPassword(ctx, principal, login.loginPassword, login.paymentPassword);
  const bankCard = await addBankCard(userId, '6222020200112233', ctx.clock.now());
  return { userId, loginId: login.loginId, bankCardId: bankCard.bankCardId };
}

/** Tops the wallet up from the holder's card and moves part of it into the fund; `key` prefixes the idempotency keys. */
export async function subscribe(
  ctx: AppContext,
  holder: BookUser,
  input: { topUpYuan: string; transferInYuan: string; fundCode: string; key: string },
): Promise<void> {
  await topUpWallet(ctx, holder, input.topUpYuan, `${input.key}-top-up`);
  const transferInAmountFen = parsePositiveYuan(input.transferInYuan);
  const request = { amountFen: transferInAmountFen, channel: 'wallet' as const, fundCode: input.fundCode };
  accepted(await transferIn(ctx, { userId: holder.userId, idempotencyKey: `${input.key}-transfer-in` }, request));
}

export async function topUpWallet(ctx: AppContext, holder: BookUser, amountYuan: string, idempotencyKey: string): Promise<void> {
  accepted(await topUp(ctx, { userId: holder.userId, idempotencyKey }, { amountFen: parsePositiveYuan(amountYuan), bankCardId: holder.bankCardId }));
}

export async function fundReserve(ctx: AppContext, opsUserId: string, amountYuan: string, idempotencyKey: string): Promise<void> {
  accepted(await adjustReserve(ctx, { userId: opsUserId, idempotencyKey }, { amountFen: parsePositiveYuan(amountYuan), direction: 'increase' }));
}

/** Seeding stops at the first movement the engine refused: a book built on it would be wrong. */
function accepted(answer: Answer): void {
  const { operation, code } = answer.body as { operation?: { type: string; status: string }; code?: string };
  if (!operation || operation.status === 'failed') throw new Error(`seeding: ${operation?.type ?? 'a movement'} was refused: ${code ?? operation?.status}`);
}

function localInstant(ctx: AppContext, businessDate: string, timeOfDay: string): Date {
  return DateTime.fromISO(`${businessDate}T${timeOfDay}`, { zone: ctx.config.zone }).toJSDate();
}
