/**
 * Webhook endpoints as ops register them: the secret answered once and never again, pause,
 * resume and delete, every change audited without the secret, bad input refused with nothing
 * written; and the documented signature check a receiver runs.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { WebhookEndpoint } from '../../src/webhooks/model.ts';
import { WEBHOOK_ENDPOINTS_MAX } from '../../src/webhooks/service.ts';
import { signatureHeader, verifySignature } from '../../src/webhooks/signature.ts';
import { assertProblem, newHolder, testApp, type Holder } from '../support/api.ts';

const ENDPOINTS = '/v1/ops/webhook-endpoints';

describe('webhook endpoints', () => {
  const t = testApp();
  let ops: Holder;
  const register = (body: object) => request(t.app).post(ENDPOINTS).set(ops.auth).send(body);

  before(async () => {
    ops = await newHolder(t.app, { ops: true });
    await WebhookEndpoint.deleteMany({});
  });

  it('answers the secret once at registration, then lists, pauses, resumes and deletes without it', async () => {
    const created = (await register({ url: 'https://wallet.example/hooks', types: ['payment.succeeded', 'income.credited'], description: 'wallet' }).expect(201)).body;
    assert.match(created.secret, /^whsec_[A-Za-z0-9_-]{32}$/);
    assert.deepEqual([created.status, created.createdBy, created.types], ['enabled', ops.userId, ['payment.succeeded', 'income.credited']]);
    const listed = (await request(t.app).get(ENDPOINTS).set(ops.auth).expect(200)).body.endpoints;
    assert.deepEqual(listed.map((endpoint: { id: string }) => endpoint.id), [created.id]);
    assert.equal(JSON.stringify(listed).includes(created.secret), false, 'no list shows the secret');
    const one = (await request(t.app).get(`${ENDPOINTS}/${created.id}`).set(ops.auth).expect(200)).body;
    assert.equal('secret' in one, false);
    assert.equal((await request(t.app).post(`${ENDPOINTS}/${created.id}/pause`).set(ops.auth).expect(200)).body.status, 'paused');
    assert.equal((await request(t.app).post(`${ENDPOINTS}/${created.id}/resume`).set(ops.auth).expect(200)).body.status, 'enabled');
    await request(t.app).delete(`${ENDPOINTS}/${created.id}`).set(ops.auth).expect(200, { id: created.id, deleted: true });
    assertProblem(await request(t.app).get(`${ENDPOINTS}/${created.id}`).set(ops.auth), 404, 'not_found');
    assertProblem(await request(t.app).post(`${ENDPOINTS}/${created.id}/pause`).set(ops.auth), 404, 'not_found');

    const audit = (await request(t.app).get(`/v1/ops/audit?actor=${ops.userId}`).set(ops.auth).expect(200)).body.items;
    assert.deepEqual(
      audit.map((item: { action: string; outcome: string }) => [item.action, item.outcome]),
      [['webhook.pause', 'refused'], ['webhook.delete', 'done'], ['webhook.resume', 'done'], ['webhook.pause', 'done'], ['webhook.create', 'done']],
    );
    assert.equal(JSON.stringify(audit).includes(created.secret), false, 'the audit keeps no secret');
  });

  it('refuses a bad endpoint with a 400 and registers nothing', async () => {
    const before = await WebhookEndpoint.countDocuments({});
    const bad = [
      { url: 'ftp://wallet.example/hooks', types: ['*'] },
      { url: 'https://user:pw@wallet.example/hooks', types: ['*'] },
      { url: 'not a url', types: ['*'] },
      { url: `https://wallet.example/${'a'.repeat(2048)}`, types: ['*'] },
      { url: 'https://wallet.example/hooks', types: [] },
      { url: 'https://wallet.example/hooks', types: ['payment.refunded'] },
      { url: 'https://wallet.example/hooks', types: ['payment.succeeded', 'payment.succeeded'] },
      { url: 'https://wallet.example/hooks', types: ['*'], secret: 'mine' },
      { url: { $gt: '' }, types: ['*'] },
    ];
    for (const body of bad) assertProblem(await register(body), 400, 'invalid_request');
    assert.equal(await WebhookEndpoint.countDocuments({}), before);
  });

  it(`keeps at most ${WEBHOOK_ENDPOINTS_MAX} endpoints, and lets only ops near them`, async () => {
    await WebhookEndpoint.deleteMany({});
    for (let index = 0; index < WEBHOOK_ENDPOINTS_MAX; index++) await register({ url: `https://wallet.example/${index}`, types: ['*'] }).expect(201);
    assertProblem(await register({ url: 'https://wallet.example/one-more', types: ['*'] }), 409, 'webhook_endpoints_full');
    assert.equal(await WebhookEndpoint.countDocuments({}), WEBHOOK_ENDPOINTS_MAX);
    const holder = await newHolder(t.app);
    assertProblem(await request(t.app).get(ENDPOINTS).set(holder.auth), 403, 'forbidden');
    assertProblem(await request(t.app).post(ENDPOINTS).set(holder.auth).send({ url: 'https://evil.example/', types: ['*'] }), 403, 'forbidden');
    await WebhookEndpoint.deleteMany({});
  });
});

describe('webhook signatures', () => {
  const secret = 'whsec_test-secret';
  const body = '{"id":"evt_1","type":"payment.succeeded"}';
  const nowSeconds = 1_780_000_000;

  it('verifies a signed body, and refuses a tampered body, another secret, an old timestamp and a malformed header', () => {
    const header = signatureHeader(secret, nowSeconds, body);
    assert.match(header, /^t=1780000000,v1=[0-9a-f]{64}$/);
    assert.equal(verifySignature(secret, header, body, nowSeconds + 60), 'valid');
    assert.equal(verifySignature(secret, header, body.replace('evt_1', 'evt_2'), nowSeconds), 'mismatch');
    assert.equal(verifySignature('whsec_other', header, body, nowSeconds), 'mismatch');
    assert.equal(verifySignature(secret, header, body, nowSeconds + 301), 'too_old');
    for (const malformed of ['', 't=abc,v1=00', `t=${nowSeconds}`, `t=${nowSeconds},v1=xyz`]) assert.equal(verifySignature(secret, malformed, body, nowSeconds), 'malformed');
  });
});
