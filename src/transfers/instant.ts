/**
 * Instant redemption to the wallet and payment to a merchant: the liquidity reserve
 * advances the cash now and is repaid when the redemption settles with the fund on the
 * first trading day after T. The saga: take the advance from a reserve shard (can fail),
 * debit the holder's shares in one guarded update that also checks the daily cap (can
 * fail; the advance is then released), credit the merchant's wallet (payments; cannot fail),
 * and on the settle date repay the shard. Each step is replay-safe, so recovery after a crash
 * at any point drives the operation forward (or finishes its refusal).
 */
import { Account, type AccountDocument } from '../accounts/model.ts';
import type { AppContext } from '../context.ts';
import { foldIncome } from '../income/fold.ts';
import { applyAccountLeg, ledgerAccount as ledger, type AccountLeg } from '../operations/journal.ts';
import type { OperationDocument } from '../operations/model.ts';
import { returnAdvance, takeAdvance } from '../reserve/service.ts';
import { fail, isDue, moveTo, noteFailure, type AdvanceMode } from './advance.ts';

export async function advanceInstant(ctx: AppContext, op: OperationDocument, mode: AdvanceMode): Promise<void> {
  if (op.status === 'pending') await redeemInstantly(ctx, op, mode);
  if (op.status === 'awaiting_settlement' && isDue(ctx, op)) {
    await returnAdvance(ctx, op, 'repay');
    await ctx.faults.hit('instant:after-repay');
    await moveTo(op, 'awaiting_settlement', 'completed', ctx.clock.now());
  }
}

async function redeemInstantly(ctx: AppContext, op: OperationDocument, mode: AdvanceMode): Promise<void> {
  if (op.steps.includes('release')) return fail(ctx, op, op.failure?.code ?? 'insufficient_shares');
  if (!op.steps.includes('redeem')) {
    const shard = await takeAdvance(ctx, op, mode === 'recovery');
    if (!shard) return fail(ctx, op, 'reserve_exhausted');
    await ctx.faults.hit('instant:after-advance');
    // The request folded the income before it wrote the operation; a recovery comes later.
    if (mode === 'recovery') await foldIncome(op.userId);
    const refusal = await applyRedeemLeg(ctx, op);
    if (refusal) {
      await noteFailure(op, refusal);
      await ctx.faults.hit('instant:after-refusal');
      await returnAdvance(ctx, op, 'release');
      return fail(ctx, op, refusal);
    }
    await ctx.faults.hit('instant:after-redeem');
  }
  if (op.type === 'payment') {
    const X = op.amountFen;
    const leg = { step: 'pay-merchant', accountId: op.merchantId!, inc: { walletFen: X }, postings: fromTransit(op.merchantId!, X), deferRecord: true };
    await applyAccountLeg(op, leg, ctx.clock.now());
    await ctx.faults.hit('payment:after-merchant');
  }
  await moveTo(op, 'pending', 'awaiting_settlement', ctx.clock.now());
}

const REDEEM_ATTEMPTS_MAX = 10;

/**
 * The holder's side in one guarded update: enough shares in the fund, and the day's instant
 * total within the cap (two shapes: same day, new day). Returns the rule that refused it.
 */
async function applyRedeemLeg(ctx: AppContext, op: OperationDocument): Promise<string | undefined> {
  const X = op.amountFen;
  const toWallet = op.type === 'instant_redemption';
  const base: AccountLeg = {
    step: 'redeem',
    deferRecord: true,
    guard: { sharesFen: { $gte: X }, fundCode: op.fundCode },
    inc: toWallet ? { sharesFen: -X, walletFen: X } : { sharesFen: -X },
    postings: [
      { account: ledger.shares(op.userId), amountFen: -X },
      { account: toWallet ? ledger.wallet(op.userId) : ledger.paymentsTransit, amountFen: X },
    ],
  };
  for (let attempt = 0; attempt < REDEEM_ATTEMPTS_MAX; attempt++) {
    for (const shape of capShapes(ctx, op)) {
      const leg = { ...base, guard: { ...base.guard, ...shape.guard }, inc: { ...base.inc, ...shape.inc }, ...(shape.set ? { set: shape.set } : {}) };
      if (await applyAccountLeg(op, leg, ctx.clock.now())) return undefined;
    }
    // Income credited since the request folded it (a day closed meanwhile) is redeemable too.
    await foldIncome(op.userId);
    const reason = refusalOf(ctx, op, (await Account.findById(op.userId).lean<AccountDocument>())!);
    if (reason) return reason;
  }
  throw new Error(`instant redemption ${op._id}: refused ${REDEEM_ATTEMPTS_MAX} times with no rule to blame`);
}

function countsTowardCap(ctx: AppContext, op: OperationDocument): boolean {
  return op.type === 'instant_redemption' || ctx.config.limits.paymentsCountTowardInstantCap;
}

/** The natural day in Beijing of the request (not of a later recovery). */
const capDay = (ctx: AppContext, op: OperationDocument) => ctx.calendar.businessDateOf(op.createdAt);

function capShapes(ctx: AppContext, op: OperationDocument): Pick<AccountLeg, 'guard' | 'inc' | 'set'>[] {
  if (!countsTowardCap(ctx, op)) return [{ guard: {}, inc: {} }];
  const X = op.amountFen;
  const capFen = ctx.config.limits.instantRedeemDailyMaxFen;
  const day = capDay(ctx, op);
  const sameDay = { guard: { instantDate: day, instantTodayFen: { $lte: capFen - X } }, inc: { instantTodayFen: X } };
  const newDay = { guard: { instantDate: { $ne: day } }, inc: {}, set: { instantDate: day, instantTodayFen: X } };
  return X <= capFen ? [sameDay, newDay] : [sameDay];
}

function refusalOf(ctx: AppContext, op: OperationDocument, account: AccountDocument): string | undefined {
  if (account.fundCode !== op.fundCode || account.sharesFen < op.amountFen) return 'insufficient_shares';
  if (!countsTowardCap(ctx, op)) return undefined;
  const todayFen = account.instantDate === capDay(ctx, op) ? account.instantTodayFen : 0n;
  return todayFen + op.amountFen > ctx.config.limits.instantRedeemDailyMaxFen ? 'instant_daily_limit_exceeded' : undefined;
}

const fromTransit = (merchantId: string, amountFen: bigint) => [
  { account: ledger.paymentsTransit, amountFen: -amountFen },
  { account: ledger.wallet(merchantId), amountFen },
];
