import { execFile, spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run ops -- <args>` as a child process with `env`, `stdin` piped in (a login password for --password-stdin). */
export function runOps(env: NodeJS.ProcessEnv, args: string[], stdin = ''): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(stdin);
  });
}

/** `npm run ops -- <args>` left running (events tail): the test reads its output and signals it. */
export function spawnOps(env: NodeJS.ProcessEnv, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env });
}

/** Resolves with what `stream` has printed once it matches `pattern`; rejects after `timeoutMs`. */
export function printedUntil(stream: Readable, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => done(new Error(`not printed within ${timeoutMs} ms: ${pattern}; printed: ${text}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (pattern.test(text)) done();
    };
    const done = (error?: Error) => {
      clearTimeout(timer);
      stream.off('data', onData);
      if (error) reject(error);
      else resolve(text);
    };
    stream.on('data', onData);
  });
}
