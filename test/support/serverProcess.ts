/**
 * The real service (`src/server.ts`) in a child process on the test database, for tests of
 * what only a process shows: its log output, its signals, its exit code.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/db/embedded/processes.ts';
import { testDatabaseUri, uniqueId } from './database.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Where its stdout and stderr go (pino's JSON lines among them). */
  logFile: string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
}

/** Starts the API (with its jobs) and waits until /readyz answers 200; `nodeConfig` goes over config/test.json. */
export async function startServerProcess(nodeConfig: object = {}): Promise<ServerProcess> {
  return startProcess(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    MONGODB_URI: testDatabaseUri(),
    NODE_CONFIG: JSON.stringify(nodeConfig),
  });
}

/**
 * Runs `command` in the checkout as a supervisor would (npm start, node dist/...), on a free
 * PORT with info logs, and waits until /readyz answers 200. `env` goes over this process's
 * environment; a variable set to undefined is left out.
 */
export async function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, readyWithinMs = 120_000): Promise<ServerProcess> {
  const port = await freePort();
  const logFile = path.join(os.tmpdir(), `${uniqueId('moneyfund-server')}.log`);
  const handle = await open(logFile, 'a');
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', handle.fd, handle.fd],
  });
  await handle.close();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyWithinMs;
  while (!(await fetch(`${baseUrl}/readyz`).then((response) => response.ok, () => false))) {
    assert.equal(child.exitCode, null, `the service exited during start-up; see ${logFile}`);
    assert.ok(Date.now() < deadline, `the service was not ready within ${readyWithinMs} ms; see ${logFile}`);
    await sleep(200);
  }
  return { child, baseUrl, logFile, exited };
}

/** The JSON lines the process logged so far (other output, such as a stack trace, is skipped). */
export async function logLinesOf(server: ServerProcess): Promise<Record<string, unknown>[]> {
  const lines = (await readFile(server.logFile, 'utf8')).split('\n').filter((line) => line.startsWith('{'));
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}
