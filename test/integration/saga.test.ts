/**
 * A crash between the two documents of an operation (the holder's account and the
 * operation) leaves a trace the recovery job finishes without moving money twice; the
 * Agenda jobs run the same service functions.
 */
import assert from 'node:assert/strict';
import type { Agenda } from 'agenda';
import { setTimeout as sleep } from 'node:timers/promises';
import { Account } from '../../src/accounts/model.ts';
import { Operation } from '../../src/operations/model.ts';
import { markOf } from '../../src/operations/marks.ts';
import { startOperation } from '../../src/operations/service.ts';
import { reconcileJournal } from '../../src/reconciliation/service.ts';
import { startScheduler } from '../../src/scheduler.ts';
import { recoverStuckOperations } from '../../src/operations/recovery.ts';
import { balancesOf, idempotencyKey, newHolder, testApp, topUp } from '../support/api.ts';

const { app, ctx, clock } = testApp('2024-05-30T10:00:00+08:00');

function transferInDraft(userId: string) {
  return {
    userId,
    idempotencyKey: idempotencyKey(),
    request: { amount: '5.00' },
    type: 'transfer_in' as const,
    amountFen: 500n,
    fundCode: 'YEB001',
    channel: 'wallet',
    tradeDate: '2024-05-30',
    dueDate: '2024-05-31',
  };
}

describe('sagas: crash and recovery', () => {
  it('a crash after the operation was written, before any leg: recovery applies it once', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    const { operation } = await startOperation(transferInDraft(holder.userId), clock.now());
    clock.advance(ctx.config.jobs.recoverAfterMs + 1);
    await recoverStuckOperations(ctx);
    await recoverStuckOperations(ctx);
    assert.equal((await Operation.findById(operation._id).lean())?.status, 'awaiting_confirmation');
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 500n, sharesFen: 0n, subscribingFen: 500n, redeemingFen: 0n });
  });

  it('a crash after the account leg, before the operation recorded it: recovery records it, moves nothing again', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    const { operation } = await startOperation(transferInDraft(holder.userId), clock.now());
    // What the first attempt did before dying: the guarded account update, step mark included.
    await Account.updateOne(
      { _id: holder.userId },
      {
        $inc: { walletFen: -500n, subscribingFen: 500n, holdingFen: 500n, legCount: 1 },
        $set: { fundCode: 'YEB001', unfinishedMarks: markOf(operation._id, 'subscribe') },
      },
    );
    clock.advance(ctx.config.jobs.recoverAfterMs + 1);
    await recoverStuckOperations(ctx);
    const recovered = await Operation.findById(operation._id).lean();
    assert.equal(recovered?.status, 'awaiting_confirmation');
    assert.deepEqual(recovered?.steps, ['subscribe']);
    assert.equal(recovered?.postings.length, 2);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 500n, sharesFen: 0n, subscribingFen: 500n, redeemingFen: 0n });
    const report = await reconcileJournal();
    assert.deepEqual(report.breaks.filter((item) => item.userId === holder.userId), []);
  });

  describe('through Agenda', () => {
    let scheduler: Agenda | undefined;
    afterEach(async () => {
      await scheduler?.stop();
      scheduler = undefined;
    });

    it('the advance-due-operations job confirms a due subscription', async () => {
      clock.set('2024-05-30T10:00:00+08:00');
      const holder = await newHolder(app);
      await topUp(app, holder, '10.00');
      const { operation } = await startOperation(transferInDraft(holder.userId), clock.now());
      clock.advance(ctx.config.jobs.recoverAfterMs + 1);
      await recoverStuckOperations(ctx);
      clock.set('2024-05-31T09:00:00+08:00');
      scheduler = await startScheduler(ctx, { processJobs: true });
      await scheduler.now('advance-due-operations');
      const deadline = Date.now() + 30_000;
      while ((await Operation.findById(operation._id).lean())?.status !== 'completed') {
        assert.ok(Date.now() < deadline, 'the job did not confirm the subscription');
        await sleep(100);
      }
      assert.deepEqual(await balancesOf(holder.userId), { walletFen: 500n, sharesFen: 500n, subscribingFen: 0n, redeemingFen: 0n });
    });
  });
});
