/**
 * A few seeds of the fault-injection explorer (scripts/explorer.ts): requests crashed and
 * stalled at the engine's points, recovery and replays alongside, and the books still hold.
 * `npm run explore -- --seeds 500` runs many more.
 */
import assert from 'node:assert/strict';
import { createWorld, exploreSeed } from '../../scripts/explorer.ts';

const SEEDS = [1, 2, 3];

describe('fault-injection explorer', function () {
  this.timeout(600_000);

  it(`seeds ${SEEDS.join(', ')}: nothing created, lost, negative or pending`, async () => {
    const world = await createWorld();
    for (const seed of SEEDS) {
      const result = await exploreSeed(world, seed);
      assert.deepEqual(result.failures, [], `seed ${seed}\n${result.trace.join('\n')}`);
    }
  });
});
