/**
 * `npm start` keeps its data across restarts, and starts again after being killed with
 * SIGKILL (which leaves its PostgreSQL and FerretDB running on the data folder).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, isAlive, readTextIfExists } from '../../src/db/embedded/processes.ts';
import { embeddedPostgresPort } from '../support/database.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const json = { 'content-type': 'application/json' };

async function startService(dataDir: string, port: number): Promise<ChildProcess> {
  const logHandle = await open(path.join(dataDir, '..', `service-${path.basename(dataDir)}.log`), 'a');
  const { MONGODB_URI: _external, ...env } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...env, PORT: String(port), MONEYFUND_DATA_DIR: dataDir, LOG_LEVEL: 'info' },
    stdio: ['ignore', logHandle.fd, logHandle.fd],
  });
  await logHandle.close();
  const deadline = Date.now() + 120_000;
  while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false))) {
    assert.ok(child.exitCode === null, 'the service exited during start-up');
    assert.ok(Date.now() < deadline, 'the service did not start within 120 s');
    await sleep(200);
  }
  return child;
}

async function post(port: number, route: string, body: object, headers: Record<string, string> = {}) {
  const response = await fetch(`http://127.0.0.1:${port}${route}`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

describe('npm start', function () {
  let workDir: string;
  before(async function () {
    if (!embeddedPostgresPort()) this.skip(); // the embedded stack is what is under test
    workDir = await mkdtemp(path.join(os.tmpdir(), 'moneyfund-restart-'));
    await chmod(workDir, 0o755); // mkdtemp makes it private; PostgreSQL runs as another user
  });
  after(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('keeps balances across a SIGKILL and a restart on the same data folder', async () => {
    const dataDir = path.join(workDir, 'data');
    const port = await freePort();
    const first = await startService(dataDir, port);
    const login = { loginId: `restart-${Date.now()}`, loginPassword: 'restart-password' };
    assert.equal((await post(port, '/v1/users', login)).status, 201);
    const session = await post(port, '/v1/sessions', login);
    const auth = { authorization: `Bearer ${session.body.token}` };
    const card = await post(port, '/v1/me/bank-cards', { cardNumber: '6222020200112233' }, auth);
    const topUp = await post(port, '/v1/me/top-ups', { amount: '12.34', bankCardId: card.body.bankCard.bankCardId }, { ...auth, 'idempotency-key': 'restart-topup-1' });
    assert.equal(topUp.status, 201);

    first.kill('SIGKILL');
    await exited(first);
    const leftoverPostgres = Number((await readTextIfExists(path.join(dataDir, 'pgdata', 'postmaster.pid')))?.split('\n')[0]);
    assert.ok(isAlive(leftoverPostgres), 'SIGKILL leaves PostgreSQL running on the folder');

    const second = await startService(dataDir, port);
    try {
      const again = await post(port, '/v1/sessions', login);
      assert.equal(again.status, 201);
      const account = await fetch(`http://127.0.0.1:${port}/v1/me/account`, { headers: { authorization: `Bearer ${again.body.token}` } });
      assert.equal(((await account.json()) as { wallet: string }).wallet, '12.34');
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
    assert.equal(await readTextIfExists(path.join(dataDir, 'pgdata', 'postmaster.pid')), undefined, 'a clean stop stops PostgreSQL');
  });

  it('a second process started on the folder of a running service joins its database and leaves it running', async () => {
    const dataDir = path.join(workDir, 'shared');
    const [servicePort, workerPort] = [await freePort(), await freePort()];
    const service = await startService(dataDir, servicePort);
    try {
      const worker = await startService(dataDir, workerPort);
      worker.kill('SIGTERM');
      await exited(worker);
      const ready = await fetch(`http://127.0.0.1:${servicePort}/readyz`);
      assert.equal(ready.status, 200, 'the service keeps its database');
      assert.equal((await post(servicePort, '/v1/users', { loginId: `joined-${Date.now()}`, loginPassword: 'joined-password' })).status, 201);
    } finally {
      service.kill('SIGTERM');
      await exited(service);
    }
    assert.equal(await readTextIfExists(path.join(dataDir, 'pgdata', 'postmaster.pid')), undefined, 'the service stops it');
  });
});
