/**
 * The test clock's routes: refused outside the sandbox (`npm start`, production: no test
 * clock) with 404 sandbox_only, and in the sandbox every bad move is a problem+json that
 * leaves the clock where it was. Moves that land are driven in test/integration/sandbox.test.ts,
 * on a sandbox database of their own (a move publishes and accrues the whole book).
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { createApp } from '../../src/app.ts';
import { TestClock } from '../../src/calendar/clock.ts';
import { createContext } from '../../src/context.ts';
import { CLOCK_ID, SandboxState } from '../../src/sandbox/model.ts';
import { catchUpTestClock, followTestClock } from '../../src/sandbox/service.ts';
import { newHolder, testApp } from '../support/api.ts';
import { until } from '../support/until.ts';

const CLOCK = '/v1/ops/sandbox/clock';
const DAY_MS = 86_400_000;

describe('sandbox test clock routes', () => {
  it('outside the sandbox answer 404 sandbox_only to ops, as the ops guard answers others', async () => {
    const { app } = testApp();
    const ops = await newHolder(app, { ops: true });
    const holder = await newHolder(app);
    for (const call of [request(app).get(CLOCK), request(app).post(CLOCK).send({ days: 1 })]) {
      const response = await call.set(ops.auth).expect(404).expect('content-type', /application\/problem\+json/);
      assert.equal(response.body.code, 'sandbox_only');
    }
    assert.equal((await request(app).post(CLOCK).set(holder.auth).send({ days: 1 }).expect(403)).body.code, 'forbidden');
    await request(app).post(CLOCK).send({ days: 1 }).expect(401);
  });

  it('in the sandbox refuses a bad move with problem+json and leaves the clock', async () => {
    const clock = new TestClock(0);
    const app = createApp(createContext({ clock }));
    const ops = await newHolder(app, { ops: true });
    const stored = await SandboxState.findById(CLOCK_ID).lean();
    const cases: [unknown, number, string][] = [
      [{ to: '25:00' }, 400, 'invalid_request'],
      [{ to: '15:00:00' }, 400, 'invalid_request'],
      [{ to: 'tomorrow' }, 400, 'invalid_request'],
      [{ to: 1500 }, 400, 'invalid_request'],
      [{ to: { $gt: '' } }, 400, 'invalid_request'],
      [{ days: 0 }, 400, 'invalid_request'],
      [{ days: -1 }, 400, 'invalid_request'],
      [{ days: 1.5 }, 400, 'invalid_request'],
      [{ days: '2' }, 400, 'invalid_request'],
      [{ days: 32 }, 400, 'invalid_request'],
      [{ to: '15:00', days: 1 }, 400, 'invalid_request'],
      [{}, 400, 'invalid_request'],
      [{ days: 1, back: true }, 400, 'invalid_request'],
      [{ to: '2026-02-30T10:00' }, 400, 'invalid_request'],
      [{ to: '2020-01-01T10:00' }, 422, 'clock_not_forward'],
      [{ to: '2099-01-01T10:00' }, 422, 'clock_move_too_far'],
    ];
    for (const [body, status, code] of cases) {
      const response = await request(app).post(CLOCK).set(ops.auth).send(body as object);
      assert.deepEqual([response.status, response.body.code], [status, code], JSON.stringify(body));
      assert.match(response.headers['content-type']!, /application\/problem\+json/);
    }
    assert.equal(clock.offsetMs, 0);
    assert.deepEqual(await SandboxState.findById(CLOCK_ID).lean(), stored, 'nothing stored');
    const view = (await request(app).get(CLOCK).set(ops.auth).expect(200)).body;
    assert.equal(view.offsetMs, 0);
  });

  it("a process's test clock follows a move another process stored (the CLI's), never back", async () => {
    const storedMs = (await SandboxState.findById(CLOCK_ID).lean())?.offsetMs ?? 0;
    const storeOffset = (offsetMs: number) => SandboxState.updateOne({ _id: CLOCK_ID }, { $max: { offsetMs } }, { upsert: true });
    await storeOffset(storedMs + DAY_MS);
    const behind = new TestClock(0);
    await catchUpTestClock(behind);
    assert.equal(behind.offsetMs, storedMs + DAY_MS);
    const ahead = new TestClock(storedMs + 2 * DAY_MS);
    await catchUpTestClock(ahead);
    assert.equal(ahead.offsetMs, storedMs + 2 * DAY_MS, 'never back');
    const stopFollowing = followTestClock(behind, 20);
    try {
      await storeOffset(storedMs + 3 * DAY_MS);
      await until('the follower to catch up', 5_000, async () => behind.offsetMs === storedMs + 3 * DAY_MS);
    } finally {
      stopFollowing();
    }
  });
});
