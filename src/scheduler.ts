import { Agenda } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import mongoose from 'mongoose';
import { JOBS } from '../jobs/definitions.ts';
import { refreshCalendarIfStale } from './calendar/holidays.ts';
import type { AppContext } from './context.ts';
import { retryOnWriteConflict } from './db/writeConflict.ts';
import { log } from './log.ts';

/** Starts Agenda on the service's database with every job of jobs/definitions.ts. */
export async function startScheduler(ctx: AppContext, options: { processJobs: boolean }): Promise<Agenda> {
  const agenda = new Agenda({
    backend: new MongoBackend({ mongo: mongoose.connection.db!, collection: 'agenda_jobs' }),
    // Milliseconds as a number: the string '200 milliseconds' is read as 200 seconds.
    processEvery: ctx.config.jobs.processEveryMs,
    defaultLockLifetime: ctx.config.jobs.lockLifetimeMs,
  });
  // On FerretDB a lock taken by another worker first is refused as a write conflict; Agenda
  // tries again at its next scan, so this is routine, not an incident.
  agenda.on('error', (error: Error) => log.debug({ err: error.message }, 'agenda error'));
  agenda.on('fail', (error: Error, job: { attrs: { name: string } }) => log.error({ err: error, job: job.attrs.name }, 'job failed'));
  for (const job of JOBS) {
    agenda.define(
      job.name,
      async () => {
        await refreshCalendarIfStale(ctx);
        await job.run(ctx);
      },
      { concurrency: job.concurrency },
    );
  }
  if (options.processJobs) await agenda.start();
  for (const job of JOBS) {
    await retryOnWriteConflict(() => agenda.every(job.every, job.name), { retryDuplicateKey: true });
  }
  return agenda;
}
