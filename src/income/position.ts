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
  const yesterday = ctx.calendar.addCalendarDays(ctx.calendar.businessDateOf(ctx.clock.now()), -1);
  return {
    userId,
    fund: fund ? { code: fund.code, name: fund.name } : null,
    ...balancesShown({ ...account, positionFen: account.sharesFen - (account.shortfallFen ?? 0n) + income.unfoldedFen }),
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

/**
 * Balances as a holder sees them, from the position in the fund (shares with the income
 * credited, less a negative day's loss they no longer covered): that loss is owed, never
 * shown as negative shares (src/income/fold.ts).
 */
export function balancesShown(balances: { walletFen: bigint; positionFen: bigint; subscribingFen: bigint; redeemingFen: bigint }) {
  const { walletFen, positionFen, subscribingFen, redeemingFen } = balances;
  const sharesFen = positionFen > 0n ? positionFen : 0n;
  return {
    wallet: formatYuan(walletFen),
    shares: formatYuan(sharesFen),
    owed: formatYuan(sharesFen - positionFen),
    subscribing: formatYuan(subscribingFen),
    redeeming: formatYuan(redeemingFen),
    total: formatYuan(walletFen + sharesFen + subscribingFen + redeemingFen),
  };
}
