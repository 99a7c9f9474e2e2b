import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { apiRoutes } from '../http/openapi.ts';
import { yuanText } from '../http/openapi/schemas.ts';
import { yuanOrZero } from '../http/validate.ts';
import { setAutoSweep } from './service.ts';

const sweepSetting = z.strictObject({
  enabled: z.boolean(),
  keep: yuanOrZero.describe('What stays in the wallet: the rest is swept into the fund'),
  onArrival: z.boolean().default(false).describe('Also sweep each top-up as it lands'),
});

export function sweepRoutes(_ctx: AppContext): Router {
  const api = apiRoutes({ name: 'Auto-sweep', description: 'Auto-sweep (余额自动转入): the wallet\'s balance above a kept amount moves into the fund by itself.' });
  api.put(
    '/v1/me/auto-sweep',
    {
      operationId: 'setAutoSweep',
      summary: 'Switch auto-sweep (余额自动转入) on or off',
      description: 'Every morning (06:00 Beijing time) the wallet above `keep` moves into the fund as a normal transfer-in.',
      body: sweepSetting,
      responses: { 200: { description: 'The setting now', body: z.object({ enabled: z.boolean(), keep: yuanText, onArrival: z.boolean() }) } },
    },
    async ({ body: { enabled, keep, onArrival } }, res) => {
      res.json(await setAutoSweep(principalOf(res).userId, { enabled, keepFen: keep, onArrival }));
    },
  );
  return api.router;
}
