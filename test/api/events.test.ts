import assert from 'node:assert/strict';
import request from 'supertest';
import { appendEvents, relayAll, relayEvents } from '../../src/events/log.ts';
import { Event, type EventDocument } from '../../src/events/model.ts';
import { eventDraft, withEvent, type EventDraft } from '../../src/events/outbox.ts';
import { withFaults, type FaultPoints } from '../../src/faults.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { Operation } from '../../src/operations/model.ts';
import { LeaseNote, type LeaseNoteDocument } from '../../src/reserve/model.ts';
import { leaseClosed } from '../../src/reserve/leases.ts';
import { until } from '../support/until.ts';
import { EVENT_TYPES } from '../../src/events/catalogue.ts';
import { eventSchema } from '../../src/events/routes.ts';
import { assertProblem, withoutBeijingTwins, idempotencyKey, newHolder, PAYMENT_PASSWORD, testApp, topUp, type Holder, type TestApp } from '../support/api.ts';
import { accrueAt, addTestFund, publish, redeem, subscribedHolder } from '../support/income.ts';
import { closeAllLeases, holderWithShares, instant } from '../support/instant.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';
import { eventsOf, typesOf, type ReadEvent } from '../support/events.ts';

describe('events', function () {
  this.timeout(180_000);
  let t: TestApp;
  let ops: Holder;

  beforeEach(async () => {
    t = testApp('2024-06-03T10:00:00+08:00');
    useOwnReserve(t);
    ops = await newHolder(t.app, { ops: true });
  });

  it('tells a holder of each change that stands, in order, and of nothing a refused request asked for', async () => {
    await adjustReserve(t, ops, '50000.00', 'increase').expect(201);
    const holder = await holderWithShares(t, '5000.00'); // top-up, transfer-in accepted, confirmed
    t.clock.set('2024-06-04T10:00:00+08:00');
    const instantId = (await instant(t, holder, '100.00').expect(201)).body.operation.id as string;
    await instant(t, holder, '6000.00').expect(409); // refused: nothing moved
    await request(t.app).post('/v1/me/withdrawals').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '9000.00', bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD });
    const redemption = await redeem(t.app, holder, '200.00');
    await closeAllLeases(t);
    // Its lease's owner notes it a moment after its request (a timer), or its closer does: then it stands.
    const { leaseId } = (await Operation.findById(instantId).lean())!;
    await until('the instant redemption noted on its lease', 10_000, async () =>
      (await LeaseNote.find({ leaseId }).lean<LeaseNoteDocument[]>()).some((note) => note.operationIds.split(' ').includes(instantId)),
    );
    t.clock.set('2024-06-05T10:00:00+08:00');
    await advanceDueOperations(t.ctx);
    const events = await eventsOf(t, holder);
    assert.deepEqual(typesOf(events), [
      'session.created', // newHolder signs in and sets the payment password
      'payment_password.reset',
      'top_up.succeeded',
      'transfer_in.accepted',
      'transfer_in.confirmed',
      'redemption.accepted',
      'instant_redemption.succeeded',
      'redemption.settled',
    ]);
    assert.equal(events[5]!.data.operation!.id, redemption.id);
    assert.equal(events[7]!.data.operation!.status, 'completed', 'the object as it stands after the change');
    assert.ok(events.every((event) => event.holderId === holder.userId));
    const ids = events.map((event) => event.id);
    assert.deepEqual([...ids].sort(), ids, 'ids sort in the order of the log');
    // Filtered by type, and read on from a cursor.
    assert.deepEqual(typesOf(await eventsOf(t, holder, '&types=redemption.accepted,redemption.settled')), ['redemption.accepted', 'redemption.settled']);
    const rest = await request(t.app).get(`/v1/me/events?after=${ids[5]}`).set(holder.auth).expect(200);
    assert.deepEqual(rest.body.events.map((event: ReadEvent) => event.id), ids.slice(6));
  });

  it("notes an instant redemption on its lease before the lease closes, when its owner closes it as recovery would (the note is the success event's source)", async () => {
    await adjustReserve(t, ops, '50000.00', 'increase').expect(201);
    const holder = await holderWithShares(t, '500.00');
    const instantId = (await instant(t, holder, '100.00').expect(201)).body.operation.id as string;
    const { leaseId } = (await Operation.findById(instantId).lean())!;
    // At once, before the owner's note timer (200 ms): a process dying after this would otherwise never note it.
    t.clock.advance(t.ctx.config.reserve.leaseLifetimeMs);
    assert.equal(await leaseClosed(t.ctx, leaseId!), true);
    const notes = await LeaseNote.find({ leaseId }).lean<LeaseNoteDocument[]>();
    assert.ok(notes.some((note) => note.operationIds.split(' ').includes(instantId)), 'noted before the lease closed');
  });

  it('credits income as one event per holder and day, read out of the accrual\'s own records, with the day for ops', async () => {
    const fundCode = addTestFund(t);
    t.clock.set('2024-06-03T10:00:00+08:00');
    const holders = [await subscribedHolder(t, fundCode, '10000.00'), await subscribedHolder(t, fundCode, '20000.00')];
    for (const date of ['2024-06-04', '2024-06-05']) await publish(t, ops, fundCode, date, '1.0000');
    await accrueAt(t, fundCode, '2024-06-05');
    for (const [index, holder] of holders.entries()) {
      const income = await eventsOf(t, holder, '&types=income.credited');
      assert.deepEqual(income.map((event) => event.data.income!.date), ['2024-06-04', '2024-06-05']);
      assert.equal(income[0]!.data.income!.income, index === 0 ? '1.00' : '2.00');
    }
    const all = await request(t.app).get('/v1/ops/events?types=fund_day.accrued,income.credited&limit=500').set(ops.auth).expect(200);
    const ofFund = all.body.events.filter((event: ReadEvent) => JSON.stringify(event.data).includes(fundCode));
    assert.deepEqual(
      ofFund.map((event: ReadEvent) => event.type),
      ['fund_day.accrued', 'income.credited', 'income.credited', 'fund_day.accrued', 'income.credited', 'income.credited'],
    );
  });

  it('numbers events without holes and logs each change once, however many relays run at once', async () => {
    const drafts = Array.from({ length: 60 }, (_, index) => eventDraft('session.created', `u_relay${index % 7}`, new Date(), { index }));
    const counts = await Promise.all([appendEvents(drafts), appendEvents(drafts.slice(20)), appendEvents([...drafts].reverse())]);
    assert.equal(counts.reduce((sum, count) => sum + count, 0), 60);
    const logged = await Event.find({ sourceKey: { $in: drafts.map((draft) => draft.sourceKey) } }).lean<EventDocument[]>();
    assert.equal(logged.length, 60);
    const numbers = (await Event.find({}, { _id: 1 }).lean<EventDocument[]>()).map((event) => event._id).sort((a, b) => a - b);
    assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, index) => index + 1), 'every number from 1 on, none twice');
  });

  it('appends in order past FerretDB\'s insert batches: an ordered insert of more than 100 goes on after a duplicate', async () => {
    // The defect, on a scratch collection: documents after the first batch are inserted past the duplicate.
    const scratch = Event.db.collection(`ordered_${Date.now()}`);
    await scratch.insertOne({ _id: 5 } as never);
    const documents = Array.from({ length: 150 }, (_, index) => ({ _id: index }));
    await assert.rejects(scratch.insertMany(documents as never[], { ordered: true }));
    const inserted = (await scratch.find({}).toArray()).map((document) => document._id as unknown as number);
    assert.ok(inserted.includes(120), 'FerretDB went on past the duplicate into its next batch (fixed in the log by one batch per insert)');
    await scratch.drop();
    // The log: 250 drafts, one of them logged already: no hole, each once.
    const drafts = Array.from({ length: 250 }, (_, index) => eventDraft('session.created', 'u_batches', new Date(), { index }));
    await appendEvents([drafts[3]!]);
    assert.equal(await appendEvents(drafts), 249);
    assert.equal(await Event.countDocuments({ sourceKey: { $in: drafts.map((draft) => draft.sourceKey) } }), 250);
    const numbers = (await Event.find({}, { _id: 1 }).lean<EventDocument[]>()).map((event) => event._id).sort((a, b) => a - b);
    assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, index) => index + 1), 'every number from 1 on, none twice');
  });

  it('logs a change once when a relay died after logging it, and keeps due what was filed while a relay worked', async () => {
    await relayAll(); // earlier tests' changes: this one's passes then see only its own
    const holder = await newHolder(t.app);
    await topUp(t.app, holder, '10.00');
    const filed = (await Operation.findOne({ userId: holder.userId, eventsDue: true }).lean())!;
    await appendEvents(filed.outbox as EventDraft[]); // a relay that died before clearing the outbox
    // Another change is filed on the document between a relay's read and its clearing.
    const late = eventDraft('top_up.succeeded', holder.userId, new Date(), { late: true }, `${filed._id}:late`);
    const fileLate: FaultPoints = {
      hit: async (point) => {
        if (point === 'relay:before-clear') await Operation.updateOne({ _id: filed._id }, withEvent({ $set: {} }, late));
      },
    };
    await withFaults(fileLate, () => relayEvents());
    assert.equal(await Event.countDocuments({ sourceKey: `${filed._id}:top_up.succeeded` }), 1, 'logged once');
    assert.ok(await Operation.exists({ _id: filed._id, eventsDue: true }), 'the late change stays due');
    await relayEvents();
    assert.equal(await Event.countDocuments({ sourceKey: late.sourceKey }), 1);
    assert.equal(await Operation.exists({ _id: filed._id, eventsDue: true }), null);
  });

  it('documents every event type for webhook receivers, with an example that is what the service sends', async () => {
    const document = (await request(t.app).get('/openapi.json').expect(200)).body;
    assert.deepEqual(Object.keys(document.webhooks), [...EVENT_TYPES]);
    for (const type of EVENT_TYPES) {
      const example = document.webhooks[type].post.requestBody.content['application/json'].example;
      assert.equal(example.type, type);
      eventSchema.parse(example);
    }
  });

  it('answers a cursor or a type it does not know with a 400 problem', async () => {
    const holder = await newHolder(t.app);
    assertProblem(await request(t.app).get('/v1/me/events?after=op_123').set(holder.auth), 400, 'invalid_cursor');
    assertProblem(await request(t.app).get('/v1/me/events?types=money.printed').set(holder.auth), 400, 'invalid_request');
    assertProblem(await request(t.app).get('/v1/me/events?types=fund_day.accrued').set(holder.auth), 400, 'invalid_request');
    await request(t.app).get('/v1/ops/events').set(holder.auth).expect(403);
    await topUp(t.app, holder, '1.00');
    assert.ok(await Operation.exists({ userId: holder.userId, eventsDue: true }), 'filed with the change, due for the relay');
  });
});
