import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { apiRoutes } from '../http/openapi.ts';
import { badRequest } from '../errors.ts';
import { businessDate, dateRangeQuery } from '../http/validate.ts';
import { holidaysBetween, setHoliday } from '../holidays/service.ts';

const RANGE_DAYS_MAX = 366;


/** Ops only (the app mounts /v1/ops behind the ops role). */
export function calendarRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Calendar', description: 'The trading calendar\'s holidays, and ops adding or removing one ahead of time.' });
  api.get(
    '/v1/ops/calendar/holidays',
    {
      operationId: 'listHolidays',
      summary: `The holidays in a range of at most ${RANGE_DAYS_MAX} days`,
      query: dateRangeQuery,
      responses: { 200: { description: 'The holidays, in date order', body: z.object({ from: businessDate, to: businessDate, holidays: z.array(businessDate) }) } },
      problems: { invalid_request: `from after to, or more than ${RANGE_DAYS_MAX} days` },
    },
    ({ query: { from, to } }, res) => {
      const days = ctx.calendar.daysBetween(from, to);
      if (days < 0 || days > RANGE_DAYS_MAX) throw badRequest(`from must not be after to, and the range at most ${RANGE_DAYS_MAX} days`);
      res.json({ from, to, holidays: holidaysBetween(ctx, from, to) });
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
        res.json(await setHoliday(ctx, params.date, holiday));
      },
    );
  }
  return api.router;
}
