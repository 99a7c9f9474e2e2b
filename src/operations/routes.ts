import type { Router } from 'express';
import { z } from 'zod';
import { apiRoutes } from '../http/openapi.ts';
import { instantText, yuanText } from '../http/openapi/schemas.ts';
import { businessDate } from '../http/validate.ts';
import { OPERATION_STATUSES, OPERATION_TYPES } from './model.ts';
import { reconcileJournal } from '../reconciliation/service.ts';
import { latestReconciliation } from '../reconciliation/job.ts';

/** What operationView answers: one money movement as the holder sees it. */
export const operationSchema = z
  .object({
    id: z.string(),
    type: z.enum(OPERATION_TYPES),
    status: z.enum(OPERATION_STATUSES),
    amount: yuanText,
    fundCode: z.string().nullable(),
    channel: z.enum(['wallet', 'bank_card']).nullable().describe('Where a transfer-in comes from or a redemption goes to'),
    bankCardId: z.string().nullable(),
    tradeDate: businessDate.nullable().describe('T: the trading day the request counts on'),
    confirmDate: businessDate.nullable().optional().describe('transfer_in only: the day the shares are confirmed and start earning'),
    settleDate: businessDate.nullable().optional().describe('Redemptions and payments only: the day the fund pays out'),
    merchantId: z.string().nullable().optional().describe('payment only'),
    merchantName: z.string().nullable().optional().describe('payment only: the merchant as named when paid (null for payments made before names were kept)'),
    failure: z.object({ code: z.string(), detail: z.string() }).nullable(),
    createdAt: instantText,
    updatedAt: instantText,
  })
  .meta({ id: 'Operation' });

/** A money request's answer: 201 when final, 202 while the bank has not answered. */
export const operationAnswer = z.object({ operation: operationSchema }).meta({ id: 'OperationAnswer' });
export const STILL_AT_THE_BANK = { description: 'Not finished yet (the bank has not answered, or a charged top-up waits for a busy account): the recovery job finishes it; poll GET /v1/me/operations/{operationId}', body: operationAnswer };

const balanceBreak = z.object({
  userId: z.string().describe('The account (a holder, a merchant) or the reserve shard'),
  field: z.string().describe('The balance that disagrees, e.g. walletFen'),
  balance: yuanText,
  postings: yuanText,
  rule: z.enum(['not_negative']).optional().describe('Set when the balance is below zero (it may still agree with its postings)'),
});
const unbalancedOperation = z.object({
  operationId: z.string(),
  postingsTotal: yuanText.describe('What its postings sum to, where 0.00 is due'),
  accounts: z.array(z.string()).describe('The ledger accounts its postings touch, e.g. wallet:<userId>'),
});
const journalReport = z.object({
  postingsTotal: yuanText.describe('The sum of every posting: 0.00 when the journal balances'),
  balanced: z.boolean().describe('Every posting sums to zero, operation by operation'),
  accountsChecked: z.number().int(),
  breaks: z.array(balanceBreak),
  unbalancedOperations: z.array(unbalancedOperation).describe('Each operation whose postings do not sum to zero: never empty when balanced is false'),
});
const scheduledReport = z.object({
  id: z.string(),
  at: instantText,
  balanced: z.boolean(),
  accountsChecked: z.number().int(),
  breaks: z.array(balanceBreak),
  unbalancedOperations: z.array(unbalancedOperation),
  reserveLowWater: z.boolean(),
});

/** The stored report's own fields: the document also carries FerretDB's revision, an int64 JSON cannot carry. */
function scheduledReportView(report: NonNullable<Awaited<ReturnType<typeof latestReconciliation>>>) {
  const { _id, at, balanced, accountsChecked, breaks, unbalancedOperations, reserveLowWater } = report;
  // Reports written before operations were named carry none.
  return { id: _id, at: at.toISOString(), balanced, accountsChecked, breaks, unbalancedOperations: unbalancedOperations ?? [], reserveLowWater };
}

/** Ops only (the app mounts /v1/ops behind the ops role). */
export function opsRoutes(): Router {
  const api = apiRoutes({ name: 'Reconciliation', description: 'Checks that the journal balances: postings sum to zero and every balance equals its postings (ops).' });
  api.get(
    '/v1/ops/reconciliation',
    {
      operationId: 'reconcile',
      summary: 'Check the journal now: postings sum to zero, every balance equals its postings',
      responses: { 200: { description: 'What the check found', body: journalReport } },
    },
    async (_input, res) => {
      res.json(await reconcileJournal());
    },
  );
  // What the scheduled reconciliation found last (null before its first run).
  api.get(
    '/v1/ops/reconciliation/latest',
    {
      operationId: 'getLatestReconciliation',
      summary: 'What the hourly reconciliation job found last',
      responses: { 200: { description: 'The latest report; null before the job first ran', body: z.object({ report: scheduledReport.nullable() }) } },
    },
    async (_input, res) => {
      const report = await latestReconciliation();
      res.json({ report: report && scheduledReportView(report) });
    },
  );
  return api.router;
}
