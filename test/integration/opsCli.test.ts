/** The ops CLI, run as ops would run it, against the database the tests use. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { User } from '../../src/auth/model.ts';
import { registerUser } from '../../src/auth/service.ts';
import { createContext } from '../../src/context.ts';
import { latestReconciliation, runReconciliation } from '../../src/reconciliation/job.ts';
import { testApp } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';
import { addTestFund, incomeOf, subscribedHolder } from '../support/income.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function ops(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return opsWith(process.env, ...args);
}

function opsWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('ops CLI', () => {
  const ctx = createContext();

  it('grants and revokes the ops role by login id', async () => {
    const loginId = uniqueId('ops-cli');
    const { userId } = await registerUser(ctx, loginId, 'ops-cli-password');
    const granted = await ops('grant-ops', loginId);
    assert.equal(granted.code, 0, granted.stderr);
    assert.deepEqual(JSON.parse(granted.stdout), { userId, roles: ['user', 'ops'] });
    assert.deepEqual((await User.findById(userId).lean())?.roles, ['user', 'ops']);
    const revoked = await ops('revoke-ops', loginId);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.deepEqual((await User.findById(userId).lean())?.roles, ['user']);
  });

  it('says what is wrong: an unknown login id, a missing argument, an unknown command', async () => {
    const unknown = await ops('grant-ops', uniqueId('nobody'));
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /was not found/);
    const missing = await ops('grant-ops');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /missing <loginId>/);
    const usage = await ops('frobnicate');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: npm run ops/);
  });

  it('publishes yields and accrues a range in order, drawing a progress bar', async function () {
    this.timeout(60_000);
    const t = testApp('2024-08-01T10:00:00+08:00');
    const fund = addTestFund(t);
    const holder = await subscribedHolder(t, fund, '10000.00'); // T Thu 08-01, earns from Fri 08-02
    const env = { ...process.env, NODE_CONFIG: JSON.stringify({ funds: t.ctx.config.funds }) };
    for (const date of ['2024-08-02', '2024-08-03']) {
      const published = await opsWith(env, 'publish-yield', fund, date, '1.0000');
      assert.equal(published.code, 0, published.stderr);
      assert.equal(JSON.parse(published.stdout).yieldPer10k, '1.0000');
    }
    const bad = await opsWith(env, 'publish-yield', fund, '2024-08-04', '1.23456');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /at most 4 decimals/);
    const accrued = await opsWith(env, 'accrue', fund, '--through', '2024-08-03');
    assert.equal(accrued.code, 0, accrued.stderr);
    assert.deepEqual(JSON.parse(accrued.stdout).accrued, ['2024-08-02', '2024-08-03']);
    assert.match(accrued.stderr, /accrue .* partitions/);
    assert.equal((await incomeOf(holder.userId, '2024-08-02'))!.incomeFen, 100n);
    assert.equal((await incomeOf(holder.userId, '2024-08-03'))!.eligibleSharesFen, 1_000_100n);
  });

  it('funds and shrinks the liquidity reserve, and reports it', async () => {
    const name = uniqueId('cli').toLowerCase().replace(/[^a-z0-9-]/g, '');
    const env = { ...process.env, NODE_CONFIG: JSON.stringify({ reserve: { name } }) };
    const funded = await opsWith(env, 'reserve-adjust', 'increase', '800.00', '--key', uniqueId('reserve-key'));
    assert.equal(funded.code, 0, funded.stderr);
    assert.equal(JSON.parse(funded.stdout).reserve.size, '800.00');
    const refused = await opsWith(env, 'reserve-adjust', 'decrease', '900.00');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /not that much available/);
    const report = await opsWith(env, 'reserve');
    assert.equal(JSON.parse(report.stdout).available, '800.00');
  });

  it('keeps what the scheduled reconciliation found for ops', async () => {
    const report = await runReconciliation(ctx);
    assert.equal(report.balanced, true);
    assert.deepEqual(report.breaks, []);
    assert.equal((await latestReconciliation())?._id, report._id);
  });

  it('reconciles the journal', async () => {
    const result = await ops('reconcile');
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.postingsTotal, '0.00');
    assert.ok(report.accountsChecked > 0);
  });
});
