/**
 * Reconciliation names every break: postings that do not sum to zero are named by the
 * operations whose postings do not sum to zero (and the ledger accounts they touch), so an
 * "unbalanced" verdict never comes alone.
 */
import assert from 'node:assert/strict';
import { Operation } from '../../src/operations/model.ts';
import { reconcileJournal } from '../../src/reconciliation/service.ts';
import { uniqueId } from '../support/database.ts';

describe('reconciliation', () => {
  it('names each operation whose postings do not sum to zero, with its total and accounts', async () => {
    const operationId = uniqueId('op');
    const userId = uniqueId('ghost');
    const at = new Date('2024-05-30T02:00:00Z');
    // A defect's trace, written past the journal's own check: a credit with no debit.
    await Operation.collection.insertOne({
      _id: operationId as never,
      userId,
      idempotencyKey: uniqueId('key'),
      requestHash: 'x',
      type: 'top_up',
      status: 'completed',
      amountFen: 1n,
      steps: ['credit'],
      postings: [
        { step: 'credit', account: `wallet:${userId}`, amountFen: 101n, at },
        { step: 'credit', account: 'bank:clearing', amountFen: -100n, at },
      ],
      createdAt: at,
      updatedAt: at,
    });
    try {
      const report = await reconcileJournal();
      assert.equal(report.balanced, false);
      assert.deepEqual(
        report.unbalancedOperations.filter((item) => item.operationId === operationId),
        [{ operationId, postingsTotal: '0.01', accounts: ['bank:clearing', `wallet:${userId}`] }],
      );
    } finally {
      await Operation.deleteOne({ _id: operationId });
    }
  });
});
