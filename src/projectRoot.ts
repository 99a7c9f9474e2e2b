import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The checkout's root, the nearest folder above this file with a package.json: the same
 * folder whether this file runs as src/projectRoot.ts (tsx) or dist/src/projectRoot.js
 * (`npm run build`), so files outside src/ (package.json, tools/) are found from both.
 */
function rootAbove(dir: string): string {
  if (existsSync(path.join(dir, 'package.json'))) return dir;
  const parent = path.dirname(dir);
  if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
  return rootAbove(parent);
}

export const PROJECT_ROOT = rootAbove(path.dirname(fileURLToPath(import.meta.url)));
