/**
 * Group commit (src/db/groupCommit.ts) on the real server: racing single-document writes go
 * out as fewer, bigger commands, and each writer is still told its own outcome exactly.
 */
import assert from 'node:assert/strict';
import { MongoClient, type CommandStartedEvent, type Document } from 'mongodb';
import { groupInserts, groupUpdates, type GuardedUpdate } from '../../src/db/groupCommit.ts';
import { uniqueId } from '../support/database.ts';

interface Wallet extends Document {
  _id: string;
  walletFen: number;
  recentSteps: string[];
}

describe('group commit on the real server', function () {
  this.timeout(60_000);
  let client: MongoClient;
  /** Statements in each command sent, by command name. */
  const statementsPerCommand: Record<string, number[]> = {};
  const recordCommand = (event: CommandStartedEvent) => {
    const statements = (event.command.updates ?? event.command.documents) as unknown[] | undefined;
    (statementsPerCommand[event.commandName] ??= []).push(statements?.length ?? 1);
  };

  before(async () => {
    client = await MongoClient.connect(process.env.MONGODB_URI!, { maxPoolSize: 10, monitorCommands: true });
    client.on('commandStarted', recordCommand);
  });
  after(() => client.close());
  beforeEach(() => {
    for (const name of Object.keys(statementsPerCommand)) delete statementsPerCommand[name];
  });

  async function walletWith(walletFen: number) {
    const wallets = client.db().collection<Wallet>('group_commit_wallets');
    const _id = uniqueId('wallet');
    await wallets.insertOne({ _id, walletFen, recentSteps: [] });
    return { wallets, _id };
  }

  const debit = (walletId: string, step: string, amountFen: number): GuardedUpdate => ({
    filter: { _id: walletId, recentSteps: { $ne: step }, walletFen: { $gte: amountFen } },
    update: { $inc: { walletFen: -amountFen }, $push: { recentSteps: step } },
    applied: (stored) => (stored.recentSteps as string[]).includes(step),
  });

  it('60 racing guarded debits of 50 from 1,000: exactly 20 applied, each told its own outcome, in fewer commands', async () => {
    const { wallets, _id } = await walletWith(1000);
    const send = groupUpdates(wallets, { recentSteps: 1 });
    const outcomes = await Promise.all(Array.from({ length: 60 }, (_, index) => send(debit(_id, `debit-${index}`, 50))));
    assert.equal(outcomes.filter(Boolean).length, 20);
    const stored = (await wallets.findOne({ _id }))!;
    assert.equal(stored.walletFen, 0);
    const toldApplied = outcomes.flatMap((applied, index) => (applied ? [`debit-${index}`] : []));
    assert.deepEqual([...stored.recentSteps].sort(), toldApplied.sort());
    const updates = statementsPerCommand.update!;
    assert.equal(updates.reduce((sum, statements) => sum + statements, 0) >= 60, true);
    assert.ok(Math.max(...updates) > 1, `statements per update command: ${updates.join(' ')}`);
  });

  it('an update sent twice at once applies once, and both senders are told it is applied', async () => {
    const { wallets, _id } = await walletWith(1000);
    const send = groupUpdates(wallets, { recentSteps: 1 });
    const twice = await Promise.all([send(debit(_id, 'debit-once', 300)), send(debit(_id, 'debit-once', 300)), send(debit(_id, 'other', 300))]);
    assert.deepEqual(twice, [true, true, true]);
    assert.equal((await wallets.findOne({ _id }))!.walletFen, 400);
  });

  it('racing inserts of 10 keys, 3 times each: one insert per key succeeds and the others are told the key is taken', async () => {
    const collection = client.db().collection<{ _id: string; key: string }>('group_commit_inserts');
    await collection.createIndex({ key: 1 }, { unique: true });
    const run = uniqueId('run');
    const insert = groupInserts(collection);
    const keys = Array.from({ length: 30 }, (_, index) => `${run}-k${index % 10}`);
    const outcomes = await Promise.all(keys.map((key, index) => insert({ _id: `${run}-${index}`, key })));
    for (let key = 0; key < 10; key++) {
      assert.equal(outcomes.filter((inserted, index) => inserted && index % 10 === key).length, 1, `key ${key}`);
    }
    assert.equal(await collection.countDocuments({ key: { $regex: `^${run}-` } }), 10);
    assert.ok(Math.max(...statementsPerCommand.insert!) > 1, `documents per insert command: ${statementsPerCommand.insert!.join(' ')}`);
  });
});
