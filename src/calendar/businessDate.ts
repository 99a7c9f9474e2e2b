// Business dates are ISO 'yyyy-MM-dd' strings naming a calendar day in the service's
// zone. Their arithmetic is zone-free, so it runs in UTC where every day is 24 hours.
import { DateTime } from 'luxon';

const ISO_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** True for a real calendar day written 'yyyy-MM-dd' ('2024-02-30' is false). */
export function isBusinessDate(text: unknown): text is string {
  return typeof text === 'string' && ISO_DATE_PATTERN.test(text) && DateTime.fromISO(text, { zone: 'utc' }).isValid;
}

/** Reads a business date; a malformed one is a programmer error, so it throws. */
export function toUtcDay(businessDate: string): DateTime<true> {
  if (!isBusinessDate(businessDate)) throw new RangeError(`not a yyyy-MM-dd date: ${JSON.stringify(businessDate)}`);
  return DateTime.fromISO(businessDate, { zone: 'utc' }) as DateTime<true>;
}

export function addCalendarDays(businessDate: string, days: number): string {
  if (!Number.isInteger(days)) throw new RangeError(`addCalendarDays: not a whole number of days: ${days}`);
  return toUtcDay(businessDate).plus({ days }).toISODate();
}

/** Calendar days from `from` to `to`: positive when `to` is later. */
export function daysBetween(from: string, to: string): number {
  return toUtcDay(to).diff(toUtcDay(from), 'days').days;
}
