/**
 * What makes a leg replay-safe, or tells recovery that it applied, never expires: not by the
 * number of legs applied to the same account since, not by how long a process was frozen.
 * Each case reproduces a failure that once created or lost money.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Account, type AccountDocument } from '../../src/accounts/model.ts';
import { Operation, type OperationDocument } from '../../src/operations/model.ts';
import { merchantView } from '../../src/merchants/service.ts';
import { assertProblem, balancesOf, idempotencyKey, newHolder, testApp, topUp, type Holder, type TestApp } from '../support/api.ts';
import type { FaultPoints } from '../../src/faults.ts';
import { HeldFaults } from '../support/gate.ts';
import { breaksFor, closeAllLeases, holderWithShares, instant, pay } from '../support/instant.ts';
import { adjustReserve, ArmedFaults, useOwnReserve } from '../support/reserve.ts';

/** More legs on one account between a crash and its recovery than any window of recent marks held. */
const LEGS_MEANWHILE = 300;

/** A second API process on the same database and reserve (it shares nothing in memory). */
function secondProcess(t: TestApp, faults: FaultPoints): TestApp {
  const other = testApp(t.clock.now().toISOString());
  other.ctx.config = { ...other.ctx.config, reserve: t.ctx.config.reserve };
  other.ctx.faults = faults;
  return other;
}

/** Runs `count` requests, a few at a time. */
async function inBatches(count: number, send: (index: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    await Promise.all(Array.from({ length: Math.min(10, count - start) }, (_, offset) => send(start + offset)));
  }
}

describe('proofs that never expire', function () {
  this.timeout(300_000);
  let t: TestApp;
  let ops: Holder;
  let reserve: string;

  beforeEach(async () => {
    t = testApp('2024-06-03T10:00:00+08:00');
    reserve = useOwnReserve(t);
    ops = await newHolder(t.app, { ops: true });
    await adjustReserve(t, ops, '80000.00', 'increase').expect(201);
  });

  it('a busy merchant is paid once for a payment whose process died unnoted, however many payments it takes before recovery', async () => {
    const merchant = (await request(t.app).post('/v1/ops/merchants').set(ops.auth).send({ name: 'Busy Noodle Bar' }).expect(201)).body;
    const payer = await holderWithShares(t, '500.00');
    const crowd = [await holderWithShares(t, '500.00'), await holderWithShares(t, '500.00'), await holderWithShares(t, '500.00')];
    const faults = new ArmedFaults();
    const dying = secondProcess(t, faults);
    faults.arm('payment:after-merchant'); // the merchant was credited; the process dies before noting it
    assert.equal((await pay(dying, payer, merchant.id, '100.00')).status, 500);
    await inBatches(LEGS_MEANWHILE, async (index) => {
      const answer = await pay(t, crowd[index % crowd.length]!, merchant.id, '0.01');
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    });
    await closeAllLeases(t);
    assert.equal((await merchantView(merchant.id)).wallet, '103.00');
    assert.deepEqual(await breaksFor([merchant.id, payer.userId, ...crowd.map((holder) => holder.userId), reserve]), []);
  });

  it('recovery keeps a redemption whose leg applied, however many legs its holder made before recovery', async () => {
    const holder = await holderWithShares(t, '500.00');
    const faults = new ArmedFaults();
    const dying = secondProcess(t, faults);
    faults.arm('instant:after-redeem'); // the holder's leg applied; the process dies before anything else
    assert.equal((await instant(dying, holder, '100.00')).status, 500);
    await inBatches(LEGS_MEANWHILE, () => topUp(t.app, holder, '0.01'));
    await closeAllLeases(t);
    const redemption = (await Operation.findOne({ userId: holder.userId, type: 'instant_redemption' }).lean<OperationDocument>())!;
    assert.equal(redemption.status, 'awaiting_settlement', JSON.stringify(redemption.failure));
    const balances = await balancesOf(holder.userId);
    assert.deepEqual([balances.sharesFen, balances.walletFen], [40_000n, 10_000n + BigInt(LEGS_MEANWHILE)]);
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
  });

  it('a leg held back past its lease\'s close and then released moves nothing and says so', async () => {
    const holder = await holderWithShares(t, '500.00');
    const faults = new HeldFaults();
    const frozen = secondProcess(t, faults);
    const held = faults.hold('instant:before-redeem'); // past the lease's deadline check, before the leg
    const key = idempotencyKey();
    const answer = instant(frozen, holder, '100.00', key).then((response) => response);
    await held.reached;
    // Meanwhile another process, its clock well past the lease's end, replays the request: the
    // lease closes and the unsure redemption fails.
    t.clock.advance(t.ctx.config.reserve.leaseLifetimeMs + t.ctx.config.jobs.recoverAfterMs + 1_000);
    assertProblem(await instant(t, holder, '100.00', key), 503, 'interrupted');
    held.open();
    const late = await answer;
    assert.notEqual(late.status, 201, JSON.stringify(late.body));
    const redemption = (await Operation.findOne({ userId: holder.userId, type: 'instant_redemption' }).lean<OperationDocument>())!;
    assert.equal(redemption.status, 'failed');
    const balances = await balancesOf(holder.userId);
    assert.deepEqual([balances.sharesFen, balances.walletFen], [50_000n, 0n]);
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
    assertProblem(await instant(t, holder, '100.00', key), 503, 'interrupted');
  });

  it('a request whose clock runs behind writes its operation after another process closed its lease: it moves nothing and says so', async () => {
    const holder = await holderWithShares(t, '500.00');
    const faults = new HeldFaults();
    const behind = secondProcess(t, faults); // its clock stays where it was
    await instant(behind, holder, '1.00').expect(201); // it holds a lease
    const held = faults.hold('operation:before-insert'); // granted out of that lease, the operation not yet written
    const answer = instant(behind, holder, '100.00').then((response) => response);
    await held.reached;
    // The recovery job of a process whose clock is past the lease's end and recoverAfterMs closes it.
    await closeAllLeases(t);
    held.open();
    const late = await answer;
    assertProblem(late, 503, 'interrupted');
    const redemption = (await Operation.findOne({ userId: holder.userId, type: 'instant_redemption', amountFen: 10_000n }).lean<OperationDocument>())!;
    assert.equal(redemption.status, 'failed');
    const balances = await balancesOf(holder.userId);
    assert.deepEqual([balances.sharesFen, balances.walletFen], [49_900n, 100n]);
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
    // The process no longer grants out of that lease: its next request takes a new one and stands.
    await instant(behind, holder, '100.00').expect(201);
    assert.deepEqual(await breaksFor([holder.userId, reserve]), []);
  });

  it('a request that found its lease closed and died before failing its operation: a replay fails it, and nothing moved', async () => {
    const holder = await holderWithShares(t, '500.00');
    const [held, armed] = [new HeldFaults(), new ArmedFaults()];
    const behind = secondProcess(t, {
      hit: async (point) => {
        await held.hit(point);
        await armed.hit(point);
      },
    });
    await instant(behind, holder, '1.00').expect(201); // it holds a lease
    const gate = held.hold('operation:before-insert');
    const key = idempotencyKey();
    const answer = instant(behind, holder, '100.00', key).then((response) => response);
    await gate.reached;
    await closeAllLeases(t); // the closer's read of the lease's operations misses this one
    armed.arm('transition:before'); // the request finds the lease closed and dies failing its operation
    gate.open();
    assert.equal((await answer).status, 500);
    assertProblem(await instant(t, holder, '100.00', key), 503, 'interrupted');
    const redemption = (await Operation.findOne({ userId: holder.userId, idempotencyKey: key }).lean<OperationDocument>())!;
    assert.deepEqual([redemption.status, redemption.steps], ['failed', []]);
    const balances = await balancesOf(holder.userId);
    assert.deepEqual([balances.sharesFen, balances.walletFen], [49_900n, 100n]);
    assert.deepEqual(await breaksFor([holder.userId, reserve, 'reserve']), []);
  });

  it('accounts hold their unfinished marks only: finished legs leave no mark behind', async () => {
    const holder = await holderWithShares(t, '500.00');
    await inBatches(20, () => topUp(t.app, holder, '0.01'));
    await inBatches(20, () => instant(t, holder, '0.01').expect(201));
    await sleep(500); // the lease's owner notes what its requests settled a moment later
    await topUp(t.app, holder, '0.01');
    const account = (await Account.findById(holder.userId).lean<AccountDocument>())!;
    assert.equal(account.unfinishedMarks.split(' ').length, 1, account.unfinishedMarks);
  });
});
