import express, { type Router } from 'express';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiRoutes } from '../http/openapi.ts';

const publicDir = fileURLToPath(new URL('./public/', import.meta.url));
const require = createRequire(import.meta.url);
/** Chart.js's and i18next's self-contained browser builds, served from the installed packages: no CDN. */
const chartJsDir = path.dirname(require.resolve('chart.js'));
const CHART_JS_FILES = new Set(['/chart.umd.js', '/chart.umd.js.map']);
const i18nextDir = path.join(path.dirname(require.resolve('i18next/package.json')), 'dist', 'umd');
const I18NEXT_FILES = new Set(['/i18next.min.js']);
// Static files keep the app's `Cache-Control: no-store`: an ops console is never served stale.
const fileOptions = { index: false, cacheControl: false, dotfiles: 'deny' } as const;

/**
 * The ops dashboard: a page and its assets (/ops/assets/), public static files. The data
 * they show comes from /v1/ops/..., which needs an ops token; the page signs in for one.
 */
export function dashboardRoutes(options: { sandbox: boolean }): Router {
  const page = dashboardPage(options.sandbox);
  const api = apiRoutes({ name: 'Ops dashboard', description: 'The ops dashboard\'s page; the figures it draws come from the ops reports and need an ops token.' });
  api.get(
    '/ops/dashboard',
    {
      operationId: 'getOpsDashboardPage',
      summary: 'The ops dashboard page',
      description: 'Signs in with POST /v1/sessions, then shows the alerts (GET /v1/ops/alerts), charts the ops reports and looks up holders (GET /v1/ops/holders/{holder}); in Chinese by default, or English. Its scripts, styles and message catalogues are under /ops/assets/.',
      responses: { 200: { description: 'An HTML page', contentType: 'text/html' } },
    },
    (_input, res) => {
      res.type('html').send(page);
    },
  );
  const chartJs = express.static(chartJsDir, fileOptions);
  const i18next = express.static(i18nextDir, fileOptions);
  api.router.use('/ops/assets', (req, res, next) => (CHART_JS_FILES.has(req.path) ? chartJs(req, res, next) : next()));
  api.router.use('/ops/assets', (req, res, next) => (I18NEXT_FILES.has(req.path) ? i18next(req, res, next) : next()));
  api.router.use('/ops/assets', express.static(publicDir, fileOptions));
  return api.router;
}

/**
 * The page as this service serves it: in the sandbox its body says so, and the page shows the
 * test clock's controls (elsewhere it never asks for a clock that is not there).
 */
function dashboardPage(sandbox: boolean): string {
  const page = readFileSync(path.join(publicDir, 'index.html'), 'utf8');
  return sandbox ? page.replace('<body data-state="starting">', '<body data-state="starting" data-sandbox="true">') : page;
}
