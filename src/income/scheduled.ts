import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { AppContext } from '../context.ts';
import { log } from '../log.ts';
import { accrueDayInline, accruePartition, closeAccrualDay, holdersBound, leaseDayRun, openAccrualDay, openPartitions, releaseDayRun, type AccrualDay } from './accrual.ts';

/** What a job may ask of the scheduler: extend its lock, and queue a job once per key. */
export interface JobControl {
  /** Throws when the process is stopping; extends the job's lock once a quarter of its life is spent. Returns when the lock lapses. */
  touch(): Promise<Date>;
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
 * The coordinator: for each fund, opens the next day due (in date order). A small day it
 * accrues and closes itself, then moves on: no job to queue and wait for. A big one gets a
 * job per open partition, for every worker to share; the worker that closes it wakes this
 * job again. Two coordinators may run at once (the repeating job and a woken one are two
 * Agenda jobs; a paused process's lock may lapse): opening is idempotent, a partition job is
 * queued once per key, a day run inline is leased to one of them, and partitions accrued by
 * two meet on their checkpoint's compare-and-set.
 */
export async function coordinateAccrual(ctx: AppContext, control: JobControl): Promise<void> {
  for (const fund of ctx.config.funds) {
    for (;;) {
      const day = await openAccrualDay(ctx, fund.code);
      if (!day) break;
      const closed = (await isSmall(ctx, day)) ? await accrueInline(ctx, day, control) : await queuePartitions(ctx, day, control);
      if (!closed) break;
    }
  }
}

async function isSmall(ctx: AppContext, day: AccrualDay): Promise<boolean> {
  const bound = await holdersBound(ctx, day);
  return bound !== null && bound <= ctx.config.accrual.inlineHoldersMax;
}

/** Another coordinator's lease on the day is live: this one leaves the day to it. */
class DayLeasedElsewhere extends Error {}

/**
 * Runs the day in this job under a lease on it (see leaseDayRun) that lapses when the job's
 * lock does, renewed with it (checked after each batch): a coordinator taking the job over once
 * its lock lapsed finds the lease lapsed too, rather than live a moment longer and the day left
 * to the next run a minute later. False when the day is another run's, or stays open.
 */
async function accrueInline(ctx: AppContext, day: AccrualDay, control: JobControl): Promise<boolean> {
  const startedAt = Date.now();
  const runner = `${os.hostname()}:${process.pid}:${randomUUID()}`;
  let leasedUntil = await control.touch();
  if (!(await leaseDayRun(day, runner, leasedUntil))) return false;
  const keepAlive = async () => {
    const lockedUntil = await control.touch();
    if (lockedUntil.getTime() === leasedUntil.getTime()) return;
    if (!(await leaseDayRun(day, runner, lockedUntil))) throw new DayLeasedElsewhere();
    leasedUntil = lockedUntil;
  };
  // Partitions run side by side and each keeps the run alive after a batch: one renewal serves them all.
  let renewing: Promise<void> | null = null;
  const afterBatch = () => (renewing ??= keepAlive().finally(() => (renewing = null)));
  try {
    const closed = await accrueDayInline(ctx, day, { afterBatch });
    log.info({ fundCode: day.fundCode, date: day.date, closed, durationMs: Date.now() - startedAt }, 'accrual day run inline by the coordinator');
    return closed;
  } catch (error) {
    if (!(error instanceof DayLeasedElsewhere)) {
      // Stopping or failing: the job is handed over or retried, and need not wait for the lease.
      await releaseDayRun(day, runner).catch((releaseError: unknown) => log.warn({ err: releaseError }, 'accrual day lease left to lapse'));
      throw error;
    }
    log.warn({ fundCode: day.fundCode, date: day.date }, 'accrual day taken over by another coordinator: this run stops');
    return false;
  }
}

/** Queues a job per open partition; true only when none was open and the day closed. */
async function queuePartitions(ctx: AppContext, day: AccrualDay, control: JobControl): Promise<boolean> {
  const open = await openPartitions(day.fundCode, day.date);
  for (const partition of open) {
    const data: PartitionJobData = { fundCode: day.fundCode, date: day.date, partition };
    await control.enqueue(ACCRUE_PARTITION_JOB, { ...data }, `${day.fundCode}:${day.date}:${partition}`);
  }
  return open.length === 0 && (await closeAccrualDay(ctx, day.fundCode, day.date));
}

/** One partition job; the worker that finishes the day's last partition closes the day and wakes the coordinator. */
export async function runPartitionJob(ctx: AppContext, data: PartitionJobData, control: JobControl): Promise<void> {
  const startedAt = Date.now();
  await accruePartition(ctx, data.fundCode, data.date, data.partition, { afterBatch: async () => void (await control.touch()) });
  log.info({ ...data, durationMs: Date.now() - startedAt }, 'accrual partition done');
  if (await closeAccrualDay(ctx, data.fundCode, data.date)) {
    log.info({ fundCode: data.fundCode, date: data.date }, 'accrual day closed; looking for the next');
    await control.enqueue(ACCRUE_INCOME_JOB, {}, `after:${data.fundCode}:${data.date}`);
  }
}
