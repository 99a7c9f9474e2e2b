import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * One holder's income for one day: appended once, never updated. Its `_id`
 * (`${holderId}:${date}`) is what makes a rerun or a resumed partition a no-op. It carries
 * the running totals the next day starts from (eligible + income earns from the next day;
 * cumulative income), so the daily job reads yesterday's records and appends today's
 * without touching an account. Kept small: appends are the job's main cost, and the holder,
 * day and fund are in `_id` and `bookKey`.
 */
const incomeRecordSchema = new Schema(
  {
    _id: { type: String, required: true },
    /** `${fundCode}:${date}:${partition}`: the next day's partition reads its records by it. */
    bookKey: { type: String, required: true },
    eligibleSharesFen: { type: BigInt, required: true },
    incomeFen: { type: BigInt, required: true },
    cumulativeIncomeFen: { type: BigInt, required: true },
    /** Shares the day's operations added (or, negative, redeemed) before income; absent when none. */
    changeFen: { type: BigInt },
    /**
     * The loss the holder owes at the end of the day: shares redeemed before an earlier negative
     * day was accrued, which that day's loss then took (src/income/fold.ts). Nothing earns on it;
     * the next shares in pay it first. Absent when nothing is owed.
     */
    shortfallFen: { type: BigInt },
  },
  { versionKey: false, strict: 'throw' },
);
incomeRecordSchema.index({ bookKey: 1 });

/**
 * One partition of one fund day: its checkpoint (the last holder whose record is written)
 * and its running totals move together in one compare-and-set per batch, so a resumed or
 * duplicated worker adds each batch to the totals exactly once.
 */
const accrualPartitionSchema = new Schema(
  {
    /** `${fundCode}:${date}:${partition}` */
    _id: { type: String, required: true },
    /** `${fundCode}:${date}` */
    dayKey: { type: String, required: true },
    partition: { type: Number, required: true },
    status: { type: String, enum: ['open', 'done'], required: true },
    checkpointHolderId: { type: String, default: null },
    holders: { type: Number, default: 0 },
    // Totals across holders, as decimal strings: each holder's figure fits int64 under the
    // balance maximum, a sum over any number of them may not (see src/config/config.ts).
    eligibleSharesFen: { type: String, default: '0' },
    distributedFen: { type: String, default: '0' },
    /**
     * Σ (eligible × 万份收益 − income × 10^8) in 10^-8 fen: the truncation remainders, each
     * below 10^8 in size. The exact product itself (up to 2^70) is never stored.
     */
    residualFen8: { type: String, default: '0' },
    /** The process that wrote the latest checkpoint, for operators (and the kill test). */
    workerPid: { type: Number, default: null },
    updatedAt: { type: Date, default: null },
  },
  { versionKey: false, strict: 'throw' },
);
accrualPartitionSchema.index({ dayKey: 1 });

export type IncomeRecordDocument = InferSchemaType<typeof incomeRecordSchema> & { _id: string };
export type AccrualPartitionDocument = InferSchemaType<typeof accrualPartitionSchema> & { _id: string };
export const IncomeRecord = mongoose.model('IncomeRecord', incomeRecordSchema, 'income_records');
export const AccrualPartition = mongoose.model('AccrualPartition', accrualPartitionSchema, 'accrual_partitions');

export const incomeRecordId = (holderId: string, date: string) => `${holderId}:${date}`;
const DATE_SUFFIX_LENGTH = ':yyyy-MM-dd'.length;
export const holderOfRecord = (recordId: string) => recordId.slice(0, -DATE_SUFFIX_LENGTH);
export const fundOfBookKey = (key: string) => key.slice(0, key.indexOf(':'));
/** What a holder carries into the next day: shares that earn from then on, less a loss owed. */
export const sharesAfter = (record: Pick<IncomeRecordDocument, 'eligibleSharesFen' | 'incomeFen' | 'shortfallFen'>) =>
  record.eligibleSharesFen + record.incomeFen - (record.shortfallFen ?? 0n);
export const bookKey = (fundCode: string, date: string, partition: number) => `${fundCode}:${date}:${partition}`;
export const dayKey = (fundCode: string, date: string) => `${fundCode}:${date}`;

/** FNV-1a of the holder id: a stable hash bucket, the holder's partition every day. */
export function partitionOf(holderId: string, partitionCount: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < holderId.length; index++) {
    hash ^= holderId.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitionCount;
}
