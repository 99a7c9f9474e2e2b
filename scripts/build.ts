/**
 * `npm run build`: the production build in dist/ (`npm run start:prod` runs it with plain node).
 * tsc compiles src/ and jobs/ (tsconfig.build.json rewrites the `.ts` import specifiers to
 * `.js`); the files src/ reads beside its code (SQL, the dashboard's and /docs' pages) are
 * copied next to the compiled code, which finds them as the sources do.
 */
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/projectRoot.ts';
import { run } from '../src/db/embedded/processes.ts';

const DIST = path.join(PROJECT_ROOT, 'dist');

await rm(DIST, { recursive: true, force: true }); // no compiled file of a deleted source lingers
await run(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', path.join(PROJECT_ROOT, 'tsconfig.build.json')], { cwd: PROJECT_ROOT });
await cp(path.join(PROJECT_ROOT, 'src'), path.join(DIST, 'src'), { recursive: true, filter: (source) => !source.endsWith('.ts') });
console.log(`built ${path.relative(process.cwd(), DIST) || DIST}: npm run start:prod (node dist/src/server.js)`);
