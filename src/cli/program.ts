/** The ops CLI's commands, options and help, on commander; `src/cli.ts` runs them. */
import { readFile } from 'node:fs/promises';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { AUDIT_ACTIONS, type AuditAction } from '../audit/model.ts';
import { audited, cliActor, listAudit, reserveAdjustmentAudit, type Actor, type AuditResult } from '../audit/service.ts';
import { issueOpsToken, provenUser, setRole, userIdOfLogin } from '../auth/service.ts';
import { isBusinessDate } from '../calendar/businessDate.ts';
import { appConfig } from '../config/config.ts';
import { createContext, type AppContext } from '../context.ts';
import { connectMongoose, disconnectMongoose } from '../db/connection.ts';

import { runningDatabaseUri } from '../db/database.ts';
import { DomainError } from '../errors.ts';
import { csvLines, IMPORT_ROWS_MAX, importYields } from '../fund/import.ts';
import { accrualStatus, confirmYield, fundDayView, isPlausible, pendingYields, publishDay, requireFund, setFundStart } from '../fund/service.ts';
import { refreshCalendar } from '../holidays/service.ts';
import { answerFor } from '../http/answers.ts';
import { newId } from '../ids.ts';
import { formatYuan, parsePositiveYuan } from '../money/fen.ts';
import { formatYieldPer10k, parseYieldPer10k } from '../money/yield.ts';
import { registerAnswerRenderer } from '../operations/answers.ts';
import { reconcileJournal } from '../reconciliation/service.ts';
import { fundDailyCsv, fundDailyReport } from '../reports/fundDaily.ts';
import { reportRange } from '../reports/range.ts';
import { reserveDailyCsv, reserveDailyReport } from '../reports/reserveDaily.ts';
import { holderStatement, statementCsv } from '../reports/statement.ts';
import { reserveReport } from '../reserve/service.ts';
import { adjustReserve } from '../transfers/service.ts';
import { CLOCK_MOVE_DAYS_MAX, clockMoveRequest } from '../sandbox/clockMove.ts';
import { moveTestClock, sandboxTestClock, testClockIfSandbox, testClockView } from '../sandbox/service.ts';
import { sandboxConfig } from '../sandbox/start.ts';
import type { TestClock } from '../calendar/clock.ts';
import { parseWith } from '../http/validate.ts';
import { webhookEndpointRequest, webhookReplayRequest } from '../webhooks/routes.ts';
import { createWebhookEndpoint, deleteWebhookEndpoint, listWebhookDeliveries, listWebhookEndpoints, replayWebhookEndpoint, setWebhookEndpointStatus } from '../webhooks/service.ts';
import { accrueWithProgress } from './accrual.ts';
import { eventId } from '../events/feed.ts';
import { eventIdOption, eventTypesOption, tailEvents, tailStart, type TailOptions } from './eventsTail.ts';
import { printed, Tabular, type OutputFormat } from './output.ts';
import { planWithProgress, syntheticFlowsCsv } from './reservePlan.ts';
import { FLOW_CSV_AMOUNT_COLUMNS, importFlowCsv } from '../planning/csv.ts';
import { SYNTHETIC_DAYS_MAX } from '../planning/synthetic.ts';

interface CliOptions {
  as?: string;
  json?: boolean;
  fund?: string;
  dryRun?: boolean;
  actor?: string;
  action?: AuditAction;
  limit?: number;
  cursor?: string;
  csv?: boolean;
  bom?: boolean;
  days?: number;
  passwordStdin?: boolean;
  types?: string;
  description?: string;
  through?: string;
  key?: string;
  from?: string;
  to?: string;
  lifetimeHours?: number;
  failed?: boolean;
  serviceLevel?: string;
  scenario?: string;
}

/**
 * A command's action: connects to the database, runs `run` with the command's arguments and
 * its options (the program's --json among them), prints the answer and disconnects.
 */
function answering(run: (ctx: AppContext, options: CliOptions, ...args: string[]) => Promise<unknown>, where: { sandbox?: boolean } = {}) {
  return async (...actionArgs: unknown[]) => {
    // Commander calls an action with the arguments, the command's options, and the command.
    const command = actionArgs.at(-1) as Command;
    const options = command.optsWithGlobals<CliOptions>();
    const args = actionArgs.slice(0, -2) as string[];
    // Commander checks conflicts between a command's own options only; --json is the program's.
    if (options.json && options.csv) command.error("error: option '--csv' cannot be used with option '--json'");
    // The sandbox's commands run on its data folder, and every command on a sandbox's book on its test clock.
    const config = where.sandbox ? sandboxConfig(appConfig()) : appConfig();
    await connectMongoose(await runningDatabaseUri(config.database.dataDir));
    try {
      const clock = where.sandbox ? await sandboxTestClock() : await testClockIfSandbox();
      const ctx = createContext({ config, ...(clock ? { clock } : {}) });
      registerAnswerRenderer(answerFor); // reserve-adjust answers as its route does
      await refreshCalendar(ctx);
      const format: OutputFormat = options.json ? 'json' : options.csv ? 'csv' : 'text';
      process.stdout.write(printed(await run(ctx, options, ...args), format, { bom: options.bom }));
    } finally {
      await disconnectMongoose();
    }
  };
}

function date(value: string): string {
  if (!isBusinessDate(value)) throw new InvalidArgumentError('expected a yyyy-MM-dd date');
  return value;
}

/** A whole number from `min` to `max`, as an option's parser. */
const wholeNumber = (min: number, max: number) => (value: string) => {
  const number = Number(value);
  if (!/^\d{1,9}$/.test(value) || number < min || number > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
  return number;
};

function pageSize(value: string): number {
  const size = Number(value);
  if (!Number.isInteger(size) || size < 1 || size > 100) throw new InvalidArgumentError('expected a whole number from 1 to 100');
  return size;
}

/**
 * Runs a command's action with its audit record, as the person --as names (docs/ops-audit.md).
 * `personRequired: false` for what the holder of the database may do without an ops login.
 */
async function auditedCli<T>(
  ctx: AppContext,
  options: CliOptions,
  entry: { action: AuditAction; target: string; request?: Record<string, unknown>; personRequired: boolean; proofRequired?: boolean },
  run: (actor: Actor) => Promise<T>,
  resultOf?: (value: T) => AuditResult,
): Promise<T> {
  const actor = await actingPerson(ctx, options, entry.personRequired);
  return audited(
    ctx,
    { actor, action: entry.action, target: entry.target, request: entry.request },
    () => {
      if (entry.proofRequired && !actor.proven) throw unproven();
      return run(actor);
    },
    resultOf,
  );
}

/** The person --as (or `login`) names, proven by the login password on stdin when --password-stdin asks for it. */
function actingPerson(ctx: AppContext, options: CliOptions, personRequired: boolean, login = options.as): Promise<Actor> {
  const proof = options.passwordStdin ? async (loginId: string) => void (await provenUser(ctx, loginId, await passwordFromStdin())) : undefined;
  return cliActor(login, personRequired, proof);
}

async function passwordFromStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text.replace(/\r?\n$/, '');
}

const tokenUnproven = (loginId: string) =>
  new DomainError('forbidden', `A token is ${loginId}'s credential: give their login password with --password-stdin`, {}, { key: 'forbidden_token_unproven', values: { loginId } });

/**
 * The two-person rule counts people, and --as alone is a claim anyone with the database can
 * make: a 万份收益 outside the band, and its confirmation, need the person proven.
 */
const unproven = () =>
  new DomainError(
    'forbidden',
    'A 万份收益 outside the band and its confirmation count toward the two-person rule: prove who --as names with --password-stdin (the login password on stdin), or use the API signed in',
    {},
    { key: 'forbidden_unproven' },
  );

/** A 万份收益 argument, and the request the audit keeps of it. */
function yieldArgument(rate: string) {
  const yieldPer10k = parseYieldPer10k(rate);
  return { yieldPer10k, request: { yieldPer10k: formatYieldPer10k(yieldPer10k) } };
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
      .option('--csv', 'print the CSV the API serves (not with --json)')
      .option('--bom', 'start the CSV with a UTF-8 byte order mark, for Excel');
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

function addYieldCommands(yields: Command): void {
  yields
    .command('import')
    .description(`publish a CSV file of 万份收益 (header date,yieldPer10k; at most ${IMPORT_ROWS_MAX} rows), or see what it would do`)
    .addArgument(new Argument('<file>', 'the CSV file, e.g. history.csv'))
    .requiredOption('--fund <fund>', 'fund code, e.g. YEB001')
    .option('--dry-run', 'print what each row would do, and write nothing')
    .action(
      answering(async (ctx, options, file: string) => {
        const lines = csvLines(await readFile(file, 'utf8'));
        const run = (publishedBy: string, dryRun: boolean) => importYields(ctx, { fundCode: options.fund!, lines, dryRun, publishedBy });
        const imported = options.dryRun
          ? await run((await actingPerson(ctx, options, true)).id, true)
          : await auditedCli(
              ctx,
              options,
              { action: 'yield.import', target: options.fund!, request: { file, lines: lines.length }, personRequired: true },
              async (actor) => {
                // Rows outside the band would wait for a second person: this one must be proven.
                if (!actor.proven && (await run(actor.id, true)).counts.pending > 0) throw unproven();
                return run(actor.id, false);
              },
              (answer) => ({ result: answer.counts }),
            );
        const rows = imported.rows.map(({ reason, ...row }) => ({ ...row, reason: reason?.detail ?? null }));
        return new Tabular(imported, { filename: 'yield-import.csv', columns: ['line', 'date', 'yieldPer10k', 'change', 'status', 'reason'], rows });
      }),
    );
  yields
    .command('pending')
    .description('the days whose 万份收益 waits for a second ops user')
    .addArgument(fundArgument())
    .action(answering((ctx, _options, fundCode: string) => pendingYields(ctx, fundCode)));
  yields
    .command('confirm')
    .description('confirm a pending 万份收益, as an ops user other than its publisher (--as)')
    .addArgument(fundArgument())
    .addArgument(new Argument('<date>', 'the day (yyyy-MM-dd)').argParser(date))
    .addArgument(new Argument('<yieldPer10k>', 'the value waiting, as listed by yields pending: another is not confirmed'))
    .action(
      answering(async (ctx, options, fundCode: string, day: string, rate: string) => {
        const { yieldPer10k, request } = yieldArgument(rate);
        const entry = { action: 'yield.confirm' as const, target: `${fundCode} ${day}`, request, personRequired: true, proofRequired: true };
        const confirmed = await auditedCli(ctx, options, entry, (actor) =>
          confirmYield(ctx, { fundCode, date: day, yieldPer10k, confirmedBy: actor.id }),
        );
        return fundDayView(confirmed);
      }),
    );
}

/** The ops CLI's commands; nothing runs until a command's action does (so --help needs no database). */
export function opsProgram(): Command {
  const program = new Command('npm run ops --')
    .description("Ops tasks on the running service's database: roles, 万份收益, accrual, the reserve, reports.")
    .option('--json', 'print the answer as JSON, alone on stdout (for scripts)')
    .option('--as <loginId>', 'the ops user doing this, recorded in the audit (default: the OS user name as a login id)')
    .option('--password-stdin', "prove --as with its login password on stdin: a 万份收益 outside the band and its confirmation need it")
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      '\nThe database: MONGODB_URI, or the embedded database of the service running on MONEYFUND_DATA_DIR (default: data).\nLogs go to stderr (LOG_LEVEL, default warn). Exit codes: 0 done, 1 refused or failed, 2 usage error.',
    );
  for (const [name, description, granted] of [['grant-ops', 'give a user the ops role', true], ['revoke-ops', 'take the ops role away', false]] as const) {
    program
      .command(name)
      .description(description)
      .addArgument(loginArgument())
      .action(
        answering((ctx, options, loginId: string) =>
          auditedCli(ctx, options, { action: granted ? 'role.grant' : 'role.revoke', target: loginId, request: { role: 'ops' }, personRequired: false }, () =>
            setRole(loginId, 'ops', granted),
          ),
        ),
      );
  }
  program.command('reconcile').description('check the journal: postings sum to zero and every balance equals its postings').action(answering(() => reconcileJournal()));
  program
    .command('publish-yield')
    .description("publish a day's income per 10,000 shares, e.g. YEB001 2024-06-03 0.4123")
    .addArgument(fundArgument())
    .addArgument(new Argument('<date>', 'the day (yyyy-MM-dd)').argParser(date))
    .addArgument(new Argument('<yieldPer10k>', '万份收益 in yuan, at most 4 decimals'))
    .action(
      answering(async (ctx, options, fundCode: string, day: string, rate: string) => {
        const { yieldPer10k, request } = yieldArgument(rate);
        const { day: published, change } = await auditedCli(
          ctx,
          options,
          { action: 'yield.publish', target: `${fundCode} ${day}`, request, personRequired: true, proofRequired: !isPlausible(requireFund(ctx, fundCode), yieldPer10k) },
          (actor) => publishDay(ctx, { fundCode, date: day, yieldPer10k, publishedBy: actor.id }),
          (answer) => ({ result: { change: answer.change, status: answer.day.status } }),
        );
        return { ...fundDayView(published), change };
      }),
    );
  addYieldCommands(program.command('yields').description('万份收益 in bulk: import a CSV file, list and confirm pending days'));
  program
    .command('fund-start')
    .description("set a fund's start day (or put it right) until the accrual opens its first day: earlier days are reference")
    .addArgument(fundArgument())
    .addArgument(new Argument('<date>', 'the first day to accrue (yyyy-MM-dd)').argParser(date))
    .action(
      answering((ctx, options, fundCode: string, startDate: string) =>
        auditedCli(ctx, options, { action: 'fund.start', target: fundCode, request: { startDate }, personRequired: true }, () => setFundStart(ctx, fundCode, startDate)),
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
        const through = options.through ?? yesterday;
        return auditedCli(
          ctx,
          options,
          { action: 'accrual.run', target: fundCode, request: { through }, personRequired: false },
          () => accrueWithProgress(ctx, fundCode, through),
          (run) => ({ result: { accrued: run.accrued.length, lastAccruedDate: run.status.lastAccruedDate } }),
        );
      }),
    );
  program.command('accrual-status').description('the last accrued day, the next one, and what blocks it').addArgument(fundArgument()).action(answering((ctx, _options, fundCode: string) => accrualStatus(ctx, fundCode)));
  addReserveCommands(program.command('reserve').description('the liquidity reserve: size, available, outstanding by settle date').action(answering((ctx) => reserveReport(ctx))));
  program
    .command('reserve-adjust')
    .description('fund or shrink the liquidity reserve')
    .addArgument(new Argument('<direction>').choices(['increase', 'decrease']))
    .addArgument(new Argument('<yuan>', 'amount, e.g. 1000000.00'))
    .option('--key <idempotencyKey>', 'a replay with the same key moves nothing (default: a new key)')
    .action(
      answering(async (ctx, options, direction: string, amount: string) => {
        const idempotencyKey = options.key ?? newId('cli');
        const amountFen = parsePositiveYuan(amount);
        const answer = await auditedCli(
          ctx,
          options,
          { action: 'reserve.adjust', target: 'reserve', request: { amount: formatYuan(amountFen), direction, idempotencyKey }, personRequired: true },
          (actor) => adjustReserve(ctx, { userId: actor.id, idempotencyKey }, { amountFen, direction: direction as 'increase' | 'decrease' }),
          reserveAdjustmentAudit,
        );
        if (answer.status >= 400) throw new Error((answer.body as { detail: string }).detail);
        return { ...(answer.body as object), reserve: await reserveReport(ctx) };
      }),
    );
  addReportCommands(program.command('report').description('fund, reserve and statement reports, as text, JSON (--json) or CSV (--csv)'));
  program
    .command('ops-token')
    .description("a bearer token for an ops user (scripts, the dashboard), given that user's login password with --password-stdin")
    .addArgument(loginArgument())
    .option('--lifetime-hours <hours>', 'how long it is valid: 1 to 744 (default: security.tokenLifetimeMs, 24 h)', lifetimeHours)
    .action(
      answering(async (ctx, options, loginId: string) => {
        // A token is the person's credential: the one it is for proves themselves, as a sign-in does.
        const actor = await actingPerson(ctx, options, true, loginId);
        const request = { lifetimeHours: options.lifetimeHours ?? null };
        return audited(
          ctx,
          { actor, action: 'opsToken.issue', target: loginId, request },
          () => {
            if (!actor.proven) throw tokenUnproven(loginId);
            return issueOpsToken(ctx, loginId, options.lifetimeHours);
          },
          // The token itself stays out of the audit.
          (issued) => ({ result: { expiresAt: issued.expiresAt } }),
        );
      }),
    );
  program
    .command('events')
    .description('the event log (docs/events.md)')
    .command('tail')
    .description('print events as they are logged, one line each (--json: one JSON object a line), until Ctrl-C; from the end of the log unless --from or --all')
    .option('--types <types>', 'only these event types, comma-separated', eventTypesOption)
    .addOption(new Option('--from <eventId>', 'start after this event').argParser(eventIdOption).conflicts('all'))
    .option('--all', 'start at the beginning of the log')
    .action(async (options: Omit<TailOptions, 'json'>, command: Command) => {
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      await connectMongoose(await runningDatabaseUri(appConfig().database.dataDir));
      try {
        const from = await tailStart(options);
        // On stderr, so stdout holds the events alone.
        process.stderr.write(`events tail: after ${eventId(from)}; Ctrl-C stops\n`);
        await tailEvents(from, { ...options, json: command.optsWithGlobals<CliOptions>().json }, (text) => process.stdout.write(text), stop.signal);
      } finally {
        await disconnectMongoose();
      }
    });
  program
    .command('audit')
    .description('the ops audit, newest first: who did what, when, and how it ended')
    .option('--actor <who>', 'only what this user did: a login id, a user id, or os:<name>')
    .addOption(new Option('--action <action>', 'only this action').choices(AUDIT_ACTIONS))
    .option('--from <date>', 'entries on this day (Beijing time) or later', date)
    .option('--to <date>', 'entries on this day (Beijing time) or earlier', date)
    .option('--limit <count>', 'entries a page, 1 to 100 (default 20)', pageSize)
    .option('--cursor <cursor>', 'nextCursor of the previous page, with the same filters')
    .action(
      answering(async (ctx, options) => {
        const page = await listAudit(ctx, { actor: options.actor, action: options.action, from: options.from, to: options.to }, options.limit ?? 20, options.cursor);
        if (options.json) return page;
        const rows = page.items.map((item) => ({
          at: item.at,
          actor: item.actor.loginId ?? item.actor.userId,
          via: item.actor.via,
          action: item.action,
          target: item.target,
          outcome: item.outcome,
          code: item.code,
        }));
        return new Tabular(page, { filename: 'ops-audit.csv', columns: ['at', 'actor', 'via', 'action', 'target', 'outcome', 'code'], rows });
      }),
    );
  addWebhookCommands(program.command('webhooks').description('the endpoints events are sent to: register, list, pause, resume, delete, deliveries, replay'));
  addSandboxCommands(program.command('sandbox').description('the sandbox (npm run sandbox), on its data folder: its test clock'));
  return program;
}

function addReserveCommands(reserve: Command): void {
  reserve
    .command('plan')
    .description("forecast the reserve's outflows, replay a scenario through the reserve and recommend its size, drawing a progress bar on stderr (docs/reserve-planning.md)")
    .option('--days <days>', 'days forecast from today (default 14)')
    .option('--service-level <percent>', 'share of instant requests the recommended reserve must serve (default 99.9)')
    .option('--scenario <scenario>', 'history | forecast-upper (default) | run:<percent>%:<hours>h | festival:<MM-dd>:x<multiplier>')
    .action(answering((ctx, options) => planWithProgress(ctx, options)));
  reserve
    .command('import-flows')
    .description(`import daily flow totals by channel for days the service has no history of (header ${['date', ...FLOW_CSV_AMOUNT_COLUMNS].join(',')}[,<channel>_count...])`)
    .addArgument(new Argument('<file>', 'the CSV file, e.g. flows.csv'))
    .action(
      answering(async (ctx, options, file: string) => {
        const csvText = await readFile(file, 'utf8');
        return auditedCli(ctx, options, { action: 'flows.import', target: 'reserve', request: { file }, personRequired: true }, () => importFlowCsv(ctx, csvText), (answer) => ({ result: answer }));
      }),
    );
  reserve
    .command('synthetic-flows')
    .description('print a synthetic flow history with calendar effects, as the CSV import-flows reads (for the sandbox and demos)')
    .requiredOption('--from <date>', 'the first day', date)
    .option('--days <days>', 'how many days', wholeNumber(1, SYNTHETIC_DAYS_MAX), 365)
    .option('--seed <seed>', 'the random seed: the same seed, the same history', wholeNumber(0, 2 ** 31), 1)
    .action((options: { from: string; days: number; seed: number }) => {
      process.stdout.write(syntheticFlowsCsv(createContext({ config: appConfig() }), options));
    });
}

function addWebhookCommands(webhooks: Command): void {
  webhooks
    .command('add')
    .description('register an endpoint; prints its signing secret, once')
    .addArgument(new Argument('<url>', 'where deliveries go, http(s)'))
    .requiredOption('--types <types>', 'comma-separated event types, or * for all')
    .option('--description <text>', 'what the endpoint is for')
    .action(
      answering(async (ctx, options, url: string) => {
        const input = parseWith(webhookEndpointRequest, { url, types: options.types!.split(','), description: options.description });
        return auditedCli(ctx, options, { action: 'webhook.create', target: url, request: { url, types: input.types }, personRequired: true }, (actor) => createWebhookEndpoint(ctx, input, actor.id), (endpoint) => ({
          result: { id: endpoint.id },
        }));
      }),
    );
  webhooks.command('list').description('the registered endpoints, without their secrets').action(answering(() => listWebhookEndpoints()));
  for (const [verb, status] of [['pause', 'paused'], ['resume', 'enabled']] as const) {
    webhooks
      .command(verb)
      .description(verb === 'pause' ? 'send an endpoint nothing until it is resumed' : 'resume a paused endpoint')
      .addArgument(new Argument('<endpointId>', 'the endpoint, as webhooks list shows it'))
      .action(
        answering((ctx, options, id: string) =>
          auditedCli(ctx, options, { action: `webhook.${verb}`, target: id, personRequired: true }, () => setWebhookEndpointStatus(ctx, id, status)),
        ),
      );
  }
  webhooks
    .command('delete')
    .description('delete an endpoint')
    .addArgument(new Argument('<endpointId>', 'the endpoint, as webhooks list shows it'))
    .action(answering((ctx, options, id: string) => auditedCli(ctx, options, { action: 'webhook.delete', target: id, personRequired: true }, () => deleteWebhookEndpoint(id))));
  webhooks
    .command('deliveries')
    .description("an endpoint's delivery log, oldest first: one line per attempt")
    .addArgument(new Argument('<endpointId>', 'the endpoint, as webhooks list shows it'))
    .option('--failed', 'only the attempts given up (replay sends them again)')
    .option('--limit <count>', 'attempts a page, 1 to 100 (default 100)', pageSize)
    .option('--cursor <cursor>', 'next of the previous page')
    .action(
      answering(async (_ctx, options, id: string) => {
        const page = await listWebhookDeliveries(id, options.cursor, options.limit ?? 100, options.failed ? 'failed' : undefined);
        if (options.json) return page;
        const columns = ['at', 'eventId', 'eventType', 'attempt', 'outcome', 'httpStatus', 'error', 'latencyMs'] as const;
        return new Tabular(page, { filename: 'webhook-deliveries.csv', columns: [...columns], rows: page.deliveries });
      }),
    );
  webhooks
    .command('replay')
    .description('send an endpoint every event of its types again, from an event on (its cursor moves back)')
    .addArgument(new Argument('<endpointId>', 'the endpoint, as webhooks list shows it'))
    .requiredOption('--from <eventId>', 'the first event to send again, e.g. from webhooks deliveries --failed')
    .action(
      answering((ctx, options, id: string) => {
        const { from } = parseWith(webhookReplayRequest, { from: options.from });
        return auditedCli(ctx, options, { action: 'webhook.replay', target: id, request: { from }, personRequired: true }, () => replayWebhookEndpoint(ctx, id, from));
      }),
    );
}

function addSandboxCommands(sandbox: Command): void {
  sandbox
    .command('clock')
    .description('where the test clock stands; with --to or --days, move it forward and run what fell due (the running sandbox follows within a second)')
    .option('--to <when>', '"HH:mm" (its next occurrence), next-trading-day (09:00 on it), or a local yyyy-MM-ddTHH:mm')
    .option('--days <days>', `whole days ahead, 1 to ${CLOCK_MOVE_DAYS_MAX}`, Number)
    .action(
      answering(
        async (ctx, options) => {
          const clock = ctx.clock as TestClock;
          if (options.to === undefined && options.days === undefined) return testClockView(ctx, clock);
          const move = parseWith(clockMoveRequest, { to: options.to, days: options.days });
          return auditedCli(ctx, options, { action: 'sandbox.clock', target: 'clock', request: move, personRequired: false }, () => moveTestClock(ctx, clock, move), (moved) => ({
            result: { now: moved.now },
          }));
        },
        { sandbox: true },
      ),
    );
}
