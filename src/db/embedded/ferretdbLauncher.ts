import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, open, readFile, rename, writeFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { log } from '../../log.ts';
import { PROJECT_ROOT } from '../../projectRoot.ts';
import { freePort, isAlive, readTextIfExists, run, terminate, waitForPort } from './processes.ts';

const LAUNCHER_DIR = path.join(PROJECT_ROOT, 'tools', 'ferretdb');
const LAUNCHER_SOURCES = ['go.mod', 'go.sum', 'main.go'];
const LAUNCHER_BINARY = path.join(LAUNCHER_DIR, 'bin', 'ferretdb');
const SOURCE_HASH_FILE = path.join(LAUNCHER_DIR, 'bin', 'source-hash');

/** Builds tools/ferretdb with `go build` unless the binary was built from the same sources. */
export async function ensureLauncherBuilt(): Promise<string> {
  const sourceHash = await hashSources();
  const builtHash = (await readTextIfExists(SOURCE_HASH_FILE))?.trim();
  const binaryExists = await access(LAUNCHER_BINARY).then(() => true, () => false);
  if (builtHash === sourceHash && binaryExists) return LAUNCHER_BINARY;
  await requireGo();
  log.info({ dir: LAUNCHER_DIR }, 'building the FerretDB launcher (the first build takes a few minutes)');
  await mkdir(path.dirname(LAUNCHER_BINARY), { recursive: true });
  // Build to a private name and rename: a concurrent start never sees half a binary.
  const partial = `${LAUNCHER_BINARY}.${process.pid}.partial`;
  await run('go', ['build', '-buildvcs=false', '-o', partial, '.'], { cwd: LAUNCHER_DIR });
  await rename(partial, LAUNCHER_BINARY);
  await writeFile(SOURCE_HASH_FILE, `${sourceHash}\n`);
  return LAUNCHER_BINARY;
}

async function hashSources(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of LAUNCHER_SOURCES) hash.update(await readFile(path.join(LAUNCHER_DIR, file)));
  return hash.digest('hex');
}

async function requireGo(): Promise<void> {
  try {
    await run('go', ['version']);
  } catch {
    throw new Error(
      'Go is needed to build the embedded database (FerretDB) but `go` was not found on PATH. ' +
        'Install Go 1.22 or newer (https://go.dev/doc/install), or set MONGODB_URI to use a MongoDB server.',
    );
  }
}

export interface FerretDbOptions {
  dataDir: string;
  postgresPort: number;
  /** Above processes × maxPoolSize × (statements per update command + 1): see architecture.md. */
  poolMaxConns: number;
}

/**
 * One FerretDB process. Its output goes to a file (it logs an error for every refused write
 * conflict, and a pipe nobody drains would stall it); its PID is kept beside the data so a
 * start after a crash can stop the one left behind.
 */
export class FerretDbProcess {
  port = 0;
  private pid?: number;
  private readonly pidFile: string;
  private readonly logFile: string;

  constructor(private readonly options: FerretDbOptions) {
    this.pidFile = path.join(options.dataDir, 'ferretdb.pid');
    this.logFile = path.join(options.dataDir, 'ferretdb.log');
  }

  async start(): Promise<void> {
    const binary = await ensureLauncherBuilt();
    await this.stopLeftover();
    this.port = await freePort();
    const postgresUrl =
      `postgres://postgres@127.0.0.1:${this.options.postgresPort}/ferretdb` +
      `?pool_max_conns=${this.options.poolMaxConns}`;
    const logHandle = await open(this.logFile, 'a');
    const child = spawn(binary, ['-listen', `127.0.0.1:${this.port}`, '-postgresql-url', postgresUrl], {
      stdio: ['ignore', logHandle.fd, logHandle.fd],
    });
    await logHandle.close();
    let exited = false;
    child.on('exit', () => (exited = true));
    this.pid = child.pid;
    await writeFile(this.pidFile, `${child.pid}\n`);
    await waitForPort(this.port, 30_000, () => !exited).catch(async (error: Error) => {
      const tail = (await readTextIfExists(this.logFile))?.slice(-2000) ?? '';
      throw new Error(`FerretDB did not start: ${error.message}\n${tail}`);
    });
  }

  async stop(): Promise<void> {
    if (this.pid) await terminate(this.pid);
    await unlink(this.pidFile).catch(() => undefined);
  }

  private async stopLeftover(): Promise<void> {
    const pid = Number((await readTextIfExists(this.pidFile))?.trim());
    if (!pid || !isAlive(pid) || !(await isFerretDbLauncher(pid))) return;
    log.warn({ pid }, 'stopping a FerretDB launcher left running on this data folder');
    await terminate(pid);
  }
}

/** A recycled PID must not get us to kill an unrelated process. */
async function isFerretDbLauncher(pid: number): Promise<boolean> {
  const commandLine = await readTextIfExists(`/proc/${pid}/cmdline`);
  return commandLine === undefined || commandLine.includes('ferretdb');
}
