/**
 * Instant redemption to the wallet and payment to a merchant: the liquidity reserve
 * advances the cash now and is repaid when the redemption settles with the fund on the
 * first trading day after T. The request that writes the operation holds a grant out of a
 * reserve lease of its process (src/reserve/leases.ts), so the saga touches no shard.
 *
 * The operation is written with the outcome it will have: awaiting settlement, its steps
 * (the holder's debit, the advance, the merchant's credit); its answer is rebuilt from it as
 * written (src/transfers/service.ts), not stored. The holder's leg, one guarded update that
 * checks the shares and the daily cap and leaves its mark on the account, is the commit
 * point: refused (or too late for the lease), the operation is rewritten as failed with no
 * steps; applied, nothing more is written on the request path.
 * The lease's owner notes which of its operations its requests settled (a small append per
 * few dozen). Until the lease closes, an operation not noted is unsure: a lease its owner
 * could not close cleanly is closed by recovery, which first checks each unsure operation
 * for its holder's mark (see verifyRedemptions), and a replay checks the mark before it
 * repeats the answer. On the settle date, once the lease has closed, the advance is repaid
 * to its shard.
 */
import { Account, type AccountDocument } from '../accounts/model.ts';
import { epochGuard, epochsMovedOn, SECURITY_STATE_CHANGED } from '../auth/epochs.ts';
import type { AppContext } from '../context.ts';
import { setBounded } from '../db/readCache.ts';
import { log } from '../log.ts';
import { foldedForLeg, foldIncome, forgetHolding } from '../income/fold.ts';
import { closeAccountLeg, ledgerAccount as ledger, legApplied, moveAccount, type AccountLeg, type FinishedMark } from '../accounts/legs.ts';
import { transition, type PostingDraft } from '../operations/journal.ts';
import { legFenced, registerLegFinality } from '../operations/marks.ts';
import { creditMerchant as appendReceipt } from '../merchants/service.ts';
import { Operation, type OperationDocument, type OperationStatus, type Posting } from '../operations/model.ts';
import { reloadOperation } from '../operations/service.ts';
import { leaseClosed, noteStanding, registerLeaseRedemptions, type AdvanceGrant } from '../reserve/leases.ts';
import { LeaseNote, type LeaseNoteDocument } from '../reserve/model.ts';
import { advancePostings, repayAdvance } from '../reserve/service.ts';
import { capRefusal, countsTowardInstantCap, dailyCounterShapes, dailyLeftFen, dayCountOf, INSTANT_COUNTER, type LegRules } from './dailyCounter.ts';
import { FAILURE_DETAIL, failureOf, type Failure } from '../errors.ts';
import { formatYuan, type Fen } from '../money/fen.ts';
import { isDue, moveTo, type AdvanceMode } from '../operations/machine.ts';
import { walletRoom } from './limits.ts';

export async function advanceInstant(ctx: AppContext, op: OperationDocument, _mode: AdvanceMode): Promise<void> {
  // The advance reaches its shard's outstanding when its lease closes: repaid after that
  // (an advance from before leases was taken on the shard itself).
  if (op.status === 'awaiting_settlement' && isDue(ctx, op) && (!op.leaseId || (await leaseClosed(ctx, op.leaseId)))) {
    if (op.leaseId && (await voidIfLate(ctx, op))) return;
    await repayAdvance(ctx, op);
    await ctx.faults.hit('instant:after-repay');
    await moveTo(op, 'awaiting_settlement', 'completed', ctx.clock.now());
  }
}

interface Outcome {
  status: OperationStatus;
  steps: string[];
  postings: Posting[];
  failure: { code: string; detail: string } | null;
}

/** What an instant operation is written with: its outcome if its holder's leg applies, or failed with `refusal` (no grant). */
export function intendedOutcome(
  op: Pick<OperationDocument, '_id' | 'type' | 'userId' | 'amountFen' | 'merchantId' | 'reserveShard' | 'createdAt'>,
  refusal: string | null,
): Outcome {
  if (refusal) return { status: 'failed', steps: [], postings: [], failure: failureOf(refusal) };
  const legs: [string, PostingDraft[]][] = [['redeem', redeemPostings(op)], ['advance', advancePostings(op)]];
  if (op.type === 'payment') legs.push(['pay-merchant', fromTransit(op.merchantId!, op.amountFen)]);
  const postings: Posting[] = legs.flatMap(([step, drafts]) => drafts.map((posting) => ({ ...posting, step, at: op.createdAt })));
  return { status: 'awaiting_settlement', steps: legs.map(([step]) => step), postings, failure: null };
}

/**
 * Why a request no lease can cover fails. reserve_exhausted offers a normal redemption instead,
 * so it is answered only to a holder whose shares (income folded in) could pay one.
 */
export async function refusalWithoutAdvance(op: Pick<OperationDocument, 'userId' | 'fundCode' | 'amountFen'>): Promise<string> {
  await foldIncome(op.userId);
  const account = await Account.findById(op.userId).lean<AccountDocument>();
  const sharesCover = account !== null && account.fundCode === op.fundCode && account.sharesFen >= op.amountFen;
  return sharesCover ? 'reserve_exhausted' : 'insufficient_shares';
}

/**
 * The request's part: the holder's leg, then the merchant's credit (which cannot fail).
 * Refused or too late, the operation is rewritten as failed and the grant goes back.
 */
export async function commitInstant(ctx: AppContext, op: OperationDocument, grant: AdvanceGrant | null): Promise<void> {
  if (!grant || op.status !== 'awaiting_settlement') return;
  // Decided before the lease is checked, so nothing but the leg follows that check.
  const [incomeFoldedThrough, leaseOpen] = await Promise.all([foldedForLeg(ctx, op.userId, op.fundCode ?? null), grant.stillOpen()]);
  if (!leaseOpen || ctx.clock.now().getTime() > grant.applyBeforeMs) {
    grant.giveBack();
    return voidRedemption(ctx, op, failureOf('interrupted'));
  }
  await ctx.faults.hit('instant:before-redeem');
  const refusal = await applyRedeemLeg(ctx, op, incomeFoldedThrough);
  if (refusal) {
    grant.giveBack();
    await ctx.faults.hit('instant:after-refusal');
    return voidRedemption(ctx, op, refusal);
  }
  await ctx.faults.hit('instant:after-redeem');
  if (op.type === 'payment') {
    await creditMerchant(op);
    await ctx.faults.hit('payment:after-merchant');
  }
}

/**
 * An instant operation as a replay may answer it, or null while it is unsure: it stands once
 * its holder's mark is on the account, or once its lease's owner (or closer) noted it; once
 * its lease has closed, it stands if noted and fails otherwise (see voidIfLate; a lease free
 * for anyone to close is closed here, so a replay after a crash need not wait for recovery).
 */
export async function standingInstant(ctx: AppContext, op: OperationDocument): Promise<OperationDocument | null> {
  if (op.status !== 'awaiting_settlement' || !op.leaseId) return op;
  if (await leaseClosed(ctx, op.leaseId)) {
    await voidIfLate(ctx, op);
    return reloadOperation(op._id);
  }
  return (await legApplied(op.userId, op._id, 'redeem')) || (await notedIds(op.leaseId)).has(op._id) ? op : null;
}

/**
 * The operations of a lease noted as standing: by its owner, settled by their requests, or by
 * a closer, checked. Every operation of a closed lease that stands is noted.
 */
async function notedIds(leaseId: string): Promise<Set<string>> {
  const notes = await LeaseNote.find({ leaseId }).lean<LeaseNoteDocument[]>();
  return new Set(notes.flatMap((note) => note.operationIds.split(' ')));
}

// A closed lease gets no more notes, so its noted ids may be kept: settlement asks once per
// operation, and a lease may have thousands.
const closedLeaseNotes = new Map<string, Set<string>>();
const CLOSED_LEASES_REMEMBERED = 64;

async function closedLeaseNotedIds(leaseId: string): Promise<Set<string>> {
  const known = closedLeaseNotes.get(leaseId);
  if (known) return known;
  const noted = await notedIds(leaseId);
  setBounded(closedLeaseNotes, leaseId, noted, CLOSED_LEASES_REMEMBERED);
  return noted;
}

/**
 * An operation of a closed lease that nobody noted was written after its closer read the
 * lease's operations: its request then found the lease closing and would have failed it, had
 * it not died first. Its holder's leg never applied (the request reads the lease before it),
 * so it is fenced and failed here. True when it was.
 */
async function voidIfLate(ctx: AppContext, op: OperationDocument): Promise<boolean> {
  if ((await closedLeaseNotedIds(op.leaseId!)).has(op._id)) return false;
  if (!(await closeAccountLeg(op, 'redeem'))) {
    log.error({ operationId: op._id, leaseId: op.leaseId }, 'instant redemption of a closed lease applied unnoted: left standing');
    return false;
  }
  await voidRedemption(ctx, op, failureOf('interrupted'), true);
  return true;
}

/**
 * Before a lease closes for an owner that may have died or be frozen: each of its redemptions
 * the owner did not note as settled either has its holder's mark (a payment's merchant is then
 * credited, once) or never will: its leg is closed by a fence on the holder's account, which
 * a frozen request meets when it wakes, and it is rewritten as failed (nothing moved).
 * Returns the holders' marks of the redemptions that stand, which finish with the lease.
 */
export async function verifyRedemptions(ctx: AppContext, leaseId: string): Promise<FinishedMark[]> {
  const settled = await notedIds(leaseId);
  const redemptions = await Operation.find({ leaseId }).lean<OperationDocument[]>();
  const standing: FinishedMark[] = [];
  const checked: string[] = [];
  for (const op of redemptions.filter((found) => found.status === 'awaiting_settlement')) {
    if (!settled.has(op._id)) {
      if (await closeAccountLeg(op, 'redeem')) {
        await voidRedemption(ctx, op, failureOf('interrupted'), true);
        continue;
      }
      if (op.type === 'payment') await creditMerchant(op);
      checked.push(op._id);
    }
    standing.push(redeemMarkOf(op));
  }
  // Noted before the lease closes: after it, an operation of the lease not noted is one this read missed.
  if (checked.length > 0) await noteStanding(leaseId, checked);
  return standing;
}

export const redeemMarkOf = (op: Pick<OperationDocument, '_id' | 'userId'>): FinishedMark => ({ accountId: op.userId, operationId: op._id, step: 'redeem' });

registerLeaseRedemptions({ markOf: redeemMarkOf, verify: verifyRedemptions });

/**
 * An instant operation is written with its steps: the holder's leg is recorded as applied once
 * its lease's owner, or the lease's closer, noted it, and closed once the operation failed.
 */
registerLegFinality(['instant_redemption', 'payment'], 'redeem', async (op) => {
  if (op.status === 'failed') return 'closed';
  return op.leaseId && (await notedIds(op.leaseId)).has(op._id) ? 'applied' : undefined;
});

/**
 * Its leg never applied: failed, with no steps. Any answer stored with it goes (operations
 * written before answers were rebuilt carry one): the request stores its own, and a replay
 * after recovery is answered from the failure. `afterRequest`: decided by a closer or the
 * settlement, after its request ended without an answer, so its holder is told by an event.
 */
async function voidRedemption(ctx: AppContext, op: OperationDocument, failure: Failure, afterRequest = false): Promise<void> {
  await transition(op, ['awaiting_settlement'], 'failed', ctx.clock.now(), { steps: [], postings: [], failure, response: null }, afterRequest);
}

async function creditMerchant(op: OperationDocument): Promise<void> {
  await appendReceipt(op.merchantId!, op._id, op.amountFen, op.createdAt);
}

const redeemPostings = (op: Pick<OperationDocument, 'type' | 'userId' | 'amountFen'>) => [
  { account: ledger.shares(op.userId), amountFen: -op.amountFen },
  { account: op.type === 'instant_redemption' ? ledger.wallet(op.userId) : ledger.paymentsTransit, amountFen: op.amountFen },
];

const REDEEM_ATTEMPTS_MAX = 10;

/**
 * The holder's side in one guarded update: enough shares in the fund, decided on the income
 * folded through the fund's last accrued day (`decidedOn`, the fold state in the guard), and
 * the day's instant total within the cap (the daily counter's shapes). Returns the rule that
 * refused it.
 */
async function applyRedeemLeg(ctx: AppContext, op: OperationDocument, decidedOn: string | null): Promise<Failure | undefined> {
  const X = op.amountFen;
  const toWallet = op.type === 'instant_redemption';
  let incomeFoldedThrough = decidedOn;
  for (let attempt = 0; attempt < REDEEM_ATTEMPTS_MAX; attempt++) {
    const base: AccountLeg = {
      step: 'redeem',
      guard: { sharesFen: { $gte: X }, fundCode: op.fundCode, incomeFoldedThrough, ...(toWallet ? walletRoom(ctx, X) : {}), ...epochGuard(op) },
      inc: toWallet ? { sharesFen: -X, walletFen: X } : { sharesFen: -X },
      postings: redeemPostings(op),
      // Applied by this request alone; a lease's closer fences it before failing the redemption.
      onlyWriterApplies: true,
    };
    for (const shape of capShapes(ctx, op)) {
      const leg = { ...base, guard: { ...base.guard, ...shape.guard }, inc: { ...base.inc, ...shape.inc }, ...(shape.set ? { set: shape.set } : {}) };
      if (await moveAccount(op, leg)) return undefined;
    }
    forgetHolding(ctx, op.userId);
    // A day accrued or folded since the leg was decided: its income (a loss too) counts, decided again.
    const foldedNow = await foldIncome(op.userId);
    if (foldedNow === incomeFoldedThrough) {
      const account = (await Account.findById(op.userId).lean<AccountDocument>())!;
      // Closed while this request was held up: its lease's closer failed it.
      if (legFenced(account, op._id, 'redeem')) return failureOf('interrupted');
      const reason = refusalOf(ctx, op, account);
      if (reason) return reason;
    }
    incomeFoldedThrough = foldedNow;
  }
  throw new Error(`instant redemption ${op._id}: refused ${REDEEM_ATTEMPTS_MAX} times with no rule to blame`);
}

function countsTowardCap(ctx: AppContext, op: OperationDocument): boolean {
  return countsTowardInstantCap(op.type as 'instant_redemption' | 'payment', ctx.config.limits.paymentsCountTowardInstantCap);
}

/** The natural day in Beijing of the request (not of a later recovery). */
const capDay = (ctx: AppContext, op: OperationDocument) => ctx.calendar.businessDateOf(op.createdAt);

/** The day's instant total within the cap: the daily counter's shapes (see dailyCounter.ts). */
function capShapes(ctx: AppContext, op: OperationDocument): LegRules[] {
  if (!countsTowardCap(ctx, op)) return [{ guard: {}, inc: {} }];
  return dailyCounterShapes(INSTANT_COUNTER, capDay(ctx, op), op.amountFen, ctx.config.limits.instantRedeemDailyMaxFen);
}

function refusalOf(ctx: AppContext, op: OperationDocument, account: AccountDocument): Failure | undefined {
  if (epochsMovedOn(op, account)) return failureOf(SECURITY_STATE_CHANGED);
  if (account.fundCode !== op.fundCode || account.sharesFen < op.amountFen) return failureOf('insufficient_shares');
  if (op.type === 'instant_redemption' && account.walletFen + op.amountFen > ctx.config.limits.balanceMaxFen) return failureOf('balance_limit_exceeded');
  if (!countsTowardCap(ctx, op)) return undefined;
  const leftFen = dailyLeftFen(ctx.config.limits.instantRedeemDailyMaxFen, dayCountOf(INSTANT_COUNTER, account), capDay(ctx, op));
  return op.amountFen > leftFen ? capRefusal('instant_daily_limit_exceeded', leftFen) : undefined;
}

const fromTransit = (merchantId: string, amountFen: bigint) => [
  { account: ledger.paymentsTransit, amountFen: -amountFen },
  { account: ledger.wallet(merchantId), amountFen },
];
