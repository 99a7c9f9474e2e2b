import { Account, type AccountDocument } from '../accounts/model.ts';
import { formatYuan } from '../money/fen.ts';
import { BALANCE_LEDGER, type BalanceField } from './journal.ts';
import { Operation } from './model.ts';

export interface BalanceBreak {
  userId: string;
  field: BalanceField | 'holdingFen';
  balance: string;
  postings: string;
}

/**
 * The journal's invariants: all postings sum to zero, and every balance on every account
 * equals the sum of the postings of its ledger account.
 */
export async function reconcileJournal() {
  const totals = await postingTotalsByAccount();
  const postingsTotalFen = [...totals.values()].reduce((sum, amountFen) => sum + amountFen, 0n);
  const breaks: BalanceBreak[] = [];
  let accountsChecked = 0;
  for await (const account of Account.find().lean<AccountDocument[]>().cursor({ batchSize: 1000 })) {
    accountsChecked++;
    breaks.push(...balanceBreaks(account as unknown as AccountDocument, totals));
  }
  return { postingsTotal: formatYuan(postingsTotalFen), balanced: postingsTotalFen === 0n, accountsChecked, breaks };
}

async function postingTotalsByAccount(): Promise<Map<string, bigint>> {
  const rows = await Operation.aggregate<{ _id: string; totalFen: bigint | number }>([
    { $unwind: '$postings' },
    { $group: { _id: '$postings.account', totalFen: { $sum: '$postings.amountFen' } } },
  ]);
  return new Map(rows.map((row) => [row._id, BigInt(row.totalFen)]));
}

function balanceBreaks(account: AccountDocument, totals: Map<string, bigint>): BalanceBreak[] {
  const breaks: BalanceBreak[] = (Object.keys(BALANCE_LEDGER) as BalanceField[]).flatMap((field) => {
    // Income reaches sharesFen by folds, not postings: the income records are its journal.
    const foldedFen = field === 'sharesFen' ? account.incomeFoldedFen : 0n;
    const postingsFen = (totals.get(BALANCE_LEDGER[field](account._id)) ?? 0n) + foldedFen;
    const balanceFen = account[field] as bigint;
    if (balanceFen === postingsFen) return [];
    return [{ userId: account._id, field, balance: formatYuan(balanceFen), postings: formatYuan(postingsFen) }];
  });
  const holdingFen = account.sharesFen + account.subscribingFen;
  if (account.holdingFen !== holdingFen) {
    breaks.push({ userId: account._id, field: 'holdingFen', balance: formatYuan(account.holdingFen), postings: formatYuan(holdingFen) });
  }
  return breaks;
}
