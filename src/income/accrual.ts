/**
 * The daily income engine. A fund day D is accrued in K partitions (hash buckets of the
 * holder id). Partition p reads yesterday's income records of its bucket (streamed, sorted
 * by holder) and the few operations that changed earning shares on D, and appends one
 * income record per holder with unordered insertMany: no account is updated on the way.
 * A checkpoint and the partition's running totals move together once per batch, so a crash
 * resumes after the last batch and a duplicate worker cannot count a batch twice; a record
 * written twice is refused by its unique id. When every partition is done the day is closed:
 * its figures, the 7-day yields and the residual (booked once, by a compare-and-set on the
 * fund's book) are fixed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoBulkWriteError } from 'mongodb';
import { Account, type AccountDocument } from '../accounts/model.ts';
import type { AppContext } from '../context.ts';
import { isDuplicateKey, retryOnWriteConflict } from '../db/writeConflict.ts';
import { FundBook, FundDay, fundDayId, type FundBookDocument, type FundDayDocument } from '../fund/model.ts';
import { fundBookOf, nextDayToAccrue, requireFund, sevenDayYields } from '../fund/service.ts';
import { log } from '../log.ts';
import { Operation } from '../operations/model.ts';
import { dailyIncomeFen, FEN8_PER_FEN } from '../money/yield.ts';
import { withEvent } from '../events/outbox.ts';
import { shareChanges } from './effects.ts';
import { accruedDayEvent } from './events.ts';
import {
  AccrualPartition,
  IncomeRecord,
  bookKey,
  dayKey,
  holderOfRecord,
  incomeRecordId,
  sharesAfter,
  type AccrualPartitionDocument,
  type IncomeRecordDocument,
} from './model.ts';

export interface AccrualDay {
  fundCode: string;
  date: string;
  partitionCount: number;
}

/**
 * Opens the next day of the fund's accrual, in strict date order: the day after the last
 * accrued one, once it has ended and its 万份收益 is published. Idempotent: a day already
 * open is returned as it is, so a coordinator that crashed half-way finishes the opening.
 */
export async function openAccrualDay(
  ctx: AppContext,
  fundCode: string,
  through?: string,
  onEmptyDayClosed: (date: string) => void = () => {},
): Promise<AccrualDay | null> {
  requireFund(ctx, fundCode);
  const book = await fundBookOf(ctx, fundCode);
  if (book.partitionCount !== ctx.config.accrual.partitions) {
    throw new Error(`accrual.partitions is ${ctx.config.accrual.partitions} but ${fundCode}'s book was cut into ${book.partitionCount}`);
  }
  const date = await nextDayToAccrue(ctx, book);
  if (date === null || date >= ctx.calendar.businessDateOf(ctx.clock.now()) || (through !== undefined && date > through)) return null;
  const day = await FundDay.findById(fundDayId(fundCode, date)).lean<FundDayDocument>();
  // Not published, or waiting for a second ops user: it blocks every later day.
  if (!day || day.status === 'pending') return null;
  if (day.status === 'reference') {
    // At or after the start day: a relabelling cut off after the start day moved. Published, then.
    await retryOnWriteConflict(() => FundDay.updateOne({ _id: day._id, status: 'reference' }, { $set: { status: 'published' } }));
    return openAccrualDay(ctx, fundCode, through, onEmptyDayClosed);
  }
  if (book.lastAccruedDate == null && book.firstOpenedDate == null && !(await pinFirstDay(book, date))) return openAccrualDay(ctx, fundCode, through, onEmptyDayClosed);
  if (day.status === 'accrued') {
    await closeBook(book, day); // a crash between closing the day and the book
    return openAccrualDay(ctx, fundCode, through, onEmptyDayClosed);
  }
  const empty = day.status === 'published' ? await closedAsEmpty(ctx, book, day) : 'not_empty';
  if (empty === 'closed') onEmptyDayClosed(date);
  if (empty !== 'not_empty') return openAccrualDay(ctx, fundCode, through, onEmptyDayClosed);
  if (day.status === 'published') {
    await retryOnWriteConflict(() =>
      FundDay.updateOne(
        { _id: day._id, status: 'published' },
        { $set: { status: 'accruing', partitionCount: book.partitionCount, accrualStartedAt: ctx.clock.now() } },
      ),
    );
  }
  await insertIgnoringDuplicates(
    AccrualPartition.collection,
    Array.from({ length: book.partitionCount }, (_, partition) => ({
      _id: bookKey(fundCode, date, partition),
      dayKey: dayKey(fundCode, date),
      partition,
      status: 'open',
      checkpointHolderId: null,
      holders: 0,
      eligibleSharesFen: '0',
      distributedFen: '0',
      residualFen8: '0',
      workerPid: null,
      updatedAt: ctx.clock.now(),
    })),
  );
  return { fundCode, date, partitionCount: book.partitionCount };
}

/**
 * A day nobody holds anything on is closed at once, without partitions or jobs: the day before
 * ended with no holder, and no operation changes earning shares on it (the look-ups the
 * partitions would make). Its figures are zeros; its 7-day yields are any day's. `changed`
 * when the day moved meanwhile (a correction of its 万份收益 makes the compare-and-set miss;
 * another process may have closed it): the caller looks again.
 */
async function closedAsEmpty(ctx: AppContext, book: FundBookDocument, day: FundDayDocument): Promise<'closed' | 'changed' | 'not_empty'> {
  // The first day reads every earlier operation of the fund: never an empty day.
  if (book.lastAccruedDate == null) return 'not_empty';
  const previous = await FundDay.findById(fundDayId(day.fundCode, book.lastAccruedDate)).lean<FundDayDocument>();
  if (previous?.holders !== 0) return 'not_empty';
  const keys = Array.from({ length: book.partitionCount }, (_, partition) => bookKey(day.fundCode, day.date, partition));
  if ((await Promise.all(keys.map((key) => Operation.exists({ sharesEffectKey: key })))).some(Boolean)) return 'not_empty';
  const yields = await sevenDayYields(ctx, day.fundCode, day.date);
  const now = ctx.clock.now();
  const figures = { ...storedTotals(emptyTotals()), sevenDayYieldCompoundPercent: yields.compound, sevenDayYieldSimplePercent: yields.simple };
  const accrued = { status: 'accrued' as const, partitionCount: book.partitionCount, accrualStartedAt: now, accruedAt: now, ...figures };
  const closed = await retryOnWriteConflict(() =>
    FundDay.updateOne({ _id: day._id, status: 'published', yieldPer10k: day.yieldPer10k }, withEvent({ $set: accrued }, accruedDayEvent({ ...day, ...accrued }))),
  );
  if (closed.matchedCount === 0) return 'changed';
  await closeBook(book, (await FundDay.findById(day._id).lean<FundDayDocument>())!);
  log.info({ fundCode: day.fundCode, date: day.date, holders: 0 }, 'fund day accrued (nobody held anything)');
  return 'closed';
}

/**
 * Fixes the fund's start day at the first day the accrual opens, on the fund's book, before it
 * opens it: false when a start day was set meanwhile (the caller looks again).
 */
async function pinFirstDay(book: FundBookDocument, date: string): Promise<boolean> {
  const pinned = await retryOnWriteConflict(() =>
    FundBook.updateOne({ _id: book._id, lastAccruedDate: null, firstOpenedDate: null, startDate: book.startDate ?? null }, { $set: { firstOpenedDate: date } }),
  );
  return pinned.matchedCount === 1;
}

/**
 * At most how many holders the open day can have, from what is cheap to read: the day before's
 * holders plus the operations filed under the day (one equality look-up per partition, as an
 * empty day's check makes). Null when the day before has no count: a fund's first day reads
 * every earlier operation, and a book seeded without one is taken as big.
 */
export async function holdersBound(ctx: AppContext, day: AccrualDay): Promise<number | null> {
  const previousDate = ctx.calendar.addCalendarDays(day.date, -1);
  const previous = await FundDay.findById(fundDayId(day.fundCode, previousDate), { status: 1, holders: 1 }).lean<Pick<FundDayDocument, 'status' | 'holders'>>();
  if (previous?.status !== 'accrued' || typeof previous.holders !== 'number') return null;
  const keys = Array.from({ length: day.partitionCount }, (_, partition) => bookKey(day.fundCode, day.date, partition));
  const filed = await Promise.all(keys.map((key) => Operation.find({ sharesEffectKey: key }, { _id: 1 }).lean()));
  return filed.reduce((bound, operations) => bound + operations.length, previous.holders);
}

/**
 * Leases an open day to one coordinator running it by itself, until `until` (real time: when
 * the job lock it goes with lapses), or renews the lease this runner holds: false when another
 * runner's lease is live, and the caller leaves the day to it. Two runs of one day would both
 * be exact (partitions meet on their checkpoints); the lease spares the second's work, and a
 * run that stalled past its lease learns at its next renewal that it is replaced.
 */
export async function leaseDayRun(day: AccrualDay, runner: string, until: Date): Promise<boolean> {
  const now = new Date();
  const leased = await retryOnWriteConflict(() =>
    FundDay.updateOne(
      { _id: fundDayId(day.fundCode, day.date), status: 'accruing', $or: [{ inlineRunner: runner }, { inlineRunUntil: null }, { inlineRunUntil: { $lte: now } }] },
      { $set: { inlineRunner: runner, inlineRunUntil: until } },
    ),
  );
  return leased.matchedCount === 1;
}

/** Gives the day's lease up (a run that stops early), so the next coordinator need not wait for it to lapse. */
export async function releaseDayRun(day: AccrualDay, runner: string): Promise<void> {
  await retryOnWriteConflict(() =>
    FundDay.updateOne({ _id: fundDayId(day.fundCode, day.date), inlineRunner: runner }, { $set: { inlineRunner: null, inlineRunUntil: null } }),
  );
}

/** The day's partitions still open, as they stand. */
async function openPartitionsOf(fundCode: string, date: string): Promise<AccrualPartitionDocument[]> {
  const partitions = await AccrualPartition.find({ dayKey: dayKey(fundCode, date) }).lean<AccrualPartitionDocument[]>();
  return partitions.filter((partition) => partition.status === 'open');
}

export async function openPartitions(fundCode: string, date: string): Promise<number[]> {
  return (await openPartitionsOf(fundCode, date)).map((partition) => partition.partition);
}

interface PartitionHooks {
  /** Called after each batch: a job extends its lock here. */
  afterBatch?: (holdersDone: number) => Promise<void>;
}

/** An accruing day with the fund's book, read once for all the partitions a run takes. */
interface AccruingDay {
  day: FundDayDocument;
  /** The book's last accrued day is the day before; null on the fund's first day. */
  previousDate: string | null;
}

async function accruingDay(ctx: AppContext, fundCode: string, date: string): Promise<AccruingDay | null> {
  const day = await FundDay.findById(fundDayId(fundCode, date)).lean<FundDayDocument>();
  if (day?.status !== 'accruing') return null;
  const book = (await FundBook.findById(fundCode).lean<FundBookDocument>())!;
  const previousDate = ctx.calendar.addCalendarDays(date, -1);
  if (book.lastAccruedDate != null && book.lastAccruedDate !== previousDate) {
    throw new Error(`accrual of ${fundCode} ${date} open while the book stands at ${book.lastAccruedDate}`);
  }
  return { day, previousDate: book.lastAccruedDate == null ? null : previousDate };
}

/** Accrues one partition of an open day; returns when it is done (by this or another worker). */
export async function accruePartition(ctx: AppContext, fundCode: string, date: string, partition: number, hooks: PartitionHooks = {}) {
  const accruing = await accruingDay(ctx, fundCode, date);
  const part = await AccrualPartition.findById(bookKey(fundCode, date, partition)).lean<AccrualPartitionDocument>();
  if (accruing && part) await accrueOpenPartition(ctx, accruing, part, hooks);
}

/** Accrues a partition from the checkpoint it was read at, until it is done (by this or another worker). */
async function accrueOpenPartition(ctx: AppContext, { day, previousDate }: AccruingDay, part: AccrualPartitionDocument, hooks: PartitionHooks) {
  if (part.status !== 'open') return;
  const changes = await shareChanges(ctx, day.fundCode, day.date, part.partition, previousDate === null);
  const previousKey = previousDate === null ? null : bookKey(day.fundCode, previousDate, part.partition);
  for (let current: AccrualPartitionDocument | null = part; current?.status === 'open'; ) {
    current = await new PartitionWriter(ctx, day, current).run(previousKey, changes, hooks);
  }
}

/**
 * Writes one partition from its checkpoint on. Returns the partition as it stands when this
 * writer stops: done, or moved on by another worker (the caller starts again from there).
 */
class PartitionWriter {
  readonly #records: IncomeRecordDocument[] = [];
  #totals = emptyTotals();

  constructor(
    private readonly ctx: AppContext,
    private readonly day: FundDayDocument,
    private part: AccrualPartitionDocument,
  ) {}

  /** The partition as it stands when this writer stops: done (by this writer, or null: by another), or moved on by another. */
  async run(previousKey: string | null, changes: Map<string, bigint>, hooks: PartitionHooks): Promise<AccrualPartitionDocument | null> {
    const after = this.part.checkpointHolderId ?? null;
    const batchSize = this.ctx.config.accrual.batchSize;
    const book = bookOfDay(this.ctx.calendar.addCalendarDays(this.day.date, -1), previousKey, changes, after, batchSize);
    for await (const { holderId, previous, changeFen } of book) {
      const record = await this.#incomeOf(holderId, previous, changeFen);
      if (record) this.#add(record);
      if (this.#records.length >= batchSize && !(await this.#flush(holderId, 'open', hooks))) return this.#reload();
    }
    // Done by this writer: nothing to read back. Else another moved it: read where it stands.
    return (await this.#flush(this.part.checkpointHolderId ?? null, 'done', hooks)) ? this.part : this.#reload();
  }

  async #incomeOf(holderId: string, previous: CarriedRecord | null, changeFen: bigint | undefined) {
    const carriedFen = previous ? sharesAfter(previous) : 0n;
    if (carriedFen === 0n && changeFen === undefined) return null; // left the fund
    // Below zero only when the holder owes a loss (see IncomeRecord.shortfallFen): nothing earns on it.
    const positionFen = carriedFen + (changeFen ?? 0n);
    const eligibleSharesFen = positionFen > 0n ? positionFen : 0n;
    const { incomeFen, exactFen8 } = dailyIncomeFen(eligibleSharesFen, this.day.yieldPer10k);
    const cumulativeBeforeFen = previous ? previous.cumulativeIncomeFen : await foldedIncomeOf(holderId);
    // Only the remainder is kept: the exact product may pass int64, the remainder is below 10^8.
    this.#totals.residualFen8 += exactFen8 - incomeFen * FEN8_PER_FEN;
    return {
      _id: incomeRecordId(holderId, this.day.date),
      bookKey: bookKey(this.day.fundCode, this.day.date, this.part.partition),
      eligibleSharesFen,
      incomeFen,
      cumulativeIncomeFen: cumulativeBeforeFen + incomeFen,
      ...(changeFen ? { changeFen } : {}),
      ...(positionFen < 0n ? { shortfallFen: -positionFen } : {}),
    };
  }

  #add(record: IncomeRecordDocument): void {
    this.#records.push(record);
    this.#totals.holders++;
    this.#totals.eligibleSharesFen += record.eligibleSharesFen;
    this.#totals.distributedFen += record.incomeFen;
  }

  /**
   * Appends the batch, then moves checkpoint and totals by compare-and-set; false if another
   * worker moved them. The totals move only with the checkpoint, so the ones read with it are
   * current and the new ones are written whole ($set of decimal strings: an $inc is int64).
   */
  async #flush(lastHolderId: string | null, status: 'open' | 'done', hooks: PartitionHooks): Promise<boolean> {
    if (this.#records.length > 0) await insertIgnoringDuplicates(IncomeRecord.collection, this.#records);
    const last = this.#records.at(-1);
    const checkpointHolderId = last ? holderOfRecord(last._id) : lastHolderId;
    const totals = storedTotals(addTotals(totalsOf(this.part), this.#totals));
    const moved = await retryOnWriteConflict(() =>
      AccrualPartition.updateOne(
        { _id: this.part._id, status: 'open', checkpointHolderId: this.part.checkpointHolderId },
        { $set: { status, checkpointHolderId, workerPid: process.pid, updatedAt: this.ctx.clock.now(), ...totals } },
      ),
    );
    if (moved.modifiedCount === 0) return false;
    this.part = { ...this.part, status, checkpointHolderId, ...totals };
    this.#records.length = 0;
    this.#totals = emptyTotals();
    await hooks.afterBatch?.(0);
    if (this.ctx.config.accrual.pauseBetweenBatchesMs > 0) await sleep(this.ctx.config.accrual.pauseBetweenBatchesMs);
    return true;
  }

  async #reload(): Promise<AccrualPartitionDocument | null> {
    return AccrualPartition.findById(this.part._id).lean<AccrualPartitionDocument>();
  }
}

/** What a day carries into the next: shares and cumulative income per holder. */
type CarriedRecord = Pick<IncomeRecordDocument, '_id' | 'eligibleSharesFen' | 'incomeFen' | 'cumulativeIncomeFen' | 'shortfallFen'>;
const CARRIED_FIELDS = { _id: 1, eligibleSharesFen: 1, incomeFen: 1, cumulativeIncomeFen: 1, shortfallFen: 1 };

interface BookEntry {
  holderId: string;
  previous: CarriedRecord | null;
  changeFen: bigint | undefined;
}

/**
 * The partition's holders after the checkpoint, in the order of yesterday's record ids:
 * yesterday's records (streamed) merged with the holders whose shares changed today.
 */
async function* bookOfDay(
  previousDate: string,
  previousKey: string | null,
  changes: Map<string, bigint>,
  after: string | null,
  batchSize: number,
): AsyncGenerator<BookEntry> {
  const keyOf = (holderId: string) => incomeRecordId(holderId, previousDate);
  const afterKey = after === null ? null : keyOf(after);
  const changed = [...changes.keys()].map(keyOf).filter((key) => afterKey === null || key > afterKey).sort();
  const changedOnly = (key: string): BookEntry => ({ holderId: holderOfRecord(key), previous: null, changeFen: changes.get(holderOfRecord(key)) });
  let next = 0;
  if (previousKey !== null) {
    const filter = { bookKey: previousKey, ...(afterKey === null ? {} : { _id: { $gt: afterKey } }) };
    // The raw driver and only the fields the next day needs: no hydration, less to decode.
    const cursor = IncomeRecord.collection.find<CarriedRecord>(filter as object, { projection: CARRIED_FIELDS, batchSize }).sort({ _id: 1 });
    for await (const previous of cursor) {
      for (; next < changed.length && changed[next]! < previous._id; next++) yield changedOnly(changed[next]!);
      if (changed[next] === previous._id) next++;
      const holderId = holderOfRecord(previous._id);
      yield { holderId, previous, changeFen: changes.get(holderId) };
    }
  }
  for (; next < changed.length; next++) yield changedOnly(changed[next]!);
}

/** A holder entering the book today had nothing unfolded: its cumulative income is on the account. */
async function foldedIncomeOf(holderId: string): Promise<bigint> {
  const account = await Account.findById(holderId, { incomeFoldedFen: 1 }).lean<Pick<AccountDocument, 'incomeFoldedFen'>>();
  return account?.incomeFoldedFen ?? 0n;
}

/**
 * Closes the day once every partition is done: sums the partitions, fixes the figures and
 * the 7-day yields, then books the residual. Returns true when the day is accrued.
 */
export async function closeAccrualDay(ctx: AppContext, fundCode: string, date: string): Promise<boolean> {
  const parts = await AccrualPartition.find({ dayKey: dayKey(fundCode, date) }).lean<AccrualPartitionDocument[]>();
  const day = await FundDay.findById(fundDayId(fundCode, date)).lean<FundDayDocument>();
  if (!day || day.status === 'published' || parts.length !== day.partitionCount || parts.some((part) => part.status !== 'done')) return false;
  if (day.status === 'accruing') {
    const totals = parts.map(totalsOf).reduce(addTotals, emptyTotals());
    const yields = await sevenDayYields(ctx, fundCode, date);
    const accrued = {
      status: 'accrued' as const,
      accruedAt: ctx.clock.now(),
      ...storedTotals(totals),
      sevenDayYieldCompoundPercent: yields.compound,
      sevenDayYieldSimplePercent: yields.simple,
    };
    // The day's event goes with the close: it exists if and only if the day is accrued.
    await retryOnWriteConflict(() => FundDay.updateOne({ _id: day._id, status: 'accruing' }, withEvent({ $set: accrued }, accruedDayEvent({ ...day, ...accrued }))));
  }
  const closed = (await FundDay.findById(day._id).lean<FundDayDocument>())!;
  await closeBook((await FundBook.findById(fundCode).lean<FundBookDocument>())!, closed);
  log.info({ fundCode, date, holders: closed.holders, distributedFen: String(closed.distributedFen) }, 'fund day accrued');
  return true;
}

/**
 * A partition's or a day's totals across holders: bigint here, decimal strings when stored,
 * as no bound on the number of holders keeps them inside int64.
 */
interface Totals {
  holders: number;
  eligibleSharesFen: bigint;
  distributedFen: bigint;
  residualFen8: bigint;
}

const emptyTotals = (): Totals => ({ holders: 0, eligibleSharesFen: 0n, distributedFen: 0n, residualFen8: 0n });

const addTotals = (a: Totals, b: Totals): Totals => ({
  holders: a.holders + b.holders,
  eligibleSharesFen: a.eligibleSharesFen + b.eligibleSharesFen,
  distributedFen: a.distributedFen + b.distributedFen,
  residualFen8: a.residualFen8 + b.residualFen8,
});

/** BigInt() reads the decimal strings, and the int64 an older writer stored. */
function totalsOf(part: AccrualPartitionDocument): Totals {
  const { holders, eligibleSharesFen, distributedFen, residualFen8 } = part;
  return { holders, eligibleSharesFen: BigInt(eligibleSharesFen), distributedFen: BigInt(distributedFen), residualFen8: BigInt(residualFen8) };
}

function storedTotals(totals: Totals) {
  const { holders, eligibleSharesFen, distributedFen, residualFen8 } = totals;
  return { holders, eligibleSharesFen: String(eligibleSharesFen), distributedFen: String(distributedFen), residualFen8: String(residualFen8) };
}

/** Moves the book past an accrued day and books its residual, once: a compare-and-set on the last date. */
async function closeBook(book: FundBookDocument, day: FundDayDocument): Promise<void> {
  if (book.lastAccruedDate != null && book.lastAccruedDate >= day.date) return;
  // The residual moves with the last date, so the one read with it is current: written whole.
  const residualFen8 = BigInt(book.residualFen8) + BigInt(day.residualFen8!);
  await retryOnWriteConflict(() =>
    FundBook.updateOne(
      { _id: book._id, lastAccruedDate: book.lastAccruedDate ?? null },
      { $set: { lastAccruedDate: day.date, residualFen8: String(residualFen8) } },
    ),
  );
}

/** Unordered insert where a record already written (a rerun, a resumed batch) is no error. */
async function insertIgnoringDuplicates(collection: typeof IncomeRecord.collection, documents: object[]): Promise<void> {
  try {
    await collection.insertMany(documents as never[], { ordered: false });
  } catch (error) {
    const onlyDuplicates =
      error instanceof MongoBulkWriteError
        ? (Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors]).every((writeError) => writeError.code === 11000)
        : isDuplicateKey(error);
    if (!onlyDuplicates) throw error;
  }
}

export interface AccrualProgress {
  date: string;
  partitionsDone: number;
  partitionCount: number;
}

export interface InlineDayHooks extends PartitionHooks {
  /** Called as each partition is done (by this process or another). */
  onPartitionDone?: (partitionsDone: number) => void;
}

/**
 * Accrues an open day in this process, `inlinePartitionsAtOnce` partitions at a time (the
 * database waits of one overlap the computing of another), then closes it. Safe beside
 * partition jobs or another process doing the same: partitions meet on their checkpoint's
 * compare-and-set. A failure (a job told to stop at its touch) waits for the partitions in
 * flight, so nothing runs on after it, and is thrown. False when the day is left unclosed.
 */
export async function accrueDayInline(ctx: AppContext, day: AccrualDay, hooks: InlineDayHooks = {}): Promise<boolean> {
  const accruing = await accruingDay(ctx, day.fundCode, day.date);
  const open = accruing ? await openPartitionsOf(day.fundCode, day.date) : [];
  let partitionsDone = day.partitionCount - open.length;
  const queue = [...open];
  const failures: unknown[] = [];
  const lane = async () => {
    for (let part = queue.shift(); part !== undefined && failures.length === 0; part = queue.shift()) {
      try {
        await accrueOpenPartition(ctx, accruing!, part, hooks);
        hooks.onPartitionDone?.(++partitionsDone);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.config.accrual.inlinePartitionsAtOnce, open.length) }, lane));
  if (failures.length > 0) throw failures[0];
  return closeAccrualDay(ctx, day.fundCode, day.date);
}

/**
 * Accrues every due day up to `through` in this process, in date order (the CLI's catch-up
 * and backfill, and tests): the same partitions and closing as the jobs, so it may run
 * alongside them. Returns the days accrued; stops at a day with no published 万份收益.
 */
export async function accrueThrough(
  ctx: AppContext,
  fundCode: string,
  through: string,
  onProgress: (progress: AccrualProgress) => void = () => {},
): Promise<string[]> {
  const accrued: string[] = [];
  const closedEmpty = (date: string) => {
    onProgress({ date, partitionsDone: 0, partitionCount: 0 });
    accrued.push(date);
  };
  for (;;) {
    const day = await openAccrualDay(ctx, fundCode, through, closedEmpty);
    if (!day) return accrued;
    const onPartitionDone = (partitionsDone: number) => onProgress({ date: day.date, partitionsDone, partitionCount: day.partitionCount });
    if (!(await accrueDayInline(ctx, day, { onPartitionDone }))) throw new Error(`${fundCode} ${day.date}: partitions left open`);
    accrued.push(day.date);
  }
}
