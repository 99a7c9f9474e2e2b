/**
 * `npm run ops -- <command>`: the ops CLI. It talks to the database of the running service
 * (MONGODB_URI, or the embedded one `npm start` left its address for).
 *
 *   grant-ops <loginId>                       give a user the ops role
 *   revoke-ops <loginId>                      take it away
 *   reconcile                                 check the journal: postings sum to zero, balances equal postings
 *   publish-yield <fund> <date> <万份收益>      publish a day's income per 10,000 shares, e.g. YEB001 2024-06-03 0.4123
 *   accrue <fund> [--through <date>]          accrue every due day in order up to --through (default: yesterday), with a progress bar
 *   accrual-status <fund>                     the last accrued day, the next one, and what blocks it
 *   reserve                                   the liquidity reserve: size, available, outstanding by settle date
 *   reserve-adjust <increase|decrease> <yuan> [--key <idempotency key>]   fund or shrink the reserve
 */
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { setRole } from './auth/service.ts';
import { isBusinessDate } from './calendar/businessDate.ts';
import { refreshCalendar } from './calendar/holidays.ts';
import { appConfig } from './config/config.ts';
import { createContext, type AppContext } from './context.ts';
import { connectMongoose, disconnectMongoose } from './db/connection.ts';
import { runningDatabaseUri } from './db/database.ts';
import { accrualStatus, fundBookOf, fundDayView, nextDayToAccrue, publishYield } from './fund/service.ts';
import { accrueThrough } from './income/accrual.ts';
import { parseYieldPer10k } from './money/yield.ts';
import { newId } from './ids.ts';
import { parsePositiveYuan } from './money/fen.ts';
import { reconcileJournal } from './operations/reconciliation.ts';
import { reserveReport } from './reserve/service.ts';
import { adjustReserve } from './transfers/service.ts';

type Options = { through?: string | undefined; key?: string | undefined };

const COMMANDS: Record<string, (ctx: AppContext, args: string[], options: Options) => Promise<unknown>> = {
  'grant-ops': (_ctx, [loginId]) => setRole(required(loginId, 'loginId'), 'ops', true),
  'revoke-ops': (_ctx, [loginId]) => setRole(required(loginId, 'loginId'), 'ops', false),
  reconcile: () => reconcileJournal(),
  'publish-yield': async (ctx, [fundCode, date, rate]) => {
    const day = await publishYield(ctx, {
      fundCode: required(fundCode, 'fund'),
      date: requiredDate(date),
      yieldPer10k: parseYieldPer10k(required(rate, '万份收益')),
      publishedBy: 'ops-cli',
    });
    return fundDayView(day);
  },
  accrue: (ctx, [fundCode], options) => accrueWithProgress(ctx, required(fundCode, 'fund'), options.through),
  'accrual-status': (ctx, [fundCode]) => accrualStatus(ctx, required(fundCode, 'fund')),
  reserve: (ctx) => reserveReport(ctx),
  'reserve-adjust': async (ctx, [direction, amount], options) => {
    if (direction !== 'increase' && direction !== 'decrease') throw new Error('expected increase or decrease');
    const caller = { userId: 'ops-cli', idempotencyKey: options.key ?? newId('cli') };
    const answer = await adjustReserve(ctx, caller, { amountFen: parsePositiveYuan(required(amount, 'yuan')), direction });
    if (answer.status >= 400) throw new Error((answer.body as { detail: string }).detail);
    return { ...(answer.body as object), reserve: await reserveReport(ctx) };
  },
};

/** Accrues in this process (alongside any running workers: the work is shared safely), drawing a bar on stderr. */
async function accrueWithProgress(ctx: AppContext, fundCode: string, through: string | undefined) {
  const yesterday = ctx.calendar.addCalendarDays(ctx.calendar.businessDateOf(ctx.clock.now()), -1);
  const last = through === undefined ? yesterday : requiredDate(through);
  const first = await nextDayToAccrue(ctx, await fundBookOf(ctx, fundCode));
  const dayCount = first === null || first > last ? 0 : ctx.calendar.daysBetween(first, last) + 1;
  const bar = new SingleBar({
    format: 'accrue {fund} {date} [{bar}] {value}/{total} partitions, {eta}s left',
    stream: process.stderr,
    noTTYOutput: true, // a log file still shows the progress
  });
  bar.start(dayCount * ctx.config.accrual.partitions, 0, { fund: fundCode, date: first ?? '-' });
  let done = 0;
  const accrued = await accrueThrough(ctx, fundCode, last, (progress) => bar.update(++done, { date: progress.date }));
  bar.stop();
  return { accrued, status: await accrualStatus(ctx, fundCode) };
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`missing <${name}>`);
  return value;
}

function requiredDate(value: string | undefined): string {
  if (!isBusinessDate(value)) throw new Error(`expected a yyyy-MM-dd date, got ${value ?? 'nothing'}`);
  return value;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { through: { type: 'string' }, key: { type: 'string' } } });
  const [command, ...args] = positionals;
  const run = command ? COMMANDS[command] : undefined;
  if (!run) {
    console.error(`usage: npm run ops -- <${Object.keys(COMMANDS).join(' | ')}> [arguments]`);
    return 2;
  }
  await connectMongoose(await runningDatabaseUri(appConfig().database.dataDir));
  try {
    const ctx = createContext();
    await refreshCalendar(ctx);
    console.log(JSON.stringify(await run(ctx, args, values), null, 2));
    return 0;
  } finally {
    await disconnectMongoose();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`ops: ${(error as Error).message}`);
  process.exitCode = 1;
}
