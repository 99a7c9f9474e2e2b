import type { ErrorRequestHandler, RequestHandler } from 'express';
import { badRequest, DomainError } from '../errors.ts';
import { translatorFor, type Language } from '../i18n/i18n.ts';
import { log } from '../log.ts';
import { answerLanguage } from './language.ts';
import { InvalidInput, type InputIssue } from './validate.ts';

/**
 * The one table from result codes to HTTP statuses. Domain code raises or stores codes
 * (src/errors.ts, an operation's failure); only this edge turns them into statuses. A code
 * missing here is a programmer error: it is logged and answered as a bare 500.
 */
export const STATUS_OF_CODE = {
  invalid_request: 400,
  idempotency_key_required: 400,
  invalid_idempotency_key: 400,
  invalid_cursor: 400,
  unauthenticated: 401,
  login_failed: 401,
  forbidden: 403,
  login_password_wrong: 403,
  payment_password_wrong: 403,
  not_found: 404,
  route_not_found: 404,
  sandbox_only: 404,
  // An operation's failures (FAILURE_DETAIL, src/errors.ts): nothing moved.
  insufficient_balance: 409,
  insufficient_shares: 409,
  fund_switch_not_allowed: 409,
  holding_limit_exceeded: 409,
  transfer_in_daily_limit_exceeded: 409,
  fund_quota_exceeded: 409,
  balance_limit_exceeded: 409,
  instant_daily_limit_exceeded: 409,
  reserve_exhausted: 409,
  reserve_available_insufficient: 409,
  security_state_changed: 409,
  bank_declined: 422,
  bank_unavailable: 503,
  interrupted: 503,
  // Requests refused before anything was written.
  login_id_taken: 409,
  webhook_endpoints_full: 409,
  replay_ahead_of_cursor: 409,
  payment_password_not_set: 409,
  request_in_progress: 409,
  accrual_not_ready: 409,
  yield_already_accrued: 409,
  yield_before_fund_start: 409,
  yield_not_pending: 409,
  yield_changed: 409,
  yield_import_refused: 409,
  fund_start_fixed: 409,
  yield_confirmation_own: 403,
  invalid_csv: 400,
  invalid_scenario: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  amount_above_maximum: 422,
  fund_required: 422,
  unknown_fund: 422,
  unknown_bank_card: 422,
  unknown_merchant: 422,
  unknown_event: 422,
  idempotency_key_reused: 422,
  date_not_in_future: 422,
  weekend_date: 422,
  yield_date_in_future: 422,
  clock_not_forward: 422,
  clock_move_too_far: 422,
  scenario_day_missing: 422,
  payment_locked: 423,
  login_locked: 423,
  rate_limited: 429,
  internal_error: 500,
  account_busy: 503,
  password_checks_busy: 503,
  plans_busy: 503,
  not_ready: 503,
} as const satisfies Readonly<Record<string, number>>;

/** A code the table knows: what a route's documentation may name (src/http/openapi.ts). */
export type ProblemCode = keyof typeof STATUS_OF_CODE;

export const statusOfCode = (code: string): number | undefined => (STATUS_OF_CODE as Readonly<Record<string, number>>)[code];

/** A problem as served: an HTTP status and its application/problem+json body. */
export interface Problem {
  status: number;
  body: Record<string, unknown>;
}

const internalError = () => new DomainError('internal_error', 'Something went wrong on our side; nothing was charged twice');

/**
 * A problem in English, as stored with an operation and shown in the OpenAPI examples; the
 * English detail is the one written where the error is raised. `status` only for what the edge
 * itself meets with a status of its own (a body-parser failure).
 */
export function problemOf(error: DomainError, status = statusOfCode(error.code)): Problem {
  if (status === undefined) {
    log.error({ code: error.code, detail: error.detail }, 'result code missing from STATUS_OF_CODE');
    return problemOf(internalError());
  }
  const body = {
    type: `https://moneyfund.example/problems/${error.code}`,
    title: translatorFor('en')(`title.${status}`, { defaultValue: 'Error' }),
    status,
    code: error.code,
    detail: error.detail,
    ...error.extra,
  };
  return { status, body };
}

export function sendProblem(res: Parameters<RequestHandler>[1], error: DomainError, status?: number): void {
  const { retryAfterSeconds } = error.extra;
  const problem = problemOf(error, status);
  if (typeof retryAfterSeconds === 'number') res.setHeader('Retry-After', String(retryAfterSeconds));
  // A code missing from the table was answered as internal_error: the error's own words no longer apply.
  const answered = problem.body.code === error.code ? error : undefined;
  res.status(problem.status).type('application/problem+json').json(problemIn(answerLanguage(res), problem.body, answered));
}

/**
 * A problem body as a caller reading `language` gets it: the title by status, the detail by the
 * message of the error's key (else its code) in src/i18n/locales. The message interpolates the
 * error's translation values and the body's own facts (remainingToday, attemptsLeft, ...), so a
 * stored answer, which keeps only its body, reads in any language too. `code` and every other
 * member stay as they are; a message the catalogue lacks keeps the English detail.
 */
export function problemIn(language: Language, body: Record<string, unknown>, error?: DomainError): Record<string, unknown> {
  if (language === 'en') return body;
  const t = translatorFor(language);
  const code = String(body.code);
  const issues = error instanceof InvalidInput ? error.issuesIn(language) : undefined;
  const values = { ...factsOf(body), ...error?.translation.values, ...(issues ? { issues: issueListIn(language, issues) } : {}) };
  const keys = [`detail.${error?.translation.key ?? code}`, `detail.${code}`];
  return {
    ...body,
    title: t(`title.${body.status}`, { defaultValue: body.title }),
    detail: t(keys, { replace: values, defaultValue: body.detail }),
    ...(issues ? { issues } : {}),
  };
}

const factsOf = (body: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(body).filter((entry): entry is [string, string | number] => ['string', 'number'].includes(typeof entry[1])));

function issueListIn(language: Language, issues: readonly InputIssue[]): string {
  const t = translatorFor(language, 'validation');
  return issues.map(({ path, message }) => t('issue', { replace: { path: path || t('body'), message } })).join(t('separator'));
}

/** Body-parser failures carry a status and a type; everything unknown becomes a bare 500. */
function sendParserError(res: Parameters<RequestHandler>[1], error: { status?: number; type?: string }): boolean {
  if (error.type === 'entity.too.large') sendProblem(res, new DomainError('payload_too_large', 'The request body is too large'));
  else if (error.type === 'entity.parse.failed') sendProblem(res, badRequest('The request body is not valid JSON', {}, { key: 'invalid_request_json' }));
  else if (error.type === 'encoding.unsupported' || error.type === 'charset.unsupported') {
    sendProblem(res, new DomainError('unsupported_media_type', 'Send the body as UTF-8 JSON', {}, { key: 'unsupported_media_type_charset' }));
  } else if (typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
    sendProblem(res, badRequest('The request could not be read', {}, { key: 'invalid_request_unreadable' }), error.status);
  } else return false;
  return true;
}

export const problemHandler: ErrorRequestHandler = (error, req, res, _next) => {
  if (error instanceof DomainError) return sendProblem(res, error);
  if (sendParserError(res, error)) return;
  log.error({ err: error, method: req.method, path: req.path }, 'unhandled error');
  sendProblem(res, internalError());
};

export const routeNotFound: RequestHandler = (req, res) => {
  sendProblem(res, new DomainError('route_not_found', `No route ${req.method} ${req.path}`, {}, { values: { method: req.method, path: req.path } }));
};
