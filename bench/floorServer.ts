/**
 * The floor of `npm run bench:api`: a bare Express route that does one guarded updateOne
 * (retried on a write conflict, as every update here is) on the same database server.
 */
import express from 'express';
import mongoose from 'mongoose';
import { connectMongoose } from '../src/db/connection.ts';
import { retryOnWriteConflict } from '../src/db/writeConflict.ts';

await connectMongoose(process.env.MONGODB_URI!);
const counters = mongoose.connection.db!.collection<{ _id: string; n: number }>('bench_floor_counters');
const app = express();
app.post('/floor/:id', async (req, res) => {
  const result = await retryOnWriteConflict(() => counters.updateOne({ _id: req.params.id, n: { $gte: 0 } }, { $inc: { n: 1 } }));
  res.status(result.modifiedCount === 1 ? 201 : 409).json({ ok: result.modifiedCount === 1 });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
