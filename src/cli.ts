/**
 * `npm run ops -- <command>`: the ops CLI. It talks to the database of the running service
 * (MONGODB_URI, or the embedded one `npm start` left its address for).
 *
 *   grant-ops <loginId>    give a user the ops role
 *   revoke-ops <loginId>   take it away
 *   reconcile              check the journal: postings sum to zero, balances equal postings
 */
import { parseArgs } from 'node:util';
import { setRole } from './auth/service.ts';
import { appConfig } from './config/config.ts';
import { connectMongoose, disconnectMongoose } from './db/connection.ts';
import { runningDatabaseUri } from './db/database.ts';
import { reconcileJournal } from './operations/reconciliation.ts';

const COMMANDS: Record<string, (args: string[]) => Promise<unknown>> = {
  'grant-ops': ([loginId]) => setRole(required(loginId, 'loginId'), 'ops', true),
  'revoke-ops': ([loginId]) => setRole(required(loginId, 'loginId'), 'ops', false),
  reconcile: () => reconcileJournal(),
};

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`missing <${name}>`);
  return value;
}

async function main(): Promise<number> {
  const { positionals } = parseArgs({ allowPositionals: true });
  const [command, ...args] = positionals;
  const run = command ? COMMANDS[command] : undefined;
  if (!run) {
    console.error(`usage: npm run ops -- <${Object.keys(COMMANDS).join(' | ')}> [arguments]`);
    return 2;
  }
  await connectMongoose(await runningDatabaseUri(appConfig().database.dataDir));
  try {
    console.log(JSON.stringify(await run(args), null, 2));
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
