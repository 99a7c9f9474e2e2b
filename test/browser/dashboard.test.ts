import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
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
import { runReconciliation } from '../../src/reconciliation/job.ts';
import { balancesOf, idempotencyKey, LOGIN_PASSWORD, newHolder, PAYMENT_PASSWORD, testApp, topUp, type Holder, type TestApp } from '../support/api.ts';
import { launchChromium, pageTrouble, serveOnLoopback, type ServedApp } from '../support/browser.ts';
import { accrueAt, addTestFund, publish, redeem, transferIn } from '../support/income.ts';
import { adjustReserve, useOwnReserve } from '../support/reserve.ts';
import { syntheticFlowsCsv } from '../../src/cli/reservePlan.ts';
import { importFlowCsv } from '../../src/planning/csv.ts';
import type { PlanView } from '../../src/planning/view.ts';

const FIRST_DAY = '2024-05-18';
const LAST_DAY = '2024-06-16';
/** The morning after LAST_DAY: the last day is accrued. */
const TODAY = '2024-06-17T09:00:00+08:00';
/** The API's default range then, the 30 days through today. */
const DEFAULT_RANGE = ['2024-05-19', '2024-06-17'];
const CHART_IDS = ['chart-yield', 'chart-aum', 'chart-flows', 'chart-reserve'];
/** What the reserve plan panel asks for (the API's default scenario and service level). */
const PLAN_PATH = '/v1/ops/reserve/plan?days=14';
/**
 * The reserve plan's tests run a year later, after a year of flows imported: the history they
 * plan from is that year alone, not a mix with the month of small trades above.
 */
const PLAN_TODAY = '2025-06-17T09:00:00+08:00';
const PLAN_HISTORY = ['2024-06-17', '2025-06-16'];
/** The reserve channels the panel's back-test shows, in order. */
const PLAN_CHANNELS = ['instant_redemption', 'payment'] as const;
/** Each screenshot's width, and its file in test/artifacts/ and (with UPDATE_README_SCREENSHOT=1) in docs/. */
const SCREENSHOTS = {
  desktop: { viewport: { width: 1280, height: 900 }, file: 'dashboard.png' },
  phone: { viewport: { width: 390, height: 844 }, file: 'dashboard-390.png' },
  planDesktop: { viewport: { width: 1280, height: 900 }, file: 'dashboard-plan.png' },
  planPhone: { viewport: { width: 390, height: 844 }, file: 'dashboard-plan-390.png' },
} as const;
const EMPTY = '—';

type Catalogue = { [key: string]: string | Catalogue };
/** The dashboard's catalogues: the page must show these very strings. */
const catalogue = (language: string) => createRequire(import.meta.url)(`../../src/dashboard/public/locales/${language}.json`) as Catalogue;
const zh = catalogue('zh-CN');
const en = catalogue('en');

/** A catalogue's text by key, with {{name}} filled in as i18next does. */
function text(messages: Catalogue, key: string, values: Record<string, string | number> = {}): string {
  const found = key.split('.').reduce<string | Catalogue>((node, part) => (node as Catalogue)[part]!, messages);
  assert.equal(typeof found, 'string', key);
  return (found as string).replace(/\{\{(\w+)\}\}/g, (_, name: string) => String(values[name]));
}

/** What the page shows for an exact amount: thousands separators, no digit lost. */
function grouped(amount: string): string {
  const [whole, fraction] = amount.split('.');
  return `${whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${fraction === undefined ? '' : `.${fraction}`}`;
}

/** A headline amount in Chinese: 万/亿 from 10,000 yuan on. */
function chineseHeadline(amount: string): string {
  return Math.abs(Number(amount)) < 10_000 ? grouped(amount) : new Intl.NumberFormat('zh-CN', { notation: 'compact', maximumFractionDigits: 2 }).format(Number(amount));
}

describe('ops dashboard in Chromium', function () {
  this.timeout(300_000);
  let t: TestApp;
  let ops: Holder;
  let fund: string;
  let reserveName: string;
  let served: ServedApp;
  let browser: Browser;
  let dates: string[];
  let holders: Holder[];

  before(async () => {
    t = testApp('2024-05-16T10:00:00+08:00');
    reserveName = useOwnReserve(t);
    fund = addTestFund(t);
    ops = await newHolder(t.app, { ops: true });
    dates = datesFrom(t, FIRST_DAY, LAST_DAY);
    holders = await tradeForAMonth(t, ops, fund, dates);
    t.clock.set(TODAY);
    // The reconciliation tile reads the latest report: one of this book's morning.
    await runReconciliation(t.ctx);
    served = await serveOnLoopback(t.app);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await served?.close();
  });

  const openSignedIn = async (context: BrowserContext): Promise<{ page: Page; trouble: string[]; planRequests: string[] }> => {
    const page = await context.newPage();
    const trouble = pageTrouble(page);
    const planRequests: string[] = [];
    page.on('request', (sent) => {
      if (new URL(sent.url()).pathname === '/v1/ops/reserve/plan') planRequests.push(sent.url());
    });
    await page.goto(`${served.baseUrl}/ops/dashboard`);
    await signIn(page, ops.loginId, LOGIN_PASSWORD);
    await page.waitForSelector('body[data-state="ready"]');
    await showFund(page, fund);
    return { page, trouble, planRequests };
  };

  /** The page (or one part of it) as it is, in test/artifacts/ and, when asked, as the docs' copy. */
  const screenshot = async (page: Page, file: string, selector?: string) => {
    const artifact = fileURLToPath(new URL(`../artifacts/${file}`, import.meta.url));
    if (selector) await page.locator(selector).screenshot({ path: artifact });
    else {
      await page.waitForSelector('#plan[data-state="ready"]'); // the whole page with its reserve plan, not the plan's loading line
      await page.screenshot({ path: artifact, fullPage: true });
    }
    // The docs' copies change only when asked, so a test run leaves the checkout clean.
    if (process.env.UPDATE_README_SCREENSHOT) {
      const docs = fileURLToPath(new URL(`../../docs/${file}`, import.meta.url));
      await mkdir(path.dirname(docs), { recursive: true });
      await copyFile(artifact, docs);
    }
  };

  it('signs in, speaks Chinese, offers the 30 days through today, and charts a month of the fund and the reserve as the database has them', async () => {
    const context = await browser.newContext({ viewport: SCREENSHOTS.desktop.viewport });
    const { page, trouble } = await openSignedIn(context);
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN', 'Chinese by default');
    assert.equal(await page.title(), text(zh, 'app.title'));
    assert.equal(await page.textContent('#card-aum h2'), text(zh, 'cards.aum'));
    assert.equal(await page.textContent('#days-table th:nth-child(9)'), text(zh, 'table.instantRedemptions'));
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
    // Money out is drawn below the axis, one stack per kind.
    const below = (values: string[]) => numbers(values).map((value) => 0 - value!);
    assert.deepEqual(seriesOf(charts, 'chart-flows', 'instantRedemptions'), below(fundDays.map((day) => day.instantRedemptions)));
    assert.deepEqual(seriesOf(charts, 'chart-flows', 'payments'), below(fundDays.map((day) => day.payments)));
    assert.deepEqual(seriesOf(charts, 'chart-flows', 'normalRedemptions'), below(fundDays.map((day) => day.normalRedemptions)));
    assert.deepEqual(seriesOf(charts, 'chart-reserve', 'utilisationPercent'), numbers(reserveDays.map((day) => day.utilisationPercent)));
    assert.deepEqual(seriesOf(charts, 'chart-reserve', 'outstanding'), numbers(reserveDays.map((day) => day.outstanding)));
    assertVaried(fundDays, reserveDays);

    const api = await request(t.app).get(`/v1/ops/reports/funds/${fund}/daily?from=${FIRST_DAY}&to=${LAST_DAY}`).set(ops.auth).expect(200);
    const residualByDate = new Map<string, string>(api.body.days.map((day: { date: string; residual: string }) => [day.date, day.residual]));
    assert.ok([...residualByDate.values()].some((residual) => residual.split('.')[1]!.length > 4), 'the API gives the residual to 10 decimals');
    const expectedRows = [...fundDays].reverse().map((day, index) => [
      day.date,
      day.yieldPer10k,
      day.sevenDayYieldCompoundPercent ?? EMPTY,
      day.sevenDayYieldSimplePercent ?? EMPTY,
      grouped(day.aum),
      String(day.holders),
      grouped(day.subscriptions),
      grouped(day.redemptions),
      grouped(day.instantRedemptions),
      grouped(day.payments),
      grouped(day.normalRedemptions),
      grouped(day.incomeDistributed),
      residualByDate.get(day.date)!.replace(/(\.\d{4})\d*$/, '$1'),
      reserveDays[reserveDays.length - 1 - index]!.utilisationPercent,
      text(zh, 'accrualStatus.accrued'),
    ]);
    assert.deepEqual(await tableRows(page), expectedRows);
    assert.deepEqual(
      await page.$$eval('#days-table tbody td:nth-child(13)', (cells) => cells.map((cell) => cell.getAttribute('title'))),
      [...fundDays].reverse().map((day) => residualByDate.get(day.date)),
      'the exact residual in the tooltip',
    );

    const { availableFen } = await reserveBalances(t.ctx);
    assert.equal(reserveDays.at(-1)!.available, formatYuan(availableFen), 'nothing moved the reserve this morning');
    const last = fundDays.at(-1)!;
    assert.deepEqual(await cardValues(page), {
      'card-yield': [last.sevenDayYieldCompoundPercent, null],
      'card-aum': [chineseHeadline(last.aum), `¥${grouped(last.aum)}`],
      'card-reserve': [chineseHeadline(formatYuan(availableFen)), `¥${grouped(formatYuan(availableFen))}`],
      'card-accrual': [LAST_DAY, null],
    });
    assert.match((await cardValues(page))['card-aum']![0]!, /万$/, 'the AUM in 万');

    assert.deepEqual(await tiles(page), {
      reserve: { level: 'ok', kind: text(zh, 'alerts.kind.reserve'), reason: text(zh, 'alerts.reason.reserve_ok', { available: grouped(formatYuan(availableFen)), size: grouped(reserveDays.at(-1)!.size) }) },
      reconciliation: await expectedReconciliationTile(),
      accrual: { level: 'ok', kind: text(zh, 'alerts.kind.accrual'), reason: text(zh, 'alerts.reason.accrual_up_to_date', { fundCode: fund }) },
      jobs: await expectedTileFromApi('jobs'),
      calendar: await expectedTileFromApi('calendar'),
    });
    assert.equal((await tiles(page)).calendar!.level, 'ok', 'the holiday schedule reaches well past 2024');

    await lookUp(page, holders[0]!.loginId);
    await screenshot(page, SCREENSHOTS.desktop.file);
    assert.deepEqual(trouble, []);
    await context.close();
  });

  /** A tile as the API's alert says, in the Chinese catalogue's words. */
  const expectedTileFromApi = async (kind: string) => {
    const { alerts } = (await request(t.app).get(`/v1/ops/alerts?fundCode=${fund}`).set(ops.auth).expect(200)).body;
    const alert = alerts.find((candidate: { kind: string }) => candidate.kind === kind);
    return { level: alert.level, kind: text(zh, `alerts.kind.${kind}`), reason: text(zh, `alerts.reason.${alert.reason}`, alert.values) };
  };

  /** The reconciliation run before the test: green when the whole journal balanced, red with its counts otherwise. */
  const expectedReconciliationTile = async () => {
    const report = await runReconciliation(t.ctx);
    const values = { balances: report.breaks.length, unbalancedOperations: report.unbalancedOperations.length };
    const clean = values.balances + values.unbalancedOperations === 0;
    return {
      level: clean ? 'ok' : 'critical',
      kind: text(zh, 'alerts.kind.reconciliation'),
      reason: text(zh, clean ? 'alerts.reason.reconciliation_clean' : 'alerts.reason.reconciliation_breaks', values),
    };
  };

  it('fits a 390 px phone: headline figures whole, tiles wrapped, wide tables scroll inside their box, the page never sideways', async () => {
    const context = await browser.newContext({ viewport: SCREENSHOTS.phone.viewport });
    const { page, trouble } = await openSignedIn(context);
    await showRange(page, FIRST_DAY, LAST_DAY);
    await lookUp(page, holders[0]!.loginId);
    await page.waitForSelector('#plan[data-state="ready"]');
    const layout = await page.evaluate(() => {
      const daysBox = document.querySelector('#days-table')!.parentElement!;
      const tileLefts = new Set([...document.querySelectorAll('.tile')].map((tile) => tile.getBoundingClientRect().left));
      return {
        pageWidth: document.documentElement.scrollWidth,
        clippedFigures: [...document.querySelectorAll('.figure-value, .figure-note, .tile')].filter((box) => box.scrollWidth > box.clientWidth + 1).map((box) => box.textContent),
        wideBoxes: [...document.querySelectorAll('.card, .tile, .table-scroll, .toolbar')].filter((box) => box.getBoundingClientRect().right > window.innerWidth + 1).map((box) => box.id || box.className),
        tilesInOneColumn: tileLefts.size === 1,
        daysTableScrollsInItsBox: daysBox.scrollWidth > daysBox.clientWidth && getComputedStyle(daysBox).overflowX === 'auto',
      };
    });
    assert.deepEqual(layout, { pageWidth: 390, clippedFigures: [], wideBoxes: [], tilesInOneColumn: true, daysTableScrollsInItsBox: true });
    await screenshot(page, SCREENSHOTS.phone.file);
    assert.deepEqual(trouble, []);
    await context.close();
  });

  it('shows a preset range and the chosen dates, and downloads the same days as CSV', async () => {
    const context = await browser.newContext({ viewport: SCREENSHOTS.desktop.viewport });
    const { page, trouble } = await openSignedIn(context);
    await page.click('[data-preset="last7"]');
    await page.waitForFunction((range) => document.getElementById('loaded-range')?.textContent?.includes(range), '2024-06-11 → 2024-06-17');
    assert.deepEqual((await chartsOf(page))['chart-aum']!.labels, datesFrom(t, '2024-06-11', '2024-06-17'), 'seven days with today');
    assert.equal(await page.getAttribute('[data-preset="last7"]', 'aria-pressed'), 'true');
    await page.click('[data-preset="lastMonth"]');
    await page.waitForFunction((range) => document.getElementById('loaded-range')?.textContent?.includes(range), '2024-05-01 → 2024-05-31');
    // Longer than one report answers (92 days): asked in two pieces and drawn as one range.
    await page.click('[data-preset="yearToDate"]');
    await page.waitForFunction((range) => document.getElementById('loaded-range')?.textContent?.includes(range), '2024-01-01 → 2024-06-17');
    const yearToDate = datesFrom(t, '2024-01-01', '2024-06-17');
    assert.deepEqual((await chartsOf(page))['chart-aum']!.labels, yearToDate);
    assert.deepEqual((await tableRows(page)).map((row) => row[0]), [...yearToDate].reverse());
    const [yearCsv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csvOf = async (from: string, to: string) => (await request(t.app).get(`/v1/ops/reports/funds/${fund}/daily?from=${from}&to=${to}&format=csv`).set(ops.auth).expect(200)).text;
    const [first, second] = [await csvOf('2024-01-01', '2024-04-01'), await csvOf('2024-04-02', '2024-06-17')];
    assert.equal(await readFile(await yearCsv.path(), 'utf8'), first + second.slice(second.indexOf('\r\n') + 2), 'one header, then every day');
    assert.equal(yearCsv.suggestedFilename(), `fund-${fund}-daily-2024-01-01-to-2024-06-17.csv`);

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

  it('switches to English and remembers it, and back to Chinese', async () => {
    const context = await browser.newContext({ viewport: SCREENSHOTS.desktop.viewport });
    const { page, trouble } = await openSignedIn(context);
    await page.selectOption('#language', 'en');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    assert.equal(await page.textContent('#card-aum h2'), text(en, 'cards.aum'));
    assert.equal(await page.textContent('[data-preset="yearToDate"]'), text(en, 'filters.preset.yearToDate'));
    const aum = await page.getAttribute('#card-aum [data-field="value"]', 'title');
    assert.equal(await page.textContent('#card-aum [data-field="value"]'), aum!.slice(1), 'English: the exact yuan, grouped');
    await page.waitForSelector('#plan[data-state="ready"]'); // a reload would abort the plan still being computed
    await page.reload();
    await page.waitForSelector('body[data-state="ready"]');
    assert.equal(await page.getAttribute('html', 'lang'), 'en', 'the choice is remembered');
    assert.equal(await page.textContent('#holder h2 span'), text(en, 'holder.heading'));
    await page.selectOption('#language', 'zh-CN');
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
    assert.equal(await page.textContent('#card-aum h2'), text(zh, 'cards.aum'));
    assert.deepEqual(trouble, []);
    await context.close();
  });

  it('looks up a holder for support: balances, operations, income and lock state as the database has them', async () => {
    const context = await browser.newContext({ viewport: SCREENSHOTS.desktop.viewport });
    const { page, trouble } = await openSignedIn(context);
    const holder = holders[1]!;
    await lookUp(page, holder.loginId);
    const balances = await balancesOf(holder.userId);
    const shownFacts = await page.$$eval('#holder-account dd', (cells) => Object.fromEntries(cells.map((cell) => [(cell as HTMLElement).dataset.field, cell.textContent])));
    assert.equal(shownFacts.wallet, `¥${grouped(formatYuan(balances.walletFen))}`);
    assert.equal(shownFacts.redeeming, `¥${grouped(formatYuan(balances.redeemingFen))}`);
    const { account } = (await request(t.app).get(`/v1/ops/holders/${holder.userId}`).set(ops.auth).expect(200)).body;
    assert.equal(shownFacts.shares, `¥${grouped(account.shares)}`, 'the shares with the income folded in, as the holder sees them');
    const operations = await Operation.find({ userId: holder.userId }).sort({ _id: -1 }).limit(20).lean<OperationDocument[]>();
    assert.deepEqual(
      await page.$$eval('#holder-operations tbody tr', (rows) => rows.map((row) => [(row as HTMLTableRowElement).cells[1]!.textContent, (row as HTMLTableRowElement).cells[3]!.textContent])),
      operations.map((op) => [text(zh, `operationType.${op.type}`), grouped(formatYuan(op.amountFen))]),
    );
    assert.equal(await page.$$eval('#holder-income tbody tr', (rows) => rows.length), 13, 'income for each of the 13 accrued days of the last 14');
    const security = await page.$$eval('#holder-security dd', (cells) => cells.map((cell) => cell.textContent));
    assert.deepEqual(security, [
      text(zh, 'holder.open', { wrong: 0, left: t.ctx.config.security.paymentPasswordMaxAttempts }),
      text(zh, 'holder.open', { wrong: 0, left: t.ctx.config.security.loginPasswordMaxAttempts }),
      '1',
    ]);
    assert.deepEqual(trouble, []);
    await context.close();
  });

  it('turns the reserve tile red with its reason when the reserve is empty', async () => {
    const booked = t.ctx.config.reserve;
    useOwnReserve(t); // a reserve never funded
    try {
      const context = await browser.newContext({ viewport: SCREENSHOTS.desktop.viewport });
      const { page, trouble } = await openSignedIn(context);
      const reserve = (await tiles(page)).reserve!;
      assert.deepEqual(reserve, { level: 'critical', kind: text(zh, 'alerts.kind.reserve'), reason: text(zh, 'alerts.reason.reserve_empty') });
      assert.equal(await page.$eval('[data-kind="reserve"]', (tile) => getComputedStyle(tile).borderLeftColor), 'rgb(196, 50, 10)', 'drawn red');
      assert.deepEqual((await cardValues(page))['card-reserve'], ['0.00', '¥0.00']);
      assert.deepEqual(trouble, []);
      await context.close();
    } finally {
      t.ctx.config = { ...t.ctx.config, reserve: booked };
    }
  });

  describe('reserve plan panel', () => {
    /** Signed in a year later: the month's sessions have expired by then. */
    let planOps: Holder;

    before(async () => {
      t.clock.set(PLAN_TODAY);
      planOps = await newHolder(t.app, { ops: true });
      await importFlowCsv(t.ctx, syntheticFlowsCsv(t.ctx, { from: PLAN_HISTORY[0]!, days: 365, seed: 25 }));
    });

    /** The plan as the API answers it now. */
    const planFromApi = async (): Promise<PlanView> => (await request(t.app).get(PLAN_PATH).set(planOps.auth).expect(200)).body;

    after(() => t.clock.set(TODAY));

    it('plans the reserve: the forecast band against the reserve available and the recommended size, as the API answers, in both languages, asked again only on recompute', async () => {
      const context = await browser.newContext({ viewport: SCREENSHOTS.planDesktop.viewport });
      const { page, trouble, planRequests } = await openSignedIn(context);
      await page.waitForSelector('#plan[data-state="ready"]');
      const plan = await planFromApi();
      const { recommendation } = plan;
      assert.ok(recommendation, 'a year of history gives a recommendation');
      assert.deepEqual([plan.history.fromDate, plan.history.toDate, plan.history.days], [...PLAN_HISTORY, 365], 'the imported year');

      const charts = await chartsOf(page, ['chart-plan']);
      const days = plan.forecast.days;
      assert.deepEqual(charts['chart-plan']!.labels, days.map((day) => day.date));
      assert.equal(days.length, 14);
      for (const edge of ['point', 'lower', 'upper'] as const) {
        assert.deepEqual(seriesOf(charts, 'chart-plan', edge), numbers(days.map((day) => day.reserveOutflow[edge])), edge);
      }
      assert.deepEqual(seriesOf(charts, 'chart-plan', 'available'), days.map(() => Number(plan.reserve.available)), 'the reserve available now, flat');
      assert.deepEqual(seriesOf(charts, 'chart-plan', 'recommended'), days.map(() => Number(recommendation.size)), 'the recommended size, flat');
      assert.ok(days.some((day) => day.reserveOutflow.lower !== day.reserveOutflow.upper), 'a band, not a line');

      const expectPanel = async (messages: Catalogue, headline: (amount: string) => string) => {
        assert.equal(await page.textContent('#plan-heading span'), text(messages, 'plan.heading'));
        assert.deepEqual(await figureOf(page, 'plan-size'), {
          title: text(messages, 'plan.size'),
          value: headline(recommendation.size),
          exact: `¥${grouped(recommendation.size)}`,
          note: `${text(messages, 'plan.sizeNote', { shards: recommendation.shards, leaseMax: grouped(recommendation.leaseMax), served: recommendation.servedPercent, level: recommendation.serviceLevelPercent })} · ${text(messages, recommendation.tight ? 'plan.tight' : 'plan.notTight', { served: recommendation.smallerServedPercent })}`,
        });
        const coverageNote = text(messages, 'plan.coverageNote', { through: plan.coverage.through, need: grouped(plan.coverage.need), settle: plan.coverage.peakSettleDate!, size: grouped(plan.coverage.size) });
        assert.deepEqual(await figureOf(page, 'plan-coverage'), {
          title: text(messages, 'plan.coverage', { days: plan.coverage.tradingDays }),
          value: text(messages, plan.coverage.covered ? 'plan.yes' : 'plan.no'),
          exact: null,
          note: coverageNote,
        });
        assert.equal(await page.$eval('#plan-coverage [data-field="note"]', (note) => note.querySelector('.flag')?.textContent ?? null), plan.coverage.covered ? null : coverageNote, 'flagged when not covered');
        assert.equal((await figureOf(page, 'plan-served')).value, String(plan.current.servedPercent));
        assert.deepEqual(
          await page.$$eval('#plan-backtest-table tbody tr', (rows) => rows.map((row) => [...(row as HTMLTableRowElement).cells].map((cell) => cell.textContent))),
          PLAN_CHANNELS.map((channel) => {
            const { mapePercent, naiveMapePercent, coveragePercent } = plan.backtest.channels[channel];
            return [text(messages, `operationType.${channel}`), ...[mapePercent, naiveMapePercent, coveragePercent].map((percent) => `${percent!.toFixed(1)}%`)];
          }),
        );
      };
      await expectPanel(zh, chineseHeadline);
      assert.equal(plan.coverage.covered, false, 'a reserve of some 24,000 yuan does not cover a fund of millions');
      assert.match((await figureOf(page, 'plan-size')).value, /万|亿/, 'the size in 万 or 亿');

      // The other figures refresh without asking for a plan; a language switch redraws the one it has.
      await showRange(page, FIRST_DAY, LAST_DAY);
      await page.selectOption('#language', 'en');
      await page.waitForFunction(() => document.documentElement.lang === 'en');
      await expectPanel(en, grouped);
      assert.equal(planRequests.length, 1, 'one plan, asked when the dashboard opened');
      await screenshot(page, SCREENSHOTS.planDesktop.file, '#plan');

      await page.click('#plan-recompute');
      await page.waitForSelector('#plan[data-state="loading"]');
      assert.equal(await page.isDisabled('#plan-recompute'), true, 'no second plan while one is computed');
      assert.equal(await page.textContent('#plan-status'), text(en, 'plan.loading'));
      await page.waitForSelector('#plan[data-state="ready"]');
      assert.equal(planRequests.length, 2, 'recompute asks again');
      assert.equal((await figureOf(page, 'plan-size')).value, grouped((await planFromApi()).recommendation!.size));
      await page.selectOption('#language', 'zh-CN');
      await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
      assert.deepEqual(trouble, []);
      await context.close();
    });

    it('fits the reserve plan on a 390 px phone: chart and figures the width of the screen, nothing clipped', async () => {
      const context = await browser.newContext({ viewport: SCREENSHOTS.planPhone.viewport });
      const { page, trouble } = await openSignedIn(context);
      await page.waitForSelector('#plan[data-state="ready"]');
      const layout = await page.evaluate(() => ({
        pageWidth: document.documentElement.scrollWidth,
        clipped: [...document.querySelectorAll('#plan .figure, #plan .figure-value, #plan .figure-note')].filter((box) => box.scrollWidth > box.clientWidth + 1).map((box) => box.textContent),
        wide: [...document.querySelectorAll('#plan, #plan .figure, #chart-plan')].filter((box) => box.getBoundingClientRect().right > window.innerWidth + 1).map((box) => box.id || box.className),
      }));
      assert.deepEqual(layout, { pageWidth: SCREENSHOTS.planPhone.viewport.width, clipped: [], wide: [] });
      await screenshot(page, SCREENSHOTS.planPhone.file, '#plan');
      assert.deepEqual(trouble, []);
      await context.close();
    });

    it('shows a plan without a recommendation as such, and a plan that fails with the problem\'s detail', async () => {
      const context = await browser.newContext({ viewport: SCREENSHOTS.desktop.viewport });
      // The server's own answer, its recommendation taken away: what a history no size serves gives.
      await context.route(`**${PLAN_PATH}`, async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, json: { ...(await response.json()), recommendation: null } });
      });
      const { page, trouble } = await openSignedIn(context);
      await page.waitForSelector('#plan[data-state="ready"]');
      assert.deepEqual(await figureOf(page, 'plan-size'), { title: text(zh, 'plan.size'), value: EMPTY, exact: null, note: text(zh, 'plan.noRecommendation') });
      assert.equal(await page.textContent('#plan-size .flag'), text(zh, 'plan.noRecommendation'), 'flagged');
      const plotted = (await chartsOf(page, ['chart-plan']))['chart-plan']!.datasets.map((dataset) => dataset.apiField);
      assert.deepEqual(plotted, ['upper', 'lower', 'point', 'available'], 'no recommended line');

      // Recompute, asked for a scenario the server refuses: its real problem, shown in the panel.
      await context.unroute(`**${PLAN_PATH}`);
      const refused = `${PLAN_PATH}&scenario=run:lots`;
      await context.route(`**${PLAN_PATH}`, (route) => route.continue({ url: `${served.baseUrl}${refused}` }));
      const problem = (await request(t.app).get(refused).set(planOps.auth).set('Accept-Language', 'zh-CN').expect(400)).body;
      await page.click('#plan-recompute');
      await page.waitForSelector('#plan[data-state="error"]');
      assert.equal(await page.textContent('#plan-error'), text(zh, 'plan.failed', { detail: problem.detail }));
      assert.equal(await page.isVisible('#plan-error'), true);
      assert.equal(await page.isVisible('#plan-body'), false, 'no stale plan under the error');
      assert.equal(await page.isDisabled('#plan-recompute'), false, 'recompute can be tried again');
      assert.deepEqual(
        trouble.filter((line) => !/status of 400/.test(line)),
        [`HTTP 400: GET ${served.baseUrl}${refused}`],
        'nothing but the refused plan went wrong',
      );
      await context.close();
    });
  });

  it('turns away a wrong password and a holder without the ops role with a clear message', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const trouble = pageTrouble(page);
    await page.goto(`${served.baseUrl}/ops/dashboard`);
    await signIn(page, ops.loginId, 'not the password');
    await page.waitForSelector('#signin-error:not([hidden])');
    assert.equal(await page.textContent('#signin-error'), text(zh, 'signin.wrong'));

    const holder = await newHolder(t.app);
    await signIn(page, holder.loginId, LOGIN_PASSWORD);
    const notOps = text(zh, 'signin.notOps', { loginId: holder.loginId });
    await page.waitForFunction((message) => document.getElementById('signin-error')?.textContent === message, notOps);
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

  it('serves the page, its assets and catalogues as files with no inline script, and keeps the reports behind the ops token', async () => {
    const page = await request(t.app).get('/ops/dashboard').expect(200).expect('Content-Type', /text\/html/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'(;|$)/, 'the page runs under the same-origin script policy');
    const scripts = [...page.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)].map(([, attributes, body]) => ({ attributes, body }));
    assert.equal(scripts.length, 3);
    for (const { attributes, body } of scripts) {
      assert.match(attributes!, /\ssrc="\/ops\/assets\/[\w.]+\.js"/, 'every script is a file');
      assert.equal(body, '', 'no inline script body');
    }
    assert.doesNotMatch(page.text, /\son[a-z]+\s*=/i, 'no inline event handler');
    const chartJs = await request(t.app).get('/ops/assets/chart.umd.js').expect(200).expect('Content-Type', /javascript/);
    assert.match(chartJs.text, /window\.Chart=/);
    const i18nextJs = await request(t.app).get('/ops/assets/i18next.min.js').expect(200).expect('Content-Type', /javascript/);
    assert.match(i18nextJs.text, /i18next/);
    for (const language of ['zh-CN', 'en']) {
      const served = await request(t.app).get(`/ops/assets/locales/${language}.json`).expect(200).expect('Content-Type', /json/);
      assert.deepEqual(served.body, catalogue(language));
    }
    assert.deepEqual(keysOf(zh), keysOf(en), 'both catalogues have every message');
    const script = await request(t.app).get('/ops/assets/dashboard.js').expect(200).expect('Content-Type', /javascript/);
    assert.doesNotMatch(script.text, /(['"`])[^'"`\n]*[\u4e00-\u9fff][^'"`\n]*\1/, 'no Chinese string in the script: the texts are all in the catalogues');
    await request(t.app).get('/ops/assets/dashboard.css').expect(200).expect('Content-Type', /text\/css/);
    await request(t.app).get('/ops/assets/routes.ts').expect(404);
    await request(t.app).get('/ops/assets/..%2Froutes.ts').expect(404);
    await request(t.app).get('/ops/assets/i18next.js').expect(404);
    await request(t.app).get(`/v1/ops/reports/funds/${fund}/daily`).expect(401);
    const openApi = await request(t.app).get('/openapi.json').expect(200);
    assert.ok(openApi.body.paths['/ops/dashboard'].get.responses['200'].content['text/html'], 'the page is documented');
  });
});

function keysOf(messages: Catalogue, prefix = ''): string[] {
  return Object.entries(messages)
    .flatMap(([key, value]) => (typeof value === 'string' ? [`${prefix}${key}`] : keysOf(value, `${prefix}${key}.`)))
    .sort();
}

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

async function lookUp(page: Page, loginId: string): Promise<void> {
  await page.fill('#holder-query', loginId);
  await page.click('#holder-submit');
  await page.waitForFunction((id) => document.getElementById('holder-who')?.textContent?.startsWith(`${id} `), loginId);
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
async function tradeForAMonth(t: TestApp, ops: Holder, fund: string, dates: string[]): Promise<Holder[]> {
  const holders: Holder[] = [];
  const merchant = await request(t.app).post('/v1/ops/merchants').set(ops.auth).send({ name: '楼下便利店' }).expect(201);
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
    await tradeOneDay(t, holders, fund, index, merchant.body.id);
    await publish(t, ops, fund, date, yieldOfDay(index));
    await accrueAt(t, fund, date);
  }
  return holders;
}

/** A 万份收益 that moves from day to day, between 0.3900 and 0.4350. */
function yieldOfDay(index: number): string {
  return formatScaled(3900n + BigInt((index * 7) % 11) * 45n, 4);
}

async function tradeOneDay(t: TestApp, holders: Holder[], fund: string, index: number, merchantId: string): Promise<void> {
  if (index % 5 !== 4) await transferIn(t.app, holders[index % 3]!, fund, `${500 + 125 * (index % 7)}.00`);
  if (index % 4 === 1) await redeem(t.app, holders[(index + 1) % 3]!, `${200 + 40 * (index % 5)}.50`);
  if (index % 3 === 0) await instantRedeem(t, holders[(index / 3) % 3]!, `${1000 + 300 * (index % 4)}.00`);
  if (index % 4 === 2) await pay(t, holders[index % 3]!, merchantId, `${80 + 15 * (index % 6)}.30`);
}

async function pay(t: TestApp, holder: Holder, merchantId: string, amount: string): Promise<void> {
  await request(t.app)
    .post('/v1/me/payments')
    .set(holder.auth)
    .set('Idempotency-Key', idempotencyKey())
    .send({ amount, merchantId, paymentPassword: PAYMENT_PASSWORD })
    .expect(201);
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
  instantRedemptions: string;
  payments: string;
  normalRedemptions: string;
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
      instantRedemptions: flow(date, ['instant_redemption']),
      payments: flow(date, ['payment']),
      normalRedemptions: flow(date, ['redemption']),
    };
  });
}

interface ReserveFigures {
  date: string;
  size: string;
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
      size: formatYuan(sizeFen),
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
  for (const kind of ['instantRedemptions', 'payments', 'normalRedemptions'] as const) {
    assert.ok(fundDays.filter((day) => day[kind] !== '0.00').length > 5, `there are ${kind}`);
  }
  assert.ok(fundDays.filter((day) => day.subscriptions !== '0.00').length > 5, 'there are subscriptions');
  assert.ok(distinct(reserveDays.map((day) => day.utilisationPercent)) > 3, 'the reserve utilisation moves');
}

// --- what the page shows ---------------------------------------------------------------------------

interface ChartSnapshot {
  labels: string[];
  datasets: { apiField: string; data: (number | null)[] }[];
}

/** Reads Chart.getChart(canvas).data in the page: what the charts actually plot. */
async function chartsOf(page: Page, chartIds: readonly string[] = CHART_IDS): Promise<Record<string, ChartSnapshot>> {
  return page.evaluate((ids) => {
    const { Chart } = window as unknown as { Chart: { getChart(id: string): { data: ChartSnapshot } | undefined } };
    return Object.fromEntries(
      ids.map((id) => {
        const chart = Chart.getChart(id);
        if (!chart) throw new Error(`no chart on #${id}`);
        return [id, { labels: chart.data.labels, datasets: chart.data.datasets.map(({ apiField, data }) => ({ apiField, data })) }];
      }),
    );
  }, chartIds);
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

/** Each headline card's figure and its tooltip (the exact yuan, where the figure is shortened). */
async function cardValues(page: Page): Promise<Record<string, [string, string | null]>> {
  return page.$$eval('.cards .figure', (cards) =>
    Object.fromEntries(
      cards.map((card) => {
        const value = card.querySelector('[data-field="value"]')!;
        return [card.id, [value.textContent ?? '', value.getAttribute('title')]];
      }),
    ),
  );
}

interface Tile {
  level: string;
  kind: string;
  reason: string;
}

async function tiles(page: Page): Promise<Record<string, Tile>> {
  return page.$$eval('#alerts .tile', (found) =>
    Object.fromEntries(
      found.map((tile) => [
        (tile as HTMLElement).dataset.kind,
        { level: (tile as HTMLElement).dataset.level, kind: tile.querySelector('h3')!.textContent, reason: tile.querySelector('.tile-reason')!.textContent },
      ]),
    ),
  );
}

/** One of the reserve plan's figures: its heading, value, the value's exact tooltip, and its note. */
async function figureOf(page: Page, id: string): Promise<{ title: string; value: string; exact: string | null; note: string }> {
  return page.$eval(`#${id}`, (figure) => {
    const value = figure.querySelector('[data-field="value"]');
    return {
      title: figure.querySelector('h3')!.textContent ?? '',
      value: value?.textContent ?? '',
      exact: value?.getAttribute('title') ?? null,
      note: figure.querySelector('[data-field="note"]')!.textContent ?? '',
    };
  });
}
