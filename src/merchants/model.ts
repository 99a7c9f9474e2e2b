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
