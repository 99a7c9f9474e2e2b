/**
 * What /metrics reads from the database at scrape time. Every read is a lookup by `_id` or
 * an equality on an indexed field (the only filters FerretDB serves from an index) over a
 * small, bounded set: a fund's book and its last day, the reserve's shards, the pending
 * operations, one job document per recurring job. One exception: the latest reconciliation
 * report is found by a sort FerretDB runs over every report (one an hour), as its API route does.
 * Nothing here writes.
 */
import mongoose from 'mongoose';
import { JOBS } from '../../jobs/definitions.ts';
import type { AppContext } from '../context.ts';
import { FundBook, FundDay, fundDayId, type FundBookDocument, type FundDayDocument } from '../fund/model.ts';
import { nextDayToAccrue } from '../fund/service.ts';
import type { Fen } from '../money/fen.ts';
import { Operation } from '../operations/model.ts';
import { isLowWater, reserveBalances } from '../reserve/service.ts';
import { latestReconciliation } from '../reconciliation/job.ts';
import { JOBS_COLLECTION } from '../scheduler.ts';

export interface AccrualFigures {
  fundCode: string;
  /** Days that could be accrued (they have ended) but are not yet: 0 when the fund is up to date. */
  lagDays: number;
  /** From opening to closing the last accrued day; null before the first. */
  lastDayDurationSeconds: number | null;
}

export async function accrualFigures(ctx: AppContext): Promise<AccrualFigures[]> {
  return Promise.all(ctx.config.funds.map((fund) => accrualFiguresOf(ctx, fund.code)));
}

async function accrualFiguresOf(ctx: AppContext, fundCode: string): Promise<AccrualFigures> {
  // Read, never open, the book: a scrape must not write. A fund never accrued has none yet.
  const book = (await FundBook.findById(fundCode).lean<FundBookDocument>()) ?? unopenedBook(ctx, fundCode);
  const next = await nextDayToAccrue(ctx, book);
  // A day can be accrued once it has ended: yesterday, in the service's zone, is the latest.
  const latestAccruable = ctx.calendar.addCalendarDays(ctx.calendar.businessDateOf(ctx.clock.now()), -1);
  const lagDays = next === null ? 0 : Math.max(0, ctx.calendar.daysBetween(next, latestAccruable) + 1);
  const lastDay = book.lastAccruedDate ? await FundDay.findById(fundDayId(fundCode, book.lastAccruedDate)).lean<FundDayDocument>() : null;
  return { fundCode, lagDays, lastDayDurationSeconds: accrualSecondsOf(lastDay) };
}

function unopenedBook(ctx: AppContext, fundCode: string): FundBookDocument {
  return { _id: fundCode, lastAccruedDate: null, partitionCount: ctx.config.accrual.partitions, residualFen8: '0' };
}

function accrualSecondsOf(day: FundDayDocument | null): number | null {
  if (!day?.accrualStartedAt || !day.accruedAt) return null;
  return (day.accruedAt.getTime() - day.accrualStartedAt.getTime()) / 1000;
}

export interface ReserveFigures {
  availableFen: Fen;
  outstandingFen: Fen;
  lowWater: boolean;
}

/** The reserve's balances as the ops report gives them, without its advance listing. */
export async function reserveFigures(ctx: AppContext): Promise<ReserveFigures> {
  const { sizeFen, availableFen, outstandingFen } = await reserveBalances(ctx);
  return { availableFen, outstandingFen, lowWater: isLowWater(ctx, availableFen, sizeFen) };
}

/** What the latest scheduled reconciliation found (null before its first run): breaks of each kind. */
export async function reconciliationBreaks(): Promise<{ balances: number; unbalancedOperations: number } | null> {
  const latest = await latestReconciliation();
  // Reports written before operations were named carry none.
  return latest && { balances: latest.breaks.length, unbalancedOperations: latest.unbalancedOperations?.length ?? 0 };
}

/** A scrape counts at most this many: past it the alarm is already loud and the count would cost. */
export const BACKLOG_COUNT_MAX = 10_000;

/**
 * Operations still `pending` after `jobs.recoverAfterMs`: what the recovery job has to drive.
 * Pending ones are only those in flight, so the indexed equality on status selects few.
 */
export async function recoveryBacklog(ctx: AppContext): Promise<number> {
  const staleBefore = new Date(ctx.clock.now().getTime() - ctx.config.jobs.recoverAfterMs);
  return Operation.countDocuments({ status: 'pending', updatedAt: { $lte: staleBefore } }, { limit: BACKLOG_COUNT_MAX });
}

export interface JobRun {
  job: string;
  lastFinishedAt: Date | null;
}

/**
 * When each recurring job last finished, in any process. Counting the due operations not
 * yet advanced would scan every operation awaiting its date (FerretDB filters dates after
 * the fetch); a due-operations job that has not finished lately says the same, cheaply.
 */
export async function recurringJobRuns(): Promise<JobRun[]> {
  const collection = mongoose.connection.db!.collection(JOBS_COLLECTION);
  const recurring = JOBS.filter((job) => job.every).map((job) => job.name);
  return Promise.all(
    recurring.map(async (job) => {
      // Agenda keeps a recurring job as the one document of its name of type 'single'.
      const found = await collection.findOne<{ lastFinishedAt?: Date | null }>({ name: job, type: 'single' }, { projection: { lastFinishedAt: 1 } });
      return { job, lastFinishedAt: found?.lastFinishedAt ?? null };
    }),
  );
}
