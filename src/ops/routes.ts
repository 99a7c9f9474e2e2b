import type { Router } from 'express';
import { z } from 'zod';
import { accountSchema } from '../accounts/routes.ts';
import { apiActor, audited } from '../audit/service.ts';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { requireFund } from '../fund/service.ts';
import { apiRoutes } from '../http/openapi.ts';
import { instantText } from '../http/openapi/schemas.ts';
import { incomeDay } from '../income/routes.ts';
import { operationSchema } from '../operations/routes.ts';
import { ALERT_KINDS, ALERT_LEVELS, currentAlerts, JOB_OVERDUE_MS } from '../dashboard/alerts.ts';
import { LOOKUP_INCOME_DAYS, LOOKUP_OPERATIONS_MAX, lookUpHolder } from './holderLookup.ts';

const alertSchema = z.object({
  kind: z.enum(ALERT_KINDS),
  level: z.enum(ALERT_LEVELS),
  reason: z
    .string()
    .describe(
      'Stable: reserve_ok, reserve_low, reserve_empty; reconciliation_clean, reconciliation_breaks, reconciliation_never_run; accrual_up_to_date, accrual_yesterday_pending, accrual_lagging; jobs_running, jobs_stalled, jobs_never_scheduled; calendar_known, calendar_ending, calendar_ended',
    ),
  values: z.record(z.string(), z.union([z.string(), z.number()])).describe('The figures the reason names (amounts in yuan as text)'),
  summary: z.string().describe('The reason in one English line'),
});

const lockState = z.object({
  locked: z.boolean(),
  lockedUntil: instantText.nullable().describe('When the lock lifts by itself'),
  wrongAttempts: z.number().int().describe('Wrong passwords since the last right one'),
  attemptsLeft: z.number().int(),
});

const holderSchema = z.object({
  userId: z.string(),
  loginId: z.string(),
  roles: z.array(z.string()),
  createdAt: instantText,
  account: accountSchema,
  operations: z.array(operationSchema).describe(`The latest ${LOOKUP_OPERATIONS_MAX}, newest first`),
  income: z.array(incomeDay).describe(`The last ${LOOKUP_INCOME_DAYS} days through today, newest first; days without income left out`),
  security: z.object({
    paymentPasswordSet: z.boolean(),
    payment: lockState.describe('The payment password'),
    login: lockState.describe('The login password'),
    liveSessions: z.number().int().describe('Sessions neither signed out nor expired'),
  }),
});

/** Ops only (the app mounts /v1/ops behind the ops role): what the dashboard's tiles and holder look-up read. */
export function opsDeskRoutes(ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Ops desk', description: 'What needs attention now, and one holder as support staff see them (ops).' });
  api.get(
    '/v1/ops/alerts',
    {
      operationId: 'listAlerts',
      summary: 'The reserve, the latest reconciliation, the accrual, the recurring jobs and the holiday schedule: ok, warning or critical, with the reason',
      description: `A recurring job is stalled when its next run is more than ${JOB_OVERDUE_MS / 60_000} minutes past. The accrual alert is the fund furthest behind, or the fund asked.`,
      query: z.strictObject({ fundCode: z.string().max(64).optional().describe('Only this fund\'s accrual') }),
      responses: { 200: { description: 'One alert per kind, in a fixed order', body: z.object({ alerts: z.array(alertSchema) }) } },
      problems: { unknown_fund: 'no such fund' },
    },
    async ({ query }, res) => {
      if (query.fundCode !== undefined) requireFund(ctx, query.fundCode);
      res.json({ alerts: await currentAlerts(ctx, query.fundCode) });
    },
  );
  api.get(
    '/v1/ops/holders/:holder',
    {
      operationId: 'lookUpHolder',
      summary: 'One holder for support: account, latest operations and income, payment and sign-in locks, live sessions',
      description: 'Found by user id first, then by login id. Reads only: a lock past its end shows as lifted.',
      params: z.object({ holder: z.string().min(1).max(64).meta({ description: 'A user id or a login id', examples: ['alice'] }) }),
      responses: { 200: { description: 'The holder', body: holderSchema } },
      problems: { not_found: 'no user with this id or login id' },
    },
    async ({ params }, res) => {
      // Support reading a holder's data is on the record, as every ops action is.
      const actor = await apiActor(principalOf(res).userId);
      res.json(await audited(ctx, { actor, action: 'holder.lookup', target: params.holder }, () => lookUpHolder(ctx, params.holder), (found) => ({ result: { userId: found.userId } })));
    },
  );
  return api.router;
}
