/**
 * `reserve.low_water` and `reserve.recovered`: the reserve's available amount crossing the
 * low-water mark the dashboard's reserve tile uses (isLowWater). Looked at by the minute job
 * (watch-ops-alerts), when a process leases a slice (instant redemptions draw the reserve down
 * lease by lease, so a drain is seen as it happens, never once per redemption) and when an ops
 * adjustment completes. A look costs reads only; a write happens only on a crossing.
 */
import { observeAlert } from '../alertStates/service.ts';
import type { AppContext } from '../context.ts';
import { log } from '../log.ts';
import { formatYuan } from '../money/fen.ts';
import { isLowWater, reserveBalances } from './service.ts';

export const reserveAlertKey = (reserveName: string) => `reserve:${reserveName}:low_water`;

export async function watchReserve(ctx: AppContext): Promise<void> {
  const { name, lowWaterPercent } = ctx.config.reserve;
  const { sizeFen, availableFen, outstandingFen } = await reserveBalances(ctx);
  const reserve = { name, available: formatYuan(availableFen), outstanding: formatYuan(outstandingFen), size: formatYuan(sizeFen), lowWaterPercent };
  await observeAlert(reserveAlertKey(name), isLowWater(ctx, availableFen, sizeFen), { firing: 'reserve.low_water', recovered: 'reserve.recovered' }, ctx.clock.now(), { reserve });
}

/** A look that never fails what prompted it (a lease, an adjustment): a failed look waits for the next one. */
export function lookAtReserve(ctx: AppContext): Promise<void> {
  return watchReserve(ctx).catch((error: unknown) => log.warn({ err: error }, 'reserve low-water check failed; the next check looks again'));
}
