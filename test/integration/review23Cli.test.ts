/**
 * Review of issue 23: the two-person rule for an outlier 万份收益, attacked from the ops CLI.
 * OPEN DEFECT: fails until the CLI proves who `--as` names (docs/ops-audit.md "Who").
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { registerUser } from '../../src/auth/service.ts';
import { FundDay, fundDayId } from '../../src/fund/model.ts';
import { testApp } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';
import { addTestFund } from '../support/income.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function opsWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('review of issue 23: the ops CLI and the second ops user', function () {
  this.timeout(120_000);
  const t = testApp('2024-08-02T10:00:00+08:00');

  it('OPEN DEFECT: one person cannot confirm their own outlier by naming a colleague with --as', async () => {
    const fund = addTestFund(t);
    const funds = t.ctx.config.funds.map((entry) => (entry.code === fund ? { ...entry, yieldPer10kBand: { min: '0.0000', max: '3.0000' } } : entry));
    const env = { ...process.env, NODE_CONFIG: JSON.stringify({ funds }) };
    const [alice, bob] = [uniqueId('alice'), uniqueId('bob')];
    await Promise.all([alice, bob].map((loginId) => registerUser(t.ctx, loginId, 'ops-cli-password', ['user', 'ops'])));

    // Alice, at her shell, publishes a slipped decimal point; then, at the same shell, with no
    // secret of Bob's, "confirms" it as Bob. The audit says Bob confirmed.
    const published = await opsWith(env, 'publish-yield', fund, '2024-08-01', '41.2300', '--as', alice, '--json');
    assert.equal(published.code, 0, published.stderr);
    const confirmed = await opsWith(env, 'yields', 'confirm', fund, '2024-08-01', '41.2300', '--as', bob, '--json');
    const day = (await FundDay.findById(fundDayId(fund, '2024-08-01')).lean())!;
    assert.equal(
      day.status,
      'pending',
      `confirmed by "${bob}" (exit ${confirmed.code}) with nothing but his login id: 41.2300 is now ${day.status} and will be accrued`,
    );
  });
});
