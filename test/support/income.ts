import request from 'supertest';
import type { Express } from 'express';
import { IncomeRecord, bookKey, type IncomeRecordDocument } from '../../src/income/model.ts';
import { FundDay, fundDayId, type FundDayDocument } from '../../src/fund/model.ts';
import { accrueThrough } from '../../src/income/accrual.ts';
import { uniqueId } from './database.ts';
import { idempotencyKey, newHolder, PAYMENT_PASSWORD, topUp, type Holder, type TestApp } from './api.ts';

/**
 * A fund of its own for one test: fund days are accrued strictly in order, so tests that
 * accrue must not share a fund's calendar.
 */
export function addTestFund(t: TestApp, sevenDayYieldMode: 'compound' | 'simple' = 'compound'): string {
  const code = `T${uniqueId('').replace(/[^A-Za-z0-9]/g, '').slice(-9).toUpperCase()}`;
  t.ctx.config = { ...t.ctx.config, funds: [...t.ctx.config.funds, { code, name: `Test fund ${code}`, sevenDayYieldMode }] };
  return code;
}

/** A fund of its own whose 万份收益 outside 0.0000..3.0000 waits for a second ops user; a start day if given. */
export function addBandedFund(t: TestApp, startDate?: string): string {
  const fundCode = addTestFund(t);
  const band = { yieldPer10kBand: { min: '0.0000', max: '3.0000' }, ...(startDate ? { startDate } : {}) };
  t.ctx.config = { ...t.ctx.config, funds: t.ctx.config.funds.map((fund) => (fund.code === fundCode ? { ...fund, ...band } : fund)) };
  return fundCode;
}

/** Publishes the day's 万份收益 at 20:00 that day (or now, if later), then puts the clock back. */
export async function publish(t: TestApp, ops: Holder, fundCode: string, date: string, yieldPer10k: string): Promise<void> {
  const now = t.clock.now();
  const evening = new Date(`${date}T20:00:00+08:00`);
  if (evening > now) t.clock.set(evening);
  try {
    await request(t.app).put(`/v1/ops/funds/${fundCode}/yields/${date}`).set(ops.auth).send({ yieldPer10k }).expect(200);
  } finally {
    t.clock.set(now);
  }
}

/** Publishes the same 万份收益 for every day from..to. */
export async function publishDays(t: TestApp, ops: Holder, fundCode: string, from: string, to: string, yieldPer10k: string) {
  for (let date = from; date <= to; date = t.ctx.calendar.addCalendarDays(date, 1)) await publish(t, ops, fundCode, date, yieldPer10k);
}

/** Accrues through `date` at 01:00 Beijing time the next morning. */
export async function accrueAt(t: TestApp, fundCode: string, date: string): Promise<string[]> {
  t.clock.set(`${t.ctx.calendar.addCalendarDays(date, 1)}T01:00:00+08:00`);
  return accrueThrough(t.ctx, fundCode, date);
}

export async function transferIn(app: Express, holder: Holder, fundCode: string, amount: string) {
  const response = await request(app)
    .post('/v1/me/transfers-in')
    .set(holder.auth)
    .set('Idempotency-Key', idempotencyKey())
    .send({ amount, channel: 'wallet', fundCode });
  if (response.status !== 201) throw new Error(`transfer-in ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body.operation;
}

export async function redeem(app: Express, holder: Holder, amount: string) {
  const response = await request(app)
    .post('/v1/me/redemptions')
    .set(holder.auth)
    .set('Idempotency-Key', idempotencyKey())
    .send({ amount, channel: 'wallet', paymentPassword: PAYMENT_PASSWORD });
  if (response.status !== 201) throw new Error(`redemption ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body.operation;
}

/** A holder who transferred `amount` into the fund from the wallet at the clock's current time. */
export async function subscribedHolder(t: TestApp, fundCode: string, amount: string): Promise<Holder> {
  const holder = await newHolder(t.app);
  await topUp(t.app, holder, amount);
  await transferIn(t.app, holder, fundCode, amount);
  return holder;
}

export async function incomeOf(holderId: string, date: string): Promise<IncomeRecordDocument | null> {
  return IncomeRecord.findById(`${holderId}:${date}`).lean<IncomeRecordDocument>();
}

/** Every income record of a fund day, by id: read partition by partition, as the job does. */
export async function recordsOfDay(fundCode: string, date: string, partitionCount: number): Promise<IncomeRecordDocument[]> {
  const partitions = await Promise.all(
    Array.from({ length: partitionCount }, (_, partition) => IncomeRecord.find({ bookKey: bookKey(fundCode, date, partition) }).lean<IncomeRecordDocument[]>()),
  );
  return partitions.flat().sort((a, b) => (a._id < b._id ? -1 : 1));
}

/** The day, its totals across holders read as bigint (they are stored as decimal strings). */
export async function fundDay(fundCode: string, date: string) {
  const day = (await FundDay.findById(fundDayId(fundCode, date)).lean<FundDayDocument>())!;
  const fen = (stored: string | null | undefined) => (stored == null ? null : BigInt(stored));
  return { ...day, eligibleSharesFen: fen(day.eligibleSharesFen), distributedFen: fen(day.distributedFen), residualFen8: fen(day.residualFen8) };
}
