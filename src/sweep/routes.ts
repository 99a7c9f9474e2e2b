import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { parseBody, parsedString } from '../http/validate.ts';
import { parseYuan } from '../money/fen.ts';
import { setAutoSweep } from './service.ts';

const sweepSetting = z.strictObject({ enabled: z.boolean(), keep: parsedString(parseYuan), onArrival: z.boolean().default(false) });

export function sweepRoutes(_ctx: AppContext): Router {
  const router = Router();
  router.put('/v1/me/auto-sweep', async (req, res) => {
    const { enabled, keep, onArrival } = parseBody(sweepSetting, req);
    res.json(await setAutoSweep(principalOf(res).userId, { enabled, keepFen: keep, onArrival }));
  });
  return router;
}
