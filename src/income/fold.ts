import { Account, accountsDriver, type AccountDocument } from '../accounts/model.ts';
import type { AppContext } from '../context.ts';
import { driverCollection } from '../db/driver.ts';
import { readCachePerContext } from '../db/readCache.ts';
import { SharedFreshRead } from '../db/sharedRead.ts';
import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { FundBook, type FundBookDocument } from '../fund/model.ts';
import { notFound } from '../errors.ts';
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

/**
 * Folds credited income into the account's shares before money moves out of them: one
 * compare-and-set on incomeFoldedThrough, so two folds racing add the income once. Returns the
 * fold state it leaves (the account's incomeFoldedThrough), which a leg out of the shares
 * carries in its guard: a fold since refuses the leg, and the leg is decided again. A caller
 * that has just read the account passes it, saving a read when nothing is unfolded.
 *
 * A negative day can take more than the shares hold, in one window no guard closes without a
 * transaction: a leg on D+1 decided before D's accrual closed (after midnight, before the job
 * or while it runs) redeems shares that D's loss then takes, as D's income counts the shares
 * held at the end of D. The part the shares do not cover becomes the account's shortfallFen,
 * owed by the holder: sharesFen stops at zero, and the next shares in pay it first. The
 * accrual carries the same shortfall in its records (nothing earns on it), so both agree.
 */
export async function foldIncome(userId: string, justRead?: AccountDocument): Promise<string | null> {
  for (let attempt = 0; attempt < FOLD_ATTEMPTS_MAX; attempt++) {
    const account = attempt === 0 && justRead ? justRead : await Account.findById(userId).lean<AccountDocument>();
    if (!account) return null;
    const foldedBefore = account.incomeFoldedThrough ?? null;
    const latestDate = account.fundCode ? await readLastAccruedDate(account.fundCode) : null;
    const upToDate = !latestDate || foldedThrough(account, latestDate);
    if (upToDate && !shortfallPayable(account)) return foldedBefore;
    // Without a record of that day nothing was credited since the last fold (see incomePosition):
    // folded through it all the same, so the next leg need not look again.
    const latest = upToDate ? null : await IncomeRecord.findById(incomeRecordId(userId, latestDate)).lean<IncomeRecordDocument>();
    const incomeFoldedFen = latest?.cumulativeIncomeFen ?? account.incomeFoldedFen;
    const folded = { incomeFoldedThrough: upToDate ? foldedBefore : latestDate, incomeFoldedFen };
    const { guard, change } = foldedShares(account, incomeFoldedFen - account.incomeFoldedFen);
    const result = await retryOnWriteConflict(() =>
      Account.updateOne(
        { _id: userId, incomeFoldedThrough: foldedBefore, incomeFoldedFen: account.incomeFoldedFen, ...guard },
        { ...change, $set: { ...change.$set, ...folded } },
      ),
    );
    if (result.modifiedCount === 1) return folded.incomeFoldedThrough;
  }
  throw new Error(`foldIncome ${userId}: lost ${FOLD_ATTEMPTS_MAX} races in a row`);
}

const shortfallOf = (account: Pick<AccountDocument, 'shortfallFen'>) => account.shortfallFen ?? 0n;
const shortfallPayable = (account: AccountDocument) => shortfallOf(account) > 0n && account.sharesFen > 0n;

/**
 * The shares after folding `unfoldedFen` in, and the guard that keeps them what was read. The
 * usual case is an $inc (legs into and out of the shares may land meanwhile: a loss is guarded
 * to stay covered). With a shortfall owed, or one to open, the shares and the shortfall are
 * set whole from the position (shares - shortfall + income), on the shares read.
 */
function foldedShares(account: AccountDocument, unfoldedFen: bigint) {
  const positionFen = account.sharesFen - shortfallOf(account) + unfoldedFen;
  if (shortfallOf(account) === 0n && positionFen >= 0n) {
    return {
      guard: unfoldedFen < 0n ? { sharesFen: { $gte: -unfoldedFen } } : {},
      change: { $inc: { sharesFen: unfoldedFen, holdingFen: unfoldedFen } } as { $inc: object; $set?: object },
    };
  }
  const sharesFen = positionFen > 0n ? positionFen : 0n;
  return {
    guard: { sharesFen: account.sharesFen },
    change: { $inc: { holdingFen: sharesFen - account.sharesFen }, $set: { sharesFen, shortfallFen: sharesFen - positionFen } },
  };
}

type Holding = Pick<AccountDocument, 'fundCode' | 'incomeFoldedThrough'>;
// Self-correcting, so kept long: the leg out of the shares guards both. A fund switched
// elsewhere names the old fund, and a fold made elsewhere an older fold state: the leg is
// refused, the holding forgotten and read again.
const knownHoldings = readCachePerContext<Holding>((config) => config.database.holdingMemoryMs);

/** The fund a holder is in, for the hot path of an instant redemption: remembered (see knownHoldings). */
export async function holdingFundOf(ctx: AppContext, userId: string): Promise<string | null> {
  return (await knownHoldings(ctx).get(userId, () => readHolding(userId))).fundCode ?? null;
}

/**
 * The fold state a leg out of the holder's shares is decided on, for its guard: income folded
 * through the fund's last accrued day, that day read now from the fund book. Never from
 * memory: the fund book is not in the leg's update, so no guard would catch a stale day, and a
 * negative day missed lets the holder redeem shares the loss has taken. The holding may be
 * remembered: the guard checks it.
 */
export async function foldedForLeg(ctx: AppContext, userId: string, fundCode: string | null): Promise<string | null> {
  const holdings = knownHoldings(ctx);
  const [holding, lastAccruedDate] = await Promise.all([holdings.get(userId, () => readHolding(userId)), fundCode ? readLastAccruedDate(fundCode) : null]);
  if (!lastAccruedDate || foldedThrough(holding, lastAccruedDate)) return holding.incomeFoldedThrough ?? null;
  const incomeFoldedThrough = await foldIncome(userId);
  holdings.set(userId, { fundCode: holding.fundCode, incomeFoldedThrough });
  return incomeFoldedThrough;
}

/** After a refusal: the holder may have switched funds, or been folded, in another process. */
export function forgetHolding(ctx: AppContext, userId: string): void {
  knownHoldings(ctx).forget(userId);
}

async function readHolding(userId: string): Promise<Holding> {
  const holding = await accountsDriver.findOne<Holding>({ _id: userId }, { projection: { fundCode: 1, incomeFoldedThrough: 1 } });
  if (!holding) throw notFound('Account', { key: 'not_found_account' });
  return holding;
}

// Every leg of a fund asks for its book: shared, each answer read after its asking.
const lastAccruedDates = new SharedFreshRead(async (fundCode: string) => {
  const book = await fundBooks.findOne<Pick<FundBookDocument, 'lastAccruedDate'>>({ _id: fundCode }, { projection: { lastAccruedDate: 1 } });
  return book?.lastAccruedDate ?? null;
});

function readLastAccruedDate(fundCode: string): Promise<string | null> {
  return lastAccruedDates.read(fundCode);
}
