/**
 * Every leg on an account is a compare-and-set on the account's leg count that leaves its
 * step's mark (src/operations/journal.ts). A mark leaves only once its operation has recorded
 * the leg, piggybacked on a later leg; an account holds at most UNFINISHED_MARKS_MAX marks of
 * legs not finished, and a leg beyond that is refused, retryably, never by dropping a mark.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { Account, type AccountDocument } from '../../src/accounts/model.ts';
import { markOf, UNFINISHED_MARKS_MAX } from '../../src/operations/marks.ts';
import { Operation, type OperationDocument } from '../../src/operations/model.ts';
import { recoverStuckOperations } from '../../src/operations/recovery.ts';
import { SimulatedBank } from '../../src/bank/simulatedBank.ts';
import { assertProblem, idempotencyKey, newHolder, PAYMENT_PASSWORD, testApp, topUp } from '../support/api.ts';

const { app, ctx, clock } = testApp('2024-05-30T10:00:00+08:00');

const accountOf = async (userId: string) => (await Account.findById(userId).lean<AccountDocument>())!;

async function latestTopUp(userId: string): Promise<OperationDocument> {
  return (await Operation.findOne({ userId, type: 'top_up' }).sort({ _id: -1 }).lean<OperationDocument>())!;
}

describe('account legs: a count, and marks that leave only when finished', () => {
  it('a top-up counts one leg and leaves its mark; the next leg takes the finished mark away', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    const first = await accountOf(holder.userId);
    assert.equal(first.legCount, 1);
    assert.equal(first.unfinishedMarks, markOf((await latestTopUp(holder.userId))._id, 'credit'));
    await topUp(app, holder, '1.00');
    const second = await accountOf(holder.userId);
    assert.equal(second.legCount, 2);
    assert.equal(second.unfinishedMarks, markOf((await latestTopUp(holder.userId))._id, 'credit'));
  });

  it('a leg from a stale view of the account (another process moved it) is applied once, after it', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    const before = await accountOf(holder.userId);
    // Another process's leg of an operation still pending (money-neutral here, so the journal
    // still balances): count and marks move behind this process's back.
    const elsewhere = markOf('op_elsewhere', 'credit');
    await Account.updateOne({ _id: holder.userId }, { $inc: { legCount: 1 }, $set: { unfinishedMarks: `${before.unfinishedMarks} ${elsewhere}` } });
    await topUp(app, holder, '2.00');
    const after = await accountOf(holder.userId);
    assert.equal(after.walletFen, before.walletFen + 200n);
    assert.equal(after.legCount, before.legCount + 2);
    const ownMark = markOf((await latestTopUp(holder.userId))._id, 'credit');
    assert.deepEqual(after.unfinishedMarks.split(' '), [elsewhere, ownMark], 'the finished mark left, the unfinished one stays');
  });

  /** Fills the holder's account with the marks of an operation that never finishes (as if its process died mid-way). */
  async function fillWithStuckMarks(userId: string) {
    const { _id: stuckId } = await latestTopUp(userId);
    await Operation.updateOne({ _id: stuckId }, { $set: { steps: [], status: 'pending', updatedAt: new Date('2999-01-01') } });
    const stuck = Array.from({ length: UNFINISHED_MARKS_MAX }, (_, index) => markOf(stuckId, `step${index}`));
    await Account.updateOne({ _id: userId }, { $inc: { legCount: 1 }, $set: { unfinishedMarks: stuck.join(' ') } });
    const finish = () => Operation.updateOne({ _id: stuckId }, { $set: { steps: stuck.map((_, index) => `step${index}`), status: 'completed' } });
    return { stuck, finish };
  }

  it('an account full of unfinished marks refuses a leg retryably and moves nothing', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    const { stuck, finish } = await fillWithStuckMarks(holder.userId);
    const answer = await request(app)
      .post('/v1/me/transfers-in')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '1.00', channel: 'wallet', fundCode: 'YEB001' });
    assertProblem(answer, 503, 'account_busy');
    assert.ok(answer.headers['retry-after']);
    const after = await accountOf(holder.userId);
    assert.deepEqual([after.walletFen, after.subscribingFen], [1000n, 0n]);
    assert.equal(after.unfinishedMarks, stuck.join(' '));
    // Once the operation finishes its marks may go: the next leg finds them finished and applies.
    await finish();
    await topUp(app, holder, '1.00');
    assert.equal((await accountOf(holder.userId)).walletFen, 1100n);
    assert.equal((await accountOf(holder.userId)).unfinishedMarks, markOf((await latestTopUp(holder.userId))._id, 'credit'));
  });

  it('a card top-up charged while the account is busy is accepted as pending, and the recovery credits it once', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    const { finish } = await fillWithStuckMarks(holder.userId);
    const answer = await request(app)
      .post('/v1/me/top-ups')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '5.00', bankCardId: holder.bankCardId });
    // The card is charged: the holder is told the money is on its way, not to try again.
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.body.operation.status, 'pending');
    assert.equal((await accountOf(holder.userId)).walletFen, 1000n);
    await finish();
    clock.advance(ctx.config.jobs.recoverAfterMs + 1);
    await recoverStuckOperations(ctx);
    const credited = await Operation.findById(answer.body.operation.id).lean<OperationDocument>();
    assert.equal(credited!.status, 'completed');
    assert.equal((await accountOf(holder.userId)).walletFen, 1500n);
  });

  it('a withdrawal the bank declined while the account is busy is answered as pending, and the recovery refunds it once', async () => {
    const t = testApp('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(t.app);
    await topUp(t.app, holder, '10.00');
    let stuck: Awaited<ReturnType<typeof fillWithStuckMarks>> | undefined;
    // The bank declines the payout after the wallet was debited, and meanwhile the account fills up.
    t.ctx.bank = new (class extends SimulatedBank {
      override async payout(reference: string, bankCardId: string, amountFen: bigint) {
        stuck = await fillWithStuckMarks(holder.userId);
        this.behaviour = { mode: 'decline', delayMs: 0 };
        return super.payout(reference, bankCardId, amountFen);
      }
    })();
    const answer = await request(t.app)
      .post('/v1/me/withdrawals')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '4.00', bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal((await accountOf(holder.userId)).walletFen, 600n, 'debited; the refund waits');
    await stuck!.finish();
    t.clock.advance(t.ctx.config.jobs.recoverAfterMs + 1);
    await recoverStuckOperations(t.ctx);
    const refunded = await Operation.findById(answer.body.operation.id).lean<OperationDocument>();
    assert.deepEqual([refunded!.status, refunded!.failure?.code], ['failed', 'bank_declined']);
    assert.equal((await accountOf(holder.userId)).walletFen, 1000n);
  });
});
