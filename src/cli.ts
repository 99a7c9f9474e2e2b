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
 *   report fund <fund> [--from <date> --to <date>] [--csv]          the fund day by day (default: the 30 days through yesterday)
 *   report reserve [--from <date> --to <date>] [--csv]              the reserve at the end of each day
 *   report statement <loginId> [--from <date> --to <date>] [--csv]  a holder's statement
 *   ops-token <loginId> [--lifetime-hours <N>]   a bearer token for an ops user (scripts, the dashboard); default 24 h, at most 744
 */
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { issueOpsToken, setRole, userIdOfLogin } from './auth/service.ts';
import { isBusinessDate } from './calendar/businessDate.ts';
import { refreshCalendar } from './holidays/service.ts';
import { appConfig } from './config/config.ts';
import { createContext, type AppContext } from './context.ts';
import { connectMongoose, disconnectMongoose } from './db/connection.ts';
import { answerFor } from './http/answers.ts';
import { runningDatabaseUri } from './db/database.ts';
import { accrualStatus, fundBookOf, fundDayView, nextDayToAccrue, publishYield } from './fund/service.ts';
import { accrueThrough } from './income/accrual.ts';
import { parseYieldPer10k } from './money/yield.ts';
import { newId } from './ids.ts';
import { parsePositiveYuan } from './money/fen.ts';
import { registerAnswerRenderer } from './operations/answers.ts';
import { reconcileJournal } from './reconciliation/service.ts';
import { csvText, type CsvTable } from './reports/csv.ts';
import { fundDailyCsv, fundDailyReport } from './reports/fundDaily.ts';
import { reportRange } from './reports/range.ts';
import { reserveDailyCsv, reserveDailyReport } from './reports/reserveDaily.ts';
import { holderStatement, statementCsv } from './reports/statement.ts';
import { reserveReport } from './reserve/service.ts';
import { adjustReserve } from './transfers/service.ts';

const OPTIONS = {
  through: { type: 'string' },
  key: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  csv: { type: 'boolean' },
  'lifetime-hours': { type: 'string' },
} as const;

type Options = Partial<Record<'through' | 'key' | 'from' | 'to' | 'lifetime-hours', string | undefined>> & { csv?: boolean | undefined };

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
  report: (ctx, [kind, subject], options) => {
    const run = REPORTS[kind ?? ''];
    if (!run) throw new Error(`expected report ${Object.keys(REPORTS).join(' | ')}`);
    return run(ctx, subject, options);
  },
  'ops-token': (ctx, [loginId], options) => {
    const hours = options['lifetime-hours'];
    return issueOpsToken(ctx, required(loginId, 'loginId'), hours === undefined ? undefined : Number(hours));
  },
};

/** Each report prints as JSON, or with --csv as the CSV the API serves. */
const REPORTS: Record<string, (ctx: AppContext, subject: string | undefined, options: Options) => Promise<unknown>> = {
  fund: async (ctx, fundCode, options) => {
    const report = await fundDailyReport(ctx, required(fundCode, 'fund'), reportRange(ctx, options.from, options.to));
    return options.csv ? new Printed(fundDailyCsv(report)) : report;
  },
  reserve: async (ctx, _subject, options) => {
    const report = await reserveDailyReport(ctx, reportRange(ctx, options.from, options.to));
    return options.csv ? new Printed(reserveDailyCsv(report)) : report;
  },
  statement: async (ctx, loginId, options) => {
    const statement = await holderStatement(ctx, await userIdOfLogin(required(loginId, 'loginId')), reportRange(ctx, options.from, options.to));
    return options.csv ? new Printed(statementCsv(statement)) : statement;
  },
};

/** Output printed as it is rather than as JSON. */
class Printed {
  readonly text: string;

  constructor(table: CsvTable) {
    this.text = csvText(table);
  }
}

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
  const { positionals, values } = parseArgs({ allowPositionals: true, options: OPTIONS });
  const [command, ...args] = positionals;
  const run = command ? COMMANDS[command] : undefined;
  if (!run) {
    console.error(`usage: npm run ops -- <${Object.keys(COMMANDS).join(' | ')}> [arguments]`);
    return 2;
  }
  await connectMongoose(await runningDatabaseUri(appConfig().database.dataDir));
  try {
    const ctx = createContext();
    registerAnswerRenderer(answerFor); // adjust-reserve answers as its route does
    await refreshCalendar(ctx);
    const result = await run(ctx, args, values);
    process.stdout.write(result instanceof Printed ? result.text : `${JSON.stringify(result, null, 2)}\n`);
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
