/** Operation history: newest first, stable cursor pages, only the caller's operations. */
import assert from 'node:assert/strict';
import request from 'supertest';
import { idempotencyKey, newHolder, testApp, topUp } from '../support/api.ts';

const { app } = testApp('2024-05-30T10:00:00+08:00');

describe('operation history', () => {
  it('pages newest first with a cursor, even when the clock stands still', async () => {
    const holder = await newHolder(app);
    const other = await newHolder(app);
    await topUp(app, other, '1.00');
    const amounts = ['1.00', '2.00', '3.00', '4.00', '5.00'];
    for (const amount of amounts) await topUp(app, holder, amount);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = cursor ? { limit: '2', cursor } : { limit: '2' };
      const page = await request(app).get('/v1/me/operations').query(query).set(holder.auth).expect(200);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((item: { amount: string }) => item.amount));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, [...amounts].reverse());
  });

  it('refuses a cursor it did not give out, and a limit out of range', async () => {
    const holder = await newHolder(app);
    const badCursor = await request(app).get('/v1/me/operations').query({ cursor: 'bm90LWFuLWlk' }).set(holder.auth).expect(400);
    assert.equal(badCursor.body.code, 'invalid_cursor');
    await request(app).get('/v1/me/operations').query({ limit: '1000' }).set(holder.auth).expect(400);
    await request(app).get('/v1/me/operations').query({ limit: '0' }).set(holder.auth).expect(400);
  });

  it('shows one operation to its owner only', async () => {
    const holder = await newHolder(app);
    const other = await newHolder(app);
    const created = await request(app)
      .post('/v1/me/top-ups')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '1.00', bankCardId: holder.bankCardId })
      .expect(201);
    const id = created.body.operation.id as string;
    await request(app).get(`/v1/me/operations/${id}`).set(holder.auth).expect(200);
    const hidden = await request(app).get(`/v1/me/operations/${id}`).set(other.auth).expect(404);
    assert.equal(hidden.body.code, 'not_found');
  });
});
