/**
 * The events a holder, an integrator or ops can be told of: one per change that stands, named
 * `<object>.<what happened>`. Webhook endpoints subscribe to these names (or `*`).
 */
export const HOLDER_EVENT_TYPES = [
  'transfer_in.accepted',
  'transfer_in.confirmed',
  'transfer_in.failed',
  'redemption.accepted',
  'redemption.settled',
  'redemption.failed',
  'instant_redemption.succeeded',
  'instant_redemption.failed',
  'payment.succeeded',
  'payment.failed',
  'top_up.succeeded',
  'top_up.failed',
  'withdrawal.succeeded',
  'withdrawal.failed',
  'income.credited',
  'auto_sweep.succeeded',
  'auto_sweep.failed',
  'payment_password.locked',
  'payment_password.unlocked',
  'payment_password.reset',
  'session.created',
  'session.revoked',
] as const;

export const OPS_EVENT_TYPES = [
  'fund_day.accrued',
  'reserve.low_water',
  'reserve.recovered',
  'reserve.forecast_uncovered',
  'reserve.forecast_covered',
  'reconciliation.break',
  'calendar.coverage_ending',
] as const;

export const EVENT_TYPES = [...HOLDER_EVENT_TYPES, ...OPS_EVENT_TYPES] as const;
export type EventType = (typeof EVENT_TYPES)[number];
