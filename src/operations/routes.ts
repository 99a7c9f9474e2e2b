import { Router } from 'express';
import { reconcileJournal } from './reconciliation.ts';
import { latestReconciliation } from './reconciliationJob.ts';

/** Ops only (the app mounts it behind the ops role). */
export function opsRoutes(): Router {
  const router = Router();
  router.get('/v1/ops/reconciliation', async (_req, res) => {
    res.json(await reconcileJournal());
  });
  // What the scheduled reconciliation found last (null before its first run).
  router.get('/v1/ops/reconciliation/latest', async (_req, res) => {
    res.json({ report: await latestReconciliation() });
  });
  return router;
}
