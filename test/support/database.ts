import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { connectMongoose, disconnectMongoose, ensureIndexes } from '../../src/db/connection.ts';

/** The server the tests talk to: the runner's embedded FerretDB, or MONGODB_URI. */
export function testDatabaseUri(): string {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set: run the tests with `npm test`');
  return uri;
}

/** The embedded stack's PostgreSQL, for the tests that prove the harness's fixes. */
export function embeddedPostgresPort(): number | undefined {
  const port = Number(process.env.MONEYFUND_TEST_POSTGRES_PORT);
  return port > 0 ? port : undefined;
}

export async function withPostgres<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: '127.0.0.1', port: embeddedPostgresPort(), user: 'postgres', database: 'ferretdb' });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Tests isolate themselves by unique ids, not by dropping what others wrote. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function connectTestMongoose(): Promise<void> {
  await connectMongoose(testDatabaseUri());
  await ensureIndexes();
}

export { disconnectMongoose };
