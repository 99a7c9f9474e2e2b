import { Account, type AccountDocument } from '../accounts/model.ts';
import { receiptTotals } from '../merchants/service.ts';
import { formatYuan } from '../money/fen.ts';
import { BALANCE_LEDGER, type BalanceField } from './journal.ts';
import { ReserveShard, type ReserveShardDocument } from '../reserve/model.ts';
import { INSTANT_TYPES, reserveLedger } from '../reserve/service.ts';
import { Operation, type OperationDocument } from './model.ts';

export interface BalanceBreak {
  /** The account (holder, merchant) or reserve shard. */
  userId: string;
  field: BalanceField | 'holdingFen' | 'availableFen' | 'leasedFen' | 'outstandingFen' | 'leasedFen + outstandingFen';
  balance: string;
  postings: string;
  /** Set when the balance is below zero, a rule of its own: it may agree with its postings. */
  rule?: 'not_negative';
}

/**
 * The journal's invariants: all postings sum to zero, every balance on every account equals
 * the sum of the postings of its ledger account, and none is below zero.
 */
export async function reconcileJournal() {
  const totals = await postingTotalsByAccount();
  const postingsTotalFen = [...totals.values()].reduce((sum, amountFen) => sum + amountFen, 0n);
  const receipts = new Map((await receiptTotals()).map((row) => [row.merchantId, row.totalFen]));
  const breaks: BalanceBreak[] = [];
  let accountsChecked = 0;
  for await (const account of Account.find().lean<AccountDocument[]>().cursor({ batchSize: 1000 })) {
    accountsChecked++;
    breaks.push(...balanceBreaks(account as unknown as AccountDocument, totals, receipts.get(account._id) ?? 0n));
  }
  breaks.push(...(await reserveBreaks(totals)));
  return { postingsTotal: formatYuan(postingsTotalFen), balanced: postingsTotalFen === 0n, accountsChecked, breaks };
}

async function postingTotalsByAccount(): Promise<Map<string, bigint>> {
  const rows = await Operation.aggregate<{ _id: string; totalFen: bigint | number }>([
    { $unwind: '$postings' },
    { $group: { _id: '$postings.account', totalFen: { $sum: '$postings.amountFen' } } },
  ]);
  return new Map(rows.map((row) => [row._id, BigInt(row.totalFen)]));
}

/**
 * Each reserve shard's available equals its postings, and so do its leased and outstanding
 * (each alone once its leases are closed; together while one is open, as an open lease's
 * advances are journalled as outstanding before the lease's close moves them on the shard);
 * and the outstanding postings equal the advances of instant operations not yet repaid.
 */
async function reserveBreaks(totals: Map<string, bigint>): Promise<BalanceBreak[]> {
  const breaks: BalanceBreak[] = [];
  const shards = await ReserveShard.find().lean<ReserveShardDocument[]>();
  const postingsOf = (account: string) => totals.get(account) ?? 0n;
  for (const shard of shards) {
    const [leased, outstanding] = [postingsOf(reserveLedger.leased(shard._id)), postingsOf(reserveLedger.outstanding(shard._id))];
    const checks: [BalanceBreak['field'], bigint, bigint][] = [['availableFen', shard.availableFen, postingsOf(reserveLedger.available(shard._id))]];
    if (shard.leasedFen === 0n) checks.push(['leasedFen', 0n, leased], ['outstandingFen', shard.outstandingFen, outstanding]);
    else checks.push(['leasedFen + outstandingFen', shard.leasedFen + shard.outstandingFen, leased + outstanding]);
    for (const [field, balanceFen, postingsFen] of checks) {
      if (balanceFen !== postingsFen) breaks.push({ userId: shard._id, field, balance: formatYuan(balanceFen), postings: formatYuan(postingsFen) });
    }
  }
  const journalledFen = shards.reduce((sum, shard) => sum + postingsOf(reserveLedger.outstanding(shard._id)), 0n);
  let advancedFen = 0n;
  for await (const found of Operation.find({ type: { $in: INSTANT_TYPES } }).lean<OperationDocument[]>().cursor({ batchSize: 1000 })) {
    const op = found as unknown as OperationDocument;
    if (op.steps.includes('advance') && !op.steps.includes('repay')) advancedFen += op.amountFen;
  }
  if (advancedFen !== journalledFen) {
    breaks.push({ userId: 'reserve', field: 'outstandingFen', balance: formatYuan(journalledFen), postings: formatYuan(advancedFen) });
  }
  return breaks;
}

function balanceBreaks(account: AccountDocument, totals: Map<string, bigint>, receiptsFen: bigint): BalanceBreak[] {
  const breaks: BalanceBreak[] = [];
  const holdingFen = account.sharesFen + account.subscribingFen;
  const check = (field: BalanceBreak['field'], balanceFen: bigint, postingsFen: bigint) => {
    const [balance, postings] = [formatYuan(balanceFen), formatYuan(postingsFen)];
    if (balanceFen !== postingsFen) breaks.push({ userId: account._id, field, balance, postings });
    if (balanceFen < 0n) breaks.push({ userId: account._id, field, balance, postings, rule: 'not_negative' });
  };
  for (const field of Object.keys(BALANCE_LEDGER) as BalanceField[]) {
    // Income reaches sharesFen by folds, not postings: the income records are its journal.
    const foldedFen = field === 'sharesFen' ? account.incomeFoldedFen : 0n;
    // A merchant's wallet is its account's plus its receipts (src/merchants/model.ts).
    const balanceFen = (account[field] as bigint) + (field === 'walletFen' ? receiptsFen : 0n);
    check(field, balanceFen, (totals.get(BALANCE_LEDGER[field](account._id)) ?? 0n) + foldedFen);
  }
  check('holdingFen', account.holdingFen, holdingFen);
  return breaks;
}
