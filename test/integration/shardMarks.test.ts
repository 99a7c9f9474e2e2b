/**
 * A reserve shard's legs leave marks that stay until their operation records them: a crash
 * between a shard's update and the operation's record, followed by hundreds of legs on the
 * same shard, still leaves recovery the proof that the leg applied (once a window of the
 * latest 256 steps lost it, and recovery moved the money a second time).
 */
import assert from 'node:assert/strict';
import { markOf } from '../../src/operations/marks.ts';
import { Operation } from '../../src/operations/model.ts';
import { reconcileJournal } from '../../src/reconciliation/service.ts';
import { startOperation } from '../../src/operations/service.ts';
import { ReserveShard } from '../../src/reserve/model.ts';
import { openReserve } from '../../src/reserve/service.ts';
import { recoverStuckOperations } from '../../src/operations/recovery.ts';
import { newHolder, testApp } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';
import { adjustReserve, shardsOf, useOwnReserve } from '../support/reserve.ts';

const LEGS_MEANWHILE = 300;

describe('reserve shard legs after a crash', function () {
  this.timeout(300_000);

  it('recovery finds a shard leg applied before a crash, however many legs the shard took since', async () => {
    const t = testApp('2024-06-03T10:00:00+08:00');
    const reserve = useOwnReserve(t);
    const ops = await newHolder(t.app, { ops: true });
    const [firstShard] = (await openReserve(t.ctx)).map((shard) => shard._id).sort();
    const { operation } = await startOperation(
      { userId: ops.userId, idempotencyKey: uniqueId('adjust'), request: { amount: '1.00' }, type: 'reserve_adjustment', amountFen: 100n, direction: 'increase' },
      t.clock.now(),
    );
    // What the first attempt did before dying: the first shard's guarded update, its mark included.
    await ReserveShard.updateOne({ _id: firstShard }, { $inc: { availableFen: 13n, legCount: 1 }, $set: { unfinishedMarks: markOf(operation._id, 'shard-0') } });
    // A fen at a time lands on the first shard alone (it takes the remainder).
    for (let index = 0; index < LEGS_MEANWHILE; index++) await adjustReserve(t, ops, '0.01', 'increase').expect(201);
    t.clock.advance(t.ctx.config.jobs.recoverAfterMs + 1_000);
    await recoverStuckOperations(t.ctx);
    assert.equal((await Operation.findById(operation._id).lean())?.status, 'completed');
    await adjustReserve(t, ops, '0.01', 'increase').expect(201); // one more leg takes the finished marks away
    const shards = await shardsOf(reserve);
    assert.equal(shards.reduce((sum, shard) => sum + shard.availableFen, 0n), 100n + BigInt(LEGS_MEANWHILE) + 1n);
    const breaks = (await reconcileJournal()).breaks.filter((item) => item.userId.startsWith(`reserve:${reserve}:`));
    assert.deepEqual(breaks, []);
    // The shard keeps unfinished marks only (the last leg's): on this server a list of recent
    // steps never lost one, it grew by one for every leg (`$slice` in `$push` is not applied).
    const first = shards.find((shard) => shard._id === firstShard)!;
    assert.equal(first.unfinishedMarks.split(' ').length, 1, first.unfinishedMarks);
  });
});
