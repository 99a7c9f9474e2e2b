import { retryOnWriteConflict } from '../db/writeConflict.ts';
import { notFound } from '../errors.ts';
import { Account, accountsDriver, type AccountDocument } from './model.ts';

/** Idempotent: a registration that crashed before this line gets its account on the next call. */
export async function openAccount(userId: string, at: Date): Promise<void> {
  await retryOnWriteConflict(
    () => Account.updateOne({ _id: userId }, { $setOnInsert: { createdAt: at } }, { upsert: true, setDefaultsOnInsert: true }),
    { retryDuplicateKey: true },
  );
}

export async function findAccount(userId: string): Promise<AccountDocument> {
  const account = await accountsDriver.findOne<AccountDocument>({ _id: userId });
  if (!account) throw notFound('Account', { key: 'not_found_account' });
  return account;
}
