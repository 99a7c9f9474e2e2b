import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { parseBody } from '../http/validate.ts';
import { parseYuan } from '../money/fen.ts';
import { setAutoSweep } from './service.ts';

const keepYuan = z.string().max(24).transform((text, context) => {
  try {
    return parseYuan(text);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});
const sweepSetting = z.strictObject({ enabled: z.boolean(), keep: keepYuan, onArrival: z.boolean().default(false) });

export function sweepRoutes(_ctx: AppContext): Router {
  const router = Router();
  router.put('/v1/me/auto-sweep', async (req, res) => {
    const { enabled, keep, onArrival } = parseBody(sweepSetting, req);
    res.json(await setAutoSweep(principalOf(res).userId, { enabled, keepFen: keep, onArrival }));
  });
  return router;
}
