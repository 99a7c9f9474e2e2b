/**
 * The layers of src/ (docs/operation-engine.md, "Layers"): kernel, the operation engine,
 * domains, and the HTTP edge with the composition roots. test/unit/architecture.test.ts runs
 * this and also checks that no two folders import each other, directly or round a circle.
 */
const EDGE = '^(jobs/|src/(app|server|cli|scheduler)[.]ts$|src/cli/|src/http/|src/[^/]+/routes[.]ts$|src/(dashboard|docs)/)';
const KERNEL = '^src/(money|config|calendar|db|observability|bank)/|^src/(errors|ids|log|faults|context|projectRoot)[.]ts$';
const DOMAINS = '^src/(accounts|auth|fund|holidays|income|merchants|reconciliation|reports|reserve|sweep|transfers)/';

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No module reaches itself through its imports.', from: {}, to: { circular: true } },
    {
      name: 'http-only-at-the-edge',
      severity: 'error',
      comment: 'Domain code answers with result codes; statuses and problem+json live in src/http.',
      from: { pathNot: EDGE },
      to: { path: '^src/http/' },
    },
    {
      name: 'composition-roots-on-top',
      severity: 'error',
      comment: 'app, server, cli, scheduler and jobs wire everything together; nothing below imports them.',
      from: { pathNot: EDGE },
      to: { path: '^(jobs/|src/(app|server|cli|scheduler)[.]ts$)' },
    },
    {
      name: 'engine-knows-no-domain',
      severity: 'error',
      comment: 'Each operation type registers its machine and finality with the engine; the engine imports none.',
      from: { path: '^src/operations/', pathNot: EDGE },
      to: { path: DOMAINS },
    },
    {
      name: 'kernel-knows-nothing-above',
      severity: 'error',
      comment: 'money, config, calendar, db, ids, log, errors, the context and its bank adapter stand alone.',
      from: { path: KERNEL, pathNot: EDGE },
      to: { path: `^src/operations/|${DOMAINS}` },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
  },
};
