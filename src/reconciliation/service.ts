import { Account, type AccountDocument } from '../accounts/model.ts';
import { receiptTotals } from '../merchants/service.ts';
import { formatYuan, sumFen } from '../money/fen.ts';
import { BALANCE_LEDGER, type BalanceField } from '../accounts/legs.ts';
import { ReserveShard, type ReserveShardDocument } from '../reserve/model.ts';
import { INSTANT_TYPES, reserveLedger } from '../reserve/service.ts';
import { Operation, type OperationDocument } from '../operations/model.ts';

export interface BalanceBreak {
  /** The account (holder, merchant) or reserve shard. */
  userId: string;
  field: BalanceField | 'holdingFen' | 'availableFen' | 'leasedFen' | 'outstandingFen' | 'leasedFen + outstandingFen';
  balance: string;
  postings: string;
  /** Set when the balance is below zero, a rule of its own: it may agree with its postings. */
  rule?: 'not_negative';
}

/** An operation whose postings do not sum to zero: where an unbalanced journal comes from. */
export interface UnbalancedOperation {
  operationId: string;
  postingsTotal: string;
  /** The ledger accounts its postings touch. */
  accounts: string[];
}

/**
 * The journal's invariants: every operation's postings sum to zero (each one that does not
 * is named, so an unbalanced verdict always says where), every balance on every account
 * equals the sum of the postings of its ledger account, and none is below zero.
 */
export async function reconcileJournal() {
  const { totals, unbalancedOperations } = await readJournal();
  const postingsTotalFen = sumFen(totals.values());
  const receipts = new Map((await receiptTotals()).map((row) => [row.merchantId, row.totalFen]));
  const breaks: BalanceBreak[] = [];
  let accountsChecked = 0;
  for await (const account of Account.find().lean<AccountDocument[]>().cursor({ batchSize: 1000 })) {
    accountsChecked++;
    breaks.push(...balanceBreaks(account as unknown as AccountDocument, totals, receipts.get(account._id) ?? 0n));
  }
  breaks.push(...(await reserveBreaks(totals)));
  const balanced = postingsTotalFen === 0n && unbalancedOperations.length === 0;
  return { postingsTotal: formatYuan(postingsTotalFen), balanced, accountsChecked, breaks, unbalancedOperations };
}

/**
 * One streamed pass over the journal: each ledger account's total, and the operations whose
 * postings do not sum to zero. Summed in bigint here, not by a database $sum: a total across
 * operations (the bank clearing account sees every top-up) is bounded by no configured
 * maximum and may pass int64, where a $sum loses exactness.
 */
async function readJournal() {
  const totals = new Map<string, bigint>();
  const unbalancedOperations: UnbalancedOperation[] = [];
  const cursor = Operation.collection.find<Pick<OperationDocument, '_id' | 'postings'>>({}, { projection: { postings: 1 }, batchSize: 1000 });
  for await (const { _id, postings } of cursor) {
    let operationTotalFen = 0n;
    for (const posting of postings ?? []) {
      const amountFen = BigInt(posting.amountFen);
      operationTotalFen += amountFen;
      totals.set(posting.account, (totals.get(posting.account) ?? 0n) + amountFen);
    }
    if (operationTotalFen !== 0n) {
      const accounts = [...new Set(postings.map((posting) => posting.account))].sort();
      unbalancedOperations.push({ operationId: String(_id), postingsTotal: formatYuan(operationTotalFen), accounts });
    }
  }
  return { totals, unbalancedOperations };
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
    // Income reaches sharesFen by folds, not postings: the income records are its journal. A
    // loss the shares did not cover is owed (shortfallFen), not taken below zero.
    const foldedFen = field === 'sharesFen' ? account.incomeFoldedFen + (account.shortfallFen ?? 0n) : 0n;
    // A merchant's wallet is its account's plus its receipts (src/merchants/model.ts).
    const balanceFen = (account[field] as bigint) + (field === 'walletFen' ? receiptsFen : 0n);
    check(field, balanceFen, (totals.get(BALANCE_LEDGER[field](account._id)) ?? 0n) + foldedFen);
  }
  check('holdingFen', account.holdingFen, holdingFen);
  return breaks;
}
