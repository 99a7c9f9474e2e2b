import type { Request } from 'express';

/** The label of requests no route took: unknown paths, and those refused before their route (a bad token, a bad body). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route a request took as its template (`/v1/me/operations/:id`), never the raw path:
 * ids in labels would make one series per operation. Files served under a mount path are
 * labelled by the mount (`/ops/assets/*`).
 */
export function routeTemplateOf(req: Request): string {
  const routePath: unknown = req.route?.path;
  if (typeof routePath === 'string') return `${req.baseUrl}${routePath}`;
  return req.baseUrl ? `${req.baseUrl}/*` : UNMATCHED_ROUTE;
}
