/**
 * The layering of src/ (docs/operation-engine.md, "Layers"), checked with dependency-cruiser:
 * the rules of .dependency-cruiser.cjs (no file imports itself round a circle, HTTP only at the
 * edge, the engine imports no domain, ...), and no circle between folders.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);

interface Dependency {
  resolved: string;
}
interface Module {
  source: string;
  dependencies: Dependency[];
}
interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}
interface CruiseResult {
  modules: Module[];
  summary: { violations: Violation[] };
}

async function cruise(): Promise<CruiseResult> {
  // Asynchronous: this process owns the test database, whose log pipe a blocked event loop stalls.
  const { stdout } = await promisify(execFile)(
    `${root}node_modules/.bin/depcruise`,
    ['--config', '.dependency-cruiser.cjs', '--output-type', 'json', 'src', 'jobs'],
    { cwd: root, maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as CruiseResult;
}

/** The edge (src/http, each folder's routes.ts, the composition roots) as the config draws it. */
function edgePattern(): RegExp {
  const config = require(`${root}.dependency-cruiser.cjs`) as { forbidden: { name: string; from: { pathNot?: string } }[] };
  return new RegExp(config.forbidden.find((rule) => rule.name === 'http-only-at-the-edge')!.from.pathNot!);
}

/** The edge is one node (it may import itself freely); every other folder of src, or root file, is its own. */
function nodeOf(file: string, edge: RegExp): string {
  if (edge.test(file)) return 'edge';
  const [top, folder, rest] = file.split('/');
  return top === 'src' && rest !== undefined ? `src/${folder}` : file;
}

/** Folder edges, each with the file imports that make it. */
function folderGraph(modules: Module[], edge: RegExp): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const module of modules.filter((found) => /^(src|jobs)\//.test(found.source))) {
    const from = nodeOf(module.source, edge);
    for (const dependency of module.dependencies.filter((found) => /^(src|jobs)\//.test(found.resolved))) {
      const to = nodeOf(dependency.resolved, edge);
      if (from === to) continue;
      const targets = graph.get(from) ?? graph.set(from, new Map()).get(from)!;
      targets.set(to, [...(targets.get(to) ?? []), `${module.source} → ${dependency.resolved}`]);
    }
  }
  return graph;
}

/** Every folder edge that lies on a circle: an edge a → b where b reaches a. */
function edgesOnCircles(graph: Map<string, Map<string, string[]>>): string[] {
  const reaches = (from: string, target: string, seen = new Set<string>()): boolean => {
    if (from === target) return true;
    if (seen.has(from)) return false;
    seen.add(from);
    return [...(graph.get(from)?.keys() ?? [])].some((next) => reaches(next, target, seen));
  };
  const circular: string[] = [];
  for (const [from, targets] of graph) {
    for (const [to, imports] of targets) if (reaches(to, from)) circular.push(`${from} → ${to} (${imports.join('; ')})`);
  }
  return circular.sort();
}

describe('architecture', () => {
  let result: CruiseResult;
  before(async function () {
    this.timeout(120_000);
    result = await cruise();
  });

  it('keeps every rule of .dependency-cruiser.cjs', () => {
    const broken = result.summary.violations.map((violation) => `${violation.rule.name}: ${violation.from} → ${violation.to}`);
    assert.deepEqual(broken, []);
  });

  it('has no circle between folders', () => {
    assert.deepEqual(edgesOnCircles(folderGraph(result.modules, edgePattern())), []);
  });
});
