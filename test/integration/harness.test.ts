/**
 * Proves the embedded harness fixes FerretDB's three defects (architecture.md). On a real
 * MongoDB the race tests hold as well; the PostgreSQL plan test only applies to FerretDB.
 */
import assert from 'node:assert/strict';
import { Agenda } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { retryOnWriteConflict, isDuplicateKey } from '../../src/db/writeConflict.ts';
import { embeddedPostgresPort, uniqueId, withPostgres } from '../support/database.ts';

interface Counter extends Document {
  _id: string;
  n: number;
}

describe('database harness: FerretDB defect fixes', function () {
  let client: MongoClient;
  before(async () => {
    client = await MongoClient.connect(process.env.MONGODB_URI!, { maxPoolSize: 10 });
  });
  after(() => client.close());
  const collection = <T extends Document>(name: string): Collection<T> => client.db().collection<T>(name);

  describe('defect 1: updates become compare-and-set', () => {
    it('100 racing $inc of one counter end at 100', async () => {
      const counters = collection<Counter>('harness_counters');
      const id = uniqueId('counter');
      await counters.insertOne({ _id: id, n: 0 });
      await Promise.all(
        Array.from({ length: 100 }, () => retryOnWriteConflict(() => counters.updateOne({ _id: id }, { $inc: { n: 1 } }))),
      );
      assert.equal((await counters.findOne({ _id: id }))?.n, 100);
    });

    it('50 racing guarded debits of a wallet that affords 10 give exactly 10', async () => {
      const wallets = collection<{ _id: string; walletFen: number }>('harness_wallets');
      const id = uniqueId('wallet');
      await wallets.insertOne({ _id: id, walletFen: 1000 });
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          retryOnWriteConflict(() => wallets.updateOne({ _id: id, walletFen: { $gte: 100 } }, { $inc: { walletFen: -100 } })),
        ),
      );
      assert.equal(results.filter((result) => result.modifiedCount === 1).length, 10);
      assert.equal((await wallets.findOne({ _id: id }))?.walletFen, 0);
    });

    it('20 racing upsert $inc of one new document end at 20', async () => {
      const counters = collection<Counter>('harness_upserts');
      const id = uniqueId('upsert');
      await Promise.all(
        Array.from({ length: 20 }, () =>
          retryOnWriteConflict(() => counters.updateOne({ _id: id }, { $inc: { n: 1 } }, { upsert: true }), {
            retryDuplicateKey: true,
          }),
        ),
      );
      assert.equal((await counters.findOne({ _id: id }))?.n, 20);
    });

    it('of 50 racing inserts under a unique index exactly one wins', async () => {
      const claims = collection<{ key: string; by: number }>('harness_claims');
      await claims.createIndex({ key: 1 }, { unique: true });
      const key = uniqueId('claim');
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, by) => claims.insertOne({ key, by })));
      assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
      for (const result of results) if (result.status === 'rejected') assert.ok(isDuplicateKey(result.reason));
    });

    it('two Agenda workers run 200 due jobs exactly 200 times', async function () {
      const jobName = uniqueId('harness-job');
      const runs = collection<{ jobId: string; worker: string }>('harness_job_runs');
      // Each worker has its own connection pool, as two processes would.
      const clients = await Promise.all(['a', 'b'].map(() => MongoClient.connect(process.env.MONGODB_URI!, { maxPoolSize: 10 })));
      const workers = await Promise.all(clients.map((own, index) => startWorker(own, jobName, `worker-${index}`, runs)));
      const scheduler = workers[0]!;
      await Promise.all(Array.from({ length: 200 }, (_, index) => scheduler.now(jobName, { index })));
      await waitFor(async () => (await runs.countDocuments({ jobName })) >= 200, 90_000);
      await sleep(1_500); // a duplicate run would show up now
      await Promise.all(workers.map((worker) => worker.stop(false)));
      await Promise.all(clients.map((own) => own.close()));
      const workersThatRan = await runs.distinct('worker', { jobName } as never);
      const allRuns = await runs.find({ jobName }).toArray();
      assert.equal(allRuns.length, 200);
      assert.equal(new Set(allRuns.map((run) => run.jobId)).size, 200);
      assert.equal(workersThatRan.length, 2, 'both workers took jobs');
    });
  });

  describe('defect 2: lookups use an index', () => {
    const DOCUMENTS = 100_000;

    it('a lookup by _id among 100,000 documents is an index scan touching a handful of buffers', async function () {
      if (!embeddedPostgresPort()) this.skip();
      const name = `harness_lookup_${uniqueId('c').slice(2)}`.replace(/-/g, '_');
      const documents = collection<{ _id: string; payload: string }>(name);
      for (let start = 0; start < DOCUMENTS; start += 1000) {
        const batch = Array.from({ length: 1000 }, (_, offset) => ({ _id: `doc-${start + offset}`, payload: 'x'.repeat(40) }));
        await documents.insertMany(batch, { ordered: false });
      }
      const plan = await withPostgres(async (pg) => {
        const table = await ferretDbTable(pg, client.db().databaseName, name);
        await pg.query(`PREPARE lookup_by_id(text, jsonb) AS SELECT _jsonb FROM ${table} WHERE _jsonb -> $1 @> $2`);
        const explained = await pg.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE lookup_by_id('_id', '"doc-67890"')`);
        return explained.rows[0]['QUERY PLAN'][0].Plan as PlanNode;
      });
      const nodes = flatten(plan);
      assert.ok(!nodes.some((node) => node['Node Type'] === 'Seq Scan'), JSON.stringify(plan));
      const indexNode = nodes.find((node) => String(node['Node Type']).includes('Index Scan'));
      assert.ok(indexNode?.['Index Name']?.startsWith('gin_'), JSON.stringify(plan));
      assert.equal(plan['Actual Rows'], 1);
      const buffers = (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
      assert.ok(buffers <= 12, `touched ${buffers} buffers`);
      assert.equal((await documents.findOne({ _id: 'doc-67890' }))?._id, 'doc-67890');
      await documents.drop();
    });
  });

  describe('indexes FerretDB never reads', () => {
    it('a plain btree index holds no rows, a unique one still refuses duplicates, lookups take the GIN twin, and the index drops', async function () {
      if (!embeddedPostgresPort()) this.skip();
      const name = `harness_indexes_${uniqueId('c').slice(2)}`.replace(/-/g, '_');
      const documents = collection<{ _id: string; status: string; key: string }>(name);
      await documents.createIndex({ status: 1 });
      await documents.createIndex({ key: 1 }, { unique: true });
      await documents.insertMany(Array.from({ length: 200 }, (_, index) => ({ _id: `d${index}`, status: `s${index % 20}`, key: `k${index}` })));
      await assert.rejects(documents.insertOne({ _id: 'again', status: 's0', key: 'k7' }), (error) => isDuplicateKey(error));
      const indexes = await withPostgres(async (pg) => {
        const table = await ferretDbTable(pg, client.db().databaseName, name);
        const result = await pg.query(
          `SELECT am.amname AS method, x.indisunique AS "unique", pg_get_expr(x.indpred, x.indrelid) AS predicate,
                  pg_get_indexdef(x.indexrelid) ~ 'status' AS "onStatus", pg_relation_size(x.indexrelid) AS bytes
           FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am am ON am.oid = c.relam
           WHERE x.indrelid = '${table}'::regclass`,
        );
        await pg.query(`PREPARE by_status(text, jsonb) AS SELECT _jsonb FROM ${table} WHERE _jsonb -> $1 @> $2`);
        const explained = await pg.query(`EXPLAIN (FORMAT JSON) EXECUTE by_status('status', '"s3"')`);
        return { rows: result.rows, plan: explained.rows[0]['QUERY PLAN'][0].Plan as PlanNode };
      });
      const statusBtree = indexes.rows.find((row) => row.method === 'btree' && row.onStatus);
      assert.equal(statusBtree?.predicate, 'false', JSON.stringify(indexes.rows));
      assert.ok(indexes.rows.some((row) => row.method === 'btree' && row.unique && row.predicate === null && Number(row.bytes) > 8192), 'the unique index is whole');
      assert.ok(flatten(indexes.plan).some((node) => node['Index Name']?.startsWith('gin_')), JSON.stringify(indexes.plan));
      assert.equal((await documents.find({ status: 's3' }).toArray()).length, 10);
      await documents.dropIndex('status_1');
      assert.deepEqual((await documents.indexes()).map((index) => index.name).sort(), ['_id_', 'key_1']);
      await documents.drop();
    });
  });

  describe('storage of documents', () => {
    it('keeps each revision exact through updates and stores big documents uncompressed', async function () {
      if (!embeddedPostgresPort()) this.skip();
      const name = `harness_storage_${uniqueId('c').slice(2)}`.replace(/-/g, '_');
      const documents = collection<{ _id: string; n: number; steps: string[] }>(name);
      const steps = Array.from({ length: 256 }, (_, index) => `op_${String(index).padStart(25, '0')}:redeem`);
      await documents.insertOne({ _id: 'big', n: 0, steps });
      for (let round = 0; round < 3; round++) await documents.updateOne({ _id: 'big' }, { $inc: { n: 1 }, $push: { steps: { $each: ['x'], $slice: -256 } } });
      const stored = await withPostgres(async (pg) => {
        const table = await ferretDbTable(pg, client.db().databaseName, name);
        const result = await pg.query(
          `SELECT a.attstorage, pg_column_compression(t._jsonb) AS compression, t._jsonb -> '_rev' AS rev, t._jsonb -> '$s' -> 'p' -> '_rev' AS rev_type
           FROM ${table} t JOIN pg_attribute a ON a.attrelid = '${table}'::regclass AND a.attname = '_jsonb'`,
        );
        // A write carrying the revision it read: refused when stale, counted on when current.
        const writeRead = (rev: number) => pg.query(`UPDATE ${table} SET _jsonb = jsonb_set(_jsonb, '{_rev}', '${rev}') WHERE _jsonb -> '_id' = '"big"'`);
        await assert.rejects(writeRead(2), (error: { code?: string }) => error.code === '40001');
        await writeRead(3);
        return { ...result.rows[0], revAfterWrite: (await pg.query(`SELECT _jsonb -> '_rev' AS rev FROM ${table}`)).rows[0].rev };
      });
      assert.deepEqual(stored, { attstorage: 'e', compression: null, rev: 3, rev_type: { t: 'long' }, revAfterWrite: 4 });
      const read = await documents.findOne({ _id: 'big' });
      assert.equal(read?.n, 3);
      assert.deepEqual(read?.steps.slice(-3), ['x', 'x', 'x']);
      await documents.drop();
    });
  });

  describe('defect 3: big update commands', () => {
    it('a 30-statement update bulkWrite finishes', async () => {
      const counters = collection<Counter>('harness_bulk');
      const prefix = uniqueId('bulk');
      await counters.insertMany(Array.from({ length: 30 }, (_, index) => ({ _id: `${prefix}-${index}`, n: 0 })));
      const result = await counters.bulkWrite(
        Array.from({ length: 30 }, (_, index) => ({ updateOne: { filter: { _id: `${prefix}-${index}` }, update: { $inc: { n: 1 } } } })),
      );
      assert.equal(result.modifiedCount, 30);
    });
  });
});

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

function flatten(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(flatten)];
}

/** FerretDB names each collection's table in its metadata table of the database's schema. */
async function ferretDbTable(pg: import('pg').Client, database: string, collection: string): Promise<string> {
  const result = await pg.query(
    `SELECT _jsonb ->> 'table' AS table FROM "${database}"._ferretdb_database_metadata WHERE _jsonb ->> '_id' = $1`,
    [collection],
  );
  assert.equal(result.rowCount, 1);
  return `"${database}"."${result.rows[0].table}"`;
}

async function startWorker(client: MongoClient, jobName: string, worker: string, runs: Collection<{ jobId: string; worker: string }>) {
  const agenda = new Agenda({
    backend: new MongoBackend({ mongo: client.db(), collection: 'harness_agenda_jobs' }),
    name: worker,
    processEvery: 100,
    defaultConcurrency: 20,
    maxConcurrency: 20,
  });
  agenda.on('error', () => undefined); // a refused lock is retried at the next scan
  agenda.define(jobName, async (job) => {
    await runs.insertOne({ jobName, jobId: String(job.attrs._id), worker } as never);
  });
  await agenda.start();
  return agenda;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(200);
  }
}
