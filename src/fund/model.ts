import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { outboxPaths } from '../events/outbox.ts';

/**
 * reference: before the fund's start day, shown and in the 7-day yield, never accrued.
 * pending: outside the fund's plausibility band, waiting for a second ops user; counts nowhere.
 */
export const FUND_DAY_STATUSES = ['reference', 'pending', 'published', 'accruing', 'accrued'] as const;
export type FundDayStatus = (typeof FUND_DAY_STATUSES)[number];
/** A day whose 万份收益 may still change: not yet taken up by accrual. */
export const OPEN_DAY_STATUSES = ['reference', 'pending', 'published'] as const satisfies readonly FundDayStatus[];

/**
 * The fund's calendar day: the published 万份收益 and, once accrued, what the day
 * distributed. Exact sub-fen amounts are integers of 10^-8 fen ("fen8"): a holder's exact
 * income is sharesFen × yieldPer10k / 10^8 fen, so sharesFen × yieldPer10k is exact in fen8.
 */
const fundDaySchema = new Schema(
  {
    /** `${fundCode}:${date}` */
    _id: { type: String, required: true },
    fundCode: { type: String, required: true },
    date: { type: String, required: true },
    /** 万份收益 in 0.0001 yuan per 10,000 shares ("0.4123" -> 4123). */
    yieldPer10k: { type: BigInt, required: true },
    status: { type: String, enum: FUND_DAY_STATUSES, required: true },
    publishedAt: { type: Date, required: true },
    publishedBy: { type: String, required: true },
    /** A pending day's confirmation by a second ops user. */
    confirmedAt: { type: Date, default: null },
    confirmedBy: { type: String, default: null },
    partitionCount: { type: Number, default: null },
    accrualStartedAt: { type: Date, default: null },
    /** The coordinator run accruing the day by itself, and until when (real time) others leave the day to it. */
    inlineRunner: { type: String, default: null },
    inlineRunUntil: { type: Date, default: null },
    accruedAt: { type: Date, default: null },
    holders: { type: Number, default: null },
    // Totals across holders, as decimal strings (no int64 bound): read them with BigInt(),
    // which reads the int64 of days accrued before as well.
    eligibleSharesFen: { type: String, default: null },
    distributedFen: { type: String, default: null },
    /** eligible × 万份收益 − distributed, in 10^-8 fen: booked to the fund's residual account. */
    residualFen8: { type: String, default: null },
    sevenDayYieldCompoundPercent: { type: String, default: null },
    sevenDayYieldSimplePercent: { type: String, default: null },
    /** `fund_day.accrued`, filed with the close until relayed (src/income/events.ts). */
    ...outboxPaths,
  },
  { versionKey: false, strict: 'throw' },
);
fundDaySchema.index({ fundCode: 1 });
fundDaySchema.index({ eventsDue: 1 });

/**
 * Where a fund's accrual stands: the last day accrued (days go strictly in order), the
 * partition count its book was cut into, and the residual account (10^-8 fen).
 */
const fundBookSchema = new Schema(
  {
    _id: { type: String, required: true },
    lastAccruedDate: { type: String, default: null },
    /** The start day ops set (before any accrual); else the fund's config startDate. */
    startDate: { type: String, default: null },
    /**
     * The first day the accrual opened, pinned here (with the start day) before it is opened:
     * from then on the start day is fixed. A start day set meanwhile meets it on this document.
     */
    firstOpenedDate: { type: String, default: null },
    partitionCount: { type: Number, required: true },
    /** Every accrued day's residual (across holders and days: a decimal string, as on the day). */
    residualFen8: { type: String, default: '0' },
  },
  { versionKey: false, strict: 'throw' },
);

export type FundDayDocument = InferSchemaType<typeof fundDaySchema> & { _id: string };
export type FundBookDocument = InferSchemaType<typeof fundBookSchema> & { _id: string };
export const FundDay = mongoose.model('FundDay', fundDaySchema, 'fund_days');
export const FundBook = mongoose.model('FundBook', fundBookSchema, 'fund_books');

export const fundDayId = (fundCode: string, date: string) => `${fundCode}:${date}`;
