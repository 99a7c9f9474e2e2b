import type { AccountDocument } from '../accounts/model.ts';
import type { AppContext } from '../context.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { applyGuardedLeg, finishMark, legDocuments } from '../operations/guardedLeg.ts';
import type { Fen } from '../money/fen.ts';
import { recordStep } from '../operations/journal.ts';
import type { OperationDocument } from '../operations/model.ts';
import type { Refusal } from '../operations/machine.ts';
import { capRefusal, dailyCounterShapes, dailyLeftFen, dayCountOf, type DailyCounter, type LegRules } from './dailyCounter.ts';
import { FundQuota } from './model.ts';

/** The guard of a wallet credit: the wallet stays at or under the balance maximum. */
export function walletRoom(ctx: AppContext, amountFen: bigint) {
  return { walletFen: { $lte: ctx.config.limits.balanceMaxFen - amountFen } };
}

/**
 * The optional transfer-in limits (config `limits`, null = off): a holding maximum per holder
 * (confirmed shares plus pending subscriptions), a transfer-in maximum per holder per natural
 * day in Asia/Shanghai, and a fund-wide quota per trade date.
 */
const TRANSFER_IN_COUNTER: DailyCounter = { dateField: 'transferInDate', amountField: 'transferInTodayFen' };

/**
 * The holder-side limits as guards of the subscribe leg: the holding maximum in each of the
 * daily counter's shapes (see dailyCounter.ts), tried in turn; each is one guarded update.
 */
export function limitShapes(ctx: AppContext, op: OperationDocument): LegRules[] {
  const { transferInDailyMaxFen } = ctx.config.limits;
  const X = op.amountFen;
  const holding = { holdingFen: { $lte: holdingMaxOf(ctx) - X } };
  if (transferInDailyMaxFen === null) return [{ guard: holding, inc: {} }];
  const shapes = dailyCounterShapes(TRANSFER_IN_COUNTER, requestDay(ctx, op), X, transferInDailyMaxFen);
  return shapes.map((shape) => ({ ...shape, guard: { ...holding, ...shape.guard } }));
}

/** Which holder-side limit refused the leg, read after the refusal; undefined if none (a race). */
export function limitRefusal(ctx: AppContext, op: OperationDocument, account: AccountDocument): Refusal | undefined {
  const { transferInDailyMaxFen } = ctx.config.limits;
  const X = op.amountFen;
  if (account.holdingFen + X > holdingMaxOf(ctx)) return 'holding_limit_exceeded';
  if (transferInDailyMaxFen === null) return undefined;
  const leftFen = dailyLeftFen(transferInDailyMaxFen, dayCountOf(TRANSFER_IN_COUNTER, account), requestDay(ctx, op));
  return X > leftFen ? capRefusal('transfer_in_daily_limit_exceeded', leftFen) : undefined;
}

/**
 * The optional holding maximum, within the balance maximum that always applies. Income is
 * folded in first only for the optional one: the balance maximum bounds what credits bring,
 * and income's growth is inside the headroom left under int64 (src/config/config.ts).
 */
function holdingMaxOf(ctx: AppContext): Fen {
  const { holdingMaxFen, balanceMaxFen } = ctx.config.limits;
  return holdingMaxFen !== null && holdingMaxFen < balanceMaxFen ? holdingMaxFen : balanceMaxFen;
}

/** The natural day of the request, not of a later retry. */
function requestDay(ctx: AppContext, op: OperationDocument): string {
  return ctx.calendar.businessDateOf(op.createdAt);
}

/** The fund's days, as documents of guarded legs (src/operations/guardedLeg.ts). */
const quotaLegs = legDocuments(FundQuota);

/** Reserves the amount in the fund's quota for the trade date; false when the quota is full. */
export async function reserveFundQuota(ctx: AppContext, op: OperationDocument): Promise<boolean> {
  const quotaFen = ctx.config.limits.fundDailyQuotaFen;
  if (quotaFen === null || op.steps.includes('reserve-quota')) return true;
  return moveQuota(ctx, op, 'reserve-quota', op.amountFen, { subscribedFen: { $lte: quotaFen - op.amountFen } });
}

export async function releaseFundQuota(ctx: AppContext, op: OperationDocument): Promise<void> {
  if (!op.steps.includes('reserve-quota') || op.steps.includes('release-quota')) return;
  await moveQuota(ctx, op, 'release-quota', -op.amountFen, {});
}

/**
 * One guarded, replay-safe leg on the fund's day, recorded on the operation. The first leg of
 * a day finds no document: the day is created (idempotently) and the leg tried again.
 */
async function moveQuota(ctx: AppContext, op: OperationDocument, step: string, amountFen: Fen, guard: object): Promise<boolean> {
  const dayId = `${op.fundCode}:${op.tradeDate}`;
  const leg = { step, guard, inc: { subscribedFen: amountFen } };
  let outcome = await applyGuardedLeg(quotaLegs, dayId, op, leg);
  if (outcome === 'refused' && !(await FundQuota.exists({ _id: dayId }))) {
    await openQuotaDay(dayId, op);
    outcome = await applyGuardedLeg(quotaLegs, dayId, op, leg);
  }
  if (outcome !== 'applied') return false;
  await recordStep(op, step, [], ctx.clock.now());
  finishMark(quotaLegs, dayId, op._id, step);
  return true;
}

async function openQuotaDay(dayId: string, op: OperationDocument): Promise<void> {
  await retryOnWriteConflict(
    () => FundQuota.updateOne({ _id: dayId }, { $setOnInsert: { fundCode: op.fundCode, tradeDate: op.tradeDate } }, { upsert: true, setDefaultsOnInsert: true }),
    { retryDuplicateKey: true },
  );
}
