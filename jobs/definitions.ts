/**
 * Agenda job definitions: a name, how often, how many at once, and one service call.
 * No business logic lives here: the jobs call the same service functions as the API.
 */
import type { AppContext } from '../src/context.ts';
import { advanceDueOperations, recoverStuckOperations } from '../src/transfers/scheduled.ts';

export interface JobDefinition {
  name: string;
  /** Agenda interval (human-interval text). */
  every: string;
  concurrency: number;
  run(ctx: AppContext): Promise<unknown>;
}

export const JOBS: JobDefinition[] = [
  {
    // Confirms subscriptions on their confirm date and settles redemptions on T+1.
    name: 'advance-due-operations',
    every: '1 minute',
    concurrency: 1,
    run: advanceDueOperations,
  },
  {
    // Drives operations a crash or a silent bank left pending.
    name: 'recover-stuck-operations',
    every: '1 minute',
    concurrency: 1,
    run: recoverStuckOperations,
  },
];
