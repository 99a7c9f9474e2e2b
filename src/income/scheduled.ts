import type { AppContext } from '../context.ts';
import { log } from '../log.ts';
import { accruePartition, closeAccrualDay, openAccrualDay, openPartitions } from './accrual.ts';

/** What a job may ask of the scheduler: extend its lock, and queue a job once per key. */
export interface JobControl {
  touch(): Promise<void>;
  enqueue(name: string, data: Record<string, unknown>, key: string): Promise<void>;
}

export const ACCRUE_PARTITION_JOB = 'accrue-income-partition';
export const ACCRUE_INCOME_JOB = 'accrue-income';

export interface PartitionJobData {
  fundCode: string;
  date: string;
  partition: number;
}

/**
 * The coordinator: for each fund, opens the next day due (in date order) and makes sure
 * every open partition has a job; closes days whose partitions are done, then moves on.
 */
export async function coordinateAccrual(ctx: AppContext, control: JobControl): Promise<void> {
  for (const fund of ctx.config.funds) {
    for (;;) {
      const day = await openAccrualDay(ctx, fund.code);
      if (!day) break;
      const open = await openPartitions(fund.code, day.date);
      for (const partition of open) {
        const data: PartitionJobData = { fundCode: fund.code, date: day.date, partition };
        await control.enqueue(ACCRUE_PARTITION_JOB, { ...data }, `${fund.code}:${day.date}:${partition}`);
      }
      if (open.length > 0 || !(await closeAccrualDay(ctx, fund.code, day.date))) break;
    }
  }
}

/** One partition job; the worker that finishes the day's last partition closes the day and wakes the coordinator. */
export async function runPartitionJob(ctx: AppContext, data: PartitionJobData, control: JobControl): Promise<void> {
  const startedAt = Date.now();
  await accruePartition(ctx, data.fundCode, data.date, data.partition, { afterBatch: () => control.touch() });
  log.info({ ...data, durationMs: Date.now() - startedAt }, 'accrual partition done');
  if (await closeAccrualDay(ctx, data.fundCode, data.date)) {
    log.info({ fundCode: data.fundCode, date: data.date }, 'accrual day closed; looking for the next');
    await control.enqueue(ACCRUE_INCOME_JOB, {}, `after:${data.fundCode}:${data.date}`);
  }
}
