import mongoose, { Schema } from 'mongoose';

const bankCardSchema = new Schema(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    bankName: { type: String, required: true },
    last4: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);

export const BankCard = mongoose.model('BankCard', bankCardSchema, 'bank_cards');

/** The simulated bank's own book: one transfer per reference, so a retried call is a no-op. */
const simulatedTransferSchema = new Schema(
  {
    _id: { type: String, required: true },
    kind: { type: String, enum: ['charge', 'payout'], required: true },
    bankCardId: { type: String, required: true },
    amountFen: { type: BigInt, required: true },
    outcome: { type: String, enum: ['succeeded', 'declined'], required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);

export const SimulatedBankTransfer = mongoose.model('SimulatedBankTransfer', simulatedTransferSchema, 'simulated_bank_transfers');
