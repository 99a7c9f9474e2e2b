import { findAccount } from '../accounts/service.ts';
import { SECURITY_STATE_CHANGED, type SecurityEpochs } from '../auth/epochs.ts';
import { confirmSession, paymentPasswordPassesQuietly, paymentPasswordStateChanged, sessionStateChanged, verifyPaymentPassword, type Principal } from '../auth/service.ts';
import { requireOwnBankCard } from '../bank/service.ts';
import type { AppContext } from '../context.ts';
import { unknownFund } from '../fund/service.ts';
import type { Fen } from '../money/fen.ts';
import { renderAnswer, type RenderedAnswer } from '../operations/answers.ts';
import { answerOnTransition, currentOperation } from '../operations/journal.ts';
import { Operation, type OperationDocument } from '../operations/model.ts';
import {
  rememberFirstResponse,
  startOperation,
  type OperationRequest,
} from '../operations/service.ts';
import { redemptionEffectDate, sharesEffect } from '../income/effects.ts';
import { holdingFundOf } from '../income/fold.ts';
import { merchantNameOf, unknownMerchant } from '../merchants/service.ts';
import { grantAdvance } from '../reserve/leases.ts';
import { INSTANT_TYPES } from '../reserve/service.ts';
import { advanceOperation } from '../operations/machine.ts';
import './advance.ts'; // registers every machine with the engine
import { commitInstant, intendedOutcome, refusalWithoutAdvance, standingInstant } from './instant.ts';
import { amountAboveMaximum, fundRequired, requestInProgress } from './errors.ts';

/** The answer to a money request, as the edge renders it; the first one is replayed for the same Idempotency-Key. */
export interface Answer extends RenderedAnswer {
  replayed: boolean;
}

export interface Caller {
  userId: string;
  idempotencyKey: string;
}

/** A caller moving money out: their session, and the sessions epoch it was verified in (src/auth/epochs.ts). */
export type MoneyOutCaller = Caller & Pick<Principal, 'sessionId' | 'sessionsEpoch' | 'sessionRemembered'>;

/** The epochs a money-out request was checked under: its session's and its password check's (null: not checked). */
function checkedUnder(caller: MoneyOutCaller, paymentPasswordEpoch: number): SecurityEpochs;
function checkedUnder(caller: MoneyOutCaller, paymentPasswordEpoch: number | null): SecurityEpochs | null;
function checkedUnder(caller: MoneyOutCaller, paymentPasswordEpoch: number | null): SecurityEpochs | null {
  return paymentPasswordEpoch === null ? null : { sessions: caller.sessionsEpoch, paymentPassword: paymentPasswordEpoch };
}

export type Channel = 'wallet' | 'bank_card';

/** Card money into the wallet (src/sweep/service.ts sweeps it on for holders who asked for it). */
export async function topUp(ctx: AppContext, caller: Caller, input: { amountFen: Fen; bankCardId: string }): Promise<Answer> {
  return runOnce(ctx, caller, { type: 'top_up', request: input, amountFen: input.amountFen, bankCardId: input.bankCardId }, async () => {
    await requireOwnBankCard(caller.userId, input.bankCardId);
  });
}

export async function withdraw(
  ctx: AppContext,
  caller: MoneyOutCaller,
  input: { amountFen: Fen; bankCardId: string; paymentPassword: string },
): Promise<Answer> {
  const { paymentPassword, ...request } = input;
  return runOnce(ctx, caller, { type: 'withdrawal', request, amountFen: input.amountFen, bankCardId: input.bankCardId }, async () => {
    await requireOwnBankCard(caller.userId, input.bankCardId);
    return checkedUnder(caller, await verifyPaymentPassword(ctx, caller.userId, paymentPassword));
  });
}

/** Wallet or card money becomes a pending subscription, confirmed into shares on T+1. */
export async function transferIn(
  ctx: AppContext,
  caller: Caller,
  input: { amountFen: Fen; channel: Channel; bankCardId?: string; fundCode?: string },
): Promise<Answer> {
  const now = ctx.clock.now();
  const tradeDate = ctx.calendar.tradeDateOf(now);
  const fundCode = input.fundCode ?? (await findAccount(caller.userId)).fundCode;
  if (!fundCode) throw fundRequired();
  const operation = {
    type: 'transfer_in' as const,
    request: input,
    amountFen: input.amountFen,
    fundCode,
    channel: input.channel,
    bankCardId: input.bankCardId ?? null,
    tradeDate,
    dueDate: ctx.calendar.confirmDateOf(tradeDate),
    // Confirmed shares earn from the confirm date.
    ...sharesEffect(ctx, caller.userId, fundCode, ctx.calendar.confirmDateOf(tradeDate)),
  };
  return runOnce(ctx, caller, operation, async () => {
    if (!ctx.config.funds.some((fund) => fund.code === fundCode)) throw unknownFund(fundCode);
    if (input.channel === 'bank_card') await requireOwnBankCard(caller.userId, input.bankCardId!);
  });
}

/** Normal redemption: shares leave now, the cash arrives on the first trading day after T. */
export async function redeem(
  ctx: AppContext,
  caller: MoneyOutCaller,
  input: { amountFen: Fen; channel: Channel; bankCardId?: string; paymentPassword: string },
): Promise<Answer> {
  const { paymentPassword, ...request } = input;
  const now = ctx.clock.now();
  const tradeDate = ctx.calendar.tradeDateOf(now);
  const account = await findAccount(caller.userId);
  const fundCode = account.fundCode ?? null;
  const operation = {
    type: 'redemption' as const,
    request,
    amountFen: input.amountFen,
    fundCode,
    channel: input.channel,
    bankCardId: input.bankCardId ?? null,
    tradeDate,
    dueDate: ctx.calendar.nextTradingDay(tradeDate),
    ...(fundCode ? sharesEffect(ctx, caller.userId, fundCode, redemptionEffectDate(ctx, ctx.calendar.businessDateOf(now), tradeDate)) : {}),
  };
  return runOnce(ctx, caller, operation, async () => {
    if (input.channel === 'bank_card') await requireOwnBankCard(caller.userId, input.bankCardId!);
    return checkedUnder(caller, await verifyPaymentPassword(ctx, caller.userId, paymentPassword));
  });
}

/** Instant redemption: the shares leave and the cash is in the wallet at once, advanced by the reserve. */
export async function redeemInstantly(ctx: AppContext, caller: MoneyOutCaller, input: { amountFen: Fen; paymentPassword: string }): Promise<Answer> {
  const { paymentPassword, ...request } = input;
  return runOnce(
    ctx,
    caller,
    await instantDraft(ctx, caller, 'instant_redemption', request, null),
    async () => checkedUnder(caller, await verifyPaymentPassword(ctx, caller.userId, paymentPassword)),
    async () => checkedUnder(caller, await paymentPasswordPassesQuietly(ctx, caller.userId, paymentPassword)),
  );
}

/** Paying a merchant from the fund: an instant redemption whose cash lands in the merchant's wallet. */
export async function payMerchant(
  ctx: AppContext,
  caller: MoneyOutCaller,
  input: { amountFen: Fen; merchantId: string; paymentPassword: string },
): Promise<Answer> {
  const { paymentPassword, ...request } = input;
  // Kept on the payment, so the holder's history names whom they paid.
  const merchantName = await merchantNameOf(input.merchantId);
  return runOnce(
    ctx,
    caller,
    { ...(await instantDraft(ctx, caller, 'payment', request, input.merchantId)), merchantName },
    async () => {
      if (merchantName === null) throw unknownMerchant();
      return checkedUnder(caller, await verifyPaymentPassword(ctx, caller.userId, paymentPassword));
    },
    async () => (merchantName !== null ? checkedUnder(caller, await paymentPasswordPassesQuietly(ctx, caller.userId, paymentPassword)) : null),
  );
}

async function instantDraft(
  ctx: AppContext,
  caller: Caller,
  type: 'instant_redemption' | 'payment',
  request: { amountFen: Fen },
  merchantId: string | null,
): Promise<OperationDraft> {
  const now = ctx.clock.now();
  const tradeDate = ctx.calendar.tradeDateOf(now);
  // Credited income is redeemable: folded by the holder's leg, on the fund book as it then stands.
  const fundCode = await holdingFundOf(ctx, caller.userId);
  return {
    type,
    request,
    amountFen: request.amountFen,
    fundCode,
    channel: 'wallet',
    merchantId,
    tradeDate,
    dueDate: ctx.calendar.nextTradingDay(tradeDate),
    ...(fundCode ? sharesEffect(ctx, caller.userId, fundCode, redemptionEffectDate(ctx, ctx.calendar.businessDateOf(now), tradeDate)) : {}),
  };
}

/** Ops add money to the reserve or take it out, spread over its shards. */
export async function adjustReserve(ctx: AppContext, caller: Caller, input: { amountFen: Fen; direction: 'increase' | 'decrease' }): Promise<Answer> {
  return runOnce(ctx, caller, { type: 'reserve_adjustment', request: input, amountFen: input.amountFen, direction: input.direction }, async () => {});
}

type OperationDraft = Omit<OperationRequest, 'userId' | 'idempotencyKey'>;

/**
 * A replay is answered before any check, so it moves nothing and never counts as a wrong
 * payment password; a new request is checked, written, then driven as far as it goes.
 * `passesQuietly` (the hot path) tells without side effects that every check would pass:
 * then the write itself finds a replay, sparing the look-up of the key. A money-out check
 * gives the security epochs it passed under; the operation carries them to its legs.
 */
async function runOnce(
  ctx: AppContext,
  caller: Caller,
  draft: OperationDraft,
  checkFirst: () => Promise<SecurityEpochs | void>,
  passesQuietly: () => Promise<SecurityEpochs | null> = async () => null,
): Promise<Answer> {
  const { userId, idempotencyKey } = caller;
  // The bound that keeps every sum of the books inside int64: refused before anything is read.
  if (draft.amountFen > ctx.config.limits.operationMaxFen) throw amountAboveMaximum(ctx.config.limits.operationMaxFen);
  let securityEpochs: SecurityEpochs | null | void = await passesQuietly();
  if (!securityEpochs) {
    if (isMoneyOut(caller)) await confirmSession(ctx, caller);
    const earlier = await Operation.exists({ userId, idempotencyKey });
    if (earlier) return replay(ctx, (await startOperation({ ...draft, userId, idempotencyKey }, ctx.clock.now())).operation);
    securityEpochs = await checkFirst();
  }
  const request = { ...draft, userId, idempotencyKey, ...(securityEpochs ? { securityEpochs } : {}) };
  const result = INSTANT_TYPES.includes(draft.type) ? await runInstant(ctx, request) : await runStandard(ctx, request);
  if ((result.body as { code?: string } | undefined)?.code === SECURITY_STATE_CHANGED) {
    await paymentPasswordStateChanged(ctx, userId);
    if (isMoneyOut(caller)) await sessionStateChanged(ctx, caller);
  }
  return result;
}

function isMoneyOut(caller: Caller): caller is MoneyOutCaller {
  return 'sessionId' in caller;
}

async function runStandard(ctx: AppContext, request: OperationRequest): Promise<Answer> {
  const { operation, replayed } = await startOperation(request, ctx.clock.now());
  if (replayed) return replay(ctx, operation);
  answerOnTransition(operation, renderAnswer);
  return answer(await advanceOperation(ctx, operation, 'request'), false);
}

/**
 * An instant redemption's advance is promised before the operation is written, which names
 * its lease and the outcome it will have (failed at once when no lease can cover it, or the shares could not); its
 * holder's leg then commits it. A request that ends in an error leaves it unsure to its lease.
 */
async function runInstant(ctx: AppContext, request: OperationRequest): Promise<Answer> {
  const grant = await grantAdvance(ctx, request.amountFen, request.dueDate!);
  const refusal = grant ? null : await refusalWithoutAdvance(request);
  let settled = false;
  try {
    // Written as failed (no lease can cover it), it keeps its answer; one that stands is
    // answered from itself as written (see answer).
    const writtenAs = (draft: OperationDocument) => {
      const outcome = intendedOutcome(draft, refusal);
      return grant ? { ...outcome } : { ...outcome, response: renderAnswer({ ...draft, ...outcome } as unknown as OperationDocument) };
    };
    const { operation, replayed } = await startOperation({ ...request, ...grant?.stamp }, ctx.clock.now(), writtenAs);
    if (replayed) {
      grant?.giveBack();
      settled = true;
      return await replay(ctx, operation);
    }
    grant?.bindTo(operation);
    answerOnTransition(operation, renderAnswer);
    await commitInstant(ctx, operation, grant);
    settled = true;
    return await answer(await currentOperation(operation), false);
  } finally {
    grant?.done(settled);
  }
}

async function replay(ctx: AppContext, written: OperationDocument): Promise<Answer> {
  // Written with its outcome, an instant redemption stands only once its holder's leg applied.
  const operation = INSTANT_TYPES.includes(written.type) ? await standingInstant(ctx, written) : written;
  if (!operation) throw requestInProgress(written._id);
  if (operation.response) return { status: operation.response.status!, body: operation.response.body, replayed: true };
  if (operation.status !== 'pending') return answer(operation, true);
  const ageMs = ctx.clock.now().getTime() - operation.updatedAt.getTime();
  if (ageMs < ctx.config.jobs.recoverAfterMs) throw requestInProgress(operation._id);
  return answer(await advanceOperation(ctx, operation, 'recovery'), true);
}

/**
 * Final answers are remembered (usually by the operation's first transition, in the same
 * update); a pending one (the bank has not answered) is not. An instant operation that
 * stands is answered from itself as it was written: its answer is a function of it, and
 * stored, it was a quarter of the document.
 */
async function answer(operation: OperationDocument, replayed: boolean): Promise<Answer> {
  if (operation.response) return { status: operation.response.status!, body: operation.response.body, replayed };
  if (standsAsWritten(operation)) return { ...renderAnswer({ ...operation, status: 'awaiting_settlement', updatedAt: operation.createdAt }), replayed };
  const result = renderAnswer(operation);
  if (operation.status !== 'pending') await rememberFirstResponse(operation, result);
  return { ...result, replayed };
}

/** An instant operation whose holder's leg applied: settled with the fund since, maybe. */
function standsAsWritten(operation: OperationDocument): boolean {
  return INSTANT_TYPES.includes(operation.type) && (operation.status === 'awaiting_settlement' || operation.status === 'completed');
}
