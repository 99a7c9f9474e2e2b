import assert from 'node:assert/strict';
import request, { type Response } from 'supertest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Account, type AccountDocument } from '../../src/accounts/model.ts';
import { verifyPaymentPassword } from '../../src/auth/service.ts';
import { Operation } from '../../src/operations/model.ts';
import { advanceDueOperations, recoverStuckOperations } from '../../src/operations/recovery.ts';
import { assertDailyLeft, assertProblem, balancesOf, idempotencyKey, newHolder, PAYMENT_PASSWORD, testApp, type Holder, type TestApp } from '../support/api.ts';
import { HeldFaults } from '../support/gate.ts';
import { foldIncome } from '../../src/income/fold.ts';
import { accrueAt, addTestFund, publish, subscribedHolder } from '../support/income.ts';
import { grantAdvance } from '../../src/reserve/leases.ts';
import { reserveBalances } from '../../src/reserve/service.ts';
import { merchantView } from '../../src/merchants/service.ts';
import { breaksFor, closeAllLeases, holderWithShares, instant, pay } from '../support/instant.ts';
import { adjustReserve, ArmedFaults, shardsOf, useOwnReserve } from '../support/reserve.ts';

const assertCapLeft = (response: Response, remainingToday: string) => assertDailyLeft(response, 'instant_daily_limit_exceeded', remainingToday);

/** Available and outstanding as ops see them (exact with leases open), and the shards as stored. */
async function reserveTotals(t: TestApp) {
  const { availableFen, outstandingFen } = await reserveBalances(t.ctx);
  return { availableFen, outstandingFen, shards: await shardsOf(t.ctx.config.reserve.name) };
}

describe('instant redemption and payments', function () {
  this.timeout(180_000);
  let t: TestApp;
  let ops: Holder;
  let reserve: string;

  beforeEach(async () => {
    t = testApp('2024-06-03T10:00:00+08:00');
    reserve = useOwnReserve(t);
    ops = await newHolder(t.app, { ops: true });
  });

  it('puts the cash in the wallet at once, advanced by the reserve, repaid at settlement across the Dragon Boat holiday', async () => {
    await adjustReserve(t, ops, '50000.00', 'increase').expect(201);
    const holder = await holderWithShares(t, '20000.00');
    t.clock.set('2024-06-07T10:00:00+08:00'); // Friday before Dragon Boat: T = 06-07, settles Tue 06-11
    const key = idempotencyKey();
    const answer = await instant(t, holder, '3000.00', key).expect(201);
    assert.equal(answer.body.operation.settleDate, '2024-06-11');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 300_000n, sharesFen: 1_700_000n, subscribingFen: 0n, redeemingFen: 0n });
    assert.equal((await reserveTotals(t)).outstandingFen, 300_000n);
    const report = (await request(t.app).get('/v1/ops/reserve').set(ops.auth).expect(200)).body;
    assert.equal(report.size, '50000.00');
    assert.equal(report.available, '47000.00');
    assert.equal(report.utilisationPercent, '6.00');
    assert.ok(report.outstandingBySettleDate.some((row: { settleDate: string }) => row.settleDate === '2024-06-11'));
    t.clock.set('2024-06-10T23:59:59+08:00');
    await advanceDueOperations(t.ctx);
    assert.equal((await reserveTotals(t)).outstandingFen, 300_000n, 'not repaid during the holiday');
    t.clock.set('2024-06-11T00:00:01+08:00');
    await advanceDueOperations(t.ctx);
    const after = await reserveTotals(t);
    assert.equal(after.outstandingFen, 0n);
    assert.equal(after.availableFen, 5_000_000n);
    assert.equal((await Operation.findById(answer.body.operation.id).lean())!.status, 'completed');
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
    const replayed = await instant(t, holder, '3000.00', key).expect(201);
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replayed.body, answer.body, 'settled since, it is answered as it was the first time');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 300_000n, sharesFen: 1_700_000n, subscribingFen: 0n, redeemingFen: 0n });
  });

  it('repays a Friday-evening redemption on the Tuesday after the weekend', async () => {
    await adjustReserve(t, ops, '1000.00', 'increase').expect(201);
    const holder = await holderWithShares(t, '500.00');
    t.clock.set('2024-05-31T16:00:00+08:00'); // after the cut-off: T = Mon 06-03, settles Tue 06-04
    const answer = await instant(t, holder, '100.00').expect(201);
    assert.equal(answer.body.operation.tradeDate, '2024-06-03');
    assert.equal(answer.body.operation.settleDate, '2024-06-04');
  });

  it('caps instant redemptions at 10,000 yuan a natural day in Beijing, resetting at Beijing midnight, not UTC', async () => {
    await adjustReserve(t, ops, '80000.00', 'increase').expect(201);
    const holder = await holderWithShares(t, '30000.00');
    t.clock.set('2024-06-04T23:30:00+08:00'); // 15:30 UTC
    await instant(t, holder, '6000.00').expect(201);
    assertCapLeft(await instant(t, holder, '4000.01'), '4000.00');
    await instant(t, holder, '4000.00').expect(201);
    const before = await balancesOf(holder.userId);
    assertCapLeft(await instant(t, holder, '0.01'), '0.00');
    assert.deepEqual(await balancesOf(holder.userId), before);
    t.clock.set('2024-06-05T00:10:00+08:00'); // still 06-04 in UTC, a new day in Beijing
    await instant(t, holder, '10000.00').expect(201);
    assertProblem(await instant(t, holder, '0.01'), 409, 'instant_daily_limit_exceeded');
  });

  it('a leg held across Beijing midnight counts toward the day it lands on: the new day is never reset to the old one', async () => {
    await adjustReserve(t, ops, '200000.00', 'increase').expect(201);
    const holder = await holderWithShares(t, '30000.00');
    const faults = new HeldFaults();
    t.ctx.faults = faults;
    const gate = faults.hold('instant:before-redeem');
    t.clock.set('2024-06-04T23:59:59.800+08:00');
    const late = instant(t, holder, '6000.00').then((response) => response); // day D, held before its leg
    await gate.reached;
    t.clock.set('2024-06-05T00:00:00.100+08:00');
    await instant(t, holder, '9000.00').expect(201); // day D+1
    gate.open();
    const lateAnswer = await late;
    const account = (await Account.findById(holder.userId).lean<AccountDocument>())!;
    assert.deepEqual([account.instantDate, account.instantTodayFen], ['2024-06-05', 900_000n], "the later day's counter stands");
    assertProblem(lateAnswer, 409, 'instant_daily_limit_exceeded');
    const standing = await Operation.find({ userId: holder.userId, type: 'instant_redemption', status: 'awaiting_settlement' }).lean();
    assert.equal(standing.reduce((sum, op) => sum + op.amountFen, 0n), 900_000n, 'what moved on 06-05 is within the cap');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 900_000n, sharesFen: 2_100_000n, subscribingFen: 0n, redeemingFen: 0n });
    assertProblem(await instant(t, holder, '1000.01'), 409, 'instant_daily_limit_exceeded');
    await instant(t, holder, '1000.00').expect(201);
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
  });

  it('a negative day accrued just after this process last read the fund book: the holder bears the loss', async () => {
    await adjustReserve(t, ops, '200000.00', 'increase').expect(201);
    const fund = addTestFund(t);
    t.clock.set('2024-05-30T14:00:00+08:00');
    const holder = await subscribedHolder(t, fund, '10000.00');
    t.clock.set('2024-05-31T09:00:00+08:00');
    await advanceDueOperations(t.ctx); // confirmed: earns from Fri 05-31
    await publish(t, ops, fund, '2024-05-31', '-5.0000');
    t.clock.set('2024-06-01T00:59:59+08:00');
    // A request a second before the accrual: this process has read the fund book (nothing accrued yet).
    assertProblem(await instant(t, holder, '10000.01'), 409, 'insufficient_shares');
    await accrueAt(t, fund, '2024-05-31'); // 06-01 01:00: 10,000 shares lose 5.00
    const everything = await instant(t, holder, '10000.00');
    await foldIncome(holder.userId);
    const { sharesFen } = await balancesOf(holder.userId);
    assert.ok(sharesFen >= 0n, `shares after the fold: ${sharesFen} fen`);
    assertProblem(everything, 409, 'insufficient_shares');
    await instant(t, holder, '9995.00').expect(201);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 999_500n, sharesFen: 0n, subscribingFen: 0n, redeemingFen: 0n });
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
  });

  it('a request waiting on a lease taken for a larger amount that no shard covers is not refused with it', async () => {
    await adjustReserve(t, ops, '800.00', 'increase').expect(201); // 100.00 in each of 8 shards
    // Both in one tick: the small one finds the large one's acquisition running and waits on it.
    const [large, small] = await Promise.all([grantAdvance(t.ctx, 50_000n, '2024-06-04'), grantAdvance(t.ctx, 100n, '2024-06-04')]);
    assert.equal(large, null, 'no shard holds 500.00');
    assert.ok(small, 'a shard holds 1.00');
    small.giveBack();
    small.done(true);
  });

  it('refuses what it cannot do, says why, and moves nothing', async () => {
    await adjustReserve(t, ops, '800.00', 'increase').expect(201); // 100.00 in each of 8 shards
    const holder = await holderWithShares(t, '500.00');
    const before = { account: await balancesOf(holder.userId), reserve: await reserveTotals(t) };
    const exhausted = await instant(t, holder, '200.00');
    assertProblem(exhausted, 409, 'reserve_exhausted');
    assert.equal(exhausted.body.alternative.path, '/v1/me/redemptions');
    assert.equal(exhausted.body.alternative.settleDate, '2024-06-04');
    // A normal redemption would fail as well: never offered to shares that cannot pay it.
    assertProblem(await instant(t, holder, '600.00'), 409, 'insufficient_shares');
    const newcomer = await newHolder(t.app);
    assertProblem(await instant(t, newcomer, '200.00'), 409, 'insufficient_shares');
    const redemption = { amount: '200.00', channel: 'wallet', paymentPassword: PAYMENT_PASSWORD };
    const normally = await request(t.app).post('/v1/me/redemptions').set(newcomer.auth).set('Idempotency-Key', idempotencyKey()).send(redemption);
    assertProblem(normally, 409, 'insufficient_shares');
    await adjustReserve(t, ops, '8000.00', 'increase').expect(201);
    const afterFunding = await reserveTotals(t);
    assertProblem(await instant(t, holder, '600.00'), 409, 'insufficient_shares');
    for (let attempt = 0; attempt < 2; attempt++) assertProblem(await instant(t, holder, '1.00', idempotencyKey(), '000000'), 403, 'payment_password_wrong');
    assertProblem(await instant(t, holder, '1.00', idempotencyKey(), '000000'), 423, 'payment_locked');
    assertProblem(await instant(t, holder, '1.00'), 423, 'payment_locked');
    assert.deepEqual(await balancesOf(holder.userId), before.account);
    const now = await reserveTotals(t);
    assert.deepEqual([now.availableFen, now.outstandingFen], [afterFunding.availableFen, 0n]);
    assert.deepEqual([before.reserve.availableFen, before.reserve.outstandingFen], [80_000n, 0n]);
    assertProblem(await adjustReserve(t, ops, '9000.00', 'decrease'), 409, 'reserve_available_insufficient');
    assert.equal((await reserveTotals(t)).availableFen, afterFunding.availableFen, 'a refused decrease is undone');
    assertProblem(await request(t.app).get('/v1/ops/reserve').set(holder.auth), 403, 'forbidden');
  });

  it('reports an empty reserve at low water, and counts the redemptions awaiting each settle date', async () => {
    const empty = (await request(t.app).get('/v1/ops/reserve').set(ops.auth).expect(200)).body;
    assert.deepEqual([empty.size, empty.available, empty.lowWater], ['0.00', '0.00', true], 'nothing to advance from');
    await adjustReserve(t, ops, '1000.00', 'increase').expect(201);
    assert.equal((await request(t.app).get('/v1/ops/reserve').set(ops.auth).expect(200)).body.lowWater, false);
    const holder = await holderWithShares(t, '500.00'); // at Mon 06-03 10:00: settles Tue 06-04
    for (const amount of ['1.00', '2.00', '3.00']) await instant(t, holder, amount).expect(201);
    const report = (await request(t.app).get('/v1/ops/reserve').set(ops.auth).expect(200)).body;
    // Other tests' reserves advanced redemptions that settle the same day: not this reserve's.
    const awaiting = await Operation.countDocuments({ dueDate: '2024-06-04', status: 'awaiting_settlement', type: { $in: ['instant_redemption', 'payment'] } });
    assert.ok(awaiting > 3, `${awaiting} advances of every reserve`);
    assert.deepEqual(report.outstandingBySettleDate, [{ settleDate: '2024-06-04', amount: '6.00', redemptions: 3 }]);
  });

  it('pays a merchant from the fund; payments do not count toward the cap unless configured', async () => {
    await adjustReserve(t, ops, '80000.00', 'increase').expect(201);
    const merchant = (await request(t.app).post('/v1/ops/merchants').set(ops.auth).send({ name: 'Tea House' }).expect(201)).body;
    const holder = await holderWithShares(t, '30000.00');
    const paid = await pay(t, holder, merchant.id, '10000.00').expect(201);
    await instant(t, holder, '10000.00').expect(201);
    const history = (await request(t.app).get('/v1/me/operations').set(holder.auth).expect(200)).body.items;
    const shown = (await request(t.app).get(`/v1/me/operations/${paid.body.operation.id}`).set(holder.auth).expect(200)).body.operation;
    for (const payment of [paid.body.operation, history.find((item: { type: string }) => item.type === 'payment'), shown]) {
      assert.deepEqual([payment.merchantId, payment.merchantName], [merchant.id, 'Tea House'], 'whom the holder paid, by name');
    }
    assert.equal((await request(t.app).get(`/v1/ops/merchants/${merchant.id}`).set(ops.auth).expect(200)).body.wallet, '10000.00');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 1_000_000n, sharesFen: 1_000_000n, subscribingFen: 0n, redeemingFen: 0n });
    t.ctx.config = { ...t.ctx.config, limits: { ...t.ctx.config.limits, paymentsCountTowardInstantCap: true } };
    assertProblem(await pay(t, holder, merchant.id, '0.01'), 409, 'instant_daily_limit_exceeded');
    assertProblem(await pay(t, holder, 'm_nosuchmerchant', '1.00'), 422, 'unknown_merchant');
    assert.deepEqual(await breaksFor([holder.userId, merchant.id, reserve]), []);
  });

  it('200 concurrent instant redemptions by 20 holders: the reserve never goes negative, no holder passes the cap, every fen is accounted for', async () => {
    await adjustReserve(t, ops, '100000.00', 'increase').expect(201); // covers about 11 of 20 holders' 9,000
    const holders: Holder[] = [];
    for (let index = 0; index < 20; index++) holders.push(await holderWithShares(t, '20000.00')); // one clock: one at a time
    // Each password checked once already, as after a holder's first payment of the day: the race
    // under test is the reserve's and the cap's (concurrent password checks have their own tests).
    for (const holder of holders) await verifyPaymentPassword(t.ctx, holder.userId, PAYMENT_PASSWORD);
    t.clock.set('2024-06-04T11:00:00+08:00');
    const answers = await Promise.all(holders.flatMap((holder) => Array.from({ length: 10 }, () => instant(t, holder, '1500.00'))));
    const statuses = answers.map((answer) => answer.status);
    assert.ok(statuses.every((status) => status === 201 || status === 409), `statuses: ${[...new Set(statuses)]}`);
    const codes = new Set(answers.filter((answer) => answer.status === 409).map((answer) => answer.body.code));
    assert.ok([...codes].every((code) => code === 'instant_daily_limit_exceeded' || code === 'reserve_exhausted'), [...codes].join());
    const succeeded = answers.filter((answer) => answer.status === 201).length;
    const totals = await reserveTotals(t);
    assert.ok(totals.shards.every((shard) => shard.availableFen >= 0n && shard.leasedFen >= 0n && shard.outstandingFen >= 0n));
    assert.equal(totals.outstandingFen, BigInt(succeeded) * 150_000n);
    assert.equal(totals.availableFen + totals.outstandingFen, 10_000_000n);
    assert.deepEqual(await breaksFor([reserve]), [], 'consistent with leases open');
    await closeAllLeases(t);
    const closed = await shardsOf(reserve);
    assert.ok(closed.every((shard) => shard.leasedFen === 0n), 'every lease closed');
    assert.equal(closed.reduce((sum, shard) => sum + shard.outstandingFen, 0n), BigInt(succeeded) * 150_000n);
    assert.equal(closed.reduce((sum, shard) => sum + shard.availableFen + shard.outstandingFen, 0n), 10_000_000n);
    for (const holder of holders) {
      const account = (await Account.findById(holder.userId).lean<AccountDocument>())!;
      assert.ok(account.walletFen <= 1_000_000n, 'within the cap');
      assert.equal(account.walletFen + account.sharesFen, 2_000_000n, 'shares debited = cash credited');
      assert.equal(account.instantTodayFen, account.walletFen);
    }
    assert.deepEqual(await breaksFor([...holders.map((holder) => holder.userId), reserve]), []);
  });

  it('advances out of leases: one shard update per lease, a slice per process, closed by the owner or, once expired for everyone, by recovery', async () => {
    // 2,000.00 in each of 8 shards: half a shard still covers a 300.00 slice if all three leases pick the same one.
    await adjustReserve(t, ops, '16000.00', 'increase').expect(201);
    const other = testApp(t.clock.now().toISOString()); // a second API process on the same database
    for (const app of [t, other]) app.ctx.config = { ...app.ctx.config, reserve: { ...t.ctx.config.reserve, leaseMaxFen: 30_000n } };
    const holder = await holderWithShares(t, '5000.00');
    const leasesOf = () => Operation.find({ type: 'reserve_lease', reserveShard: { $regex: `^reserve:${reserve}:` } }).lean();
    for (let index = 0; index < 3; index++) await instant(t, holder, '100.00').expect(201);
    assert.equal((await leasesOf()).length, 1, 'three redemptions, one lease of 300.00');
    await request(other.app).post('/v1/me/instant-redemptions').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '100.00', paymentPassword: PAYMENT_PASSWORD }).expect(201);
    await instant(t, holder, '100.00').expect(201);
    const leases = await leasesOf();
    assert.equal(leases.length, 3, 'the other process leased its own slice; the first lease was used up');
    assert.deepEqual((await shardsOf(reserve)).reduce((sum, shard) => sum + shard.leasedFen, 0n), 90_000n);
    assert.deepEqual([(await reserveTotals(t)).outstandingFen, (await reserveTotals(t)).availableFen], [50_000n, 1_550_000n]);
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
    // The other process stops here (it may have died): its lease waits until no request of it can be in flight.
    t.clock.advance(t.ctx.config.jobs.recoverAfterMs + 1_000);
    await recoverStuckOperations(t.ctx);
    const statuses = async () => new Map((await leasesOf()).map((lease) => [lease._id, lease.status]));
    const afterFirstRun = await statuses();
    assert.equal([...afterFirstRun.values()].filter((status) => status === 'completed').length, 2, 'this process closed its own expired leases');
    t.clock.advance(t.ctx.config.reserve.leaseLifetimeMs);
    await recoverStuckOperations(t.ctx);
    assert.ok([...(await statuses()).values()].every((status) => status === 'completed'), 'and recovery closed the other process\'s');
    const shards = await shardsOf(reserve);
    assert.deepEqual(
      [shards.reduce((sum, shard) => sum + shard.leasedFen, 0n), shards.reduce((sum, shard) => sum + shard.outstandingFen, 0n), shards.reduce((sum, shard) => sum + shard.availableFen, 0n)],
      [0n, 50_000n, 1_550_000n],
    );
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
  });

  it('the owner closes its expired lease on what its grants advanced: refused ones go back to available', async () => {
    await adjustReserve(t, ops, '8000.00', 'increase').expect(201); // slices of 500.00
    const holder = await holderWithShares(t, '150.00');
    const leasesOf = () => Operation.find({ type: 'reserve_lease', reserveShard: { $regex: `^reserve:${reserve}:` } }).lean();
    await instant(t, holder, '100.00').expect(201);
    assertProblem(await instant(t, holder, '200.00'), 409, 'insufficient_shares'); // granted, then given back
    await instant(t, holder, '30.00').expect(201);
    const [lease, ...others] = await leasesOf();
    assert.deepEqual([lease!.amountFen, others.length], [50_000n, 0]);
    t.clock.advance(t.ctx.config.reserve.leaseLifetimeMs + 1_000); // expired, far from free for everyone
    await instant(t, holder, '10.00').expect(201); // leases anew, closing the idle one first
    const closed = (await Operation.findById(lease!._id).lean())!;
    assert.equal(closed.status, 'completed');
    const unused = closed.postings.filter((posting) => posting.step === 'close' && posting.account.endsWith(':available'));
    assert.deepEqual(unused.map((posting) => posting.amountFen), [50_000n - 13_000n], 'the given-back grant is unused');
    assert.equal((await shardsOf(reserve)).reduce((sum, shard) => sum + shard.outstandingFen, 0n), 13_000n);
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
  });

  it('a lease whose owner died: its closer checks only the redemptions the owner did not note as settled', async () => {
    await adjustReserve(t, ops, '8000.00', 'increase').expect(201);
    const holder = await holderWithShares(t, '500.00');
    const owner = testApp(t.clock.now().toISOString()); // an API process that is about to die
    owner.ctx.config = { ...owner.ctx.config, reserve: t.ctx.config.reserve };
    const faults = new ArmedFaults();
    owner.ctx.faults = faults;
    await instant(owner, holder, '100.00').expect(201);
    faults.arm('instant:before-redeem');
    const unsureKey = idempotencyKey();
    await instant(owner, holder, '50.00', unsureKey).expect(500);
    await instant(t, holder, '50.00', unsureKey).expect(409); // unsure while its lease is open
    await sleep(500); // the owner notes what it settled a moment later
    const [settled, unsure] = await Operation.find({ userId: holder.userId, type: 'instant_redemption' }).sort({ _id: 1 }).lean();
    // Once no request of the lease can apply a leg, a replay closes it without waiting for the recovery job.
    t.clock.advance(t.ctx.config.reserve.leaseLifetimeMs + t.ctx.config.jobs.recoverAfterMs + 1_000);
    assertProblem(await instant(t, holder, '50.00', unsureKey), 503, 'interrupted');
    const [after, afterUnsure] = await Promise.all([Operation.findById(settled!._id).lean(), Operation.findById(unsure!._id).lean()]);
    assert.equal(after?.status, 'awaiting_settlement');
    assert.deepEqual([afterUnsure?.status, afterUnsure?.failure?.code, afterUnsure?.steps], ['failed', 'interrupted', []]);
    assert.equal((await Operation.findById(settled!.leaseId).lean())?.status, 'completed');
    assert.equal((await balancesOf(holder.userId)).sharesFen, 40_000n);
    assert.equal((await reserveTotals(t)).outstandingFen, 10_000n);
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
  });

  describe('a crash between any two steps of a payment, then recovery', () => {
    const points = ['instant:before-redeem', 'instant:after-redeem', 'payment:after-merchant', 'instant:after-refusal', 'instant:after-repay'];
    for (const point of points) {
      it(`recovers from a crash at ${point} with nothing created or lost`, async () => {
        await adjustReserve(t, ops, '8000.00', 'increase').expect(201);
        const merchant = (await request(t.app).post('/v1/ops/merchants').set(ops.auth).send({ name: 'Noodle Bar' }).expect(201)).body;
        const holder = await holderWithShares(t, '500.00');
        const faults = new ArmedFaults();
        t.ctx.faults = faults;
        faults.arm(point);
        const amount = point === 'instant:after-refusal' ? '600.00' : '300.00'; // more than the shares: refused
        const key = idempotencyKey();
        const answer = await pay(t, holder, merchant.id, amount, key);
        const operation = (await Operation.findOne({ userId: holder.userId, type: 'payment' }).lean())!;
        if (point === 'instant:after-repay') {
          assert.equal(answer.status, 201);
          t.clock.set('2024-06-04T09:00:00+08:00');
          await advanceDueOperations(t.ctx).catch(() => undefined);
          await advanceDueOperations(t.ctx);
        } else {
          assert.equal(answer.status, 500, JSON.stringify(answer.body));
          // Written with the outcome it will have if the holder's leg applies: unsure until its lease closes.
          assert.equal(operation.status, 'awaiting_settlement');
          const replayed = await pay(t, holder, merchant.id, amount, key);
          const redeemed = point === 'instant:after-redeem' || point === 'payment:after-merchant';
          assert.equal(replayed.status, redeemed ? 201 : 409, JSON.stringify(replayed.body));
          // The lease of an unsure operation closes once no request of it can still apply a leg.
          await closeAllLeases(t);
        }
        const final = (await Operation.findById(operation._id).lean())!;
        // Refused, or stopped before the holder's leg: recovery fails it, as it cannot take an advance.
        const refused = point === 'instant:after-refusal' || point === 'instant:before-redeem';
        assert.equal(final.status, refused ? 'failed' : point === 'instant:after-repay' ? 'completed' : 'awaiting_settlement');
        assert.equal((await merchantView(merchant.id)).wallet, refused ? '0.00' : '300.00');
        assert.equal((await balancesOf(holder.userId)).sharesFen, refused ? 50_000n : 20_000n);
        const totals = await reserveTotals(t);
        assert.equal(totals.availableFen + totals.outstandingFen, 800_000n);
        assert.equal(totals.outstandingFen, refused || point === 'instant:after-repay' ? 0n : 30_000n);
        if (point !== 'instant:after-repay') {
          assert.equal(final.failure?.code ?? null, refused ? 'interrupted' : null);
          assert.ok((await shardsOf(reserve)).every((shard) => shard.leasedFen === 0n), 'the recovery job closed the lease');
        }
        assert.deepEqual(await breaksFor([holder.userId, merchant.id, reserve]), []);
        const lastReplay = await pay(t, holder, merchant.id, amount, key);
        assert.equal(lastReplay.status, refused ? 503 : 201, JSON.stringify(lastReplay.body));
      });
    }
  });
});
