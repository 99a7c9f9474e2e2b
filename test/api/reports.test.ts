import assert from 'node:assert/strict';
import request from 'supertest';
import type { Response } from 'supertest';
import { FundDay, fundDayId, type FundDayDocument } from '../../src/fund/model.ts';
import { sevenDayYields } from '../../src/fund/service.ts';
import { accrueThrough } from '../../src/income/accrual.ts';
import { formatYuan, parseYuan } from '../../src/money/fen.ts';
import { Operation } from '../../src/operations/model.ts';
import { csvText } from '../../src/reports/csv.ts';
import { fundDailySchema, reserveDailySchema, statementSchema } from '../../src/reports/routes.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { assertProblem, idempotencyKey, newHolder, PAYMENT_PASSWORD, testApp, type Holder, type TestApp, withoutBeijingTwins } from '../support/api.ts';
import { addTestFund, publish, recordsOfDay, redeem, subscribedHolder } from '../support/income.ts';
import { adjustReserve, shardsOf, useOwnReserve } from '../support/reserve.ts';

/** RFC 4180 read back: quoted fields, doubled quotes, CRLF line ends. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quoted && char === '"' && text[index + 1] === '"') {
      field += '"';
      index++;
    } else if (char === '"' && (quoted || field === '')) {
      quoted = !quoted;
    } else if (!quoted && char === ',') {
      row.push(field);
      field = '';
    } else if (!quoted && char === '\r' && text[index + 1] === '\n') {
      rows.push([...row, field]);
      row = [];
      field = '';
      index++;
    } else {
      field += char;
    }
  }
  assert.equal(`${row.join(',')}${field}`, '', 'the last record ends with CRLF');
  return rows;
}

/** The CSV's records as objects keyed by the header. */
function csvRecords(response: Response): Record<string, string>[] {
  assert.match(String(response.headers['content-type']), /^text\/csv; charset=utf-8/);
  const [header, ...rows] = parseCsv(response.text);
  return rows.map((row) => {
    assert.equal(row.length, header!.length);
    return Object.fromEntries(header!.map((column, index) => [column, row[index]!]));
  });
}

/** A JSON figure as its CSV field: null is empty, the rest as text. */
const asCsv = (value: unknown) => (value === null || value === undefined ? '' : String(value));

function assertRoundTrip(records: Record<string, string>[], items: Record<string, unknown>[]): void {
  assert.equal(records.length, items.length);
  items.forEach((item, index) => {
    for (const [key, value] of Object.entries(item)) assert.equal(records[index]![key], asCsv(value), `row ${index} ${key}`);
  });
}

const yuan = (fen: bigint) => formatYuan(fen);

describe('CSV', () => {
  it('quotes what RFC 4180 says to, doubles quotes, ends lines with CRLF and defuses formulas', () => {
    const rows = [{ a: 'plain', b: 'a,b', c: 'say "hi"' }, { a: 'two\r\nlines', b: null, c: '=SUM(A1)' }, { a: '-3.10', b: 42, c: true }];
    const text = csvText({ columns: ['a', 'b', 'c'], rows });
    assert.equal(text, 'a,b,c\r\nplain,"a,b","say ""hi"""\r\n"two\r\nlines",,\'=SUM(A1)\r\n-3.10,42,true\r\n');
    assert.deepEqual(parseCsv(text), [['a', 'b', 'c'], ['plain', 'a,b', 'say "hi"'], ['two\r\nlines', '', "'=SUM(A1)"], ['-3.10', '42', 'true']]);
  });
});

describe('reports', function () {
  this.timeout(180_000);
  let t: TestApp;
  let ops: Holder;
  let fund: string;
  let reserve: string;
  let a: Holder;
  let b: Holder;
  let c: Holder;
  // 万份收益 of each published day, 06-25..07-04: they differ, so 7-day yields tell the days apart.
  const rates = new Map(Array.from({ length: 10 }, (_, index) => [`2024-${index < 6 ? `06-${25 + index}` : `07-0${index - 5}`}`, `0.${5100 + index * 37}`]));

  const ownReport = (path: string, holder = ops) => request(t.app).get(path).set(holder.auth);
  const fundReport = (query: string, holder = ops) => ownReport(`/v1/ops/reports/funds/${fund}/daily?${query}`, holder);
  const reserveReport = (query: string) => ownReport(`/v1/ops/reports/reserve/daily?${query}`);
  const statement = (holder: Holder, query: string) => ownReport(`/v1/me/statement?${query}`, holder);
  const at = (instant: string) => t.clock.set(`${instant}+08:00`);

  // Mon 07-01 .. Fri 07-05 2024, every step on the clock in order:
  before(async () => {
    t = testApp('2024-07-01T09:00:00+08:00');
    fund = addTestFund(t);
    reserve = useOwnReserve(t);
    ops = await newHolder(t.app, { ops: true });
    await adjustReserve(t, ops, '50000.00', 'increase').expect(201);
    at('2024-07-01T10:00:00');
    a = await subscribedHolder(t, fund, '10000.00'); // T 07-01, confirmed 07-02
    b = await subscribedHolder(t, fund, '5000.00');
    c = await newHolder(t.app);
    const refused = await request(t.app).post('/v1/me/transfers-in').set(c.auth).set('Idempotency-Key', idempotencyKey()).send({ amount: '300.00', channel: 'wallet', fundCode: fund });
    assertProblem(refused, 409, 'insufficient_balance');
    at('2024-07-02T09:00:00');
    await advanceDueOperations(t.ctx);
    at('2024-07-02T10:00:00');
    await instant(a, '1000.00').expect(201); // settles 07-03
    at('2024-07-02T10:30:00');
    assertProblem(await instant(b, '6000.00'), 409, 'insufficient_shares'); // refused: nothing advanced
    at('2024-07-02T16:00:00');
    await redeem(t.app, b, '500.00'); // after the cut-off: T 07-03, stops earning 07-02
    at('2024-07-03T00:00:01');
    await advanceDueOperations(t.ctx); // repays a's advance
    at('2024-07-03T11:00:00');
    const merchant = await request(t.app).post('/v1/ops/merchants').set(ops.auth).send({ name: 'Noodle shop' }).expect(201);
    await request(t.app)
      .post('/v1/me/payments')
      .set(b.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '200.00', merchantId: merchant.body.id, paymentPassword: PAYMENT_PASSWORD })
      .expect(201);
    at('2024-07-03T12:00:00');
    await adjustReserve(t, ops, '10000.00', 'decrease').expect(201);
    at('2024-07-04T09:00:00');
    await advanceDueOperations(t.ctx); // settles b's redemption, repays the payment's advance
    at('2024-07-05T08:00:00');
    await request(t.app)
      .post('/v1/me/withdrawals')
      .set(a.auth)
      .set('Idempotency-Key', idempotencyKey())
      .send({ amount: '100.00', bankCardId: a.bankCardId, paymentPassword: PAYMENT_PASSWORD })
      .expect(201);
    at('2024-07-05T09:00:00');
    for (const [date, rate] of rates) await publish(t, ops, fund, date, rate);
    assert.deepEqual(await accrueThrough(t.ctx, fund, '2024-07-03'), [...rates.keys()].slice(0, 9));
    at('2024-07-05T09:30:00');
  });

  function instant(holder: Holder, amount: string) {
    return request(t.app).post('/v1/me/instant-redemptions').set(holder.auth).set('Idempotency-Key', idempotencyKey()).send({ amount, paymentPassword: PAYMENT_PASSWORD });
  }

  const fundDayDoc = async (date: string) => (await FundDay.findById(fundDayId(fund, date)).lean<FundDayDocument>())!;

  describe('the fund day by day', () => {
    it('shows each day as the accrual fixed it: AUM is the eligible shares plus the income credited', async () => {
      const report = (await fundReport('from=2024-06-24&to=2024-07-05').expect(200)).body;
      fundDailySchema.parse(withoutBeijingTwins(report)); // as documented in /openapi.json, not a member more
      assert.deepEqual(Object.keys(report), ['fundCode', 'from', 'to', 'days']);
      assert.deepEqual(report.days.map((day: { date: string }) => day.date), ['2024-06-24', ...rates.keys(), '2024-07-05']);
      assert.deepEqual(report.days.map((day: { accrualStatus: string }) => day.accrualStatus), ['missing', ...Array(9).fill('accrued'), 'published', 'missing']);
      for (const day of report.days.filter((item: { accrualStatus: string }) => item.accrualStatus === 'accrued')) {
        const stored = await fundDayDoc(day.date);
        const records = await recordsOfDay(fund, day.date, t.ctx.config.accrual.partitions);
        const eligibleFen = records.reduce((sum, record) => sum + record.eligibleSharesFen, 0n);
        const incomeFen = records.reduce((sum, record) => sum + record.incomeFen, 0n);
        assert.equal(day.yieldPer10k, rates.get(day.date));
        assert.equal(day.aum, yuan(eligibleFen + incomeFen), day.date);
        assert.equal(day.aum, yuan(BigInt(stored.eligibleSharesFen!) + BigInt(stored.distributedFen!)));
        assert.equal(day.eligibleShares, yuan(eligibleFen));
        assert.equal(day.incomeDistributed, yuan(incomeFen));
        assert.equal(day.holders, records.length);
        assert.equal(day.sevenDayYieldCompoundPercent, stored.sevenDayYieldCompoundPercent);
        assert.equal(day.sevenDayYieldSimplePercent, stored.sevenDayYieldSimplePercent);
        // distributed + residual = eligible × 万份收益 / 10,000 exactly (residual in yuan, 10 decimals)
        const exactYuan10 = eligibleFen * parseYuanRate(day.yieldPer10k);
        assert.equal(BigInt(day.residual.replace('.', '')), exactYuan10 - incomeFen * 100_000_000n);
      }
      const byDate = new Map(report.days.map((day: { date: string }) => [day.date, day]));
      const day = (date: string) => byDate.get(date) as Record<string, string>;
      // The holders the accrual booked: a and b, and c, whose refused transfer-in it still filed under 07-02 (at zero).
      const booked = await recordsOfDay(fund, '2024-07-02', t.ctx.config.accrual.partitions);
      assert.deepEqual(booked.map((record) => record._id).sort(), [a, b, c].map((holder) => `${holder.userId}:2024-07-02`).sort());
      assert.equal(day('2024-07-02').holders, 3);
      // a: 10,000 confirmed 07-02 less the 1,000 redeemed that day; b: 5,000 less the 500 asked for that day.
      assert.equal(day('2024-07-02').eligibleShares, '13500.00');
      // What earns on 07-03 is 07-02's AUM less the 200 paid on 07-03.
      assert.equal(parseYuan(day('2024-07-03').eligibleShares), parseYuan(day('2024-07-02').aum!) - 20_000n);
      assert.equal(day('2024-06-30').sevenDayYieldCompoundPercent, null, 'six days published');
      assert.notEqual(day('2024-07-01').sevenDayYieldCompoundPercent, null);
      const provisional = await sevenDayYields(t.ctx, fund, '2024-07-04');
      assert.equal(day('2024-07-04').sevenDayYieldCompoundPercent, provisional.compound);
      assert.equal(day('2024-07-04').sevenDayYieldSimplePercent, provisional.simple);
      assert.equal(day('2024-07-04').aum, null);
      assert.equal(day('2024-07-04').yieldPer10k, rates.get('2024-07-04'));
      assert.deepEqual(
        [day('2024-06-24'), day('2024-07-05')].map((item) => [item.yieldPer10k, item.aum, item.holders, item.incomeDistributed, item.residual]),
        [[null, null, null, null, null], [null, null, null, null, null]],
      );
    });

    it('counts the subscriptions and redemptions accepted on each trade date, never the failed ones', async () => {
      const days = (await fundReport('from=2024-06-29&to=2024-07-05').expect(200)).body.days as Record<string, unknown>[];
      const flows = days.map(({ date, subscriptions, subscriptionCount, redemptions, redemptionCount, normalRedemptions, instantRedemptions, payments, netFlow }) => [
        date, subscriptions, subscriptionCount, redemptions, redemptionCount, normalRedemptions, instantRedemptions, payments, netFlow,
      ]);
      assert.deepEqual(flows, [
        ['2024-06-29', '0.00', 0, '0.00', 0, '0.00', '0.00', '0.00', '0.00'],
        ['2024-06-30', '0.00', 0, '0.00', 0, '0.00', '0.00', '0.00', '0.00'],
        ['2024-07-01', '15000.00', 2, '0.00', 0, '0.00', '0.00', '0.00', '15000.00'], // c's refused 300.00 is not counted
        ['2024-07-02', '0.00', 0, '1000.00', 1, '0.00', '1000.00', '0.00', '-1000.00'], // b's refused instant is not counted
        ['2024-07-03', '0.00', 0, '700.00', 2, '500.00', '0.00', '200.00', '-700.00'], // b's 16:00 redemption trades on 07-03
        ['2024-07-04', '0.00', 0, '0.00', 0, '0.00', '0.00', '0.00', '0.00'],
        ['2024-07-05', '0.00', 0, '0.00', 0, '0.00', '0.00', '0.00', '0.00'],
      ]);
      // What the journal holds for the fund on those trade dates, failed ones aside.
      const traded = await Operation.find({ fundCode: fund, status: { $ne: 'failed' } }).lean();
      const total = (date: string, types: string[]) => yuan(traded.filter((op) => op.tradeDate === date && types.includes(op.type)).reduce((sum, op) => sum + op.amountFen, 0n));
      for (const day of days) {
        assert.equal(day.subscriptions, total(String(day.date), ['transfer_in']));
        assert.equal(day.redemptions, total(String(day.date), ['redemption', 'instant_redemption', 'payment']));
      }
    });

    it('serves the same figures as CSV, by ?format=csv or by Accept, with a file name', async () => {
      const json = (await fundReport('from=2024-06-24&to=2024-07-05').expect(200)).body;
      const csv = await fundReport('from=2024-06-24&to=2024-07-05&format=csv').expect(200);
      assert.equal(csv.headers['content-disposition'], `attachment; filename="fund-${fund}-daily-2024-06-24-to-2024-07-05.csv"`);
      assertRoundTrip(csvRecords(csv), json.days);
      const accepted = await ownReport(`/v1/ops/reports/funds/${fund}/daily?from=2024-06-24&to=2024-07-05`).set('Accept', 'text/csv').expect(200);
      assert.equal(accepted.text, csv.text);
      const explicit = await ownReport(`/v1/ops/reports/funds/${fund}/daily?from=2024-06-24&to=2024-07-05&format=json`).set('Accept', 'text/csv').expect(200);
      assert.deepEqual(explicit.body, json);
    });

    it('defaults to the 30 days through today, so today shows as it stands: the fund, the reserve and a statement', async () => {
      const report = (await fundReport('').expect(200)).body;
      assert.deepEqual([report.from, report.to, report.days.length], ['2024-06-06', '2024-07-05', 30]);
      const reserveDays = (await reserveReport('').expect(200)).body.days;
      assert.deepEqual([reserveDays.length, reserveDays.at(-1).date, reserveDays.at(-1).final], [30, '2024-07-05', false]);
      const ownStatement = (await statement(a, '').expect(200)).body;
      assert.deepEqual([ownStatement.from, ownStatement.to], ['2024-06-06', '2024-07-05']);
      const today = ownStatement.operations.filter((entry: { date: string }) => entry.date === '2024-07-05');
      assert.deepEqual(today.map((entry: { type: string; amount: string }) => `${entry.type} ${entry.amount}`), ['withdrawal 100.00'], "this morning's withdrawal");
    });
  });

  describe('the reserve day by day', () => {
    it('derives each day-end from the journal: adjustments, advances and repayments, with leases open or closed', async () => {
      const report = (await reserveReport('from=2024-06-30&to=2024-07-05').expect(200)).body;
      reserveDailySchema.parse(withoutBeijingTwins(report));
      assert.equal(report.reserveName, reserve);
      const figures = report.days.map((day: Record<string, unknown>) => [
        day.date, day.size, day.available, day.outstanding, day.utilisationPercent, day.advanced, day.repaid, day.adjusted, day.peakOutstanding, day.peakUtilisationPercent, day.final,
      ]);
      assert.deepEqual(figures, [
        ['2024-06-30', '0.00', '0.00', '0.00', '0.00', '0.00', '0.00', '0.00', '0.00', '0.00', true],
        ['2024-07-01', '50000.00', '50000.00', '0.00', '0.00', '0.00', '0.00', '50000.00', '0.00', '0.00', true],
        // a's 1,000 outstanding; b's refused 6,000 never advanced (its grant went back to the lease)
        ['2024-07-02', '50000.00', '49000.00', '1000.00', '2.00', '1000.00', '0.00', '0.00', '1000.00', '2.00', true],
        // repaid at midnight, 200 paid to the merchant, 10,000 taken out
        ['2024-07-03', '40000.00', '39800.00', '200.00', '0.50', '200.00', '1000.00', '-10000.00', '1000.00', '2.00', true],
        ['2024-07-04', '40000.00', '40000.00', '0.00', '0.00', '0.00', '200.00', '0.00', '200.00', '0.50', true],
        ['2024-07-05', '40000.00', '40000.00', '0.00', '0.00', '0.00', '0.00', '0.00', '0.00', '0.00', false],
      ]);
      const shards = await shardsOf(reserve);
      const today = report.days.at(-1);
      assert.equal(today.available, yuan(shards.reduce((sum, shard) => sum + shard.availableFen, 0n)));
      assert.equal(today.outstanding, yuan(shards.reduce((sum, shard) => sum + shard.outstandingFen, 0n)));
      assert.deepEqual([report.current.size, report.current.available, report.current.outstanding], [today.size, today.available, today.outstanding]);
      const csv = await reserveReport('from=2024-06-30&to=2024-07-05&format=csv').expect(200);
      assert.equal(csv.headers['content-disposition'], `attachment; filename="reserve-${reserve}-daily-2024-06-30-to-2024-07-05.csv"`);
      assertRoundTrip(csvRecords(csv), report.days);
    });
  });

  describe('the holder statement', () => {
    it('chains periods: the closing of one is the opening of the next, and a period ending today closes on the account', async () => {
      // Before a subscribed: no income record in the period, the first one comes later (07-02).
      const before = (await statement(a, 'from=2024-06-20&to=2024-06-27').expect(200)).body;
      const first = (await statement(a, 'from=2024-06-28&to=2024-07-02').expect(200)).body;
      assert.deepEqual(before.closing, first.opening);
      assert.deepEqual([before.operations, before.income, before.closing.total], [[], [], '0.00']);
      const second = (await statement(a, 'from=2024-07-03&to=2024-07-05').expect(200)).body;
      const whole = (await statement(a, 'from=2024-06-28&to=2024-07-05').expect(200)).body;
      assert.deepEqual(first.closing, second.opening);
      assert.deepEqual(whole.opening, first.opening);
      assert.deepEqual(whole.closing, second.closing);
      const account = (await request(t.app).get('/v1/me/account').set(a.auth).expect(200)).body;
      const balances = ({ wallet, shares, subscribing, redeeming, total }: Record<string, string>) => ({ wallet, shares, subscribing, redeeming, total });
      assert.deepEqual(balances(second.closing), balances(account));
      assert.equal(second.closing.cumulativeIncome, account.income.cumulative);
      // End of 07-02: 1,000 in the wallet from the instant redemption, 9,000 shares and 07-02's income on them.
      const income0702 = (900_000n * BigInt(rates.get('2024-07-02')!.replace('.', ''))) / 100_000_000n;
      assert.deepEqual(balances(first.closing), balances({ wallet: '1000.00', shares: yuan(900_000n + income0702), subscribing: '0.00', redeeming: '0.00', total: yuan(1_000_000n + income0702) }));
      assert.deepEqual(balances(first.opening), { wallet: '0.00', shares: '0.00', subscribing: '0.00', redeeming: '0.00', total: '0.00' });
    });

    it('lists what each operation moved in the period and the daily income, and they add up to the change', async () => {
      for (const query of ['from=2024-06-28&to=2024-07-02', 'from=2024-07-02&to=2024-07-05', 'from=2024-07-03&to=2024-07-03']) {
        for (const holder of [a, b, c]) {
          const body = statementSchema.parse(withoutBeijingTwins((await statement(holder, query).expect(200)).body));
          const sumOf = <T>(items: T[], amountOf: (item: T) => string) => items.reduce((sum, item) => sum + signed(amountOf(item)), 0n);
          const change = (field: 'wallet' | 'shares' | 'subscribing' | 'redeeming' | 'total') => signed(body.closing[field]) - signed(body.opening[field]);
          const incomeFen = sumOf(body.income, (day) => day.income);
          assert.equal(change('wallet'), sumOf(body.operations, (op) => op.walletChange));
          assert.equal(change('subscribing'), sumOf(body.operations, (op) => op.subscribingChange));
          assert.equal(change('redeeming'), sumOf(body.operations, (op) => op.redeemingChange));
          assert.equal(change('shares'), sumOf(body.operations, (op) => op.sharesChange) + incomeFen);
          assert.equal(signed(body.totals.income), incomeFen);
          assert.equal(change('total'), signed(body.totals.in) - signed(body.totals.out) + signed(body.totals.income));
        }
      }
      const secondHalf = (await statement(a, 'from=2024-07-03&to=2024-07-05').expect(200)).body;
      assert.deepEqual(secondHalf.operations.map((op: { type: string; status: string }) => [op.type, op.status]), [['withdrawal', 'completed']]);
      assert.deepEqual([secondHalf.totals.in, secondHalf.totals.out], ['0.00', '100.00']);
      assert.deepEqual(secondHalf.income.map((day: { date: string }) => day.date), ['2024-07-03']);
      const firstHalf = (await statement(a, 'from=2024-06-28&to=2024-07-02').expect(200)).body;
      assert.deepEqual(firstHalf.operations.map((op: { type: string }) => op.type), ['top_up', 'transfer_in', 'instant_redemption']);
      assert.deepEqual([firstHalf.totals.in, firstHalf.totals.out], ['10000.00', '0.00']);
    });

    it('shows only the caller’s own operations and income', async () => {
      const own = (await statement(b, 'from=2024-06-28&to=2024-07-05').expect(200)).body;
      assert.equal(own.userId, b.userId);
      const ids = own.operations.map((op: { id: string }) => op.id);
      assert.deepEqual((await Operation.find({ _id: { $in: ids } }).lean()).map((op) => op.userId), ids.map(() => b.userId));
      assert.equal(ids.length, (await Operation.countDocuments({ userId: b.userId })));
      const stranger = (await statement(c, 'from=2024-06-28&to=2024-07-05').expect(200)).body;
      assert.deepEqual(stranger.operations.map((op: { type: string; status: string; failureCode: string }) => [op.type, op.status, op.failureCode]), [['transfer_in', 'failed', 'insufficient_balance']]);
      // The accrual files a refused transfer-in under its confirm date too: a record of nothing earned.
      assert.deepEqual(stranger.income.map((day: { income: string; eligibleShares: string }) => [day.income, day.eligibleShares]), [['0.00', '0.00']]);
      assert.equal(stranger.closing.total, '0.00');
      assertProblem(await statement(c, `from=2024-06-28&to=2024-07-05&userId=${b.userId}`), 400, 'invalid_request');
    });

    it('is a CSV statement too: opening, each movement, income, totals, closing', async () => {
      const json = (await statement(a, 'from=2024-06-28&to=2024-07-05').expect(200)).body;
      const csv = await statement(a, 'from=2024-06-28&to=2024-07-05').set('Accept', 'text/csv').expect(200);
      assert.equal(csv.headers['content-disposition'], `attachment; filename="statement-${a.userId}-2024-06-28-to-2024-07-05.csv"`);
      const records = csvRecords(csv);
      assert.deepEqual(records.map((record) => record.entry), [
        'opening', ...json.operations.map(() => 'operation'), ...json.income.map(() => 'income'), 'total_income', 'total_in', 'total_out', 'closing',
      ]);
      const pick = (record: Record<string, string>, fields: string[]) => fields.map((field) => record[field]);
      const balanceFields = ['wallet', 'shares', 'subscribing', 'redeeming', 'total', 'cumulativeIncome'];
      assert.deepEqual(pick(records[0]!, ['date', 'at', ...balanceFields]), [json.from, json.opening.asOf, ...balanceFields.map((field) => json.opening[field])]);
      assert.deepEqual(pick(records.at(-1)!, ['date', 'at', ...balanceFields]), [json.to, json.closing.asOf, ...balanceFields.map((field) => json.closing[field])]);
      json.operations.forEach((op: Record<string, string>, index: number) => {
        assert.deepEqual(pick(records[1 + index]!, ['operationId', 'type', 'status', 'amount', 'wallet', 'shares', 'subscribing', 'redeeming', 'total']), [
          op.id, op.type, op.status, op.amount, op.walletChange, op.sharesChange, op.subscribingChange, op.redeemingChange, op.totalChange,
        ]);
      });
      json.income.forEach((day: Record<string, string>, index: number) => {
        assert.deepEqual(pick(records[1 + json.operations.length + index]!, ['date', 'amount', 'cumulativeIncome']), [day.date, day.income, day.cumulativeIncome]);
      });
      assert.deepEqual(records.slice(-4, -1).map((record) => record.amount), [json.totals.income, json.totals.in, json.totals.out]);
    });
  });

  describe('refusals', () => {
    it('answers a bad range, date or format with a 400 problem', async () => {
      for (const query of [
        'from=2024-07-02&to=2024-07-01',
        'from=2024-01-01&to=2024-07-01',
        'from=2024-13-01&to=2024-07-01',
        'from=2024-07-01',
        'to=2024-07-01',
        'from=2024-07-01&to=2024-07-06',
        'from=2024-07-01&to=2024-07-02&format=xml',
        'from=2024-07-01&to=2024-07-02&page=2',
      ]) {
        assertProblem(await fundReport(query), 400, 'invalid_request');
        assertProblem(await reserveReport(query), 400, 'invalid_request');
        assertProblem(await statement(a, query), 400, 'invalid_request');
      }
    });

    it('keeps the ops reports to ops, and a fund it does not know is a 404', async () => {
      assertProblem(await fundReport('from=2024-07-01&to=2024-07-02', a), 403, 'forbidden');
      assertProblem(await ownReport('/v1/ops/reports/reserve/daily', a), 403, 'forbidden');
      assertProblem(await request(t.app).get('/v1/me/statement'), 401, 'unauthenticated');
      assertProblem(await ownReport('/v1/ops/reports/funds/NOSUCHFUND/daily?from=2024-07-01&to=2024-07-02'), 404, 'not_found');
    });
  });
});

/** "0.5137" -> 5137n */
const parseYuanRate = (rate: string) => BigInt(rate.replace('.', ''));

/** "-1.50" -> -150n */
const signed = (text: string) => (text.startsWith('-') ? -parseYuan(text.slice(1)) : parseYuan(text));
