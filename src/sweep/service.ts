import { Account, type AccountDocument } from '../accounts/model.ts';
import { findAccount } from '../accounts/service.ts';
import type { AppContext } from '../context.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { DomainError } from '../errors.ts';
import { log } from '../log.ts';
import { formatYuan, type Fen } from '../money/fen.ts';
import { topUp, transferIn, type Answer, type Caller } from '../transfers/service.ts';

export interface AutoSweepSetting {
  enabled: boolean;
  keepFen: Fen;
  onArrival: boolean;
}

export async function setAutoSweep(userId: string, setting: AutoSweepSetting) {
  await findAccount(userId);
  await retryOnWriteConflict(() =>
    Account.updateOne(
      { _id: userId },
      { $set: { autoSweepOn: setting.enabled, autoSweepKeepFen: setting.keepFen, autoSweepOnArrival: setting.onArrival } },
    ),
  );
  return { enabled: setting.enabled, keep: formatYuan(setting.keepFen), onArrival: setting.onArrival };
}

/**
 * The early-morning sweep: for every holder who switched it on, the wallet above the amount
 * to keep becomes a normal transfer-in with its own trade date. Its Idempotency-Key is the
 * day, so a second run the same morning moves nothing.
 */
export async function sweepWallets(ctx: AppContext): Promise<{ swept: number }> {
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  let swept = 0;
  for await (const account of Account.find({ autoSweepOn: true }).lean<AccountDocument[]>().cursor({ batchSize: 1000 })) {
    const holder = account as unknown as AccountDocument;
    if (await sweep(ctx, holder, `auto-sweep:${today}`, holder.walletFen)) swept++;
  }
  return { swept };
}

/** Card money into the wallet, swept on into the fund at once for holders who asked for it. */
export async function topUpAndSweep(ctx: AppContext, caller: Caller, input: { amountFen: Fen; bankCardId: string }): Promise<Answer> {
  const answer = await topUp(ctx, caller, input);
  const operation = (answer.body as { operation?: { id: string; status: string } }).operation;
  if (operation?.status === 'completed') await sweepArrival(ctx, caller.userId, operation.id, input.amountFen);
  return answer;
}

/** Sweeps a top-up the moment it lands, for holders who asked for it; at most the top-up's amount. */
async function sweepArrival(ctx: AppContext, userId: string, topUpOperationId: string, amountFen: Fen): Promise<void> {
  const account = await findAccount(userId);
  if (account.autoSweepOn && account.autoSweepOnArrival) await sweep(ctx, account, `auto-sweep:${topUpOperationId}`, amountFen);
}

async function sweep(ctx: AppContext, account: AccountDocument, idempotencyKey: string, capFen: Fen): Promise<boolean> {
  const aboveKeepFen = account.walletFen - account.autoSweepKeepFen;
  // One transfer-in moves at most the operation maximum: a larger wallet is swept over mornings.
  const amountFen = [capFen, ctx.config.limits.operationMaxFen].reduce((least, fen) => (fen < least ? fen : least), aboveKeepFen);
  if (amountFen <= 0n) return false;
  const fundCode = account.fundCode ?? ctx.config.funds[0]!.code;
  try {
    const answer: Answer = await transferIn(ctx, { userId: account._id, idempotencyKey }, { amountFen, channel: 'wallet', fundCode });
    // A refusal answers a problem, not the operation.
    const accepted = (answer.body as { operation?: unknown }).operation !== undefined;
    if (!accepted) log.warn({ userId: account._id, answer: answer.body }, 'auto-sweep refused');
    return accepted && !answer.replayed;
  } catch (error) {
    // The key was used earlier today for another amount: today's sweep is done.
    if (error instanceof DomainError && error.code === 'idempotency_key_reused') return false;
    throw error;
  }
}
