/** A problem detail's key in the message catalogue and the values it interpolates. */
export interface DetailTranslation {
  key?: string;
  values?: Readonly<Record<string, string | number>>;
}

/**
 * An expected outcome the caller can act on (insufficient balance, locked payments, ...): a
 * stable `code`, a human `detail` and the facts the answer carries. Domain code raises it and
 * knows no HTTP: the edge maps each code to its status once (src/http/problem.ts).
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    /**
     * How the detail reads in another language: the message key (the code when left out) and
     * the values it interpolates. The English `detail` stays the one written here.
     */
    readonly translation: DetailTranslation = {},
  ) {
    super(detail);
  }
}

/** `translation.key` names the variant (not_found_account, ...) when the Chinese should say what was not found. */
export const notFound = (what: string, translation: DetailTranslation = {}) => new DomainError('not_found', `${what} was not found`, {}, translation);
export const badRequest = (detail: string, extra: Record<string, unknown> = {}, translation: DetailTranslation = {}) =>
  new DomainError('invalid_request', detail, extra, translation);

/** Why an operation failed: stored on the operation, answered as problem+json (statuses: src/http/problem.ts). */
export const FAILURE_DETAIL: Record<string, string> = {
  insufficient_balance: 'The wallet balance is lower than the amount',
  insufficient_shares: 'The confirmed fund shares are fewer than the amount',
  fund_switch_not_allowed: 'Switching funds needs a zero position with nothing pending in the current fund',
  holding_limit_exceeded: 'This transfer-in would take the holding above its maximum',
  transfer_in_daily_limit_exceeded: 'This transfer-in would pass the daily transfer-in maximum (Beijing time)',
  fund_quota_exceeded: "The fund's subscription quota for this trade date is used up",
  balance_limit_exceeded: 'This would take the receiving wallet above its maximum balance',
  instant_daily_limit_exceeded: 'This would pass the instant-redemption cap of the natural day (Beijing time)',
  reserve_exhausted: 'The liquidity reserve cannot advance this amount now; a normal redemption pays it on the settle date',
  reserve_available_insufficient: 'The reserve has not that much available to take out',
  bank_declined: 'The bank declined the transfer; nothing moved',
  bank_unavailable: 'The bank did not answer and never received the transfer; nothing moved',
  interrupted: 'The request was interrupted before any money moved; nothing moved: send it again with a new Idempotency-Key',
  security_state_changed:
    'The session was signed out everywhere, or the payment password reset or locked, after this request was checked; nothing moved: check again with a new Idempotency-Key',
};

/** The failure an operation stores: its code, what it means, and the facts some codes add to their problem. */
export interface Failure {
  code: string;
  detail: string;
  /** A daily maximum's refusal (instant_daily_limit_exceeded, transfer_in_daily_limit_exceeded): what is left of it today, in yuan. */
  remainingToday?: string;
}

export const failureOf = (code: string): Failure => ({ code, detail: FAILURE_DETAIL[code] ?? code });
