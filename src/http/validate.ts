import type { Request } from 'express';
import { z } from 'zod';
import { isBusinessDate } from '../calendar/businessDate.ts';
import { parsePositiveYuan, type Fen } from '../money/fen.ts';
import { badRequest, DomainError } from './problem.ts';

/** A JSON string read by a strict parser: what the parser refuses becomes the issue's message. */
export function parsedString<T>(parse: (text: string) => T, lengthMax = 24) {
  return z.string().max(lengthMax).transform((text, context): T => {
    try {
      return parse(text);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

/** A money amount in yuan as a JSON string, "1234.56": refuses numbers, signs, exponents, 3 decimals. */
export const amountYuan = parsedString<Fen>(parsePositiveYuan);

export const businessDate = z.string().refine(isBusinessDate, 'expected a yyyy-MM-dd date');
export const dateRangeQuery = z.strictObject({ from: businessDate, to: businessDate });

/** A yyyy-MM-dd path parameter. */
export function dateParam(value: unknown): string {
  if (!isBusinessDate(value)) throw badRequest('The date must be yyyy-MM-dd');
  return value;
}

export const paymentPassword = z.string().regex(/^\d{6}$/, 'a payment password is exactly 6 digits');
export const identifier = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');

/** Strict schemas refuse unknown fields; every issue is listed with its path. */
export function parseBody<T extends z.ZodType>(schema: T, req: Request): z.output<T> {
  if (!req.is('application/json')) {
    throw new DomainError('unsupported_media_type', 415, 'Send the body as application/json');
  }
  return parseWith(schema, req.body ?? {});
}

export function parseQuery<T extends z.ZodType>(schema: T, req: Request): z.output<T> {
  return parseWith(schema, req.query);
}

function parseWith<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  throw badRequest(`Invalid request: ${issues.map((issue) => `${issue.path || '(body)'}: ${issue.message}`).join('; ')}`, {
    issues,
  });
}
