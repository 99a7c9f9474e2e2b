import assert from 'node:assert/strict';
import request from 'supertest';
import { DomainError } from '../../src/errors.ts';
import { Operation } from '../../src/operations/model.ts';
import { importFlowCsv } from '../../src/planning/csv.ts';
import { FLOW_CHANNELS, perChannel, type DailyFlow } from '../../src/planning/flows.ts';
import { flowHistory, rollUpFlowDay, rollUpYesterday } from '../../src/planning/history.ts';
import { FlowDay } from '../../src/planning/model.ts';
import { newHolder, topUp, testApp, type TestApp } from '../support/api.ts';
import { redeem, transferIn } from '../support/income.ts';
import { holderWithShares, instant, pay } from '../support/instant.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';

const FUND = 'YEB001';
const DAY = '2024-07-09'; // a Tuesday; its evening requests trade on Wed 07-10

/** What happened between two roll-ups of one day: other tests may have requests on it too. */
function difference(after: DailyFlow, before: DailyFlow) {
  return {
    totalsFen: perChannel((channel) => after.totalsFen[channel] - before.totalsFen[channel]),
    counts: perChannel((channel) => after.counts[channel] - before.counts[channel]),
    hourlyFen: perChannel((channel) => after.hourlyFen![channel]!.map((amount, hour) => amount - before.hourlyFen![channel]![hour]!)),
  };
}

const hours = (entries: Record<number, bigint>) => Array.from({ length: 24 }, (_, hour) => entries[hour] ?? 0n);

describe('flow history', function () {
  this.timeout(180_000);
  let t: TestApp;

  beforeEach(() => {
    t = testApp(`${DAY}T09:00:00+08:00`);
    useOwnReserve(t);
  });

  it('rolls up a day from the operations that stand, by the Beijing time they were asked, and stores it once the day is over', async () => {
    const ops = await newHolder(t.app, { ops: true });
    await adjustReserve(t, ops, '800.00', 'increase').expect(201); // 100.00 in each of 8 shards
    const holder = await holderWithShares(t, '1000.00');
    const merchant = (await request(t.app).post('/v1/ops/merchants').set(ops.auth).send({ name: 'Dumpling House' }).expect(201)).body;
    const before = await rollUpFlowDay(t.ctx, DAY);

    t.clock.set(`${DAY}T10:05:00+08:00`);
    await instant(t, holder, '50.00').expect(201);
    const refused = await instant(t, holder, '200.00');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'reserve_exhausted');
    t.clock.set(`${DAY}T11:30:00+08:00`);
    await redeem(t.app, holder, '100.00');
    t.clock.set(`${DAY}T16:10:00+08:00`); // after the cut-off: trade date 07-10
    await topUp(t.app, holder, '300.00');
    await transferIn(t.app, holder, FUND, '300.00');
    t.clock.set(`${DAY}T20:30:00+08:00`);
    await pay(t, holder, merchant.id, '30.00').expect(201);
    t.clock.set('2024-07-10T09:30:00+08:00'); // the next day, same trade date 07-10: not DAY's
    await instant(t, holder, '10.00').expect(201);
    const failed = await Operation.find({ userId: holder.userId, type: 'instant_redemption', status: 'failed' }).lean();
    assert.equal(failed.length, 1, 'the refused request left a failed operation, which must not count');

    const after = await rollUpFlowDay(t.ctx, DAY);
    assert.deepEqual(difference(after, before), {
      totalsFen: { instant_redemption: 5_000n, payment: 3_000n, redemption: 10_000n, transfer_in: 30_000n },
      counts: { instant_redemption: 1, payment: 1, redemption: 1, transfer_in: 1 },
      hourlyFen: { instant_redemption: hours({ 10: 5_000n }), payment: hours({ 20: 3_000n }), redemption: hours({ 11: 10_000n }), transfer_in: hours({ 16: 30_000n }) },
    });
    for (const channel of FLOW_CHANNELS) assert.equal(after.hourlyFen![channel]!.reduce((sum, amount) => sum + amount, 0n), after.totalsFen[channel], `${channel}: the hours add up to the day`);

    t.clock.set('2024-07-10T00:20:00+08:00');
    assert.deepEqual(await rollUpYesterday(t.ctx), after, 'the nightly job rolls up the day just over');
    t.clock.set('2024-07-11T08:00:00+08:00');
    await rollUpFlowDay(t.ctx, DAY);
    // The service's own: another test may import this date (the dashboard's year of synthetic flows).
    const stored = (await FlowDay.find({ date: DAY }).lean()).filter((day) => day._id.endsWith(':service'));
    assert.deepEqual(stored.map((day) => day._id), [`${DAY}:service`], 'one document however often it is rolled up');
    const [read] = await flowHistory(t.ctx, { fromDate: DAY, toDate: DAY });
    assert.deepEqual(read, after);

    // An import of the same day does not override what the service saw.
    const header = 'date,instant_redemption_yuan,payment_yuan,redemption_yuan,transfer_in_yuan';
    assert.deepEqual(await importFlowCsv(t.ctx, `${header}\n${DAY},1.00,2.00,3.00,4.00\n`), { days: 1 });
    assert.deepEqual(await flowHistory(t.ctx, { fromDate: DAY, toDate: DAY }), [after]);
  });

  it('imports a CSV of daily totals that reads back through the history, and refuses a bad file whole, naming the line', async () => {
    t.clock.set('2024-07-11T08:00:00+08:00');
    const good = [
      'date,transfer_in_yuan,instant_redemption_yuan,payment_yuan,redemption_yuan,payment_count,instant_redemption_count',
      '2019-03-01,80000.00,25000.50,40000.00,18000.00,320,17',
      '"2019-03-02",60000,20000.05,52000.10,6000.00,401,13',
      '',
      '2019-03-04,0.00,0,0.00,0.00,0,0',
    ].join('\r\n');
    assert.deepEqual(await importFlowCsv(t.ctx, `\uFEFF${good}\r\n`), { days: 3 });
    const history = await flowHistory(t.ctx, { fromDate: '2019-02-20', toDate: '2019-03-10' });
    assert.deepEqual(history, [
      { date: '2019-03-01', totalsFen: { instant_redemption: 2_500_050n, payment: 4_000_000n, redemption: 1_800_000n, transfer_in: 8_000_000n }, counts: { instant_redemption: 17, payment: 320, redemption: 0, transfer_in: 0 } },
      { date: '2019-03-02', totalsFen: { instant_redemption: 2_000_005n, payment: 5_200_010n, redemption: 600_000n, transfer_in: 6_000_000n }, counts: { instant_redemption: 13, payment: 401, redemption: 0, transfer_in: 0 } },
      { date: '2019-03-04', totalsFen: perChannel(() => 0n), counts: perChannel(() => 0) },
    ], 'the imported days only: the days no source speaks for, before the service saw a request, are a gap');

    const header = 'date,instant_redemption_yuan,payment_yuan,redemption_yuan,transfer_in_yuan';
    const goodRow = '2018-04-02,1.00,2.00,3.00,4.00';
    const bad = [
      { text: `${header}\n${goodRow}\n2018-04-31,1.00,2.00,3.00,4.00`, line: 3, says: /"2018-04-31" is not a yyyy-MM-dd date/ },
      { text: `${header}\n${goodRow}\n2018-04-03,-5.00,2.00,3.00,4.00`, line: 3, says: /instant_redemption_yuan "-5.00"/ },
      { text: `${header}\n${goodRow}\n2018-04-03,1.00,2.001,3.00,4.00`, line: 3, says: /payment_yuan "2.001"/ },
      { text: `${header},refund_yuan\n2018-04-03,1.00,2.00,3.00,4.00,5.00`, line: 1, says: /unknown column "refund_yuan"/ },
      { text: `date,instant_redemption_yuan,payment_yuan,redemption_yuan\n2018-04-03,1.00,2.00,3.00`, line: 1, says: /lacks transfer_in_yuan/ },
      { text: `${header}\n${goodRow}\n${goodRow}`, line: 3, says: /2018-04-02 is also on line 2/ },
      { text: `${header}\n${goodRow}\n2018-04-03,1.00,2.00,3.00`, line: 3, says: /expected 5 fields, found 4/ },
      { text: `${header},payment_count\n2018-04-03,1.00,2.00,3.00,4.00,0`, line: 2, says: /payment_count 0 does not fit payment_yuan/ },
      { text: `${header}\n2024-07-11,1.00,2.00,3.00,4.00`, line: 2, says: /not over yet/ },
      { text: `${header}\n`, line: 1, says: /no rows after the header/ },
    ];
    for (const { text, line, says } of bad) {
      await assert.rejects(importFlowCsv(t.ctx, text), (error: unknown) => {
        assert.ok(error instanceof DomainError, String(error));
        assert.equal(error.code, 'invalid_csv');
        assert.equal(error.extra.line, line, error.detail);
        assert.match(error.detail, says);
        assert.match(error.detail, /nothing was written$/);
        return true;
      });
    }
    assert.equal(await FlowDay.countDocuments({ month: '2018-04' }), 0, 'not even the good rows before the bad one');

    for (const range of [{ fromDate: '2019-03-10', toDate: '2019-03-01' }, { fromDate: '2016-01-01', toDate: '2019-03-01' }, { fromDate: '2019-02-30', toDate: '2019-03-01' }]) {
      await assert.rejects(flowHistory(t.ctx, range), (error: unknown) => error instanceof DomainError && error.code === 'invalid_request', JSON.stringify(range));
    }
  });
});
