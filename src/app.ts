import express, { type Express } from 'express';
import { accountRoutes } from './accounts/routes.ts';
import { refreshCalendarIfStale } from './holidays/service.ts';
import { TestClock } from './calendar/clock.ts';
import { calendarRoutes } from './calendar/routes.ts';
import { auditRoutes } from './audit/routes.ts';
import { authRoutes } from './auth/routes.ts';
import { bankRoutes } from './bank/routes.ts';
import type { AppContext } from './context.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import { docsRoutes } from './docs/routes.ts';
import { answerFor } from './http/answers.ts';
import { withBeijingTwins } from './calendar/beijingTime.ts';
import { requireOps, requireUser } from './http/auth.ts';
import { rateLimits, securityHeaders } from './http/hardening.ts';
import { healthRoutes } from './http/health.ts';
import { createMetrics } from './http/metrics.ts';
import { negotiateLanguage } from './http/language.ts';
import { requestLog } from './http/requestLog.ts';
import { problemHandler, routeNotFound } from './http/problem.ts';
import { fundCatalogueRoutes, fundRoutes } from './fund/routes.ts';
import { incomeRoutes } from './income/routes.ts';
import { merchantRoutes } from './merchants/routes.ts';
import { registerAnswerRenderer } from './operations/answers.ts';
import { withFaults } from './faults.ts';
import { opsRoutes } from './operations/routes.ts';
import { opsDeskRoutes } from './ops/routes.ts';
import { reportRoutes } from './reports/routes.ts';
import { reserveRoutes } from './reserve/routes.ts';
import { planningRoutes } from './planning/routes.ts';
import { sandboxRoutes } from './sandbox/routes.ts';
import { sweepRoutes } from './sweep/routes.ts';
import { transferRoutes } from './transfers/routes.ts';
import { webhookRoutes } from './webhooks/routes.ts';
import { eventRoutes } from './events/routes.ts';

/** Builds the HTTP app without listening, so tests drive it with supertest. */
export function createApp(ctx: AppContext): Express {
  registerAnswerRenderer(answerFor);
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Every answer is `Cache-Control: no-store`, so no client revalidates with an ETag: hashing
  // each body for one was wasted work.
  app.set('etag', false);
  app.set('json replacer', withBeijingTwins(ctx.config.zone));
  const metrics = createMetrics(ctx);
  app.use(requestLog(), metrics.recordRequests, securityHeaders());
  app.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  // A test's or the explorer's faults reach the engine's points through the request.
  app.use((req, _res, next) => withFaults(ctx.faults.forRequest?.(req.headers) ?? ctx.faults, next));
  app.use(express.json({ limit: ctx.config.http.bodyLimitBytes, strict: true }));
  app.use(healthRoutes(ctx), metrics.routes);
  app.use(fundCatalogueRoutes(ctx), docsRoutes());
  // The ops dashboard's page and assets are public; the reports it draws need an ops token.
  app.use(dashboardRoutes({ sandbox: ctx.clock instanceof TestClock }));
  // Ops may change holidays from any process: each process reads them again now and then.
  app.use('/v1', negotiateLanguage);
  app.use('/v1', async (_req, _res, next) => {
    await refreshCalendarIfStale(ctx);
    next();
  });
  app.use('/v1/me', requireUser(ctx, 'cached'));
  app.use(['/v1/accounts', '/v1/ops'], requireUser(ctx));
  app.use('/v1/ops', requireOps);
  app.use(rateLimits(ctx));
  app.use(authRoutes(ctx), accountRoutes(ctx), bankRoutes(ctx), transferRoutes(ctx), opsRoutes(), calendarRoutes(ctx));
  app.use(fundRoutes(ctx), incomeRoutes(ctx), sweepRoutes(ctx), merchantRoutes(ctx), reserveRoutes(ctx), planningRoutes(ctx));
  app.use(reportRoutes(ctx), sandboxRoutes(ctx), opsDeskRoutes(ctx), auditRoutes(ctx), webhookRoutes(ctx), eventRoutes(ctx));
  app.use(routeNotFound);
  app.use(problemHandler);
  return app;
}
