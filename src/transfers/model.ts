import mongoose, { Schema } from 'mongoose';

/**
 * What a fund has taken in subscriptions on one trade date, for the optional fund-wide daily
 * quota. A reservation or release is a guarded leg of the operation engine, as on accounts.
 */
const fundQuotaSchema = new Schema(
  {
    _id: { type: String, required: true },
    fundCode: { type: String, required: true },
    tradeDate: { type: String, required: true },
    subscribedFen: { type: BigInt, default: 0n },
    legCount: { type: Number, default: 0 },
    unfinishedMarks: { type: String, default: '' },
  },
  { versionKey: false, strict: 'throw' },
);

export const FundQuota = mongoose.model('FundQuota', fundQuotaSchema, 'fund_quotas');
