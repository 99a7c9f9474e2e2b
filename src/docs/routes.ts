import express, { type Router } from 'express';
import { fileURLToPath } from 'node:url';
// Only the path helper: the package's main module loads the 1.4 MB browser bundle into Node.
import swaggerUiDir from 'swagger-ui-dist/absolute-path.js';
import { apiRoutes } from '../http/openapi.ts';
import { openApiDocument } from '../http/openapi/document.ts';

const publicDir = fileURLToPath(new URL('./public/', import.meta.url));
/** Of swagger-ui-dist, only what our page loads: its own index.html would show the petstore. */
const SWAGGER_UI_FILES = new Set(['/swagger-ui.css', '/swagger-ui-bundle.js', '/swagger-ui.css.map', '/swagger-ui-bundle.js.map', '/favicon-32x32.png']);
const fileOptions = { index: false, dotfiles: 'deny' } as const;

/** /openapi.json, and /docs: Swagger UI over it, with our initializer as a same-origin script file. */
export function docsRoutes(): Router {
  const api = apiRoutes({ name: 'Documentation', description: 'This document, and the page that renders it.' });
  api.get(
    '/openapi.json',
    {
      operationId: 'getOpenApiDocument',
      summary: 'This OpenAPI 3.1 document',
      description: 'Generated from the zod schemas the routes validate their input with.',
      responses: { 200: { description: 'The OpenAPI 3.1 document', contentType: 'application/json' } },
    },
    (_input, res) => {
      res.json(openApiDocument(res.req.app));
    },
  );
  api.get(
    '/docs',
    {
      operationId: 'getApiDocsPage',
      summary: 'The API documentation page (Swagger UI)',
      responses: { 200: { description: 'An HTML page that renders /openapi.json', contentType: 'text/html' } },
    },
    (_input, res) => {
      res.sendFile('index.html', { root: publicDir, dotfiles: 'deny' });
    },
  );
  const swaggerUi = express.static(swaggerUiDir(), fileOptions);
  api.router.use('/docs/swagger-ui', (req, res, next) => (SWAGGER_UI_FILES.has(req.path) ? swaggerUi(req, res, next) : next()));
  api.router.use('/docs/assets', express.static(publicDir, fileOptions));
  return api.router;
}
