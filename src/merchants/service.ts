import { openAccount } from '../accounts/service.ts';
import { findAccount } from '../accounts/service.ts';
import type { AppContext } from '../context.ts';
import { DomainError } from '../errors.ts';
import { newId } from '../ids.ts';
import { formatYuan } from '../money/fen.ts';
import { rawCollection } from '../db/driver.ts';
import { groupInserts } from '../db/groupCommit.ts';
import type { Fen } from '../money/fen.ts';
import { Merchant, MerchantReceipt, type MerchantDocument, type ReceiptDocument } from './model.ts';

export const unknownMerchant = () => new DomainError('unknown_merchant', 'No such merchant');

/** Ops register a merchant: its record, then its wallet (idempotent, like a holder's). The sandbox picks a fixed id. */
export async function createMerchant(ctx: AppContext, name: string, merchantId = newId('m')) {
  const merchant = { _id: merchantId, name, createdAt: ctx.clock.now() };
  await Merchant.create(merchant);
  await openAccount(merchant._id, merchant.createdAt);
  return merchantView(merchant._id);
}

/** A merchant's name, or null for no such merchant. */
export async function merchantNameOf(merchantId: string): Promise<string | null> {
  const merchant = await Merchant.findById(merchantId, { name: 1 }).lean<Pick<MerchantDocument, 'name'>>();
  return merchant?.name ?? null;
}

export async function requireMerchant(merchantId: string): Promise<MerchantDocument> {
  const merchant = await Merchant.findById(merchantId).lean<MerchantDocument>();
  if (!merchant) throw unknownMerchant();
  return merchant;
}

export async function merchantView(merchantId: string) {
  const merchant = await requireMerchant(merchantId);
  const account = await findAccount(merchant._id);
  const [receipts] = await receiptTotals({ merchantId });
  return { id: merchant._id, name: merchant.name, wallet: formatYuan(account.walletFen + (receipts?.totalFen ?? 0n)) };
}

// Payments of concurrent requests are appended grouped (see db/groupCommit.ts).
const receiptInserts = groupInserts(rawCollection(MerchantReceipt));

/** Credits a payment to its merchant, once: a second credit of the same payment is refused by its key. */
export async function creditMerchant(merchantId: string, paymentId: string, amountFen: Fen, at: Date): Promise<void> {
  await receiptInserts({ _id: paymentId, merchantId, amountFen, at });
}

/**
 * What merchants were paid, each a total of its receipts (a merchant's wallet is its account's
 * plus these). Summed in bigint here: a merchant's total has no maximum, and a database $sum
 * past int64 loses exactness.
 */
export async function receiptTotals(match: { merchantId?: string } = {}): Promise<{ merchantId: string; totalFen: bigint }[]> {
  const totals = new Map<string, bigint>();
  const receipts = MerchantReceipt.collection.find<Pick<ReceiptDocument, 'merchantId' | 'amountFen'>>(match, { projection: { merchantId: 1, amountFen: 1 }, batchSize: 1000 });
  for await (const { merchantId, amountFen } of receipts) totals.set(merchantId, (totals.get(merchantId) ?? 0n) + BigInt(amountFen));
  return [...totals].map(([merchantId, totalFen]) => ({ merchantId, totalFen }));
}
