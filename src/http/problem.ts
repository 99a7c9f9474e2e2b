import type { ErrorRequestHandler, RequestHandler } from 'express';
import { log } from '../log.ts';

/**
 * An expected outcome the caller can act on (insufficient balance, locked payments, ...):
 * a stable `code`, an HTTP status and a human `detail`, served as application/problem+json.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

export const notFound = (what: string) => new DomainError('not_found', 404, `${what} was not found`);
export const badRequest = (detail: string, extra: Record<string, unknown> = {}) =>
  new DomainError('invalid_request', 400, detail, extra);

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  423: 'Locked',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export function problemBody(error: DomainError): Record<string, unknown> {
  return {
    type: `https://moneyfund.example/problems/${error.code}`,
    title: TITLES[error.status] ?? 'Error',
    status: error.status,
    code: error.code,
    detail: error.detail,
    ...error.extra,
  };
}

export function sendProblem(res: Parameters<RequestHandler>[1], error: DomainError): void {
  const { retryAfterSeconds } = error.extra;
  if (typeof retryAfterSeconds === 'number') res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(error.status).type('application/problem+json').json(problemBody(error));
}

/** Body-parser failures carry a status and a type; everything unknown becomes a bare 500. */
function fromParserError(error: { status?: number; type?: string }): DomainError | undefined {
  if (error.type === 'entity.too.large') return new DomainError('payload_too_large', 413, 'The request body is too large');
  if (error.type === 'entity.parse.failed') return badRequest('The request body is not valid JSON');
  if (error.type === 'encoding.unsupported' || error.type === 'charset.unsupported') {
    return new DomainError('unsupported_media_type', 415, 'Send the body as UTF-8 JSON');
  }
  if (typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
    return new DomainError('invalid_request', error.status, 'The request could not be read');
  }
  return undefined;
}

export const problemHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const known = error instanceof DomainError ? error : fromParserError(error);
  if (known) return sendProblem(res, known);
  log.error({ err: error, method: req.method, path: req.path }, 'unhandled error');
  sendProblem(res, new DomainError('internal_error', 500, 'Something went wrong on our side; nothing was charged twice'));
};

export const routeNotFound: RequestHandler = (req, res) => {
  sendProblem(res, new DomainError('route_not_found', 404, `No route ${req.method} ${req.path}`));
};
