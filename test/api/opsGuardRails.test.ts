/**
 * Ops guard rails (docs/ops-guard-rails.md, docs/ops-audit.md): a fund's start day, history
 * imported as reference from a CSV file without blocking the live fund, a plausibility band
 * that makes a second ops user confirm an outlier, and the audit of who did each.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { AuditEntry } from '../../src/audit/model.ts';
import { apiActor, audited } from '../../src/audit/service.ts';
import { FundDay } from '../../src/fund/model.ts';
import { newSortableId } from '../../src/ids.ts';
import { sevenDayYields } from '../../src/fund/service.ts';
import { assertProblem, newHolder, testApp, type Holder, type TestApp } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';
import { accrueAt, addBandedFund, addTestFund, fundDay, incomeOf, publish, subscribedHolder } from '../support/income.ts';

/** A `date,yieldPer10k` file of every day from..to, the rate moving a little each day. */
function yieldCsv(t: TestApp, from: string, to: string): string {
  const lines = ['date,yieldPer10k'];
  for (let date = from, index = 0; date <= to; date = t.ctx.calendar.addCalendarDays(date, 1), index++) lines.push(`${date},0.${4000 + (index % 300)}`);
  return `${lines.join('\n')}\n`;
}

const storedDays = (fundCode: string) => FundDay.countDocuments({ fundCode });

describe('ops guard rails', function () {
  this.timeout(120_000);
  let t: TestApp;
  let opsA: Holder;
  let opsB: Holder;

  before(async () => {
    t = testApp('2024-05-30T14:00:00+08:00');
    [opsA, opsB] = await Promise.all([newHolder(t.app, { ops: true }), newHolder(t.app, { ops: true })]);
  });

  const importCsv = (fundCode: string, csv: string, dryRun = false, ops = opsA) =>
    request(t.app).post(`/v1/ops/funds/${fundCode}/yields/import`).set(ops.auth).send({ lines: csv.split('\n'), dryRun });
  const setStart = (fundCode: string, startDate: string, ops = opsA) => request(t.app).put(`/v1/ops/funds/${fundCode}/start`).set(ops.auth).send({ startDate });
  const accrualOf = async (fundCode: string) => (await request(t.app).get(`/v1/ops/funds/${fundCode}/accrual`).set(opsA.auth).expect(200)).body;
  const auditOf = async (query: string) => (await request(t.app).get(`/v1/ops/audit?${query}`).set(opsB.auth).expect(200)).body;

  it('imports a year of 万份收益 as reference: a dry run writes nothing, and the live fund accrues from its start day unblocked', async () => {
    const fund = addTestFund(t);
    const holder = await subscribedHolder(t, fund, '10000.00'); // T Thu 05-30, earns from Fri 05-31
    await setStart(fund, '2024-05-31').expect(200, { fundCode: fund, startDate: '2024-05-31' });
    const year = yieldCsv(t, '2023-05-31', '2024-05-30');

    const dryRun = (await importCsv(fund, year, true).expect(200)).body;
    assert.equal(dryRun.dryRun, true);
    assert.deepEqual(dryRun.counts, { rows: 366, new: 366, correction: 0, unchanged: 0, refused: 0, conflict: 0, pending: 0, reference: 366 });
    assert.deepEqual(dryRun.rows[0], { line: 2, date: '2023-05-31', yieldPer10k: '0.4000', change: 'new', status: 'reference', reason: null });
    assert.equal(await storedDays(fund), 0, 'a dry run writes nothing');

    const imported = (await importCsv(fund, year).expect(200)).body;
    assert.equal(imported.counts.new, 366);
    assert.equal(await FundDay.countDocuments({ fundCode: fund, status: 'reference' }), 366);
    // Imported again: every row unchanged, nothing written.
    assert.equal((await importCsv(fund, year).expect(200)).body.counts.unchanged, 366);

    const days = (await request(t.app).get(`/v1/funds/${fund}/days?from=2024-05-29&to=2024-05-31`).expect(200)).body.days;
    assert.deepEqual(
      days.map((day: { date: string; status: string }) => [day.date, day.status]),
      [['2024-05-29', 'reference'], ['2024-05-30', 'reference'], ['2024-05-31', 'missing']],
    );
    // The history does not make the fund start in 2023: accrual waits for the start day only.
    const before = await accrualOf(fund);
    assert.equal(before.nextDate, '2024-05-31');
    await publish(t, opsA, fund, '2024-05-31', '0.4000');
    assert.deepEqual(await accrueAt(t, fund, '2024-05-31'), ['2024-05-31']);
    const status = await accrualOf(fund);
    assert.equal(status.lastAccruedDate, '2024-05-31');
    assert.equal(status.blocked, null);
    assert.equal((await incomeOf(holder.userId, '2024-05-31'))!.incomeFen, 40n);
    const history = (await request(t.app).get('/v1/me/income/2024-05-30').set(holder.auth).expect(200)).body;
    assert.deepEqual([history.status, history.reasons[0].code], ['before_fund_start', 'before_fund_start'], 'history, not a day still to accrue');
    // The 7-day yield of the first live day counts the six reference days before it.
    assert.notEqual((await fundDay(fund, '2024-05-31')).sevenDayYieldCompoundPercent, null);
    // History can still be corrected after the fund has accrued: it never was accrued.
    const corrected = (await importCsv(fund, 'date,yieldPer10k\n2024-05-01,0.5000\n').expect(200)).body;
    assert.deepEqual([corrected.rows[0].change, corrected.rows[0].status], ['correction', 'reference']);
  });

  it('sets a start day, puts it right while nothing is accrued, and never after the fund has accrued', async () => {
    const fund = addTestFund(t);
    await setStart(fund, '2024-06-03').expect(200);
    await setStart(fund, '2024-06-03').expect(200); // the same day again: no change
    await setStart(fund, '2024-06-04').expect(200, { fundCode: fund, startDate: '2024-06-04' });
    const accrued = addTestFund(t);
    await publish(t, opsA, accrued, '2024-05-29', '0.4000');
    await accrueAt(t, accrued, '2024-05-29');
    const fixed = await setStart(accrued, '2024-05-01');
    assertProblem(fixed, 409, 'fund_start_fixed');
    assert.match(fixed.body.detail, /has accrued from 2024-05-29/);
    // With no start day, a day before the first accrued one is refused, and the 409 says why.
    const earlier = await request(t.app).put(`/v1/ops/funds/${accrued}/yields/2024-05-20`).set(opsA.auth).send({ yieldPer10k: '0.4000' });
    assertProblem(earlier, 409, 'yield_before_fund_start');
    assert.match(earlier.body.detail, /has no start day set/);
  });

  it('refuses a bad CSV line by number, and a file with a refused row whole: nothing written', async () => {
    const fund = addTestFund(t);
    const cases: [string, RegExp][] = [
      ['day,rate\n2024-05-01,0.4000\n', /^Line 1: the header must be date,yieldPer10k/],
      ['date,yieldPer10k\n2024-05-01,0.4000\n2024-05-02,0.41234\n', /^Line 3: "0.41234" is not a 万份收益/],
      ['"date","yieldPer10k"\n2024-05-01,0.4000\n\n2024-13-01,0.4000\n', /^Line 4: "2024-13-01" is not a yyyy-MM-dd date/],
      ['date,yieldPer10k\n2024-05-01,0.4000\n2024-05-01,0.4100\n', /^Line 3: 2024-05-01 is also on line 2/],
      ['date,yieldPer10k\n2024-05-01,0.4000,x\n', /^Line 2: expected 2 fields/],
      ['date,yieldPer10k\n', /no rows after the header/],
    ];
    for (const [csv, detail] of cases) {
      const refused = await importCsv(fund, csv);
      assertProblem(refused, 400, 'invalid_csv');
      assert.match(refused.body.detail, detail);
    }
    const future = await importCsv(fund, 'date,yieldPer10k\n2024-05-01,0.4000\n2024-06-30,0.4000\n');
    assertProblem(future, 409, 'yield_import_refused');
    assert.match(future.body.detail, /^Line 3: 2024-06-30 has not begun/);
    assert.equal(future.body.line, 3);
    // The dry run shows each row, the refused one with its reason.
    const dryRun = (await importCsv(fund, 'date,yieldPer10k\n2024-05-01,0.4000\n2024-06-30,0.4000\n', true).expect(200)).body;
    assert.deepEqual(dryRun.rows.map((row: { change: string; reason: { code: string } | null }) => [row.change, row.reason?.code ?? null]), [
      ['new', null],
      ['refused', 'yield_date_in_future'],
    ]);
    assertProblem(await request(t.app).post(`/v1/ops/funds/${fund}/yields/import`).set(opsA.auth).send({ lines: ['date,yieldPer10k'], extra: 1 }), 400, 'invalid_request');
    assertProblem(await request(t.app).post(`/v1/ops/funds/${fund}/yields/import`).set(opsA.auth).send({ lines: 'date,yieldPer10k' }), 400, 'invalid_request');
    assert.equal(await storedDays(fund), 0);
  });

  it('keeps an implausible 万份收益 pending until a second ops user confirms the value they saw', async () => {
    const fund = addBandedFund(t, '2024-05-31');
    const holder = await subscribedHolder(t, fund, '10000.00');
    // Six days of history and an outlier on the first live day.
    const week = (await importCsv(fund, 'date,yieldPer10k\n2024-05-25,0.4\n2024-05-26,0.4\n2024-05-27,0.4\n2024-05-28,0.4\n2024-05-29,0.4\n2024-05-30,0.4\n').expect(200)).body;
    assert.deepEqual([week.counts.new, week.counts.reference], [6, 6]);
    const put = (date: string, yieldPer10k: string, ops: Holder) => request(t.app).put(`/v1/ops/funds/${fund}/yields/${date}`).set(ops.auth).send({ yieldPer10k });
    const confirm = (date: string, yieldPer10k: string, ops: Holder) =>
      request(t.app).post(`/v1/ops/funds/${fund}/yields/${date}/confirm`).set(ops.auth).send({ yieldPer10k });
    t.clock.set('2024-05-31T20:00:00+08:00');
    const outlier = (await put('2024-05-31', '4.1230', opsA).expect(200)).body;
    assert.deepEqual([outlier.status, outlier.change], ['pending', 'new']);

    // Pending counts nowhere: not shown, not in the 7-day yield, not accrued.
    const shown = (await request(t.app).get(`/v1/funds/${fund}/days?from=2024-05-31&to=2024-05-31`).expect(200)).body.days;
    assert.deepEqual(shown, [{ fundCode: fund, date: '2024-05-31', status: 'pending' }]);
    assert.equal((await sevenDayYields(t.ctx, fund, '2024-05-31')).compound, null);
    const report = (await request(t.app).get(`/v1/ops/reports/funds/${fund}/daily?from=2024-05-31&to=2024-05-31`).set(opsA.auth).expect(200)).body;
    assert.deepEqual([report.days[0].accrualStatus, report.days[0].sevenDayYieldCompoundPercent], ['pending', null], "nor in the ops report's 7-day yield");
    assert.deepEqual(await accrueAt(t, fund, '2024-05-31'), []);
    const blocked = await accrualOf(fund);
    assert.equal(blocked.nextDate, '2024-05-31');
    assert.equal(blocked.nextStatus, 'pending');
    assert.match(blocked.blocked, /2024-05-31 \(4.1230\) is outside the fund's plausibility band and waits for a second ops user/);
    const listed = (await request(t.app).get(`/v1/ops/funds/${fund}/yields/pending`).set(opsB.auth).expect(200)).body;
    assert.deepEqual(listed.days.map((day: { date: string; yieldPer10k: string; publishedBy: string }) => [day.date, day.yieldPer10k, day.publishedBy]), [
      ['2024-05-31', '4.1230', opsA.userId],
    ]);

    assertProblem(await confirm('2024-05-31', '4.1230', opsA), 403, 'yield_confirmation_own');
    // The publisher changes the value: a confirmation of the value B saw confirms nothing.
    await put('2024-05-31', '4.2000', opsA).expect(200);
    const stale = await confirm('2024-05-31', '4.1230', opsB);
    assertProblem(stale, 409, 'yield_changed');
    assert.equal(stale.body.yieldPer10k, '4.2000');
    assert.equal((await fundDay(fund, '2024-05-31')).status, 'pending');
    assertProblem(await confirm('2024-05-30', '0.4000', opsB), 409, 'yield_not_pending');

    const confirmed = (await confirm('2024-05-31', '4.2000', opsB).expect(200)).body;
    assert.deepEqual([confirmed.status, confirmed.yieldPer10k], ['published', '4.2000']);
    assert.notEqual((await sevenDayYields(t.ctx, fund, '2024-05-31')).compound, null);
    assert.deepEqual(await accrueAt(t, fund, '2024-05-31'), ['2024-05-31']);
    assert.equal((await incomeOf(holder.userId, '2024-05-31'))!.incomeFen, 420n);
    const stored = await fundDay(fund, '2024-05-31');
    assert.deepEqual([stored.publishedBy, stored.confirmedBy], [opsA.userId, opsB.userId]);
  });

  it('records who did each ops action and how it ended, filtered and paged', async () => {
    const fund = addBandedFund(t);
    t.clock.set('2024-05-31T20:00:00+08:00');
    await request(t.app).put(`/v1/ops/funds/${fund}/yields/2024-05-31`).set(opsA.auth).send({ yieldPer10k: '9.0000' }).expect(200);
    await request(t.app).post(`/v1/ops/funds/${fund}/yields/2024-05-31/confirm`).set(opsA.auth).send({ yieldPer10k: '9.0000' }).expect(403);
    await request(t.app).post(`/v1/ops/funds/${fund}/yields/2024-05-31/confirm`).set(opsB.auth).send({ yieldPer10k: '9.0000' }).expect(200);
    await importCsv(fund, 'date,yieldPer10k\n2024-05-30,0.4000\n').expect(200);
    await request(t.app).post('/v1/ops/reserve/adjustments').set(opsA.auth).set('Idempotency-Key', `audit-${fund}`).send({ amount: '10.00', direction: 'increase' }).expect(201);

    const byA = (await auditOf(`actor=${opsA.loginId}&limit=100`)).items;
    const ofFund = byA.filter((item: { target: string }) => item.target.startsWith(fund)).reverse();
    assert.deepEqual(
      ofFund.map((item: { action: string; outcome: string; code: string | null; actor: { userId: string; loginId: string; via: string } }) => [
        item.action,
        item.outcome,
        item.code,
        item.actor.userId,
        item.actor.loginId,
        item.actor.via,
      ]),
      [
        ['yield.publish', 'done', null, opsA.userId, opsA.loginId, 'api'],
        ['yield.confirm', 'refused', 'yield_confirmation_own', opsA.userId, opsA.loginId, 'api'],
        ['yield.import', 'done', null, opsA.userId, opsA.loginId, 'api'],
      ],
    );
    assert.deepEqual(ofFund[0].request, { yieldPer10k: '9.0000' });
    assert.deepEqual(ofFund[0].result, { change: 'new', status: 'pending' });
    assert.ok(byA.some((item: { action: string; outcome: string; request: { idempotencyKey?: string } }) => item.action === 'reserve.adjust' && item.outcome === 'done' && item.request.idempotencyKey === `audit-${fund}`));
    const confirmations = (await auditOf(`actor=${opsB.userId}&action=yield.confirm`)).items;
    assert.ok(confirmations.some((item: { target: string; outcome: string }) => item.target === `${fund} 2024-05-31` && item.outcome === 'done'));

    // Pages of one, newest first, by cursor: each entry once.
    const first = await auditOf(`actor=${opsA.loginId}&limit=1`);
    const second = await auditOf(`actor=${opsA.loginId}&limit=1&cursor=${first.nextCursor}`);
    assert.deepEqual([first.items[0].id, second.items[0].id], [byA[0].id, byA[1].id]);
    assertProblem(await request(t.app).get('/v1/ops/audit?cursor=bogus').set(opsA.auth), 400, 'invalid_cursor');
    assertProblem(await request(t.app).get('/v1/ops/audit?action=steal').set(opsA.auth), 400, 'invalid_request');
    assert.deepEqual((await auditOf(`actor=${opsA.loginId}&from=2030-01-01&to=2030-01-02`)).items, []);
  });

  it('records the entry before the action: a failure shows as failed, a crash before the outcome as unknown', async () => {
    const actor = await apiActor(opsA.userId);
    const target = uniqueId('target');
    await assert.rejects(
      audited(t.ctx, { actor, action: 'fund.start', target }, () => Promise.reject(new Error('database went away'))),
      /database went away/,
    );
    // What a process that died between the action and its outcome leaves: the entry alone.
    await AuditEntry.create({ _id: newSortableId('aud'), at: t.clock.now(), actorId: actor.id, actorLogin: actor.login, via: 'api', action: 'fund.start', target, request: {} });
    const items = (await auditOf(`actor=${opsA.userId}&action=fund.start&limit=100`)).items.filter((item: { target: string }) => item.target === target);
    assert.deepEqual(
      items.map((item: { outcome: string; detail: string | null; settledAt: string | null }) => [item.outcome, item.detail, item.settledAt === null]),
      [
        ['unknown', null, true],
        ['failed', 'database went away', false],
      ],
    );
  });

  it('answers 403 to a caller without the ops role on every new route, and writes nothing', async () => {
    const fund = addBandedFund(t);
    const holder = await newHolder(t.app);
    const calls = [
      request(t.app).put(`/v1/ops/funds/${fund}/start`).send({ startDate: '2024-06-03' }),
      request(t.app).post(`/v1/ops/funds/${fund}/yields/import`).send({ lines: ['date,yieldPer10k', '2024-05-01,0.4'] }),
      request(t.app).get(`/v1/ops/funds/${fund}/yields/pending`),
      request(t.app).post(`/v1/ops/funds/${fund}/yields/2024-05-01/confirm`).send({ yieldPer10k: '0.4' }),
      request(t.app).get('/v1/ops/audit'),
    ];
    for (const call of calls) assertProblem(await call.set(holder.auth), 403, 'forbidden');
    assert.equal(await storedDays(fund), 0);
    assert.deepEqual((await auditOf(`actor=${holder.userId}`)).items, []);
  });
});
