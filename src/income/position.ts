import { findAccount } from '../accounts/service.ts';
import type { AppContext } from '../context.ts';
import { formatYuan } from '../money/fen.ts';
import { Operation, type OperationDocument } from '../operations/model.ts';
import { operationView } from '../operations/service.ts';
import { incomePosition } from './fold.ts';

// The position lives with income, which builds on accounts: the account alone knows no income.
/** The holder's whole position as a wallet front end shows it. */
export async function accountView(ctx: AppContext, userId: string) {
  const account = await findAccount(userId);
  const inFlight = await Operation.find({ userId, status: { $in: ['awaiting_confirmation', 'awaiting_settlement'] } })
    .sort({ _id: 1 })
    .lean<OperationDocument[]>();
  const fund = ctx.config.funds.find((candidate) => candidate.code === account.fundCode);
  const income = await incomePosition(account);
  // The position in the fund: a loss the shares no longer cover is owed, never shown as negative shares.
  const positionFen = account.sharesFen - (account.shortfallFen ?? 0n) + income.unfoldedFen;
  const sharesFen = positionFen > 0n ? positionFen : 0n;
  const yesterday = ctx.calendar.addCalendarDays(ctx.calendar.businessDateOf(ctx.clock.now()), -1);
  return {
    userId,
    fund: fund ? { code: fund.code, name: fund.name } : null,
    wallet: formatYuan(account.walletFen),
    shares: formatYuan(sharesFen),
    owed: formatYuan(sharesFen - positionFen),
    subscribing: formatYuan(account.subscribingFen),
    redeeming: formatYuan(account.redeemingFen),
    total: formatYuan(account.walletFen + sharesFen + account.subscribingFen + account.redeemingFen),
    income: {
      yesterday: formatYuan(income.latest && income.latestDate === yesterday ? income.latest.incomeFen : 0n),
      cumulative: formatYuan(income.cumulativeIncomeFen),
      lastAccruedDate: income.latestDate,
    },
    autoSweep: { enabled: account.autoSweepOn, keep: formatYuan(account.autoSweepKeepFen), onArrival: account.autoSweepOnArrival },
    pendingSubscriptions: inFlight.filter((op) => op.type === 'transfer_in').map(operationView),
    pendingRedemptions: inFlight.filter((op) => op.type === 'redemption').map(operationView),
  };
}
