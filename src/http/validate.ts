import type { Request } from 'express';
import { z } from 'zod';
import { isBusinessDate } from '../calendar/businessDate.ts';
import { parsePositiveYuan, parseYuan, type Fen } from '../money/fen.ts';
import { parseYieldPer10k } from '../money/yield.ts';
import { DomainError } from '../errors.ts';
import { ZOD_LOCALES, translatorFor, type Language } from '../i18n/i18n.ts';

/**
 * A JSON string read by a strict parser: what the parser refuses becomes the issue's message.
 * The parser is the only rule. `meta` documents the string it reads (a pattern, an example:
 * test/api/openapi.test.ts checks the pattern against the parser); it sits on the string,
 * as the OpenAPI document shows a request's input, and zod drops examples of a transform's.
 */
export function parsedString<T>(parse: (text: string) => T, lengthMax = 24, meta: z.GlobalMeta = {}) {
  return z.string().max(lengthMax).meta(meta).transform((text, context): T => {
    try {
      return parse(text);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

// The patterns below document src/money's parsers for clients (ECMAScript regex, as JSON Schema reads them).
const YUAN_PATTERN = '^(0|[1-9]\\d{0,14})(\\.\\d{1,2})?$';

/** A money amount in yuan as a JSON string, "1234.56": refuses numbers, signs, exponents, 3 decimals. */
export const amountYuan = parsedString<Fen>(parsePositiveYuan, 24, {
  id: 'AmountYuan',
  description: 'Yuan greater than zero, as a string: at most 2 decimals, no sign, exponent, spaces or leading zeros, at most 15 integer digits',
  pattern: '^(?!0(\\.0{1,2})?$)(0|[1-9]\\d{0,14})(\\.\\d{1,2})?$',
  examples: ['1234.56'],
});

/** As amountYuan, and zero is allowed: an amount to keep rather than to move. */
export const yuanOrZero = parsedString<Fen>(parseYuan, 24, {
  id: 'YuanOrZero',
  description: 'Yuan, zero allowed, as a string: at most 2 decimals, no sign, exponent, spaces or leading zeros',
  pattern: YUAN_PATTERN,
  examples: ['0', '500.00'],
});

/** A 万份收益: yuan earned per 10,000 shares in a day, 4 decimals at most, zero or negative allowed. */
export const yieldPer10k = parsedString(parseYieldPer10k, 16, {
  id: 'YieldPer10k',
  description: '万份收益: yuan earned per 10,000 shares that day, as a string with at most 4 decimals; zero and negative allowed, within ±9999.9999',
  pattern: '^-?(0|[1-9]\\d{0,3})(\\.\\d{1,4})?$',
  examples: ['0.4123', '-0.0500'],
});

export const businessDate = z.string().refine(isBusinessDate, 'expected a yyyy-MM-dd date').meta({
  id: 'BusinessDate',
  description: 'A calendar day in Asia/Shanghai, yyyy-MM-dd',
  format: 'date',
  pattern: '^\\d{4}-\\d{2}-\\d{2}$',
  examples: ['2024-06-03'],
});
export const dateRangeQuery = z.strictObject({
  from: businessDate.describe('The first day, included'),
  to: businessDate.describe('The last day, included'),
});

export const paymentPassword = z
  .string()
  .regex(/^\d{6}$/, 'a payment password is exactly 6 digits')
  .meta({ description: 'The 6-digit payment password', format: 'password', examples: ['135790'] });
export const identifier = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only')
  .meta({ id: 'Identifier', description: 'An id this service gave out (or a fund code)' });

/** Strict schemas refuse unknown fields; every issue is listed with its path. */
export function parseBody<T extends z.ZodType>(schema: T, req: Request): z.output<T> {
  if (!req.is('application/json')) {
    throw new DomainError('unsupported_media_type', 'Send the body as application/json');
  }
  return parseWith(schema, req.body ?? {});
}

export function parseQuery<T extends z.ZodType>(schema: T, req: Request): z.output<T> {
  return parseWith(schema, req.query);
}

/** Any input (path parameters, a header): a failure is a 400 listing each issue. */
export function parseWith<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  refuseControlCharacters(input);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  // Only a caller reading another language has the input read again, with zod's messages in it.
  const rereadIn = (language: Language) => issuesOf(schema.safeParse(input, { error: ZOD_LOCALES[language]().localeError }).error);
  throw new InvalidInput(issuesOf(result.error), rereadIn);
}

/** One thing wrong with the input: where (a dotted path, '' for the body itself) and what. */
export interface InputIssue {
  path: string;
  message: string;
}

const issuesOf = (error: z.ZodError | undefined): InputIssue[] =>
  (error?.issues ?? []).map((issue) => ({ path: issue.path.join('.'), message: issue.message }));

/**
 * A 400 listing each issue with its path. In another language, zod's own messages come from its
 * locale for that language and this service's (a parser's, a refinement's) from the catalogue's
 * `validation` namespace, keyed by their English; the paths, field names, stay as sent.
 */
export class InvalidInput extends DomainError {
  constructor(
    readonly issues: readonly InputIssue[],
    private readonly rereadIn: (language: Language) => readonly InputIssue[] = () => issues,
  ) {
    const list = issues.map((issue) => `${issue.path || '(body)'}: ${issue.message}`).join('; ');
    super('invalid_request', `Invalid request: ${list}`, { issues }, { key: 'invalid_request_validation' });
  }

  issuesIn(language: Language): InputIssue[] {
    const t = translatorFor(language, 'validation');
    // The English messages are keys: their dots and colons are no key or namespace separators.
    const translated = (message: string) => t(message, { keySeparator: false, nsSeparator: false, defaultValue: message });
    return this.rereadIn(language).map(({ path, message }) => ({ path, message: translated(message) }));
  }
}

// C0 controls and DEL. PostgreSQL (under FerretDB) refuses NUL in a string, so a NUL that
// reached a query was a 500; and no id, name or password this service keeps needs any of them.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * Every input is read here before its schema: a control character in any string or field
 * name, however deep, is a 400 naming where it is, so no route can forget the rule.
 */
function refuseControlCharacters(input: unknown, path: string[] = []): void {
  if (typeof input === 'string') {
    if (CONTROL_CHARACTER.test(input)) throw controlCharacterAt(path);
    return;
  }
  if (typeof input !== 'object' || input === null) return;
  for (const [key, value] of Object.entries(input)) {
    if (CONTROL_CHARACTER.test(key)) throw controlCharacterAt(path);
    refuseControlCharacters(value, [...path, key]);
  }
}

const controlCharacterAt = (path: string[]) => new InvalidInput([{ path: path.join('.'), message: 'control characters (such as NUL) are not allowed' }]);
