import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes } from '../http/openapi.ts';
import { instantText, yieldPer10kText, yuanText } from '../http/openapi/schemas.ts';
import { businessDate } from '../http/validate.ts';
import { fundDaySchema } from '../fund/routes.ts';
import { operationSchema } from '../operations/routes.ts';
import { EVENT_TYPES, HOLDER_EVENT_TYPES, type EventType } from './catalogue.ts';
import { anyType, holderPage, logPage, LOG_START, parseEventId, type TypeFilter } from './feed.ts';

const EVENTS_PER_PAGE_MAX = 500;

const eventsQuery = (types: readonly string[]) =>
  z.strictObject({
    after: z.string().max(240).optional().describe('The last event id read (a page\'s `next`); from the beginning when absent'),
    types: z
      .string()
      .max(2_000)
      .optional()
      .describe(`Only these types, comma-separated: ${types.join(', ')}`)
      .transform((text, check) => {
        const wanted = text?.split(',').map((type) => type.trim()).filter(Boolean);
        const unknown = wanted?.filter((type) => !types.includes(type));
        if (unknown?.length) check.addIssue({ code: 'custom', message: `unknown event types: ${unknown.join(', ')}` });
        return wanted;
      }),
    limit: z.coerce.number().int().min(1).max(EVENTS_PER_PAGE_MAX).default(100).describe('Events per page'),
  });

/** A security or ops event's facts: flat, and never a secret. */
const facts = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));

const incomeSchema = z
  .object({
    holderId: z.string(),
    fundCode: z.string(),
    date: businessDate,
    income: yuanText.describe('Credited for the day'),
    eligibleShares: yuanText.describe('The shares that earned it'),
    cumulativeIncome: yuanText,
    yieldPer10k: yieldPer10kText,
    sevenDayYieldCompoundPercent: z.string().nullable(),
  })
  .meta({ id: 'IncomeCredited' });

/** The object as it stands after the change: one member, named after what changed. */
const eventData = z
  .object({
    operation: operationSchema.optional().describe('Operation events (transfer_in, redemption, instant_redemption, payment, top_up, withdrawal, auto_sweep)'),
    income: incomeSchema.optional().describe('income.credited'),
    fundDay: fundDaySchema.optional().describe('fund_day.accrued'),
    paymentPassword: facts.optional().describe('payment_password.*'),
    previouslySet: z.boolean().optional().describe('payment_password.reset: whether a payment password was set before'),
    lockEndedAt: instantText.optional().describe('payment_password.unlocked: when the lock ended'),
    endedBy: z.enum(['time', 'reset']).optional().describe('payment_password.unlocked: its time ran out, or a reset lifted it'),
    session: facts.optional().describe('session.*'),
    reason: z.string().optional().describe('session.revoked: sign_out, sign_out_everywhere or payment_password_reset'),
    reserve: facts.optional().describe('reserve.*'),
    reconciliation: facts.optional().describe('reconciliation.break'),
    coverage: facts.optional().describe('calendar.coverage_ending'),
  })
  .describe('The object as it stands after the change');

export const eventSchema = z
  .object({
    id: z.string().describe('Sortable: later events have greater ids; the same id a webhook delivery carries'),
    type: z.enum(EVENT_TYPES),
    createdAt: instantText,
    holderId: z.string().nullable().describe('The holder it concerns; null for ops events'),
    data: eventData,
  })
  .meta({ id: 'Event' });

const eventPage = z.object({
  events: z.array(eventSchema),
  next: z.string().describe('Pass as `after` to read on; equal to `after` when nothing new has happened'),
});

const typeFilter = (types: string[] | undefined): TypeFilter => (types ? (type: EventType) => types.includes(type) : anyType);

/** The doc of a page of events; `types` are those the caller may ask for. */
const pageDoc = (operationId: string, summary: string, types: readonly string[]) => ({
  operationId,
  summary,
  query: eventsQuery(types),
  responses: { 200: { description: 'A page of events', body: eventPage } },
  problems: { invalid_cursor: 'after is not an event id this service gave out' },
});

const afterOf = (after: string | undefined) => (after ? parseEventId(after) : LOG_START);

export function eventRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Events', description: 'What happened, in order: the same events the webhooks send (docs/events.md).' });
  api.get('/v1/me/events', pageDoc('listMyEvents', 'My events, oldest first, after a cursor', HOLDER_EVENT_TYPES), async ({ query }, res) => {
    res.json(await holderPage(ctx, principalOf(res).userId, afterOf(query.after), query.limit, typeFilter(query.types)));
  });
  api.get('/v1/ops/events', pageDoc('listEvents', 'Every event, oldest first, after a cursor (ops)', EVENT_TYPES), async ({ query }, res) => {
    res.json(await logPage(afterOf(query.after), query.limit, typeFilter(query.types)));
  });
  return api.router;
}
