import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { apiRoutes } from '../http/openapi.ts';
import { instantText } from '../http/openapi/schemas.ts';
import { businessDate } from '../http/validate.ts';
import { AUDIT_ACTIONS, AUDIT_OUTCOMES } from './model.ts';
import { listAudit } from './service.ts';

const PAGE_SIZE_MAX = 100;
const auditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(PAGE_SIZE_MAX).default(20).describe('Entries per page'),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page, asked with the same filters'),
  actor: z.string().min(1).max(200).optional().describe('Only what this user did: a user id, a login id, or os:<name> (the CLI run without an ops login)'),
  action: z.enum(AUDIT_ACTIONS).optional().describe('Only this action'),
  from: businessDate.optional().describe('Only entries on this day (Beijing time) or later'),
  to: businessDate.optional().describe('Only entries on this day (Beijing time) or earlier'),
});

/** What the audit keeps of a request and a result: flat facts, never a secret (no tokens, no passwords). */
const facts = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));

export const auditEntrySchema = z
  .object({
    id: z.string(),
    at: instantText.describe('When the action began'),
    actor: z.object({
      userId: z.string().describe('A user id, or os:<name> for the CLI run by the holder of the database without an ops login'),
      loginId: z.string().nullable(),
      via: z.enum(['api', 'cli']),
    }),
    action: z.enum(AUDIT_ACTIONS),
    target: z.string().describe('What it acted on: "YEB001 2024-06-03", a fund code, a login id, a date'),
    request: facts.describe('What was asked'),
    outcome: z.enum([...AUDIT_OUTCOMES, 'unknown']).describe('unknown: the process stopped before recording how it ended; look at the target'),
    code: z.string().nullable().describe('The problem code of a refusal or failure'),
    detail: z.string().nullable(),
    result: facts.nullable().describe('What it did, in short'),
    settledAt: instantText.nullable(),
  })
  .meta({ id: 'AuditEntry' });

/** Ops only (the app mounts /v1/ops behind the ops role). */
export function auditRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Audit', description: 'Every ops action: who did it, when, what and how it ended (docs/ops-audit.md).' });
  api.get(
    '/v1/ops/audit',
    {
      operationId: 'listAudit',
      summary: 'The ops audit, newest first',
      query: auditQuery,
      responses: { 200: { description: 'A page of entries', body: z.object({ items: z.array(auditEntrySchema), nextCursor: z.string().nullable() }) } },
      problems: { invalid_cursor: 'the cursor is not one this service gave out', invalid_request: 'an unknown action, a malformed date, or from after to' },
    },
    async ({ query }, res) => {
      const { limit, cursor, ...filter } = query;
      res.json(await listAudit(ctx, filter, limit, cursor));
    },
  );
  return api.router;
}
