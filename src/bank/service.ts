import { newId } from '../ids.ts';
import { DomainError } from '../errors.ts';
import { BankCard } from './model.ts';

export const unknownBankCard = () => new DomainError('unknown_bank_card', 'No such bank card on this account');

/** Binding a card keeps only its last four digits: the bank side holds the rest. */
export async function addBankCard(userId: string, cardNumber: string, at: Date) {
  const card = { _id: newId('card'), userId, bankName: 'Simulated Bank', last4: cardNumber.slice(-4), createdAt: at };
  await BankCard.create(card);
  return bankCardView(card);
}

export async function listBankCards(userId: string) {
  const cards = await BankCard.find({ userId }).sort({ createdAt: 1 }).lean();
  return cards.map(bankCardView);
}

export async function requireOwnBankCard(userId: string, bankCardId: string): Promise<void> {
  if (!(await BankCard.exists({ _id: bankCardId, userId }))) throw unknownBankCard();
}

function bankCardView(card: { _id: string; bankName: string; last4: string; createdAt: Date }) {
  return { bankCardId: card._id, bankName: card.bankName, last4: card.last4, createdAt: card.createdAt.toISOString() };
}
