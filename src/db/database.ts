import path from 'node:path';
import { log } from '../log.ts';
import { liveStackUri, startEmbeddedStack } from './embedded/stack.ts';

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
 * For tools that run beside the service (the ops CLI), found as the service finds its
 * database: MONGODB_URI, or the embedded database that a live service runs on the data
 * folder (a stack whose owner died is stopped by the next start, not used).
 */
export async function runningDatabaseUri(dataDir: string): Promise<string> {
  const uri = process.env.MONGODB_URI ?? (await liveStackUri(path.resolve(dataDir)));
  if (!uri) {
    throw new Error(`No database to talk to: no service runs on ${path.resolve(dataDir)}; start it (npm start), or give its MONEYFUND_DATA_DIR or MONGODB_URI`);
  }
  return uri;
}
