/**
 * Where a move of the sandbox's test clock lands. Pure: the current instant and the calendar
 * in, the target instant out, or a DomainError for a target that is not ahead.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { TradingCalendar } from '../calendar/tradingCalendar.ts';
import { badRequest, DomainError } from '../errors.ts';

/**
 * One of: `to` a time of day ("15:00", its next occurrence), "next-trading-day" (at 09:00) or
 * a local "yyyy-MM-ddTHH:mm"; or `days` ahead (the request schema lets exactly one through).
 */
export interface ClockMove {
  to?: string;
  days?: number;
}

/** Each day passed is published and accrued inside the request: a bound keeps it short. */
export const CLOCK_MOVE_DAYS_MAX = 31;
/** Where "next-trading-day" lands: after the morning sweep and before the cut-off. */
const TRADING_DAY_START = '09:00';
export const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/;
export const LOCAL_INSTANT = /^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d$/;

/** A move as the API and the CLI take it: exactly one of `to` and `days`. */
export const clockMoveRequest = z
  .strictObject({
    to: z
      .string()
      .max(16)
      .refine((to) => to === 'next-trading-day' || TIME_OF_DAY.test(to) || LOCAL_INSTANT.test(to), 'expected "HH:mm", "next-trading-day" or "yyyy-MM-ddTHH:mm"')
      .optional()
      .describe('A time of day ("15:00": its next occurrence), "next-trading-day" (09:00 on it) or a local "yyyy-MM-ddTHH:mm"'),
    days: z.number().int().min(1).max(CLOCK_MOVE_DAYS_MAX).optional().describe('Whole days ahead'),
  })
  .refine((move) => (move.to === undefined) !== (move.days === undefined), 'expected either "to" or "days"')
  .meta({ id: 'SandboxClockMove', examples: [{ to: '15:00' }, { to: 'next-trading-day' }, { days: 3 }] });

const notForward = (target: DateTime) =>
  new DomainError('clock_not_forward', `The test clock only moves forward: ${target.toFormat("yyyy-MM-dd'T'HH:mm")} is not after its present`, {}, {
    values: { target: target.toFormat("yyyy-MM-dd'T'HH:mm") },
  });
const tooFar = () =>
  new DomainError('clock_move_too_far', `The test clock moves at most ${CLOCK_MOVE_DAYS_MAX} days at a time`, {}, { values: { daysMax: CLOCK_MOVE_DAYS_MAX } });

export function clockTarget(move: ClockMove, now: Date, calendar: TradingCalendar): Date {
  const present = DateTime.fromJSDate(now, { zone: calendar.zone });
  const target = targetOf(move, present, calendar);
  if (!target.isValid) {
    throw badRequest(`Invalid request: to: no such day or time in ${calendar.zone}`, {}, { key: 'invalid_request_clock_target', values: { zone: calendar.zone } });
  }
  if (target <= present) throw notForward(target);
  if (target > present.plus({ days: CLOCK_MOVE_DAYS_MAX })) throw tooFar();
  return target.toJSDate();
}

function targetOf(move: ClockMove, present: DateTime, calendar: TradingCalendar): DateTime {
  if (move.days !== undefined) return present.plus({ days: move.days });
  const to = move.to!;
  if (to === 'next-trading-day') return atTime(calendar.nextTradingDay(present.toISODate()!), TRADING_DAY_START, present.zone);
  if (LOCAL_INSTANT.test(to)) return DateTime.fromISO(to, { zone: present.zone });
  const today = atTime(present.toISODate()!, to, present.zone);
  return today > present ? today : today.plus({ days: 1 });
}

function atTime(businessDate: string, timeOfDay: string, zone: DateTime['zone']): DateTime {
  return DateTime.fromISO(`${businessDate}T${timeOfDay}`, { zone });
}
