/**
 * The accrual's events. Closing a day files `fund_day.accrued` in the compare-and-set that
 * marks it accrued; the relay then logs one `income.batch` per partition that credited
 * anybody. A batch stands for the `income.credited` of each holder whose income record carries
 * its book key: the records the accrual appends are the events' source, so a million holders
 * cost the log 16 entries a day, not a million (the batch reader below reads them out, one per holder).
 */
import type { AppContext } from '../context.ts';
import { eventId, registerBatchReader, type BatchMember } from '../events/feed.ts';
import { registerEventSource } from '../events/log.ts';
import type { EventDocument } from '../events/model.ts';
import { eventDraft, type EventDraft, type OutboxFields } from '../events/outbox.ts';
import { fundDayView } from '../fund/service.ts';
import { FundDay, type FundDayDocument } from '../fund/model.ts';
import { formatYuan } from '../money/fen.ts';
import { AccrualPartition, dayKey, holderOfRecord, IncomeRecord, incomeRecordId, partitionOf, type AccrualPartitionDocument, type IncomeRecordDocument } from './model.ts';

export const INCOME_BATCH = 'income.batch';

/** Who reads a batch: the holders of one partition of one fund. */
export const incomeAudience = (fundCode: string, partition: number) => `income:${fundCode}:${partition}`;

/** Filed with the day's close: the day as it stands accrued. */
export const accruedDayEvent = (day: FundDayDocument): EventDraft =>
  eventDraft('fund_day.accrued', null, day.accruedAt!, { fundDay: fundDayView(day) }, `${day._id}:fund_day.accrued`);

export interface IncomeBatchData extends Record<string, unknown> {
  fundCode: string;
  date: string;
  partition: number;
  bookKey: string;
  fundDay: ReturnType<typeof fundDayView>;
}

async function batchesOf(day: FundDayDocument, at: Date): Promise<EventDraft[]> {
  const parts = await AccrualPartition.find({ dayKey: dayKey(day.fundCode, day.date) }).lean<AccrualPartitionDocument[]>();
  return parts
    .filter((part) => part.holders > 0)
    .sort((a, b) => a.partition - b.partition)
    .map((part) => {
      const data: IncomeBatchData = { fundCode: day.fundCode, date: day.date, partition: part.partition, bookKey: part._id, fundDay: fundDayView(day) };
      return { sourceKey: `${part._id}:${INCOME_BATCH}`, type: INCOME_BATCH, userId: null, audience: incomeAudience(day.fundCode, part.partition), at, data };
    });
}

/** One holder's income.credited, read out of its batch: the day's figures and the holder's own. */
export function incomeCredited(batch: IncomeBatchData, record: IncomeRecordDocument) {
  return {
    holderId: holderOfRecord(record._id),
    fundCode: batch.fundCode,
    date: batch.date,
    income: formatYuan(record.incomeFen),
    eligibleShares: formatYuan(record.eligibleSharesFen),
    cumulativeIncome: formatYuan(record.cumulativeIncomeFen),
    yieldPer10k: batch.fundDay.yieldPer10k,
    sevenDayYieldCompoundPercent: batch.fundDay.sevenDayYieldCompoundPercent,
  };
}

registerEventSource({
  name: 'fund-days',
  model: FundDay as never,
  async draftsOf(document) {
    const day = document as unknown as FundDayDocument & OutboxFields;
    const filed = day.outbox ?? [];
    const accrued = filed.find((draft) => draft.type === 'fund_day.accrued');
    return accrued ? [...filed, ...(await batchesOf(day, accrued.at))] : filed;
  },
});

/** A holder's income.credited, read out of its day's batch: numbered after the batch, by record. */
function incomeMember(batch: EventDocument, record: IncomeRecordDocument): BatchMember {
  const income = incomeCredited(batch.data as IncomeBatchData, record);
  const event = { id: eventId({ seq: batch._id, recordId: record._id }), type: 'income.credited' as const, createdAt: batch.createdAt.toISOString(), holderId: income.holderId, data: { income } };
  return { key: record._id, event };
}

registerBatchReader(INCOME_BATCH, {
  memberType: 'income.credited',
  async *members(batch, afterKey) {
    const { bookKey } = batch.data as IncomeBatchData;
    const filter = { bookKey, ...(afterKey ? { _id: { $gt: afterKey } } : {}) };
    for await (const record of IncomeRecord.collection.find<IncomeRecordDocument>(filter as object, { batchSize: 1_000 }).sort({ _id: 1 })) {
      yield incomeMember(batch, record);
    }
  },
  audiencesOf: (ctx: AppContext, holderId: string) => ctx.config.funds.map((fund) => incomeAudience(fund.code, partitionOf(holderId, ctx.config.accrual.partitions))),
  async memberOf(batch, holderId) {
    const data = batch.data as IncomeBatchData;
    const record = await IncomeRecord.findById(incomeRecordId(holderId, data.date)).lean<IncomeRecordDocument>();
    return record?.bookKey === data.bookKey ? incomeMember(batch, record) : null;
  },
});
