/** The ops CLI, run as ops would run it, against the database the tests use. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { User } from '../../src/auth/model.ts';
import { registerUser } from '../../src/auth/service.ts';
import { createContext } from '../../src/context.ts';
import { uniqueId } from '../support/database.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function ops(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env: process.env }, (error, stdout, stderr) => {
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

  it('reconciles the journal', async () => {
    const result = await ops('reconcile');
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.postingsTotal, '0.00');
    assert.ok(report.accountsChecked > 0);
  });
});
