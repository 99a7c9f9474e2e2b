import { Router } from 'express';
import type { AppContext } from '../context.ts';
import { badRequest } from '../http/problem.ts';
import { dateParam, dateRangeQuery, parseQuery } from '../http/validate.ts';
import { holidaysBetween, setHoliday } from './holidays.ts';

const RANGE_DAYS_MAX = 366;

/** Ops only (the app mounts /v1/ops behind the ops role). */
export function calendarRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get('/v1/ops/calendar/holidays', (req, res) => {
    const { from, to } = parseQuery(dateRangeQuery, req);
    const days = ctx.calendar.daysBetween(from, to);
    if (days < 0 || days > RANGE_DAYS_MAX) throw badRequest(`from must not be after to, and the range at most ${RANGE_DAYS_MAX} days`);
    res.json({ from, to, holidays: holidaysBetween(ctx, from, to) });
  });
  router.put('/v1/ops/calendar/holidays/:date', async (req, res) => {
    res.json(await setHoliday(ctx, dateParam(req.params.date), true));
  });
  router.delete('/v1/ops/calendar/holidays/:date', async (req, res) => {
    res.json(await setHoliday(ctx, dateParam(req.params.date), false));
  });
  return router;
}
