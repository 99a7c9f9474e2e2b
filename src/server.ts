/**
 * `npm start`: the database (MONGODB_URI, or the embedded stack), the job scheduler and the
 * HTTP API in one process; `--worker` runs only the jobs; `--sandbox` (`npm run sandbox`) runs
 * them on a seeded book of their own with a test clock (src/sandbox/start.ts).
 *
 * On SIGTERM or SIGINT it stops gracefully and exits 0: /readyz turns 503, the listener
 * closes, requests in flight finish (up to `http.shutdownDrainMs`, then their connections
 * are cut), idle keep-alive connections close, running jobs stop and every job lock this
 * process holds is released (up to `jobs.stopWaitMs`), then the database connection and,
 * when this process started it, the embedded database stop.
 */
import type { Server, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { createApp } from './app.ts';
import { TestClock } from './calendar/clock.ts';
import { appConfig } from './config/config.ts';
import { createContext } from './context.ts';
import { connectMongoose, ensureIndexes } from './db/connection.ts';
import { openDatabase } from './db/database.ts';
import { answerFor } from './http/answers.ts';
import { log } from './log.ts';
import { registerAnswerRenderer } from './operations/answers.ts';
import { prepareSandbox, sandboxBanner, sandboxConfig } from './sandbox/start.ts';
import { followTestClock, openTestClock } from './sandbox/service.ts';
import { startScheduler, stopScheduler } from './scheduler.ts';
import { startEventRelay } from './events/log.ts';
import './eventSources.ts';
import { startWebhookDelivery } from './webhooks/delivery.ts';

const sandbox = process.argv.includes('--sandbox');
const SANDBOX_CLOCK_FOLLOW_MS = 1_000;
const config = sandbox ? sandboxConfig(appConfig()) : appConfig();
const workerOnly = process.argv.includes('--worker');
const database = await openDatabase(config.database.dataDir);
await connectMongoose(database.uri);
await ensureIndexes();
const ctx = createContext({ config, clock: sandbox || config.clock.followStored ? await openTestClock() : undefined });
if (sandbox) {
  // The seeding drives operations as requests do, and they answer as requests do.
  registerAnswerRenderer(answerFor);
  await prepareSandbox(ctx);
}
/** The sandbox's clock (or a chaos run's) may be moved by another process: this one follows within a second. */
const stopFollowingClock = ctx.clock instanceof TestClock ? followTestClock(ctx.clock, SANDBOX_CLOCK_FOLLOW_MS) : () => {};
const scheduler = await startScheduler(ctx, { processJobs: true });
const stopEventRelay = startEventRelay(config.events.relayEveryMs);
// Like the relay, every process delivers: an endpoint's lease keeps one worker on it at a time.
const stopWebhookDelivery = startWebhookDelivery(ctx);
log.info({ worker: workerOnly }, 'jobs started');

/** Responses not yet finished: told to close their connection when the process stops. */
const inFlight = new Set<ServerResponse>();
let server: Server | undefined;
if (!workerOnly) {
  server = createApp(ctx).listen(config.http.port, '127.0.0.1', () => {
    const address = server!.address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    log.info({ url: `http://127.0.0.1:${port}` }, 'moneyfund API listening');
    if (sandbox) process.stdout.write(sandboxBanner(ctx, `http://127.0.0.1:${port}`));
  });
  server.on('request', (_req, res: ServerResponse) => {
    // A request on a kept-alive connection after the signal is served, then the connection closes.
    if (ctx.readiness.shuttingDown) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
}

/**
 * Stops accepting connections and waits for the requests in flight. Node closes idle
 * keep-alive connections at close(), but a busy one would stay open after its answer until
 * the keep-alive timeout: its answer says Connection: close instead.
 */
async function closeHttp(httpServer: Server, drainMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
  for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
  const drained = await Promise.race([closed.then(() => true), sleep(drainMs).then(() => false)]);
  if (drained) return;
  log.warn({ requests: inFlight.size, drainMs }, 'requests still running after the drain time: closing their connections');
  httpServer.closeAllConnections();
  await closed;
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  ctx.readiness.shuttingDown = true;
  // A last resort if a step hangs (a database that never answers): exit, but say so.
  setTimeout(() => {
    log.error('shutdown did not finish in time');
    process.exit(1);
  }, Math.max(config.http.shutdownDrainMs, config.jobs.stopWaitMs) + 15_000).unref();
  stopFollowingClock();
  await Promise.all([server && closeHttp(server, config.http.shutdownDrainMs), stopScheduler(ctx, scheduler, config.jobs.stopWaitMs), stopEventRelay(), stopWebhookDelivery()]);
  await mongoose.disconnect();
  await database.stop();
  log.info({ signal }, 'stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
