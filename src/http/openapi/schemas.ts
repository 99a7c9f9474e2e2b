import { z } from 'zod';
import { businessDate } from '../validate.ts';

// Shapes of what the service answers, shared by several modules' routes. They only document
// (requests are parsed by src/http/validate.ts); test/api/openapi.test.ts checks real answers
// against the document built from them.

export const yuanText = z
  .string()
  .regex(/^-?\d+\.\d{2}$/)
  .meta({ id: 'Yuan', description: 'Yuan as a string with exactly 2 decimals (negative only for a loss)', examples: ['1234.56'] });

/** Exact sub-fen figures (a residual, an exact income): yuan with 10 decimals. */
export const exactYuanText = z
  .string()
  .regex(/^-?\d+\.\d{10}$/)
  .meta({ id: 'ExactYuan', description: 'Yuan as a string with exactly 10 decimals: an exact figure, before truncation to the fen', examples: ['0.0050012345'] });

export const yieldPer10kText = z
  .string()
  .regex(/^-?\d+\.\d{4}$/)
  .meta({ id: 'YieldPer10kText', description: '万份收益: yuan earned per 10,000 shares that day, 4 decimals', examples: ['0.4123'] });

export const instantText = z.iso.datetime().meta({ id: 'Instant', description: 'An instant, ISO 8601 in UTC', examples: ['2024-06-03T07:00:00.000Z'] });

const alternative = z
  .object({
    method: z.literal('POST'),
    path: z.literal('/v1/me/redemptions'),
    channel: z.literal('wallet'),
    amount: yuanText,
    settleDate: businessDate,
  })
  .describe('reserve_exhausted: the normal redemption that would pay the same amount, and when');

/** What src/http/problem.ts sends: RFC 9457 members, the stable code, and members some codes add. */
export const problemSchema = z
  .object({
    type: z.string().meta({ format: 'uri', examples: ['https://moneyfund.example/problems/insufficient_balance'] }),
    title: z.string().meta({ description: 'The HTTP status phrase', examples: ['Conflict'] }),
    status: z.number().int().meta({ examples: [409] }),
    code: z.string().meta({ description: 'Stable and machine-readable: branch on this', examples: ['insufficient_balance'] }),
    detail: z.string().meta({ description: 'What happened and what to do, for people' }),
    issues: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('invalid_request: each field that failed, by its path ("" for the whole body)'),
    operationId: z.string().optional().describe('A refused money request: the failed operation in the history; request_in_progress: the one running'),
    attemptsLeft: z.number().int().optional().describe('payment_password_wrong: wrong attempts left before payments lock'),
    lockedUntil: instantText.optional().describe('payment_locked, login_locked: when the lock lifts by itself'),
    alternative: alternative.optional(),
    remainingToday: yuanText.optional().describe('instant_daily_limit_exceeded, transfer_in_daily_limit_exceeded: what is left of the daily maximum today (Beijing time), also in detail'),
    retryAfterSeconds: z.number().int().optional().describe('rate_limited, password_checks_busy, plans_busy: when to try again (also the Retry-After header)'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details, served as application/problem+json' });
