import mongoose from 'mongoose';
import { appConfig } from '../config/config.ts';

/**
 * Connects Mongoose. `useBigInt64` makes lean reads return int64 money as bigint (not a
 * lossy number); the pool stays small (config `database.driverPoolSizeMax`) because FerretDB
 * deadlocks when update commands hold more PostgreSQL connections than its pool has
 * (architecture.md, defect 3).
 */
export async function connectMongoose(uri: string): Promise<typeof mongoose> {
  mongoose.set('strictQuery', true);
  return mongoose.connect(uri, {
    useBigInt64: true,
    maxPoolSize: appConfig().database.driverPoolSizeMax,
    autoIndex: false,
    serverSelectionTimeoutMS: 15_000,
  });
}

/** Creates the indexes of every registered model; unique indexes carry idempotency. */
export async function ensureIndexes(): Promise<void> {
  for (const model of Object.values(mongoose.models)) await model.createIndexes();
}

export async function disconnectMongoose(): Promise<void> {
  await mongoose.disconnect();
}
