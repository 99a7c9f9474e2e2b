import mongoose, { type Connection } from 'mongoose';
import { withTimeout } from './timeout.ts';

/**
 * `not_run`: this process runs no jobs (tests, the ops CLI), so readiness does not wait for
 * a scheduler; the server moves it through starting, started and stopped.
 */
export const SCHEDULER_STATES = ['not_run', 'starting', 'started', 'stopped'] as const;
export type SchedulerState = (typeof SCHEDULER_STATES)[number];

export interface ReadinessReport {
  ready: boolean;
  /** What is wrong with each part that is not ready, e.g. "database: no answer to a ping within 2000 ms". */
  notReady: string[];
  checks: { database: string; scheduler: SchedulerState; shuttingDown: boolean };
}

const PING_TIMEOUT_MS = 2_000;

/**
 * What a process knows about its own readiness to take traffic. The app is built before the
 * scheduler starts, so the server tells this object how far it has come, and /readyz asks it.
 */
export class Readiness {
  scheduler: SchedulerState = 'not_run';
  /** Set on SIGTERM: a load balancer must stop sending traffic while in-flight requests finish. */
  shuttingDown = false;

  constructor(private readonly connection: Connection = mongoose.connection) {}

  async report(): Promise<ReadinessReport> {
    const database = await this.pingDatabase();
    const notReady: string[] = [];
    if (database !== 'ok') notReady.push(`database: ${database}`);
    if (this.scheduler === 'starting' || this.scheduler === 'stopped') notReady.push(`scheduler: ${this.scheduler}`);
    if (this.shuttingDown) notReady.push('process: shutting down');
    return { ready: notReady.length === 0, notReady, checks: { database, scheduler: this.scheduler, shuttingDown: this.shuttingDown } };
  }

  /** 'ok', or why the database is not answering. */
  private async pingDatabase(): Promise<string> {
    const db = this.connection.readyState === mongoose.ConnectionStates.connected ? this.connection.db : undefined;
    if (!db) return 'not connected';
    try {
      await withTimeout(db.command({ ping: 1 }), PING_TIMEOUT_MS, `no answer to a ping within ${PING_TIMEOUT_MS} ms`);
      return 'ok';
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }
}
