/** A webhook receiver on loopback for the tests: every request it got, and what it answered. */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { relayEvents } from '../../src/events/log.ts';
import { WebhookEndpoint } from '../../src/webhooks/model.ts';
import { SIGNATURE_HEADER } from '../../src/webhooks/signature.ts';
import { newHolder, testApp, type Holder, type TestApp } from './api.ts';
import { useOwnReserve } from './reserve.ts';

export interface Received {
  id: string;
  type: string;
  holderId: string | null;
  data: Record<string, Record<string, unknown>>;
  body: string;
  signature: string;
  status: number;
}

/** What the receiver answers a delivery: a status, or a promise of one (a slow or hung receiver). */
export type Answer = (delivery: Received, index: number) => number | Promise<number>;

/** A receiver on 127.0.0.1: every request it got, in arrival order, with what it answered. */
export class Receiver {
  /** In arrival order; a request not answered yet has status 0. */
  readonly requests: Received[] = [];
  /** What happened when, across receivers that share it: to compare their order. */
  readonly timeline: string[];
  answer: Answer = () => 200;
  inFlight = 0;
  inFlightMax = 0;
  #server: Server;

  private constructor(server: Server, timeline: string[]) {
    this.#server = server;
    this.timeline = timeline;
  }

  static async start(name: string, timeline: string[] = []): Promise<Receiver> {
    let receiver!: Receiver;
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => void receiver.#take(name, body, String(req.headers[SIGNATURE_HEADER.toLowerCase()]), res));
      res.on('close', () => res.writableFinished || timeline.push(`${name}:abandoned`));
    });
    receiver = new Receiver(server, timeline);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  async #take(name: string, body: string, signature: string, res: ServerResponse): Promise<void> {
    const event = JSON.parse(body) as Received;
    const delivery: Received = { id: event.id, type: event.type, holderId: event.holderId, data: event.data, body, signature, status: 0 };
    this.inFlight++;
    this.inFlightMax = Math.max(this.inFlightMax, this.inFlight);
    this.timeline.push(`${name}:${event.id}`);
    this.requests.push(delivery);
    delivery.status = await this.answer(delivery, this.requests.length - 1);
    this.inFlight--;
    res.writeHead(delivery.status).end();
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks`;
  }

  /** The events it accepted (2xx), each once, in the order first accepted. */
  get accepted(): Received[] {
    const seen = new Set<string>();
    return this.requests.filter((delivery) => delivery.status >= 200 && delivery.status < 300 && !seen.has(delivery.id) && seen.add(delivery.id));
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}


/**
 * A delivery test's start: its app on a reserve of its own, an ops user, no endpoint left by
 * another test, and what earlier tests filed already in the log, so its endpoints start at its end.
 */
export async function webhookTestStart(): Promise<{ t: TestApp; ops: Holder }> {
  const t = testApp('2024-06-03T10:00:00+08:00');
  useOwnReserve(t);
  const ops = await newHolder(t.app, { ops: true });
  await WebhookEndpoint.deleteMany({});
  while ((await relayEvents()) > 0);
  return { t, ops };
}
