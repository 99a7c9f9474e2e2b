/**
 * One example of each event as a webhook delivers it (the OpenAPI document's `webhooks`), the
 * way the service renders it: the operation, the income or the fund day after the change.
 */
import type { EventType } from './catalogue.ts';

const AT = '2024-06-04T02:00:00.000Z';
const HOLDER = 'u_Xq2vL0c9b1kP7mZt';

const operation = (type: string, status: string, extra: Record<string, unknown> = {}) => ({
  operation: {
    id: 'op_0lx4b2m8g0000a1b2c3d4e5f6',
    type,
    status,
    amount: '1000.00',
    fundCode: 'YEB001',
    channel: 'wallet',
    bankCardId: null,
    tradeDate: '2024-06-04',
    failure: null,
    createdAt: AT,
    updatedAt: AT,
    ...extra,
  },
});
const failed = (code: string, detail: string) => ({ failure: { code, detail } });
const fundDay = {
  fundCode: 'YEB001',
  date: '2024-06-03',
  status: 'accrued',
  yieldPer10k: '0.4123',
  sevenDayYieldCompoundPercent: '1.521',
  sevenDayYieldSimplePercent: '1.510',
  publishedAt: '2024-06-03T12:00:00.000Z',
  accruedAt: '2024-06-03T17:05:00.000Z',
  holders: 1_000_000,
  eligibleShares: '12000000000.00',
  incomeDistributed: '4947600.00',
  residual: '0.0000000000',
};

const DATA: Record<EventType, Record<string, unknown>> = {
  'transfer_in.accepted': operation('transfer_in', 'awaiting_confirmation', { confirmDate: '2024-06-05' }),
  'transfer_in.confirmed': operation('transfer_in', 'completed', { confirmDate: '2024-06-05' }),
  'transfer_in.failed': operation('transfer_in', 'failed', { confirmDate: '2024-06-05', ...failed('bank_declined', 'The bank declined the charge') }),
  'redemption.accepted': operation('redemption', 'awaiting_settlement', { settleDate: '2024-06-05' }),
  'redemption.settled': operation('redemption', 'completed', { settleDate: '2024-06-05' }),
  'redemption.failed': operation('redemption', 'failed', { settleDate: '2024-06-05', ...failed('bank_declined', 'The bank refused the payout') }),
  'instant_redemption.succeeded': operation('instant_redemption', 'awaiting_settlement', { settleDate: '2024-06-05' }),
  'instant_redemption.failed': operation('instant_redemption', 'failed', { settleDate: '2024-06-05', ...failed('interrupted', 'The request was interrupted before any money moved') }),
  'payment.succeeded': operation('payment', 'awaiting_settlement', { settleDate: '2024-06-05', merchantId: 'm_coffee', merchantName: 'Coffee Corner' }),
  'payment.failed': operation('payment', 'failed', { settleDate: '2024-06-05', merchantId: 'm_coffee', merchantName: 'Coffee Corner', ...failed('interrupted', 'The request was interrupted before any money moved') }),
  'top_up.succeeded': operation('top_up', 'completed', { fundCode: null, channel: null, tradeDate: null, bankCardId: 'card_8d7f6e' }),
  'top_up.failed': operation('top_up', 'failed', { fundCode: null, channel: null, tradeDate: null, bankCardId: 'card_8d7f6e', ...failed('balance_limit_exceeded', 'The wallet cannot hold more') }),
  'withdrawal.succeeded': operation('withdrawal', 'completed', { fundCode: null, channel: null, tradeDate: null, bankCardId: 'card_8d7f6e' }),
  'withdrawal.failed': operation('withdrawal', 'failed', { fundCode: null, channel: null, tradeDate: null, bankCardId: 'card_8d7f6e', ...failed('bank_declined', 'The bank refused the payout') }),
  'income.credited': {
    income: { holderId: HOLDER, fundCode: 'YEB001', date: '2024-06-03', income: '0.41', eligibleShares: '10000.00', cumulativeIncome: '12.37', yieldPer10k: '0.4123', sevenDayYieldCompoundPercent: '1.521' },
  },
  'auto_sweep.succeeded': operation('transfer_in', 'awaiting_confirmation', { confirmDate: '2024-06-05' }),
  'auto_sweep.failed': operation('transfer_in', 'failed', { confirmDate: '2024-06-05', ...failed('fund_quota_exceeded', 'The fund takes no more today') }),
  'payment_password.locked': { paymentPassword: { locked: true, lockedUntil: '2024-06-04T16:00:00.000Z', failedAttempts: 3 } },
  'payment_password.unlocked': { paymentPassword: { locked: false, lockedUntil: null, failedAttempts: 0 }, lockEndedAt: '2024-06-04T16:00:00.000Z', endedBy: 'time' },
  'payment_password.reset': { paymentPassword: { set: true, locked: false, lockedUntil: null, failedAttempts: 0 }, previouslySet: true },
  'session.created': { session: { idEnd: '1391dc11', createdAt: AT, expiresAt: '2025-06-03T02:00:00.000Z', signedOutAt: null } },
  'session.revoked': { session: { idEnd: '1391dc11', createdAt: AT, expiresAt: '2025-06-03T02:00:00.000Z', signedOutAt: AT }, reason: 'sign_out' },
  'fund_day.accrued': { fundDay },
  'reserve.low_water': { reserve: { name: 'main', available: '800000.00', outstanding: '4200000.00', size: '5000000.00', lowWaterPercent: 20 } },
  'reserve.recovered': { reserve: { name: 'main', available: '3000000.00', outstanding: '2000000.00', size: '5000000.00', lowWaterPercent: 20 } },
  'reconciliation.break': { reconciliation: { id: 'rec_0mxbwgmv6000001db018877ef', at: AT, balanced: false, breaks: 1, unbalancedOperations: 0 } },
  'calendar.coverage_ending': { coverage: { knownThrough: '2026-12-31', daysRemaining: 59, status: 'ending' } },
};

const OPS_TYPES = new Set(['fund_day.accrued', 'reserve.low_water', 'reserve.recovered', 'reconciliation.break', 'calendar.coverage_ending']);

export function exampleEvent(type: EventType, seq: number) {
  const holderId = OPS_TYPES.has(type) ? null : HOLDER;
  return { id: `evt_${String(seq).padStart(12, '0')}`, type, createdAt: AT, holderId, data: DATA[type] };
}
