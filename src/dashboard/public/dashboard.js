// The ops dashboard. It signs in through POST /v1/sessions, keeps the bearer token in
// sessionStorage (so it dies with the tab), shows the alerts, draws the ops reports with
// Chart.js and looks up holders for support. Chart.js and i18next are served by the service
// from their packages (/ops/assets/chart.umd.js, /ops/assets/i18next.min.js: globals); every
// text comes from the catalogues in /ops/assets/locales/. No inline scripts: the
// Content-Security-Policy allows same-origin script files only.
const { Chart, i18next } = window;

const TOKEN_KEY = 'moneyfund.ops.token';
const LOGIN_KEY = 'moneyfund.ops.loginId';
/** The language chosen with the switch, kept across visits. */
const LANGUAGE_KEY = 'moneyfund.ops.language';
const LANGUAGES = ['zh-CN', 'en'];
// Chinese until someone picks English: the desk works in Chinese, whatever language a browser was installed in.
const DEFAULT_LANGUAGE = 'zh-CN';
/** The reports answer at most this many days a request: longer ranges are asked in pieces. */
const REPORT_DAYS_MAX = 92;
const COLORS = { blue: '#1456d8', orange: '#e8590c', teal: '#0ca678', red: '#e03131', violet: '#7048e8', amber: '#f59f00', rose: '#c2255c' };
const EMPTY = '—';

const $ = (id) => document.getElementById(id);
const t = (key, values) => i18next.t(key, values);
const charts = {};
/** The last answers drawn, so a language switch redraws them without asking again. */
const shown = { daily: null, reserve: null, accrual: null, alerts: null, holder: null, clock: null, plan: null, planError: null };
/** Today in the service's zone, as the reports' default range ends: the service's clock, not the browser's. */
let today = null;

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail ?? `HTTP ${status}`);
    this.status = status;
    this.code = problem.code;
  }
}

async function api(path, { method = 'GET', body, accept = 'application/json' } = {}) {
  const headers = { Accept: accept, 'Accept-Language': i18next.language };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
  return accept === 'application/json' ? response.json() : response;
}

// --- language ------------------------------------------------------------------------------

async function startI18n() {
  const stored = localStorage.getItem(LANGUAGE_KEY);
  const language = LANGUAGES.includes(stored) ? stored : DEFAULT_LANGUAGE;
  const catalogues = await Promise.all(LANGUAGES.map((code) => fetch(`/ops/assets/locales/${code}.json`).then((response) => response.json())));
  const resources = Object.fromEntries(LANGUAGES.map((code, index) => [code, { translation: catalogues[index] }]));
  // Texts go into the page as textContent, never as HTML: nothing to escape.
  await i18next.init({ lng: language, fallbackLng: DEFAULT_LANGUAGE, resources, interpolation: { escapeValue: false } });
  translatePage();
}

function translatePage() {
  document.documentElement.lang = i18next.language;
  $('language').value = i18next.language;
  for (const element of document.querySelectorAll('[data-i18n]')) element.textContent = t(element.dataset.i18n);
  for (const element of document.querySelectorAll('[data-i18n-label]')) element.setAttribute('aria-label', t(element.dataset.i18nLabel));
  const loginId = sessionStorage.getItem(LOGIN_KEY);
  if (loginId) $('session-user').textContent = t('session.signedInAs', { loginId });
}

async function switchLanguage(language) {
  localStorage.setItem(LANGUAGE_KEY, language);
  await i18next.changeLanguage(language);
  translatePage();
  if (shown.daily) render();
  if (shown.holder) renderHolder(shown.holder);
  renderSandboxClock();
  renderPlan();
}

// --- figures as people read them -------------------------------------------------------------

const chinese = () => i18next.language === 'zh-CN';

/** "1234567.891" → "1,234,567.891": grouped as text, so no digit of an exact amount is lost to a float. */
function grouped(text) {
  const [, sign, whole, fraction] = /^(-?)(\d+)(\.\d+)?$/.exec(String(text)) ?? [];
  if (whole === undefined) return String(text);
  return `${sign}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${fraction ?? ''}`;
}

/** An exact amount for tables and tooltips: the API's yuan with thousands separators. */
const yuan = (text) => (text === null || text === undefined ? EMPTY : grouped(text));

/** A headline amount: in Chinese, 万 and 亿 from 10,000 on (the exact yuan goes in a tooltip). */
function headlineYuan(text) {
  const amount = Number(text);
  if (!chinese() || Math.abs(amount) < 10_000) return grouped(text);
  return new Intl.NumberFormat('zh-CN', { notation: 'compact', maximumFractionDigits: 2 }).format(amount);
}

/** Axis ticks: short, 50万 or 500K; the tooltips carry the exact figure. */
const axisNumber = (value) => new Intl.NumberFormat(i18next.language, { notation: 'compact', maximumFractionDigits: 2 }).format(value);

/** The residual keeps 10 decimals of a yuan; 4 are shown, truncated, and the rest is in the tooltip. */
function residual(text) {
  if (text === null || text === undefined) return EMPTY;
  const [whole, fraction = ''] = String(text).split('.');
  return grouped(fraction ? `${whole}.${fraction.slice(0, 4)}` : whole);
}

/** An instant in Beijing time, as the API's twin gives it: "2024-06-17 09:00". */
const beijingMinute = (twin) => (twin ? twin.slice(0, 16).replace('T', ' ') : EMPTY);

// --- dates -----------------------------------------------------------------------------------

const utc = (date) => new Date(`${date}T00:00:00Z`);
const isoDate = (instant) => instant.toISOString().slice(0, 10);
const addDays = (date, days) => isoDate(new Date(utc(date).getTime() + days * 86_400_000));

/** The presets, all through today (the service's today) except last month. */
const PRESETS = {
  last7: (day) => [addDays(day, -6), day],
  last30: (day) => [addDays(day, -29), day],
  last90: (day) => [addDays(day, -89), day],
  thisMonth: (day) => [`${day.slice(0, 7)}-01`, day],
  lastMonth: (day) => {
    const lastDay = addDays(`${day.slice(0, 7)}-01`, -1);
    return [`${lastDay.slice(0, 7)}-01`, lastDay];
  },
  yearToDate: (day) => [`${day.slice(0, 4)}-01-01`, day],
};

/** from..to as ranges of at most REPORT_DAYS_MAX days, oldest first. */
function pieces(from, to) {
  const ranges = [];
  for (let start = from; start <= to; start = addDays(start, REPORT_DAYS_MAX)) {
    const end = addDays(start, REPORT_DAYS_MAX - 1);
    ranges.push([start, end < to ? end : to]);
  }
  return ranges;
}

// --- signing in and out ---------------------------------------------------------------

function showSignIn(message) {
  $('dashboard').hidden = true;
  $('session').hidden = true;
  $('signin-panel').hidden = false;
  $('signin-error').hidden = !message;
  $('signin-error').textContent = message ?? '';
  $('login-id').focus();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(LOGIN_KEY);
  showSignIn(message);
}

async function signIn(event) {
  event.preventDefault();
  const loginId = $('login-id').value.trim();
  const submit = $('signin-submit');
  submit.disabled = true;
  try {
    const session = await api('/v1/sessions', { method: 'POST', body: { loginId, loginPassword: $('login-password').value } });
    sessionStorage.setItem(TOKEN_KEY, session.token);
    sessionStorage.setItem(LOGIN_KEY, loginId);
    $('login-password').value = '';
    await openDashboard();
  } catch (error) {
    showSignIn(error.status === 401 ? t('signin.wrong') : error.message);
  } finally {
    submit.disabled = false;
  }
}

/** A 401 ends the session; a 403 means the account is not ops: both go back to the sign-in form. */
function failedAccess(error) {
  if (error.status !== 401 && error.status !== 403) return false;
  // The first refusal of the requests sent together ends the session and says why; a later one
  // (the plan's, say) finds it ended and must not overwrite that with a login it no longer knows.
  if (!sessionStorage.getItem(TOKEN_KEY)) return true;
  const loginId = sessionStorage.getItem(LOGIN_KEY);
  signOut(error.status === 401 ? t('signin.ended') : t('signin.notOps', { loginId }));
  return true;
}

// --- loading ---------------------------------------------------------------------------

async function openDashboard() {
  $('signin-panel').hidden = true;
  $('session').hidden = false;
  translatePage();
  const { funds } = await api('/v1/funds');
  $('fund').replaceChildren(...funds.map((fund) => new Option(`${fund.code} · ${fund.name}`, fund.code)));
  loadPlan(); // seconds of the server's CPU: once here and on "recompute", never with the other figures
  await Promise.all([refresh(), showSandboxClock()]);
}

// --- the sandbox's test clock -----------------------------------------------------------

/** The moves the clock's buttons ask for (POST /v1/ops/sandbox/clock). */
const CLOCK_MOVES = { cutoff: { to: '15:00' }, nextTradingDay: { to: 'next-trading-day' }, oneDay: { days: 1 } };

/** Only the sandbox has a test clock (its page says so): elsewhere the panel stays hidden. */
async function showSandboxClock() {
  if (document.body.dataset.sandbox !== 'true') return;
  shown.clock = await api('/v1/ops/sandbox/clock');
  $('sandbox-clock').hidden = false;
  renderSandboxClock();
}

function renderSandboxClock() {
  const { clock } = shown;
  if (!clock) return;
  $('sandbox-now').textContent = t('sandbox.now', { local: clock.local.replace('T', ' '), zone: clock.zone, tradeDate: clock.tradeDate });
  const ran = clock.ran;
  const accrued = ran ? ran.accrued.reduce((days, fund) => days + fund.dates.length, 0) : 0;
  $('sandbox-ran').textContent = ran ? t('sandbox.ran', { confirmed: ran.confirmed, settled: ran.settled, accrued }) : '';
}

/** Moves the clock, then shows the days through the new today (the default range). */
async function moveSandboxClock(move) {
  const buttons = document.querySelectorAll('[data-clock-move]');
  for (const button of buttons) button.disabled = true;
  try {
    shown.clock = await api('/v1/ops/sandbox/clock', { method: 'POST', body: CLOCK_MOVES[move] });
    renderSandboxClock();
    $('from').value = '';
    $('to').value = '';
    await refresh();
  } catch (error) {
    if (!failedAccess(error)) showDashboardError(error.message);
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

/** The fund report for from..to, asked in pieces the API allows and put back together. */
async function fundDaily(fundCode, range) {
  const path = `/v1/ops/reports/funds/${encodeURIComponent(fundCode)}/daily`;
  if (!range) return api(path);
  const parts = await Promise.all(pieces(...range).map(([from, to]) => api(`${path}?${new URLSearchParams({ from, to })}`)));
  return { ...parts[0], from: range[0], to: range[1], days: parts.flatMap((part) => part.days) };
}

async function reserveDaily(range) {
  if (!range) return api('/v1/ops/reports/reserve/daily');
  const parts = await Promise.all(pieces(...range).map(([from, to]) => api(`/v1/ops/reports/reserve/daily?${new URLSearchParams({ from, to })}`)));
  return { ...parts.at(-1), from: range[0], to: range[1], days: parts.flatMap((part) => part.days) };
}

/** The dates asked, or none: the API's default (the 30 days through today, Beijing time). */
function askedRange() {
  const from = $('from').value;
  const to = $('to').value;
  return from && to ? [from, to] : null;
}

async function refresh() {
  const fundCode = $('fund').value;
  const range = askedRange();
  document.body.dataset.state = 'loading';
  $('apply').disabled = true;
  try {
    const [daily, reserve, accrual, { alerts }] = await Promise.all([
      fundDaily(fundCode, range),
      reserveDaily(range),
      api(`/v1/ops/funds/${encodeURIComponent(fundCode)}/accrual`),
      api(`/v1/ops/alerts?${new URLSearchParams({ fundCode })}`),
    ]);
    if (!range) today = daily.to;
    Object.assign(shown, { daily, reserve, accrual, alerts });
    render();
    document.body.dataset.state = 'ready';
  } catch (error) {
    document.body.dataset.state = 'error';
    if (!failedAccess(error)) showDashboardError(error.message);
  } finally {
    $('apply').disabled = false;
  }
}

function choosePreset(name) {
  if (!today) return;
  const [from, to] = PRESETS[name](today);
  $('from').value = from;
  $('to').value = to;
  refresh();
}

function showDashboardError(message) {
  $('dashboard').hidden = false;
  $('dashboard-error').hidden = false;
  $('dashboard-error').textContent = message;
}

function render() {
  const { daily, reserve, accrual, alerts } = shown;
  $('dashboard').hidden = false;
  $('dashboard-error').hidden = true;
  $('from').value = daily.from;
  $('to').value = daily.to;
  $('loaded-range').textContent = t('filters.loaded', { fundCode: daily.fundCode, from: daily.from, to: daily.to, count: daily.days.length });
  for (const chip of document.querySelectorAll('[data-preset]')) {
    const [from, to] = today ? PRESETS[chip.dataset.preset](today) : [];
    chip.setAttribute('aria-pressed', String(from === daily.from && to === daily.to));
  }
  const reserveByDate = new Map(reserve.days.map((day) => [day.date, day]));
  renderAlerts(alerts);
  renderCards(daily.days, reserve.current, accrual);
  renderCharts(daily.days, reserve.days);
  renderTable(daily.days, reserveByDate);
}

// --- alert tiles ---------------------------------------------------------------------------

/** The figures an alert names, as its sentence shows them: amounts grouped. */
const ALERT_AMOUNTS = new Set(['available', 'size']);

function renderAlerts(alerts) {
  const tiles = alerts.map((alert) => {
    const tile = document.createElement('article');
    tile.className = `tile tile-${alert.level}`;
    tile.dataset.kind = alert.kind;
    tile.dataset.level = alert.level;
    const values = Object.fromEntries(Object.entries(alert.values).map(([name, value]) => [name, ALERT_AMOUNTS.has(name) ? yuan(value) : value]));
    const head = element('div', 'tile-head');
    head.append(element('h3', '', t(`alerts.kind.${alert.kind}`)), element('span', 'tile-level', t(`alerts.level.${alert.level}`)));
    tile.append(head, element('p', 'tile-reason', t(`alerts.reason.${alert.reason}`, values)));
    return tile;
  });
  $('alerts').replaceChildren($('alerts-heading'), ...tiles);
}

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

// --- headline figures --------------------------------------------------------------------

function setCard(id, value, note, exact) {
  const card = $(id);
  const shownValue = card.querySelector('[data-field="value"]');
  shownValue.textContent = value;
  if (exact) shownValue.title = `¥${exact}`;
  else shownValue.removeAttribute('title');
  card.querySelector('[data-field="note"]').replaceChildren(...note);
}

/** The newest day of the range with the field filled in. */
function latestWith(days, field) {
  return days.findLast((day) => day[field] !== null);
}

function renderCards(days, reserveNow, accrual) {
  const yieldDay = latestWith(days, 'sevenDayYieldCompoundPercent');
  setCard(
    'card-yield',
    yieldDay?.sevenDayYieldCompoundPercent ?? EMPTY,
    [yieldDay ? t('cards.yieldNote', { simple: yieldDay.sevenDayYieldSimplePercent, date: yieldDay.date }) : t('cards.yieldNone')],
  );
  const aumDay = latestWith(days, 'aum');
  setCard(
    'card-aum',
    aumDay ? headlineYuan(aumDay.aum) : EMPTY,
    [aumDay ? t('cards.aumNote', { holders: aumDay.holders.toLocaleString(i18next.language), date: aumDay.date }) : t('cards.aumNone')],
    aumDay && yuan(aumDay.aum),
  );
  const reserveNote = [t('cards.reserveNote', { utilisation: reserveNow.utilisationPercent, size: yuan(reserveNow.size) })];
  if (reserveNow.lowWater) reserveNote.push(' · ', flag(t('cards.lowWater', { percent: reserveNow.lowWaterPercent })));
  setCard('card-reserve', headlineYuan(reserveNow.available), reserveNote, yuan(reserveNow.available));
  const next = accrual.blocked
    ? t('cards.accrualBlocked', { date: accrual.nextDate })
    : accrual.nextDate
      ? t('cards.accrualNext', { date: accrual.nextDate, status: t(`accrualStatus.${accrual.nextStatus}`) })
      : t('cards.accrualNothing');
  setCard('card-accrual', accrual.lastAccruedDate ?? t('cards.accrualNone'), [accrual.blocked ? flag(next) : next]);
}

function flag(text) {
  return element('span', 'flag', text);
}

// --- charts ------------------------------------------------------------------------------

Chart.defaults.animation = false; // an ops console redraws on demand; nothing to animate
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.color = '#667085';
Chart.defaults.plugins.legend.labels.boxWidth = 12;

/** Charts plot numbers; tooltips show the API's own strings (`apiValues`), grouped. */
function series(days, field, label, color, options = {}) {
  const apiValues = days.map((day) => day[field]);
  return {
    label,
    apiField: field,
    apiValues,
    data: apiValues.map((value) => (value === null ? null : Number(value))),
    borderColor: color,
    backgroundColor: `${color}33`,
    pointRadius: 2,
    borderWidth: 2,
    tension: 0.25,
    ...options,
  };
}

function axis(title, position = 'left', extra = {}) {
  return { position, title: { display: true, text: title }, grid: { drawOnChartArea: position === 'left' }, ...extra };
}

/** An axis of yuan: 50万 or 500K on its ticks. */
function yuanAxis(title, position = 'left', extra = {}) {
  return axis(title, position, { ticks: { callback: (value) => axisNumber(value) }, ...extra });
}

const xAxis = {
  ticks: {
    maxRotation: 0,
    autoSkipPadding: 12,
    callback(value) {
      return this.getLabelForValue(value).slice(5); // MM-dd: the year is in the range above
    },
  },
  grid: { display: false },
};

const tooltip = {
  callbacks: {
    label: (item) => `${item.dataset.label}: ${yuan(item.dataset.apiValues[item.dataIndex])}`,
  },
};

function drawChart(id, type, labels, datasets, scales) {
  charts[id]?.destroy();
  charts[id] = new Chart($(id), {
    type,
    data: { labels, datasets },
    options: {
      interaction: { mode: 'index', intersect: false },
      plugins: { tooltip },
      scales: { x: { ...xAxis, stacked: type === 'bar' && datasets.some((dataset) => dataset.stack) }, ...scales },
    },
  });
}

function renderCharts(days, reserveDays) {
  const labels = days.map((day) => day.date);
  drawChart(
    'chart-yield',
    'line',
    labels,
    [
      series(days, 'yieldPer10k', t('charts.yieldPer10k'), COLORS.blue, { yAxisID: 'y' }),
      series(days, 'sevenDayYieldCompoundPercent', t('charts.sevenDay'), COLORS.orange, { yAxisID: 'percent' }),
    ],
    { y: axis(t('charts.yieldAxis')), percent: axis(t('charts.percentAxis'), 'right') },
  );
  drawChart('chart-aum', 'line', labels, [series(days, 'aum', t('charts.aumSeries'), COLORS.violet, { fill: 'origin' })], { y: yuanAxis('¥') });
  // Money in stacks above the axis; money out below it, by kind: instant, payment, normal.
  const outflow = (field, color) => {
    const drawn = series(days, field, t(`charts.${field}`), color, { backgroundColor: color, stack: 'out' });
    return { ...drawn, data: drawn.data.map((value) => (value === null ? null : 0 - value)) }; // 0 - 0 is +0
  };
  drawChart(
    'chart-flows',
    'bar',
    labels,
    [
      series(days, 'subscriptions', t('charts.subscriptions'), COLORS.teal, { backgroundColor: COLORS.teal, stack: 'in' }),
      outflow('instantRedemptions', COLORS.red),
      outflow('payments', COLORS.amber),
      outflow('normalRedemptions', COLORS.rose),
    ],
    { y: yuanAxis('¥', 'left', { stacked: true }) },
  );
  drawChart(
    'chart-reserve',
    'line',
    reserveDays.map((day) => day.date),
    [
      series(reserveDays, 'utilisationPercent', t('charts.utilisation'), COLORS.orange, { yAxisID: 'y', fill: 'origin' }),
      series(reserveDays, 'outstanding', t('charts.outstanding'), COLORS.blue, { type: 'bar', yAxisID: 'yuan', backgroundColor: `${COLORS.blue}55` }),
    ],
    { y: axis(t('charts.utilisationAxis'), 'left', { beginAtZero: true }), yuan: yuanAxis(t('charts.outstandingAxis'), 'right', { beginAtZero: true }) },
  );
}

// --- reserve plan ------------------------------------------------------------------------------

/** The plan the panel asks for: the API's defaults (scenario forecast-upper, service level 99.9%) over two weeks. */
const PLAN_PATH = '/v1/ops/reserve/plan?days=14';
/** Each plan request's number: an answer that is not the latest one asked is dropped. */
let planRequests = 0;

/** A plan takes seconds (a worker thread on the server), so it is asked for only here. */
async function loadPlan() {
  const asked = ++planRequests;
  shown.planError = null;
  // A plan already drawn stays, dimmed, until the new one replaces it.
  $('plan').dataset.state = 'loading';
  $('plan-recompute').disabled = true;
  renderPlan();
  try {
    const plan = await api(PLAN_PATH);
    if (asked !== planRequests) return;
    shown.plan = plan;
    $('plan').dataset.state = 'ready';
  } catch (error) {
    if (asked !== planRequests || failedAccess(error)) return;
    Object.assign(shown, { plan: null, planError: error.message });
    $('plan').dataset.state = 'error';
  } finally {
    if (asked === planRequests) $('plan-recompute').disabled = false;
  }
  renderPlan();
}

function renderPlan() {
  const { plan, planError } = shown;
  $('plan-error').hidden = !planError;
  $('plan-error').textContent = planError ? t('plan.failed', { detail: planError }) : '';
  $('plan-body').hidden = !plan;
  const loading = $('plan').dataset.state === 'loading';
  $('plan-status').textContent = loading
    ? t('plan.loading')
    : plan
      ? t('plan.status', { scenario: plan.scenario.name, days: plan.history.days, from: plan.history.fromDate ?? EMPTY, to: plan.history.toDate ?? EMPTY, method: t(`plan.method.${plan.forecast.method}`), seconds: (plan.elapsedMs / 1000).toFixed(1) })
      : '';
  if (!plan) return;
  renderPlanChart(plan);
  renderPlanCards(plan);
  renderBacktest(plan.backtest);
}

/** The reserve's outflow band, its point forecast, and flat lines for the reserve available now and the recommended size. */
function renderPlanChart(plan) {
  const days = plan.forecast.days.map((day) => ({ date: day.date, ...day.reserveOutflow, available: plan.reserve.available, recommended: plan.recommendation?.size ?? null }));
  const flat = { pointRadius: 0, borderWidth: 2, tension: 0 };
  const datasets = [
    // The band: the upper edge filled down to the lower one (the next dataset).
    series(days, 'upper', t('plan.upper'), COLORS.blue, { pointRadius: 0, borderWidth: 1, fill: '+1' }),
    series(days, 'lower', t('plan.lower'), COLORS.blue, { pointRadius: 0, borderWidth: 1, fill: false }),
    series(days, 'point', t('plan.point'), COLORS.violet, { fill: false }),
    series(days, 'available', t('plan.available'), COLORS.orange, { ...flat, borderDash: [6, 4], fill: false }),
  ];
  if (plan.recommendation) datasets.push(series(days, 'recommended', t('plan.recommended'), COLORS.teal, { ...flat, fill: false }));
  drawChart('chart-plan', 'line', days.map((day) => day.date), datasets, { y: yuanAxis('¥', 'left', { beginAtZero: true }) });
}

function renderPlanCards(plan) {
  const { recommendation, coverage, current } = plan;
  if (recommendation) {
    const note = [t('plan.sizeNote', { shards: recommendation.shards, leaseMax: yuan(recommendation.leaseMax), level: recommendation.serviceLevelPercent, served: recommendation.servedPercent })];
    note.push(' · ', recommendation.tight ? t('plan.tight', { served: recommendation.smallerServedPercent }) : flag(t('plan.notTight', { served: recommendation.smallerServedPercent })));
    setCard('plan-size', headlineYuan(recommendation.size), note, yuan(recommendation.size));
  } else {
    setCard('plan-size', EMPTY, [flag(t('plan.noRecommendation'))]);
  }
  const covered = $('plan-coverage');
  covered.dataset.covered = String(coverage.covered);
  covered.querySelector('[data-field="title"]').textContent = t('plan.coverage', { days: coverage.tradingDays });
  const coverageNote = t('plan.coverageNote', { through: coverage.through, need: yuan(coverage.need), settle: coverage.peakSettleDate ?? EMPTY, size: yuan(coverage.size) });
  setCard('plan-coverage', t(coverage.covered ? 'plan.yes' : 'plan.no'), [coverage.covered ? coverageNote : flag(coverageNote)]);
  const servedNote = [t('plan.servedNote', { size: yuan(current.size), requests: current.requests.toLocaleString(i18next.language), refused: yuan(current.refused.amount), peak: current.peakUtilisationPercent, idleCost: yuan(current.idleCost) })];
  if (current.hoursToExhaustion !== null) servedNote.push(' · ', flag(t('plan.exhausted', { hours: current.hoursToExhaustion })));
  setCard('plan-served', String(current.servedPercent), servedNote);
}

/** The channels the reserve advances, as the back-test measured them. */
const PLAN_CHANNELS = ['instant_redemption', 'payment'];

/** Per reserve channel: the forecast's error beside the naive forecast's (flagged when it is not better), and its interval coverage. */
function renderBacktest(backtest) {
  // Statistics over days, not money: one decimal reads well.
  const percent = (value) => (value === null ? EMPTY : `${value.toFixed(1)}%`);
  const rows = PLAN_CHANNELS.map((channel) => {
    const figures = backtest.channels[channel];
    const row = document.createElement('tr');
    row.dataset.channel = channel;
    const beaten = figures.mapePercent !== null && figures.naiveMapePercent !== null && figures.mapePercent < figures.naiveMapePercent;
    const mape = cell(percent(figures.mapePercent));
    if (!beaten) mape.classList.add('flagged');
    row.append(cell(t(`operationType.${channel}`), ''), mape, cell(percent(figures.naiveMapePercent)), cell(percent(figures.coveragePercent)));
    return row;
  });
  $('plan-backtest-table').tBodies[0].replaceChildren(...rows);
  const note = backtest.from
    ? t('plan.backtestNote', { from: backtest.from, to: backtest.to, horizon: backtest.horizonDays, nominal: backtest.nominalCoveragePercent })
    : t('plan.backtestNone');
  $('plan-backtest').querySelector('[data-field="note"]').textContent = note;
}

// --- tables ----------------------------------------------------------------------------------

/** The days table's amount columns after the date, in order: each shown grouped. */
const AMOUNT_COLUMNS = ['subscriptions', 'redemptions', 'instantRedemptions', 'payments', 'normalRedemptions', 'incomeDistributed'];

function cell(text, className = 'num', exact) {
  const td = document.createElement('td');
  const empty = text === null || text === undefined || text === EMPTY;
  td.className = empty ? `${className} empty` : className;
  td.textContent = empty ? EMPTY : String(text);
  if (exact !== undefined && exact !== null) td.title = exact;
  return td;
}

function badgeCell(status, text) {
  const td = document.createElement('td');
  td.append(element('span', `status status-${status}`, text));
  return td;
}

function renderTable(days, reserveByDate) {
  const rows = days.toReversed().map((day) => {
    const row = document.createElement('tr');
    row.dataset.date = day.date;
    row.append(
      cell(day.date, 'date'),
      cell(day.yieldPer10k),
      cell(day.sevenDayYieldCompoundPercent),
      cell(day.sevenDayYieldSimplePercent),
      cell(day.aum === null ? null : yuan(day.aum)),
      cell(day.holders === null ? null : day.holders.toLocaleString(i18next.language)),
      ...AMOUNT_COLUMNS.map((field) => cell(day[field] === null ? null : yuan(day[field]))),
      cell(day.residual === null ? null : residual(day.residual), 'num', day.residual),
      cell(reserveByDate.get(day.date)?.utilisationPercent),
      badgeCell(day.accrualStatus, t(`accrualStatus.${day.accrualStatus}`)),
    );
    return row;
  });
  $('days-table').tBodies[0].replaceChildren(...rows);
}

// --- holder look-up --------------------------------------------------------------------------

async function lookUpHolder(event) {
  event.preventDefault();
  const holder = $('holder-query').value.trim();
  $('holder-submit').disabled = true;
  $('holder').dataset.state = 'loading';
  try {
    shown.holder = await api(`/v1/ops/holders/${encodeURIComponent(holder)}`);
    renderHolder(shown.holder);
    $('holder-error').hidden = true;
  } catch (error) {
    if (failedAccess(error)) return;
    shown.holder = null;
    $('holder-result').hidden = true;
    $('holder-error').hidden = false;
    $('holder-error').textContent = error.status === 404 ? t('holder.notFound', { holder }) : error.message;
  } finally {
    $('holder-submit').disabled = false;
    $('holder').dataset.state = 'ready';
  }
}

function facts(list, pairs) {
  list.replaceChildren(
    ...pairs.flatMap(([key, value, field]) => {
      const dd = element('dd', '', value);
      dd.dataset.field = field;
      return [element('dt', '', t(key)), dd];
    }),
  );
}

function lockText(lock) {
  return lock.locked ? t('holder.locked', { until: beijingMinute(lock.lockedUntilBeijing) }) : t('holder.open', { wrong: lock.wrongAttempts, left: lock.attemptsLeft });
}

function renderHolder(found) {
  const { account, security } = found;
  $('holder-result').hidden = false;
  $('holder-who').textContent = `${found.loginId} · ${found.userId}`;
  facts($('holder-account'), [
    ['holder.fund', account.fund ? `${account.fund.code} · ${account.fund.name}` : t('holder.noFund'), 'fund'],
    ['holder.wallet', `¥${yuan(account.wallet)}`, 'wallet'],
    ['holder.shares', `¥${yuan(account.shares)}`, 'shares'],
    ['holder.subscribing', `¥${yuan(account.subscribing)}`, 'subscribing'],
    ['holder.redeeming', `¥${yuan(account.redeeming)}`, 'redeeming'],
    ['holder.owed', `¥${yuan(account.owed)}`, 'owed'],
    ['holder.total', `¥${yuan(account.total)}`, 'total'],
    ['holder.yesterday', `¥${yuan(account.income.yesterday)}`, 'yesterday'],
    ['holder.cumulative', `¥${yuan(account.income.cumulative)}`, 'cumulative'],
  ]);
  facts($('holder-security'), [
    ['holder.paymentPassword', security.paymentPasswordSet ? lockText(security.payment) : t('holder.notSet'), 'payment'],
    ['holder.loginPassword', lockText(security.login), 'login'],
    ['holder.sessions', String(security.liveSessions), 'sessions'],
  ]);
  const operations = found.operations.map((op) => {
    const row = document.createElement('tr');
    row.append(
      cell(beijingMinute(op.createdAtBeijing), 'date'),
      cell(t(`operationType.${op.type}`), ''),
      badgeCell(op.status, t(`operationStatus.${op.status}`)),
      cell(yuan(op.amount)),
    );
    return row;
  });
  $('holder-operations').tBodies[0].replaceChildren(...(operations.length ? operations : [emptyRow(4, t('holder.noOperations'))]));
  const income = found.income.map((day) => {
    const row = document.createElement('tr');
    row.append(cell(day.date, 'date'), cell(yuan(day.income)), cell(yuan(day.cumulativeIncome)));
    return row;
  });
  $('holder-income').tBodies[0].replaceChildren(...(income.length ? income : [emptyRow(3, t('holder.noIncome', { days: 14 }))]));
}

function emptyRow(columns, text) {
  const row = document.createElement('tr');
  const td = cell(text, 'empty');
  td.colSpan = columns;
  row.append(td);
  return row;
}

// --- CSV export ----------------------------------------------------------------------------

/**
 * The bearer token cannot ride on a plain link, so the CSV is fetched and handed over as a
 * blob; a range longer than a report allows comes in pieces, their header rows but the first dropped.
 */
async function exportCsv() {
  const daily = shown.daily;
  if (!daily) return;
  try {
    const answers = await Promise.all(
      pieces(daily.from, daily.to).map(([from, to]) =>
        api(`/v1/ops/reports/funds/${encodeURIComponent(daily.fundCode)}/daily?${new URLSearchParams({ from, to, format: 'csv' })}`, { accept: 'text/csv' }),
      ),
    );
    const texts = await Promise.all(answers.map((response) => response.text()));
    const csv = texts.map((text, index) => (index === 0 ? text : text.slice(text.indexOf('\r\n') + 2))).join('');
    const name = answers.length === 1 ? /filename="?([^";]+)"?/.exec(answers[0].headers.get('content-disposition') ?? '')?.[1] : undefined;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
    link.download = name ?? `fund-${daily.fundCode}-daily-${daily.from}-to-${daily.to}.csv`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  } catch (error) {
    if (!failedAccess(error)) showDashboardError(error.message);
  }
}

// --- start -------------------------------------------------------------------------------------

await startI18n();
$('language').addEventListener('change', (event) => switchLanguage(event.target.value));
$('signin-form').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', () => signOut());
$('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  refresh();
});
$('fund').addEventListener('change', refresh);
$('export-csv').addEventListener('click', exportCsv);
$('holder-form').addEventListener('submit', lookUpHolder);
$('plan-recompute').addEventListener('click', loadPlan);
for (const chip of document.querySelectorAll('[data-preset]')) chip.addEventListener('click', () => choosePreset(chip.dataset.preset));
for (const button of document.querySelectorAll('[data-clock-move]')) button.addEventListener('click', () => moveSandboxClock(button.dataset.clockMove));

if (sessionStorage.getItem(TOKEN_KEY)) openDashboard().catch((error) => failedAccess(error) || showDashboardError(error.message));
else showSignIn();
