/** The ops CLI's reports and ops tokens, run as ops would run them, against the database the tests use. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import request from 'supertest';
import { Session } from '../../src/auth/model.ts';
import { accrueThrough } from '../../src/income/accrual.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp, type Holder, type TestApp } from '../support/api.ts';
import { addTestFund, publishDays, subscribedHolder } from '../support/income.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';
import { runOps } from '../support/opsCli.ts';

const HOUR_MS = 3_600_000;

describe('ops CLI: reports and ops tokens', function () {
  this.timeout(120_000);
  let t: TestApp;
  let ops: Holder;
  let holder: Holder;
  let fund: string;
  let env: NodeJS.ProcessEnv;

  const cli = (...args: string[]) => runOps(env, args);

  async function succeeded(...args: string[]): Promise<string> {
    return succeededReading('', ...args);
  }

  async function succeededReading(stdin: string, ...args: string[]): Promise<string> {
    const result = await runOps(env, args, stdin);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  }

  const api = (path: string) => request(t.app).get(path).set(ops.auth).expect(200);

  // A holder subscribes on Mon 2024-08-05, is confirmed on Tue and redeems 100.00 at once; days accrued through Tue.
  before(async () => {
    t = testApp('2024-08-05T09:00:00+08:00');
    fund = addTestFund(t);
    const reserve = useOwnReserve(t);
    env = { ...process.env, NODE_CONFIG: JSON.stringify({ funds: t.ctx.config.funds, reserve: { name: reserve } }) };
    ops = await newHolder(t.app, { ops: true });
    await adjustReserve(t, ops, '1000.00', 'increase').expect(201);
    t.clock.set('2024-08-05T10:00:00+08:00');
    holder = await subscribedHolder(t, fund, '2000.00');
    t.clock.set('2024-08-06T10:00:00+08:00');
    await advanceDueOperations(t.ctx);
    await request(t.app)
      .post('/v1/me/instant-redemptions')
      .set(holder.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '100.00', paymentPassword: PAYMENT_PASSWORD })
      .expect(201);
    t.clock.set('2024-08-07T09:00:00+08:00');
    await publishDays(t, ops, fund, '2024-07-31', '2024-08-06', '0.6000');
    await accrueThrough(t.ctx, fund, '2024-08-06');
  });

  it('prints the fund report as the API serves it, in JSON or with --csv, and for people as columns', async () => {
    const range = ['--from', '2024-07-30', '--to', '2024-08-07'];
    const json = JSON.parse(await succeeded('report', 'fund', fund, ...range, '--json'));
    assert.deepEqual(json, (await api(`/v1/ops/reports/funds/${fund}/daily?from=2024-07-30&to=2024-08-07`)).body);
    assert.equal(json.days.find((day: { date: string }) => day.date === '2024-08-05').subscriptions, '2000.00');
    const csv = await succeeded('report', 'fund', fund, ...range, '--csv');
    assert.equal(csv, (await api(`/v1/ops/reports/funds/${fund}/daily?from=2024-07-30&to=2024-08-07&format=csv`)).text);
    // The CSV's columns, aligned: a header line, then a line a day with the same fields.
    const [header, ...rows] = (await succeeded('report', 'fund', fund, ...range)).trimEnd().split('\n');
    const csvLines = csv.trimEnd().split('\r\n');
    assert.deepEqual(header!.trim().split(/ {2,}/), csvLines[0]!.split(','));
    // For people, amounts are grouped by thousands ("2,000.00"); the CSV keeps the plain figure.
    assert.ok(rows.some((row) => / 2,000\.00( |$)/.test(row)), 'amounts grouped');
    const ungrouped = (field: string) => (/^-?[\d,]+\.\d{2}$/.test(field) ? field.replaceAll(',', '') : field);
    assert.deepEqual(rows.map((row) => row.trim().split(/ +/).map(ungrouped)), csvLines.slice(1).map((line) => line.split(',').map((field) => field || '-')));
  });

  it('prints the reserve report day by day', async () => {
    const printed = JSON.parse(await succeeded('--json', 'report', 'reserve', '--from', '2024-08-04', '--to', '2024-08-07'));
    const served = (await api('/v1/ops/reports/reserve/daily?from=2024-08-04&to=2024-08-07')).body;
    // The CLI runs on the real clock, so 08-07 is over for it; the figures are the same.
    const figures = (days: { final: boolean }[]) => days.map(({ final: _final, ...figures }) => figures);
    assert.deepEqual(figures(printed.days), figures(served.days));
    assert.deepEqual(printed.current, served.current);
    assert.deepEqual(printed.days.map((day: { outstanding: string }) => day.outstanding), ['0.00', '0.00', '100.00', '100.00']);
  });

  it('prints a holder’s statement by login id', async () => {
    const printed = await succeeded('report', 'statement', holder.loginId, '--from', '2024-08-01', '--to', '2024-08-06', '--csv');
    const served = await request(t.app).get('/v1/me/statement?from=2024-08-01&to=2024-08-06&format=csv').set(holder.auth).expect(200);
    assert.equal(printed, served.text);
    const json = JSON.parse(await succeeded('report', 'statement', holder.loginId, '--from', '2024-08-01', '--to', '2024-08-06', '--json'));
    assert.equal(json.userId, holder.userId);
    assert.deepEqual(json.operations.map((op: { type: string }) => op.type), ['top_up', 'transfer_in', 'instant_redemption']);
  });

  it('issues an ops token that the API accepts, for as long as asked', async () => {
    const before = Date.now();
    const issued = JSON.parse(await succeededReading(LOGIN_PASSWORD, 'ops-token', ops.loginId, '--lifetime-hours', '2', '--password-stdin', '--json'));
    const after = Date.now();
    assert.deepEqual(Object.keys(issued).sort(), ['expiresAt', 'loginId', 'token', 'userId']);
    assert.equal(issued.userId, ops.userId);
    const expiresAtMs = Date.parse(issued.expiresAt);
    assert.ok(expiresAtMs >= before + 2 * HOUR_MS && expiresAtMs <= after + 2 * HOUR_MS, issued.expiresAt);
    const session = await Session.findById(createHash('sha256').update(issued.token).digest('hex')).lean();
    assert.equal(session?.expiresAt.toISOString(), issued.expiresAt);
    const report = await request(t.app).get('/v1/ops/reports/reserve/daily').set('Authorization', `Bearer ${issued.token}`).expect(200);
    assert.equal(report.body.days.length, 30);
    const lifetimeMs = t.ctx.config.security.tokenLifetimeMs;
    const beforeDefault = Date.now();
    const standard = Date.parse(JSON.parse(await succeededReading(LOGIN_PASSWORD, 'ops-token', ops.loginId, '--password-stdin', '--json')).expiresAt);
    assert.ok(standard >= beforeDefault + lifetimeMs && standard <= Date.now() + lifetimeMs, 'security.tokenLifetimeMs by default');
  });

  it('refuses a holder without the ops role, bad arguments and bad ranges, saying why (2: a usage error)', async () => {
    const refusals: [string[], number, RegExp][] = [
      [['ops-token', holder.loginId], 1, /does not have the ops role/],
      [['ops-token', 'nobody-at-all'], 1, /No user nobody-at-all/],
      [['ops-token', ops.loginId], 1, /give their login password with --password-stdin/],
      [['ops-token', ops.loginId, '--lifetime-hours', '1.5'], 2, /'--lifetime-hours <hours>' argument '1.5' is invalid/],
      [['report', 'fund'], 2, /missing required argument 'fund'/],
      [['report', 'weekly'], 2, /unknown command 'weekly'/],
      [['report', 'reserve', '--from', '2024-8-1'], 2, /expected a yyyy-MM-dd date/],
      [['report', 'reserve', '--csv', '--json'], 2, /'--csv' cannot be used with option '--json'/],
      [['report', 'fund', 'NOSUCHFUND', '--from', '2024-08-01', '--to', '2024-08-02'], 1, /Fund NOSUCHFUND was not found/],
      [['report', 'reserve', '--from', '2024-08-07', '--to', '2024-08-01'], 1, /from must not be after to/],
      [['report', 'statement', holder.loginId, '--from', '2024-08-01'], 1, /Give both from and to/],
    ];
    for (const [args, code, reason] of refusals) {
      const result = await cli(...args);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, reason);
      assert.equal(result.stdout, '');
    }
    assert.equal(await Session.countDocuments({ userId: holder.userId }), 1, 'only the sign-in of newHolder');
    const wrong = await runOps(env, ['ops-token', ops.loginId, '--password-stdin'], 'not the password');
    assert.equal(wrong.code, 1, 'a wrong password mints nothing');
    const zero = await runOps(env, ['ops-token', ops.loginId, '--lifetime-hours', '0', '--password-stdin'], LOGIN_PASSWORD);
    assert.match(zero.stderr, /--lifetime-hours must be a whole number from 1 to 744/);
  });
});
