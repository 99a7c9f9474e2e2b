/** The ops CLI's commands, options and help, on commander; `src/cli.ts` runs them. */
import { Argument, Command, InvalidArgumentError } from 'commander';
import { issueOpsToken, setRole, userIdOfLogin } from '../auth/service.ts';
import { isBusinessDate } from '../calendar/businessDate.ts';
import { appConfig } from '../config/config.ts';
import { createContext, type AppContext } from '../context.ts';
import { connectMongoose, disconnectMongoose } from '../db/connection.ts';
import { runningDatabaseUri } from '../db/database.ts';
import { accrualStatus, fundDayView, publishYield } from '../fund/service.ts';
import { refreshCalendar } from '../holidays/service.ts';
import { answerFor } from '../http/answers.ts';
import { newId } from '../ids.ts';
import { parsePositiveYuan } from '../money/fen.ts';
import { parseYieldPer10k } from '../money/yield.ts';
import { registerAnswerRenderer } from '../operations/answers.ts';
import { reconcileJournal } from '../reconciliation/service.ts';
import { fundDailyCsv, fundDailyReport } from '../reports/fundDaily.ts';
import { reportRange } from '../reports/range.ts';
import { reserveDailyCsv, reserveDailyReport } from '../reports/reserveDaily.ts';
import { holderStatement, statementCsv } from '../reports/statement.ts';
import { reserveReport } from '../reserve/service.ts';
import { adjustReserve } from '../transfers/service.ts';
import { accrueWithProgress } from './accrual.ts';
import { printed, Tabular, type OutputFormat } from './output.ts';

interface CliOptions {
  json?: boolean;
  csv?: boolean;
  through?: string;
  key?: string;
  from?: string;
  to?: string;
  lifetimeHours?: number;
}

/**
 * A command's action: connects to the database, runs `run` with the command's arguments and
 * its options (the program's --json among them), prints the answer and disconnects.
 */
function answering(run: (ctx: AppContext, options: CliOptions, ...args: string[]) => Promise<unknown>) {
  return async (...actionArgs: unknown[]) => {
    // Commander calls an action with the arguments, the command's options, and the command.
    const command = actionArgs.at(-1) as Command;
    const options = command.optsWithGlobals<CliOptions>();
    const args = actionArgs.slice(0, -2) as string[];
    // Commander checks conflicts between a command's own options only; --json is the program's.
    if (options.json && options.csv) command.error("error: option '--csv' cannot be used with option '--json'");
    await connectMongoose(await runningDatabaseUri(appConfig().database.dataDir));
    try {
      const ctx = createContext();
      registerAnswerRenderer(answerFor); // reserve-adjust answers as its route does
      await refreshCalendar(ctx);
      const format: OutputFormat = options.json ? 'json' : options.csv ? 'csv' : 'text';
      process.stdout.write(printed(await run(ctx, options, ...args), format));
    } finally {
      await disconnectMongoose();
    }
  };
}

function date(value: string): string {
  if (!isBusinessDate(value)) throw new InvalidArgumentError('expected a yyyy-MM-dd date');
  return value;
}

function lifetimeHours(value: string): number {
  const hours = Number(value);
  if (!Number.isInteger(hours)) throw new InvalidArgumentError('expected a whole number of hours');
  return hours;
}

const fundArgument = () => new Argument('<fund>', 'fund code, e.g. YEB001');
const loginArgument = () => new Argument('<loginId>', "the user's login id");

function addReportCommands(report: Command): void {
  const rangeOptions = (command: Command) =>
    command
      .option('--from <date>', 'first day (yyyy-MM-dd); with --to', date)
      .option('--to <date>', 'last day (yyyy-MM-dd); with --from', date)
      .option('--csv', 'print the CSV the API serves (not with --json)');
  rangeOptions(report.command('fund').description('the fund day by day (default: the 30 days through yesterday)').addArgument(fundArgument())).action(
    answering(async (ctx, options, fundCode: string) => {
      const fundReport = await fundDailyReport(ctx, fundCode, reportRange(ctx, options.from, options.to));
      return new Tabular(fundReport, fundDailyCsv(fundReport));
    }),
  );
  rangeOptions(report.command('reserve').description('the liquidity reserve at the end of each day')).action(
    answering(async (ctx, options) => {
      const reserve = await reserveDailyReport(ctx, reportRange(ctx, options.from, options.to));
      return new Tabular(reserve, reserveDailyCsv(reserve));
    }),
  );
  rangeOptions(report.command('statement').description("a holder's statement").addArgument(loginArgument())).action(
    answering(async (ctx, options, loginId: string) => {
      const statement = await holderStatement(ctx, await userIdOfLogin(loginId), reportRange(ctx, options.from, options.to));
      return new Tabular(statement, statementCsv(statement));
    }),
  );
}

/** The ops CLI's commands; nothing runs until a command's action does (so --help needs no database). */
export function opsProgram(): Command {
  const program = new Command('npm run ops --')
    .description("Ops tasks on the running service's database: roles, 万份收益, accrual, the reserve, reports.")
    .option('--json', 'print the answer as JSON, alone on stdout (for scripts)')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      '\nThe database: MONGODB_URI, or the embedded database of the service running on MONEYFUND_DATA_DIR (default: data).\nLogs go to stderr (LOG_LEVEL, default warn). Exit codes: 0 done, 1 refused or failed, 2 usage error.',
    );
  program.command('grant-ops').description('give a user the ops role').addArgument(loginArgument()).action(answering((_ctx, _options, loginId: string) => setRole(loginId, 'ops', true)));
  program.command('revoke-ops').description('take the ops role away').addArgument(loginArgument()).action(answering((_ctx, _options, loginId: string) => setRole(loginId, 'ops', false)));
  program.command('reconcile').description('check the journal: postings sum to zero and every balance equals its postings').action(answering(() => reconcileJournal()));
  program
    .command('publish-yield')
    .description("publish a day's income per 10,000 shares, e.g. YEB001 2024-06-03 0.4123")
    .addArgument(fundArgument())
    .addArgument(new Argument('<date>', 'the day (yyyy-MM-dd)').argParser(date))
    .addArgument(new Argument('<yieldPer10k>', '万份收益 in yuan, at most 4 decimals'))
    .action(
      answering(async (ctx, _options, fundCode: string, day: string, rate: string) =>
        fundDayView(await publishYield(ctx, { fundCode, date: day, yieldPer10k: parseYieldPer10k(rate), publishedBy: 'ops-cli' })),
      ),
    );
  program
    .command('accrue')
    .description('accrue every due day in order, drawing a progress bar (days) on stderr')
    .addArgument(fundArgument())
    .option('--through <date>', 'last day to accrue (default: yesterday)', date)
    .action(
      answering((ctx, options, fundCode: string) => {
        const yesterday = ctx.calendar.addCalendarDays(ctx.calendar.businessDateOf(ctx.clock.now()), -1);
        return accrueWithProgress(ctx, fundCode, options.through ?? yesterday);
      }),
    );
  program.command('accrual-status').description('the last accrued day, the next one, and what blocks it').addArgument(fundArgument()).action(answering((ctx, _options, fundCode: string) => accrualStatus(ctx, fundCode)));
  program.command('reserve').description('the liquidity reserve: size, available, outstanding by settle date').action(answering((ctx) => reserveReport(ctx)));
  program
    .command('reserve-adjust')
    .description('fund or shrink the liquidity reserve')
    .addArgument(new Argument('<direction>').choices(['increase', 'decrease']))
    .addArgument(new Argument('<yuan>', 'amount, e.g. 1000000.00'))
    .option('--key <idempotencyKey>', 'a replay with the same key moves nothing (default: a new key)')
    .action(
      answering(async (ctx, options, direction: string, amount: string) => {
        const caller = { userId: 'ops-cli', idempotencyKey: options.key ?? newId('cli') };
        const answer = await adjustReserve(ctx, caller, { amountFen: parsePositiveYuan(amount), direction: direction as 'increase' | 'decrease' });
        if (answer.status >= 400) throw new Error((answer.body as { detail: string }).detail);
        return { ...(answer.body as object), reserve: await reserveReport(ctx) };
      }),
    );
  addReportCommands(program.command('report').description('fund, reserve and statement reports, as text, JSON (--json) or CSV (--csv)'));
  program
    .command('ops-token')
    .description('a bearer token for an ops user (scripts, the dashboard)')
    .addArgument(loginArgument())
    .option('--lifetime-hours <hours>', 'how long it is valid: 1 to 744 (default: security.tokenLifetimeMs, 24 h)', lifetimeHours)
    .action(answering((ctx, options, loginId: string) => issueOpsToken(ctx, loginId, options.lifetimeHours)));
  return program;
}
