import mongoose, { Schema } from 'mongoose';

/**
 * The sandbox's own state, one document each: `clock` (the test clock's offset from real
 * time, so it survives a restart) and `book` (the seeded book exists).
 */
const sandboxStateSchema = new Schema(
  {
    _id: { type: String, required: true },
    /** How far the test clock runs ahead of real time; only ever grows. */
    offsetMs: { type: Number, default: null },
    seededAt: { type: Date, default: null },
  },
  { versionKey: false, strict: 'throw' },
);

export const SandboxState = mongoose.model('SandboxState', sandboxStateSchema, 'sandbox_state');
export const CLOCK_ID = 'clock';
export const BOOK_ID = 'book';
