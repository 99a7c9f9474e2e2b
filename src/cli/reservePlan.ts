import { SingleBar } from 'cli-progress';
import type { AppContext } from '../context.ts';
import { parseWith } from '../http/validate.ts';
import { sendLogsTo } from '../log.ts';
import { formatYuan } from '../money/fen.ts';
import { FLOW_CSV_AMOUNT_COLUMNS, FLOW_CSV_COUNT_COLUMNS } from '../planning/csv.ts';
import { FLOW_CHANNELS, type DailyFlow } from '../planning/flows.ts';
import { reservePlan } from '../planning/plan.ts';
import { planQuery } from '../planning/routes.ts';
import { syntheticHistory } from '../planning/synthetic.ts';
import { planView } from '../planning/view.ts';

export interface PlanOptions {
  /** As typed: the route's query schema reads them. */
  days?: string | number;
  serviceLevel?: string;
  scenario?: string;
}

/**
 * `reserve plan`: the plan as GET /v1/ops/reserve/plan answers it, with a bar on stderr while
 * the simulations run (a year of history replayed for each candidate size takes seconds).
 */
export async function planWithProgress(ctx: AppContext, options: PlanOptions) {
  const query = parseWith(planQuery, { days: options.days === undefined ? undefined : String(options.days), serviceLevel: options.serviceLevel, scenario: options.scenario });
  const bar = new SingleBar({ format: 'reserve plan [{bar}] {percentage}%, {eta}s left', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 2_000 });
  bar.start(100, 0);
  const logSink = sendLogsTo({ write: () => undefined }); // the plan's answer says what the logs would
  try {
    const plan = await reservePlan(ctx, { days: query.days, serviceLevelPercent: query.serviceLevel, scenario: query.scenario }, (share) => bar.update(Math.floor(share * 100)));
    bar.update(100);
    return planView(plan);
  } finally {
    bar.stop();
    sendLogsTo(logSink);
  }
}

/** A synthetic history as the CSV `reserve import-flows` reads (docs/reserve-forecast.md). */
export function syntheticFlowsCsv(ctx: AppContext, options: { from: string; days: number; seed: number }): string {
  const days = syntheticHistory({ fromDate: options.from, days: options.days, seed: options.seed, calendar: ctx.calendar });
  return flowsCsv(days);
}

function flowsCsv(days: DailyFlow[]): string {
  const header = ['date', ...FLOW_CSV_AMOUNT_COLUMNS, ...FLOW_CSV_COUNT_COLUMNS];
  const rows = days.map((day) => [day.date, ...FLOW_CHANNELS.map((channel) => formatYuan(day.totalsFen[channel])), ...FLOW_CHANNELS.map((channel) => String(day.counts[channel]))]);
  return [header, ...rows].map((row) => row.join(',')).join('\n') + '\n';
}
