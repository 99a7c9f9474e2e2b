import { findAccount } from '../accounts/service.ts';
import type { AppContext } from '../context.ts';
import { FundDay, fundDayId, type FundDayDocument } from '../fund/model.ts';
import { datesInRange } from '../fund/service.ts';
import { formatYuan } from '../money/fen.ts';
import { formatScaled } from '../money/rounding.ts';
import { dailyIncomeFen, FEN8_PER_FEN, formatYieldPer10k } from '../money/yield.ts';
import { Operation, type OperationDocument } from '../operations/model.ts';
import { IncomeRecord, fundOfBookKey, incomeRecordId, type IncomeRecordDocument } from './model.ts';

interface Reason {
  code: string;
  detail: string;
}

/**
 * Why a holder was credited what it was for one day: the eligible shares, the 万份收益,
 * the exact product, the amount credited and each rule that shaped it.
 */
export async function explainIncome(ctx: AppContext, userId: string, date: string) {
  const account = await findAccount(userId);
  const record = await IncomeRecord.findById(incomeRecordId(userId, date)).lean<IncomeRecordDocument>();
  const fundCode = (record ? fundOfBookKey(record.bookKey) : account.fundCode) ?? null;
  const unconfirmed = await unconfirmedOn(userId, date);
  if (!fundCode) return { date, fundCode, status: 'no_holding', reasons: [noHolding(), ...unconfirmed] };
  const day = await FundDay.findById(fundDayId(fundCode, date)).lean<FundDayDocument>();
  // A pending 万份收益 is not the fund's until a second ops user confirms it: not shown to holders.
  if (!day || day.status === 'pending') return { date, fundCode, status: 'not_published', reasons: [reason('not_published', `No 万份收益 is published for ${date} yet`)] };
  const yieldPer10k = formatYieldPer10k(day.yieldPer10k);
  if (day.status === 'reference') {
    const detail = `${date} is before ${fundCode}'s start day here: its 万份收益 is the fund's history, and no income is paid for it`;
    return { date, fundCode, status: 'before_fund_start', yieldPer10k, reasons: [reason('before_fund_start', detail)] };
  }
  if (!record && day.status !== 'accrued') {
    return { date, fundCode, status: 'not_accrued', yieldPer10k, reasons: [reason('not_accrued', `${date} has not been accrued yet`)] };
  }
  const eligibleFen = record?.eligibleSharesFen ?? 0n;
  const { incomeFen, exactFen8 } = dailyIncomeFen(eligibleFen, day.yieldPer10k);
  return {
    date,
    fundCode,
    status: 'accrued',
    yieldPer10k,
    eligibleShares: formatYuan(eligibleFen),
    /** eligible shares × 万份收益 / 10,000 in yuan, exact (10 decimals). */
    exactIncome: formatScaled(exactFen8, 10),
    income: formatYuan(record?.incomeFen ?? incomeFen),
    cumulativeIncome: record ? formatYuan(record.cumulativeIncomeFen) : null,
    reasons: [...recordReasons(record, day, incomeFen, exactFen8), ...unconfirmed],
  };
}

function recordReasons(record: IncomeRecordDocument | null, day: FundDayDocument, incomeFen: bigint, exactFen8: bigint): Reason[] {
  const reasons: Reason[] = [];
  const changeFen = record?.changeFen ?? 0n;
  if (changeFen > 0n) reasons.push(reason('shares_confirmed', `${formatYuan(changeFen)} shares confirmed that day earn from it`));
  if (changeFen < 0n) reasons.push(reason('redeemed', `${formatYuan(-changeFen)} shares redeemed stop earning on the day of the request`));
  if ((record?.eligibleSharesFen ?? 0n) === 0n) reasons.push(noHolding());
  else if (day.yieldPer10k === 0n) reasons.push(reason('zero_yield', 'The fund earned nothing that day'));
  else if (day.yieldPer10k < 0n) reasons.push(reason('negative_yield', 'The fund lost money that day: the loss is taken from the shares'));
  if (incomeFen === 0n && exactFen8 !== 0n) {
    reasons.push(reason('below_minimum', 'The income is below 0.01 yuan, so nothing is credited; the fraction goes to the fund residual'));
  } else if (exactFen8 !== incomeFen * FEN8_PER_FEN) {
    reasons.push(reason('truncated', 'Income is truncated toward zero to the fen; the fraction goes to the fund residual'));
  }
  return reasons;
}

/** Transfer-ins traded by that day whose shares were not yet confirmed: they earn from the confirm date. */
async function unconfirmedOn(userId: string, date: string): Promise<Reason[]> {
  const transfers = await Operation.find({ userId, type: 'transfer_in' }).lean<OperationDocument[]>();
  return transfers
    .filter((op) => op.status !== 'failed' && op.tradeDate != null && op.tradeDate <= date && op.dueDate != null && date < op.dueDate)
    .map((op) => reason('not_yet_confirmed', `${formatYuan(op.amountFen)} transferred in (T ${op.tradeDate}) earns from its confirm date ${op.dueDate}`));
}

const reason = (code: string, detail: string): Reason => ({ code, detail });
const noHolding = () => reason('no_eligible_shares', 'No confirmed shares were held at the end of the day');

const HISTORY_DAYS_MAX = 31;

/** The holder's income day by day, newest first; days without a record are left out. */
export async function incomeHistory(ctx: AppContext, userId: string, from: string, to: string) {
  const dates = datesInRange(ctx, from, to, HISTORY_DAYS_MAX).reverse();
  const records = await Promise.all(dates.map((date) => IncomeRecord.findById(incomeRecordId(userId, date)).lean<IncomeRecordDocument>()));
  return records.flatMap((record, index) =>
    record === null
      ? []
      : [{
      date: dates[index]!,
      fundCode: fundOfBookKey(record.bookKey),
      eligibleShares: formatYuan(record.eligibleSharesFen),
      income: formatYuan(record.incomeFen),
      cumulativeIncome: formatYuan(record.cumulativeIncomeFen),
    }],
  );
}
