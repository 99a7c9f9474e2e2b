/**
 * The fund's day by day: what ops publish and the accrual fixed (万份收益, 7-day yields,
 * AUM, holders, income, residual) beside the day's flows by trade date. Every read is an
 * equality lookup: fund days by id, operations by { type, tradeDate, fundCode }.
 */
import { addCalendarDays } from '../calendar/businessDate.ts';
import type { AppContext } from '../context.ts';
import { FundDay, fundDayId, type FundDayDocument } from '../fund/model.ts';
import { countsInYield, datesInRange, fundDayView } from '../fund/service.ts';
import { notFound } from '../errors.ts';
import { formatYuan, sumFen, type Fen } from '../money/fen.ts';
import { sevenDayYield } from '../money/yield.ts';
import { Operation, type OperationDocument, type OperationStatus, type OperationType } from '../operations/model.ts';
import type { CsvTable } from './csv.ts';
import type { ReportRange } from './range.ts';

const OUTFLOW_TYPES = ['redemption', 'instant_redemption', 'payment'] as const satisfies OperationType[];
const FLOW_TYPES: OperationType[] = ['transfer_in', ...OUTFLOW_TYPES];
/** Accepted: the money moved into the fund or out of shares. Pending is still in flight; failed moved nothing. */
const ACCEPTED: OperationStatus[] = ['awaiting_confirmation', 'awaiting_settlement', 'completed'];
const YIELD_WINDOW_DAYS = 7;

type Flow = Pick<OperationDocument, 'type' | 'status' | 'amountFen'>;

export async function fundDailyReport(ctx: AppContext, fundCode: string, range: ReportRange) {
  if (!ctx.config.funds.some((fund) => fund.code === fundCode)) throw notFound(`Fund ${fundCode}`, { key: 'not_found_fund', values: { fundCode } });
  const [days, flows] = await Promise.all([fundDaysWithWindow(ctx, fundCode, range), Promise.all(range.dates.map((date) => flowsOf(fundCode, date)))]);
  return {
    fundCode,
    from: range.from,
    to: range.to,
    days: range.dates.map((date, index) => ({ ...dayFigures(date, days), ...flowFigures(flows[index]!) })),
  };
}

export type FundDailyReport = Awaited<ReturnType<typeof fundDailyReport>>;

/** The range's fund days and the 6 before it, which the first days' 7-day yields need. */
async function fundDaysWithWindow(ctx: AppContext, fundCode: string, range: ReportRange): Promise<Map<string, FundDayDocument>> {
  const dates = datesInRange(ctx, ctx.calendar.addCalendarDays(range.from, 1 - YIELD_WINDOW_DAYS), range.to, range.dates.length + YIELD_WINDOW_DAYS);
  const found = await Promise.all(dates.map((date) => FundDay.findById(fundDayId(fundCode, date)).lean<FundDayDocument>()));
  return new Map(found.filter((day) => day !== null).map((day) => [day.date, day]));
}

function dayFigures(date: string, days: Map<string, FundDayDocument>) {
  const day = days.get(date);
  if (!day) return { date, ...NOT_PUBLISHED };
  const view = fundDayView(day);
  const yields = day.status === 'accrued' ? { compound: view.sevenDayYieldCompoundPercent, simple: view.sevenDayYieldSimplePercent } : provisionalYields(date, days);
  return {
    date,
    yieldPer10k: view.yieldPer10k,
    sevenDayYieldCompoundPercent: yields.compound,
    sevenDayYieldSimplePercent: yields.simple,
    // The shares held at the end of the day as the accrual counted them, plus the income it credited.
    aum: day.status === 'accrued' ? formatYuan(BigInt(day.eligibleSharesFen!) + BigInt(day.distributedFen!)) : null,
    eligibleShares: view.eligibleShares,
    holders: view.holders,
    incomeDistributed: view.incomeDistributed,
    residual: view.residual,
    accrualStatus: day.status,
  };
}

const NOT_PUBLISHED = {
  yieldPer10k: null,
  sevenDayYieldCompoundPercent: null,
  sevenDayYieldSimplePercent: null,
  aum: null,
  eligibleShares: null,
  holders: null,
  incomeDistributed: null,
  residual: null,
  accrualStatus: 'missing',
} as const;

/** A day published but not accrued yet: its 7-day yields as the accrual will fix them, from the days published so far. */
function provisionalYields(date: string, days: Map<string, FundDayDocument>) {
  const window = Array.from({ length: YIELD_WINDOW_DAYS }, (_, index) => addCalendarDays(date, index + 1 - YIELD_WINDOW_DAYS));
  const rates = window.flatMap((day) => (days.has(day) && countsInYield(days.get(day)!) ? [days.get(day)!.yieldPer10k] : []));
  return { compound: sevenDayYield(rates, 'compound'), simple: sevenDayYield(rates, 'simple') };
}

/** The fund's subscriptions and redemptions with this trade date (T). */
async function flowsOf(fundCode: string, tradeDate: string): Promise<Flow[]> {
  return Operation.find({ type: { $in: FLOW_TYPES }, tradeDate, fundCode }, { type: 1, status: 1, amountFen: 1 }).lean<Flow[]>();
}

function flowFigures(flows: Flow[]) {
  const accepted = flows.filter((flow) => ACCEPTED.includes(flow.status));
  const amountOf = (types: readonly OperationType[]) => sumFen(accepted.filter((flow) => types.includes(flow.type)).map((flow) => flow.amountFen));
  const countOf = (types: readonly OperationType[]) => accepted.filter((flow) => types.includes(flow.type)).length;
  const subscriptionsFen: Fen = amountOf(['transfer_in']);
  const redemptionsFen: Fen = amountOf(OUTFLOW_TYPES);
  return {
    subscriptions: formatYuan(subscriptionsFen),
    subscriptionCount: countOf(['transfer_in']),
    redemptions: formatYuan(redemptionsFen),
    redemptionCount: countOf(OUTFLOW_TYPES),
    normalRedemptions: formatYuan(amountOf(['redemption'])),
    instantRedemptions: formatYuan(amountOf(['instant_redemption'])),
    payments: formatYuan(amountOf(['payment'])),
    netFlow: formatYuan(subscriptionsFen - redemptionsFen),
  };
}

const COLUMNS = [
  'date',
  'yieldPer10k',
  'sevenDayYieldCompoundPercent',
  'sevenDayYieldSimplePercent',
  'aum',
  'holders',
  'subscriptions',
  'redemptions',
  'incomeDistributed',
  'residual',
  'accrualStatus',
  'eligibleShares',
  'subscriptionCount',
  'redemptionCount',
  'normalRedemptions',
  'instantRedemptions',
  'payments',
  'netFlow',
] as const;

export function fundDailyCsv(report: FundDailyReport): CsvTable {
  return { filename: `fund-${report.fundCode}-daily-${report.from}-to-${report.to}.csv`, columns: COLUMNS, rows: report.days };
}
