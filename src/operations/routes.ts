import { Router } from 'express';
import { reconcileJournal } from './reconciliation.ts';

/** Ops only (the app mounts it behind the ops role). */
export function opsRoutes(): Router {
  const router = Router();
  router.get('/v1/ops/reconciliation', async (_req, res) => {
    res.json(await reconcileJournal());
  });
  return router;
}
