import mongoose, { Schema } from 'mongoose';
import { observeAlert } from '../alertStates/service.ts';
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
  const broken = !journal.balanced || journal.breaks.length > 0 || journal.unbalancedOperations.length > 0;
  if (broken) {
    log.error({ breaks: journal.breaks.length, balanced: journal.balanced, unbalancedOperations: journal.unbalancedOperations.length }, 'reconciliation found breaks');
  }
  await observeAlert(RECONCILIATION_ALERT_KEY, broken, { firing: 'reconciliation.break' }, report.at, { reconciliation: reconciliationSummary(report) });
  return report;
}

/**
 * `reconciliation.break`: filed by the first run that finds breaks after a clean one (the
 * alert's state moves then), not by every run while they last; a clean run rearms it.
 */
export const RECONCILIATION_ALERT_KEY = 'reconciliation:breaks';

const reconciliationSummary = (report: { _id: string; at: Date; balanced: boolean; breaks: unknown[]; unbalancedOperations: unknown[] }) => ({
  id: report._id,
  at: report.at.toISOString(),
  balanced: report.balanced,
  breaks: report.breaks.length,
  unbalancedOperations: report.unbalancedOperations.length,
});

export async function latestReconciliation() {
  const [latest] = await ReconciliationReport.find().sort({ _id: -1 }).limit(1).lean();
  return latest ?? null;
}
