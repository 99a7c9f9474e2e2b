/**
 * `/metrics` in the Prometheus text format: request latency by route template, the fund
 * accrual's lag and last duration, the liquidity reserve, the recovery backlog, when the
 * recurring jobs last finished, the latest reconciliation's breaks, the days left in the known
 * holiday schedule, and the process (CPU, memory, event loop, GC).
 *
 * No token: the service binds 127.0.0.1, so only the host reaches it (its Prometheus agent);
 * the figures are aggregates with no personal data and no secret; and whoever is on the host
 * can read the (embedded, loopback, password-less) database anyway. Served beyond the host,
 * /metrics belongs behind the proxy's allow-list.
 */
import type { RequestHandler, Router } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AppContext } from '../context.ts';
import { SCHEDULE_ALARM_DAYS } from '../calendar/holidaySchedule.ts';
import { checkScheduleCoverage } from '../holidays/coverage.ts';
import { log } from '../log.ts';
import { forecastAlertFiring } from '../planning/alert.ts';
import { accrualFigures, BACKLOG_COUNT_MAX, reconciliationBreaks, recoveryBacklog, recurringJobRuns, reserveFigures } from './figures.ts';
import { withTimeout } from '../observability/timeout.ts';
import { HEALTH_TAG } from './health.ts';
import { apiRoutes } from './openapi.ts';
import { routeTemplateOf } from './routeTemplate.ts';

/** A scrape answers within this even when the database is slow; what it could not read is left out. */
const READ_TIMEOUT_MS = 5_000;
const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

let processRegistry: Registry | undefined;

/** Process metrics watch the process, not an app: collected once however many apps it builds (tests build many). */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** One group of gauges filled by one database read at scrape time. */
interface FigureSource {
  name: string;
  gauges: Gauge[];
  read(): Promise<void>;
}

export interface Metrics {
  /** Times every request and counts those in flight. */
  recordRequests: RequestHandler;
  /** GET /metrics */
  routes: Router;
}

export function createMetrics(ctx: AppContext): Metrics {
  const registry = new Registry();
  return { recordRequests: requestRecorder(registry), routes: metricsRoutes(registry, figureSources(ctx, registry)) };
}

function requestRecorder(registry: Registry): RequestHandler {
  const requestSeconds = new Histogram({
    name: 'moneyfund_http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [registry],
  });
  const inFlight = new Gauge({ name: 'moneyfund_http_requests_in_flight', help: 'HTTP requests being served', registers: [registry] });
  return (req, res, next) => {
    inFlight.inc();
    const stopTimer = requestSeconds.startTimer();
    res.once('close', () => {
      inFlight.dec();
      // An aborted request has no status worth a series.
      if (res.writableFinished) stopTimer({ method: req.method, route: routeTemplateOf(req), status_code: String(res.statusCode) });
    });
    next();
  };
}

function metricsRoutes(registry: Registry, sources: FigureSource[]): Router {
  const readFailures = new Counter({
    name: 'moneyfund_metrics_read_failures_total',
    help: 'Scrapes that could not read a group of figures from the database (left out of that scrape)',
    labelNames: ['source'],
    registers: [registry],
  });
  const api = apiRoutes(HEALTH_TAG);
  api.get(
    '/metrics',
    {
      operationId: 'getMetrics',
      summary: 'Metrics in the Prometheus text format',
      description: 'Request latency by route template, accrual lag and duration, the reserve, the recovery backlog, recurring jobs, the process. No token: the service listens on 127.0.0.1 only.',
      responses: { 200: { description: 'The Prometheus text exposition format 0.0.4', contentType: 'text/plain; version=0.0.4' } },
    },
    async (_input, res) => {
      await Promise.all(sources.map((source) => refresh(source, readFailures)));
      const merged = Registry.merge([processMetrics(), registry]);
      res.type(merged.contentType).send(await merged.metrics());
    },
  );
  return api.router;
}

async function refresh(source: FigureSource, readFailures: Counter): Promise<void> {
  for (const gauge of source.gauges) gauge.reset();
  try {
    await withTimeout(source.read(), READ_TIMEOUT_MS, `no answer within ${READ_TIMEOUT_MS} ms`);
  } catch (error) {
    for (const gauge of source.gauges) gauge.reset(); // a read cut short may have set some
    readFailures.inc({ source: source.name });
    log.warn({ err: error instanceof Error ? error.message : String(error), source: source.name }, 'metrics: figures not read');
  }
}

type GaugeMaker = (name: string, help: string, labelNames?: string[]) => Gauge;

function figureSources(ctx: AppContext, registry: Registry): FigureSource[] {
  const gauge: GaugeMaker = (name, help, labelNames = []) => new Gauge({ name, help, labelNames, registers: [registry] });
  return [accrualSource(ctx, gauge), reserveSource(ctx, gauge), recoverySource(ctx, gauge), jobsSource(gauge), reconciliationSource(gauge), calendarSource(ctx, gauge)];
}

function accrualSource(ctx: AppContext, gauge: GaugeMaker): FigureSource {
  const lagDays = gauge('moneyfund_accrual_lag_days', 'Ended days not yet accrued, per fund (0: up to date)', ['fund']);
  const durationSeconds = gauge('moneyfund_accrual_last_day_duration_seconds', 'Time from opening to closing the last accrued day, per fund', ['fund']);
  return {
    name: 'accrual',
    gauges: [lagDays, durationSeconds],
    read: async () => {
      for (const fund of await accrualFigures(ctx)) {
        lagDays.set({ fund: fund.fundCode }, fund.lagDays);
        if (fund.lastDayDurationSeconds !== null) durationSeconds.set({ fund: fund.fundCode }, fund.lastDayDurationSeconds);
      }
    },
  };
}

function reserveSource(ctx: AppContext, gauge: GaugeMaker): FigureSource {
  const availableFen = gauge('moneyfund_reserve_available_fen', 'Liquidity reserve available for instant redemptions, in fen');
  const outstandingFen = gauge('moneyfund_reserve_outstanding_fen', 'Liquidity reserve advanced and not yet repaid, in fen');
  const lowWater = gauge('moneyfund_reserve_low_water', '1 when the available reserve is below reserve.lowWaterPercent of its size');
  const forecastUncovered = gauge(
    'moneyfund_reserve_forecast_uncovered',
    "1 when the reserve's size is below the most the forecast's upper band advances at once over the next planning.alertTradingDays trading days (the watch-reserve-forecast job's last look); absent before it",
  );
  return {
    name: 'reserve',
    gauges: [availableFen, outstandingFen, lowWater, forecastUncovered],
    read: async () => {
      const reserve = await reserveFigures(ctx);
      // Fen are exact in a float64 up to 2^53 fen (90 trillion yuan).
      availableFen.set(Number(reserve.availableFen));
      outstandingFen.set(Number(reserve.outstandingFen));
      lowWater.set(reserve.lowWater ? 1 : 0);
      const uncovered = await forecastAlertFiring(ctx);
      if (uncovered !== null) forecastUncovered.set(uncovered);
    },
  };
}

function recoverySource(ctx: AppContext, gauge: GaugeMaker): FigureSource {
  const backlog = gauge('moneyfund_recovery_backlog_operations', `Operations pending longer than jobs.recoverAfterMs (counted up to ${BACKLOG_COUNT_MAX})`);
  return { name: 'recovery', gauges: [backlog], read: async () => backlog.set(await recoveryBacklog(ctx)) };
}

function reconciliationSource(gauge: GaugeMaker): FigureSource {
  const breaks = gauge(
    'moneyfund_reconciliation_breaks',
    'What the latest scheduled reconciliation found: balances that disagree with their postings or are negative (kind="balance"), operations whose postings do not sum to zero (kind="unbalanced_operation"); absent before its first run',
    ['kind'],
  );
  return {
    name: 'reconciliation',
    gauges: [breaks],
    read: async () => {
      const found = await reconciliationBreaks();
      if (!found) return;
      breaks.set({ kind: 'balance' }, found.balances);
      breaks.set({ kind: 'unbalanced_operation' }, found.unbalancedOperations);
    },
  };
}

function jobsSource(gauge: GaugeMaker): FigureSource {
  const finishedAt = gauge('moneyfund_job_last_finished_timestamp_seconds', 'When each recurring job last finished (Unix time)', ['job']);
  return {
    name: 'jobs',
    gauges: [finishedAt],
    read: async () => {
      for (const run of await recurringJobRuns()) {
        if (run.lastFinishedAt) finishedAt.set({ job: run.job }, run.lastFinishedAt.getTime() / 1000);
      }
    },
  };
}

function calendarSource(ctx: AppContext, gauge: GaugeMaker): FigureSource {
  const daysRemaining = gauge(
    'moneyfund_calendar_known_days_remaining',
    `Days from today to the last day of the known holiday schedule (negative once it has ended; alarm at ${SCHEDULE_ALARM_DAYS} or fewer)`,
  );
  return { name: 'calendar', gauges: [daysRemaining], read: async () => daysRemaining.set(checkScheduleCoverage(ctx).daysRemaining) };
}
