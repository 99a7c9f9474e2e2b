import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { scheduleCoverageBody } from '../calendar/routes.ts';
import { checkScheduleCoverage, scheduleWarningOf } from '../holidays/coverage.ts';
import { SCHEDULER_STATES } from '../observability/readiness.ts';
import { apiRoutes } from './openapi.ts';
import { DomainError } from '../errors.ts';
import { sendProblem } from './problem.ts';

const checks = z.object({
  database: z.string().describe('"ok", or why the database does not answer'),
  scheduler: z.enum(SCHEDULER_STATES).describe('not_run: this process runs no jobs'),
  shuttingDown: z.boolean(),
  calendar: scheduleCoverageBody.describe('how far the known holiday schedule reaches: a warning, never unreadiness'),
});

/**
 * `/healthz`: the process is alive and serving HTTP; it checks nothing else, so a slow
 * database never gets a healthy process restarted. `/readyz`: it may take traffic (the
 * database answers a ping, the job scheduler has started where it runs, no shutdown under way).
 * A holiday schedule that ends soon, or has ended, is a warning in a ready answer: every
 * process shares it, so unreadiness would take the whole service down over dates that ops
 * can fix while it runs (docs/calendar.md).
 */
/** Shared with /metrics (metrics.ts). */
export const HEALTH_TAG = { name: 'Health and metrics', description: 'Liveness, readiness and Prometheus metrics, for whatever supervises and watches the service.' };

export function healthRoutes(ctx: AppContext): Router {
  const api = apiRoutes(HEALTH_TAG);
  api.get(
    '/healthz',
    {
      operationId: 'getLiveness',
      summary: 'Liveness: the process serves HTTP',
      responses: { 200: { description: 'Alive', body: z.object({ status: z.literal('ok') }) } },
    },
    (_input, res) => {
      res.json({ status: 'ok' });
    },
  );
  api.get(
    '/readyz',
    {
      operationId: 'getReadiness',
      summary: 'Readiness: the database answers and the job scheduler runs',
      responses: {
        200: {
          description: 'Ready for traffic',
          body: z.object({
            status: z.literal('ready'),
            checks,
            warnings: z.array(z.string()).optional().describe('what ops should attend to soon, e.g. the holiday schedule ending'),
          }),
        },
      },
      problems: { not_ready: 'the database does not answer a ping, the scheduler has not started or has stopped, or the process is shutting down (`checks` says which)' },
    },
    async (_input, res) => {
      const report = await ctx.readiness.report();
      const calendar = checkScheduleCoverage(ctx);
      const checked = { ...report.checks, calendar };
      if (report.ready) {
        res.json({ status: 'ready', checks: checked, ...(calendar.status === 'known' ? {} : { warnings: [scheduleWarningOf(calendar)] }) });
        return;
      }
      sendProblem(res, new DomainError('not_ready', `Not ready: ${report.notReady.join('; ')}`, { checks: checked }));
    },
  );
  return api.router;
}
