import { setTimeout as sleep } from 'node:timers/promises';
import { isDuplicateKey } from '../db/writeConflict.ts';
import type { Fen } from '../money/fen.ts';
import { BankUnavailableError, type BankAdapter, type BankOutcome } from './adapter.ts';
import { SimulatedBankTransfer } from './model.ts';

/**
 * decline: the bank refuses the transfer. unavailable: the call fails before the bank
 * records anything. lostAnswer: the bank records the transfer but the answer is lost,
 * the hard case for the caller.
 */
export type SimulatedBankMode = 'ok' | 'decline' | 'unavailable' | 'lostAnswer';

export interface SimulatedBankBehaviour {
  mode: SimulatedBankMode;
  delayMs: number;
}

/** A bank kept in the service's own database, which tests can tell to fail or delay. */
export class SimulatedBank implements BankAdapter {
  behaviour: SimulatedBankBehaviour = { mode: 'ok', delayMs: 0 };

  charge(reference: string, bankCardId: string, amountFen: Fen): Promise<BankOutcome> {
    return this.transfer('charge', reference, bankCardId, amountFen);
  }

  payout(reference: string, bankCardId: string, amountFen: Fen): Promise<BankOutcome> {
    return this.transfer('payout', reference, bankCardId, amountFen);
  }

  async cancelCharge(reference: string, bankCardId: string, amountFen: Fen): Promise<BankOutcome | 'cancelled'> {
    const cancelled = { kind: 'charge' as const, bankCardId, amountFen, outcome: 'declined' as const };
    const outcome = await this.record(reference, cancelled);
    return outcome === 'inserted' ? 'cancelled' : outcome;
  }

  async outcomeOf(reference: string): Promise<BankOutcome | undefined> {
    const transfer = await SimulatedBankTransfer.findById(reference).lean();
    return transfer?.outcome as BankOutcome | undefined;
  }

  private async transfer(kind: 'charge' | 'payout', reference: string, bankCardId: string, amountFen: Fen): Promise<BankOutcome> {
    const { mode, delayMs } = this.behaviour;
    if (delayMs > 0) await sleep(delayMs);
    if (mode === 'unavailable') throw new BankUnavailableError(reference);
    const outcome: BankOutcome = mode === 'decline' ? 'declined' : 'succeeded';
    const recorded = await this.record(reference, { kind, bankCardId, amountFen, outcome });
    if (mode === 'lostAnswer') throw new BankUnavailableError(reference);
    return recorded === 'inserted' ? outcome : recorded;
  }

  /** The first call with a reference decides its outcome; later calls read it back. */
  private async record(
    reference: string,
    transfer: { kind: 'charge' | 'payout'; bankCardId: string; amountFen: Fen; outcome: BankOutcome },
  ): Promise<BankOutcome | 'inserted'> {
    try {
      await SimulatedBankTransfer.create({ _id: reference, ...transfer, at: new Date() });
      return 'inserted';
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      return (await this.outcomeOf(reference))!;
    }
  }
}
