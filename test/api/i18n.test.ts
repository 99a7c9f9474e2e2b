/**
 * Chinese and English: the API answers in English unless the caller prefers Chinese
 * (Accept-Language, q-values honoured); a problem's title and detail follow, its code never
 * changes; a report's CSV carries a UTF-8 BOM for Excel when asked. Bad input moves nothing.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Response } from 'supertest';
import { FAILURE_DETAIL } from '../../src/errors.ts';
import { assertProblem, balancesOf, idempotencyKey, newHolder, testApp, topUp, type Holder } from '../support/api.ts';
import { holderWithShares, instant } from '../support/instant.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';

const CHINESE = { 'Accept-Language': 'zh-CN,zh;q=0.9,en;q=0.8' };
const TRANSFERS_IN = '/v1/me/transfers-in';

/** The answer says its language, and that it depends on Accept-Language. */
function assertLanguage(response: Response, language: string): void {
  assert.equal(response.headers['content-language'], language);
  assert.match(String(response.headers.vary), /Accept-Language/i);
}

function transferIn(app: Parameters<typeof request>[0], holder: Holder, body: object, key = idempotencyKey()) {
  return request(app).post(TRANSFERS_IN).set(holder.auth).set('Idempotency-Key', key).send({ channel: 'wallet', fundCode: 'YEB001', ...body });
}

describe('Chinese and English', function () {
  this.timeout(180_000);

  it('answers in English by default and in Chinese when the caller prefers it, q-values honoured', async () => {
    const { app } = testApp();
    const cases: [string | undefined, string][] = [
      [undefined, 'en'],
      ['zh', 'zh-CN'],
      ['zh-CN', 'zh-CN'],
      ['zh-Hans', 'zh-CN'],
      ['fr-FR', 'en'],
      ['*', 'en'],
      ['en, zh;q=0.9', 'en'],
      ['en;q=0.5, zh;q=0.8', 'zh-CN'],
      ['zh;q=0.5, en', 'en'],
      ['zh;q=0, fr', 'en'],
      ['ZH-cn', 'zh-CN'],
      ['zh;q=abc', 'en'], // malformed: ignored, not an error
    ];
    for (const [header, language] of cases) {
      const response = await request(app).get('/v1/no-such-route').set(header === undefined ? {} : { 'Accept-Language': header });
      assertProblem(response, 404, 'route_not_found');
      assertLanguage(response, language);
      const expected = language === 'en' ? ['Not Found', 'No route GET /v1/no-such-route'] : ['未找到', '没有 GET /v1/no-such-route 这一接口'];
      assert.deepEqual([response.body.title, response.body.detail], expected, `Accept-Language: ${header}`);
    }
    // A problem outside /v1 negotiates as it is sent.
    assertLanguage(await request(app).get('/no-such-page').set(CHINESE).expect(404), 'zh-CN');
    // A JSON answer that is not a problem says its language too.
    const funds = await request(app).get('/v1/calendar/holidays?from=2024-06-01&to=2024-06-30').set(CHINESE);
    assertLanguage(funds, 'zh-CN');
  });

  it('a 401 in Chinese keeps its code', async () => {
    const { app } = testApp();
    const response = await request(app).get('/v1/me/account').set(CHINESE);
    assertProblem(response, 401, 'unauthenticated');
    assert.equal(response.body.title, '未登录或凭证无效');
    assert.equal(response.body.detail, '请发送有效的 Bearer 令牌：POST /v1/sessions 可获取');
  });

  it('a wrong payment password says in Chinese how many tries are left, and moves nothing', async () => {
    const { app } = testApp();
    const holder = await newHolder(app);
    await topUp(app, holder, '100.00');
    const before = await balancesOf(holder.userId);
    const refused = await request(app)
      .post('/v1/me/withdrawals')
      .set(holder.auth)
      .set(CHINESE)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '1.00', bankCardId: holder.bankCardId, paymentPassword: '000000' });
    assertProblem(refused, 403, 'payment_password_wrong');
    assert.equal(refused.body.title, '无权操作');
    assert.equal(refused.body.detail, `支付密码错误；还可尝试 ${refused.body.attemptsLeft} 次，之后将锁定支付`);
    assert.equal(typeof refused.body.attemptsLeft, 'number');
    assert.deepEqual(await balancesOf(holder.userId), before);
  });

  it('a validation 400 reads in Chinese, field names as sent, and moves nothing', async () => {
    const { app } = testApp();
    const holder = await newHolder(app);
    await topUp(app, holder, '100.00');
    const before = await balancesOf(holder.userId);
    const body = { amount: '1.234', memo: 'x', fundCode: 7 };
    const chinese = await transferIn(app, holder, body).set(CHINESE);
    assertProblem(chinese, 400, 'invalid_request');
    assertLanguage(chinese, 'zh-CN');
    assert.equal(chinese.body.title, '请求有误');
    const english = await transferIn(app, holder, body);
    assertProblem(english, 400, 'invalid_request');
    assert.match(english.body.detail, /^Invalid request: /);
    // The same issues, in the same order, at the same paths; the messages in Chinese.
    const paths = (response: Response) => response.body.issues.map((issue: { path: string }) => issue.path);
    assert.deepEqual(paths(chinese), paths(english));
    const messages = chinese.body.issues.map((issue: { message: string }) => issue.message).join('\n');
    assert.match(messages, /金额须为以元为单位、最多两位小数的字符串/, 'the amount parser, through the catalogue');
    assert.match(messages, /^无效输入：期望 string，实际接收 数字$/m, "zod's own message, in its Chinese locale");
    assert.match(messages, /出现未知的键\(key\): "memo"/);
    assert.match(chinese.body.detail, /^请求有误：amount：金额须为/);
    assert.match(chinese.body.detail, /；（请求体）：出现未知的键/);
    const control = await transferIn(app, holder, { amount: '1.00', fundCode: 'YEB\u0000' }).set(CHINESE);
    assertProblem(control, 400, 'invalid_request');
    assert.equal(control.body.detail, '请求有误：fundCode：不允许包含控制字符（如 NUL）');
    assert.deepEqual(await balancesOf(holder.userId), before);
  });

  it("an operation's stored failure reads in the language of each answer, the first and a replay", async () => {
    const { app } = testApp();
    const holder = await newHolder(app);
    await topUp(app, holder, '100.00');
    const key = idempotencyKey();
    const first = await transferIn(app, holder, { amount: '100.01' }, key).set(CHINESE);
    assertProblem(first, 409, 'insufficient_balance');
    assert.deepEqual([first.body.title, first.body.detail], ['冲突', '余额不足']);
    assert.equal(typeof first.body.operationId, 'string');
    const replay = await transferIn(app, holder, { amount: '100.01' }, key);
    assertProblem(replay, 409, 'insufficient_balance');
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.deepEqual([replay.body.title, replay.body.detail, replay.body.operationId], ['Conflict', FAILURE_DETAIL.insufficient_balance, first.body.operationId]);
    assert.deepEqual(await balancesOf(holder.userId), { walletFen: 10_000n, sharesFen: 0n, subscribingFen: 0n, redeemingFen: 0n });
  });

  it("the instant-redemption cap's refusal says in Chinese what is left today, digits grouped", async () => {
    const t = testApp('2024-06-03T10:00:00+08:00');
    useOwnReserve(t);
    const ops = await newHolder(t.app, { ops: true });
    await adjustReserve(t, ops, '80000.00', 'increase').expect(201);
    const holder = await holderWithShares(t, '30000.00');
    await instant(t, holder, '6000.00').expect(201);
    const before = await balancesOf(holder.userId);
    const refused = await instant(t, holder, '4000.01').set(CHINESE);
    assertProblem(refused, 409, 'instant_daily_limit_exceeded');
    assert.equal(refused.body.remainingToday, '4000.00', 'JSON amounts stay plain yuan');
    assert.equal(refused.body.detail, '超过当日（北京时间，自然日）快速转出额度：今日还可快速转出 4,000.00 元');
    const english = await instant(t, holder, '4000.01');
    assert.match(english.body.detail, /: 4000\.00 yuan is left today$/);
    assert.deepEqual(await balancesOf(holder.userId), before);
  });

  it('a CSV starts with a UTF-8 BOM only when asked', async () => {
    const { app } = testApp();
    const holder = await newHolder(app);
    const statement = (query: string) => request(app).get(`/v1/me/statement?from=2024-05-30&to=2024-05-30&format=csv${query}`).set(holder.auth);
    // Read as UTF-8 text, the mark is one character: U+FEFF.
    const plain = await statement('').expect(200);
    const excel = await statement('&bom=true').expect(200);
    assert.match(plain.text, /^entry,date,/, 'no BOM by default: the header row starts the text');
    assert.equal(excel.text, `\uFEFF${plain.text}`, 'a BOM when asked, and nothing else changes');
    assert.equal((await statement('&bom=false').expect(200)).text, plain.text);
    const bad = await statement('&bom=yes').set(CHINESE);
    assertProblem(bad, 400, 'invalid_request');
    assert.match(bad.body.detail, /^请求有误：bom：/);
  });
});
