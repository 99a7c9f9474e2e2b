import mongoose, { Schema } from 'mongoose';
import type { AppContext } from '../context.ts';
import { newSortableId } from '../ids.ts';
import { log } from '../log.ts';
import { reserveReport } from '../reserve/service.ts';
import { reconcileJournal } from './service.ts';

/** What each scheduled reconciliation found, newest last: ops read the latest. */
const reconciliationReportSchema = new Schema(
  {
    _id: { type: String, required: true },
    at: { type: Date, required: true },
    balanced: { type: Boolean, required: true },
    accountsChecked: { type: Number, required: true },
    breaks: { type: [Schema.Types.Mixed], default: [] },
    unbalancedOperations: { type: [Schema.Types.Mixed], default: [] },
    reserveLowWater: { type: Boolean, required: true },
  },
  { versionKey: false, strict: 'throw' },
);
export const ReconciliationReport = mongoose.model('ReconciliationReport', reconciliationReportSchema, 'reconciliation_reports');

/**
 * The reconciliation job: every invariant of the journal and the reserve, with the breaks
 * logged as errors and kept for ops, and the reserve's low-water mark checked.
 */
export async function runReconciliation(ctx: AppContext) {
  const journal = await reconcileJournal();
  const reserve = await reserveReport(ctx);
  const report = {
    _id: newSortableId('rec'),
    at: ctx.clock.now(),
    balanced: journal.balanced,
    accountsChecked: journal.accountsChecked,
    breaks: journal.breaks,
    unbalancedOperations: journal.unbalancedOperations,
    reserveLowWater: reserve.lowWater,
  };
  await ReconciliationReport.create(report);
  if (!journal.balanced || journal.breaks.length > 0) {
    log.error({ breaks: journal.breaks.length, balanced: journal.balanced, unbalancedOperations: journal.unbalancedOperations.length }, 'reconciliation found breaks');
  }
  return report;
}

export async function latestReconciliation() {
  const [latest] = await ReconciliationReport.find().sort({ _id: -1 }).limit(1).lean();
  return latest ?? null;
}
