/** The worker thread of src/planning/worker.ts: one plan's arithmetic, then it exits. */
import { parentPort, workerData } from 'node:worker_threads';
import { TradingCalendar, type TradingCalendarOptions } from '../calendar/tradingCalendar.ts';
import { DomainError } from '../errors.ts';
import { computePlan, type PlanInputs } from './compute.ts';
import type { WorkerMessage } from './worker.ts';

const { inputs, calendar } = workerData as { inputs: PlanInputs; calendar: TradingCalendarOptions };
const post = (message: WorkerMessage) => parentPort!.postMessage(message);

try {
  post({ kind: 'plan', plan: computePlan(inputs, new TradingCalendar(calendar), (doneShare) => post({ kind: 'progress', doneShare })) });
} catch (error) {
  if (error instanceof DomainError) post({ kind: 'refused', error: { code: error.code, detail: error.detail, extra: error.extra, translation: error.translation } });
  else post({ kind: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
