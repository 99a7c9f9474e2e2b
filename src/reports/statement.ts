/**
 * A holder's statement for a period: balances at its start and end, what each operation
 * moved within it, the daily income, and totals. A balance at an instant is the sum of the
 * holder's postings up to then (the journal is the truth: reconciliation checks every
 * account against it); shares add the income credited through the day before (opening) or
 * the last day (closing), which lives in the income records, not in postings.
 *
 * Reads: the holder's operations (equality on userId, indexed; the whole history, as
 * the history endpoint does) and one income record by id per day of the period plus the
 * day before. When the holder has no record on a boundary day, the records after it are
 * looked up one day at a time until one is found or the fund's last accrued day.
 */
import { findAccount } from '../accounts/service.ts';
import { addCalendarDays } from '../calendar/businessDate.ts';
import type { AppContext } from '../context.ts';
import { FundBook, type FundBookDocument } from '../fund/model.ts';
import { incomePosition } from '../income/fold.ts';
import { balancesShown } from '../income/position.ts';
import { IncomeRecord, fundOfBookKey, incomeRecordId, type IncomeRecordDocument } from '../income/model.ts';
import { formatYuan, sumFen, type Fen } from '../money/fen.ts';
import { BALANCE_LEDGER, type BalanceField } from '../accounts/legs.ts';
import { Operation, type OperationDocument } from '../operations/model.ts';
import type { CsvTable, CsvValue } from './csv.ts';
import { endOfDay, startOfDay, type ReportRange } from './range.ts';

type Balances = Record<BalanceField, Fen>;
type Entry = Pick<
  OperationDocument,
  '_id' | 'type' | 'status' | 'amountFen' | 'fundCode' | 'channel' | 'tradeDate' | 'dueDate' | 'failure' | 'postings' | 'createdAt'
>;
const ENTRY_FIELDS = { type: 1, status: 1, amountFen: 1, fundCode: 1, channel: 1, tradeDate: 1, dueDate: 1, failure: 1, postings: 1, createdAt: 1 };
const FIELDS = Object.keys(BALANCE_LEDGER) as BalanceField[];

/** The period as instants: [startMs, endMs). */
interface Window {
  startMs: number;
  endMs: number;
}

export async function holderStatement(ctx: AppContext, userId: string, range: ReportRange) {
  const account = await findAccount(userId);
  const window = { startMs: startOfDay(ctx, range.from).getTime(), endMs: endOfDay(ctx, range.to).getTime() };
  const [entries, income] = await Promise.all([
    Operation.find({ userId }, ENTRY_FIELDS).lean<Entry[]>(),
    incomeLedger(userId, range, await lastAccruedDate(account.fundCode), (await incomePosition(account)).cumulativeIncomeFen),
  ]);
  const ledger = ledgerFields(userId);
  const inPeriod = entries
    .filter((entry) => isWithin(entry.createdAt.getTime(), window) || entry.postings.some((posting) => ledger.has(posting.account) && isWithin(posting.at.getTime(), window)))
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a._id < b._id ? -1 : 1));
  const changes = inPeriod.map((entry) => changesWithin(entry, ledger, window));
  const netsFen = changes.map((change) => sumFen(Object.values(change)));
  return {
    userId,
    from: range.from,
    to: range.to,
    opening: balancesView(balancesBefore(entries, ledger, window.startMs), income.openingCumulativeFen, window.startMs),
    // A period ending today closes now: nothing is posted ahead of the clock.
    closing: balancesView(balancesBefore(entries, ledger, window.endMs), income.closingCumulativeFen, Math.min(window.endMs, ctx.clock.now().getTime())),
    operations: inPeriod.map((entry, index) => operationRow(ctx, entry, changes[index]!)),
    income: income.days,
    totals: {
      income: formatYuan(income.closingCumulativeFen - income.openingCumulativeFen),
      in: formatYuan(sumFen(netsFen.filter((netFen) => netFen > 0n))),
      out: formatYuan(-sumFen(netsFen.filter((netFen) => netFen < 0n))),
    },
  };
}

export type HolderStatement = Awaited<ReturnType<typeof holderStatement>>;

const isWithin = (atMs: number, window: Window) => atMs >= window.startMs && atMs < window.endMs;

/** The holder's ledger accounts (wallet:<id>, ...) and the balance each one is. */
function ledgerFields(userId: string): Map<string, BalanceField> {
  return new Map(FIELDS.map((field) => [BALANCE_LEDGER[field](userId), field]));
}

const zeroBalances = (): Balances => ({ walletFen: 0n, sharesFen: 0n, subscribingFen: 0n, redeemingFen: 0n });

function balancesBefore(entries: Entry[], ledger: Map<string, BalanceField>, beforeMs: number): Balances {
  return sumPostings(entries, ledger, (atMs) => atMs < beforeMs);
}

function changesWithin(entry: Entry, ledger: Map<string, BalanceField>, window: Window): Balances {
  return sumPostings([entry], ledger, (atMs) => isWithin(atMs, window));
}

function sumPostings(entries: Entry[], ledger: Map<string, BalanceField>, counts: (atMs: number) => boolean): Balances {
  const balances = zeroBalances();
  for (const posting of entries.flatMap((entry) => entry.postings)) {
    const field = ledger.get(posting.account);
    if (field && counts(posting.at.getTime())) balances[field] += posting.amountFen;
  }
  return balances;
}

/** Shares include the income credited by then: the journal has share postings, the records the income. */
function balancesView(balances: Balances, cumulativeIncomeFen: Fen, atMs: number) {
  return {
    asOf: new Date(atMs).toISOString(),
    ...balancesShown({ ...balances, positionFen: balances.sharesFen + cumulativeIncomeFen }),
    cumulativeIncome: formatYuan(cumulativeIncomeFen),
  };
}

function operationRow(ctx: AppContext, entry: Entry, changes: Balances) {
  return {
    id: entry._id,
    /** The day of the request in the service's zone. */
    date: ctx.calendar.businessDateOf(entry.createdAt),
    type: entry.type,
    status: entry.status,
    amount: formatYuan(entry.amountFen),
    tradeDate: entry.tradeDate ?? null,
    createdAt: entry.createdAt.toISOString(),
    fundCode: entry.fundCode ?? null,
    channel: entry.channel ?? null,
    /** A transfer-in's confirm date, a redemption's settle date. */
    dueDate: entry.dueDate ?? null,
    failureCode: entry.failure?.code ?? null,
    // What the operation moved within the period; steps before or after it belong to other periods.
    walletChange: formatYuan(changes.walletFen),
    sharesChange: formatYuan(changes.sharesFen),
    subscribingChange: formatYuan(changes.subscribingFen),
    redeemingChange: formatYuan(changes.redeemingFen),
    totalChange: formatYuan(sumFen(Object.values(changes))),
  };
}

async function lastAccruedDate(fundCode: string | null | undefined): Promise<string | null> {
  if (!fundCode) return null;
  return (await FundBook.findById(fundCode, { lastAccruedDate: 1 }).lean<Pick<FundBookDocument, 'lastAccruedDate'>>())?.lastAccruedDate ?? null;
}

/**
 * The period's income records and the income credited through the day before it (opening)
 * and through its last day (closing). `currentCumulativeFen` is what the account shows now.
 */
async function incomeLedger(userId: string, range: ReportRange, lastAccrued: string | null, currentCumulativeFen: Fen) {
  const dayBefore = addCalendarDays(range.from, -1);
  const dates = [dayBefore, ...range.dates];
  const records = await Promise.all(dates.map((date) => IncomeRecord.findById(incomeRecordId(userId, date)).lean<IncomeRecordDocument>()));
  const found = records.flatMap((record, index) => (record ? [{ date: dates[index]!, record }] : []));
  // Nothing is credited between two records of a holder: cumulative income only moves on a record's day.
  const closingCumulativeFen =
    lastAccrued === null || range.to >= lastAccrued
      ? currentCumulativeFen
      : (found.at(-1)?.record.cumulativeIncomeFen ?? (await creditedBeforeNextRecord(userId, range.to, lastAccrued)) ?? currentCumulativeFen);
  const first = found[0];
  const openingCumulativeFen = !first
    ? closingCumulativeFen
    : first.record.cumulativeIncomeFen - (first.date === dayBefore ? 0n : first.record.incomeFen);
  return {
    openingCumulativeFen,
    closingCumulativeFen,
    days: found
      .filter(({ date }) => date !== dayBefore)
      .map(({ date, record }) => ({
        date,
        income: formatYuan(record.incomeFen),
        cumulativeIncome: formatYuan(record.cumulativeIncomeFen),
        eligibleShares: formatYuan(record.eligibleSharesFen),
        fundCode: fundOfBookKey(record.bookKey),
      })),
  };
}

const LOOKUP_DAYS_AT_ONCE = 31;

/**
 * The income credited through `date` read from the holder's next record (its cumulative
 * less its own day's income), looked up by id a month at a time up to the last accrued day;
 * undefined when there is none.
 */
async function creditedBeforeNextRecord(userId: string, date: string, lastAccrued: string): Promise<Fen | undefined> {
  for (let first = addCalendarDays(date, 1); first <= lastAccrued; first = addCalendarDays(first, LOOKUP_DAYS_AT_ONCE)) {
    const dates = Array.from({ length: LOOKUP_DAYS_AT_ONCE }, (_, index) => addCalendarDays(first, index)).filter((day) => day <= lastAccrued);
    const records = await Promise.all(dates.map((day) => IncomeRecord.findById(incomeRecordId(userId, day)).lean<IncomeRecordDocument>()));
    const next = records.find((record) => record !== null);
    if (next) return next.cumulativeIncomeFen - next.incomeFen;
  }
  return undefined;
}

const COLUMNS = [
  'entry',
  'date',
  'at',
  'operationId',
  'type',
  'status',
  'amount',
  'wallet',
  'shares',
  'subscribing',
  'redeeming',
  'total',
  'cumulativeIncome',
  'eligibleShares',
  'fundCode',
  'channel',
  'tradeDate',
  'dueDate',
  'failureCode',
] as const;

type Row = Partial<Record<(typeof COLUMNS)[number], CsvValue>>;

/**
 * One table, as a bank statement reads: the opening balances, each operation with what it
 * moved in the balance columns, each day's income (in shares), the totals and the closing
 * balances. Down each balance column, opening + movements = closing.
 */
export function statementCsv(statement: HolderStatement): CsvTable {
  const balancesRow = (entry: string, date: string, balances: HolderStatement['opening']): Row => ({ entry, date, at: balances.asOf, ...balances });
  const rows: Row[] = [
    balancesRow('opening', statement.from, statement.opening),
    ...statement.operations.map((op): Row => ({
      ...op,
      entry: 'operation',
      at: op.createdAt,
      operationId: op.id,
      wallet: op.walletChange,
      shares: op.sharesChange,
      subscribing: op.subscribingChange,
      redeeming: op.redeemingChange,
      total: op.totalChange,
    })),
    ...statement.income.map((day): Row => ({ ...day, entry: 'income', amount: day.income, shares: day.income, total: day.income })),
    ...Object.entries(statement.totals).map(([name, amount]): Row => ({ entry: `total_${name}`, amount })),
    balancesRow('closing', statement.to, statement.closing),
  ];
  return { filename: `statement-${statement.userId}-${statement.from}-to-${statement.to}.csv`, columns: COLUMNS, rows };
}
