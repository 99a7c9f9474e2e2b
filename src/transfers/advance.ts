import { Account, type AccountDocument } from '../accounts/model.ts';
import { epochGuard, legRefusal } from '../auth/epochs.ts';
import { BankUnavailableError, type BankOutcome } from '../bank/adapter.ts';
import type { AppContext } from '../context.ts';
import { foldIncome } from '../income/fold.ts';
import { log } from '../log.ts';
import { applyAccountLeg, closeAccountLeg, ledgerAccount as ledger } from '../accounts/legs.ts';
import { transition } from '../operations/journal.ts';
import { fail, isDue, moveTo, noteFailure, registerMachines, type AdvanceMode, type Machine, type Refusal } from '../operations/machine.ts';
import { legFenced } from '../operations/marks.ts';
import type { OperationDocument } from '../operations/model.ts';
import { advanceReserveAdjustment } from '../reserve/adjustment.ts';
import { advanceReserveLease } from '../reserve/leases.ts';
import { advanceInstant } from './instant.ts';
import './events.ts';
import { limitRefusal, limitShapes, releaseFundQuota, reserveFundQuota, walletRoom } from './limits.ts';

/**
 * The machine of every operation type, registered with the engine when this module loads (the
 * reserve's come from src/reserve, below transfers): whatever drives an operation (a request,
 * a job, the accrual) finds its machine there.
 */
const MACHINES: Record<OperationDocument['type'], Machine> = {
  top_up: advanceTopUp,
  withdrawal: advanceWithdrawal,
  transfer_in: advanceTransferIn,
  redemption: advanceRedemption,
  instant_redemption: advanceInstant,
  payment: advanceInstant,
  reserve_adjustment: advanceReserveAdjustment,
  reserve_lease: advanceReserveLease,
};
registerMachines(MACHINES);

async function advanceTopUp(ctx: AppContext, op: OperationDocument, mode: AdvanceMode): Promise<void> {
  if (op.status !== 'pending') return;
  // Refused by the wallet maximum after the charge (noted before the refund was asked for).
  if (op.failure) return refundTopUp(ctx, op, mode);
  // Refuse what the wallet cannot take before the card is charged; a recovery may follow a
  // charge, so it leaves the refusal to the credit's guard.
  if (mode === 'request' && !(await walletTakes(ctx, op.userId, op.amountFen))) return fail(ctx, op, 'balance_limit_exceeded', mode);
  const outcome = await askBank(ctx, op, 'charge', mode);
  if (outcome === 'unknown') return;
  if (outcome !== 'succeeded') return fail(ctx, op, outcome === 'absent' ? 'bank_unavailable' : 'bank_declined', mode);
  const X = op.amountFen;
  const credit = { step: 'credit', guard: walletRoom(ctx, X), inc: { walletFen: X }, postings: bankTo(ledger.wallet(op.userId), X) };
  if (await applyAccountLeg(op, credit, ctx.clock.now())) {
    await transition(op, ['pending'], 'completed', ctx.clock.now());
    return;
  }
  // Charged meanwhile, the wallet filled up by other credits: the money goes back to the card,
  // once the credit is closed (no late attempt of it lands after the refund).
  if (!(await closeAccountLeg(op, 'credit'))) return;
  await noteFailure(op, 'balance_limit_exceeded');
  await refundTopUp(ctx, op, mode);
}

/**
 * A charged top-up the wallet could not take is paid back to the card; should the bank refuse
 * that, the money is the holder's and lands in the wallet after all (a bounded overshoot:
 * see src/config/config.ts). Either way the operation fails with nothing left pending.
 */
async function refundTopUp(ctx: AppContext, op: OperationDocument, mode: AdvanceMode): Promise<void> {
  const outcome = await askBank(ctx, op, 'payout', mode);
  if (outcome === 'unknown') return;
  if (outcome !== 'succeeded') {
    const X = op.amountFen;
    await applyAccountLeg(op, { step: 'to-wallet', inc: { walletFen: X }, postings: bankTo(ledger.wallet(op.userId), X) }, ctx.clock.now());
  }
  await fail(ctx, op, 'balance_limit_exceeded', mode);
}

/** Whether the wallet could take the amount now: a check before a step that cannot be undone. */
export async function walletTakes(ctx: AppContext, accountId: string, amountFen: bigint): Promise<boolean> {
  const account = await Account.findById(accountId, { walletFen: 1 }).lean<Pick<AccountDocument, 'walletFen'>>();
  return account !== null && account.walletFen + amountFen <= ctx.config.limits.balanceMaxFen;
}

async function advanceWithdrawal(ctx: AppContext, op: OperationDocument, mode: AdvanceMode): Promise<void> {
  if (op.status !== 'pending') return;
  const X = op.amountFen;
  const debited = await applyAccountLeg(
    op,
    { step: 'debit', guard: { walletFen: { $gte: X }, ...epochGuard(op) }, inc: { walletFen: -X }, postings: toBank(ledger.wallet(op.userId), X) },
    ctx.clock.now(),
  );
  if (!debited) return failRefused(ctx, op, 'debit', await legRefusal(op, 'insufficient_balance'), mode);
  const outcome = await askBank(ctx, op, 'payout', mode);
  if (outcome === 'unknown') return;
  if (outcome === 'succeeded') {
    await transition(op, ['pending'], 'completed', ctx.clock.now());
    return;
  }
  await applyAccountLeg(op, { step: 'refund', inc: { walletFen: X }, postings: bankTo(ledger.wallet(op.userId), X) }, ctx.clock.now());
  await fail(ctx, op, 'bank_declined', mode);
}

async function advanceTransferIn(ctx: AppContext, op: OperationDocument, mode: AdvanceMode): Promise<void> {
  if (op.status === 'pending') await subscribe(ctx, op, mode);
  if (op.status === 'awaiting_confirmation' && isDue(ctx, op)) await confirmSubscription(ctx, op);
}

async function subscribe(ctx: AppContext, op: OperationDocument, mode: AdvanceMode): Promise<void> {
  // Refused after the card was charged and the money already returned to the wallet.
  if (op.steps.includes('to-wallet')) return fail(ctx, op, op.failure?.code ?? 'fund_switch_not_allowed', mode);
  if (op.channel === 'bank_card') {
    // Refuse what the limits already refuse before the card is charged. A recovery may follow
    // a charge (and never charges anew: see askBank), so it leaves the refusal to the leg,
    // which then returns the card money to the wallet.
    const early = mode === 'request' ? refusalOf(ctx, op, (await Account.findById(op.userId).lean<AccountDocument>())!) : undefined;
    if (early) return fail(ctx, op, early, mode);
    const outcome = await askBank(ctx, op, 'charge', mode);
    if (outcome === 'unknown') return;
    if (outcome !== 'succeeded') return fail(ctx, op, outcome === 'absent' ? 'bank_unavailable' : 'bank_declined', mode);
  }
  if (ctx.config.limits.holdingMaxFen !== null) await foldIncome(op.userId); // income counts toward the holding
  const reason = (await reserveFundQuota(ctx, op)) ? await applySubscribeLeg(ctx, op) : 'fund_quota_exceeded';
  if (reason === undefined) return moveTo(op, 'pending', 'awaiting_confirmation', ctx.clock.now());
  // Closed before the operation fails without it; applied meanwhile, it is left for the next drive.
  if (!(await closeAccountLeg(op, 'subscribe'))) return;
  await releaseFundQuota(ctx, op);
  if (op.channel === 'bank_card') {
    // The card money is the holder's: it lands in the wallet.
    await noteFailure(op, reason);
    const X = op.amountFen;
    await applyAccountLeg(op, { step: 'to-wallet', inc: { walletFen: X }, postings: bankTo(ledger.wallet(op.userId), X) }, ctx.clock.now());
  }
  await fail(ctx, op, reason, mode);
}

const SUBSCRIBE_ATTEMPTS_MAX = 10;

/**
 * The holder's side of a subscription: one guarded update that checks the wallet, the fund
 * and the limits. Returns undefined when applied, else the rule that refused it; a refusal
 * whose rule no longer holds when read back (the account changed meanwhile) is tried again.
 */
async function applySubscribeLeg(ctx: AppContext, op: OperationDocument): Promise<Refusal | undefined> {
  const X = op.amountFen;
  const fromWallet = op.channel === 'wallet';
  const base = {
    step: 'subscribe',
    guard: { ...(fromWallet ? { walletFen: { $gte: X } } : {}), ...fundGuard(op.fundCode!) },
    inc: fromWallet ? { walletFen: -X, subscribingFen: X } : { subscribingFen: X },
    set: { fundCode: op.fundCode },
    postings: fromWallet
      ? [{ account: ledger.wallet(op.userId), amountFen: -X }, { account: ledger.subscribing(op.userId), amountFen: X }]
      : bankTo(ledger.subscribing(op.userId), X),
  };
  for (let attempt = 0; attempt < SUBSCRIBE_ATTEMPTS_MAX; attempt++) {
    for (const shape of limitShapes(ctx, op)) {
      const leg = { ...base, guard: { ...base.guard, ...shape.guard }, inc: { ...base.inc, ...shape.inc }, set: { ...base.set, ...shape.set } };
      if (await applyAccountLeg(op, leg, ctx.clock.now())) return undefined;
    }
    const account = (await Account.findById(op.userId).lean<AccountDocument>())!;
    if (legFenced(account, op._id, 'subscribe')) return 'interrupted';
    const reason = refusalOf(ctx, op, account);
    if (reason) return reason;
  }
  throw new Error(`subscription ${op._id}: refused ${SUBSCRIBE_ATTEMPTS_MAX} times with no rule to blame`);
}

function refusalOf(ctx: AppContext, op: OperationDocument, account: AccountDocument): Refusal | undefined {
  if (op.channel === 'wallet' && account.walletFen < op.amountFen) return 'insufficient_balance';
  if (holdsAnotherFund(account, op.fundCode!)) return 'fund_switch_not_allowed';
  return limitRefusal(ctx, op, account);
}

async function confirmSubscription(ctx: AppContext, op: OperationDocument): Promise<void> {
  const X = op.amountFen;
  await applyAccountLeg(
    op,
    {
      step: 'confirm',
      inc: { subscribingFen: -X, sharesFen: X },
      postings: [{ account: ledger.subscribing(op.userId), amountFen: -X }, { account: ledger.shares(op.userId), amountFen: X }],
    },
    ctx.clock.now(),
  );
  await moveTo(op, 'awaiting_confirmation', 'completed', ctx.clock.now());
}

async function advanceRedemption(ctx: AppContext, op: OperationDocument, mode: AdvanceMode): Promise<void> {
  if (op.status === 'pending') await redeem(ctx, op, mode);
  if (op.status === 'awaiting_settlement' && isDue(ctx, op)) await settleRedemption(ctx, op, mode);
}

const REDEEM_ATTEMPTS_MAX = 10;

/**
 * Shares leave at request time, decided on the income folded through the fund's last accrued
 * day (credited income is redeemable, a loss is borne): the fold state is in the leg's guard,
 * so a fold since refuses it and it is decided again.
 */
async function redeem(ctx: AppContext, op: OperationDocument, mode: AdvanceMode): Promise<void> {
  const X = op.amountFen;
  let incomeFoldedThrough = await foldIncome(op.userId);
  for (let attempt = 0; attempt < REDEEM_ATTEMPTS_MAX; attempt++) {
    const redeemed = await applyAccountLeg(
      op,
      {
        step: 'redeem',
        // Cash owed to the wallet cannot be refused on the settle date: the wallet's room is
        // checked now, in the same update.
        guard: { sharesFen: { $gte: X }, fundCode: op.fundCode, incomeFoldedThrough, ...(op.channel === 'wallet' ? walletRoom(ctx, X) : {}), ...epochGuard(op) },
        inc: { sharesFen: -X, redeemingFen: X },
        postings: [{ account: ledger.shares(op.userId), amountFen: -X }, { account: ledger.redeeming(op.userId), amountFen: X }],
      },
      ctx.clock.now(),
    );
    if (redeemed) return moveTo(op, 'pending', 'awaiting_settlement', ctx.clock.now());
    const foldedNow = await foldIncome(op.userId);
    if (foldedNow === incomeFoldedThrough) return failRefused(ctx, op, 'redeem', await legRefusal(op, await redeemRefusalOf(ctx, op)), mode);
    incomeFoldedThrough = foldedNow;
  }
  throw new Error(`redemption ${op._id}: its fold state moved ${REDEEM_ATTEMPTS_MAX} times in a row`);
}

async function redeemRefusalOf(ctx: AppContext, op: OperationDocument): Promise<string> {
  const account = (await Account.findById(op.userId).lean<AccountDocument>())!;
  if (account.fundCode !== op.fundCode || account.sharesFen < op.amountFen) return 'insufficient_shares';
  return op.channel === 'wallet' && account.walletFen + op.amountFen > ctx.config.limits.balanceMaxFen ? 'balance_limit_exceeded' : 'insufficient_shares';
}

/**
 * The fund pays out on the settle date: into the wallet, or through the bank to the card.
 * A credit owed to the holder is never refused: the wallet's room was checked at request
 * time, so the wallet passes its maximum at most by redemptions in flight (bounded by the
 * holding: see src/config/config.ts).
 */
async function settleRedemption(ctx: AppContext, op: OperationDocument, mode: AdvanceMode): Promise<void> {
  const X = op.amountFen;
  const toWallet = op.channel === 'wallet';
  const destination = toWallet ? ledger.wallet(op.userId) : ledger.bankClearing;
  await applyAccountLeg(
    op,
    {
      step: 'settle',
      inc: toWallet ? { redeemingFen: -X, walletFen: X } : { redeemingFen: -X },
      postings: [{ account: ledger.redeeming(op.userId), amountFen: -X }, { account: destination, amountFen: X }],
    },
    ctx.clock.now(),
  );
  if (!toWallet) {
    const outcome = await askBank(ctx, op, 'payout', mode);
    if (outcome === 'unknown') return;
    if (outcome !== 'succeeded') {
      // The cash is the holder's either way: a refused card payout lands in the wallet.
      await applyAccountLeg(op, { step: 'to-wallet', inc: { walletFen: X }, postings: bankTo(ledger.wallet(op.userId), X) }, ctx.clock.now());
    }
  }
  await moveTo(op, 'awaiting_settlement', 'completed', ctx.clock.now());
}

type BankResult = BankOutcome | 'unknown' | 'absent';

/**
 * Calls the bank with a reference unique to the operation and step. After a crash the bank
 * is asked first: a charge it never received is not made late behind the holder's back
 * ('absent'), while a payout owed to the holder is sent again.
 */
async function askBank(ctx: AppContext, op: OperationDocument, kind: 'charge' | 'payout', mode: AdvanceMode): Promise<BankResult> {
  const reference = `${op._id}:${kind}`;
  try {
    if (mode === 'recovery') {
      const known = await ctx.bank.outcomeOf(reference);
      if (known) return known;
      // A charge the bank has no outcome for is cancelled there before the operation fails,
      // so a call still in flight cannot succeed behind a failed operation.
      if (kind === 'charge') {
        const closed = await ctx.bank.cancelCharge(reference, op.bankCardId!, op.amountFen);
        return closed === 'cancelled' ? 'absent' : closed;
      }
    }
    const call = kind === 'charge' ? ctx.bank.charge : ctx.bank.payout;
    return await call.call(ctx.bank, reference, op.bankCardId!, op.amountFen);
  } catch (error) {
    if (!(error instanceof BankUnavailableError)) log.error({ err: error, reference }, 'bank call failed');
    return 'unknown';
  }
}

/** Holding another fund blocks a switch until the position is zero and nothing is in flight. */
export function fundGuard(fundCode: string) {
  return { $or: [{ fundCode }, { fundCode: null }, { sharesFen: 0n, subscribingFen: 0n, redeemingFen: 0n }] };
}

export function holdsAnotherFund(account: AccountDocument, fundCode: string): boolean {
  const inFund = account.sharesFen + account.subscribingFen + account.redeemingFen;
  return account.fundCode !== null && account.fundCode !== fundCode && inFund > 0n;
}

/**
 * Fails the operation once its refused leg is closed on the holder's account, so that no late
 * attempt of it (a frozen request, a replay) can apply it after the failure; a leg that applied
 * meanwhile after all is left for the next drive, which finds its mark.
 */
async function failRefused(ctx: AppContext, op: OperationDocument, step: string, code: string, mode: AdvanceMode): Promise<void> {
  if (await closeAccountLeg(op, step)) await fail(ctx, op, code, mode);
}

const bankTo = (account: string, amountFen: bigint) => [
  { account: ledger.bankClearing, amountFen: -amountFen },
  { account, amountFen },
];
const toBank = (account: string, amountFen: bigint) => [
  { account, amountFen: -amountFen },
  { account: ledger.bankClearing, amountFen },
];
