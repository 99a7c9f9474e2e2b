/**
 * Ops events of states crossing a threshold (docs/events.md): each crossing files one event in
 * the compare-and-set that moves the alert's state, however many checkers see it at once; a
 * value that crosses back and forth files one per crossing; a look that sees nothing new files
 * nothing.
 */
import assert from 'node:assert/strict';
import { observeAlert } from '../../src/alertStates/service.ts';
import { relayEvents } from '../../src/events/log.ts';
import { logPage, parseEventId, type PublicEvent } from '../../src/events/feed.ts';
import type { EventType } from '../../src/events/catalogue.ts';
import '../../src/eventSources.ts';
import { watchScheduleCoverage } from '../../src/holidays/coverage.ts';
import { Operation } from '../../src/operations/model.ts';
import { runReconciliation } from '../../src/reconciliation/job.ts';
import { watchReserve } from '../../src/reserve/lowWater.ts';
import { newHolder, testApp, type Holder, type TestApp } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';
import { unbalancedTopUp } from '../support/journal.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';

/** Every event of `types` in the whole log (relayed first). */
async function opsEvents(types: EventType[]): Promise<PublicEvent[]> {
  await relayEvents();
  const events: PublicEvent[] = [];
  let cursor = 'evt_000000000000';
  for (;;) {
    const page = await logPage(parseEventId(cursor), 500, (type) => types.includes(type));
    events.push(...page.events);
    if (page.next === cursor) return events;
    cursor = page.next;
  }
}

/**
 * The events of `types` logged while `act` ran: told apart by id, not by a cursor taken before,
 * since a relay may number an event into a hole below the end (reported: src/events/log.ts).
 */
async function eventsDuring(types: EventType[], act: () => Promise<unknown>): Promise<PublicEvent[]> {
  const before = new Set((await opsEvents(types)).map((event) => event.id));
  await act();
  return (await opsEvents(types)).filter((event) => !before.has(event.id));
}

/** Four checkers at once. */
const fourAtOnce = (look: () => Promise<unknown>) => Promise.all([look(), look(), look(), look()]);

describe('ops events', function () {
  this.timeout(180_000);
  let t: TestApp;
  let ops: Holder;

  beforeEach(async () => {
    t = testApp('2024-06-03T10:00:00+08:00');
    ops = await newHolder(t.app, { ops: true });
  });

  it('files one event per crossing however many checkers see it at once', async () => {
    const key = uniqueId('alert');
    const look = (firing: boolean) => () => observeAlert(key, firing, { firing: 'reserve.low_water', recovered: 'reserve.recovered' }, t.clock.now(), { probe: key });
    const moved: number[] = [];
    for (const firing of [true, true, false, true, false, false]) moved.push((await fourAtOnce(look(firing))).filter(Boolean).length);
    assert.deepEqual(moved, [1, 0, 1, 1, 1, 0], 'one checker moves each crossing; a look at the same state moves nothing');
    const mine = (await opsEvents(['reserve.low_water', 'reserve.recovered'])).filter((event) => event.data.probe === key);
    assert.deepEqual(mine.map((event) => event.type), ['reserve.low_water', 'reserve.recovered', 'reserve.low_water', 'reserve.recovered']);
    assert.ok(mine.every((event) => event.holderId === null));
  });

  it('tells ops when the reserve runs low and when it recovers, from the adjustments and the minute job alike', async () => {
    const name = useOwnReserve(t);
    await adjustReserve(t, ops, '1000.00', 'increase').expect(201);
    await adjustReserve(t, ops, '1000.00', 'decrease').expect(201); // empty: low
    await fourAtOnce(() => watchReserve(t.ctx));
    await adjustReserve(t, ops, '500.00', 'increase').expect(201); // recovered
    await adjustReserve(t, ops, '500.00', 'decrease').expect(201); // low again
    await fourAtOnce(() => watchReserve(t.ctx));
    const mine = (await opsEvents(['reserve.low_water', 'reserve.recovered'])).filter((event) => (event.data.reserve as { name?: string } | undefined)?.name === name);
    assert.deepEqual(mine.map((event) => event.type), ['reserve.low_water', 'reserve.recovered', 'reserve.low_water']);
    assert.deepEqual(mine[1]!.data.reserve, { name, available: '500.00', outstanding: '0.00', size: '500.00', lowWaterPercent: 20 });
  });

  it('tells ops when the holiday schedule starts to end, once per crossing', async () => {
    const { knownThrough } = t.ctx.calendar;
    const dayAt = (daysBefore: number) => `${t.ctx.calendar.addCalendarDays(knownThrough, -daysBefore)}T10:00:00+08:00`;
    t.clock.set(dayAt(200));
    await watchScheduleCoverage(t.ctx); // known: the state is ok, whatever an earlier test left
    const events = await eventsDuring(['calendar.coverage_ending'], async () => {
      for (const daysBefore of [59, 30, 200, 10]) {
        t.clock.set(dayAt(daysBefore));
        await fourAtOnce(() => watchScheduleCoverage(t.ctx));
      }
    });
    assert.deepEqual(
      events.map((event) => (event.data.coverage as { daysRemaining: number }).daysRemaining),
      [59, 10],
    );
  });

  it('tells ops when a reconciliation run finds breaks after a clean one, and not again while they last', async () => {
    const clean = await runReconciliation(t.ctx);
    assert.equal(clean.breaks.length + clean.unbalancedOperations.length, 0, 'this run starts from a clean journal');
    const operationId = uniqueId('op');
    await Operation.collection.insertOne(unbalancedTopUp(operationId));
    try {
      let broken: Awaited<ReturnType<typeof runReconciliation>> | undefined;
      const events = await eventsDuring(['reconciliation.break'], async () => {
        broken = await runReconciliation(t.ctx);
        await runReconciliation(t.ctx);
      });
      assert.equal(events.length, 1);
      assert.deepEqual(events[0]!.data.reconciliation, {
        id: broken!._id,
        at: broken!.at.toISOString(),
        balanced: broken!.balanced,
        breaks: broken!.breaks.length,
        unbalancedOperations: 1,
      });
    } finally {
      await Operation.deleteOne({ _id: operationId });
    }
    await runReconciliation(t.ctx);
  });
});
