import { uniqueId } from './database.ts';

/**
 * A defect's trace, for inserting past the journal's own check: a top-up crediting 1.01 to a
 * wallet for 1.00 from the bank, dated 2024-05-30.
 */
export function unbalancedTopUp(operationId: string, userId = uniqueId('ghost')) {
  const at = new Date('2024-05-30T02:00:00Z');
  return {
    _id: operationId as never,
    userId,
    idempotencyKey: uniqueId('key'),
    requestHash: 'x',
    type: 'top_up',
    status: 'completed',
    amountFen: 100n,
    steps: ['credit'],
    postings: [
      { step: 'credit', account: `wallet:${userId}`, amountFen: 101n, at },
      { step: 'credit', account: 'bank:clearing', amountFen: -100n, at },
    ],
    createdAt: at,
    updatedAt: at,
  };
}
