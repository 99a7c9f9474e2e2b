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

export interface ProcessOptions {
  /** Node's arguments, the script's among them. */
  nodeArgs?: string[];
  /** Over the test's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
}

/** Starts the API (with its jobs) and waits until /readyz answers 200; `nodeConfig` goes over config/test.json. */
export async function startServerProcess(nodeConfig: object = {}, options: ProcessOptions = {}): Promise<ServerProcess> {
  return untilReady(await spawnServerProcess(nodeConfig, options));
}

/** Starts the process without waiting for it: for a start that must fail. */
export async function spawnServerProcess(nodeConfig: object = {}, options: ProcessOptions = {}): Promise<ServerProcess> {
  const env = { MONGODB_URI: testDatabaseUri(), NODE_CONFIG: JSON.stringify(nodeConfig), ...options.env };
  return spawnProcess(process.execPath, options.nodeArgs ?? ['--import', 'tsx', 'src/server.ts'], env);
}

/**
 * Runs `command` in the checkout as a supervisor would (npm start, node dist/...), on a free
 * PORT with info logs, and waits until /readyz answers 200. `env` goes over this process's
 * environment; a variable set to undefined is left out.
 */
export async function startProcess(command: string, args: string[], env: Record<string, string | undefined>, readyWithinMs = 120_000): Promise<ServerProcess> {
  return untilReady(await spawnProcess(command, args, env), readyWithinMs);
}

async function spawnProcess(command: string, args: string[], overrides: Record<string, string | undefined>): Promise<ServerProcess> {
  const port = await freePort();
  const logFile = path.join(os.tmpdir(), `${uniqueId('moneyfund-server')}.log`);
  const handle = await open(logFile, 'a');
  const env: Record<string, string | undefined> = { ...process.env, PORT: String(port), LOG_LEVEL: 'info', ...overrides };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', handle.fd, handle.fd] });
  await handle.close();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, baseUrl: `http://127.0.0.1:${port}`, logFile, exited };
}

async function untilReady(server: ServerProcess, readyWithinMs = 120_000): Promise<ServerProcess> {
  const deadline = Date.now() + readyWithinMs;
  while (!(await fetch(`${server.baseUrl}/readyz`).then((response) => response.ok, () => false))) {
    assert.equal(server.child.exitCode, null, `the service exited during start-up; see ${server.logFile}`);
    assert.ok(Date.now() < deadline, `the service was not ready within ${readyWithinMs} ms; see ${server.logFile}`);
    await sleep(200);
  }
  return server;
}

/** The JSON lines the process logged so far (other output, such as a stack trace, is skipped). */
export async function logLinesOf(server: ServerProcess): Promise<Record<string, unknown>[]> {
  const lines = (await readFile(server.logFile, 'utf8')).split('\n').filter((line) => line.startsWith('{'));
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}
