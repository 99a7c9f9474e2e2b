/**
 * `npm test`: starts a throw-away embedded database unless MONGODB_URI names a server,
 * runs every test file (or those given as arguments) with Mocha, stops the database and
 * prints one closing line `tests: N passed, N failed, N skipped`.
 *
 * The database belongs to this process, never to a process a test kills.
 */
import Mocha from 'mocha';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedStack, type EmbeddedStack } from '../src/db/embedded/stack.ts';
import { connectTestMongoose, disconnectMongoose } from './support/database.ts';

process.env.NODE_ENV ??= 'test';
const testDir = path.dirname(fileURLToPath(import.meta.url));

async function testFiles(args: string[]): Promise<string[]> {
  if (args.length > 0) return args.map((file) => path.resolve(file));
  const entries = await readdir(testDir, { recursive: true });
  // *.final.test.ts check what the whole suite left behind, so they run last.
  const isFinal = (entry: string) => entry.endsWith('.final.test.ts');
  const tests = entries.filter((entry) => entry.endsWith('.test.ts')).sort();
  return [...tests.filter((entry) => !isFinal(entry)), ...tests.filter(isFinal)].map((entry) => path.join(testDir, entry));
}

async function startDatabase(): Promise<EmbeddedStack | undefined> {
  if (process.env.MONGODB_URI) return undefined;
  const stack = await startEmbeddedStack({ databaseName: 'moneyfund_test' });
  process.env.MONGODB_URI = stack.uri;
  process.env.MONEYFUND_TEST_POSTGRES_PORT = String(stack.postgresPort);
  return stack;
}

async function runMocha(files: string[]): Promise<Mocha.Stats> {
  const mocha = new Mocha({
    timeout: 120_000,
    reporter: 'spec',
    grep: process.env.TEST_GREP,
    // One Mongoose connection for the whole run; models are registered once the files load.
    rootHooks: { beforeAll: connectTestMongoose, afterAll: disconnectMongoose },
  });
  for (const file of files) mocha.addFile(file);
  await mocha.loadFilesAsync();
  return new Promise((resolve) => {
    const runner = mocha.run(() => resolve(runner.stats!));
  });
}

const stack = await startDatabase();
const stopAndExit = async (code: number) => {
  await stack?.stop();
  process.exit(code);
};
process.once('SIGINT', () => void stopAndExit(130));
process.once('SIGTERM', () => void stopAndExit(143));

let exitCode = 1;
try {
  const stats = await runMocha(await testFiles(process.argv.slice(2)));
  console.log(`tests: ${stats.passes} passed, ${stats.failures} failed, ${stats.pending} skipped`);
  exitCode = stats.failures > 0 || stats.passes === 0 ? 1 : 0;
} catch (error) {
  console.error(error);
} finally {
  await stopAndExit(exitCode);
}
