/**
 * Reconciliation names every break: postings that do not sum to zero are named by the
 * operations whose postings do not sum to zero (and the ledger accounts they touch), so an
 * "unbalanced" verdict never comes alone.
 */
import assert from 'node:assert/strict';
import { Operation } from '../../src/operations/model.ts';
import { reconcileJournal } from '../../src/reconciliation/service.ts';
import { uniqueId } from '../support/database.ts';
import { unbalancedTopUp } from '../support/journal.ts';

describe('reconciliation', () => {
  it('names each operation whose postings do not sum to zero, with its total and accounts', async () => {
    const operationId = uniqueId('op');
    const userId = uniqueId('ghost');
    await Operation.collection.insertOne(unbalancedTopUp(operationId, userId));
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
