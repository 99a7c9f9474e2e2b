/** A bank card has one name for its id wherever it appears: bankCardId. */
import assert from 'node:assert/strict';
import request from 'supertest';
import { idempotencyKey, newHolder, testApp } from '../support/api.ts';

describe('bank cards', () => {
  it('are named by bankCardId when bound, listed, asked for in a request and shown on the operation', async () => {
    const { app } = testApp('2024-05-30T10:00:00+08:00');
    const holder = await newHolder(app);
    const bound = await request(app).post('/v1/me/bank-cards').set(holder.auth).send({ cardNumber: '6222020200119876' }).expect(201);
    const { bankCardId } = bound.body.bankCard;
    assert.match(bankCardId, /^card_/);
    assert.deepEqual(Object.keys(bound.body.bankCard).sort(), ['bankCardId', 'bankName', 'createdAt', 'createdAtBeijing', 'last4']);
    const listed = (await request(app).get('/v1/me/bank-cards').set(holder.auth).expect(200)).body.items;
    assert.deepEqual(listed.map((card: { bankCardId: string }) => card.bankCardId), [holder.bankCardId, bankCardId]);
    const topUp = await request(app).post('/v1/me/top-ups').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '1.00', bankCardId }).expect(201);
    assert.equal(topUp.body.operation.bankCardId, bankCardId);
  });
});
