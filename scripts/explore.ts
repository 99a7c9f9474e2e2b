/**
 * `npm run explore -- [--seeds 50] [--first 1]`: runs the fault-injection explorer
 * (scripts/explorer.ts) seed after seed on a throw-away embedded database (or MONGODB_URI),
 * and stops at the first seed whose books do not hold, printing its trace. The same seed
 * replays the same faults.
 */
import { parseArgs } from 'node:util';
import { connectMongoose, disconnectMongoose, ensureIndexes } from '../src/db/connection.ts';
import { startEmbeddedStack } from '../src/db/embedded/stack.ts';
import { log } from '../src/log.ts';
import { createWorld, exploreSeed } from './explorer.ts';

const { values } = parseArgs({ options: { seeds: { type: 'string', default: '50' }, first: { type: 'string', default: '1' } } });
const seeds = Number(values.seeds);
const first = Number(values.first);
if (!Number.isInteger(seeds) || seeds < 1 || !Number.isInteger(first)) throw new Error('--seeds and --first take whole numbers');
// Each injected crash logs an error line: the explorer's own lines are what matter here.
if (!process.env.LOG_LEVEL) log.level = 'silent';

const stack = process.env.MONGODB_URI ? undefined : await startEmbeddedStack({ databaseName: 'moneyfund_explore' });
// The database belongs to this process: stopped with it, however it is stopped.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stack?.stop().finally(() => process.exit(130)));
let failed = 0;
try {
  await connectMongoose(process.env.MONGODB_URI ?? stack!.uri);
  await ensureIndexes();
  const world = await createWorld();
  const startedMs = Date.now();
  for (let seed = first; seed < first + seeds; seed++) {
    const result = await exploreSeed(world, seed);
    if (result.failures.length === 0) {
      process.stdout.write(`explore: seed ${seed} ok (${result.trace.filter((line) => / (crash|stall) at /.test(line)).length} faults)\n`);
      continue;
    }
    failed++;
    process.stdout.write(`explore: seed ${seed} FAILED\n${result.failures.map((line) => `  ${line}`).join('\n')}\ntrace:\n${result.trace.map((line) => `  ${line}`).join('\n')}\n`);
    break;
  }
  process.stdout.write(`explore: ${failed === 0 ? seeds : 'stopped'}; ${failed} failed seed(s) in ${Math.round((Date.now() - startedMs) / 1000)} s\n`);
} finally {
  await disconnectMongoose();
  await stack?.stop();
}
process.exit(failed === 0 ? 0 : 1);
