/**
 * `npm run sandbox`: the service on its own data folder with a seeded book and a test clock
 * (src/server.ts --sandbox). Never in production: the test clock would book money on wrong days.
 */
import type { AppConfig } from '../config/config.ts';
import type { AppContext } from '../context.ts';
import { SANDBOX_FUND, SANDBOX_HOLDER, SANDBOX_MERCHANT, SANDBOX_OPS, seedSandboxBook } from './book.ts';
import { runDueWork, testClockView } from './service.ts';
import { TestClock } from '../calendar/clock.ts';

/** Apart from `npm start`'s data folder, so trying things never touches a real book. */
export const SANDBOX_DATA_DIR = 'data/sandbox';
/** Sessions outlive a month of clock moves: a move must not sign the newcomer out. */
const SANDBOX_TOKEN_LIFETIME_MS = 400 * 24 * 3_600_000;

export function sandboxConfig(config: AppConfig): AppConfig {
  if (process.env.NODE_ENV === 'production') throw new Error('The sandbox is refused when NODE_ENV=production: its test clock would book money on wrong days');
  const dataDir = process.env.MONEYFUND_DATA_DIR ?? SANDBOX_DATA_DIR;
  return {
    ...config,
    database: { ...config.database, dataDir },
    security: { ...config.security, tokenLifetimeMs: SANDBOX_TOKEN_LIFETIME_MS },
  };
}

/** Seeds a fresh sandbox; a seeded one catches up on the days real time passed while it was stopped. */
export async function prepareSandbox(ctx: AppContext): Promise<void> {
  if (!(await seedSandboxBook(ctx))) await runDueWork(ctx, ctx.clock.now());
}

/** What the newcomer needs, printed once the API listens. */
export function sandboxBanner(ctx: AppContext, url: string): string {
  const clock = testClockView(ctx, ctx.clock as TestClock);
  return [
    `moneyfund sandbox on ${url} (data in ${ctx.config.database.dataDir}), test clock at ${clock.local} ${clock.zone}`,
    `  holder:   ${SANDBOX_HOLDER.loginId} / ${SANDBOX_HOLDER.loginPassword}, payment password ${SANDBOX_HOLDER.paymentPassword}`,
    `  ops:      ${SANDBOX_OPS.loginId} / ${SANDBOX_OPS.loginPassword}`,
    `  merchant: ${SANDBOX_MERCHANT.id} (${SANDBOX_MERCHANT.name}); fund ${SANDBOX_FUND}`,
    `  move the clock: POST ${url}/v1/ops/sandbox/clock {"to":"15:00"} | {"to":"next-trading-day"} | {"days":N} (as ops),`,
    `                  the dashboard (${url}/ops/dashboard), or npm run ops -- sandbox clock --days N`,
    '',
  ].join('\n');
}
