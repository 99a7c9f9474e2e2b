import type { Fen } from '../money/fen.ts';

export type BankOutcome = 'succeeded' | 'declined';

/**
 * The bank side (card top-ups and payouts) is outside the service. Each call carries a
 * reference unique to the operation step, so calling again with it never moves money twice.
 * A call that throws has an unknown outcome: the caller asks `outcomeOf` later.
 */
export interface BankAdapter {
  charge(reference: string, bankCardId: string, amountFen: Fen): Promise<BankOutcome>;
  payout(reference: string, bankCardId: string, amountFen: Fen): Promise<BankOutcome>;
  /** undefined: the bank never received the call. */
  outcomeOf(reference: string): Promise<BankOutcome | undefined>;
  /**
   * Closes a charge reference the bank has no outcome for, so a call still in flight can no
   * longer succeed: 'cancelled', or the outcome that got there first.
   */
  cancelCharge(reference: string, bankCardId: string, amountFen: Fen): Promise<BankOutcome | 'cancelled'>;
}

export class BankUnavailableError extends Error {
  constructor(reference: string) {
    super(`the bank did not answer for ${reference}`);
  }
}
