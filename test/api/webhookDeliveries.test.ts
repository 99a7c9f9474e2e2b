/**
 * Webhook deliveries to a real HTTP receiver on loopback: every event of a holder's day,
 * signed, in the log's order; retries with back-off on the test clock; failures past the retry
 * window and a replay that sends them again; two workers racing and a stale one; pause and
 * resume; a hung endpoint that holds no other; bad input on the new routes.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { EVENT_TYPES, type EventType } from '../../src/events/catalogue.ts';
import { exampleEvent } from '../../src/events/examples.ts';
import type { AppConfig } from '../../src/config/config.ts';
import { appendEvents, relayEvents } from '../../src/events/log.ts';
import { eventDraft } from '../../src/events/outbox.ts';
import '../../src/eventSources.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { deliverWebhooks } from '../../src/webhooks/delivery.ts';
import { WebhookEndpoint, type WebhookEndpointDocument } from '../../src/webhooks/model.ts';
import { verifySignature } from '../../src/webhooks/signature.ts';
import { assertProblem, newHolder, withoutBeijingTwins, topUp, type Holder, type TestApp } from '../support/api.ts';
import { accrueAt, addTestFund, publish, redeem, subscribedHolder } from '../support/income.ts';
import { closeAllLeases, holderWithShares, instant } from '../support/instant.ts';
import { uniqueId } from '../support/database.ts';
import { unbalancedTopUp } from '../support/journal.ts';
import { liftRunOutPaymentLocks } from '../../src/auth/service.ts';
import { watchScheduleCoverage } from '../../src/holidays/coverage.ts';
import { Operation } from '../../src/operations/model.ts';
import { runReconciliation } from '../../src/reconciliation/job.ts';
import { adjustReserve, adjustReserveBy, useOwnReserve } from '../support/reserve.ts';
import { syntheticFlowsCsv } from '../../src/cli/reservePlan.ts';
import { watchReserveForecast } from '../../src/planning/alert.ts';
import { importFlowCsv } from '../../src/planning/csv.ts';
import { webhookTestStart, Receiver, type Received } from '../support/receiver.ts';

const ENDPOINTS = '/v1/ops/webhook-endpoints';
/**
 * The money's events and the accrual's: this file's counts are of those. Left out, the security
 * events every holder's sign-up and sign-in file (test/api/securityEvents.test.ts), and the ops
 * alerts, which follow state the whole suite shares (the reserve's level, the calendar).
 */
const LEFT_OUT = /^(payment_password|session|reserve|reconciliation|calendar)\./;
const TYPES_OF_THIS_FILE = EVENT_TYPES.filter((type) => !LEFT_OUT.test(type));
const SECURITY_AND_OPS_TYPES = EVENT_TYPES.filter((type) => LEFT_OUT.test(type));
const WRONG_PAYMENT_PASSWORD = '000000';

/** An ops event of this test: of its reserve, or of no reserve (reconciliation, calendar), which only this test files at this point. */
const isOurs = (delivery: Received, reserveName: string) =>
  delivery.holderId === null && (!delivery.type.startsWith('reserve.') || (delivery.data.reserve as { name?: string }).name === reserveName);

/** A reconciliation run that finds a break after a clean one; the journal is clean again after. */
async function breakReconciliation(t: TestApp): Promise<void> {
  await runReconciliation(t.ctx);
  const operationId = uniqueId('op');
  await Operation.collection.insertOne(unbalancedTopUp(operationId));
  try {
    await runReconciliation(t.ctx);
  } finally {
    await Operation.deleteOne({ _id: operationId });
  }
  await runReconciliation(t.ctx);
}

/**
 * The keys of a payload, nested, with the kind of each leaf: what a documented example must
 * share with the real one. A null stands for any kind (a field that is null until it is known).
 */
function shapeOf(value: unknown, like: unknown): unknown {
  if (value === null || like === null) return 'nullable';
  if (typeof value !== 'object') return typeof value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, inner]) => [key, shapeOf(inner, (like as Record<string, unknown>)?.[key])]));
}

/** Each payload has the shape of its type's documented example (the OpenAPI webhooks section). */
function assertDocumented(deliveries: Received[]): void {
  for (const delivery of deliveries) {
    const [sent, documented] = [withoutBeijingTwins(delivery.data), exampleEvent(delivery.type as EventType, 1).data];
    assert.deepEqual(shapeOf(sent, documented), shapeOf(documented, sent), `the documented example of ${delivery.type}`);
  }
}

const idsOf = (events: { id: string }[]) => events.map((event) => event.id);

describe('webhook deliveries', function () {
  this.timeout(180_000);
  let t: TestApp;
  let ops: Holder;
  const receivers: Receiver[] = [];

  async function receiver(name = 'receiver', timeline?: string[]): Promise<Receiver> {
    const started = await Receiver.start(name, timeline);
    receivers.push(started);
    return started;
  }

  /** The test's settings for deliveries (the ctx config, as the worker reads it). */
  function useWebhookConfig(webhooks: Partial<AppConfig['webhooks']>): void {
    t.ctx.config = { ...t.ctx.config, webhooks: { ...t.ctx.config.webhooks, ...webhooks } };
  }

  async function register(url: string, types: string[] = TYPES_OF_THIS_FILE): Promise<{ id: string; secret: string }> {
    return (await request(t.app).post(ENDPOINTS).set(ops.auth).send({ url, types }).expect(201)).body;
  }

  const endpointView = async (id: string) => (await request(t.app).get(`${ENDPOINTS}/${id}`).set(ops.auth).expect(200)).body;
  const deliveriesOf = async (id: string, query = '') => (await request(t.app).get(`${ENDPOINTS}/${id}/deliveries?limit=500${query}`).set(ops.auth).expect(200)).body.deliveries;
  const replay = (id: string, body: object) => request(t.app).post(`${ENDPOINTS}/${id}/replay`).set(ops.auth).send(body);

  /** Relays what is filed, then runs one delivery pass. */
  async function relayAndDeliver(workerId?: string): Promise<void> {
    await relayEvents();
    await deliverWebhooks(t.ctx, workerId);
  }

  /** Every event of a holder as the event API reads it: what its webhooks must match. */
  /** The holder's events of the types this file's endpoints take, as the API reads them. */
  async function eventsOf(holder: Holder): Promise<{ id: string; type: string }[]> {
    return (await request(t.app).get(`/v1/me/events?limit=500&types=${TYPES_OF_THIS_FILE.filter((type) => type !== 'fund_day.accrued').join(',')}`).set(holder.auth).expect(200)).body.events;
  }

  async function holders(count: number): Promise<Holder[]> {
    return Promise.all(Array.from({ length: count }, () => newHolder(t.app)));
  }

  /** Top-ups, one after another, each a `top_up.succeeded` of its holder. */
  async function topUps(...of: Holder[]): Promise<void> {
    for (const holder of of) await topUp(t.app, holder, '1.00');
  }

  const ofHolders = (deliveries: Received[], of: Holder[]) => deliveries.filter((delivery) => of.some((holder) => holder.userId === delivery.holderId));

  beforeEach(async () => {
    ({ t, ops } = await webhookTestStart());
  });

  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((started) => started.close()));
  });

  it("sends every event of a holder's day, signed, in the log's order", async () => {
    const hooks = await receiver();
    const { id, secret } = await register(hooks.url);
    await adjustReserve(t, ops, '50000.00', 'increase').expect(201);
    const fundCode = addTestFund(t);
    const holder = await subscribedHolder(t, fundCode, '5000.00'); // top-up, transfer-in accepted
    await relayAndDeliver();
    t.clock.set('2024-06-04T09:00:00+08:00');
    await advanceDueOperations(t.ctx); // confirmed
    t.clock.set('2024-06-04T10:00:00+08:00');
    await instant(t, holder, '100.00').expect(201);
    await redeem(t.app, holder, '200.00'); // accepted
    await closeAllLeases(t); // the instant redemption stands
    await relayAndDeliver();
    await publish(t, ops, fundCode, '2024-06-04', '1.0000');
    await accrueAt(t, fundCode, '2024-06-04'); // fund_day.accrued, income.credited
    await relayAndDeliver(); // the cursor rests at the end of a batch of income: read on from there, not again
    t.clock.set('2024-06-05T10:00:00+08:00');
    await advanceDueOperations(t.ctx); // settled
    await relayAndDeliver();

    const mine = ofHolders(hooks.accepted, [holder]);
    assert.deepEqual(new Set(mine.map((delivery) => delivery.type)), new Set([
      'top_up.succeeded',
      'transfer_in.accepted',
      'transfer_in.confirmed',
      'instant_redemption.succeeded',
      'redemption.accepted',
      'income.credited',
      'redemption.settled',
    ]));
    assert.deepEqual(idsOf(mine), idsOf(await eventsOf(holder)), 'the events the API reads, in its order');
    assertDocumented(mine);
    const accrued = hooks.accepted.filter((delivery) => delivery.type === 'fund_day.accrued' && JSON.stringify(delivery.data).includes(fundCode));
    assert.equal(accrued.length, 1);
    const ids = idsOf(hooks.accepted);
    assert.deepEqual([...ids].sort(), ids, 'in the order of the log');
    assert.equal(hooks.requests.length, hooks.accepted.length, 'each sent once');
    const nowSeconds = Math.floor(Date.now() / 1000);
    for (const delivery of hooks.requests) assert.equal(verifySignature(secret, delivery.signature, delivery.body, nowSeconds), 'valid', delivery.id);
    assert.deepEqual(Object.keys(JSON.parse(hooks.requests[0]!.body)), ['id', 'type', 'createdAt', 'createdAtBeijing', 'holderId', 'data'], 'the public event, as the API answers it');

    const log = await deliveriesOf(id);
    assert.deepEqual(idsOf(hooks.accepted), log.map((entry: { eventId: string }) => entry.eventId));
    assert.ok(log.every((entry: { outcome: string; httpStatus: number; attempt: number }) => entry.outcome === 'delivered' && entry.httpStatus === 200 && entry.attempt === 1));
    const view = await endpointView(id);
    assert.deepEqual([view.delivery.retrying, view.delivery.failingEventId, view.delivery.nextAttemptAt], [false, null, null]);
    assert.ok(view.delivery.cursor >= ids.at(-1)!, 'the cursor passed the last event sent');
  });

  it("sends a holder's security events and ops' alerts, each signed", async () => {
    const hooks = await receiver();
    const { secret } = await register(hooks.url, SECURITY_AND_OPS_TYPES);
    const reserveName = useOwnReserve(t);
    await adjustReserve(t, ops, '1000.00', 'increase').expect(201);
    const holder = await holderWithShares(t, '100.00'); // session.created, payment_password.reset
    for (const expected of [403, 403, 423]) assert.equal((await instant(t, holder, '1.00', undefined, WRONG_PAYMENT_PASSWORD)).status, expected);
    t.clock.advance(t.ctx.config.security.paymentLockMs + 1_000);
    await liftRunOutPaymentLocks(t.ctx); // unlocked
    await request(t.app).delete('/v1/me/session').set(holder.auth).expect(204); // revoked

    await adjustReserve(t, ops, '1000.00', 'decrease').expect(201); // low water
    await adjustReserve(t, ops, '500.00', 'increase').expect(201); // recovered
    await breakReconciliation(t);
    const { knownThrough } = t.ctx.calendar;
    for (const daysBefore of [200, 59]) {
      t.clock.set(`${t.ctx.calendar.addCalendarDays(knownThrough, -daysBefore)}T10:00:00+08:00`);
      await watchScheduleCoverage(t.ctx); // known first, then ending
    }
    // A year of flows up to yesterday: the reserve (500.00) is far below the forecast's need, then funded to it.
    t.clock.set('2026-06-15T10:00:00+08:00');
    await importFlowCsv(t.ctx, syntheticFlowsCsv(t.ctx, { from: '2025-06-15', days: 365, seed: 11 }));
    const short = await watchReserveForecast(t.ctx);
    assert.equal(short.covered, false);
    await adjustReserveBy(t, await newHolder(t.app, { ops: true }), short.needFen - short.sizeFen); // the first ops session ran out a year on
    assert.equal((await watchReserveForecast(t.ctx)).covered, true);
    await relayAndDeliver();

    const mine = hooks.accepted.filter((delivery) => delivery.holderId === holder.userId || isOurs(delivery, reserveName));
    assert.deepEqual(new Set(mine.map((delivery) => delivery.type)), new Set(SECURITY_AND_OPS_TYPES));
    assertDocumented(mine);
    const nowSeconds = Math.floor(Date.now() / 1000);
    for (const delivery of hooks.requests) assert.equal(verifySignature(secret, delivery.signature, delivery.body, nowSeconds), 'valid', delivery.id);
  });

  it('retries a failing receiver with back-off, holding later events back, and delivers in order once it answers', async () => {
    useWebhookConfig({ retryDelaysMs: [5_000, 30_000, 120_000] });
    const hooks = await receiver();
    hooks.answer = (_delivery, index) => (index < 3 ? 500 : 200);
    const { id } = await register(hooks.url);
    const people = await holders(2);
    await topUps(people[0]!, people[1]!, people[0]!);
    const start = t.clock.now().getTime();

    await relayAndDeliver();
    assert.equal(hooks.requests.length, 1, 'the first event failed: the others wait behind it');
    const head = hooks.requests[0]!.id;
    let view = await endpointView(id);
    assert.deepEqual([view.delivery.retrying, view.delivery.failingEventId, view.delivery.failedAttempts], [true, head, 1]);
    assert.equal(view.delivery.nextAttemptAt, new Date(start + 5_000).toISOString());

    for (const [waitMs, attempts] of [[4_999, 1], [1, 2], [29_999, 2], [1, 3], [120_000, 6]] as const) {
      t.clock.advance(waitMs);
      await deliverWebhooks(t.ctx);
      assert.equal(hooks.requests.length, attempts, `after ${t.clock.now().getTime() - start} ms`);
    }
    assert.deepEqual(idsOf(ofHolders(hooks.accepted, people)), idsOf(ofHolders(hooks.accepted, people)).sort());
    assert.deepEqual(hooks.requests.slice(0, 4).map((delivery) => [delivery.id, delivery.status]), [[head, 500], [head, 500], [head, 500], [head, 200]]);
    assert.equal(hooks.accepted.length, 3, 'every event, once its retries succeeded');
    const log = await deliveriesOf(id);
    assert.deepEqual(
      log.map((entry: { eventId: string; attempt: number; outcome: string; httpStatus: number; at: string }) => [entry.eventId === head, entry.attempt, entry.outcome, entry.httpStatus, Date.parse(entry.at) - start]),
      [
        [true, 1, 'retrying', 500, 0],
        [true, 2, 'retrying', 500, 5_000],
        [true, 3, 'retrying', 500, 35_000],
        [true, 4, 'delivered', 200, 155_000],
        [false, 1, 'delivered', 200, 155_000],
        [false, 1, 'delivered', 200, 155_000],
      ],
    );
    view = await endpointView(id);
    assert.equal(view.delivery.retrying, false);
  });

  it('records failed deliveries once the receiver is down past the retry window, and a replay sends them again', async () => {
    useWebhookConfig({ retryDelaysMs: [5_000, 30_000], retryWindowMs: 60_000 });
    const hooks = await receiver();
    hooks.answer = () => 503;
    const { id } = await register(hooks.url);
    const people = await holders(2);
    await topUps(people[0]!, people[1]!, people[0]!);
    await relayAndDeliver();
    for (const waitMs of [5_000, 30_000, 30_000]) {
      t.clock.advance(waitMs);
      await deliverWebhooks(t.ctx);
    }
    // 65 s on: the head's fourth attempt is past the window, and so is each event behind it: one attempt each.
    const sent = hooks.requests.map((delivery) => delivery.id);
    assert.equal(sent.length, 6);
    const events = [...new Set(sent)];
    assert.equal(events.length, 3);
    const failed = await deliveriesOf(id, '&status=failed');
    assert.deepEqual(failed.map((entry: { eventId: string; attempt: number; httpStatus: number }) => [entry.eventId, entry.attempt, entry.httpStatus]), [
      [events[0], 4, 503],
      [events[1], 1, 503],
      [events[2], 1, 503],
    ]);
    assert.equal((await deliveriesOf(id)).length, 6, 'every attempt is logged');
    assert.equal((await endpointView(id)).delivery.retrying, false);

    hooks.answer = () => 200;
    await deliverWebhooks(t.ctx);
    assert.equal(hooks.accepted.length, 0, 'given up: not sent again by itself');
    const replayed = await replay(id, { from: events[0] }).expect(200);
    assert.equal(replayed.body.delivery.cursor < events[0]!, true, 'just before the event');
    await deliverWebhooks(t.ctx);
    assert.deepEqual(idsOf(hooks.accepted), events, 'sent again, in order');
    const audit = (await request(t.app).get(`/v1/ops/audit?actor=${ops.userId}&action=webhook.replay`).set(ops.auth).expect(200)).body.items;
    assert.deepEqual(audit.map((item: { target: string; outcome: string; request: object }) => [item.target, item.outcome, item.request]), [[id, 'done', { from: events[0] }]]);
  });

  it('lets one of two racing workers deliver to an endpoint, and a worker paused past its lease cannot move the cursor', async () => {
    const hooks = await receiver();
    hooks.answer = () => new Promise((resolve) => setTimeout(() => resolve(200), 5));
    const { id } = await register(hooks.url);
    const people = await holders(3);
    for (let round = 0; round < 3; round++) {
      await topUps(...people);
      await relayEvents();
      await Promise.all([deliverWebhooks(t.ctx, 'worker-a'), deliverWebhooks(t.ctx, 'worker-b')]);
    }
    assert.equal(hooks.inFlightMax, 1, 'never two deliveries to the endpoint at once');
    assert.equal(hooks.requests.length, 9, 'each event sent once');
    const ids = idsOf(hooks.accepted);
    assert.deepEqual([...ids].sort(), ids);

    // A worker whose send hangs past its lease: another takes over; the first one's write is refused.
    let release!: (status: number) => void;
    const stalled = new Promise<number>((resolve) => (release = resolve));
    let arrived!: () => void;
    const hanging = new Promise<void>((resolve) => (arrived = resolve));
    hooks.answer = (_delivery, index) => (index === 9 ? (arrived(), stalled) : 200);
    await topUps(...people);
    await relayEvents();
    const stale = deliverWebhooks(t.ctx, 'worker-stale');
    await hanging;
    t.clock.advance(t.ctx.config.webhooks.leaseMs + 1);
    await deliverWebhooks(t.ctx, 'worker-new');
    const cursor = (await WebhookEndpoint.findById(id).lean<WebhookEndpointDocument>())!.cursor;
    release(200);
    await stale;
    assert.equal(hooks.requests.length, 9 + 3 + 1, 'the stale worker sent nothing after its hung send');
    const after = (await WebhookEndpoint.findById(id).lean<WebhookEndpointDocument>())!;
    assert.equal(after.cursor, cursor, 'nor moved the cursor');
    assert.equal(after.leaseHolder, null);
    assert.deepEqual(idsOf(hooks.accepted).slice(9), idsOf(hooks.requests.slice(10, 13)), 'each event, in order');
  });

  it('sends a paused endpoint nothing, and the backlog once resumed', async () => {
    const hooks = await receiver();
    const { id } = await register(hooks.url);
    await request(t.app).post(`${ENDPOINTS}/${id}/pause`).set(ops.auth).expect(200);
    const people = await holders(2);
    await topUps(people[0]!, people[1]!);
    await relayAndDeliver();
    assert.equal(hooks.requests.length, 0);
    await request(t.app).post(`${ENDPOINTS}/${id}/resume`).set(ops.auth).expect(200);
    await deliverWebhooks(t.ctx);
    const mine = ofHolders(hooks.accepted, people);
    assert.deepEqual(mine.map((delivery) => delivery.holderId), [people[0]!.userId, people[1]!.userId]);

    // Paused while a worker is at it: the worker stops at its next write and gives the endpoint back.
    const drafts = Array.from({ length: 150 }, (_, index) => eventDraft('top_up.succeeded', people[index % 2]!.userId, t.clock.now(), { index }));
    await appendEvents(drafts);
    hooks.answer = async (_delivery, index) => {
      if (index === 2) await request(t.app).post(`${ENDPOINTS}/${id}/pause`).set(ops.auth).expect(200);
      return 200;
    };
    await deliverWebhooks(t.ctx);
    const sentBeforePause = hooks.requests.length;
    assert.ok(sentBeforePause < 2 + drafts.length, `stopped once it saw the pause: ${sentBeforePause}`);
    await request(t.app).post(`${ENDPOINTS}/${id}/resume`).set(ops.auth).expect(200);
    await deliverWebhooks(t.ctx);
    assert.equal(hooks.accepted.length, 2 + drafts.length, 'resumed at once from where it stopped');
    assert.deepEqual(idsOf(hooks.accepted), idsOf(hooks.accepted).sort());
  });

  it('does not let a hung or refusing endpoint hold another', async () => {
    useWebhookConfig({ timeoutMs: 500, leaseMs: 60_000 });
    const timeline: string[] = [];
    const hung = await receiver('hung', timeline);
    hung.answer = () => new Promise(() => {});
    const healthy = await receiver('healthy', timeline);
    const refusing = await receiver('refusing');
    const refusingUrl = refusing.url;
    await refusing.close();
    const hungEndpoint = await register(hung.url);
    await register(healthy.url);
    const refusingEndpoint = await register(refusingUrl);
    const people = await holders(2);
    await topUps(people[0]!, people[1]!, people[0]!);
    await relayAndDeliver();
    assert.equal(healthy.accepted.length, 3);
    const abandoned = timeline.indexOf('hung:abandoned');
    assert.ok(abandoned > timeline.lastIndexOf(`healthy:${healthy.accepted.at(-1)!.id}`), `the healthy endpoint was served before the hung one timed out: ${timeline.join(' ')}`);
    const [timedOut] = await deliveriesOf(hungEndpoint.id);
    assert.deepEqual([timedOut.outcome, timedOut.httpStatus, timedOut.error], ['retrying', null, 'timeout']);
    const [refused] = await deliveriesOf(refusingEndpoint.id);
    assert.deepEqual([refused.outcome, refused.httpStatus, refused.error], ['retrying', null, 'ECONNREFUSED']);
  });

  it('refuses bad input on the delivery routes with a 4xx problem and changes nothing', async () => {
    const hooks = await receiver();
    hooks.answer = () => 200;
    const { id } = await register(hooks.url);
    const people = await holders(1);
    await topUps(people[0]!);
    await relayAndDeliver();
    await topUps(people[0]!, people[0]!);
    await relayEvents();
    const [, second] = idsOf(await eventsOf(people[0]!)).slice(-2);
    const before = await endpointView(id);

    for (const body of [{}, { from: 'nope' }, { from: 42 }, { from: { $gt: '' } }, { from: second, extra: 1 }]) assertProblem(await replay(id, body), 400, 'invalid_request');
    assertProblem(await replay(id, { from: 'evt_999999999999' }), 422, 'unknown_event');
    assertProblem(await replay(id, { from: second }), 409, 'replay_ahead_of_cursor');
    assertProblem(await replay('we_nobody', { from: second }), 404, 'not_found');
    for (const query of ['?limit=0', '?limit=501', '?status=lost', '?after=evt_000000000001', '?extra=1']) {
      const response = await request(t.app).get(`${ENDPOINTS}/${id}/deliveries${query}`).set(ops.auth);
      assert.ok(response.status === 400, `${query}: ${response.status}`);
      assertProblem(response, 400, query.startsWith('?after') ? 'invalid_cursor' : 'invalid_request');
    }
    assertProblem(await request(t.app).get(`${ENDPOINTS}/we_nobody/deliveries`).set(ops.auth), 404, 'not_found');
    const holder = await newHolder(t.app);
    assertProblem(await request(t.app).post(`${ENDPOINTS}/${id}/replay`).set(holder.auth).send({ from: second }), 403, 'forbidden');
    assert.deepEqual(await endpointView(id), before);
  });
});
