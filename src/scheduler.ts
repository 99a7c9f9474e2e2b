import { Agenda, type Job } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { ObjectId } from 'mongodb';
import mongoose from 'mongoose';
import { setTimeout as sleep } from 'node:timers/promises';
import { JOBS } from '../jobs/definitions.ts';
import { refreshCalendarIfStale } from './holidays/service.ts';
import type { AppContext } from './context.ts';
import { answerFor } from './http/answers.ts';
import { retryOnWriteConflict } from './db/writeConflict.ts';
import type { JobControl } from './income/scheduled.ts';
import { log } from './log.ts';
import { registerAnswerRenderer } from './operations/answers.ts';

export const JOBS_COLLECTION = 'agenda_jobs';

/** What releasing a job's lock needs to know of it. */
type RunningJob = Pick<Job['attrs'], '_id' | 'name' | 'data' | 'lockedAt' | 'repeatInterval'>;

/** The jobs running in this process by id, and whether it is stopping (their next touch() ends them). */
interface RunState {
  running: Map<string, Job | RunningJob>;
  stopping: boolean;
}
const runStates = new WeakMap<Agenda, RunState>();

/** Thrown by touch() while the process stops: the job ends at a point it can resume from. */
class JobInterrupted extends Error {
  constructor(jobName: string) {
    super(`${jobName} interrupted: the process is stopping`);
  }
}

/**
 * Agenda releases a job it will not run now with an unlock it neither awaits nor catches
 * (JobProcessor); on FerretDB that update may meet a write conflict, and the unhandled
 * rejection would end the process. Retried here, and at worst logged: the lock expires anyway.
 */
function guardedUnlocks(backend: MongoBackend): MongoBackend {
  const repository = backend.repository;
  const unlockJob = repository.unlockJob.bind(repository);
  repository.unlockJob = (job) =>
    retryOnWriteConflict(() => unlockJob(job)).catch((error: unknown) => log.warn({ err: error, jobId: String(job._id) }, 'job lock left to expire'));
  return backend;
}

/** Starts Agenda on the service's database with every job of jobs/definitions.ts. */
export async function startScheduler(ctx: AppContext, options: { processJobs: boolean }): Promise<Agenda> {
  // The sweep job answers transfer-ins as a request does.
  registerAnswerRenderer(answerFor);
  if (options.processJobs) ctx.readiness.scheduler = 'starting';
  const agenda = new Agenda({
    backend: guardedUnlocks(new MongoBackend({ mongo: mongoose.connection.db!, collection: JOBS_COLLECTION })),
    // Milliseconds as a number: the string '200 milliseconds' is read as 200 seconds.
    processEvery: ctx.config.jobs.processEveryMs,
    defaultLockLifetime: ctx.config.jobs.lockLifetimeMs,
  });
  // On FerretDB a lock taken by another worker first is refused as a write conflict; Agenda
  // tries again at its next scan, so this is routine, not an incident.
  agenda.on('error', (error: Error) => log.debug({ err: error.message }, 'agenda error'));
  agenda.on('fail', (error: Error, job: { attrs: { name: string } }) => log.error({ err: error, job: job.attrs.name }, 'job failed'));
  const state: RunState = { running: new Map(), stopping: false };
  runStates.set(agenda, state);
  // Emitted once the job's end (and its unlock) is saved.
  agenda.on('complete', (job: Job) => state.running.delete(String(job.attrs._id)));
  const jobs = JOBS.filter((job) => ctx.config.jobs.only === null || ctx.config.jobs.only.includes(job.name));
  for (const job of jobs) {
    agenda.define(
      job.name,
      async (agendaJob: Job<Record<string, unknown>>) => {
        state.running.set(String(agendaJob.attrs._id), agendaJob);
        try {
          await refreshCalendarIfStale(ctx);
          await job.run(ctx, agendaJob.attrs.data ?? {}, jobControl(agenda, agendaJob, state, ctx.config.jobs.lockLifetimeMs));
        } catch (error) {
          if (!(error instanceof JobInterrupted)) throw error;
          // Hand it over: due now, and unlocked when Agenda saves its end, so another worker
          // takes it at once and resumes after the last checkpoint.
          agendaJob.schedule(new Date());
          log.info({ job: job.name, data: agendaJob.attrs.data }, 'job handed over: this process is stopping');
        }
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
  if (options.processJobs) ctx.readiness.scheduler = 'started';
  return agenda;
}

/**
 * Stops taking jobs and releases every job lock this process holds. Agenda 6's stop() unlocks
 * only the jobs it has locked but not started; a running job would keep its lock until it
 * ends or its lock lifetime (10 minutes) lapses, holding up its work. So running jobs are
 * asked to stop at their next touch() (an accrual partition: after its next checkpoint) and
 * are handed over; one still running after `waitMs` has its lock released here, and may be
 * run again elsewhere while this process winds down, which every job tolerates (they are
 * idempotent and resume from checkpoints, as after a crash).
 */
export async function stopScheduler(ctx: AppContext, agenda: Agenda, waitMs: number): Promise<void> {
  const state = runStates.get(agenda)!;
  state.stopping = true;
  ctx.readiness.scheduler = 'stopped';
  await noteJobsStarting(agenda, state);
  await retryOnWriteConflict(() => agenda.stop(false));
  const deadline = Date.now() + waitMs;
  while (state.running.size > 0 && Date.now() < deadline) await sleep(50);
  for (const job of state.running.values()) await releaseLock('attrs' in job ? job.attrs : job);
}

/** Jobs Agenda has begun to run whose function has not been called yet: they count as running too. */
async function noteJobsStarting(agenda: Agenda, state: RunState): Promise<void> {
  const stats = await agenda.getRunningStats(true).catch(() => undefined); // never started: nothing runs
  const runningJobs = Array.isArray(stats?.runningJobs) ? (stats.runningJobs as RunningJob[]) : [];
  for (const job of runningJobs) if (!state.running.has(String(job._id))) state.running.set(String(job._id), job);
}

/** Unlocks a job still running here, unless another worker has locked it since; a one-off job is made due. */
async function releaseLock(job: RunningJob): Promise<void> {
  const { _id, lockedAt, repeatInterval, name } = job;
  if (!lockedAt) return;
  const dueAgain = repeatInterval ? {} : { nextRunAt: new Date() };
  await retryOnWriteConflict(() =>
    mongoose.connection.db!.collection(JOBS_COLLECTION).updateOne({ _id: new ObjectId(String(_id)), lockedAt }, { $set: { lockedAt: null, ...dueAgain } }),
  );
  log.warn({ job: name, data: job.data }, 'job still running at shutdown: its lock is released');
}

/**
 * A lock taken at `takenAtMs` is renewed once a quarter of its life is spent, so a process that
 * pauses right after has three quarters left: renewing is an update, and a job checking after
 * every batch would otherwise renew dozens of times a second.
 */
function isRenewalDue(takenAtMs: number, lifetimeMs: number): boolean {
  return Date.now() - takenAtMs >= lifetimeMs / 4;
}

function jobControl(agenda: Agenda, agendaJob: Job<Record<string, unknown>>, state: RunState, lockLifetimeMs: number): JobControl {
  let lockedAtMs = agendaJob.attrs.lockedAt?.getTime() ?? Date.now();
  return {
    touch: async () => {
      if (state.stopping) throw new JobInterrupted(agendaJob.attrs.name);
      // Extending the lock is an update, dear on FerretDB: a job touching after each batch
      // extends it only when due.
      if (isRenewalDue(lockedAtMs, lockLifetimeMs)) {
        const touchedAtMs = Date.now();
        await retryOnWriteConflict(() => agendaJob.touch());
        lockedAtMs = agendaJob.attrs.lockedAt?.getTime() ?? touchedAtMs;
      }
      return new Date(lockedAtMs + lockLifetimeMs);
    },
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
