import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { TestClock } from '../calendar/clock.ts';
import type { AppContext } from '../context.ts';
import { DomainError } from '../errors.ts';
import { apiActor, audited } from '../audit/service.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes } from '../http/openapi.ts';
import { sendProblem } from '../http/problem.ts';
import { CLOCK_MOVE_DAYS_MAX, clockMoveRequest } from './clockMove.ts';
import { moveTestClock, testClockView } from './service.ts';

const CLOCK_PATH = '/v1/ops/sandbox/clock';


const clockSchema = z
  .object({
    now: z.string().describe('The test clock, UTC'),
    local: z.string().describe('The test clock in the business zone, yyyy-MM-ddTHH:mm:ss'),
    zone: z.string(),
    businessDate: z.string(),
    tradingDay: z.boolean(),
    tradeDate: z.string().describe('The trade date of a request made now'),
    offsetMs: z.number().int().describe('How far the test clock runs ahead of real time'),
  })
  .meta({ id: 'SandboxClock' });

const dueWorkSchema = z.object({
  yieldsPublished: z.array(z.object({ fundCode: z.string(), date: z.string(), yieldPer10k: z.string() })).describe('The 万份收益 the sandbox published for the days the clock passed'),
  confirmed: z.number().int(),
  settled: z.number().int(),
  accrued: z.array(z.object({ fundCode: z.string(), dates: z.array(z.string()) })),
  swept: z.number().int().nullable().describe('Holders swept, when the clock passed the morning sweep; else null'),
});

/**
 * The sandbox's test clock (ops only, as all of /v1/ops). Outside the sandbox (`npm start`,
 * production) the clock is real time and the routes answer 404 sandbox_only: the resource does
 * not exist there, whatever the caller's role, so not 403.
 */
export function sandboxRoutes(ctx: AppContext): Router {
  const clock = ctx.clock;
  if (!(clock instanceof TestClock)) return Router().use('/v1/ops/sandbox', sandboxOnly);
  const api = apiRoutes({ name: 'Sandbox', description: 'The test clock of the sandbox (`npm run sandbox`): not in production.' });
  api.get(
    CLOCK_PATH,
    { operationId: 'getSandboxClock', summary: 'Where the test clock stands', responses: { 200: { description: 'The test clock', body: clockSchema } } },
    async (_input, res) => {
      res.json(testClockView(ctx, clock));
    },
  );
  api.post(
    CLOCK_PATH,
    {
      operationId: 'moveSandboxClock',
      summary: 'Move the test clock forward; what fell due runs before the answer',
      body: clockMoveRequest,
      responses: { 200: { description: 'The clock moved and the work that fell due', body: clockSchema.extend({ ran: dueWorkSchema }) } },
      problems: { clock_not_forward: 'the target is not after the clock', clock_move_too_far: `more than ${CLOCK_MOVE_DAYS_MAX} days ahead` },
    },
    async ({ body }, res) => {
      const actor = await apiActor(principalOf(res).userId);
      const moved = await audited(ctx, { actor, action: 'sandbox.clock', target: 'clock', request: body }, () => moveTestClock(ctx, clock, body), (answer) => ({
        result: { now: answer.now },
      }));
      res.json(moved);
    },
  );
  return api.router;
}

const sandboxOnly: RequestHandler = (_req, res) => {
  sendProblem(res, new DomainError('sandbox_only', 'The test clock exists only in the sandbox (npm run sandbox); this service runs on real time'));
};
