/**
 * The chaos run's processes: two API processes on one database (the realistic deployment)
 * and a worker, each killed with SIGKILL and started again, and an API process frozen with
 * SIGSTOP past its reserve lease and the recovery delay, then resumed with SIGCONT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/db/embedded/processes.ts';
import { Operation } from '../../src/operations/model.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const API_ROLES = ['api-a', 'api-b'] as const;
type Role = (typeof API_ROLES)[number] | 'worker';
const RECOVERY_POLL_MS = 250;
const HEALTH_PROBE_MS = 1_000;

/** An API kill: when it happened, and when the operations pending at that moment had all left pending. */
export interface ApiKill {
  atMs: number;
  /** Operations pending (in either API process) when it was killed. */
  pendingAtKill: number;
  recovered: Promise<number>;
}

export class Processes {
  kills = 0;
  freezes = 0;
  /** Longest time an operation pending at an API kill stayed pending. */
  longestRecoveryMs = 0;
  /** Time during the traffic when neither API process answered its health check (killed, starting, frozen). */
  noApiMs = 0;
  readonly #children = new Map<Role, ChildProcess>();
  readonly #ports = new Map<Role, number>();
  readonly #frozen = new Set<Role>();
  #killWaiters: ((kill: ApiKill) => void)[] = [];
  readonly logFile = path.join(os.tmpdir(), `chaos-${process.pid}.log`);

  constructor(
    private readonly uri: string,
    private readonly nodeConfig: object,
  ) {}

  get apiUrls(): string[] {
    return API_ROLES.map((role) => `http://127.0.0.1:${this.#ports.get(role)}`);
  }

  async startAll(): Promise<void> {
    for (const role of API_ROLES) this.#ports.set(role, await freePort());
    for (const role of [...API_ROLES, 'worker'] as const) await this.#start(role);
    await this.waitForApis();
  }

  async #start(role: Role): Promise<void> {
    const handle = await open(this.logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', ...(role === 'worker' ? ['--worker'] : [])], {
      cwd: ROOT,
      env: { ...process.env, MONGODB_URI: this.uri, PORT: String(this.#ports.get(role) ?? 0), NODE_CONFIG: JSON.stringify(this.nodeConfig), LOG_LEVEL: 'warn' },
      stdio: ['ignore', handle.fd, handle.fd],
    });
    await handle.close();
    this.#children.set(role, child);
  }

  async waitForApis(): Promise<void> {
    for (const url of this.apiUrls) {
      while (!(await fetch(`${url}/healthz`).then((response) => response.ok, () => false))) await sleep(100);
    }
  }

  /** Probes both API processes until `keepGoing` turns false, adding up the time neither answered. */
  async watchHealth(keepGoing: () => boolean): Promise<void> {
    const healthy = (url: string) => fetch(`${url}/healthz`, { signal: AbortSignal.timeout(HEALTH_PROBE_MS) }).then((response) => response.ok, () => false);
    while (keepGoing()) {
      const startedAtMs = Date.now();
      const answers = await Promise.all(this.apiUrls.map(healthy));
      if (!answers.includes(true)) this.noApiMs += Date.now() - startedAtMs;
      await sleep(Math.max(0, HEALTH_PROBE_MS - (Date.now() - startedAtMs)));
    }
  }

  /** Resolves at the next kill of an API process. */
  nextApiKill(): Promise<ApiKill> {
    return new Promise((resolve) => this.#killWaiters.push(resolve));
  }

  /** Every interval (± half) SIGKILLs the API processes (60%) or the worker, and starts it again; a frozen one is spared. */
  async killEvery(intervalMs: number, keepGoing: () => boolean): Promise<void> {
    while (keepGoing()) {
      await sleep(intervalMs * (0.5 + Math.random()));
      if (!keepGoing()) return;
      const apis = API_ROLES.filter((role) => !this.#frozen.has(role));
      const victim: Role = Math.random() < 0.6 ? apis[Math.floor(Math.random() * apis.length)]! : 'worker';
      const pendingIds = victim === 'worker' ? [] : await pendingOperationIds();
      this.#children.get(victim)?.kill('SIGKILL');
      this.kills++;
      if (victim !== 'worker') this.#announceKill(pendingIds);
      await sleep(200);
      await this.#start(victim);
    }
  }

  #announceKill(pendingIds: string[]): void {
    const kill = { atMs: Date.now(), pendingAtKill: pendingIds.length, recovered: this.#recoveryOf(pendingIds) };
    for (const resolve of this.#killWaiters.splice(0)) resolve(kill);
  }

  /** When none of the operations pending at a kill is pending any more (the killed process's among them). */
  async #recoveryOf(pendingIds: string[]): Promise<number> {
    const startedAtMs = Date.now();
    const watched = new Set(pendingIds);
    // Selects by status alone: FerretDB serves equality from an index, $in it scans.
    while ((await pendingOperationIds()).some((id) => watched.has(id))) await sleep(RECOVERY_POLL_MS);
    const recoveredAtMs = Date.now();
    this.longestRecoveryMs = Math.max(this.longestRecoveryMs, recoveredAtMs - startedAtMs);
    return recoveredAtMs;
  }

  /**
   * Every interval (± half) freezes one API process with SIGSTOP for `frozenMs` while the
   * other serves the clients' replays and the recovery job closes what it left, then resumes it.
   */
  async freezeEvery(intervalMs: number, frozenMs: number, keepGoing: () => boolean): Promise<void> {
    while (keepGoing()) {
      await sleep(intervalMs * (0.5 + Math.random()));
      if (!keepGoing()) return;
      const role = API_ROLES[Math.floor(Math.random() * API_ROLES.length)]!;
      this.#frozen.add(role);
      this.#children.get(role)?.kill('SIGSTOP');
      this.freezes++;
      await sleep(frozenMs);
      this.#children.get(role)?.kill('SIGCONT');
      this.#frozen.delete(role);
    }
  }

  async stopAll(): Promise<void> {
    for (const child of this.#children.values()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited;
    }
  }
}

async function pendingOperationIds(): Promise<string[]> {
  const pending = await Operation.find({ status: 'pending' }, { _id: 1 }).lean();
  return pending.map((operation) => operation._id);
}
