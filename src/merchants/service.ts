import { openAccount } from '../accounts/service.ts';
import { findAccount } from '../accounts/service.ts';
import type { AppContext } from '../context.ts';
import { DomainError } from '../http/problem.ts';
import { newId } from '../ids.ts';
import { formatYuan } from '../money/fen.ts';
import { Merchant, type MerchantDocument } from './model.ts';

export const unknownMerchant = () => new DomainError('unknown_merchant', 422, 'No such merchant');

/** Ops register a merchant: its record, then its wallet (idempotent, like a holder's). */
export async function createMerchant(ctx: AppContext, name: string) {
  const merchant = { _id: newId('m'), name, createdAt: ctx.clock.now() };
  await Merchant.create(merchant);
  await openAccount(merchant._id, merchant.createdAt);
  return merchantView(merchant._id);
}

export async function merchantExists(merchantId: string): Promise<boolean> {
  return (await Merchant.exists({ _id: merchantId })) !== null;
}

export async function requireMerchant(merchantId: string): Promise<MerchantDocument> {
  const merchant = await Merchant.findById(merchantId).lean<MerchantDocument>();
  if (!merchant) throw unknownMerchant();
  return merchant;
}

export async function merchantView(merchantId: string) {
  const merchant = await requireMerchant(merchantId);
  const account = await findAccount(merchant._id);
  return { id: merchant._id, name: merchant.name, wallet: formatYuan(account.walletFen) };
}
