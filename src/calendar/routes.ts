import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { apiActor, audited } from '../audit/service.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes } from '../http/openapi.ts';
import { badRequest } from '../errors.ts';
import { businessDate, dateRangeQuery } from '../http/validate.ts';
import { holidaysBetween, setHoliday } from '../holidays/service.ts';
import { checkScheduleCoverage } from '../holidays/coverage.ts';
import { SCHEDULE_ALARM_DAYS, SCHEDULE_STATUSES } from './holidaySchedule.ts';

const RANGE_DAYS_MAX = 366;

/** Shared with /readyz (src/http/health.ts). */
export const scheduleCoverageBody = z.object({
  knownThrough: businessDate.describe('the last day the holiday schedule (package, config, ops) speaks for'),
  daysRemaining: z.number().int().describe('days from today to knownThrough: 0 on its last day, negative once it has ended'),
  status: z.enum(SCHEDULE_STATUSES).describe(`ending: it ends within ${SCHEDULE_ALARM_DAYS} days; ended: weekdays after it are treated as trading days`),
});

/** Ops only (the app mounts /v1/ops behind the ops role). */
export function calendarRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Calendar', description: 'The trading calendar\'s holidays, and ops adding or removing one ahead of time.' });
  api.get(
    '/v1/ops/calendar/holidays',
    {
      operationId: 'listHolidays',
      summary: `The holidays in a range of at most ${RANGE_DAYS_MAX} days`,
      query: dateRangeQuery,
      description: 'Days after `knownThrough` are not known: none of them is listed, so check it (and GET /v1/ops/calendar/coverage).',
      responses: {
        200: {
          description: 'The weekday holidays and the make-up working days, in date order',
          body: z.object({
            from: businessDate,
            to: businessDate,
            holidays: z.array(businessDate),
            makeUpWorkdays: z.array(businessDate).describe('weekend days worked in exchange for a holiday (调休): the exchanges stay shut, so they do not trade'),
            knownThrough: scheduleCoverageBody.shape.knownThrough,
          }),
        },
      },
      problems: { invalid_request: `from after to, or more than ${RANGE_DAYS_MAX} days` },
    },
    ({ query: { from, to } }, res) => {
      const days = ctx.calendar.daysBetween(from, to);
      if (days < 0 || days > RANGE_DAYS_MAX) throw badRequest(`from must not be after to, and the range at most ${RANGE_DAYS_MAX} days`, {}, { key: 'invalid_request_range', values: { daysMax: RANGE_DAYS_MAX } });
      res.json({ from, to, ...holidaysBetween(ctx, from, to), knownThrough: ctx.calendar.knownThrough });
    },
  );
  api.get(
    '/v1/ops/calendar/coverage',
    {
      operationId: 'getCalendarCoverage',
      summary: 'How far the known holiday schedule reaches',
      description: `Also in /readyz and the metric moneyfund_calendar_known_days_remaining; the log warns once a day from ${SCHEDULE_ALARM_DAYS} days before the end.`,
      responses: { 200: { description: 'The known schedule\'s last day and the days left until it', body: scheduleCoverageBody } },
    },
    (_input, res) => {
      res.json(checkScheduleCoverage(ctx));
    },
  );
  const changes = [
    { method: 'put', holiday: true, operationId: 'addHoliday', summary: 'Make a future weekday a holiday' },
    { method: 'delete', holiday: false, operationId: 'removeHoliday', summary: 'Make a future weekday a trading day again' },
  ] as const;
  for (const { method, holiday, operationId, summary } of changes) {
    api[method](
      '/v1/ops/calendar/holidays/:date',
      {
        operationId,
        summary,
        description: 'Every process picks the change up within 30 s.',
        params: z.object({ date: businessDate }),
        responses: { 200: { description: 'The day as it is now', body: z.object({ date: businessDate, holiday: z.boolean() }) } },
        problems: { date_not_in_future: 'only days after today can change', weekend_date: 'a weekend never trades' },
      },
      async ({ params }, res) => {
        const actor = await apiActor(principalOf(res).userId);
        res.json(await audited(ctx, { actor, action: 'holiday.set', target: params.date, request: { holiday } }, () => setHoliday(ctx, params.date, holiday)));
      },
    );
  }
  return api.router;
}
