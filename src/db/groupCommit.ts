import { MongoBulkWriteError, type Collection, type Document } from 'mongodb';
import { appConfig } from '../config/config.ts';
import { DUPLICATE_KEY, retryOnWriteConflict } from './writeConflict.ts';


interface Waiting<W, R> {
  write: W;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit: single-document writes that concurrent requests make to one collection leave
 * as one command once earlier ones are in flight. On FerretDB a command costs far more than
 * a statement in it (an insert of 8 documents costs about what 2 single inserts do), and
 * fewer commands in flight leave PostgreSQL less to contend for. Nothing waits for a timer:
 * a quiet collection gets each write at once, alone.
 */
class GroupCommit<W, R> {
  private readonly waiting: Waiting<W, R>[] = [];
  private inFlight = 0;
  /** Commands of one kind a process keeps in flight on one collection (the rest queue), and statements per command (config `database.groupCommit`). */
  private readonly sizes = appConfig().database.groupCommit;

  constructor(private readonly send: (writes: W[]) => Promise<R[]>) {}

  submit(write: W): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ write, resolve, reject });
      this.sendWaiting();
    });
  }

  private sendWaiting(): void {
    while (this.inFlight < this.sizes.commandsInFlightMax && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.sizes.statementsMax);
      this.inFlight++;
      this.send(batch.map((entry) => entry.write))
        .then(
          (results) => batch.forEach((entry, index) => entry.resolve(results[index]!)),
          (error: unknown) => batch.forEach((entry) => entry.reject(error)),
        )
        .finally(() => {
          this.inFlight--;
          this.sendWaiting();
        });
    }
  }
}

type StringIdDocument = Document & { _id: string };

/**
 * A guarded single-document update that is safe to send twice: its filter refuses it once
 * applied (a count already moved, a status already left), and `applied` tells from the
 * document as stored whether its effect is there.
 */
export interface GuardedUpdate {
  filter: StringIdDocument;
  update: Document;
  applied(stored: Document): boolean;
}

/**
 * Guarded updates, grouped. A command refused as a write conflict may have applied some of
 * its statements: sending it again applies the rest. When fewer documents changed than
 * statements were sent, the documents are read back to tell each statement's outcome.
 * Resolves true when the update's effect is on the document (now or before), false when its
 * guard refused it.
 */
export function groupUpdates<T extends Document>(anyCollection: Collection<T>, projection: Document): (update: GuardedUpdate) => Promise<boolean> {
  const collection = anyCollection as unknown as Collection<StringIdDocument>;
  const group = new GroupCommit<GuardedUpdate, boolean>(async (updates) => {
    const statements = updates.map(({ filter, update }) => ({ updateOne: { filter, update } }));
    // Each statement's guard makes sending it again harmless, so the group is retried whole.
    const result = await retryOnWriteConflict(() => collection.bulkWrite(statements));
    if (result.modifiedCount === updates.length) return updates.map(() => true);
    const ids = [...new Set(updates.map((update) => update.filter._id))];
    const stored = new Map((await collection.find({ _id: { $in: ids } }, { projection }).toArray()).map((doc) => [doc._id, doc]));
    return updates.map((update) => {
      const doc = stored.get(update.filter._id);
      return doc !== undefined && update.applied(doc);
    });
  });
  return (update) => group.submit(update);
}

/** Inserts, grouped. Resolves false for a document whose unique key was taken already. */
export function groupInserts<T extends Document>(anyCollection: Collection<T>): (doc: Document) => Promise<boolean> {
  const collection = anyCollection as unknown as Collection<Document>;
  const group = new GroupCommit<Document, boolean>(async (docs) => {
    try {
      await collection.insertMany(docs, { ordered: false });
      return docs.map(() => true);
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const writeErrors = [error.writeErrors].flat();
      // Anything but a taken key fails the whole group: its requests answer 500, and what was
      // inserted is pending for the recovery job to settle.
      if (writeErrors.length === 0 || writeErrors.some((writeError) => writeError.code !== DUPLICATE_KEY)) throw error;
      const taken = new Set(writeErrors.map((writeError) => writeError.index));
      return docs.map((_, index) => !taken.has(index));
    }
  });
  return (doc) => group.submit(doc);
}
