import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { log } from '../log.ts';
import { routeTemplateOf } from './routeTemplate.ts';

/** An incoming X-Request-Id is kept when it is a plain token (a proxy's or a client's trace id). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Asked every few seconds by probes and the scraper: their lines are debug, not to drown the rest. */
const PROBE_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Gives every request an id (echoed as X-Request-Id) and logs one line when it ends: method,
 * route template, status, duration, request id and the authenticated user (at debug level
 * for probes and scrapes). Never headers (tokens), never bodies (passwords), never the raw
 * path or query.
 */
export function requestLog(): RequestHandler {
  return (req, res, next) => {
    const startedAt = performance.now();
    const incoming = req.get('x-request-id');
    const requestId = incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.set('X-Request-Id', requestId);
    res.once('close', () => {
      const userId: string | undefined = res.locals.principal?.userId;
      const route = routeTemplateOf(req);
      log[PROBE_ROUTES.has(route) ? 'debug' : 'info'](
        {
          requestId,
          method: req.method,
          route,
          status: res.statusCode,
          durationMs: Math.round(performance.now() - startedAt),
          ...(userId ? { userId } : {}),
          // The client went away before the answer was sent.
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'request',
      );
    });
    next();
  };
}
