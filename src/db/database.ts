import path from 'node:path';
import { log } from '../log.ts';
import { startEmbeddedStack } from './embedded/stack.ts';

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
  return startEmbeddedStack({ dataDir: path.resolve(dataDir), databaseName: 'moneyfund' });
}

function redactPassword(uri: string): string {
  return uri.replace(/\/\/([^:/@]+):[^@]+@/, '//$1:***@');
}
