/**
 * Every leg on an account is a compare-and-set on the account's leg count that leaves its
 * step's mark in one bounded string (src/operations/journal.ts). A process that guesses the
 * count wrong (another process moved the account) is refused once and tries again from what
 * it read; the marks keep the latest RECENT_STEPS_MAX steps.
 */
import assert from 'node:assert/strict';
import { Account, RECENT_STEPS_MAX, type AccountDocument } from '../../src/accounts/model.ts';
import { stepMark } from '../../src/operations/journal.ts';
import { Operation, type OperationDocument } from '../../src/operations/model.ts';
import { newHolder, testApp, topUp } from '../support/api.ts';

const { app } = testApp('2024-05-30T10:00:00+08:00');

const accountOf = async (userId: string) => (await Account.findById(userId).lean<AccountDocument>())!;

async function latestTopUp(userId: string): Promise<OperationDocument> {
  return (await Operation.findOne({ userId, type: 'top_up' }).sort({ _id: -1 }).lean<OperationDocument>())!;
}

describe('account legs: a count and bounded marks', () => {
  it('a top-up counts one leg and leaves its mark', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    const account = await accountOf(holder.userId);
    assert.equal(account.legCount, 1);
    assert.equal(account.recentStepMarks, stepMark((await latestTopUp(holder.userId))._id, 'credit'));
  });

  it('a leg from a stale view of the account (another process moved it) is applied once, after it', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    const before = await accountOf(holder.userId);
    // Another process's leg (money-neutral here, so the journal still balances): count and
    // marks move behind this process's back.
    const elsewhere = stepMark('op_elsewhere', 'credit');
    await Account.updateOne({ _id: holder.userId }, { $inc: { legCount: 1 }, $set: { recentStepMarks: `${before.recentStepMarks} ${elsewhere}` } });
    await topUp(app, holder, '2.00');
    const after = await accountOf(holder.userId);
    assert.equal(after.walletFen, before.walletFen + 200n);
    assert.equal(after.legCount, before.legCount + 2);
    const ownMark = stepMark((await latestTopUp(holder.userId))._id, 'credit');
    assert.deepEqual(after.recentStepMarks.split(' '), [before.recentStepMarks, elsewhere, ownMark]);
  });

  it('the marks keep the latest RECENT_STEPS_MAX steps: a full list drops its oldest', async () => {
    const holder = await newHolder(app);
    await topUp(app, holder, '10.00');
    const filler = Array.from({ length: RECENT_STEPS_MAX }, (_, index) => stepMark(`op_filler${index}`, 'credit'));
    await Account.updateOne({ _id: holder.userId }, { $inc: { legCount: 1 }, $set: { recentStepMarks: filler.join(' ') } });
    await topUp(app, holder, '1.00');
    const marks = (await accountOf(holder.userId)).recentStepMarks.split(' ');
    assert.equal(marks.length, RECENT_STEPS_MAX);
    assert.deepEqual(marks.slice(0, -1), filler.slice(1));
    assert.equal(marks.at(-1), stepMark((await latestTopUp(holder.userId))._id, 'credit'));
    assert.equal((await accountOf(holder.userId)).walletFen, 1100n);
  });
});
