/** Runs last (test/run.ts orders it so): after every other test moved money, the books balance. */
import assert from 'node:assert/strict';
import { reconcileJournal } from '../src/reconciliation/service.ts';

describe('the journal after the whole suite', () => {
  it('all postings sum to zero and every balance equals its postings', async () => {
    const report = await reconcileJournal();
    assert.ok(report.accountsChecked > 0, 'no account was checked');
    assert.equal(report.postingsTotal, '0.00');
    assert.equal(report.balanced, true);
    assert.deepEqual(report.breaks, []);
  });
});
