/**
 * An expected outcome the caller can act on (insufficient balance, locked payments, ...): a
 * stable `code`, a human `detail` and the facts the answer carries. Domain code raises it and
 * knows no HTTP: the edge maps each code to its status once (src/http/problem.ts).
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

export const notFound = (what: string) => new DomainError('not_found', `${what} was not found`);
export const badRequest = (detail: string, extra: Record<string, unknown> = {}) => new DomainError('invalid_request', detail, extra);
