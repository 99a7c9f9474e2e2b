/**
 * `npm start`: the database (MONGODB_URI, or the embedded stack), the job scheduler and the
 * HTTP API in one process; `--worker` runs only the jobs. Stops cleanly on Ctrl-C / SIGTERM.
 */
import type { Server } from 'node:http';
import mongoose from 'mongoose';
import { createApp } from './app.ts';
import { appConfig } from './config/config.ts';
import { createContext } from './context.ts';
import { connectMongoose, ensureIndexes } from './db/connection.ts';
import { openDatabase } from './db/database.ts';
import { log } from './log.ts';
import { startScheduler } from './scheduler.ts';

const config = appConfig();
const workerOnly = process.argv.includes('--worker');
const database = await openDatabase(config.database.dataDir);
await connectMongoose(database.uri);
await ensureIndexes();
const ctx = createContext({ config });
const scheduler = await startScheduler(ctx, { processJobs: true });

let server: Server | undefined;
if (!workerOnly) {
  server = createApp(ctx).listen(config.http.port, '127.0.0.1', () => {
    const address = server!.address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    log.info({ url: `http://127.0.0.1:${port}` }, 'moneyfund API listening');
  });
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await scheduler.stop();
  await mongoose.disconnect();
  await database.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
