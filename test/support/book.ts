/**
 * Seeds a fund's book as the accrual leaves it at the end of a day: one income record per
 * holder carrying its shares forward, the fund day accrued and the book standing at it.
 * For tests and benchmarks that need many holders fast (the API path takes ~0.3 s a holder).
 */
import { FundBook, FundDay, fundDayId } from '../../src/fund/model.ts';
import { IncomeRecord, bookKey, incomeRecordId, partitionOf } from '../../src/income/model.ts';

export interface BookSeed {
  fundCode: string;
  /** The last accrued day: the next one to accrue is the day after. */
  date: string;
  holders: number;
  partitionCount: number;
  /** Holder ids are `${holderPrefix}${index}`. */
  holderPrefix: string;
  sharesFenOf: (index: number) => bigint;
  /** Called after each batch of 1,000 records. */
  onBatch?: (seeded: number) => void;
}

const SEED_BATCH = 1_000;

export async function seedBook(seed: BookSeed): Promise<void> {
  for (let start = 0; start < seed.holders; start += SEED_BATCH) {
    const records = [];
    for (let index = start; index < Math.min(seed.holders, start + SEED_BATCH); index++) {
      const holderId = `${seed.holderPrefix}${index}`;
      const sharesFen = seed.sharesFenOf(index);
      records.push({
        _id: incomeRecordId(holderId, seed.date),
        bookKey: bookKey(seed.fundCode, seed.date, partitionOf(holderId, seed.partitionCount)),
        eligibleSharesFen: sharesFen,
        incomeFen: 0n,
        cumulativeIncomeFen: 0n,
      });
    }
    await IncomeRecord.collection.insertMany(records as never[], { ordered: false });
    seed.onBatch?.(start + records.length);
  }
  await FundDay.collection.insertOne({
    _id: fundDayId(seed.fundCode, seed.date),
    fundCode: seed.fundCode,
    date: seed.date,
    yieldPer10k: 0n,
    status: 'accrued',
    holders: seed.holders,
    publishedAt: new Date(),
    publishedBy: 'seed',
    residualFen8: 0n,
  } as never);
  await FundBook.collection.insertOne({ _id: seed.fundCode, lastAccruedDate: seed.date, partitionCount: seed.partitionCount, residualFen8: 0n } as never);
}
