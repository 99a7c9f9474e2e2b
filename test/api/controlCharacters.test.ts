/**
 * NUL and the other C0 control characters (U+0000..U+001F, and DEL) in a path id, a query
 * string or any string of a JSON body (merchant names, login ids, passwords, card numbers,
 * ids) are a 400 invalid_request problem+json that changes nothing: PostgreSQL, under
 * FerretDB, refuses NUL in a string, and no id or name this service keeps has a control
 * character in it.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { User } from '../../src/auth/model.ts';
import { Merchant } from '../../src/merchants/model.ts';
import { assertProblem, balancesOf, idempotencyKey, newHolder, PAYMENT_PASSWORD, testApp, topUp, type Holder } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';

const { app } = testApp('2024-05-30T10:00:00+08:00');

interface Fixtures {
  holder: Holder;
  ops: Holder;
  merchantId: string;
}

interface Case {
  name: string;
  method: 'get' | 'post' | 'put';
  path: (f: Fixtures) => string;
  body?: (f: Fixtures) => object;
  as?: 'holder' | 'ops' | 'none';
  /** Checks that nothing was written. */
  unchanged?: () => Promise<void>;
}

const NUL = '\u0000';
const shopName = uniqueId('shop');
const loginId = uniqueId('login');

const pathCases: Case[] = [
  { name: 'account id', method: 'get', path: () => '/v1/accounts/user%00x', as: 'ops' },
  { name: 'own account id', method: 'get', path: (f) => `/v1/accounts/${f.holder.userId}%00` },
  { name: 'operation id', method: 'get', path: () => '/v1/me/operations/op%00x' },
  { name: 'fund code of the days', method: 'get', path: () => '/v1/funds/YEB%00001/days?from=2024-05-01&to=2024-05-02' },
  { name: 'fund code of a yield', method: 'put', path: () => '/v1/ops/funds/YEB%00/yields/2024-05-29', body: () => ({ yieldPer10k: '0.4000' }), as: 'ops' },
  { name: 'fund code of the accrual', method: 'get', path: () => '/v1/ops/funds/YEB%00/accrual', as: 'ops' },
  { name: 'fund code of a report', method: 'get', path: () => '/v1/ops/reports/funds/YEB%00/daily', as: 'ops' },
  { name: 'merchant id', method: 'get', path: () => '/v1/ops/merchants/m%00x', as: 'ops' },
  { name: 'holiday date', method: 'put', path: () => '/v1/ops/calendar/holidays/2024-05-%0031', as: 'ops' },
  { name: 'income date', method: 'get', path: () => '/v1/me/income/2024-05-3%001' },
  { name: 'a control character other than NUL', method: 'get', path: () => '/v1/me/operations/op%07x' },
];

const queryCases: Case[] = [
  { name: 'operations cursor', method: 'get', path: () => '/v1/me/operations?cursor=abc%00def' },
  { name: 'statement date', method: 'get', path: () => '/v1/me/statement?from=2024-05-01%00&to=2024-05-02' },
  { name: 'report format', method: 'get', path: () => '/v1/ops/reports/reserve/daily?format=csv%00', as: 'ops' },
];

const merchantUnchanged = async () => assert.equal(await Merchant.countDocuments({ name: { $regex: `^${shopName}` } }), 0);
const userUnchanged = async () => assert.equal(await User.countDocuments({ loginId: { $regex: `^${loginId}` } }), 0);

const bodyCases: Case[] = [
  { name: 'merchant name with NUL', method: 'post', path: () => '/v1/ops/merchants', body: () => ({ name: `${shopName}${NUL}` }), as: 'ops', unchanged: merchantUnchanged },
  { name: 'merchant name with a bell', method: 'post', path: () => '/v1/ops/merchants', body: () => ({ name: `${shopName}\u0007` }), as: 'ops', unchanged: merchantUnchanged },
  { name: 'merchant name with a newline', method: 'post', path: () => '/v1/ops/merchants', body: () => ({ name: `${shopName}\n` }), as: 'ops', unchanged: merchantUnchanged },
  { name: 'login id at registration', method: 'post', path: () => '/v1/users', body: () => ({ loginId: `${loginId}${NUL}`, loginPassword: 'correct horse 1' }), as: 'none', unchanged: userUnchanged },
  { name: 'login password at registration', method: 'post', path: () => '/v1/users', body: () => ({ loginId, loginPassword: `correct${NUL}horse 1` }), as: 'none', unchanged: userUnchanged },
  { name: 'login id at sign-in', method: 'post', path: () => '/v1/sessions', body: (f) => ({ loginId: `${f.holder.loginId}${NUL}`, loginPassword: 'correct horse 1' }), as: 'none' },
  { name: 'bank card number', method: 'post', path: () => '/v1/me/bank-cards', body: () => ({ cardNumber: `622202020011223${NUL}` }) },
  { name: 'bank card id of a top-up', method: 'post', path: () => '/v1/me/top-ups', body: (f) => ({ amount: '1.00', bankCardId: `${f.holder.bankCardId}${NUL}` }) },
  { name: 'fund code of a transfer-in', method: 'post', path: () => '/v1/me/transfers-in', body: () => ({ amount: '1.00', channel: 'wallet', fundCode: `YEB001${NUL}` }) },
  { name: 'merchant id of a payment', method: 'post', path: () => '/v1/me/payments', body: (f) => ({ amount: '1.00', merchantId: `${f.merchantId}${NUL}`, paymentPassword: PAYMENT_PASSWORD }) },
  { name: 'payment password', method: 'post', path: () => '/v1/me/withdrawals', body: (f) => ({ amount: '1.00', bankCardId: f.holder.bankCardId, paymentPassword: `13579${NUL}` }) },
  { name: 'amount', method: 'post', path: () => '/v1/me/transfers-in', body: () => ({ amount: `1.00${NUL}`, channel: 'wallet', fundCode: 'YEB001' }) },
  { name: 'a field name', method: 'post', path: () => '/v1/me/transfers-in', body: () => ({ amount: '1.00', channel: 'wallet', [`fund${NUL}Code`]: 'YEB001' }) },
];

describe('control characters in input', () => {
  let fixtures: Fixtures;

  before(async () => {
    const holder = await newHolder(app);
    const ops = await newHolder(app, { ops: true });
    await topUp(app, holder, '100.00');
    const merchant = await request(app).post('/v1/ops/merchants').set(ops.auth).send({ name: uniqueId('merchant') }).expect(201);
    fixtures = { holder, ops, merchantId: merchant.body.id };
  });

  for (const testCase of [...pathCases, ...queryCases, ...bodyCases]) {
    it(`${testCase.name}: 400 invalid_request, nothing changes`, async () => {
      const f = fixtures;
      const before = await balancesOf(f.holder.userId);
      let call = request(app)[testCase.method](testCase.path(f)).set('Idempotency-Key', idempotencyKey());
      if (testCase.as !== 'none') call = call.set((testCase.as === 'ops' ? f.ops : f.holder).auth);
      const response = testCase.body ? await call.send(testCase.body(f)) : await call;
      assertProblem(response, 400, 'invalid_request');
      assert.deepEqual(await balancesOf(f.holder.userId), before);
      await testCase.unchanged?.();
    });
  }
});
