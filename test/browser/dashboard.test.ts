import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { addCalendarDays } from '../../src/calendar/businessDate.ts';
import { FundDay, type FundDayDocument } from '../../src/fund/model.ts';
import { formatScaled, formatYuan, mulDiv, sumFen } from '../../src/money/fen.ts';
import { Operation, type OperationDocument, type OperationType } from '../../src/operations/model.ts';
import { reserveBalances } from '../../src/reserve/service.ts';
import { advanceDueOperations } from '../../src/operations/recovery.ts';
import { idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp, topUp, type Holder, type TestApp } from '../support/api.ts';
import { launchChromium, pageTrouble, serveOnLoopback, type ServedApp } from '../support/browser.ts';
import { accrueAt, addTestFund, publish, redeem, transferIn } from '../support/income.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';

const FIRST_DAY = '2024-05-18';
const LAST_DAY = '2024-06-16';
/** The morning after LAST_DAY: the last day is accrued. */
const TODAY = '2024-06-17T09:00:00+08:00';
/** The API's default range then, the 30 days through today. */
const DEFAULT_RANGE = ['2024-05-19', '2024-06-17'];
const CHART_IDS = ['chart-yield', 'chart-aum', 'chart-flows', 'chart-reserve'];
const SCREENSHOT = fileURLToPath(new URL('../artifacts/dashboard.png', import.meta.url));
const README_SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));
const EMPTY = '—';

describe('ops dashboard in Chromium', function () {
  this.timeout(300_000);
  let t: TestApp;
  let ops: Holder;
  let fund: string;
  let reserveName: string;
  let served: ServedApp;
  let browser: Browser;
  let dates: string[];

  before(async () => {
    t = testApp('2024-05-16T10:00:00+08:00');
    reserveName = useOwnReserve(t);
    fund = addTestFund(t);
    ops = await newHolder(t.app, { ops: true });
    dates = datesFrom(t, FIRST_DAY, LAST_DAY);
    await tradeForAMonth(t, ops, fund, dates);
    t.clock.set(TODAY);
    served = await serveOnLoopback(t.app);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await served?.close();
  });

  const openSignedIn = async (context: BrowserContext): Promise<{ page: Page; trouble: string[] }> => {
    const page = await context.newPage();
    const trouble = pageTrouble(page);
    await page.goto(`${served.baseUrl}/ops/dashboard`);
    await signIn(page, ops.loginId, LOGIN_PASSWORD);
    await page.waitForSelector('body[data-state="ready"]');
    await showFund(page, fund);
    return { page, trouble };
  };

  it('signs in through the form, offers the 30 days through today, and charts a month of the fund and the reserve as the database has them', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const { page, trouble } = await openSignedIn(context);
    assert.deepEqual([await page.inputValue('#from'), await page.inputValue('#to')], DEFAULT_RANGE, 'the API default range: 30 days through today');
    await showRange(page, FIRST_DAY, LAST_DAY);

    const fundDays = await fundFiguresFromDatabase(fund, dates);
    const reserveDays = await reserveFromJournal(reserveName, dates);
    const charts = await chartsOf(page);
    for (const id of CHART_IDS) assert.deepEqual(charts[id]!.labels, dates, id);
    assert.deepEqual(seriesOf(charts, 'chart-yield', 'yieldPer10k'), numbers(fundDays.map((day) => day.yieldPer10k)));
    assert.deepEqual(seriesOf(charts, 'chart-yield', 'sevenDayYieldCompoundPercent'), numbers(fundDays.map((day) => day.sevenDayYieldCompoundPercent)));
    assert.deepEqual(seriesOf(charts, 'chart-aum', 'aum'), numbers(fundDays.map((day) => day.aum)));
    assert.deepEqual(seriesOf(charts, 'chart-flows', 'subscriptions'), numbers(fundDays.map((day) => day.subscriptions)));
    assert.deepEqual(seriesOf(charts, 'chart-flows', 'redemptions'), numbers(fundDays.map((day) => day.redemptions)));
    assert.deepEqual(seriesOf(charts, 'chart-reserve', 'utilisationPercent'), numbers(reserveDays.map((day) => day.utilisationPercent)));
    assert.deepEqual(seriesOf(charts, 'chart-reserve', 'outstanding'), numbers(reserveDays.map((day) => day.outstanding)));
    assertVaried(fundDays, reserveDays);

    const api = await request(t.app).get(`/v1/ops/reports/funds/${fund}/daily?from=${FIRST_DAY}&to=${LAST_DAY}`).set(ops.auth).expect(200);
    const residualByDate = new Map(api.body.days.map((day: { date: string; residual: string }) => [day.date, day.residual]));
    const expectedRows = [...fundDays].reverse().map((day, index) => [
      day.date,
      day.yieldPer10k,
      day.sevenDayYieldCompoundPercent ?? EMPTY,
      day.sevenDayYieldSimplePercent ?? EMPTY,
      day.aum,
      String(day.holders),
      day.subscriptions,
      day.redemptions,
      day.incomeDistributed,
      residualByDate.get(day.date),
      reserveDays[reserveDays.length - 1 - index]!.utilisationPercent,
      'accrued',
    ]);
    assert.deepEqual(await tableRows(page), expectedRows);

    const { availableFen } = await reserveBalances(t.ctx);
    assert.equal(reserveDays.at(-1)!.available, formatYuan(availableFen), 'nothing moved the reserve this morning');
    const last = fundDays.at(-1)!;
    assert.deepEqual(await cardValues(page), {
      'card-yield': last.sevenDayYieldCompoundPercent,
      'card-aum': last.aum,
      'card-reserve': formatYuan(availableFen),
      'card-accrual': LAST_DAY,
    });

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    // The README's copy changes only when asked, so a test run leaves the checkout clean.
    if (process.env.UPDATE_README_SCREENSHOT) {
      await mkdir(path.dirname(README_SCREENSHOT), { recursive: true });
      await copyFile(SCREENSHOT, README_SCREENSHOT);
    }
    assert.deepEqual(trouble, []);
    await context.close();
  });

  it('shows the chosen dates and downloads the same days as CSV', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const { page, trouble } = await openSignedIn(context);
    await showRange(page, '2024-06-06', '2024-06-12');
    const chosen = datesFrom(t, '2024-06-06', '2024-06-12');
    const fundDays = await fundFiguresFromDatabase(fund, chosen);
    const charts = await chartsOf(page);
    assert.deepEqual(charts['chart-aum']!.labels, chosen);
    assert.deepEqual(seriesOf(charts, 'chart-aum', 'aum'), numbers(fundDays.map((day) => day.aum)));
    assert.deepEqual(seriesOf(charts, 'chart-reserve', 'utilisationPercent'), numbers((await reserveFromJournal(reserveName, chosen)).map((day) => day.utilisationPercent)));
    assert.deepEqual((await tableRows(page)).map((row) => row[0]), [...chosen].reverse());

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const api = await request(t.app).get(`/v1/ops/reports/funds/${fund}/daily?from=2024-06-06&to=2024-06-12&format=csv`).set(ops.auth).expect(200);
    assert.equal(await readFile(await download.path(), 'utf8'), api.text);
    assert.equal(String(api.headers['content-disposition']).replace(/^attachment; filename="?|"?$/g, ''), download.suggestedFilename());
    assert.deepEqual(trouble, []);
    await context.close();
  });

  it('turns away a wrong password and a holder without the ops role with a clear message', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const trouble = pageTrouble(page);
    await page.goto(`${served.baseUrl}/ops/dashboard`);
    await signIn(page, ops.loginId, 'not the password');
    await page.waitForSelector('#signin-error:not([hidden])');
    assert.equal(await page.textContent('#signin-error'), 'Wrong login id or password.');

    const holder = await newHolder(t.app);
    await signIn(page, holder.loginId, LOGIN_PASSWORD);
    await page.waitForFunction(() => document.getElementById('signin-error')?.textContent?.includes('ops role'));
    assert.match((await page.textContent('#signin-error'))!, new RegExp(`The account ${holder.loginId} does not have the ops role`));
    assert.equal(await page.isVisible('#dashboard'), false, 'nothing of the reports is shown');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the refused token is forgotten');
    // The reports are fetched together: each of them is refused, the first refusal ends the session.
    const refusals = trouble.filter((line) => line.startsWith('HTTP')).map((line) => line.split(':')[0]);
    assert.equal(refusals[0], 'HTTP 401');
    assert.ok(refusals.length > 1 && refusals.slice(1).every((status) => status === 'HTTP 403'), refusals.join(', '));
    assert.deepEqual(
      trouble.filter((line) => !line.startsWith('HTTP') && !/status of 40[13]/.test(line)),
      [],
      'nothing but the refusals went wrong',
    );
    await context.close();
  });

  it('serves the page and assets as files with no inline script, and keeps the reports behind the ops token', async () => {
    const page = await request(t.app).get('/ops/dashboard').expect(200).expect('Content-Type', /text\/html/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'(;|$)/, 'the page runs under the same-origin script policy');
    const scripts = [...page.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)].map(([, attributes, body]) => ({ attributes, body }));
    assert.equal(scripts.length, 2);
    for (const { attributes, body } of scripts) {
      assert.match(attributes!, /\ssrc="\/ops\/assets\/[\w.]+\.js"/, 'every script is a file');
      assert.equal(body, '', 'no inline script body');
    }
    assert.doesNotMatch(page.text, /\son[a-z]+\s*=/i, 'no inline event handler');
    const chartJs = await request(t.app).get('/ops/assets/chart.umd.js').expect(200).expect('Content-Type', /javascript/);
    assert.match(chartJs.text, /window\.Chart=/);
    await request(t.app).get('/ops/assets/dashboard.js').expect(200).expect('Content-Type', /javascript/);
    await request(t.app).get('/ops/assets/dashboard.css').expect(200).expect('Content-Type', /text\/css/);
    await request(t.app).get('/ops/assets/routes.ts').expect(404);
    await request(t.app).get('/ops/assets/..%2Froutes.ts').expect(404);
    await request(t.app).get(`/v1/ops/reports/funds/${fund}/daily`).expect(401);
    const openApi = await request(t.app).get('/openapi.json').expect(200);
    assert.ok(openApi.body.paths['/ops/dashboard'].get.responses['200'].content['text/html'], 'the page is documented');
  });
});

async function signIn(page: Page, loginId: string, password: string): Promise<void> {
  await page.fill('#login-id', loginId);
  await page.fill('#login-password', password);
  await page.click('#signin-submit');
}

async function showFund(page: Page, fund: string): Promise<void> {
  await page.selectOption('#fund', fund);
  await page.waitForFunction(
    (code) => document.body.dataset.state === 'ready' && document.getElementById('loaded-range')?.textContent?.startsWith(`${code} `),
    fund,
  );
}

async function showRange(page: Page, from: string, to: string): Promise<void> {
  await page.fill('#from', from);
  await page.fill('#to', to);
  await page.click('#apply');
  await page.waitForFunction((range) => document.getElementById('loaded-range')?.textContent?.includes(range), `${from} → ${to}`);
}

function datesFrom(t: TestApp, from: string, to: string): string[] {
  const dates: string[] = [];
  for (let date = from; date <= to; date = t.ctx.calendar.addCalendarDays(date, 1)) dates.push(date);
  return dates;
}

// --- a month of trading, built through the API ------------------------------------------------

/**
 * Three holders subscribe two days before the month; then every day some subscribe, some
 * redeem (normally or instantly, against the funded reserve), due operations run, and ops
 * publish the day's 万份收益, which is accrued the next night.
 */
async function tradeForAMonth(t: TestApp, ops: Holder, fund: string, dates: string[]): Promise<void> {
  const holders: Holder[] = [];
  for (const amount of ['20000.00', '15000.00', '8000.00']) {
    const holder = await newHolder(t.app);
    await topUp(t.app, holder, '60000.00');
    await transferIn(t.app, holder, fund, amount);
    holders.push(holder);
  }
  await adjustReserve(t, ops, '24000.00', 'increase').expect(201);
  for (const [index, date] of dates.entries()) {
    t.clock.set(`${date}T10:00:00+08:00`);
    await advanceDueOperations(t.ctx);
    await tradeOneDay(t, holders, fund, index);
    await publish(t, ops, fund, date, yieldOfDay(index));
    await accrueAt(t, fund, date);
  }
}

/** A 万份收益 that moves from day to day, between 0.3900 and 0.4350. */
function yieldOfDay(index: number): string {
  return formatScaled(3900n + BigInt((index * 7) % 11) * 45n, 4);
}

async function tradeOneDay(t: TestApp, holders: Holder[], fund: string, index: number): Promise<void> {
  if (index % 5 !== 4) await transferIn(t.app, holders[index % 3]!, fund, `${500 + 125 * (index % 7)}.00`);
  if (index % 4 === 1) await redeem(t.app, holders[(index + 1) % 3]!, `${200 + 40 * (index % 5)}.50`);
  if (index % 3 === 0) await instantRedeem(t, holders[(index / 3) % 3]!, `${1000 + 300 * (index % 4)}.00`);
}

async function instantRedeem(t: TestApp, holder: Holder, amount: string): Promise<void> {
  await request(t.app)
    .post('/v1/me/instant-redemptions')
    .set(holder.auth)
    .set('Idempotency-Key', idempotencyKey())
    .send({ amount, paymentPassword: PAYMENT_PASSWORD })
    .expect(201);
}

// --- what the database says ----------------------------------------------------------------------

interface FundFigures {
  date: string;
  yieldPer10k: string;
  sevenDayYieldCompoundPercent: string | null;
  sevenDayYieldSimplePercent: string | null;
  aum: string;
  holders: number;
  incomeDistributed: string;
  subscriptions: string;
  redemptions: string;
}

const REDEMPTION_TYPES: OperationType[] = ['redemption', 'instant_redemption', 'payment'];

/** Each day from fund_days (AUM = eligible shares + income credited) and the flows from the operations by trade date. */
async function fundFiguresFromDatabase(fund: string, dates: string[]): Promise<FundFigures[]> {
  const days = new Map((await FundDay.find({ fundCode: fund }).lean<FundDayDocument[]>()).map((day) => [day.date, day]));
  const operations = await Operation.find({ fundCode: fund, status: { $ne: 'failed' } }).lean<OperationDocument[]>();
  const flow = (date: string, types: OperationType[]) =>
    formatYuan(sumFen(operations.filter((op) => op.tradeDate === date && types.includes(op.type)).map((op) => op.amountFen)));
  return dates.map((date) => {
    const day = days.get(date);
    assert.ok(day?.status === 'accrued', `${date} is accrued`);
    return {
      date,
      yieldPer10k: formatScaled(day.yieldPer10k, 4),
      sevenDayYieldCompoundPercent: day.sevenDayYieldCompoundPercent ?? null,
      sevenDayYieldSimplePercent: day.sevenDayYieldSimplePercent ?? null,
      aum: formatYuan(BigInt(day.eligibleSharesFen!) + BigInt(day.distributedFen!)),
      holders: day.holders!,
      incomeDistributed: formatYuan(BigInt(day.distributedFen!)),
      subscriptions: flow(date, ['transfer_in']),
      redemptions: flow(date, REDEMPTION_TYPES),
    };
  });
}

interface ReserveFigures {
  date: string;
  available: string;
  outstanding: string;
  utilisationPercent: string;
}

/** The reserve at the end of each Beijing day, summed from its shards' postings in the journal. */
async function reserveFromJournal(reserveName: string, dates: string[]): Promise<ReserveFigures[]> {
  const operations = await Operation.find({ type: { $in: ['reserve_adjustment', 'reserve_lease', 'instant_redemption', 'payment'] } }).lean<OperationDocument[]>();
  const postings = operations.flatMap((op) => op.postings).filter((posting) => posting.account.startsWith(`reserve:${reserveName}:`));
  return dates.map((date) => {
    const endOfDay = new Date(`${addCalendarDays(date, 1)}T00:00:00+08:00`);
    const balance = (suffix: string) =>
      sumFen(postings.filter((posting) => posting.at < endOfDay && posting.account.endsWith(suffix)).map((posting) => posting.amountFen));
    // What a lease holds and has not advanced is available.
    const availableFen = balance(':available') + balance(':leased');
    const outstandingFen = balance(':outstanding');
    const sizeFen = availableFen + outstandingFen;
    return {
      date,
      available: formatYuan(availableFen),
      outstanding: formatYuan(outstandingFen),
      utilisationPercent: formatScaled(mulDiv(outstandingFen, 10_000n, sizeFen, 'down'), 2),
    };
  });
}

/** The month must draw real curves: values that change, flows both ways, the reserve in use. */
function assertVaried(fundDays: FundFigures[], reserveDays: ReserveFigures[]): void {
  const distinct = (values: (string | null)[]) => new Set(values).size;
  assert.ok(distinct(fundDays.map((day) => day.yieldPer10k)) > 5, 'the 万份收益 moves');
  assert.ok(distinct(fundDays.map((day) => day.aum)) > 20, 'the AUM moves');
  assert.ok(fundDays.filter((day) => day.redemptions !== '0.00').length > 5, 'there are redemptions');
  assert.ok(fundDays.filter((day) => day.subscriptions !== '0.00').length > 5, 'there are subscriptions');
  assert.ok(distinct(reserveDays.map((day) => day.utilisationPercent)) > 3, 'the reserve utilisation moves');
}

// --- what the page shows ---------------------------------------------------------------------------

interface ChartSnapshot {
  labels: string[];
  datasets: { apiField: string; data: (number | null)[] }[];
}

/** Reads Chart.getChart(canvas).data in the page: what the charts actually plot. */
async function chartsOf(page: Page): Promise<Record<string, ChartSnapshot>> {
  return page.evaluate((ids) => {
    const { Chart } = window as unknown as { Chart: { getChart(id: string): { data: ChartSnapshot } | undefined } };
    return Object.fromEntries(
      ids.map((id) => {
        const chart = Chart.getChart(id);
        if (!chart) throw new Error(`no chart on #${id}`);
        return [id, { labels: chart.data.labels, datasets: chart.data.datasets.map(({ apiField, data }) => ({ apiField, data })) }];
      }),
    );
  }, CHART_IDS);
}

function seriesOf(charts: Record<string, ChartSnapshot>, id: string, apiField: string): (number | null)[] {
  const dataset = charts[id]?.datasets.find((candidate) => candidate.apiField === apiField);
  assert.ok(dataset, `${id} plots ${apiField}`);
  return dataset.data;
}

function numbers(values: (string | null)[]): (number | null)[] {
  return values.map((value) => (value === null ? null : Number(value)));
}

async function tableRows(page: Page): Promise<string[][]> {
  return page.$$eval('#days-table tbody tr', (rows) => rows.map((row) => [...(row as HTMLTableRowElement).cells].map((cell) => cell.textContent ?? '')));
}

async function cardValues(page: Page): Promise<Record<string, string>> {
  return page.$$eval('.cards .figure', (cards) =>
    Object.fromEntries(cards.map((card) => [card.id, card.querySelector('[data-field="value"]')?.textContent ?? ''])),
  );
}
