import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { appConfig } from '../../config/config.ts';
import { log } from '../../log.ts';
import { FerretDbProcess } from './ferretdbLauncher.ts';
import { isAlive, readTextIfExists } from './processes.ts';
import { PostgresCluster } from './postgresCluster.ts';

/**
 * FerretDB's pool holds every connection its clients' update commands can take at once
 * (architecture.md, defect 3): each process's driver pool, each command a connection per
 * statement plus one (config `database`).
 */
function ferretDbPoolConnsMax(): number {
  const { processesMax, driverPoolSizeMax, updateStatementsMax } = appConfig().database;
  return processesMax * driverPoolSizeMax * (updateStatementsMax + 1);
}

export interface EmbeddedStack {
  uri: string;
  dataDir: string;
  postgresPort: number;
  stop(): Promise<void>;
}

export interface EmbeddedStackOptions {
  /** Kept across restarts (`npm start`); a throw-away folder under the temp dir when absent. */
  dataDir?: string;
  databaseName: string;
}

/**
 * PostgreSQL 15 + FerretDB 1.24 with the fixes for FerretDB's defects installed before
 * FerretDB starts. A throw-away stack (no dataDir) skips fsync and deletes itself on stop.
 */
export async function startEmbeddedStack(options: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const throwAway = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'moneyfund-db-')));
  await mkdir(dataDir, { recursive: true });
  await writeFile(ownerFile(dataDir), `${process.pid}\n`);
  const poolMaxConns = ferretDbPoolConnsMax();
  const postgres = new PostgresCluster({ dataDir, durable: !throwAway, maxConnections: poolMaxConns + 20 });
  await postgres.start();
  const ferretdb = new FerretDbProcess({ dataDir, postgresPort: postgres.port, poolMaxConns });
  try {
    await installFerretDbFixes(postgres);
    await ferretdb.start();
  } catch (error) {
    await postgres.stop();
    throw error;
  }
  const uri = `mongodb://127.0.0.1:${ferretdb.port}/${options.databaseName}`;
  // Tools (the ops CLI) find the running service's database here.
  await writeFile(uriFile(dataDir), `${uri}\n`);
  const stop = async () => {
    await unlink(uriFile(dataDir)).catch(() => undefined);
    await unlink(ownerFile(dataDir)).catch(() => undefined);
    await ferretdb.stop();
    await postgres.stop();
    if (throwAway) await rm(dataDir, { recursive: true, force: true });
  };
  log.info({ engine: 'FerretDB 1.24.2 on PostgreSQL 15 (embedded)', dataDir, uri }, 'database started');
  return { uri, dataDir, postgresPort: postgres.port, stop };
}

async function installFerretDbFixes(postgres: PostgresCluster): Promise<void> {
  const admin = postgres.client('postgres');
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'ferretdb'");
    if (exists.rowCount === 0) await admin.query('CREATE DATABASE ferretdb');
  } finally {
    await admin.end();
  }
  const sql = await readFile(new URL('./ferretdbFixes.sql', import.meta.url), 'utf8');
  const client = postgres.client('ferretdb');
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Where a running embedded stack leaves its MongoDB URI. */
export function uriFile(dataDir: string): string {
  return path.join(dataDir, 'mongodb-uri');
}

/** The process that started the folder's stack, while it runs. */
function ownerFile(dataDir: string): string {
  return path.join(dataDir, 'stack-owner.pid');
}

/**
 * The URI of the stack another live process runs on this folder, if one does: a worker or a
 * second API started beside the service joins it. (A stack left behind by a killed owner is
 * stopped and started afresh by startEmbeddedStack instead.)
 */
export async function liveStackUri(dataDir: string): Promise<string | undefined> {
  const ownerPid = Number((await readTextIfExists(ownerFile(dataDir)))?.trim());
  const uri = (await readTextIfExists(uriFile(dataDir)))?.trim();
  return ownerPid && ownerPid !== process.pid && isAlive(ownerPid) && uri ? uri : undefined;
}
