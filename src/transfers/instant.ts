/**
 * Instant redemption to the wallet and payment to a merchant: the liquidity reserve
 * advances the cash now and is repaid when the redemption settles with the fund on the
 * first trading day after T. The request that writes the operation holds a grant out of a
 * reserve lease of its process (src/reserve/leases.ts), so the saga touches no shard: debit
 * the holder's shares in one guarded update that also checks the daily cap (can fail: the
 * grant goes back to the lease), record the advance with it (journal-only), credit the
 * merchant's wallet (payments; cannot fail), and on the settle date, once the lease has
 * closed, repay the shard. After a crash, recovery finishes what the holder's leg started
 * and fails what it had not: the lease may be spent or closed, so it never takes an advance.
 */
import { Account, type AccountDocument } from '../accounts/model.ts';
import type { AppContext } from '../context.ts';
import { foldIncome, forgetHolding } from '../income/fold.ts';
import { applyAccountLeg, ledgerAccount as ledger, legApplied, recordStep, type AccountLeg } from '../operations/journal.ts';
import type { OperationDocument } from '../operations/model.ts';
import { boundGrantOf, leaseClosed, type AdvanceGrant } from '../reserve/leases.ts';
import { advancePostings, repayAdvance } from '../reserve/service.ts';
import { fail, isDue, moveTo, type AdvanceMode } from './advance.ts';

export async function advanceInstant(ctx: AppContext, op: OperationDocument, _mode: AdvanceMode): Promise<void> {
  if (op.status === 'pending') await redeemInstantly(ctx, op);
  // The advance reaches its shard's outstanding when its lease closes: repaid after that
  // (an advance from before leases was taken on the shard itself).
  if (op.status === 'awaiting_settlement' && isDue(ctx, op) && (!op.leaseId || (await leaseClosed(ctx, op.leaseId)))) {
    await repayAdvance(ctx, op);
    await ctx.faults.hit('instant:after-repay');
    await moveTo(op, 'awaiting_settlement', 'completed', ctx.clock.now());
  }
}

async function redeemInstantly(ctx: AppContext, op: OperationDocument): Promise<void> {
  if (!op.leaseId) return fail(ctx, op, 'reserve_exhausted');
  const grant = boundGrantOf(op._id);
  if (!(await (grant ? redeemWithGrant(ctx, op, grant) : redeemedBeforeCrash(ctx, op)))) return;
  await recordStep(op, 'advance', advancePostings(op), ctx.clock.now(), true);
  if (op.type === 'payment') {
    const X = op.amountFen;
    const leg = { step: 'pay-merchant', accountId: op.merchantId!, inc: { walletFen: X }, postings: fromTransit(op.merchantId!, X), deferRecord: true };
    await applyAccountLeg(op, leg, ctx.clock.now());
    await ctx.faults.hit('payment:after-merchant');
  }
  await moveTo(op, 'pending', 'awaiting_settlement', ctx.clock.now());
}

/** The holder's leg, in the request that holds the grant. False: refused (and failed). */
async function redeemWithGrant(ctx: AppContext, op: OperationDocument, grant: AdvanceGrant): Promise<boolean> {
  if (ctx.clock.now().getTime() > grant.applyBeforeMs) {
    grant.giveBack();
    await fail(ctx, op, 'interrupted');
    return false;
  }
  await ctx.faults.hit('instant:before-redeem');
  const refusal = await applyRedeemLeg(ctx, op);
  if (!refusal) {
    await ctx.faults.hit('instant:after-redeem');
    return true;
  }
  grant.giveBack();
  await ctx.faults.hit('instant:after-refusal');
  await fail(ctx, op, refusal);
  return false;
}

/**
 * After a crash: the holder's leg either was applied (its mark is on the account: finish the
 * redemption) or never will be (fail it; nothing moved).
 */
async function redeemedBeforeCrash(ctx: AppContext, op: OperationDocument): Promise<boolean> {
  if (op.steps.includes('redeem')) return true;
  if (!(await legApplied(op.userId, op._id, 'redeem'))) {
    await fail(ctx, op, 'interrupted');
    return false;
  }
  await recordStep(op, 'redeem', redeemPostings(op), ctx.clock.now(), true);
  return true;
}

const redeemPostings = (op: OperationDocument) => [
  { account: ledger.shares(op.userId), amountFen: -op.amountFen },
  { account: op.type === 'instant_redemption' ? ledger.wallet(op.userId) : ledger.paymentsTransit, amountFen: op.amountFen },
];

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
    postings: redeemPostings(op),
  };
  for (let attempt = 0; attempt < REDEEM_ATTEMPTS_MAX; attempt++) {
    for (const shape of capShapes(ctx, op)) {
      const leg = { ...base, guard: { ...base.guard, ...shape.guard }, inc: { ...base.inc, ...shape.inc }, ...(shape.set ? { set: shape.set } : {}) };
      if (await applyAccountLeg(op, leg, ctx.clock.now())) return undefined;
    }
    // Income credited since the request folded it (a day closed meanwhile) is redeemable too.
    await foldIncome(op.userId);
    forgetHolding(ctx, op.userId);
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
