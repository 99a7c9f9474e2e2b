import type { AppContext } from '../context.ts';
import { watchScheduleCoverage } from '../holidays/coverage.ts';
import { watchReserve } from '../reserve/lowWater.ts';

/** The minute job's look at the states ops are told of when they cross (the reconciliation reports its own). */
export async function watchOpsAlerts(ctx: AppContext): Promise<void> {
  await watchReserve(ctx);
  await watchScheduleCoverage(ctx);
}
