/**
 * What ops should look at now, as one list the dashboard draws as tiles: the liquidity
 * reserve, the latest reconciliation, the fund's accrual, the recurring jobs and the holiday
 * schedule. Each alert has a level, a stable reason (the dashboard's catalogues translate it),
 * the figures the reason names, and an English one-line summary for API callers.
 *
 * Part of the HTTP edge: it reads what /metrics reads (src/http/figures.ts) and what the coverage route reads, so
 * the tiles, the metrics and /readyz never disagree.
 */
import mongoose from 'mongoose';
import { JOBS } from '../../jobs/definitions.ts';
import type { AppContext } from '../context.ts';
import { checkScheduleCoverage } from '../holidays/coverage.ts';
import { accrualFigures, reconciliationBreaks, reserveFigures } from '../http/figures.ts';
import { formatYuan } from '../money/fen.ts';
import { JOBS_COLLECTION } from '../scheduler.ts';

export const ALERT_LEVELS = ['ok', 'warning', 'critical'] as const;
export type AlertLevel = (typeof ALERT_LEVELS)[number];
export const ALERT_KINDS = ['reserve', 'reconciliation', 'accrual', 'jobs', 'calendar'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface Alert {
  kind: AlertKind;
  level: AlertLevel;
  /** Stable, e.g. reserve_empty: the dashboard's message key. */
  reason: string;
  /** The figures the reason names, as text (amounts in yuan) or whole numbers. */
  values: Record<string, string | number>;
  summary: string;
}

/**
 * A recurring job whose next run is this far past is stalled: Agenda (real time, not the
 * service clock) picks a due job within seconds while any process runs the scheduler.
 */
export const JOB_OVERDUE_MS = 10 * 60_000;

/** The alerts of the service, with the accrual of one fund or of every fund. */
export async function currentAlerts(ctx: AppContext, fundCode?: string): Promise<Alert[]> {
  const [reserve, reconciliation, accrual, jobs] = await Promise.all([reserveAlert(ctx), reconciliationAlert(), accrualAlert(ctx, fundCode), jobsAlert()]);
  return [reserve, reconciliation, accrual, jobs, calendarAlert(ctx)];
}

const alert = (kind: AlertKind, level: AlertLevel, reason: string, summary: string, values: Alert['values'] = {}): Alert => ({ kind, level, reason, values, summary });

async function reserveAlert(ctx: AppContext): Promise<Alert> {
  const { availableFen, outstandingFen, lowWater } = await reserveFigures(ctx);
  const values = { available: formatYuan(availableFen), size: formatYuan(availableFen + outstandingFen), lowWaterPercent: ctx.config.reserve.lowWaterPercent };
  if (availableFen <= 0n) return alert('reserve', 'critical', 'reserve_empty', 'Nothing is available in the reserve: instant redemptions and payments are refused', values);
  if (lowWater) return alert('reserve', 'warning', 'reserve_low', `¥${values.available} available, below ${values.lowWaterPercent}% of ¥${values.size}`, values);
  return alert('reserve', 'ok', 'reserve_ok', `¥${values.available} available of ¥${values.size}`, values);
}

async function reconciliationAlert(): Promise<Alert> {
  const breaks = await reconciliationBreaks();
  if (!breaks) return alert('reconciliation', 'warning', 'reconciliation_never_run', 'The reconciliation job has not run yet');
  const values = { balances: breaks.balances, unbalancedOperations: breaks.unbalancedOperations };
  if (breaks.balances + breaks.unbalancedOperations > 0) {
    return alert('reconciliation', 'critical', 'reconciliation_breaks', `${breaks.balances} balance breaks, ${breaks.unbalancedOperations} unbalanced operations`, values);
  }
  return alert('reconciliation', 'ok', 'reconciliation_clean', 'The latest reconciliation found no break', values);
}

/**
 * The fund furthest behind. One ended day not accrued is the usual morning before ops publish
 * yesterday's 万份收益 (a warning); two or more means the accrual is stuck.
 */
async function accrualAlert(ctx: AppContext, fundCode?: string): Promise<Alert> {
  const funds = (await accrualFigures(ctx)).filter((fund) => fundCode === undefined || fund.fundCode === fundCode);
  const worst = funds.reduce((behind, fund) => (fund.lagDays > behind.lagDays ? fund : behind), funds[0]!);
  const values = { fundCode: worst.fundCode, lagDays: worst.lagDays };
  if (worst.lagDays >= 2) return alert('accrual', 'critical', 'accrual_lagging', `${worst.fundCode}: ${worst.lagDays} ended days not accrued`, values);
  if (worst.lagDays === 1) return alert('accrual', 'warning', 'accrual_yesterday_pending', `${worst.fundCode}: yesterday is not accrued yet`, values);
  return alert('accrual', 'ok', 'accrual_up_to_date', `${worst.fundCode}: accrued through yesterday`, values);
}

interface RecurringJobState {
  name: string;
  nextRunAt?: Date | null;
}

/** Recurring jobs as Agenda keeps them: each is one document of type 'single' while a scheduler has ever run. */
async function jobsAlert(): Promise<Alert> {
  const recurring = JOBS.filter((job) => job.every).map((job) => job.name);
  const found = await mongoose.connection
    .db!.collection(JOBS_COLLECTION)
    .find<RecurringJobState>({ name: { $in: recurring }, type: 'single' }, { projection: { name: 1, nextRunAt: 1 } })
    .toArray();
  return jobsAlertOf(recurring, found, Date.now());
}

/** The rule, apart from the read: no scheduler ever ran, or jobs overdue by JOB_OVERDUE_MS. */
export function jobsAlertOf(recurring: string[], found: RecurringJobState[], nowMs: number): Alert {
  if (found.length === 0) return alert('jobs', 'warning', 'jobs_never_scheduled', 'No process has run the job scheduler on this database');
  const overdue = found.filter((job) => job.nextRunAt && nowMs - job.nextRunAt.getTime() > JOB_OVERDUE_MS).map((job) => job.name);
  const missing = recurring.filter((name) => !found.some((job) => job.name === name));
  const stalled = [...overdue, ...missing].sort();
  if (stalled.length > 0) {
    return alert('jobs', 'critical', 'jobs_stalled', `Stalled: ${stalled.join(', ')}`, { jobs: stalled.join(', '), count: stalled.length });
  }
  return alert('jobs', 'ok', 'jobs_running', `${found.length} recurring jobs on time`, { count: found.length });
}

function calendarAlert(ctx: AppContext): Alert {
  const { knownThrough, daysRemaining, status } = checkScheduleCoverage(ctx);
  const values = { knownThrough, daysRemaining };
  if (status === 'ended') return alert('calendar', 'critical', 'calendar_ended', `The holiday schedule ended on ${knownThrough}`, values);
  if (status === 'ending') return alert('calendar', 'warning', 'calendar_ending', `The holiday schedule ends on ${knownThrough}, in ${daysRemaining} days`, values);
  return alert('calendar', 'ok', 'calendar_known', `Holidays known through ${knownThrough}`, values);
}
