import { MongoServerError } from 'mongodb';
import { setTimeout as sleep } from 'node:timers/promises';

const ATTEMPTS_MAX = 200;
const BACKOFF_CAP_MS = 20;

/**
 * A write refused because the document changed between FerretDB's read and its write
 * (the revision trigger, SQLSTATE 40001), or MongoDB's own WriteConflict (112).
 */
export function isWriteConflict(error: unknown): boolean {
  if (!(error instanceof MongoServerError)) return false;
  return error.code === 112 || error.hasErrorLabel('TransientTransactionError') || error.message.includes('SQLSTATE 40001');
}

/** E11000: a unique key taken already. */
export const DUPLICATE_KEY = 11000;

export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

export interface RetryOptions {
  /** Racing upserts of one new document may fail with E11000: retrying them is exact. */
  retryDuplicateKey?: boolean;
}

/**
 * Runs a single-document update (or upsert) again when it was refused as a write conflict.
 * Only for commands whose repetition is harmless because the refused attempt changed
 * nothing: never wrap a multi-document `$inc`, which can fail part-way.
 */
export async function retryOnWriteConflict<T>(command: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await command();
    } catch (error) {
      const retryable = isWriteConflict(error) || (options.retryDuplicateKey === true && isDuplicateKey(error));
      if (!retryable || attempt >= ATTEMPTS_MAX) throw error;
      // Jitter spreads the racers out so one of them wins each round.
      await sleep(Math.random() * Math.min(BACKOFF_CAP_MS, attempt * 2));
    }
  }
}
