/** The ops CLI, run as ops would run it, against the database the tests use. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { User } from '../../src/auth/model.ts';
import { createSession, registerUser } from '../../src/auth/service.ts';
import { relayEvents } from '../../src/events/log.ts';
import '../../src/eventSources.ts';
import { opsProgram } from '../../src/cli/program.ts';
import { createContext } from '../../src/context.ts';
import { latestReconciliation, runReconciliation } from '../../src/reconciliation/job.ts';
import { testApp } from '../support/api.ts';
import { testDatabaseUri, uniqueId } from '../support/database.ts';
import { addTestFund, incomeOf, subscribedHolder } from '../support/income.ts';
import { printedUntil, runOps, spawnOps } from '../support/opsCli.ts';
import { appendEvents } from '../../src/events/log.ts';
import { eventId } from '../../src/events/feed.ts';
import { Event } from '../../src/events/model.ts';
import { eventDraft } from '../../src/events/outbox.ts';
import { WebhookEndpoint } from '../../src/webhooks/model.ts';

/** Appends `count` events to the log; their ids. */
async function appendedEvents(count: number): Promise<string[]> {
  const drafts = Array.from({ length: count }, () => eventDraft('session.created', uniqueId('u'), new Date(), {}));
  await appendEvents(drafts);
  const logged = await Promise.all(drafts.map((draft) => Event.findOne({ sourceKey: draft.sourceKey }).lean()));
  return logged.map((event) => eventId({ seq: event!._id }));
}

/** The PID of a process that has ended. */
function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  return new Promise((resolve) => child.once('exit', () => resolve(child.pid!)));
}

function ops(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return opsWith(process.env, ...args);
}

const opsWith = (env: NodeJS.ProcessEnv, ...args: string[]) => runOps(env, args);

describe('ops CLI', () => {
  const ctx = createContext();

  /** An ops user for --as: the CLI records a person (docs/ops-audit.md). */
  async function opsLogin(): Promise<string> {
    const loginId = uniqueId('ops-cli');
    await registerUser(ctx, loginId, 'ops-cli-password', ['user', 'ops']);
    return loginId;
  }

  it('grants and revokes the ops role by login id', async () => {
    const loginId = uniqueId('ops-cli');
    const { userId } = await registerUser(ctx, loginId, 'ops-cli-password');
    const granted = await ops('grant-ops', loginId, '--json');
    assert.equal(granted.code, 0, granted.stderr);
    assert.deepEqual(JSON.parse(granted.stdout), { userId, roles: ['user', 'ops'] });
    assert.deepEqual((await User.findById(userId).lean())?.roles, ['user', 'ops']);
    const revoked = await ops('revoke-ops', loginId);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.deepEqual((await User.findById(userId).lean())?.roles, ['user']);
  });

  it('prints for people by default: one line a field', async () => {
    const loginId = uniqueId('ops-cli');
    const { userId } = await registerUser(ctx, loginId, 'ops-cli-password');
    const granted = await ops('grant-ops', loginId);
    assert.equal(granted.code, 0, granted.stderr);
    assert.equal(granted.stdout, `user id  ${userId}\nroles    user, ops\n`);
  });

  it('says what is wrong: an unknown login id (1), a missing argument or an unknown command (2, with usage)', async () => {
    const unknown = await ops('grant-ops', uniqueId('nobody'));
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^ops: .*was not found/);
    const missing = await ops('grant-ops');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing required argument 'loginId'/);
    const usage = await ops('frobnicate');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown command 'frobnicate'[\s\S]*--help/);
    for (const result of [unknown, missing, usage]) assert.equal(result.stdout, '');
  });

  it('explains every command with --help, without a database', async () => {
    const withoutDatabase = { ...process.env, MONGODB_URI: undefined, MONEYFUND_DATA_DIR: '/nonexistent' };
    for (const path of [[], ['report', 'fund']]) {
      const help = await opsWith(withoutDatabase, ...path, '--help');
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`^Usage: npm run ops -- ${path.map((name) => `${name} `).join('')}\\[options\\]`));
      assert.match(help.stdout, /--json +print the answer as JSON/);
    }
    // Every command, report's own among them, in this process: each has its usage, a description and its arguments explained.
    const commandsOf = (command: Command): Command[] => command.commands.flatMap((sub) => (sub.commands.length > 0 ? commandsOf(sub) : [sub]));
    const commands = commandsOf(opsProgram());
    assert.equal(commands.length, 28);
    for (const command of commands) {
      const help = command.helpInformation();
      assert.match(help, new RegExp(`^Usage: npm run ops -- ${command.parent!.parent ? `${command.parent!.name()} ` : ''}${command.name()} `), help);
      assert.ok(command.description().length > 0, command.name());
      for (const argument of command.registeredArguments) assert.match(help, new RegExp(`^ {2}${argument.name()} +\\S`, 'm'), help);
      assert.match(help, /--json/, 'the global --json shows in each command');
    }
  });

  it('finds the database in MONEYFUND_DATA_DIR as the service does: while the service that runs it lives', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'moneyfund-cli-'));
    try {
      // What a running service leaves in its data folder: its PID and its database's address.
      await writeFile(path.join(dataDir, 'mongodb-uri'), `${testDatabaseUri()}\n`);
      const withDataDir = { ...process.env, MONGODB_URI: undefined, MONEYFUND_DATA_DIR: dataDir };
      await writeFile(path.join(dataDir, 'stack-owner.pid'), `${process.pid}\n`);
      const found = await opsWith(withDataDir, 'reconcile', '--json');
      assert.equal(found.code, 0, found.stderr);
      assert.equal(JSON.parse(found.stdout).postingsTotal, '0.00');
      // A service killed without its clean-up left the files: its database is not to be used.
      await writeFile(path.join(dataDir, 'stack-owner.pid'), `${await deadPid()}\n`);
      const stale = await opsWith(withDataDir, 'reconcile', '--json');
      assert.equal(stale.code, 1);
      assert.match(stale.stderr, new RegExp(`No database to talk to: no service runs on ${dataDir}`));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('publishes yields and accrues a range in order, drawing a progress bar that counts days; logs never reach stdout', async function () {
    this.timeout(60_000);
    const t = testApp('2024-08-01T10:00:00+08:00');
    const fund = addTestFund(t);
    const holder = await subscribedHolder(t, fund, '10000.00'); // T Thu 08-01, earns from Fri 08-02
    const env = { ...process.env, NODE_CONFIG: JSON.stringify({ funds: t.ctx.config.funds }) };
    const publisher = await opsLogin();
    for (const date of ['2024-08-02', '2024-08-03']) {
      const published = await opsWith(env, 'publish-yield', fund, date, '1.0000', '--json', '--as', publisher);
      assert.equal(published.code, 0, published.stderr);
      assert.equal(JSON.parse(published.stdout).yieldPer10k, '1.0000');
    }
    const bad = await opsWith(env, 'publish-yield', fund, '2024-08-04', '1.23456', '--as', publisher);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /at most 4 decimals/);
    // Info logs asked for: they go to stderr, each line whole, and stdout is the JSON alone.
    const accrued = await opsWith({ ...env, LOG_LEVEL: 'info' }, 'accrue', fund, '--through', '2024-08-03', '--json');
    assert.equal(accrued.code, 0, accrued.stderr);
    assert.deepEqual(JSON.parse(accrued.stdout).accrued, ['2024-08-02', '2024-08-03']);
    assert.match(accrued.stderr, new RegExp(`accrue ${fund} 2024-08-03 \\[=+\\] 2/2 days`));
    const logLines = accrued.stderr.split('\n').filter((line) => line.includes('"level"'));
    assert.deepEqual(logLines.map((line) => JSON.parse(line).msg).filter((msg) => msg === 'fund day accrued'), ['fund day accrued', 'fund day accrued']);
    assert.equal((await incomeOf(holder.userId, '2024-08-02'))!.incomeFen, 100n);
    assert.equal((await incomeOf(holder.userId, '2024-08-03'))!.eligibleSharesFen, 1_000_100n);
  });

  it('funds and shrinks the liquidity reserve, and reports it', async () => {
    const name = uniqueId('cli').toLowerCase().replace(/[^a-z0-9-]/g, '');
    const env = { ...process.env, NODE_CONFIG: JSON.stringify({ reserve: { name } }) };
    const treasurer = await opsLogin();
    const funded = await opsWith(env, 'reserve-adjust', 'increase', '800.00', '--key', uniqueId('reserve-key'), '--json', '--as', treasurer);
    assert.equal(funded.code, 0, funded.stderr);
    assert.equal(JSON.parse(funded.stdout).reserve.size, '800.00');
    const refused = await opsWith(env, 'reserve-adjust', 'decrease', '900.00', '--as', treasurer);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /not that much available/);
    const report = await opsWith(env, '--json', 'reserve');
    assert.equal(JSON.parse(report.stdout).available, '800.00');
    const text = await opsWith(env, 'reserve');
    assert.match(text.stdout, /^available +800\.00$/m);
  });

  it('imports a flow history, plans the reserve with a progress bar on stderr, and prints synthetic flows', async function () {
    this.timeout(300_000);
    const name = uniqueId('cli').toLowerCase().replace(/[^a-z0-9-]/g, '');
    const env = { ...process.env, NODE_CONFIG: JSON.stringify({ reserve: { name } }) };
    const today = ctx.calendar.businessDateOf(new Date());
    const synthetic = await ops('reserve', 'synthetic-flows', '--from', ctx.calendar.addCalendarDays(today, -365), '--days', '365', '--seed', '5');
    assert.equal(synthetic.code, 0, synthetic.stderr);
    assert.match(synthetic.stdout, /^date,instant_redemption_yuan,payment_yuan,redemption_yuan,transfer_in_yuan,/);
    const folder = await mkdtemp(path.join(os.tmpdir(), 'flows-'));
    try {
      const [good, bad] = [path.join(folder, 'flows.csv'), path.join(folder, 'bad.csv')];
      await writeFile(good, synthetic.stdout);
      await writeFile(bad, synthetic.stdout.replace(/\n(\d{4}-\d{2}-\d{2}),/, '\n$1,-'));
      const analyst = await opsLogin();
      const refused = await opsWith(env, 'reserve', 'import-flows', bad, '--as', analyst);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /Line 2: instant_redemption_yuan .* nothing was written/);
      const imported = await opsWith(env, 'reserve', 'import-flows', good, '--json', '--as', analyst);
      assert.equal(imported.code, 0, imported.stderr);
      assert.deepEqual(JSON.parse(imported.stdout), { days: 365 });
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
    const planned = await opsWith(env, 'reserve', 'plan', '--days', '7', '--scenario', 'forecast-upper', '--json');
    assert.equal(planned.code, 0, planned.stderr);
    const plan = JSON.parse(planned.stdout);
    assert.deepEqual([plan.reserve.name, plan.forecast.days.length, plan.forecast.days[0].date], [name, 7, today]);
    assert.ok(plan.history.days >= 300, `${plan.history.days} days of history`);
    assert.ok(plan.recommendation.servedPercent >= 99.9 && plan.recommendation.tight, JSON.stringify(plan.recommendation));
    assert.match(planned.stderr, /reserve plan \[.*\] 100%/);
    const unknown = await opsWith(env, 'reserve', 'plan', '--scenario', 'panic');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /panic/);
  });

  it('keeps what the scheduled reconciliation found for ops', async () => {
    const report = await runReconciliation(ctx);
    assert.equal(report.balanced, true);
    assert.deepEqual(report.breaks, []);
    assert.equal((await latestReconciliation())?._id, report._id);
  });

  it('tails the event log: a line for each new event, a JSON object a line with --json, until SIGINT', async () => {
    const tail = spawnOps(process.env, ['events', 'tail', '--types', 'session.created']);
    const exited = new Promise<number | null>((resolve) => tail.once('exit', resolve));
    try {
      await printedUntil(tail.stderr!, /events tail: after evt_\d{12}/);
      const loginId = uniqueId('tailed');
      const { userId } = await registerUser(ctx, loginId, 'tailed-password');
      await createSession(ctx, loginId, 'tailed-password');
      await relayEvents(); // the API's and the worker's relay, here
      const printed = await printedUntil(tail.stdout!, new RegExp(`session\\.created  ${userId}  .*idEnd=`));
      const line = printed.split('\n').find((text) => text.includes(userId))!;
      const id = line.split('  ')[0]!;
      tail.kill('SIGINT');
      assert.equal(await exited, 0);
      // From the event before it, as JSON lines.
      const before = `evt_${String(Number(id.slice(4)) - 1).padStart(12, '0')}`;
      const json = spawnOps(process.env, ['--json', 'events', 'tail', '--types', 'session.created', '--from', before]);
      const jsonExited = new Promise<number | null>((resolve) => json.once('exit', resolve));
      const first = (await printedUntil(json.stdout!, /\n/)).split('\n')[0]!;
      json.kill('SIGINT');
      assert.equal(await jsonExited, 0);
      assert.deepEqual(
        (({ id: eventId, type, holderId }) => ({ id: eventId, type, holderId }))(JSON.parse(first)),
        { id, type: 'session.created', holderId: userId },
      );
      const unknown = await ops('events', 'tail', '--types', 'money.printed');
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /unknown event types: money\.printed/);
    } finally {
      tail.kill('SIGKILL');
    }
  });

  it('reconciles the journal', async () => {
    const result = await ops('reconcile', '--json');
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.postingsTotal, '0.00');
    assert.ok(report.accountsChecked > 0);
  });

  it('registers a webhook endpoint, showing its secret once, and lists, pauses and deletes it', async () => {
    const admin = await opsLogin();
    const added = await ops('webhooks', 'add', 'https://wallet.example/hooks', '--types', 'payment.succeeded,income.credited', '--as', admin, '--json');
    assert.equal(added.code, 0, added.stderr);
    const endpoint = JSON.parse(added.stdout);
    assert.match(endpoint.secret, /^whsec_/);
    assert.deepEqual(endpoint.types, ['payment.succeeded', 'income.credited']);
    const listed = await ops('webhooks', 'list', '--json');
    assert.ok(JSON.parse(listed.stdout).endpoints.some((found: { id: string }) => found.id === endpoint.id));
    assert.equal(listed.stdout.includes(endpoint.secret), false, 'listed without its secret');
    const paused = await ops('webhooks', 'pause', endpoint.id, '--as', admin, '--json');
    assert.equal(JSON.parse(paused.stdout).status, 'paused');
    const badType = await ops('webhooks', 'add', 'https://wallet.example/other', '--types', 'payment.refunded', '--as', admin);
    assert.equal(badType.code, 1);
    assert.match(badType.stderr, /types/);
    assert.equal((await ops('webhooks', 'delete', endpoint.id, '--as', admin)).code, 0);
    assert.equal((await ops('webhooks', 'delete', endpoint.id, '--as', admin)).code, 1, 'gone');
  });

  it("lists an endpoint's delivery log and replays it from an event", async () => {
    const admin = await opsLogin();
    const added = JSON.parse((await ops('webhooks', 'add', 'http://127.0.0.1:9/hooks', '--types', 'session.created', '--as', admin, '--json')).stdout);
    const [first, second] = await appendedEvents(2);
    const empty = await ops('webhooks', 'deliveries', added.id, '--failed', '--json');
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual(JSON.parse(empty.stdout), { deliveries: [], next: null });
    const ahead = await ops('webhooks', 'replay', added.id, '--from', second!, '--as', admin);
    assert.equal(ahead.code, 1, 'not reached yet');
    assert.match(ahead.stderr, /only goes back/);
    assert.equal((await ops('webhooks', 'replay', added.id, '--from', 'nope', '--as', admin)).code, 1);
    await WebhookEndpoint.updateOne({ _id: added.id }, { $set: { cursor: second } }); // as if both were sent
    const replayed = await ops('webhooks', 'replay', added.id, '--from', first!, '--as', admin, '--json');
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.ok(JSON.parse(replayed.stdout).delivery.cursor < first!, 'just before the event');
    const text = await ops('webhooks', 'deliveries', added.id);
    assert.equal(text.code, 0, text.stderr);
    await ops('webhooks', 'delete', added.id, '--as', admin);
  });
});
