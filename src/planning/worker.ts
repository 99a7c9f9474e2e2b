/**
 * Runs a plan's arithmetic in a worker thread: a year of history is some thirty simulations,
 * seconds of CPU that must not hold the API process's money requests. One plan at a time per
 * process: the others wait their turn, PLANS_AT_ONCE_MAX at most (ops ask for a handful a day;
 * a flood is turned away with 503 plans_busy, not queued without bound). The inputs and the
 * plan cross as structured clones (bigints and dates survive); a DomainError thrown in the
 * worker (a festival the history has no day of) is thrown again here as one.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TradingCalendarOptions } from '../calendar/tradingCalendar.ts';
import { DomainError } from '../errors.ts';
import type { PlanInputs, PlanProgress, ReservePlan } from './compute.ts';

/** What the worker posts: progress, then the plan or why there is none. */
export type WorkerMessage =
  | { kind: 'progress'; doneShare: number }
  | { kind: 'plan'; plan: ReservePlan }
  | { kind: 'refused'; error: Pick<DomainError, 'code' | 'detail' | 'extra' | 'translation'> }
  | { kind: 'failed'; message: string };

// The entry beside this module, compiled or not (npm run build turns both into .js). Run
// from the sources, the worker registers tsx itself first: Node 20 gives a worker thread
// neither the process's --import nor its loader hooks.
const EXTENSION = path.extname(fileURLToPath(import.meta.url));
const ENTRY_URL = new URL(`./planWorker${EXTENSION}`, import.meta.url).href;
const ENTRY = EXTENSION === '.ts' ? `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(ENTRY_URL)}); });` : new URL(ENTRY_URL);

/** Plans running or waiting in this process at most: more are turned away, never queued without bound. */
export const PLANS_AT_ONCE_MAX = 4;
const PLAN_RETRY_AFTER_SECONDS = 10;

let queue: Promise<unknown> = Promise.resolve();
let plansInProcess = 0;

export function computeInWorker(inputs: PlanInputs, calendar: Required<TradingCalendarOptions>, onProgress?: PlanProgress): Promise<ReservePlan> {
  if (plansInProcess >= PLANS_AT_ONCE_MAX) {
    return Promise.reject(
      new DomainError('plans_busy', `${PLANS_AT_ONCE_MAX} reserve plans are already running or waiting on this server: try again in a moment`, { retryAfterSeconds: PLAN_RETRY_AFTER_SECONDS }, { values: { plansMax: PLANS_AT_ONCE_MAX } }),
    );
  }
  plansInProcess++;
  const turn = queue.then(() => runWorker(inputs, calendar, onProgress)).finally(() => plansInProcess--);
  queue = turn.catch(() => undefined);
  return turn;
}

function runWorker(inputs: PlanInputs, calendar: Required<TradingCalendarOptions>, onProgress?: PlanProgress): Promise<ReservePlan> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(ENTRY, { workerData: { inputs, calendar }, eval: typeof ENTRY === 'string' });
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'progress') onProgress?.(message.doneShare);
      else if (message.kind === 'plan') resolve(message.plan);
      else if (message.kind === 'refused') reject(new DomainError(message.error.code, message.error.detail, message.error.extra, message.error.translation));
      else reject(new Error(`reserve plan failed: ${message.message}`));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`reserve plan worker exited with ${code} before answering`)));
  });
}
