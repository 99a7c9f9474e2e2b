/**
 * CPU time of this process's descendants, grouped (the API, FerretDB, PostgreSQL...): on a
 * machine whose throughput swings from run to run, CPU milliseconds per request are the
 * steadier figure, and they say which process a request costs most in. Linux only (/proc);
 * elsewhere every group reads 0.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100;

interface ProcStat {
  pid: number;
  ppid: number;
  command: string;
  cpuS: number;
}

function readStat(pid: string): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const fields = text.slice(close + 2).split(' ');
    // After the command: state, ppid, ... utime (14th field of the line) and stime (15th).
    return { pid: Number(pid), ppid: Number(fields[1]), command: text.slice(text.indexOf('(') + 1, close), cpuS: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S };
  } catch {
    return null;
  }
}

function descendantsOf(rootPid: number): ProcStat[] {
  let all: ProcStat[];
  try {
    all = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(readStat).filter((stat): stat is ProcStat => stat !== null);
  } catch {
    return [];
  }
  const found: ProcStat[] = [];
  const parents = new Set([rootPid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const stat of all) {
      if (parents.has(stat.ppid) && !parents.has(stat.pid)) {
        parents.add(stat.pid);
        found.push(stat);
        grew = true;
      }
    }
  }
  return found;
}

/** The postmaster of a cluster started with pg_ctl (not our child): the first line of its pid file. */
export function postmasterPid(pgDataDir: string): number | undefined {
  try {
    return Number(readFileSync(`${pgDataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds so far by group: this process (client), its descendants and those of `roots`
 * (a daemonised PostgreSQL), `named` pids by their name, the others by command.
 */
export function cpuByGroup(named: Record<string, number | undefined>, roots: (number | undefined)[] = []): Record<string, number> {
  const names = new Map(Object.entries(named).map(([name, pid]) => [pid, name]));
  const own = process.cpuUsage();
  const totals: Record<string, number> = { client: (own.user + own.system) / 1e6 };
  const rootStats = roots.flatMap((pid) => (pid === undefined ? [] : [readStat(String(pid))].filter((stat): stat is ProcStat => stat !== null)));
  const others = roots.flatMap((pid) => (pid === undefined ? [] : descendantsOf(pid)));
  for (const stat of [...descendantsOf(process.pid), ...rootStats, ...others]) {
    const group = names.get(stat.pid) ?? (stat.command.startsWith('postgres') ? 'postgres' : stat.command.startsWith('ferretdb') ? 'ferretdb' : 'other');
    totals[group] = (totals[group] ?? 0) + stat.cpuS;
  }
  return totals;
}

/** CPU milliseconds per request of each group between two readings, to 0.01 ms. */
export function cpuMsPer(requests: number, before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.keys(after)
      .filter((group) => group !== 'other')
      .map((group) => [group, Math.round(((after[group]! - (before[group] ?? 0)) / Math.max(1, requests)) * 1e5) / 100]),
  );
}
