import path from 'node:path';
import { log } from '../log.ts';
import { readTextIfExists } from './embedded/processes.ts';
import { liveStackUri, startEmbeddedStack, uriFile } from './embedded/stack.ts';

export interface Database {
  uri: string;
  stop(): Promise<void>;
}

/**
 * MONGODB_URI names the server (MongoDB in production). Without it the service starts the
 * embedded FerretDB-on-PostgreSQL stack, keeping its data in the configured folder.
 */
export async function openDatabase(dataDir: string): Promise<Database> {
  const uri = process.env.MONGODB_URI;
  if (uri) {
    log.info({ engine: 'MongoDB server from MONGODB_URI', uri: redactPassword(uri) }, 'database');
    return { uri, stop: async () => undefined };
  }
  const joined = await liveStackUri(path.resolve(dataDir));
  if (joined) {
    // Another process (the service) runs the folder's database: starting one would take it away.
    log.info({ engine: 'FerretDB on PostgreSQL (embedded, run by another process)', uri: joined }, 'database');
    return { uri: joined, stop: async () => undefined };
  }
  return startEmbeddedStack({ dataDir: path.resolve(dataDir), databaseName: 'moneyfund' });
}

function redactPassword(uri: string): string {
  return uri.replace(/\/\/([^:/@]+):[^@]+@/, '//$1:***@');
}

/**
 * For tools that run beside the service (the ops CLI): MONGODB_URI, or the URI the running
 * service's embedded database left in its data folder.
 */
export async function runningDatabaseUri(dataDir: string): Promise<string> {
  const uri = process.env.MONGODB_URI ?? (await readTextIfExists(uriFile(path.resolve(dataDir))))?.trim();
  if (!uri) {
    throw new Error(`No database to talk to: start the service (npm start) or set MONGODB_URI (looked in ${path.resolve(dataDir)})`);
  }
  return uri;
}
