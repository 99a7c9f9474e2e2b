import type { AccountDocument } from '../accounts/model.ts';
import { FAILURE_DETAIL, type Failure } from '../errors.ts';
import { formatYuan, type Fen } from '../money/fen.ts';
import type { AccountLeg } from '../accounts/legs.ts';

/**
 * A holder's daily counter on the account (the instant-redemption cap, the transfer-in daily
 * maximum): the natural day in Beijing it counts and the amount counted, moved by the leg's
 * own guarded update.
 *
 * A leg counts on the day of its request, D, but it never resets or rewinds a counter already
 * on a later day: a request from just before midnight whose leg lands after one from just after
 * would restart the new day's counter at D, and both days would pass the limit. Such a late leg
 * counts toward that later day instead: its money really moves then, and the limit never
 * loosens. Hence three shapes, each one guarded update, tried in turn: the same day (add under
 * the limit), an earlier day or none (restart at D), a later day (add to that day's counter
 * under the limit). `yyyy-MM-dd` dates compare as strings; FerretDB runs `$lt`/`$gt` after its
 * fetch, which only the rarer shapes pay.
 */
export interface DailyCounter {
  dateField: 'instantDate' | 'transferInDate';
  amountField: 'instantTodayFen' | 'transferInTodayFen';
}

/** The instant-redemption cap's counter (config limits.instantRedeemDailyMaxFen). */
export const INSTANT_COUNTER: DailyCounter = { dateField: 'instantDate', amountField: 'instantTodayFen' };

/** Instant redemptions count toward the cap; payments when config limits.paymentsCountTowardInstantCap says so. */
export function countsTowardInstantCap(type: 'instant_redemption' | 'payment', paymentsCountTowardInstantCap: boolean): boolean {
  return type === 'instant_redemption' || paymentsCountTowardInstantCap;
}

export type LegRules = Pick<AccountLeg, 'guard' | 'inc' | 'set'>;

/** The shapes of a leg of `amountFen` on `day` under `maxFen`; none when it exceeds the maximum alone. */
export function dailyCounterShapes(counter: DailyCounter, day: string, amountFen: Fen, maxFen: Fen): LegRules[] {
  if (amountFen > maxFen) return [];
  const { dateField, amountField } = counter;
  const underMax = { [amountField]: { $lte: maxFen - amountFen } };
  const addTo: AccountLeg['inc'] = { [amountField]: amountFen };
  return [
    { guard: { [dateField]: day, ...underMax }, inc: addTo },
    // In $and, so a leg's own $or (the fund guard) stays beside it.
    { guard: { $and: [{ $or: [{ [dateField]: null }, { [dateField]: { $lt: day } }] }] }, inc: {}, set: { [dateField]: day, [amountField]: amountFen } },
    { guard: { [dateField]: { $gt: day }, ...underMax }, inc: addTo },
  ];
}

/** A daily counter's state: the natural day it counts (none yet) and the amount counted on it. */
export interface DayCount {
  date: string | null;
  amountFen: Fen;
}

export const dayCountOf = (counter: DailyCounter, account: AccountDocument): DayCount => ({ date: account[counter.dateField] ?? null, amountFen: account[counter.amountField] });

/** What is already counted on the day a leg of `day` counts toward (that day, or a later one), as the shapes see it. */
export function countedOnDay(count: DayCount, day: string): Fen {
  return count.date !== null && count.date >= day ? count.amountFen : 0n;
}

/** What is left of a daily maximum for a leg of `day` (negative when the maximum was lowered below the count). */
export function dailyLeftFen(maxFen: Fen, count: DayCount, day: string): Fen {
  return maxFen - countedOnDay(count, day);
}

/** The counter after a leg of `amountFen` on `day` applied: the effect of the shape that matched (see dailyCounterShapes). */
export function countAfterLeg(count: DayCount, day: string, amountFen: Fen): DayCount {
  if (count.date === null || count.date < day) return { date: day, amountFen };
  return { date: count.date, amountFen: count.amountFen + amountFen };
}

/**
 * A daily maximum's refusal says how much is left of it today; a maximum lowered below what
 * was already counted leaves nothing, not a negative amount.
 */
export function capRefusal(code: string, leftFen: Fen): Failure {
  const remainingToday = formatYuan(leftFen > 0n ? leftFen : 0n);
  return { code, detail: `${FAILURE_DETAIL[code]}: ${remainingToday} yuan is left today`, remainingToday };
}
