/**
 * The Done-when for the sandbox: the README's quick start, run as written (its sh
 * blocks in bash, with curl) against a real `npm run sandbox` process, makes an instant
 * redemption and a payment, shows yesterday's income and moves the test clock. A seeding cut
 * off is done again at the next start; a restart keeps the clock and the book; later moves
 * confirm and settle. A database the sandbox did not seed, and NODE_ENV=production, are refused.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mongoose from 'mongoose';
import { addCalendarDays } from '../../src/calendar/businessDate.ts';
import { SANDBOX_HOLDER, SANDBOX_MERCHANT, SANDBOX_OPS } from '../../src/sandbox/book.ts';
import { testDatabaseUri, uniqueId } from '../support/database.ts';
import { logLinesOf, spawnServerProcess, startServerProcess, type ServerProcess } from '../support/serverProcess.ts';
import { launchChromium, pageTrouble } from '../support/browser.ts';
import { until } from '../support/until.ts';
import { runOps } from '../support/opsCli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README_URL = 'http://127.0.0.1:3000';

/** The sh blocks of the README's quick start, in order. */
async function quickStartBlocks(): Promise<string[]> {
  const readme = await readFile(`${ROOT}README.md`, 'utf8');
  const start = readme.indexOf('## Quick start');
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

/**
 * Runs the blocks in one bash as a reader pastes them, pointed at `baseUrl`. A DEBUG trap
 * prints a newline before each command, so each curl's answer is a line of its own.
 * Returns each block's JSON answers.
 */
async function runBlocks(blocks: string[], baseUrl: string): Promise<any[][]> {
  const script = blocks.map((block) => `${block.replaceAll(README_URL, baseUrl)}echo @@block\n`).join('');
  const { stdout } = await promisify(execFile)('bash', ['-e', '-c', `trap echo DEBUG\n${script}`], { cwd: ROOT });
  const outputs = stdout.split('@@block\n').slice(0, blocks.length);
  return outputs.map((output) => output.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line)));
}

/** `npm run sandbox` as package.json has it, on a database of its own on the test server. */
function sandboxOptions(databaseName: string, env: Record<string, string | undefined> = {}) {
  const uri = new URL(testDatabaseUri());
  uri.pathname = `/${databaseName}`;
  return { nodeArgs: sandboxScript.split(' ').slice(2), env: { MONGODB_URI: uri.toString(), NODE_ENV: undefined, NODE_CONFIG: undefined, ...env } };
}
let sandboxScript = '';

async function signIn(server: ServerProcess, login: { loginId: string; loginPassword: string }) {
  const response = await fetch(`${server.baseUrl}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(login) });
  return { Authorization: `Bearer ${((await response.json()) as { token: string }).token}` };
}

/** A transfer-in, then a week: it confirms, the redemption and the payment settle and repay the reserve. */
async function laterMovesConfirmAndSettle(server: ServerProcess, ops: { Authorization: string }): Promise<void> {
  const call = async (route: string, auth: { Authorization: string }, body?: object, key?: string) => {
    const headers = { ...auth, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) };
    const response = await fetch(`${server.baseUrl}${route}`, { method: body ? 'POST' : 'GET', headers, body: JSON.stringify(body) });
    return (await response.json()) as any;
  };
  const demo = await signIn(server, { loginId: SANDBOX_HOLDER.loginId, loginPassword: SANDBOX_HOLDER.loginPassword });
  const transferIn = await call('/v1/me/transfers-in', demo, { amount: '500.00', channel: 'wallet' }, 'demo-in-0001');
  assert.equal(transferIn.operation?.status, 'awaiting_confirmation', JSON.stringify(transferIn));
  const atCutoff = await call('/v1/ops/sandbox/clock', ops, { to: '15:00' });
  assert.match(atCutoff.local, /T15:00:00$/);
  const week = await call('/v1/ops/sandbox/clock', ops, { days: 7 });
  // The quick start's own move to the next trading day may already have settled its redemption and
  // payment (it does when it runs on a trading day's night): settled, they repaid the reserve (below).
  assert.ok(week.ran.confirmed >= 1, JSON.stringify(week.ran));
  assert.equal(week.ran.accrued[0].dates.length, 7);
  const account = await call('/v1/me/account', demo);
  assert.deepEqual([account.pendingSubscriptions, account.subscribing, account.income.lastAccruedDate], [[], '0.00', addCalendarDays(week.businessDate, -1)]);
  assert.equal((await call('/v1/ops/reserve', ops)).outstanding, '0.00', 'the settlements repaid the reserve');
}

/** The dashboard's clock panel, signed in as the sandbox's ops user: a day ahead, and the figures follow. */
async function dashboardMovesTheClock(server: ServerProcess, ops: { Authorization: string }): Promise<void> {
  const clockNow = async () => (await (await fetch(`${server.baseUrl}/v1/ops/sandbox/clock`, { headers: ops })).json()) as { businessDate: string };
  const before = await clockNow();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const trouble = pageTrouble(page);
    await page.goto(`${server.baseUrl}/ops/dashboard`);
    await page.fill('#login-id', SANDBOX_OPS.loginId);
    await page.fill('#login-password', SANDBOX_OPS.loginPassword);
    await page.click('#signin-submit');
    await page.waitForSelector('#sandbox-clock:not([hidden])');
    await page.click('[data-clock-move="oneDay"]');
    await page.waitForFunction(() => document.getElementById('sandbox-ran')?.textContent !== '' && document.body.dataset.state === 'ready');
    const after = await clockNow();
    assert.equal(after.businessDate, addCalendarDays(before.businessDate, 1));
    assert.match((await page.textContent('#sandbox-now'))!, new RegExp(`^${after.businessDate} `));
    assert.equal(await page.inputValue('#to'), after.businessDate, 'the figures run through the new today');
    assert.deepEqual(trouble, []);
  } finally {
    await browser.close();
  }
}

/** `npm run ops -- sandbox clock --days 1` on the sandbox's database: the running sandbox follows. */
async function cliMovesTheClock(server: ServerProcess, ops: { Authorization: string }, databaseName: string): Promise<void> {
  const { stdout } = await opsOn(sandboxOptions(databaseName).env, 'sandbox', 'clock', '--days', '1', '--json');
  const moved = JSON.parse(stdout) as { businessDate: string; ran: { accrued: { dates: string[] }[] } };
  assert.deepEqual(moved.ran.accrued[0]?.dates.length, 1, stdout);
  await until('the running sandbox to follow the CLI', 10_000, async () => {
    const clock = (await (await fetch(`${server.baseUrl}/v1/ops/sandbox/clock`, { headers: ops })).json()) as { businessDate: string };
    return clock.businessDate === moved.businessDate;
  });
  const audit = (await (await fetch(`${server.baseUrl}/v1/ops/audit?action=sandbox.clock`, { headers: ops })).json()) as { items: { actor: { via: string } }[] };
  assert.equal(audit.items[0]?.actor.via, 'cli', 'the move is in the audit');
  // Any command on the sandbox's book runs in its time: its today has begun, though not in real time.
  const published = await opsOn(sandboxOptions(databaseName).env, 'publish-yield', 'YEB001', moved.businessDate, '0.4124', '--as', SANDBOX_OPS.loginId, '--json');
  assert.equal(published.code, 0, published.stderr);
  assert.equal(JSON.parse(published.stdout).yieldPer10k, '0.4124');
}

/** The ops CLI with `env` over this process's environment. */
const opsOn = (env: Record<string, string | undefined>, ...args: string[]) => runOps({ ...process.env, ...env }, args);

/** A newcomer's Ctrl-C in the seeding's minute, as a kill: the next start must seed afresh. */
async function interruptSeeding(databaseName: string): Promise<void> {
  const seeding = await spawnServerProcess({}, sandboxOptions(databaseName));
  const users = mongoose.connection.getClient().db(databaseName).collection('users');
  await until('the seeding to begin', 120_000, async () => (await users.countDocuments()) > 0);
  seeding.child.kill('SIGKILL');
  await seeding.exited;
}

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, `the sandbox did not stop cleanly; see ${server.logFile}`);
}

describe('sandbox (npm run sandbox)', function () {
  this.timeout(360_000);
  const databaseName = uniqueId('sandbox').replace('-', '_');
  let server: ServerProcess | undefined;

  before(async () => {
    const scripts = JSON.parse(await readFile(`${ROOT}package.json`, 'utf8')).scripts as Record<string, string>;
    sandboxScript = scripts.sandbox!;
    assert.match(sandboxScript, /^exec node .*src\/server\.ts --sandbox$/);
  });
  after(async () => {
    server?.child.kill('SIGKILL');
    await mongoose.connection.getClient().db(databaseName).dropDatabase();
  });

  it("the README's quick start: instant redemption, payment, yesterday's income, the clock moved; a restart keeps them", async () => {
    await interruptSeeding(databaseName);
    server = await startServerProcess({}, sandboxOptions(databaseName));
    assert.ok((await logLinesOf(server)).some((line) => /seeding was cut off/.test(String(line.msg))), 'seeded again after the kill');
    const blocks = await quickStartBlocks();
    assert.equal(blocks.length, 3, 'sign in and look; redeem, pay and see the income; move the clock');
    const [[before], [instant, payment, income], [clock, after]] = (await runBlocks(blocks, server.baseUrl)) as [any[], any[], any[]];

    assert.ok(Number(before.shares) > 10_000 && Number(before.income.yesterday) > 0, JSON.stringify(before));
    assert.equal(instant.operation.type, 'instant_redemption');
    assert.notEqual(instant.operation.status, 'failed');
    assert.deepEqual([payment.operation.type, payment.operation.merchantId, payment.operation.amount], ['payment', SANDBOX_MERCHANT.id, '25.00']);
    assert.equal(income.date, before.income.lastAccruedDate);
    assert.equal(income.income, before.income.yesterday);
    assert.ok(Number(income.yieldPer10k) >= 0.35 && Number(income.yieldPer10k) < 0.42, income.yieldPer10k);

    assert.ok(clock.businessDate > addCalendarDays(before.income.lastAccruedDate, 1), JSON.stringify(clock));
    assert.match(clock.local, /T09:00:\d\d$/);
    assert.equal(clock.tradingDay, true);
    assert.equal(after.income.lastAccruedDate, addCalendarDays(clock.businessDate, -1), 'every day the clock passed was published and accrued');
    assert.equal(after.wallet, (Number(before.wallet) + 100).toFixed(2), 'the instant redemption paid the wallet at once');
    const ops = await signIn(server, SANDBOX_OPS);
    const merchant = await (await fetch(`${server.baseUrl}/v1/ops/merchants/${SANDBOX_MERCHANT.id}`, { headers: ops })).json();
    assert.equal(merchant.wallet, '25.00');

    await stop(server);
    server = await startServerProcess({}, sandboxOptions(databaseName));
    const restarted = await (await fetch(`${server.baseUrl}/v1/ops/sandbox/clock`, { headers: ops })).json();
    assert.equal(restarted.businessDate, clock.businessDate, 'the clock kept its place');
    assert.ok(restarted.offsetMs >= clock.offsetMs);
    const merchantAfter = await (await fetch(`${server.baseUrl}/v1/ops/merchants/${SANDBOX_MERCHANT.id}`, { headers: ops })).json();
    assert.equal(merchantAfter.wallet, '25.00', 'the book was kept, not seeded again');
    await laterMovesConfirmAndSettle(server, ops);
    await dashboardMovesTheClock(server, ops);
    await cliMovesTheClock(server, ops, databaseName);
    await stop(server);
    server = undefined;
  });

  it('refuses a database with a book it did not seed, and leaves it as it was', async () => {
    const foreign = uniqueId('foreign').replace('-', '_');
    const users = mongoose.connection.getClient().db(foreign).collection('users');
    await users.insertOne({ _id: 'u_someone' as never, loginId: 'someone' });
    const refused = await spawnServerProcess({}, sandboxOptions(foreign));
    assert.equal(await refused.exited, 1);
    assert.match(await readFile(refused.logFile, 'utf8'), /holds a book it did not seed/);
    assert.deepEqual(await users.find({}, { projection: { _rev: 0 } }).toArray(), [{ _id: 'u_someone', loginId: 'someone' }]);
    await mongoose.connection.getClient().db(foreign).dropDatabase();
  });

  it("the CLI's sandbox clock refuses a database the sandbox never seeded", async () => {
    const refused = await opsOn({ MONGODB_URI: testDatabaseUri() }, 'sandbox', 'clock', '--days', '1');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /holds no sandbox/);
  });

  it('refuses to start when NODE_ENV=production', async () => {
    const refused = await spawnServerProcess({}, sandboxOptions(databaseName, { NODE_ENV: 'production' }));
    assert.equal(await refused.exited, 1);
    assert.match(await readFile(refused.logFile, 'utf8'), /sandbox is refused when NODE_ENV=production/);
  });
});
