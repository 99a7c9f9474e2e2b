import { Agenda, type Job } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import mongoose from 'mongoose';
import { JOBS } from '../jobs/definitions.ts';
import { refreshCalendarIfStale } from './calendar/holidays.ts';
import type { AppContext } from './context.ts';
import { retryOnWriteConflict } from './db/writeConflict.ts';
import type { JobControl } from './income/scheduled.ts';
import { log } from './log.ts';

const JOBS_COLLECTION = 'agenda_jobs';

/** Starts Agenda on the service's database with every job of jobs/definitions.ts. */
export async function startScheduler(ctx: AppContext, options: { processJobs: boolean }): Promise<Agenda> {
  const agenda = new Agenda({
    backend: new MongoBackend({ mongo: mongoose.connection.db!, collection: JOBS_COLLECTION }),
    // Milliseconds as a number: the string '200 milliseconds' is read as 200 seconds.
    processEvery: ctx.config.jobs.processEveryMs,
    defaultLockLifetime: ctx.config.jobs.lockLifetimeMs,
  });
  // On FerretDB a lock taken by another worker first is refused as a write conflict; Agenda
  // tries again at its next scan, so this is routine, not an incident.
  agenda.on('error', (error: Error) => log.debug({ err: error.message }, 'agenda error'));
  agenda.on('fail', (error: Error, job: { attrs: { name: string } }) => log.error({ err: error, job: job.attrs.name }, 'job failed'));
  const jobs = JOBS.filter((job) => ctx.config.jobs.only === null || ctx.config.jobs.only.includes(job.name));
  for (const job of jobs) {
    agenda.define(
      job.name,
      async (agendaJob: Job<Record<string, unknown>>) => {
        await refreshCalendarIfStale(ctx);
        await job.run(ctx, agendaJob.attrs.data ?? {}, jobControl(agenda, agendaJob));
      },
      // Lock no more than it runs: a worker must not hoard queued partitions that other
      // workers could take, nor hold their locks if it dies.
      { concurrency: job.concurrency, lockLimit: job.concurrency },
    );
  }
  if (options.processJobs) await agenda.start();
  for (const job of jobs) {
    if (!job.every) continue;
    await retryOnWriteConflict(() => agenda.every(job.every!(ctx), job.name, undefined, { timezone: ctx.config.zone }), {
      retryDuplicateKey: true,
    });
  }
  return agenda;
}

function jobControl(agenda: Agenda, agendaJob: Job<Record<string, unknown>>): JobControl {
  return {
    touch: () => retryOnWriteConflict(() => agendaJob.touch()),
    enqueue: (name, data, key) => enqueueOnce(agenda, name, data, key),
  };
}

/**
 * Queues a job unless one with the same key is queued or running. A job that failed or
 * finished is queued again: its work is idempotent, and a failed one must be retried.
 */
async function enqueueOnce(agenda: Agenda, name: string, data: Record<string, unknown>, key: string): Promise<void> {
  const existing = await mongoose.connection.db!.collection(JOBS_COLLECTION).findOne({ name, 'data.key': key });
  if (existing && (existing.nextRunAt != null || existing.lockedAt != null)) return;
  await retryOnWriteConflict(
    () => agenda.create(name, { ...data, key }).unique({ 'data.key': key }).schedule(new Date()).save(),
    { retryDuplicateKey: true },
  );
}
