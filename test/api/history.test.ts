/** Operation history: newest first, stable cursor pages, filters, only the caller's operations. */
import assert from 'node:assert/strict';
import request from 'supertest';
import { assertProblem, idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp, topUp } from '../support/api.ts';

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

  it('filters by type, status and the Beijing days the operations were created, pages included', async () => {
    const t = testApp('2024-06-03T01:00:00+08:00'); // 06-02 17:00 UTC
    const holder = await newHolder(t.app);
    await topUp(t.app, holder, '1.00');
    t.clock.set('2024-06-03T23:30:00+08:00');
    await topUp(t.app, holder, '2.00');
    const withdrawal = { amount: '50.00', bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD };
    await request(t.app).post('/v1/me/withdrawals').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send(withdrawal).expect(409);
    t.clock.set('2024-06-04T00:30:00+08:00'); // still 06-03 in UTC
    await topUp(t.app, holder, '4.00');
    const shown = async (query: Record<string, string>) => {
      const page = await request(t.app).get('/v1/me/operations').query(query).set(holder.auth).expect(200);
      return page.body.items.map((item: { type: string; status: string; amount: string }) => `${item.type} ${item.status} ${item.amount}`);
    };
    assert.deepEqual(await shown({ from: '2024-06-03', to: '2024-06-03' }), ['withdrawal failed 50.00', 'top_up completed 2.00', 'top_up completed 1.00']);
    assert.deepEqual(await shown({ from: '2024-06-04' }), ['top_up completed 4.00']);
    assert.deepEqual(await shown({ to: '2024-06-03', type: 'top_up' }), ['top_up completed 2.00', 'top_up completed 1.00']);
    assert.deepEqual(await shown({ status: 'failed' }), ['withdrawal failed 50.00']);
    assert.deepEqual(await shown({ type: 'withdrawal', status: 'completed' }), []);
    const first = await request(t.app).get('/v1/me/operations').query({ type: 'top_up', to: '2024-06-03', limit: '1' }).set(holder.auth).expect(200);
    assert.deepEqual(await shown({ type: 'top_up', to: '2024-06-03', limit: '1', cursor: first.body.nextCursor }), ['top_up completed 1.00']);
    for (const bad of [{ type: 'gift' }, { status: 'lost' }, { from: '2024-02-30' }, { to: '20240603' }, { from: '2024-06-04', to: '2024-06-03' }]) {
      assertProblem(await request(t.app).get('/v1/me/operations').query(bad).set(holder.auth), 400, 'invalid_request');
    }
  });

  it('answers each instant in Beijing time too, right after it', async () => {
    const t = testApp('2024-06-03T23:30:00+08:00'); // 15:30 UTC
    const holder = await newHolder(t.app);
    await topUp(t.app, holder, '1.00');
    const [item] = (await request(t.app).get('/v1/me/operations').set(holder.auth).expect(200)).body.items;
    assert.deepEqual([item.createdAt, item.createdAtBeijing], ['2024-06-03T15:30:00.000Z', '2024-06-03T23:30:00.000+08:00']);
    const names = Object.keys(item);
    assert.deepEqual(names.slice(names.indexOf('createdAt')), ['createdAt', 'createdAtBeijing', 'updatedAt', 'updatedAtBeijing']);
    const session = (await request(t.app).post('/v1/sessions').send({ loginId: holder.loginId, loginPassword: LOGIN_PASSWORD }).expect(201)).body;
    assert.match(session.expiresAtBeijing, /\+08:00$/);
    assert.equal(Date.parse(session.expiresAtBeijing), Date.parse(session.expiresAt), 'the same instant');
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
