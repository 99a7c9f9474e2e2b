/**
 * Agenda job definitions: a name, when, how many at once, and one service call.
 * No business logic lives here: the jobs call the same service functions as the API.
 */
import { liftRunOutPaymentLocks } from '../src/auth/service.ts';
import type { AppContext } from '../src/context.ts';
import { watchScheduleCoverage } from '../src/holidays/coverage.ts';
import { watchReserve } from '../src/reserve/lowWater.ts';
import { ACCRUE_INCOME_JOB, ACCRUE_PARTITION_JOB, coordinateAccrual, runPartitionJob, type JobControl, type PartitionJobData } from '../src/income/scheduled.ts';
import { runReconciliation } from '../src/reconciliation/job.ts';
import { sweepWallets } from '../src/sweep/service.ts';
import { rollUpYesterday } from '../src/planning/history.ts';
import { advanceDueOperations, recoverStuckOperations } from '../src/operations/recovery.ts';

export interface JobDefinition {
  name: string;
  /** Agenda interval (human-interval text) or a cron line read in the config's zone; none for jobs queued on demand. */
  every?: (ctx: AppContext) => string;
  concurrency: number;
  run(ctx: AppContext, data: Record<string, unknown>, control: JobControl): Promise<unknown>;
}

export const JOBS: JobDefinition[] = [
  {
    // Confirms subscriptions on their confirm date and settles redemptions on T+1.
    name: 'advance-due-operations',
    every: () => '1 minute',
    concurrency: 1,
    run: advanceDueOperations,
  },
  {
    // Drives operations a crash or a silent bank left pending.
    name: 'recover-stuck-operations',
    every: () => '1 minute',
    concurrency: 1,
    run: recoverStuckOperations,
  },
  {
    // Opens the next fund day due and queues its partitions; also woken when a day closes.
    name: ACCRUE_INCOME_JOB,
    every: (ctx) => ctx.config.accrual.checkEvery,
    concurrency: 1,
    run: (ctx, _data, control) => coordinateAccrual(ctx, control),
  },
  {
    // One partition of one fund day; one at a time per worker, so several workers share a day.
    name: ACCRUE_PARTITION_JOB,
    concurrency: 1,
    run: (ctx, data, control) => runPartitionJob(ctx, data as unknown as PartitionJobData, control),
  },
  {
    // Every invariant of the journal and the reserve; breaks are logged and kept for ops.
    name: 'reconcile',
    every: () => '1 hour',
    concurrency: 1,
    run: runReconciliation,
  },
  {
    // Files ops events when the reserve crosses its low-water mark or the holiday schedule starts to end.
    name: 'watch-ops-alerts',
    every: () => '1 minute',
    concurrency: 1,
    // The reconciliation reports its own crossing, from its hourly run.
    run: async (ctx) => {
      await watchReserve(ctx);
      await watchScheduleCoverage(ctx);
    },
  },
  {
    // Lifts payment locks whose time ran out, so their holders hear of it within a minute.
    name: 'lift-run-out-payment-locks',
    every: () => '1 minute',
    concurrency: 1,
    run: liftRunOutPaymentLocks,
  },
  {
    // Early each morning: wallet money above what holders keep moves into their fund.
    name: 'auto-sweep',
    every: (ctx) => {
      const [hour, minute] = ctx.config.autoSweep.runAt.split(':');
      return `${Number(minute)} ${Number(hour)} * * *`;
    },
    concurrency: 1,
    run: (ctx) => sweepWallets(ctx),
  },
  {
    // Just after Beijing midnight: yesterday's flow totals for the reserve planner. A day this
    // misses (still in flight, or the job down) is rolled up when the history is read.
    name: 'roll-up-flow-day',
    every: () => '20 0 * * *',
    concurrency: 1,
    run: rollUpYesterday,
  },
];
