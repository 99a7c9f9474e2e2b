/**
 * Points between two awaits of the operation engine where a test, or the fault-injection
 * explorer (scripts/explore.ts), may crash (throw) or stall (hold) a step. The fault set of
 * the process at hand travels with the request or job that runs the step; in production
 * there is none, and no scope is ever entered.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface FaultPoints {
  hit(point: string): Promise<void>;
  /** The faults of one request, told by its headers (the explorer gives each request its own). */
  forRequest?(headers: Record<string, string | string[] | undefined>): FaultPoints;
}

export const NO_FAULTS: FaultPoints = { hit: async () => {} };

const scope = new AsyncLocalStorage<FaultPoints>();

/** Runs `task` with `faults` at every engine point it reaches; no scope at all for no faults. */
export function withFaults<T>(faults: FaultPoints, task: () => T): T {
  return faults === NO_FAULTS ? task() : scope.run(faults, task);
}

export async function faultPoint(point: string): Promise<void> {
  await scope.getStore()?.hit(point);
}
