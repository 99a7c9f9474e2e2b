import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/** A merchant that holders pay from their fund position; its wallet is an account of its own. */
const merchantSchema = new Schema(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);

export type MerchantDocument = InferSchemaType<typeof merchantSchema> & { _id: string };
export const Merchant = mongoose.model('Merchant', merchantSchema, 'merchants');

/**
 * What a merchant was paid: one document per payment, appended once (its _id is the payment's
 * operation id), never updated. A busy merchant's wallet is no hot document and no replay
 * window: a credit written twice is refused by its key, however late.
 */
const receiptSchema = new Schema(
  {
    _id: { type: String, required: true },
    merchantId: { type: String, required: true },
    amountFen: { type: BigInt, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);
receiptSchema.index({ merchantId: 1 });

export type ReceiptDocument = InferSchemaType<typeof receiptSchema> & { _id: string };
export const MerchantReceipt = mongoose.model('MerchantReceipt', receiptSchema, 'merchant_receipts');
