import type { Collection, Document, Filter, FindOptions, UpdateFilter, UpdateResult } from 'mongodb';

/** The two commands of the hot path, on a model's collection, without Mongoose in between. */
export interface DriverCollection {
  updateOne(filter: object, update: object): Promise<UpdateResult>;
  findOne<T>(filter: object, options?: FindOptions): Promise<T | null>;
}

/**
 * The driver's collection behind a model, for the hot path of a money request: Mongoose's
 * casting of a filter and an update costs about as much CPU as the driver's whole round trip.
 * Only for filters and updates already in stored types (bigint fen, Date, strings): nothing
 * here is cast or checked against the schema, so the arguments are typed as loosely as that.
 */
export function driverCollection(model: { collection: unknown }): DriverCollection {
  const collection = rawCollection(model);
  return {
    updateOne: (filter, update) => collection.updateOne(filter as Filter<Document>, update as UpdateFilter<Document>),
    findOne: <T>(filter: object, options?: FindOptions) => collection.findOne(filter as Filter<Document>, options) as Promise<T | null>,
  };
}

/** The driver's collection behind a model (see driverCollection for what that skips). */
export function rawCollection(model: { collection: unknown }): Collection<Document> {
  return model.collection as Collection<Document>;
}
