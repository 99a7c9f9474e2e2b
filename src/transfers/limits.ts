import type { AccountDocument } from '../accounts/model.ts';
import { RECENT_STEPS_MAX } from '../accounts/model.ts';
import type { AppContext } from '../context.ts';
import { isDuplicateKey, retryOnWriteConflict } from '../db/writeConflict.ts';
import type { Fen } from '../money/fen.ts';
import { recordStep, type AccountLeg } from '../operations/journal.ts';
import type { OperationDocument } from '../operations/model.ts';
import { FundQuota } from './model.ts';

/**
 * The optional transfer-in limits (config `limits`, null = off): a holding maximum per holder
 * (confirmed shares plus pending subscriptions), a transfer-in maximum per holder per natural
 * day in Asia/Shanghai, and a fund-wide quota per trade date.
 */
type LegRules = Pick<AccountLeg, 'guard' | 'inc' | 'set'>;

/**
 * The holder-side limits as guards of the subscribe leg. The daily counter needs two shapes
 * (same day: add to it; new day: restart it), tried in turn; each is one guarded update.
 */
export function limitShapes(ctx: AppContext, op: OperationDocument): LegRules[] {
  const { transferInDailyMaxFen } = ctx.config.limits;
  const X = op.amountFen;
  const holding = { holdingFen: { $lte: holdingMaxOf(ctx) - X } };
  if (transferInDailyMaxFen === null) return [{ guard: holding, inc: {} }];
  const day = requestDay(ctx, op);
  const sameDay = {
    guard: { ...holding, transferInDate: day, transferInTodayFen: { $lte: transferInDailyMaxFen - X } },
    inc: { transferInTodayFen: X },
  };
  const newDay = { guard: { ...holding, transferInDate: { $ne: day } }, inc: {}, set: { transferInDate: day, transferInTodayFen: X } };
  return X <= transferInDailyMaxFen ? [sameDay, newDay] : [sameDay];
}

/** Which holder-side limit refused the leg, read after the refusal; undefined if none (a race). */
export function limitRefusal(ctx: AppContext, op: OperationDocument, account: AccountDocument): string | undefined {
  const { transferInDailyMaxFen } = ctx.config.limits;
  const X = op.amountFen;
  if (account.holdingFen + X > holdingMaxOf(ctx)) return 'holding_limit_exceeded';
  if (transferInDailyMaxFen === null) return undefined;
  const todayFen = account.transferInDate === requestDay(ctx, op) ? account.transferInTodayFen : 0n;
  return todayFen + X > transferInDailyMaxFen ? 'transfer_in_daily_limit_exceeded' : undefined;
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

/** Reserves the amount in the fund's quota for the trade date; false when the quota is full. */
export async function reserveFundQuota(ctx: AppContext, op: OperationDocument): Promise<boolean> {
  const quotaFen = ctx.config.limits.fundDailyQuotaFen;
  if (quotaFen === null || op.steps.includes('reserve-quota')) return true;
  const reserved = await moveQuota(op, 'reserve-quota', op.amountFen, { subscribedFen: { $lte: quotaFen - op.amountFen } });
  if (reserved) await recordStep(op, 'reserve-quota', [], ctx.clock.now());
  return reserved;
}

export async function releaseFundQuota(ctx: AppContext, op: OperationDocument): Promise<void> {
  if (!op.steps.includes('reserve-quota') || op.steps.includes('release-quota')) return;
  await moveQuota(op, 'release-quota', -op.amountFen, {});
  await recordStep(op, 'release-quota', [], ctx.clock.now());
}

/**
 * One guarded, replay-safe update of the fund's day. The first reservation of a day creates
 * the document by upsert; an upsert that meets an existing document that does not match
 * fails with E11000, so the update is tried again on the existing document.
 */
async function moveQuota(op: OperationDocument, step: string, amountFen: Fen, guard: object): Promise<boolean> {
  const _id = `${op.fundCode}:${op.tradeDate}`;
  const stepId = `${op._id}:${step}`;
  const filter = { _id, recentSteps: { $ne: stepId }, ...guard };
  const update = {
    $inc: { subscribedFen: amountFen },
    $push: { recentSteps: { $each: [stepId], $slice: -RECENT_STEPS_MAX } },
    $setOnInsert: { fundCode: op.fundCode, tradeDate: op.tradeDate },
  };
  try {
    const created = await retryOnWriteConflict(() => FundQuota.updateOne(filter, update, { upsert: true }));
    if (created.modifiedCount + created.upsertedCount === 1) return true;
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const { $setOnInsert: _insertOnly, ...updateExisting } = update;
  const result = await retryOnWriteConflict(() => FundQuota.updateOne(filter, updateExisting));
  return result.modifiedCount === 1 || (await FundQuota.exists({ _id, recentSteps: stepId })) !== null;
}
