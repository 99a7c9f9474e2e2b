import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { outboxPaths } from '../events/outbox.ts';

export const ALERT_STATUSES = ['ok', 'firing'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/**
 * One document per ops alert that files events (reserve low water, reconciliation breaks, the
 * holiday schedule's end): where it stands, moved only by a compare-and-set on `status` and
 * `firings` that files the crossing's event in the same update (src/alertStates/service.ts).
 */
const alertStateSchema = new Schema(
  {
    /** The alert's key, e.g. `reserve:main:low_water`. */
    _id: { type: String, required: true },
    status: { type: String, enum: ALERT_STATUSES, required: true },
    /** Crossings into `firing` so far: each crossing's events are keyed by it. */
    firings: { type: Number, default: 0 },
    changedAt: { type: Date, default: null },
    ...outboxPaths,
  },
  { versionKey: false, strict: 'throw' },
);
alertStateSchema.index({ eventsDue: 1 });

export type AlertStateDocument = InferSchemaType<typeof alertStateSchema> & { _id: string };
export const AlertState = mongoose.model('AlertState', alertStateSchema, 'alert_states');
