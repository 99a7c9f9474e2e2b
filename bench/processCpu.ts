/**
 * CPU time of this process and its descendants, grouped (the API, FerretDB, PostgreSQL...): on a
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

/** The processes of `rootPids` and all their descendants, from one reading of /proc. */
function treesOf(rootPids: number[]): ProcStat[] {
  let all: ProcStat[];
  try {
    all = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(readStat).filter((stat): stat is ProcStat => stat !== null);
  } catch {
    return [];
  }
  const inTree = new Set(rootPids);
  for (let grew = true; grew; ) {
    grew = false;
    for (const stat of all) {
      if (inTree.has(stat.ppid) && !inTree.has(stat.pid)) {
        inTree.add(stat.pid);
        grew = true;
      }
    }
  }
  return all.filter((stat) => inTree.has(stat.pid));
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
 * CPU seconds so far by group, over this process (client), its descendants and the trees of
 * `roots` (a daemonised PostgreSQL): `named` pids by their name, the others by command.
 */
export function cpuByGroup(named: Record<string, number | undefined>, roots: (number | undefined)[] = []): Record<string, number> {
  const names = new Map<number | undefined, string>([[process.pid, 'client'], ...Object.entries(named).map(([name, pid]) => [pid, name] as const)]);
  const totals: Record<string, number> = {};
  for (const stat of treesOf([process.pid, ...roots.filter((pid): pid is number => pid !== undefined)])) {
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
