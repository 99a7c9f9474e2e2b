import { randomBytes } from 'node:crypto';

/** Random, URL-safe ids with a type prefix (u_..., card_...), 72 bits of randomness. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url')}`;
}

let lastMs = 0;
let sequence = 0;

/**
 * Ids that sort in creation order: wall-clock milliseconds, a per-process sequence within
 * the millisecond, then randomness. Histories page by id, so two operations in the same
 * millisecond (or under a test's frozen clock) still list newest first.
 */
export function newSortableId(prefix: string): string {
  const nowMs = Math.max(Date.now(), lastMs);
  sequence = nowMs === lastMs ? sequence + 1 : 0;
  lastMs = nowMs;
  const time = nowMs.toString(36).padStart(9, '0');
  const order = sequence.toString(36).padStart(4, '0');
  return `${prefix}_${time}${order}${randomBytes(6).toString('hex')}`;
}
