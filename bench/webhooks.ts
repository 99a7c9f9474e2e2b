/**
 * `npm run bench:webhooks`: how fast one endpoint is sent events on loopback (the delivery
 * worker: the log read a page at a time, one signed POST at a time, the cursor written and the
 * delivery log appended every 100), against the floor of the same number of bare POSTs sent one
 * at a time to the same receiver in the same run. `--events <n>` (default 5,000); with --json
 * the last line is one JSON object.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createContext } from '../src/context.ts';
import { connectMongoose, disconnectMongoose, ensureIndexes } from '../src/db/connection.ts';
import { startEmbeddedStack } from '../src/db/embedded/stack.ts';
import { appendEvents } from '../src/events/log.ts';
import { eventDraft } from '../src/events/outbox.ts';
import { deliverWebhooks } from '../src/webhooks/delivery.ts';
import { WebhookEndpoint, type WebhookEndpointDocument } from '../src/webhooks/model.ts';
import { createWebhookEndpoint } from '../src/webhooks/service.ts';

const eventsArgument = process.argv.indexOf('--events');
const EVENTS = eventsArgument > 0 ? Number(process.argv[eventsArgument + 1]) : 5_000;
const APPEND_BATCH = 1_000;

function perSecond(count: number, startedAt: bigint): number {
  return Math.round(count / (Number(process.hrtime.bigint() - startedAt) / 1e9));
}

async function main(): Promise<void> {
  let received = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const stack = await startEmbeddedStack({ databaseName: 'moneyfund_bench_webhooks' });
  try {
    await connectMongoose(stack.uri);
    await ensureIndexes();
    const ctx = createContext();
    const endpoint = await createWebhookEndpoint(ctx, { url, types: ['*'] }, 'bench');
    for (let start = 0; start < EVENTS; start += APPEND_BATCH) {
      const count = Math.min(APPEND_BATCH, EVENTS - start);
      await appendEvents(Array.from({ length: count }, (_, index) => eventDraft('top_up.succeeded', `u_bench${(start + index) % 1_000}`, ctx.clock.now(), { index: start + index })));
    }

    const deliveredAt = process.hrtime.bigint();
    while (received < EVENTS) await deliverWebhooks(ctx);
    const deliveredPerS = perSecond(EVENTS, deliveredAt);
    const stored = (await WebhookEndpoint.findById(endpoint.id).lean<WebhookEndpointDocument>())!;

    const body = JSON.stringify({ id: 'evt_000000000001', type: 'top_up.succeeded', createdAt: new Date().toISOString(), holderId: 'u_bench', data: {} });
    const floorAt = process.hrtime.bigint();
    for (let index = 0; index < EVENTS; index++) await (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })).arrayBuffer();
    const floorPerS = perSecond(EVENTS, floorAt);

    console.log('events | delivered events/s | bare POSTs/s (floor) | ratio | delivery log entries');
    console.log(`${EVENTS} | ${deliveredPerS} | ${floorPerS} | ${(deliveredPerS / floorPerS).toFixed(2)} | ${stored.deliveriesLogged}`);
    if (process.argv.includes('--json')) console.log(JSON.stringify({ events: EVENTS, deliveredPerS, floorPerS, deliveriesLogged: stored.deliveriesLogged }));
  } finally {
    await disconnectMongoose();
    await stack.stop();
    receiver.closeAllConnections();
    receiver.close();
  }
}

await main();
