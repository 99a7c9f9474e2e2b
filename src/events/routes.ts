import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes } from '../http/openapi.ts';
import { instantText } from '../http/openapi/schemas.ts';
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

export const eventSchema = z
  .object({
    id: z.string().describe('Sortable: later events have greater ids; the same id a webhook delivery carries'),
    type: z.enum(EVENT_TYPES),
    createdAt: instantText,
    holderId: z.string().nullable().describe('The holder it concerns; null for ops events'),
    data: z.record(z.string(), z.unknown()).describe('The object as it stands after the change: `operation`, `income`, `fundDay`, ...'),
  })
  .meta({ id: 'Event' });

const eventPage = z.object({
  events: z.array(eventSchema),
  next: z.string().describe('Pass as `after` to read on; equal to `after` when nothing new has happened'),
});

const typeFilter = (types: string[] | undefined): TypeFilter => (types ? (type: EventType) => types.includes(type) : anyType);

export function eventRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Events', description: 'What happened, in order: the same events the webhooks send (docs/events.md).' });
  api.get(
    '/v1/me/events',
    {
      operationId: 'listMyEvents',
      summary: 'My events, oldest first, after a cursor',
      query: eventsQuery(HOLDER_EVENT_TYPES),
      responses: { 200: { description: 'A page of events', body: eventPage } },
      problems: { invalid_cursor: 'after is not an event id this service gave out' },
    },
    async ({ query }, res) => {
      const after = query.after ? parseEventId(query.after) : LOG_START;
      const page = await holderPage(ctx, principalOf(res).userId, after, query.limit, typeFilter(query.types));
      res.json(page);
    },
  );
  api.get(
    '/v1/ops/events',
    {
      operationId: 'listEvents',
      summary: 'Every event, oldest first, after a cursor (ops)',
      query: eventsQuery(EVENT_TYPES),
      responses: { 200: { description: 'A page of events', body: eventPage } },
      problems: { invalid_cursor: 'after is not an event id this service gave out' },
    },
    async ({ query }, res) => {
      const page = await logPage(query.after ? parseEventId(query.after) : LOG_START, query.limit, typeFilter(query.types));
      res.json(page);
    },
  );
  return api.router;
}
