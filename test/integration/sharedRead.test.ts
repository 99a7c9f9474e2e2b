/**
 * Shared fresh reads (src/db/sharedRead.ts) on the real server: many requests for one hot
 * document cost at most two reads at a time, and none is answered by a read that started
 * before it asked, so a write it saw acknowledged is in its answer.
 */
import assert from 'node:assert/strict';
import { MongoClient, type Collection } from 'mongodb';
import { SharedFreshRead } from '../../src/db/sharedRead.ts';
import { uniqueId } from '../support/database.ts';
import { Gate } from '../support/gate.ts';

interface Book {
  _id: string;
  lastAccruedDate: string;
}

describe('shared fresh reads on the real server', function () {
  this.timeout(60_000);
  let client: MongoClient;
  let books: Collection<Book>;

  before(async () => {
    client = await MongoClient.connect(process.env.MONGODB_URI!, { maxPoolSize: 10 });
    books = client.db().collection<Book>(uniqueId('shared_read'));
  });
  after(() => client.close());

  it('50 requests at once for one document send at most two reads, and all get its state', async () => {
    await books.insertOne({ _id: 'YEB', lastAccruedDate: '2024-05-30' });
    let reads = 0;
    const shared = new SharedFreshRead(async (id: string) => {
      reads++;
      return (await books.findOne({ _id: id }))?.lastAccruedDate ?? null;
    });
    const answers = await Promise.all(Array.from({ length: 50 }, () => shared.read('YEB')));
    assert.deepEqual(new Set(answers), new Set(['2024-05-30']));
    assert.ok(reads <= 2, `${reads} reads`);
  });

  it('a request that asks while a read runs waits for the next one: it sees a write acknowledged before it asked', async () => {
    await books.insertOne({ _id: 'LATE', lastAccruedDate: '2024-05-30' });
    const held = new Gate();
    let readsStarted = 0;
    const shared = new SharedFreshRead(async (id: string) => {
      const value = (await books.findOne({ _id: id }))?.lastAccruedDate ?? null;
      if (++readsStarted === 1) await held.pass(); // the first read has its answer but has not returned
      return value;
    });
    const early = shared.read('LATE');
    await held.reached;
    await books.updateOne({ _id: 'LATE' }, { $set: { lastAccruedDate: '2024-05-31' } });
    const late = shared.read('LATE');
    held.open();
    assert.equal(await early, '2024-05-30');
    assert.equal(await late, '2024-05-31', 'the later request is answered by a read that started after it asked');
    assert.equal(readsStarted, 2);
  });

  it('a failed read fails only the requests that shared it; the next request reads again', async () => {
    let attempt = 0;
    const shared = new SharedFreshRead(async () => {
      if (++attempt === 1) throw new Error('connection reset');
      return 'read';
    });
    await assert.rejects(shared.read('X'), /connection reset/);
    assert.equal(await shared.read('X'), 'read');
  });
});
