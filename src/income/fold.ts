import { Account, type AccountDocument } from '../accounts/model.ts';
import { driverCollection } from '../db/driver.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { FundBook, type FundBookDocument } from '../fund/model.ts';
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
  const alreadyFolded = account.incomeFoldedThrough != null && account.incomeFoldedThrough >= latestDate;
  return {
    latest,
    latestDate,
    unfoldedFen: alreadyFolded ? 0n : latest.cumulativeIncomeFen - account.incomeFoldedFen,
    cumulativeIncomeFen: latest.cumulativeIncomeFen,
  };
}

const FOLD_ATTEMPTS_MAX = 20;

// Every money request out of a holding asks the fund book: without Mongoose (see db/driver.ts).
const fundBooks = driverCollection(FundBook);

/** Nothing to fold, known without reading the holder's income record. */
async function foldedThroughLatest(account: AccountDocument): Promise<boolean> {
  if (!account.fundCode) return true;
  const book = await fundBooks.findOne<Pick<FundBookDocument, 'lastAccruedDate'>>({ _id: account.fundCode }, { projection: { lastAccruedDate: 1 } });
  const latestDate = book?.lastAccruedDate;
  return !latestDate || (account.incomeFoldedThrough != null && account.incomeFoldedThrough >= latestDate);
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
    if (!latest || !latestDate || (account.incomeFoldedThrough != null && account.incomeFoldedThrough >= latestDate)) return;
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
