/**
 * The service as a supervisor (systemd, a container) runs it: `npm start` on its own
 * embedded database, stopped by a signal to the process the supervisor started; and the
 * compiled build (`npm run build`) started with plain node.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isAlive, readTextIfExists, run } from '../../src/db/embedded/processes.ts';
import { PROJECT_ROOT } from '../../src/projectRoot.ts';
import { testDatabaseUri } from '../support/database.ts';
import { logLinesOf, startProcess, type ServerProcess } from '../support/serverProcess.ts';
import { until } from '../support/until.ts';

/** The PIDs of the service and of the PostgreSQL and FerretDB it started, from its data folder. */
async function stackPids(dataDir: string) {
  const pidIn = async (file: string) => Number((await readTextIfExists(path.join(dataDir, file)))?.split('\n')[0]);
  return { service: await pidIn('stack-owner.pid'), postgres: await pidIn('pgdata/postmaster.pid'), ferretdb: await pidIn('ferretdb.pid') };
}

async function parentPidOf(pid: number): Promise<number> {
  // /proc/<pid>/stat: "pid (name) state ppid ..."; the name may hold spaces, so read after it.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe('production start', function () {
  this.timeout(300_000);
  let dataDir: string;
  let server: ServerProcess | undefined;
  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'moneyfund-start-'));
    await chmod(dataDir, 0o755); // as root, PostgreSQL runs as 'postgres' and must reach it
  });
  afterEach(() => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
    server = undefined;
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to the process npm start leaves running stops the service gracefully, and its PostgreSQL and FerretDB with it`, async () => {
      // Its own embedded database (no MONGODB_URI), as `npm start` on a fresh machine.
      server = await startProcess('npm', ['start'], { MONGODB_URI: undefined, MONEYFUND_DATA_DIR: dataDir });
      const pids = await stackPids(dataDir);
      assert.ok(Object.values(pids).every((pid) => pid > 0 && isAlive(pid)), JSON.stringify(pids));
      assert.equal(await parentPidOf(pids.service), server.child.pid, 'npm runs node itself, no shell between them');
      // The ops CLI finds the service's database as the service does, from MONEYFUND_DATA_DIR.
      const cliEnv = { ...process.env, MONGODB_URI: undefined, MONEYFUND_DATA_DIR: dataDir };
      const reconciled = await promisify(execFile)('npm', ['run', '--silent', 'ops', '--', 'reconcile', '--json'], { cwd: PROJECT_ROOT, env: cliEnv });
      assert.equal(JSON.parse(reconciled.stdout).postingsTotal, '0.00');

      server.child.kill(signal);
      assert.equal(await server.exited, 0, 'npm exits 0 when the service stopped cleanly');
      const messages = (await logLinesOf(server)).map((line) => line.msg);
      assert.deepEqual(messages.filter((message) => message === 'shutting down' || message === 'stopped'), ['shutting down', 'stopped']);
      // pg_ctl returns once the server removed its pid file, a moment before its process is gone.
      const running = () => Object.entries(pids).filter(([, pid]) => isAlive(pid));
      await until('the database processes gone', 5_000, async () => running().length === 0).catch(() => assert.deepEqual(running(), [], 'left running'));
      await assert.rejects(fetch(`${server.baseUrl}/readyz`), 'nothing serves any more');
    });
  }

  it('npm run build compiles a service that plain node starts and stops', async () => {
    await run('npm', ['run', 'build'], { cwd: PROJECT_ROOT });
    server = await startProcess(process.execPath, ['dist/src/server.js'], { MONGODB_URI: testDatabaseUri() });
    const docs = await fetch(`${server.baseUrl}/docs`);
    assert.equal(docs.status, 200, 'the pages beside the code are in dist/ too');
    const { version } = JSON.parse(await readFile(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(((await (await fetch(`${server.baseUrl}/openapi.json`)).json()) as { info: { version: string } }).info.version, version, 'package.json found from dist/');
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  });
});
