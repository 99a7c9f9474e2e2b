/**
 * Review of issue 23: the two-person rule for an outlier 万份收益, attacked from the ops CLI.
 * The CLI proves who `--as` names by its login password where the rule counts people.
 */
import assert from 'node:assert/strict';
import { registerUser } from '../../src/auth/service.ts';
import { FundDay, fundDayId } from '../../src/fund/model.ts';
import { testApp } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';
import { addTestFund } from '../support/income.ts';
import { runOps } from '../support/opsCli.ts';

const opsWith = (env: NodeJS.ProcessEnv, stdin: string, ...args: string[]) => runOps(env, args, stdin);

describe('review of issue 23: the ops CLI and the second ops user', function () {
  this.timeout(120_000);
  const t = testApp('2024-08-02T10:00:00+08:00');

  it('one person cannot confirm their own outlier by naming a colleague with --as (was confirmed)', async () => {
    const fund = addTestFund(t);
    const funds = t.ctx.config.funds.map((entry) => (entry.code === fund ? { ...entry, yieldPer10kBand: { min: '0.0000', max: '3.0000' } } : entry));
    const env = { ...process.env, NODE_CONFIG: JSON.stringify({ funds }) };
    const [alice, bob] = [uniqueId('alice'), uniqueId('bob')];
    await Promise.all([alice, bob].map((loginId) => registerUser(t.ctx, loginId, 'ops-cli-password', ['user', 'ops'])));

    // Alice, at her shell, publishes a slipped decimal point; then, at the same shell, with no
    // secret of Bob's, "confirms" it as Bob. The audit says Bob confirmed.
    const published = await opsWith(env, 'ops-cli-password', 'publish-yield', fund, '2024-08-01', '41.2300', '--as', alice, '--password-stdin', '--json');
    assert.equal(published.code, 0, published.stderr);
    const confirmed = await opsWith(env, '', 'yields', 'confirm', fund, '2024-08-01', '41.2300', '--as', bob, '--json');
    assert.equal(confirmed.code, 1);
    // Alice's own password does not prove Bob.
    const posing = await opsWith(env, 'ops-cli-password-of-alice', 'yields', 'confirm', fund, '2024-08-01', '41.2300', '--as', bob, '--password-stdin');
    assert.equal(posing.code, 1);
    const day = (await FundDay.findById(fundDayId(fund, '2024-08-01')).lean())!;
    assert.equal(
      day.status,
      'pending',
      `confirmed by "${bob}" (exit ${confirmed.code}) with nothing but his login id: 41.2300 is now ${day.status} and will be accrued`,
    );
  });
});
