/**
 * Review of issue 23's guard rails, audit and holder look-up, attacked as a hostile ops user, a
 * careless integrator and a crashing machine would. Each test proves one defect found in review.
 * Tests named "OPEN DEFECT" fail until the defect is fixed (docs of the finding in the review
 * report); the others guard a defect fixed alongside them.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { AuditEntry, AuditOutcome, type AuditEntryDocument } from '../../src/audit/model.ts';
import { FundBook, FundDay, fundDayId } from '../../src/fund/model.ts';
import { setFundStart } from '../../src/fund/service.ts';
import { accruePartition, closeAccrualDay, openAccrualDay, openPartitions } from '../../src/income/accrual.ts';
import { Merchant } from '../../src/merchants/model.ts';
import { assertProblem, LOGIN_PASSWORD, newHolder, testApp, type Holder, type TestApp } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';
import { accrueAt, addBandedFund, addTestFund, publish } from '../support/income.ts';

describe('review of issue 23: guard rails, audit, holder look-up', function () {
  this.timeout(120_000);
  let t: TestApp;
  let opsA: Holder;
  let opsB: Holder;

  before(async () => {
    t = testApp('2024-06-02T10:00:00+08:00');
    [opsA, opsB] = await Promise.all([newHolder(t.app, { ops: true }), newHolder(t.app, { ops: true })]);
  });

  const publishAs = (ops: Holder, fund: string, date: string, yieldPer10k: string) =>
    request(t.app).put(`/v1/ops/funds/${fund}/yields/${date}`).set(ops.auth).send({ yieldPer10k });
  const confirmAs = (ops: Holder, fund: string, date: string, yieldPer10k: string) =>
    request(t.app).post(`/v1/ops/funds/${fund}/yields/${date}/confirm`).set(ops.auth).send({ yieldPer10k });

  it('registering a merchant is an ops action with its audit entry (was unaudited)', async () => {
    const name = uniqueId('Review shop');
    const created = (await request(t.app).post('/v1/ops/merchants').set(opsA.auth).send({ name }).expect(201)).body;
    assert.ok(await Merchant.exists({ _id: created.id }));
    const entry = await AuditEntry.findOne({ actorId: opsA.userId, action: 'merchant.create' as never }).lean<AuditEntryDocument>();
    assert.ok(entry, 'POST /v1/ops/merchants changed ops state with no audit entry');
    assert.deepEqual([entry.target, entry.request], [name, { name }]);
    const outcome = await AuditOutcome.findById(entry._id).lean();
    assert.deepEqual([outcome?.outcome, outcome?.result], ['done', { merchantId: created.id }]);
    const listed = (await request(t.app).get(`/v1/ops/audit?actor=${opsA.loginId}&action=merchant.create`).set(opsB.auth).expect(200)).body.items;
    assert.deepEqual(listed.map((item: { target: string }) => item.target), [name]);
  });

  it('publishing a confirmed outlier again, unchanged, keeps the second ops user\'s confirmation (was sent back to pending)', async () => {
    const fund = addBandedFund(t);
    await publishAs(opsA, fund, '2024-06-01', '5.0000').expect(200);
    await confirmAs(opsB, fund, '2024-06-01', '5.0000').expect(200);
    // A retried PUT (a client timeout, a script run twice) or the same CSV imported again.
    const again = (await publishAs(opsA, fund, '2024-06-01', '5.0000').expect(200)).body;
    assert.deepEqual([again.status, again.change], ['published', 'unchanged']);
    const reimported = (
      await request(t.app).post(`/v1/ops/funds/${fund}/yields/import`).set(opsA.auth).send({ lines: ['date,yieldPer10k', '2024-06-01,5.0000'] }).expect(200)
    ).body;
    assert.deepEqual([reimported.rows[0].change, reimported.rows[0].status], ['unchanged', 'published']);
    const day = (await FundDay.findById(fundDayId(fund, '2024-06-01')).lean())!;
    assert.deepEqual([day.status, day.publishedBy, day.confirmedBy], ['published', opsA.userId, opsB.userId]);
    // A different outlier is a new value: it waits for a second ops user again.
    assert.equal((await publishAs(opsA, fund, '2024-06-01', '5.1000').expect(200)).body.status, 'pending');
  });

  it('a mistyped start day can be put right while nothing has been accrued (was final)', async () => {
    const fund = addTestFund(t);
    await publish(t, opsA, fund, '2024-06-01', '0.4000');
    // 2099 for 2024: accepted, and every published day is now reference, nothing will accrue for 75 years.
    await request(t.app).put(`/v1/ops/funds/${fund}/start`).set(opsA.auth).send({ startDate: '2099-06-01' }).expect(200);
    assert.equal((await FundDay.findById(fundDayId(fund, '2024-06-01')).lean())!.status, 'reference');
    const fixed = await request(t.app).put(`/v1/ops/funds/${fund}/start`).set(opsA.auth).send({ startDate: '2024-06-01' });
    assert.equal(fixed.status, 200, `no day accrued, yet the typo is final: ${fixed.body.code} ${fixed.body.detail}`);
  });

  it('a start day set while the first accrual opens its day never strands the fund (was stranded)', async () => {
    const fund = addTestFund(t);
    await publish(t, opsA, fund, '2024-05-30', '0.4000');
    await publish(t, opsA, fund, '2024-05-31', '0.4000');
    t.clock.set('2024-06-02T10:00:00+08:00');
    // The accrual job opens the fund's first day (05-30) between setFundStart's check for accrued
    // days and its write of the start day: both are real writes on the real database, in that order.
    const updateOne = FundBook.updateOne;
    let interleaved = false;
    FundBook.updateOne = function (this: unknown, ...args: Parameters<typeof updateOne>) {
      const [filter, update] = args as unknown as [Record<string, unknown>, { $set?: Record<string, unknown> }];
      if (!interleaved && filter._id === fund && update?.$set?.startDate !== undefined) {
        interleaved = true;
        return openAccrualDay(t.ctx, fund).then(() => updateOne.apply(FundBook, args)) as never;
      }
      return updateOne.apply(FundBook, args);
    } as typeof updateOne;
    try {
      // The accrual pinned its first day on the book first: the start day meets it there and is refused.
      await assert.rejects(setFundStart(t.ctx, fund, '2024-06-01'), (error: { code?: string }) => error.code === 'fund_start_fixed');
    } finally {
      FundBook.updateOne = updateOne;
    }
    assert.ok(interleaved);
    // The job that opened 05-30 runs its partitions and closes it, as runPartitionJob does.
    for (const partition of await openPartitions(fund, '2024-05-30')) await accruePartition(t.ctx, fund, '2024-05-30', partition);
    await closeAccrualDay(t.ctx, fund, '2024-05-30');
    await publish(t, opsA, fund, '2024-06-01', '0.4000');
    await accrueAt(t, fund, '2024-06-01');
    // The start day was refused (05-30 was being accrued), and the fund accrues on: never stuck.
    const status = (await request(t.app).get(`/v1/ops/funds/${fund}/accrual`).set(opsA.auth).expect(200)).body;
    assert.equal(
      status.lastAccruedDate,
      '2024-06-01',
      `stranded: accrued ${status.lastAccruedDate}, next ${status.nextDate} is ${status.nextStatus} (reference after an accrued day, which nothing can change), blocked: ${status.blocked}`,
    );
  });

  it('a holder cannot take another user\'s id as login id and hide behind it in the look-up (was accepted)', async () => {
    const victim = await newHolder(t.app);
    const squatter = await request(t.app).post('/v1/users').send({ loginId: victim.userId, loginPassword: LOGIN_PASSWORD });
    // Accepted, support looking the caller up by the login id they give was shown the victim's account.
    assertProblem(squatter, 400, 'invalid_request');
    assert.match(squatter.body.detail, /must not look like a user id/);
    const looked = (await request(t.app).get(`/v1/ops/holders/${victim.userId}`).set(opsA.auth).expect(200)).body;
    assert.equal(looked.loginId, victim.loginId);
  });
});
