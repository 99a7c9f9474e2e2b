import mongoose, { Schema } from 'mongoose';
import { FLOW_CHANNELS, type PerChannel } from './flows.ts';

/** service: rolled up from the service's own operations; import: read from a CSV file of daily totals. */
export const FLOW_DAY_SOURCES = ['service', 'import'] as const;
export type FlowDaySource = (typeof FLOW_DAY_SOURCES)[number];

/** One value per channel, each required. */
const perChannelPaths = (type: unknown) => new Schema(Object.fromEntries(FLOW_CHANNELS.map((channel) => [channel, { type, required: true }])), { _id: false });

/**
 * One business date's flow totals from one source (src/planning/history.ts). Amounts are
 * decimal strings of fen (no int64 bound; read them with BigInt()). Read a month at a time by
 * equality on `month`: FerretDB pushes down equality only.
 */
const flowDaySchema = new Schema(
  {
    /** `${date}:${source}` */
    _id: { type: String, required: true },
    date: { type: String, required: true },
    /** yyyy-MM of the date. */
    month: { type: String, required: true },
    source: { type: String, enum: FLOW_DAY_SOURCES, required: true },
    totalsFen: { type: perChannelPaths(String), required: true },
    counts: { type: perChannelPaths(Number), required: true },
    /** The totals per Beijing hour (24 decimal strings a channel): the service's own days only. */
    hourlyFen: { type: perChannelPaths([String]), default: null },
    writtenAt: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);
flowDaySchema.index({ month: 1 });

/** As stored (Mongoose infers the per-channel paths loosely, so it is written out). */
export interface FlowDayDocument {
  _id: string;
  date: string;
  month: string;
  source: FlowDaySource;
  totalsFen: PerChannel<string>;
  counts: PerChannel<number>;
  hourlyFen: PerChannel<string[]> | null;
  writtenAt: Date;
}

export const FlowDay = mongoose.model('FlowDay', flowDaySchema, 'flow_days');

export const flowDayId = (date: string, source: FlowDaySource) => `${date}:${source}`;
