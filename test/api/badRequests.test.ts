/**
 * Bad input changes nothing: every malformed, hostile or refused request to the money and
 * auth endpoints is answered 4xx application/problem+json with `status`, `code` and
 * `detail`, the holder's balances and credentials stay as they were, and no operation is
 * added to the history (except the business refusals that are recorded as failed
 * operations: then exactly one failed operation appears and nothing moves). Then the
 * Idempotency-Key rules: a different body under a used key is refused, a replay gets the
 * first answer, and neither moves money.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Response } from 'supertest';
import { User } from '../../src/auth/model.ts';
import {
  balancesOf,
  idempotencyKey,
  LOGIN_PASSWORD,
  newHolder,
  PAYMENT_PASSWORD,
  testApp,
  topUp,
  type Holder,
  assertProblem,
} from '../support/api.ts';
import { uniqueId } from '../support/database.ts';

const { app } = testApp();

const WRONG_PAYMENT_PASSWORD = '024680';
const KIB = 1024;

/** The holders a case may use: `holder` has 100.00 in the wallet and no shares; `other` is another user. */
interface Fixtures {
  holder: Holder;
  other: Holder;
}

type Body = Record<string, unknown>;

const topUpBody = (f: Fixtures): Body => ({ amount: '1.00', bankCardId: f.holder.bankCardId });
const withdrawalBody = (f: Fixtures): Body => ({ amount: '1.00', bankCardId: f.holder.bankCardId, paymentPassword: PAYMENT_PASSWORD });
const transferInBody = (): Body => ({ amount: '1.00', channel: 'wallet', fundCode: 'YEB001' });
const redemptionBody = (): Body => ({ amount: '1.00', channel: 'wallet', paymentPassword: PAYMENT_PASSWORD });

type BodyOf = (f: Fixtures) => Body;
/** A valid body with some fields replaced. */
const withFields = (base: BodyOf, fields: Body | ((f: Fixtures) => Body)): BodyOf => (f) => ({
  ...base(f),
  ...(typeof fields === 'function' ? fields(f) : fields),
});
/** A valid body with one field removed. */
const withoutField = (base: BodyOf, field: string): BodyOf => (f) => {
  const { [field]: _dropped, ...rest } = base(f);
  return rest;
};

interface BadRequest {
  name: string;
  method?: 'post' | 'put' | 'get';
  path: string;
  /** A JSON body (built from the fixtures), or a raw text body with its Content-Type. */
  body?: BodyOf;
  raw?: { contentType: string; text: string | ((f: Fixtures) => string) };
  /** Default: the holder's bearer token. */
  auth?: 'holder' | 'none' | 'garbage' | 'basic';
  /** Default: a fresh valid key. null sends none. */
  key?: string | null;
  status: number;
  code: string;
  /** This case needs its own holder (it counts a wrong payment password). */
  ownHolder?: boolean;
  /** Business refusals recorded as one failed operation (nothing moves). */
  recordsFailedOperation?: boolean;
  /** Extra checks on the answer. */
  check?: (response: Response, f: Fixtures) => Promise<void> | void;
}

const TOP_UPS = '/v1/me/top-ups';
const WITHDRAWALS = '/v1/me/withdrawals';
const TRANSFERS_IN = '/v1/me/transfers-in';
const REDEMPTIONS = '/v1/me/redemptions';

/** Amounts every money endpoint must refuse with 400 before anything else happens. */
const badAmounts: { name: string; amount: unknown }[] = [
  { name: '3 decimals', amount: '1.001' },
  { name: 'negative', amount: '-1.00' },
  { name: 'zero', amount: '0' },
  { name: 'zero with decimals', amount: '0.00' },
  { name: 'exponent', amount: '1e3' },
  { name: 'a JSON number', amount: 100 },
  { name: 'leading zeros', amount: '01.00' },
  { name: 'leading whitespace', amount: ' 1.00' },
  { name: 'trailing newline', amount: '1.00\n' },
  { name: 'empty string', amount: '' },
  { name: '16 integer digits', amount: '1000000000000000.00' },
  { name: 'a $gt operator', amount: { $gt: '' } },
  { name: 'an array', amount: ['1.00'] },
  { name: 'null', amount: null },
  { name: 'a plus sign', amount: '+1.00' },
  { name: 'a comma decimal', amount: '1,00' },
  { name: 'a trailing dot', amount: '1.' },
  { name: 'Infinity', amount: 'Infinity' },
];

const amountCases: BadRequest[] = [
  ...badAmounts.map(({ name, amount }) => ({
    name: `top-up amount: ${name}`,
    path: TOP_UPS,
    body: withFields(topUpBody, { amount }),
    status: 400,
    code: 'invalid_request',
  })),
  // Every endpoint runs the same amount rule: a sample of each on the others.
  ...[
    { path: WITHDRAWALS, base: withdrawalBody },
    { path: TRANSFERS_IN, base: transferInBody },
    { path: REDEMPTIONS, base: redemptionBody },
  ].flatMap(({ path, base }) =>
    [
      { name: '3 decimals', amount: '1.001' },
      { name: 'negative', amount: '-1.00' },
      { name: 'zero', amount: '0.00' },
      { name: 'exponent', amount: '1e3' },
      { name: 'a JSON number', amount: 100 },
      { name: 'a $gt operator', amount: { $gt: '' } },
    ].map(({ name, amount }) => ({
      name: `${path.split('/').at(-1)} amount: ${name}`,
      path,
      body: withFields(base, { amount }),
      status: 400,
      code: 'invalid_request',
    })),
  ),
  { name: 'top-up without amount', path: TOP_UPS, body: withoutField(topUpBody, 'amount'), status: 400, code: 'invalid_request' },
  { name: 'redemption without amount', path: REDEMPTIONS, body: withoutField(redemptionBody, 'amount'), status: 400, code: 'invalid_request' },
];

const fieldCases: BadRequest[] = [
  { name: 'top-up: unknown extra field', path: TOP_UPS, body: withFields(topUpBody, { currency: 'CNY' }), status: 400, code: 'invalid_request' },
  { name: 'top-up: __proto__ field', path: TOP_UPS, raw: { contentType: 'application/json', text: (f) => `{"amount":"1.00","bankCardId":"${f.holder.bankCardId}","__proto__":{"admin":true}}` }, status: 400, code: 'invalid_request' },
  { name: 'top-up: $gt as bankCardId', path: TOP_UPS, body: withFields(topUpBody, { bankCardId: { $gt: '' } }), status: 400, code: 'invalid_request' },
  { name: 'top-up: without bankCardId', path: TOP_UPS, body: withoutField(topUpBody, 'bankCardId'), status: 400, code: 'invalid_request' },
  { name: 'top-up: another user\'s bank card', path: TOP_UPS, body: withFields(topUpBody, (f) => ({ bankCardId: f.other.bankCardId })), status: 422, code: 'unknown_bank_card' },
  { name: 'top-up: a bank card that does not exist', path: TOP_UPS, body: withFields(topUpBody, { bankCardId: 'card-nope' }), status: 422, code: 'unknown_bank_card' },
  { name: 'withdrawal: another user\'s bank card', path: WITHDRAWALS, body: withFields(withdrawalBody, (f) => ({ bankCardId: f.other.bankCardId })), status: 422, code: 'unknown_bank_card' },
  { name: 'withdrawal: $gt as bankCardId', path: WITHDRAWALS, body: withFields(withdrawalBody, { bankCardId: { $gt: '' } }), status: 400, code: 'invalid_request' },
  { name: 'withdrawal: without payment password', path: WITHDRAWALS, body: withoutField(withdrawalBody, 'paymentPassword'), status: 400, code: 'invalid_request' },
  { name: 'withdrawal: payment password of 5 digits', path: WITHDRAWALS, body: withFields(withdrawalBody, { paymentPassword: '13579' }), status: 400, code: 'invalid_request' },
  { name: 'withdrawal: payment password of 7 digits', path: WITHDRAWALS, body: withFields(withdrawalBody, { paymentPassword: '1357900' }), status: 400, code: 'invalid_request' },
  { name: 'withdrawal: payment password of letters', path: WITHDRAWALS, body: withFields(withdrawalBody, { paymentPassword: 'abcdef' }), status: 400, code: 'invalid_request' },
  { name: 'withdrawal: payment password as a number', path: WITHDRAWALS, body: withFields(withdrawalBody, { paymentPassword: 135790 }), status: 400, code: 'invalid_request' },
  { name: 'withdrawal: payment password as $ne', path: WITHDRAWALS, body: withFields(withdrawalBody, { paymentPassword: { $ne: '' } }), status: 400, code: 'invalid_request' },
  { name: 'withdrawal: larger than the wallet', path: WITHDRAWALS, body: withFields(withdrawalBody, { amount: '100.01' }), status: 409, code: 'insufficient_balance', recordsFailedOperation: true },
  {
    name: 'withdrawal: wrong payment password',
    path: WITHDRAWALS,
    body: withFields(withdrawalBody, { paymentPassword: WRONG_PAYMENT_PASSWORD }),
    status: 403,
    code: 'payment_password_wrong',
    ownHolder: true,
    check: async (response, f) => {
      assert.equal(response.body.attemptsLeft, 2);
      const user = await User.findById(f.holder.userId).lean();
      assert.equal(user?.paymentFailures, 1, 'the wrong attempt is counted');
      assert.equal(user?.paymentLockedUntil, null);
    },
  },
  { name: 'transfer-in: unknown channel', path: TRANSFERS_IN, body: withFields(transferInBody, { channel: 'alipay' }), status: 400, code: 'invalid_request' },
  { name: 'transfer-in: channel in capitals', path: TRANSFERS_IN, body: withFields(transferInBody, { channel: 'WALLET' }), status: 400, code: 'invalid_request' },
  { name: 'transfer-in: bank_card channel without bankCardId', path: TRANSFERS_IN, body: withFields(transferInBody, { channel: 'bank_card' }), status: 400, code: 'invalid_request' },
  { name: 'transfer-in: wallet channel with a bankCardId', path: TRANSFERS_IN, body: withFields(transferInBody, (f) => ({ bankCardId: f.holder.bankCardId })), status: 400, code: 'invalid_request' },
  { name: 'transfer-in: another user\'s bank card', path: TRANSFERS_IN, body: withFields(transferInBody, (f) => ({ channel: 'bank_card', bankCardId: f.other.bankCardId })), status: 422, code: 'unknown_bank_card' },
  { name: 'transfer-in: unknown fundCode', path: TRANSFERS_IN, body: withFields(transferInBody, { fundCode: 'NOPE01' }), status: 422, code: 'unknown_fund' },
  { name: 'transfer-in: $gt as fundCode', path: TRANSFERS_IN, body: withFields(transferInBody, { fundCode: { $gt: '' } }), status: 400, code: 'invalid_request' },
  { name: 'transfer-in: first one without fundCode', path: TRANSFERS_IN, body: withoutField(transferInBody, 'fundCode'), status: 422, code: 'fund_required' },
  { name: 'transfer-in: larger than the wallet', path: TRANSFERS_IN, body: withFields(transferInBody, { amount: '100.01' }), status: 409, code: 'insufficient_balance', recordsFailedOperation: true },
  { name: 'redemption: unknown channel', path: REDEMPTIONS, body: withFields(redemptionBody, { channel: 'instant' }), status: 400, code: 'invalid_request' },
  { name: 'redemption: bank_card channel without bankCardId', path: REDEMPTIONS, body: withFields(redemptionBody, { channel: 'bank_card' }), status: 400, code: 'invalid_request' },
  { name: 'redemption: wallet channel with a bankCardId', path: REDEMPTIONS, body: withFields(redemptionBody, (f) => ({ bankCardId: f.holder.bankCardId })), status: 400, code: 'invalid_request' },
  { name: 'redemption: another user\'s bank card', path: REDEMPTIONS, body: withFields(redemptionBody, (f) => ({ channel: 'bank_card', bankCardId: f.other.bankCardId })), status: 422, code: 'unknown_bank_card' },
  { name: 'redemption: payment password of 5 digits', path: REDEMPTIONS, body: withFields(redemptionBody, { paymentPassword: '13579' }), status: 400, code: 'invalid_request' },
  { name: 'redemption: payment password of letters', path: REDEMPTIONS, body: withFields(redemptionBody, { paymentPassword: 'abcdef' }), status: 400, code: 'invalid_request' },
  { name: 'redemption: payment password as a number', path: REDEMPTIONS, body: withFields(redemptionBody, { paymentPassword: 135790 }), status: 400, code: 'invalid_request' },
  { name: 'redemption: unknown extra field', path: REDEMPTIONS, body: withFields(redemptionBody, { instant: true }), status: 400, code: 'invalid_request' },
  { name: 'redemption: more than the holder\'s shares', path: REDEMPTIONS, body: redemptionBody, status: 409, code: 'insufficient_shares', recordsFailedOperation: true },
  {
    name: 'redemption: wrong payment password',
    path: REDEMPTIONS,
    body: withFields(redemptionBody, { paymentPassword: WRONG_PAYMENT_PASSWORD }),
    status: 403,
    code: 'payment_password_wrong',
    ownHolder: true,
    check: (response) => assert.equal(response.body.attemptsLeft, 2),
  },
];

const transportCases: BadRequest[] = [
  { name: 'top-up: no Idempotency-Key', path: TOP_UPS, body: topUpBody, key: null, status: 400, code: 'idempotency_key_required' },
  { name: 'withdrawal: no Idempotency-Key', path: WITHDRAWALS, body: withdrawalBody, key: null, status: 400, code: 'idempotency_key_required' },
  { name: 'transfer-in: no Idempotency-Key', path: TRANSFERS_IN, body: transferInBody, key: null, status: 400, code: 'idempotency_key_required' },
  { name: 'redemption: no Idempotency-Key', path: REDEMPTIONS, body: redemptionBody, key: null, status: 400, code: 'idempotency_key_required' },
  { name: 'top-up: Idempotency-Key too short', path: TOP_UPS, body: topUpBody, key: 'abc1234', status: 400, code: 'invalid_idempotency_key' },
  { name: 'top-up: Idempotency-Key with spaces', path: TOP_UPS, body: topUpBody, key: 'key with spaces 123', status: 400, code: 'invalid_idempotency_key' },
  { name: 'top-up: Idempotency-Key too long', path: TOP_UPS, body: topUpBody, key: 'k'.repeat(129), status: 400, code: 'invalid_idempotency_key' },
  { name: 'top-up: Idempotency-Key with a slash', path: TOP_UPS, body: topUpBody, key: 'key/../../12345', status: 400, code: 'invalid_idempotency_key' },
  { name: 'top-up: text/plain body', path: TOP_UPS, raw: { contentType: 'text/plain', text: (f) => JSON.stringify(topUpBody(f)) }, status: 415, code: 'unsupported_media_type' },
  { name: 'top-up: form-encoded body', path: TOP_UPS, raw: { contentType: 'application/x-www-form-urlencoded', text: (f) => `amount=1.00&bankCardId=${f.holder.bankCardId}` }, status: 415, code: 'unsupported_media_type' },
  { name: 'top-up: JSON in latin1', path: TOP_UPS, raw: { contentType: 'application/json; charset=latin1', text: (f) => JSON.stringify(topUpBody(f)) }, status: 415, code: 'unsupported_media_type' },
  { name: 'top-up: malformed JSON', path: TOP_UPS, raw: { contentType: 'application/json', text: '{"amount": "1.00", ' }, status: 400, code: 'invalid_request' },
  { name: 'top-up: a JSON array', path: TOP_UPS, raw: { contentType: 'application/json', text: '[]' }, status: 400, code: 'invalid_request' },
  { name: 'top-up: a bare JSON string', path: TOP_UPS, raw: { contentType: 'application/json', text: '"1.00"' }, status: 400, code: 'invalid_request' },
  { name: 'top-up: JSON null', path: TOP_UPS, raw: { contentType: 'application/json', text: 'null' }, status: 400, code: 'invalid_request' },
  { name: 'top-up: body over 16 KiB', path: TOP_UPS, body: withFields(topUpBody, { padding: 'x'.repeat(17 * KIB) }), status: 413, code: 'payload_too_large' },
  { name: 'withdrawal: body over 16 KiB', path: WITHDRAWALS, body: withFields(withdrawalBody, { padding: 'x'.repeat(17 * KIB) }), status: 413, code: 'payload_too_large' },
  { name: 'top-up: no Authorization', path: TOP_UPS, body: topUpBody, auth: 'none', status: 401, code: 'unauthenticated' },
  { name: 'withdrawal: no Authorization', path: WITHDRAWALS, body: withdrawalBody, auth: 'none', status: 401, code: 'unauthenticated' },
  { name: 'top-up: garbage bearer token', path: TOP_UPS, body: topUpBody, auth: 'garbage', status: 401, code: 'unauthenticated' },
  { name: 'redemption: garbage bearer token', path: REDEMPTIONS, body: redemptionBody, auth: 'garbage', status: 401, code: 'unauthenticated' },
  { name: 'top-up: Basic instead of Bearer', path: TOP_UPS, body: topUpBody, auth: 'basic', status: 401, code: 'unauthenticated' },
  { name: 'unknown route under /v1/me', path: '/v1/me/top-up', body: topUpBody, status: 404, code: 'route_not_found' },
  { name: 'GET on a POST-only money route', method: 'get', path: TOP_UPS, status: 404, code: 'route_not_found' },
  { name: 'unknown route outside /v1/me', path: '/v1/transfers', body: transferInBody, auth: 'none', status: 404, code: 'route_not_found' },
];

/** The auth endpoints: nothing is registered, no session is opened, the holder's credentials stay. */
const userNotCreated = (loginId: string) => async () => {
  assert.equal(await User.exists({ loginId }), null, `no user ${loginId} was created`);
};
const freshLoginId = uniqueId('bad');
const authCases: BadRequest[] = [
  { name: 'register: login password of 7 characters', path: '/v1/users', auth: 'none', body: () => ({ loginId: freshLoginId, loginPassword: 'short12' }), status: 400, code: 'invalid_request', check: userNotCreated(freshLoginId) },
  { name: 'register: $gt as loginId', path: '/v1/users', auth: 'none', body: () => ({ loginId: { $gt: '' }, loginPassword: LOGIN_PASSWORD }), status: 400, code: 'invalid_request' },
  { name: 'register: asking for the ops role', path: '/v1/users', auth: 'none', body: () => ({ loginId: freshLoginId, loginPassword: LOGIN_PASSWORD, roles: ['ops'] }), status: 400, code: 'invalid_request', check: userNotCreated(freshLoginId) },
  { name: 'register: loginId with spaces', path: '/v1/users', auth: 'none', body: () => ({ loginId: `${freshLoginId} x`, loginPassword: LOGIN_PASSWORD }), status: 400, code: 'invalid_request', check: userNotCreated(`${freshLoginId} x`) },
  { name: 'register: text/plain body', path: '/v1/users', auth: 'none', raw: { contentType: 'text/plain', text: JSON.stringify({ loginId: freshLoginId, loginPassword: LOGIN_PASSWORD }) }, status: 415, code: 'unsupported_media_type', check: userNotCreated(freshLoginId) },
  { name: 'register: a taken login id', path: '/v1/users', auth: 'none', body: (f) => ({ loginId: f.holder.loginId, loginPassword: 'another password' }), status: 409, code: 'login_id_taken' },
  { name: 'sign in: $ne as loginId', path: '/v1/sessions', auth: 'none', body: () => ({ loginId: { $ne: null }, loginPassword: LOGIN_PASSWORD }), status: 400, code: 'invalid_request' },
  { name: 'sign in: $gt as login password', path: '/v1/sessions', auth: 'none', body: (f) => ({ loginId: f.holder.loginId, loginPassword: { $gt: '' } }), status: 400, code: 'invalid_request' },
  { name: 'sign in: without login password', path: '/v1/sessions', auth: 'none', body: (f) => ({ loginId: f.holder.loginId }), status: 400, code: 'invalid_request' },
  { name: 'sign in: wrong login password', path: '/v1/sessions', auth: 'none', body: (f) => ({ loginId: f.holder.loginId, loginPassword: 'not the password' }), status: 401, code: 'login_failed' },
  { name: 'sign in: malformed JSON', path: '/v1/sessions', auth: 'none', raw: { contentType: 'application/json', text: '{loginId:' }, status: 400, code: 'invalid_request' },
  { name: 'payment password reset: wrong login password', method: 'put', path: '/v1/me/payment-password', body: () => ({ loginPassword: 'not the password', paymentPassword: '111111' }), status: 403, code: 'login_password_wrong' },
  { name: 'payment password reset: 5 digits', method: 'put', path: '/v1/me/payment-password', body: () => ({ loginPassword: LOGIN_PASSWORD, paymentPassword: '11111' }), status: 400, code: 'invalid_request' },
  { name: 'payment password reset: no Authorization', method: 'put', path: '/v1/me/payment-password', auth: 'none', body: () => ({ loginPassword: LOGIN_PASSWORD, paymentPassword: '111111' }), status: 401, code: 'unauthenticated' },
];


async function historyOf(holder: Holder): Promise<{ id: string; type: string; status: string; amount: string; failure: { code: string } | null }[]> {
  const response = await request(app).get('/v1/me/operations?limit=100').set(holder.auth).expect(200);
  return response.body.items;
}

/** What a bad request must leave alone: balances, operation history, credentials and lock. */
async function snapshot(holder: Holder) {
  const user = await User.findById(holder.userId).lean();
  return {
    balances: await balancesOf(holder.userId),
    history: await historyOf(holder),
    credentials: {
      loginPasswordHash: user?.loginPasswordHash,
      paymentPasswordHash: user?.paymentPasswordHash,
      paymentFailures: user?.paymentFailures,
      paymentLockedUntil: user?.paymentLockedUntil,
      roles: user?.roles,
    },
  };
}

function send(testCase: BadRequest, f: Fixtures) {
  const method = testCase.method ?? 'post';
  let call = request(app)[method](testCase.path);
  const auth = testCase.auth ?? 'holder';
  if (auth === 'holder') call = call.set(f.holder.auth);
  if (auth === 'garbage') call = call.set('Authorization', `Bearer ${'A'.repeat(43)}`);
  if (auth === 'basic') call = call.set('Authorization', `Basic ${Buffer.from(`${f.holder.loginId}:${LOGIN_PASSWORD}`).toString('base64')}`);
  const key = testCase.key === undefined ? idempotencyKey() : testCase.key;
  if (key !== null) call = call.set('Idempotency-Key', key);
  if (testCase.raw) {
    const text = typeof testCase.raw.text === 'function' ? testCase.raw.text(f) : testCase.raw.text;
    return call.set('Content-Type', testCase.raw.contentType).send(text);
  }
  return testCase.body ? call.send(testCase.body(f)) : call;
}

describe('bad requests change nothing', () => {
  let fixtures: Fixtures;

  before(async () => {
    const [holder, other] = await Promise.all([newHolder(app), newHolder(app)]);
    await topUp(app, holder, '100.00');
    fixtures = { holder, other };
  });

  const cases = [...amountCases, ...fieldCases, ...transportCases, ...authCases];

  it('covers at least 35 cases with unique names', () => {
    assert.ok(cases.length >= 35, `${cases.length} cases`);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length);
  });

  for (const testCase of cases) {
    it(`${testCase.name}: ${testCase.status} ${testCase.code}`, async () => {
      const f = testCase.ownHolder ? { ...fixtures, holder: await newHolder(app) } : fixtures;
      if (testCase.ownHolder) await topUp(app, f.holder, '100.00');
      const before = await snapshot(f.holder);
      const otherBefore = await balancesOf(f.other.userId);

      const response = await send(testCase, f);

      assertProblem(response, testCase.status, testCase.code);
      assert.equal(response.headers['idempotent-replayed'], undefined);
      await testCase.check?.(response, f);
      const after = await snapshot(f.holder);
      assert.deepEqual(after.balances, before.balances, 'balances unchanged');
      assert.deepEqual(await balancesOf(f.other.userId), otherBefore, "the other user's balances unchanged");
      if (!testCase.ownHolder) assert.deepEqual(after.credentials, before.credentials, 'credentials and lock unchanged');

      if (testCase.recordsFailedOperation) {
        // The refusal is a business outcome: it is kept as one failed operation, with no money moved.
        assert.equal(after.history.length, before.history.length + 1, 'exactly one failed operation recorded');
        const known = new Set(before.history.map((operation) => operation.id));
        const added = after.history.filter((operation) => !known.has(operation.id));
        assert.equal(added.length, 1);
        assert.equal(added[0]?.id, response.body.operationId);
        assert.equal(added[0]?.status, 'failed');
        assert.equal(added[0]?.failure?.code, testCase.code);
        assert.equal(added[0]?.amount, testCase.body?.(f).amount);
        assert.equal(after.history[0]?.id, response.body.operationId, 'listed newest first');
      } else {
        assert.deepEqual(after.history, before.history, 'operation history did not grow');
      }
    });
  }
});

describe('idempotency keys', () => {
  let holder: Holder;

  before(async () => {
    holder = await newHolder(app);
    await topUp(app, holder, '100.00');
  });

  function post(path: string, key: string, body: Body) {
    return request(app).post(path).set(holder.auth).set('Idempotency-Key', key).send(body);
  }

  /** Runs `act` and asserts it moved no money and added no operation. */
  async function movesNothing(act: () => Promise<void>): Promise<void> {
    const before = { balances: await balancesOf(holder.userId), history: await historyOf(holder) };
    await act();
    assert.deepEqual(await balancesOf(holder.userId), before.balances, 'balances unchanged');
    assert.deepEqual(await historyOf(holder), before.history, 'history unchanged');
  }

  const scenarios: { name: string; path: string; first: (h: Holder) => Body; firstStatus: number; changed: (h: Holder) => Body }[] = [
    {
      name: 'top-up',
      path: TOP_UPS,
      first: (h) => ({ amount: '5.00', bankCardId: h.bankCardId }),
      firstStatus: 201,
      changed: (h) => ({ amount: '5.01', bankCardId: h.bankCardId }),
    },
    {
      name: 'withdrawal',
      path: WITHDRAWALS,
      first: (h) => ({ amount: '2.00', bankCardId: h.bankCardId, paymentPassword: PAYMENT_PASSWORD }),
      firstStatus: 201,
      changed: (h) => ({ amount: '3.00', bankCardId: h.bankCardId, paymentPassword: PAYMENT_PASSWORD }),
    },
    {
      name: 'transfer-in',
      path: TRANSFERS_IN,
      first: () => ({ amount: '4.00', channel: 'wallet', fundCode: 'YEB001' }),
      firstStatus: 201,
      changed: (h) => ({ amount: '4.00', channel: 'bank_card', bankCardId: h.bankCardId, fundCode: 'YEB001' }),
    },
    {
      name: 'refused withdrawal (insufficient balance)',
      path: WITHDRAWALS,
      first: (h) => ({ amount: '9999.00', bankCardId: h.bankCardId, paymentPassword: PAYMENT_PASSWORD }),
      firstStatus: 409,
      changed: (h) => ({ amount: '1.00', bankCardId: h.bankCardId, paymentPassword: PAYMENT_PASSWORD }),
    },
    {
      name: 'refused redemption (insufficient shares)',
      path: REDEMPTIONS,
      first: () => ({ amount: '1.00', channel: 'wallet', paymentPassword: PAYMENT_PASSWORD }),
      firstStatus: 409,
      changed: () => ({ amount: '1.50', channel: 'wallet', paymentPassword: PAYMENT_PASSWORD }),
    },
  ];

  for (const scenario of scenarios) {
    it(`${scenario.name}: a different body under the same key is refused, a replay gets the first answer`, async () => {
      const key = idempotencyKey();
      const first = await post(scenario.path, key, scenario.first(holder));
      assert.equal(first.status, scenario.firstStatus, JSON.stringify(first.body));
      assert.equal(first.headers['idempotent-replayed'], undefined);

      await movesNothing(async () => {
        const reused = await post(scenario.path, key, scenario.changed(holder));
        assertProblem(reused, 422, 'idempotency_key_reused');
      });

      await movesNothing(async () => {
        const replay = await post(scenario.path, key, scenario.first(holder));
        assert.equal(replay.status, first.status);
        assert.equal(replay.headers['idempotent-replayed'], 'true');
        assert.equal(replay.headers['content-type'], first.headers['content-type']);
        assert.deepEqual(replay.body, first.body);
      });
    });
  }

  it('a key used on one endpoint is refused on another', async () => {
    const key = idempotencyKey();
    await post(TOP_UPS, key, { amount: '1.00', bankCardId: holder.bankCardId }).expect(201);
    await movesNothing(async () => {
      assertProblem(await post(TRANSFERS_IN, key, { amount: '1.00', channel: 'wallet', fundCode: 'YEB001' }), 422, 'idempotency_key_reused');
      assertProblem(
        await post(WITHDRAWALS, key, { amount: '1.00', bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD }),
        422,
        'idempotency_key_reused',
      );
    });
  });

  it('a replay is answered before the payment password is checked, and counts no wrong attempt', async () => {
    const key = idempotencyKey();
    const body = { amount: '1.00', bankCardId: holder.bankCardId, paymentPassword: PAYMENT_PASSWORD };
    const first = await post(WITHDRAWALS, key, body).expect(201);
    await movesNothing(async () => {
      const replay = await post(WITHDRAWALS, key, { ...body, paymentPassword: WRONG_PAYMENT_PASSWORD });
      assert.equal(replay.status, 201);
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      assert.deepEqual(replay.body, first.body);
    });
    assert.equal((await User.findById(holder.userId).lean())?.paymentFailures, 0);
  });

  it('a key whose request was refused before anything was written can be used again', async () => {
    const key = idempotencyKey();
    await movesNothing(async () => {
      assertProblem(await post(TOP_UPS, key, { amount: '1.001', bankCardId: holder.bankCardId }), 400, 'invalid_request');
    });
    const walletBefore = (await balancesOf(holder.userId)).walletFen;
    const retried = await post(TOP_UPS, key, { amount: '1.00', bankCardId: holder.bankCardId }).expect(201);
    assert.equal(retried.headers['idempotent-replayed'], undefined);
    assert.equal((await balancesOf(holder.userId)).walletFen, walletBefore + 100n);
  });

  it('the same key sent five times at once moves money once', async () => {
    const key = idempotencyKey();
    const walletBefore = (await balancesOf(holder.userId)).walletFen;
    const historyBefore = await historyOf(holder);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => post(TOP_UPS, key, { amount: '7.00', bankCardId: holder.bankCardId })),
    );
    for (const answer of answers) {
      if (answer.status === 409) assertProblem(answer, 409, 'request_in_progress');
      else assert.equal(answer.status, 201, JSON.stringify(answer.body));
    }
    assert.equal(answers.filter((answer) => answer.status === 201 && answer.headers['idempotent-replayed'] === undefined).length, 1);
    assert.equal((await balancesOf(holder.userId)).walletFen, walletBefore + 700n);
    assert.equal((await historyOf(holder)).length, historyBefore.length + 1);
  });

  it('two users may use the same key independently', async () => {
    const other = await newHolder(app);
    const key = idempotencyKey();
    await post(TOP_UPS, key, { amount: '1.00', bankCardId: holder.bankCardId }).expect(201);
    const theirs = await request(app)
      .post(TOP_UPS)
      .set(other.auth)
      .set('Idempotency-Key', key)
      .send({ amount: '2.00', bankCardId: other.bankCardId })
      .expect(201);
    assert.equal(theirs.headers['idempotent-replayed'], undefined);
    assert.equal((await balancesOf(other.userId)).walletFen, 200n);
  });
});
