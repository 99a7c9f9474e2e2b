import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * The event log: one document per event, `_id` its sequence number. The numbers form a
 * contiguous run with no holes (src/events/log.ts appends them in order, each number taken
 * once by the unique `_id`), so a reader that has seen number n has seen every one before it.
 * `sourceKey` names the change the event comes from: the unique index makes a change that is
 * relayed twice (two relays, a relay resumed after a crash) one event.
 */
const eventSchema = new Schema(
  {
    _id: { type: Number, required: true },
    sourceKey: { type: String, required: true },
    /** floor(seq / EVENTS_PER_PAGE): the whole log is read a page at a time, by equality. */
    page: { type: Number, required: true },
    /** Who reads it: a holder's id, `ops`, or for a batch of income `income:<fund>:<partition>`. */
    audience: { type: String, required: true },
    type: { type: String, required: true },
    userId: { type: String, default: null },
    /** When the change happened (the service's clock). */
    createdAt: { type: Date, required: true },
    /** The object as it stands after the change; for a batch of income, the day's figures. */
    data: { type: Schema.Types.Mixed, required: true },
  },
  { versionKey: false, strict: 'throw' },
);
eventSchema.index({ sourceKey: 1 }, { unique: true });
eventSchema.index({ page: 1 });
eventSchema.index({ audience: 1 });

/** Where the next append starts looking: a hint that only grows ($max), never a claim. */
const eventLogHeadSchema = new Schema({ _id: { type: String, required: true }, next: { type: Number, required: true } }, { versionKey: false, strict: 'throw' });

export const EVENTS_PER_PAGE = 100;
export const EVENT_LOG_HEAD_ID = 'events';
export type EventDocument = InferSchemaType<typeof eventSchema> & { _id: number };
export const Event = mongoose.model('Event', eventSchema, 'events');
export const EventLogHead = mongoose.model('EventLogHead', eventLogHeadSchema, 'event_log_head');
