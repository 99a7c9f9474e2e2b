import assert from 'node:assert/strict';
import request from 'supertest';
import { AccrualPartition, dayKey, sharesAfter } from '../../src/income/model.ts';
import { accruePartition, closeAccrualDay, openAccrualDay, openPartitions } from '../../src/income/accrual.ts';
import { Account } from '../../src/accounts/model.ts';
import { FundBook } from '../../src/fund/model.ts';
import { reconcileJournal } from '../../src/reconciliation/service.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { balancesOf, idempotencyKey, newHolder, testApp, type Holder, type TestApp } from '../support/api.ts';
import { accrueAt, addTestFund, fundDay, incomeOf, publish, publishDays, recordsOfDay, redeem, subscribedHolder, transferIn } from '../support/income.ts';

const FEN8_PER_FEN = 100_000_000n;

async function accountOf(t: TestApp, holder: Holder) {
  return (await request(t.app).get('/v1/me/account').set(holder.auth).expect(200)).body;
}

describe('daily income accrual', function () {
  this.timeout(120_000);
  let t: TestApp;
  let ops: Holder;

  beforeEach(async () => {
    t = testApp('2024-05-30T14:00:00+08:00');
    ops = await newHolder(t.app, { ops: true });
  });

  it('closes a day nobody holds anything on at once, without partitions, and accrues as usual from the day shares arrive', async () => {
    const fundCode = addTestFund(t);
    await publishDays(t, ops, fundCode, '2024-05-28', '2024-05-30', '0.4000');
    const holder = await subscribedHolder(t, fundCode, '10000.00'); // T Thu 05-30, earns from Fri 05-31
    await publishDays(t, ops, fundCode, '2024-05-31', '2024-06-01', '0.4000');
    assert.deepEqual(await accrueAt(t, fundCode, '2024-06-01'), ['2024-05-28', '2024-05-29', '2024-05-30', '2024-05-31', '2024-06-01']);
    const partitionsOf = (date: string) => AccrualPartition.countDocuments({ dayKey: dayKey(fundCode, date) });
    // The first day reads every earlier operation, and 05-31 confirms the holder's shares: partitions.
    assert.deepEqual(
      await Promise.all(['2024-05-28', '2024-05-29', '2024-05-30', '2024-05-31', '2024-06-01'].map(partitionsOf)),
      [t.ctx.config.accrual.partitions, 0, 0, t.ctx.config.accrual.partitions, t.ctx.config.accrual.partitions],
    );
    // The same figures as the first day's, accrued through its partitions with nobody in them.
    const figures = ({ status, holders, eligibleSharesFen, distributedFen, residualFen8 }: Awaited<ReturnType<typeof fundDay>>) => [status, holders, eligibleSharesFen, distributedFen, residualFen8];
    const throughPartitions = figures(await fundDay(fundCode, '2024-05-28'));
    assert.deepEqual(throughPartitions.slice(0, 2), ['accrued', 0]);
    for (const date of ['2024-05-29', '2024-05-30']) assert.deepEqual(figures(await fundDay(fundCode, date)), throughPartitions, date);
    assert.equal((await incomeOf(holder.userId, '2024-05-31'))!.incomeFen, 40n);
    assert.equal((await incomeOf(holder.userId, '2024-06-01'))!.incomeFen, 40n);
    assert.equal((await FundBook.findById(fundCode).lean())!.lastAccruedDate, '2024-06-01');
  });

  // The exact product, 999,999,999,999 × 99,999,999 ≈ 2^66, passes int64: only its remainder is stored.
  it('accrual of a holder at the balance maximum at the highest 万份收益 completes with exact figures', async () => {
    const maxFen = 1_000_000_000_000n; // 10,000,000,000.00 yuan, the default balance maximum
    t = testApp('2024-05-30T10:00:00+08:00', { operationMaxFen: maxFen, balanceMaxFen: maxFen } as never);
    const fundCode = addTestFund(t);
    ops = await newHolder(t.app, { ops: true });
    const holder = await newHolder(t.app);
    await request(t.app)
      .post('/v1/me/transfers-in')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '9999999999.99', channel: 'bank_card', bankCardId: holder.bankCardId, fundCode })
      .expect(201);
    t.clock.set('2024-05-31T10:00:00+08:00');
    await advanceDueOperations(t.ctx);
    await publish(t, ops, fundCode, '2024-05-31', '9999.9999');
    assert.deepEqual(await accrueAt(t, fundCode, '2024-05-31'), ['2024-05-31']);
    const day = await fundDay(fundCode, '2024-05-31');
    // 999,999,999,999 fen × 99,999,999 / 10^8 = 999,999,989,999 fen and 10^-8 fen over.
    assert.equal(day.status, 'accrued');
    assert.equal(day.eligibleSharesFen, 999_999_999_999n);
    assert.equal(day.distributedFen, 999_999_989_999n);
    assert.equal(day.residualFen8, 1n);
    const days = await request(t.app).get(`/v1/funds/${fundCode}/days?from=2024-05-31&to=2024-05-31`).set(ops.auth).expect(200);
    assert.equal(days.body.days[0].incomeDistributed, '9999999899.99');
    assert.equal(days.body.days[0].residual, '0.0000000001');
  });

  it('credits 12,345.67 shares at 0.4123 with 0.50 yuan and books the rest to the residual', async () => {
    const fund = addTestFund(t);
    const holders = await Promise.all(['12345.67', '1.00', '0.99', '5000.00', '7777.77'].map((amount) => subscribedHolder(t, fund, amount)));
    await publish(t, ops, fund, '2024-05-31', '0.4123');
    assert.deepEqual(await accrueAt(t, fund, '2024-05-31'), ['2024-05-31']);
    const expected = [50n, 0n, 0n, 20n, 32n]; // 0.5090119741, 0.0000412300, 0.0000408177, 0.20615, 0.3206774571
    for (const [index, holder] of holders.entries()) assert.equal((await incomeOf(holder.userId, '2024-05-31'))!.incomeFen, expected[index]);
    const day = await fundDay(fund, '2024-05-31');
    assert.equal(day.holders, 5);
    assert.equal(day.eligibleSharesFen, 2_512_543n);
    assert.equal(day.distributedFen, 102n);
    // distributed + residual = eligible × 万份收益 / 10,000, exactly (in 10^-8 fen)
    assert.equal(day.distributedFen! * FEN8_PER_FEN + day.residualFen8!, 2_512_543n * 4123n);
    assert.equal(BigInt((await FundBook.findById(fund).lean())!.residualFen8), day.residualFen8);
    const explained = (await request(t.app).get('/v1/me/income/2024-05-31').set(holders[0]!.auth).expect(200)).body;
    assert.equal(explained.eligibleShares, '12345.67');
    assert.equal(explained.exactIncome, '0.5090119741');
    assert.equal(explained.income, '0.50');
    assert.ok(explained.reasons.some((reason: { code: string }) => reason.code === 'truncated'));
    const tiny = (await request(t.app).get('/v1/me/income/2024-05-31').set(holders[1]!.auth).expect(200)).body;
    assert.equal(tiny.income, '0.00');
    assert.ok(tiny.reasons.some((reason: { code: string }) => reason.code === 'below_minimum'));
  });

  it('follows the worked examples: T, confirmation, first income, weekends and the Dragon Boat holiday', async () => {
    const fund = addTestFund(t);
    const thursday = await subscribedHolder(t, fund, '10000.00'); // Thu 05-30 14:00 -> earns from Fri 05-31
    t.clock.set('2024-05-31T15:30:00+08:00');
    const fridayLate = await subscribedHolder(t, fund, '10000.00'); // Fri 15:30 -> T Mon 06-03, earns from Tue 06-04
    t.clock.set('2024-06-06T14:00:00+08:00');
    const beforeHoliday = await subscribedHolder(t, fund, '10000.00'); // Thu 06-06 -> earns from Fri 06-07
    t.clock.set('2024-06-07T14:00:00+08:00');
    const holidayEve = await subscribedHolder(t, fund, '10000.00'); // Fri 06-07 -> confirmed Tue 06-11
    await publishDays(t, ops, fund, '2024-05-30', '2024-06-11', '1.0000');
    await accrueAt(t, fund, '2024-06-11');
    const earningDays = async (holder: Holder) => {
      const days: string[] = [];
      for (let date = '2024-05-30'; date <= '2024-06-11'; date = t.ctx.calendar.addCalendarDays(date, 1)) {
        if (((await incomeOf(holder.userId, date))?.incomeFen ?? 0n) > 0n) days.push(date);
      }
      return days;
    };
    const range = (from: string, to: string) => {
      const dates: string[] = [];
      for (let date = from; date <= to; date = t.ctx.calendar.addCalendarDays(date, 1)) dates.push(date);
      return dates;
    };
    assert.deepEqual(await earningDays(thursday), range('2024-05-31', '2024-06-11'));
    assert.deepEqual(await earningDays(fridayLate), range('2024-06-04', '2024-06-11'));
    assert.deepEqual(await earningDays(beforeHoliday), range('2024-06-07', '2024-06-11'));
    assert.deepEqual(await earningDays(holidayEve), ['2024-06-11']);
    // carried forward: 10,000 shares at 1.0000 per 10,000 earn 1.00, then 1.0001 -> 1.00 (truncated)
    assert.equal((await incomeOf(thursday.userId, '2024-05-31'))!.incomeFen, 100n);
    assert.equal((await incomeOf(thursday.userId, '2024-06-01'))!.eligibleSharesFen, 1_000_100n);
    // the first income for Fri 05-31 is what Saturday's account shows as yesterday's
    t.clock.set('2024-06-01T09:00:00+08:00');
    const explainedEve = (await request(t.app).get('/v1/me/income/2024-06-08').set(holidayEve.auth).expect(200)).body;
    assert.ok(explainedEve.reasons.some((reason: { code: string }) => reason.code === 'not_yet_confirmed'));
  });

  it("shows yesterday's and cumulative income on the account, and lets the holder redeem it", async () => {
    const fund = addTestFund(t);
    const holder = await subscribedHolder(t, fund, '10000.00');
    await publishDays(t, ops, fund, '2024-05-31', '2024-06-02', '0.5000');
    await accrueAt(t, fund, '2024-06-02');
    t.clock.set('2024-06-03T09:00:00+08:00');
    const account = await accountOf(t, holder);
    assert.equal(account.income.yesterday, '0.50');
    assert.equal(account.income.cumulative, '1.50');
    assert.equal(account.shares, '10001.50');
    assert.equal((await balancesOf(holder.userId)).sharesFen, 1_000_000n); // folded only when money moves
    await redeem(t.app, holder, '10001.50');
    const after = await balancesOf(holder.userId);
    assert.equal(after.sharesFen, 0n);
    assert.equal(after.redeemingFen, 1_000_150n);
    assert.deepEqual((await reconcileJournal()).breaks.filter((item) => item.userId === holder.userId), []);
    assert.equal((await accountOf(t, holder)).income.cumulative, '1.50');
  });

  it('credits zero and negative days, truncating a loss toward zero', async () => {
    const fund = addTestFund(t);
    const holder = await subscribedHolder(t, fund, '12345.67');
    await publish(t, ops, fund, '2024-05-31', '0.0000');
    await publish(t, ops, fund, '2024-06-01', '-0.4123');
    await accrueAt(t, fund, '2024-06-01');
    assert.equal((await incomeOf(holder.userId, '2024-05-31'))!.incomeFen, 0n);
    const loss = (await incomeOf(holder.userId, '2024-06-01'))!;
    assert.equal(loss.incomeFen, -50n); // -0.5090119741 -> -0.50
    assert.equal(sharesAfter(loss), 1_234_517n);
    const day = await fundDay(fund, '2024-06-01');
    assert.equal(day.distributedFen! * FEN8_PER_FEN + day.residualFen8!, 1_234_567n * -4123n);
  });

  it('reconciliation reports a negative balance as a break of its own', async () => {
    const holder = await newHolder(t.app);
    // No leg leaves a balance below zero (test/integration/negativeDay.test.ts): a damaged document stands for it.
    await Account.updateOne({ _id: holder.userId }, { $inc: { walletFen: -500n } });
    const breaks = (await reconcileJournal()).breaks.filter((item) => item.userId === holder.userId);
    assert.deepEqual(breaks, [
      { userId: holder.userId, field: 'walletFen', balance: '-5.00', postings: '0.00' },
      { userId: holder.userId, field: 'walletFen', balance: '-5.00', postings: '0.00', rule: 'not_negative' },
    ]);
    await Account.updateOne({ _id: holder.userId }, { $inc: { walletFen: 500n } }); // the journal the suite leaves behind is whole
    assert.deepEqual((await reconcileJournal()).breaks.filter((item) => item.userId === holder.userId), []);
  });

  it('publishes the 7-day annualised yield once 7 days are known: 0.4 every day gives 1.471% and 1.460%', async () => {
    const fund = addTestFund(t);
    await subscribedHolder(t, fund, '100.00');
    await publishDays(t, ops, fund, '2024-05-30', '2024-06-05', '0.4000');
    await accrueAt(t, fund, '2024-06-05');
    const sixth = await fundDay(fund, '2024-06-04');
    assert.equal(sixth.sevenDayYieldCompoundPercent, null);
    const seventh = await fundDay(fund, '2024-06-05');
    assert.equal(seventh.sevenDayYieldCompoundPercent, '1.471');
    assert.equal(seventh.sevenDayYieldSimplePercent, '1.460');
  });

  it('keeps income for D to the shares held at the end of D, whatever happens on D+1 before the job', async () => {
    const fund = addTestFund(t);
    const holder = await subscribedHolder(t, fund, '10000.00');
    await publishDays(t, ops, fund, '2024-05-31', '2024-06-01', '1.0000');
    t.clock.set('2024-06-02T10:00:00+08:00'); // Sunday: D+1 for D = Saturday 06-01
    await advanceDueOperations(t.ctx);
    await redeem(t.app, holder, '4000.00');
    await transferIn(t.app, holder, fund, '0.01').catch(() => undefined); // wallet is empty: refused, changes nothing
    await accrueAt(t, fund, '2024-06-01');
    assert.equal((await incomeOf(holder.userId, '2024-06-01'))!.eligibleSharesFen, 1_000_100n);
    await publish(t, ops, fund, '2024-06-02', '1.0000');
    await accrueAt(t, fund, '2024-06-02');
    const sunday = (await incomeOf(holder.userId, '2024-06-02'))!;
    assert.equal(sunday.changeFen, -400_000n); // redeemed shares stop earning on the day of the request
    assert.equal(sunday.eligibleSharesFen, 1_000_200n - 400_000n);
  });

  it('under the classic fund rule, redeemed shares earn until the day before T', async () => {
    t.ctx.config = { ...t.ctx.config, redemption: { redeemedSharesEarnUntil: 'dayBeforeTradeDate' } };
    const fund = addTestFund(t);
    const holder = await subscribedHolder(t, fund, '10000.00');
    t.clock.set('2024-05-31T15:30:00+08:00'); // Friday after the cut-off: T is Monday 06-03
    await advanceDueOperations(t.ctx);
    await redeem(t.app, holder, '10000.00');
    await publishDays(t, ops, fund, '2024-05-31', '2024-06-03', '1.0000');
    await accrueAt(t, fund, '2024-06-03');
    for (const date of ['2024-05-31', '2024-06-01', '2024-06-02']) assert.ok((await incomeOf(holder.userId, date))!.incomeFen > 0n, date);
    const monday = (await incomeOf(holder.userId, '2024-06-03'))!;
    assert.equal(monday.changeFen, -1_000_000n);
    assert.equal(monday.eligibleSharesFen, 300n); // only the income carried forward still earns
  });

  it('changes nothing when a day is accrued again', async () => {
    const fund = addTestFund(t);
    await Promise.all(['100.00', '200.00', '300.00'].map((amount) => subscribedHolder(t, fund, amount)));
    await publish(t, ops, fund, '2024-05-31', '0.4123');
    await accrueAt(t, fund, '2024-05-31');
    const K = t.ctx.config.accrual.partitions;
    const before = await snapshot(fund, '2024-05-31', K);
    assert.deepEqual(await accrueAt(t, fund, '2024-05-31'), []);
    for (let partition = 0; partition < t.ctx.config.accrual.partitions; partition++) {
      await accruePartition(t.ctx, fund, '2024-05-31', partition);
    }
    assert.equal(await closeAccrualDay(t.ctx, fund, '2024-05-31'), true);
    assert.deepEqual(await snapshot(fund, '2024-05-31', K), before);
    const refused = await request(t.app).put(`/v1/ops/funds/${fund}/yields/2024-05-31`).set(ops.auth).send({ yieldPer10k: '0.5000' });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'yield_already_accrued');
    // A day before the fund's first accrued day was never published: not "accrued".
    const earlier = await request(t.app).put(`/v1/ops/funds/${fund}/yields/2024-05-20`).set(ops.auth).send({ yieldPer10k: '0.5000' });
    assert.equal(earlier.status, 409);
    assert.equal(earlier.body.code, 'yield_before_fund_start');
    assert.match(earlier.body.detail, /before the first day .* accrued \(its accrual stands at 2024-05-31\)/);
  });

  it('resumes a crashed partition from its checkpoint and ends exactly as a clean run', async () => {
    const amounts = ['100.00', '200.00', '300.00', '400.00', '500.00', '600.00', '700.00', '800.00'];
    const crashed = addTestFund(t);
    const clean = addTestFund(t);
    await Promise.all(amounts.flatMap((amount) => [subscribedHolder(t, crashed, amount), subscribedHolder(t, clean, amount)]));
    for (const fund of [crashed, clean]) await publish(t, ops, fund, '2024-05-31', '0.4123');
    await accrueAt(t, clean, '2024-05-31');

    t.ctx.config = { ...t.ctx.config, accrual: { ...t.ctx.config.accrual, batchSize: 1 } };
    const day = (await openAccrualDay(t.ctx, crashed))!;
    const crash = new Error('worker killed');
    // A worker dies after its first batch in every partition that has more than one holder...
    for (const partition of await openPartitions(crashed, day.date)) {
      await accruePartition(t.ctx, crashed, day.date, partition, { afterBatch: () => Promise.reject(crash) }).catch((error) => {
        if (error !== crash) throw error;
      });
    }
    // ...and another after appending its records, before its checkpoint moved.
    const done = await AccrualPartition.findOne({ dayKey: dayKey(crashed, day.date), status: 'done', holders: { $gt: 0 } }).lean();
    if (done) {
      await AccrualPartition.updateOne(
        { _id: done._id },
        { $set: { status: 'open', checkpointHolderId: null, holders: 0, eligibleSharesFen: '0', distributedFen: '0', residualFen8: '0' } },
      );
    }
    assert.deepEqual(await accrueAt(t, crashed, '2024-05-31'), ['2024-05-31']);
    const [a, b] = [await fundDay(crashed, '2024-05-31'), await fundDay(clean, '2024-05-31')];
    for (const field of ['holders', 'eligibleSharesFen', 'distributedFen', 'residualFen8'] as const) assert.equal(a[field], b[field], field);
    const K = t.ctx.config.accrual.partitions;
    assert.equal((await recordsOfDay(crashed, '2024-05-31', K)).length, amounts.length);
    const incomes = async (fund: string) => (await recordsOfDay(fund, '2024-05-31', K)).map((record) => String(record.incomeFen)).sort();
    assert.deepEqual(await incomes(crashed), await incomes(clean));
  });

  it('stops at a day without a published yield and reports it', async () => {
    const fund = addTestFund(t);
    await subscribedHolder(t, fund, '100.00');
    await publish(t, ops, fund, '2024-05-31', '0.4000');
    await publish(t, ops, fund, '2024-06-02', '0.4000');
    assert.deepEqual(await accrueAt(t, fund, '2024-06-02'), ['2024-05-31']);
    const status = (await request(t.app).get(`/v1/ops/funds/${fund}/accrual`).set(ops.auth).expect(200)).body;
    assert.equal(status.lastAccruedDate, '2024-05-31');
    assert.equal(status.nextDate, '2024-06-01');
    assert.match(status.blocked, /2024-06-01/);
    await publish(t, ops, fund, '2024-06-01', '0.4000');
    assert.deepEqual(await accrueAt(t, fund, '2024-06-02'), ['2024-06-01', '2024-06-02']);
  });
});

async function snapshot(fundCode: string, date: string, partitionCount: number) {
  const records = await recordsOfDay(fundCode, date, partitionCount);
  const day = await fundDay(fundCode, date);
  const book = await FundBook.findById(fundCode).lean();
  return { records, day, book };
}
