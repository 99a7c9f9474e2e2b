/**
 * `npm run bench:db`: what the database costs through FerretDB with the harness's fixes, at
 * 1,000 and 100,000 documents, against the floor of the same operations sent straight to
 * PostgreSQL (a jsonb table with a btree primary key) in the same run.
 * Prints a table; with --json the last line is one JSON object.
 */
import { MongoClient, type Collection } from 'mongodb';
import pg from 'pg';
import { startEmbeddedStack } from '../src/db/embedded/stack.ts';

const SIZES = [1_000, 100_000];
const BATCH = 1_000;
const SAMPLE = 1_000;
const CONCURRENCY = 8;

interface Row {
  documents: number;
  operation: string;
  ferretdbPerS: number;
  postgresPerS: number;
}

async function timed(count: number, work: () => Promise<unknown>): Promise<number> {
  const startedAt = process.hrtime.bigint();
  await work();
  const elapsedS = Number(process.hrtime.bigint() - startedAt) / 1e9;
  return Math.round(count / elapsedS);
}

async function inParallel(count: number, task: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) await task(next++);
  }));
}

const ids = (size: number) => Array.from({ length: SAMPLE }, (_, index) => `doc-${(index * 7919) % size}`);

async function ferretdbFigures(collection: Collection<{ _id: string; n: number; payload: string }>, size: number) {
  const insert = await timed(size, async () => {
    for (let start = 0; start < size; start += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, size - start) }, (_, offset) => ({ _id: `doc-${start + offset}`, n: 0, payload: 'x'.repeat(64) }));
      await collection.insertMany(batch, { ordered: false });
    }
  });
  const scan = await timed(size, async () => {
    for await (const _document of collection.find({}, { batchSize: BATCH })) void _document;
  });
  const lookup = await timed(SAMPLE, async () => {
    for (const id of ids(size)) await collection.findOne({ _id: id });
  });
  const update = await timed(SAMPLE, async () => {
    for (const id of ids(size)) await collection.updateOne({ _id: id }, { $inc: { n: 1 } });
  });
  const updateConcurrent = await timed(SAMPLE, () => inParallel(SAMPLE, (index) => collection.updateOne({ _id: `doc-${index}` }, { $inc: { n: 1 } })));
  return { insert, scan, lookup, update, updateConcurrent };
}

async function postgresFigures(pool: pg.Pool, size: number) {
  const table = `bench_floor_${size}`;
  await pool.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id text PRIMARY KEY, doc jsonb NOT NULL)`);
  const insert = await timed(size, async () => {
    for (let start = 0; start < size; start += BATCH) {
      const rows = Array.from({ length: Math.min(BATCH, size - start) }, (_, offset) => [`doc-${start + offset}`, JSON.stringify({ n: 0, payload: 'x'.repeat(64) })]);
      await pool.query(`INSERT INTO ${table} SELECT * FROM unnest($1::text[], $2::jsonb[])`, [rows.map((row) => row[0]), rows.map((row) => row[1])]);
    }
  });
  const scan = await timed(size, async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`DECLARE scan CURSOR FOR SELECT doc FROM ${table}`);
      while ((await client.query(`FETCH ${BATCH} FROM scan`)).rowCount) { /* drain */ }
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });
  const lookup = await timed(SAMPLE, async () => {
    for (const id of ids(size)) await pool.query(`SELECT doc FROM ${table} WHERE id = $1`, [id]);
  });
  const updateSql = `UPDATE ${table} SET doc = jsonb_set(doc, '{n}', to_jsonb((doc->>'n')::int + 1)) WHERE id = $1`;
  const update = await timed(SAMPLE, async () => {
    for (const id of ids(size)) await pool.query(updateSql, [id]);
  });
  const updateConcurrent = await timed(SAMPLE, () => inParallel(SAMPLE, (index) => pool.query(updateSql, [`doc-${index}`])));
  await pool.query(`DROP TABLE ${table}`);
  return { insert, scan, lookup, update, updateConcurrent };
}

const LABELS: Record<string, string> = {
  insert: 'insertMany, 1,000 a batch',
  scan: 'cursor scan, batch 1,000',
  lookup: 'findOne by _id',
  update: 'updateOne $inc by _id, one at a time',
  updateConcurrent: `updateOne $inc by _id, ${CONCURRENCY} at once`,
};

async function main(): Promise<void> {
  const stack = await startEmbeddedStack({ databaseName: 'moneyfund_bench' });
  const client = await MongoClient.connect(stack.uri, { maxPoolSize: 10 });
  const pool = new pg.Pool({ host: '127.0.0.1', port: stack.postgresPort, user: 'postgres', database: 'ferretdb', max: CONCURRENCY });
  const rows: Row[] = [];
  try {
    for (const size of SIZES) {
      const collection = client.db().collection<{ _id: string; n: number; payload: string }>(`bench_${size}`);
      const ferretdb = await ferretdbFigures(collection, size);
      const postgres = await postgresFigures(pool, size);
      await collection.drop();
      for (const operation of Object.keys(LABELS) as (keyof typeof ferretdb)[]) {
        rows.push({ documents: size, operation: LABELS[operation]!, ferretdbPerS: ferretdb[operation], postgresPerS: postgres[operation] });
      }
    }
  } finally {
    await client.close();
    await pool.end();
    await stack.stop();
  }
  console.log('documents | operation | FerretDB+fixes docs/s | PostgreSQL floor docs/s | ratio');
  for (const row of rows) {
    console.log(`${row.documents} | ${row.operation} | ${row.ferretdbPerS} | ${row.postgresPerS} | ${(row.ferretdbPerS / row.postgresPerS).toFixed(2)}`);
  }
  if (process.argv.includes('--json')) console.log(JSON.stringify({ rows }));
}

await main();
