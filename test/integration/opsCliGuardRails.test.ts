/** The ops CLI's guard rails, run as ops would run it: CSV import, a second person for an outlier, and the audit of who did each. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registerUser } from '../../src/auth/service.ts';
import { FundDay } from '../../src/fund/model.ts';
import { testApp } from '../support/api.ts';
import { uniqueId } from '../support/database.ts';
import { addTestFund } from '../support/income.ts';
import { runOps } from '../support/opsCli.ts';

const opsWith = (env: NodeJS.ProcessEnv, ...args: string[]) => runOps(env, args);
const opsReading = (stdin: string, env: NodeJS.ProcessEnv, ...args: string[]) => runOps(env, args, stdin);
const PASSWORD = 'ops-cli-password';

describe('ops CLI guard rails', function () {
  this.timeout(120_000);
  const t = testApp('2024-08-01T10:00:00+08:00');
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let fund: string;
  let alice: string;
  let bob: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'moneyfund-yields-'));
    fund = addTestFund(t);
    const funds = t.ctx.config.funds.map((entry) => (entry.code === fund ? { ...entry, startDate: '2024-08-01', yieldPer10kBand: { min: '0.0000', max: '3.0000' } } : entry));
    env = { ...process.env, NODE_CONFIG: JSON.stringify({ funds }) };
    [alice, bob] = [uniqueId('alice'), uniqueId('bob')];
    await Promise.all([alice, bob].map((loginId) => registerUser(t.ctx, loginId, 'ops-cli-password', ['user', 'ops'])));
  });

  after(() => rm(dir, { recursive: true, force: true }));

  async function csvFile(name: string, lines: string[]): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, `\uFEFF${lines.join('\r\n')}\r\n`); // as a spreadsheet saves it
    return file;
  }

  const json = (result: { code: number; stdout: string; stderr: string }) => {
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout);
  };

  it('imports a year as reference (a dry run first, writing nothing), refuses a bad line by number, and asks for a person', async () => {
    const lines = ['date,yieldPer10k'];
    for (let date = '2023-08-01'; date < '2024-08-01'; date = t.ctx.calendar.addCalendarDays(date, 1)) lines.push(`${date},0.4100`);
    const year = await csvFile('year.csv', lines);

    const dryRun = json(await opsWith(env, 'yields', 'import', year, '--fund', fund, '--dry-run', '--as', alice, '--json'));
    assert.deepEqual([dryRun.dryRun, dryRun.counts.new, dryRun.counts.reference], [true, 366, 366]);
    assert.equal(await FundDay.countDocuments({ fundCode: fund }), 0);
    const text = await opsWith(env, 'yields', 'import', year, '--fund', fund, '--dry-run', '--as', alice);
    assert.match(text.stdout, /^line +date +yieldPer10k +change +status +reason\n +2 +2023-08-01 +0\.4100 +new +reference +-$/m);

    const nobody = await opsWith(env, 'yields', 'import', year, '--fund', fund);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, new RegExp(`^ops: No user ${os.userInfo().username} to act as: run with --as <loginId>`));

    const imported = json(await opsWith(env, 'yields', 'import', year, '--fund', fund, '--as', alice, '--json'));
    assert.equal(imported.counts.new, 366);
    assert.equal(await FundDay.countDocuments({ fundCode: fund, status: 'reference' }), 366);

    const bad = await opsWith(env, 'yields', 'import', await csvFile('bad.csv', ['date,yieldPer10k', '2023-08-01,0.5000', '2023-08-02,abc']), '--fund', fund, '--as', alice);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ops: Line 3: "abc" is not a 万份收益/);
    assert.equal((await FundDay.findOne({ fundCode: fund, date: '2023-08-01' }).lean())!.yieldPer10k, 4100n, 'nothing written');
  });

  it('keeps an outlier pending until a second ops user confirms it, and the audit shows who did each', async () => {
    // Outside the band, --as is not enough: the person is proven by the login password.
    const claimed = await opsWith(env, 'publish-yield', fund, '2024-08-01', '9.0000', '--as', alice);
    assert.equal(claimed.code, 1);
    assert.match(claimed.stderr, /prove who --as names with --password-stdin/);
    const published = json(await opsReading(`${PASSWORD}\n`, env, 'publish-yield', fund, '2024-08-01', '9.0000', '--as', alice, '--password-stdin', '--json'));
    assert.deepEqual([published.status, published.change], ['pending', 'new']);
    const pending = json(await opsWith(env, 'yields', 'pending', fund, '--json'));
    assert.deepEqual(pending.days.map((day: { date: string; yieldPer10k: string }) => [day.date, day.yieldPer10k]), [['2024-08-01', '9.0000']]);
    const blocked = json(await opsWith(env, 'accrual-status', fund, '--json'));
    assert.match(blocked.blocked, /waits for a second ops user/);

    const own = await opsReading(PASSWORD, env, 'yields', 'confirm', fund, '2024-08-01', '9.0000', '--as', alice, '--password-stdin');
    assert.equal(own.code, 1);
    assert.match(own.stderr, /a second ops user must confirm it/);
    const wrongPassword = await opsReading('not-bobs', env, 'yields', 'confirm', fund, '2024-08-01', '9.0000', '--as', bob, '--password-stdin');
    assert.equal(wrongPassword.code, 1);
    const confirmed = json(await opsReading(PASSWORD, env, 'yields', 'confirm', fund, '2024-08-01', '9.0000', '--as', bob, '--password-stdin', '--json'));
    assert.equal(confirmed.status, 'published');
    const accrued = json(await opsWith(env, 'accrue', fund, '--through', '2024-08-01', '--json'));
    assert.deepEqual(accrued.accrued, ['2024-08-01']);

    const byAlice = json(await opsWith(env, 'audit', '--actor', alice, '--json')).items.reverse();
    assert.deepEqual(
      byAlice.map((item: { action: string; target: string; outcome: string; actor: { loginId: string; via: string } }) => [
        item.action,
        item.target,
        item.outcome,
        item.actor.loginId,
        item.actor.via,
      ]),
      [
        ['yield.import', fund, 'done', alice, 'cli'],
        ['yield.import', fund, 'refused', alice, 'cli'],
        ['yield.publish', `${fund} 2024-08-01`, 'refused', alice, 'cli'],
        ['yield.publish', `${fund} 2024-08-01`, 'done', alice, 'cli'],
        ['yield.confirm', `${fund} 2024-08-01`, 'refused', alice, 'cli'],
      ],
    );
    assert.equal(byAlice[1].code, 'invalid_csv');
    const byBob = await opsWith(env, 'audit', '--actor', bob, '--action', 'yield.confirm');
    assert.match(byBob.stdout, new RegExp(`^at +actor +via +action +target +outcome +code\\n\\S+ +${bob} +cli +yield\\.confirm +${fund} 2024-08-01 +done +-$`, 'm'));
    // An accrual run without --as is recorded as the OS account that ran it.
    const runs = json(await opsWith(env, 'audit', '--action', 'accrual.run', '--limit', '100', '--json')).items;
    const run = runs.find((item: { target: string }) => item.target === fund);
    assert.deepEqual([run.actor.userId, run.outcome, run.result.accrued], [`os:${os.userInfo().username}`, 'done', 1]);
  });
});
