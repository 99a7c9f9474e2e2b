import { Account, accountsDriver, type AccountDocument } from '../accounts/model.ts';
import type { AppContext } from '../context.ts';
import { driverCollection } from '../db/driver.ts';
import { readCachePerContext } from '../db/readCache.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { FundBook, type FundBookDocument } from '../fund/model.ts';
import { notFound } from '../http/problem.ts';
import { IncomeRecord, incomeRecordId, type IncomeRecordDocument } from './model.ts';

export interface IncomePosition {
  /** The holder's record of the fund's last accrued day, if the holder earned then. */
  latest: IncomeRecordDocument | null;
  latestDate: string | null;
  /** Income credited by the accrual but not yet folded into the account's sharesFen. */
  unfoldedFen: bigint;
  cumulativeIncomeFen: bigint;
}

/**
 * The daily job never updates accounts: income lives in the records, and an account's
 * sharesFen holds what was folded in (through incomeFoldedThrough, incomeFoldedFen in all).
 * A holder with shares has a record for every accrued day, so the record of the fund's last
 * accrued day carries everything credited; a holder without one has nothing unfolded (it
 * held no shares at the end of that day, so everything was redeemed, after a fold).
 */
export async function incomePosition(account: AccountDocument): Promise<IncomePosition> {
  const folded = { latest: null, latestDate: null, unfoldedFen: 0n, cumulativeIncomeFen: account.incomeFoldedFen };
  if (!account.fundCode) return folded;
  const book = await FundBook.findById(account.fundCode).lean<FundBookDocument>();
  if (!book?.lastAccruedDate) return folded;
  const latestDate = book.lastAccruedDate;
  const latest = await IncomeRecord.findById(incomeRecordId(account._id, latestDate)).lean<IncomeRecordDocument>();
  if (!latest) return folded;
  const alreadyFolded = foldedThrough(account, latestDate);
  return {
    latest,
    latestDate,
    unfoldedFen: alreadyFolded ? 0n : latest.cumulativeIncomeFen - account.incomeFoldedFen,
    cumulativeIncomeFen: latest.cumulativeIncomeFen,
  };
}

/** The account's shares hold the income credited through `date`. */
function foldedThrough(account: Pick<AccountDocument, 'incomeFoldedThrough'>, date: string): boolean {
  return account.incomeFoldedThrough != null && account.incomeFoldedThrough >= date;
}

const FOLD_ATTEMPTS_MAX = 20;

// Every money request out of a holding asks the fund book: without Mongoose (see db/driver.ts).
const fundBooks = driverCollection(FundBook);

/** Nothing to fold, known without reading the holder's income record. */
async function foldedThroughLatest(account: AccountDocument): Promise<boolean> {
  if (!account.fundCode) return true;
  const latestDate = await readLastAccruedDate(account.fundCode);
  return !latestDate || foldedThrough(account, latestDate);
}

/**
 * Folds credited income into the account's shares before money moves out of them: one
 * compare-and-set on incomeFoldedThrough, so two folds racing add the income once. A caller
 * that has just read the account passes it, saving a read when nothing is unfolded.
 */
export async function foldIncome(userId: string, justRead?: AccountDocument): Promise<void> {
  for (let attempt = 0; attempt < FOLD_ATTEMPTS_MAX; attempt++) {
    const account = attempt === 0 && justRead ? justRead : await Account.findById(userId).lean<AccountDocument>();
    if (!account || (await foldedThroughLatest(account))) return;
    const { latest, latestDate, unfoldedFen } = await incomePosition(account);
    if (!latest || !latestDate || foldedThrough(account, latestDate)) return;
    const result = await retryOnWriteConflict(() =>
      Account.updateOne(
        { _id: userId, incomeFoldedThrough: account.incomeFoldedThrough ?? null, incomeFoldedFen: account.incomeFoldedFen },
        {
          $inc: { sharesFen: unfoldedFen, holdingFen: unfoldedFen },
          $set: { incomeFoldedThrough: latestDate, incomeFoldedFen: latest.cumulativeIncomeFen },
        },
      ),
    );
    if (result.modifiedCount === 1) return;
  }
  throw new Error(`foldIncome ${userId}: lost ${FOLD_ATTEMPTS_MAX} races in a row`);
}

type Holding = Pick<AccountDocument, 'fundCode' | 'incomeFoldedThrough'>;
// Self-correcting, so kept long: a fund switched elsewhere names the old fund, which the
// redemption's guard refuses (and forgets the holding); a fold made elsewhere looks undone,
// and folding again finds nothing to add.
const knownHoldings = readCachePerContext<Holding>((config) => config.database.holdingMemoryMs);
// The fund's last accrued day: income of a day accrued elsewhere in that moment is folded by
// the redemption's retry if it is needed; a negative day is the fold window the README describes.
const knownLastAccruedDates = readCachePerContext<string | null>();

/**
 * The fund a holder is in, with credited income folded into its shares: for the hot path of
 * an instant redemption, which reads nothing once this process has seen the holder folded
 * through the fund's last accrued day (both remembered: src/db/readCache.ts).
 */
export async function foldedFundOf(ctx: AppContext, userId: string): Promise<string | null> {
  const holdings = knownHoldings(ctx);
  const holding = await holdings.get(userId, () => readHolding(userId));
  if (!holding.fundCode) return null;
  const fundCode = holding.fundCode;
  const lastAccruedDate = await knownLastAccruedDates(ctx).get(fundCode, async () => (await readLastAccruedDate(fundCode)) ?? null);
  if (!lastAccruedDate || foldedThrough(holding, lastAccruedDate)) return fundCode;
  await foldIncome(userId);
  holdings.set(userId, { fundCode, incomeFoldedThrough: lastAccruedDate });
  return fundCode;
}

/** After a refusal: the holder may have switched funds in another process. */
export function forgetHolding(ctx: AppContext, userId: string): void {
  knownHoldings(ctx).forget(userId);
}

async function readHolding(userId: string): Promise<Holding> {
  const holding = await accountsDriver.findOne<Holding>({ _id: userId }, { projection: { fundCode: 1, incomeFoldedThrough: 1 } });
  if (!holding) throw notFound('Account');
  return holding;
}

async function readLastAccruedDate(fundCode: string): Promise<string | null | undefined> {
  const book = await fundBooks.findOne<Pick<FundBookDocument, 'lastAccruedDate'>>({ _id: fundCode }, { projection: { lastAccruedDate: 1 } });
  return book?.lastAccruedDate;
}
