/**
 * The reserve plan over the API (docs/reserve-planning.md): a year of synthetic history
 * imported as CSV, the forecast and its back-test, the scenario at the current size, the
 * recommendation replayed over the history it was computed for (tight: 10% less misses the
 * level); the alert when the reserve stops covering the forecast's upper band; bad input.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { relayEvents } from '../../src/events/log.ts';
import { logPage, parseEventId, type PublicEvent } from '../../src/events/feed.ts';
import '../../src/eventSources.ts';
import { syntheticFlowsCsv } from '../../src/cli/reservePlan.ts';
import { watchReserveForecast } from '../../src/planning/alert.ts';
import { importFlowCsv } from '../../src/planning/csv.ts';
import { planSchema } from '../../src/planning/routes.ts';
import { PLANS_AT_ONCE_MAX } from '../../src/planning/worker.ts';
import { assertProblem, newHolder, testApp, type Holder, type TestApp } from '../support/api.ts';
import { adjustReserve, adjustReserveBy, useOwnReserve } from '../support/reserve.ts';
import { accrueAt, addTestFund, publish, subscribedHolder } from '../support/income.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';

const TODAY = '2026-06-15';
const PLAN = '/v1/ops/reserve/plan';

/** The reserve.forecast_* events in the whole log (relayed first). */
async function forecastEvents(): Promise<PublicEvent[]> {
  await relayEvents();
  const events: PublicEvent[] = [];
  for (let cursor = 'evt_000000000000'; ; ) {
    const page = await logPage(parseEventId(cursor), 500, (type) => type.startsWith('reserve.forecast_'));
    events.push(...page.events);
    if (page.next === cursor) return events;
    cursor = page.next;
  }
}

describe('reserve plan', function () {
  this.timeout(300_000);
  let t: TestApp;
  let ops: Holder;
  let reserveName: string;

  before(async () => {
    t = testApp(`${TODAY}T10:00:00+08:00`);
    reserveName = useOwnReserve(t);
    ops = await newHolder(t.app, { ops: true });
    // A year up to yesterday, as a fund that has no history here yet imports it.
    await importFlowCsv(t.ctx, syntheticFlowsCsv(t.ctx, { from: '2025-06-15', days: 365, seed: 11 }));
  });

  const plan = async (query: string) => planSchema.parse((await request(t.app).get(`${PLAN}?${query}`).set(ops.auth).expect(200)).body);

  it('forecasts from the imported year, beats the naive forecast in the back-test, and recommends a tight reserve for the history', async () => {
    await adjustReserve(t, ops, '1000000.00', 'increase').expect(201);
    const order: string[] = [];
    const planned = plan('days=14&scenario=history&serviceLevel=99.9').finally(() => order.push('plan'));
    await new Promise((resolve) => setTimeout(resolve, 200)); // the plan is under way
    await request(t.app).get('/v1/ops/reserve').set(ops.auth).expect(200);
    order.push('reserve');
    const answer = await planned;
    assert.deepEqual(order, ['reserve', 'plan'], "the plan's simulations run beside the API, not in its way");
    console.log(`      plan over ${answer.history.days} days: ${answer.elapsedMs} ms, ${answer.recommendation?.simulations} simulations`);
    assert.deepEqual([answer.history.fromDate, answer.history.toDate, answer.history.days], ['2025-06-15', '2026-06-14', 365]);
    assert.equal(answer.forecast.method, 'calendar_regression');
    assert.equal(answer.forecast.days.length, 14);
    assert.equal(answer.forecast.days[0]!.date, TODAY);
    for (const [channel, figures] of Object.entries(answer.backtest.channels)) {
      assert.ok(figures.mapePercent! < figures.naiveMapePercent!, `${channel}: ${figures.mapePercent}% against the naive ${figures.naiveMapePercent}%`);
    }
    assert.equal(answer.reserve.size, '1000000.00');
    const { recommendation } = answer;
    assert.ok(recommendation, 'a size serves the level');
    assert.ok(recommendation.servedPercent >= 99.9 && recommendation.smallerServedPercent < 99.9, JSON.stringify(recommendation));
    assert.equal(recommendation.tight, true);
  });

  it("files reserve.forecast_uncovered when the reserve is below the forecast's upper band, and forecast_covered once it covers it", async () => {
    const first = await watchReserveForecast(t.ctx);
    // Funded to the need: covered; a yuan less: uncovered; back: covered.
    await adjustReserveBy(t, ops, first.needFen - first.sizeFen);
    assert.equal((await watchReserveForecast(t.ctx)).covered, true);
    await adjustReserveBy(t, ops, -100n);
    const short = await watchReserveForecast(t.ctx);
    assert.deepEqual([short.covered, short.needFen - short.sizeFen], [false, 100n]);
    await adjustReserveBy(t, ops, 100n);
    assert.equal((await watchReserveForecast(t.ctx)).covered, true);
    const events = (await forecastEvents()).filter((event) => (event.data.reserve as { name: string }).name === reserveName);
    assert.deepEqual(events.map((event) => event.type).slice(-2), ['reserve.forecast_uncovered', 'reserve.forecast_covered']);
  });

  it("replays a run on the fund's assets: the daily cap bounds what each holder takes, and the plan says so", async () => {
    const fundCode = addTestFund(t);
    await subscribedHolder(t, fundCode, '30000.00'); // trades today, confirmed tomorrow
    await subscribedHolder(t, fundCode, '5000.00');
    const tomorrow = t.ctx.calendar.addCalendarDays(TODAY, 1);
    t.clock.set(`${tomorrow}T09:00:00+08:00`);
    await advanceDueOperations(t.ctx);
    await publish(t, ops, fundCode, tomorrow, '1.0000');
    await accrueAt(t, fundCode, tomorrow);
    const allFunds = t.ctx.config.funds;
    t.ctx.config = { ...t.ctx.config, funds: allFunds.filter((fund) => fund.code === fundCode) }; // the AUM is this fund's alone (other files accrue theirs)
    const answer = await plan('days=7&scenario=run:50%25:4h&serviceLevel=99');
    console.log(`      run:50%:4h: ${answer.elapsedMs} ms, ${answer.scenario.requests} requests, ${answer.recommendation?.simulations} simulations`);
    assert.equal(answer.scenario.name, 'run:50%:4h');
    // Half of 35,000.00 in equal shares: 8,750.00 each, under the 10,000 a day the cap allows.
    assert.equal(answer.scenario.total, '17500.00');
    assert.ok(answer.scenario.notes.some((note) => /cap/.test(note)), answer.scenario.notes.join('; '));
    assert.equal(answer.recommendation?.tight, true);
    t.ctx.config = { ...t.ctx.config, funds: allFunds };
  });

  it('turns a flood of plans away with 503 plans_busy and Retry-After, and answers the ones it took', async () => {
    const answers = await Promise.all(Array.from({ length: PLANS_AT_ONCE_MAX + 3 }, () => request(t.app).get(`${PLAN}?days=1`).set(ops.auth)));
    const busy = answers.filter((response) => response.status === 503);
    assert.equal(answers.filter((response) => response.status === 200).length, PLANS_AT_ONCE_MAX);
    assert.equal(busy.length, 3);
    for (const response of busy) {
      assertProblem(response, 503, 'plans_busy');
      assert.equal(response.headers['retry-after'], '10');
    }
    await plan('days=1'); // and the next is taken again
  });

  it('refuses bad input with a 400 problem', async () => {
    for (const query of ['days=0', 'days=1000', 'days=1e2', 'serviceLevel=49', 'serviceLevel=101', 'serviceLevel=abc', 'scenario=panic', 'scenario=run:0%:4h', 'scenario=festival:13-40:x2', 'extra=1']) {
      const response = await request(t.app).get(`${PLAN}?${query}`).set(ops.auth);
      assertProblem(response, 400, response.body.code);
      assert.match(response.body.code, /^(invalid_request|invalid_scenario)$/, query);
    }
    const holder = await newHolder(t.app);
    assert.equal((await request(t.app).get(PLAN).set(holder.auth)).status, 403);
  });
});
