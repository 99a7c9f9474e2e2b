/**
 * `npm run ops -- <command>`: the ops CLI (`npm run ops -- --help` lists the commands,
 * `npm run ops -- <command> --help` explains one). It talks to the database of the running
 * service, found as the service finds it: MONGODB_URI, or the embedded database the service
 * runs in its data folder (MONEYFUND_DATA_DIR).
 *
 * stdout carries the answer alone: text for people, or with --json the JSON the API would
 * answer (reports: --csv for their CSV). Logs go to stderr, warnings and errors only unless
 * LOG_LEVEL says otherwise: info lines are the service's chatter, not an ops person's answer.
 * Exit codes: 0 done, 1 refused or failed (the reason on stderr), 2 a usage error.
 */
import { CommanderError } from 'commander';
import { opsProgram } from './cli/program.ts';
import { log, sendLogsTo } from './log.ts';

sendLogsTo(process.stderr);
if (process.env.LOG_LEVEL === undefined) log.level = 'warn';
try {
  await opsProgram().parseAsync();
} catch (error) {
  // Commander has printed its usage errors (and --help) itself, with their exit code.
  if (error instanceof CommanderError) process.exitCode = error.exitCode === 0 ? 0 : 2;
  else {
    console.error(`ops: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
