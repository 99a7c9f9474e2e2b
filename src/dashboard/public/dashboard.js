// The ops dashboard. It signs in through POST /v1/sessions, keeps the bearer token in
// sessionStorage (so it dies with the tab) and draws the ops reports with Chart.js
// (served by the service as /ops/assets/chart.umd.js, a global). No inline scripts: the
// Content-Security-Policy allows same-origin script files only.
const { Chart } = window;

const TOKEN_KEY = 'moneyfund.ops.token';
const LOGIN_KEY = 'moneyfund.ops.loginId';
const COLORS = { blue: '#1456d8', orange: '#e8590c', teal: '#0ca678', red: '#e03131', violet: '#7048e8' };
const EMPTY = '—';

const $ = (id) => document.getElementById(id);
const charts = {};
/** What the page shows now: the CSV export downloads exactly this. */
let shown = null;

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail ?? `HTTP ${status}`);
    this.status = status;
    this.code = problem.code;
  }
}

async function api(path, { method = 'GET', body, accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
  return accept === 'application/json' ? response.json() : response;
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
    showSignIn(error.status === 401 ? 'Wrong login id or password.' : error.message);
  } finally {
    submit.disabled = false;
  }
}

/** A 401 ends the session; a 403 means the account is not ops: both go back to the sign-in form. */
function failedAccess(error) {
  const loginId = sessionStorage.getItem(LOGIN_KEY);
  if (error.status === 401) signOut('Your session has ended: sign in again.');
  else if (error.status === 403) {
    signOut(`The account ${loginId} does not have the ops role, so it cannot read the reports. Ask an administrator to grant it (npm run ops -- grant-ops ${loginId}), or sign in with an ops account.`);
  } else return false;
  return true;
}

// --- loading ---------------------------------------------------------------------------

async function openDashboard() {
  $('signin-panel').hidden = true;
  $('session').hidden = false;
  $('session-user').textContent = `Signed in as ${sessionStorage.getItem(LOGIN_KEY)}`;
  const { funds } = await api('/v1/funds');
  $('fund').replaceChildren(...funds.map((fund) => new Option(`${fund.code} · ${fund.name}`, fund.code)));
  await refresh();
}

function rangeQuery() {
  const from = $('from').value;
  const to = $('to').value;
  // Without a range the API picks its default (the last 30 days through yesterday, Beijing time).
  return from && to ? `?${new URLSearchParams({ from, to })}` : '';
}

async function refresh() {
  const fundCode = $('fund').value;
  const query = rangeQuery();
  document.body.dataset.state = 'loading';
  $('apply').disabled = true;
  try {
    const [daily, reserve, accrual] = await Promise.all([
      api(`/v1/ops/reports/funds/${encodeURIComponent(fundCode)}/daily${query}`),
      api(`/v1/ops/reports/reserve/daily${query}`),
      api(`/v1/ops/funds/${encodeURIComponent(fundCode)}/accrual`),
    ]);
    render(daily, reserve, accrual);
    document.body.dataset.state = 'ready';
  } catch (error) {
    document.body.dataset.state = 'error';
    if (!failedAccess(error)) showDashboardError(error.message);
  } finally {
    $('apply').disabled = false;
  }
}

function showDashboardError(message) {
  $('dashboard').hidden = false;
  $('dashboard-error').hidden = false;
  $('dashboard-error').textContent = message;
}

function render(daily, reserve, accrual) {
  shown = daily;
  $('dashboard').hidden = false;
  $('dashboard-error').hidden = true;
  $('from').value = daily.from;
  $('to').value = daily.to;
  $('loaded-range').textContent = `${daily.fundCode} · ${daily.from} → ${daily.to} · ${daily.days.length} days`;
  const reserveByDate = new Map(reserve.days.map((day) => [day.date, day]));
  renderCards(daily.days, reserve.current, accrual);
  renderCharts(daily.days, reserve.days);
  renderTable(daily.days, reserveByDate);
}

// --- headline figures --------------------------------------------------------------------

function setCard(id, value, note) {
  const card = $(id);
  card.querySelector('[data-field="value"]').textContent = value;
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
    [yieldDay ? `compound · simple ${yieldDay.sevenDayYieldSimplePercent}% · ${yieldDay.date}` : 'needs 7 published days'],
  );
  const aumDay = latestWith(days, 'aum');
  setCard('card-aum', aumDay?.aum ?? EMPTY, [aumDay ? `${aumDay.holders} holders · ${aumDay.date}` : 'no accrued day in range']);
  const reserveNote = [`utilisation ${reserveNow.utilisationPercent}% · size ¥${reserveNow.size}`];
  if (reserveNow.lowWater) reserveNote.push(' · ', flag(`below ${reserveNow.lowWaterPercent}% low water`));
  setCard('card-reserve', reserveNow.available, reserveNote);
  const next = accrual.blocked ?? (accrual.nextDate ? `next ${accrual.nextDate}: ${accrual.nextStatus}` : 'nothing published yet');
  setCard('card-accrual', accrual.lastAccruedDate ?? 'none', [accrual.blocked ? flag(next) : next]);
}

function flag(text) {
  const span = document.createElement('span');
  span.className = 'flag';
  span.textContent = text;
  return span;
}

// --- charts ------------------------------------------------------------------------------

Chart.defaults.animation = false; // an ops console redraws on demand; nothing to animate
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.color = '#667085';
Chart.defaults.plugins.legend.labels.boxWidth = 12;

/** Charts plot numbers; tooltips show the API's own strings (`apiValues`). */
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
    label: (item) => `${item.dataset.label}: ${item.dataset.apiValues[item.dataIndex] ?? EMPTY}`,
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
      scales: { x: xAxis, ...scales },
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
      series(days, 'yieldPer10k', 'Yield per 10k shares ¥', COLORS.blue, { yAxisID: 'y' }),
      series(days, 'sevenDayYieldCompoundPercent', '7-day yield (compound) %', COLORS.orange, { yAxisID: 'percent' }),
    ],
    { y: axis('per 10k shares ¥'), percent: axis('7-day yield %', 'right') },
  );
  drawChart('chart-aum', 'line', labels, [series(days, 'aum', 'AUM ¥', COLORS.violet, { fill: 'origin' })], { y: axis('¥') });
  drawChart(
    'chart-flows',
    'bar',
    labels,
    [
      series(days, 'subscriptions', 'Subscriptions ¥', COLORS.teal, { backgroundColor: COLORS.teal }),
      series(days, 'redemptions', 'Redemptions ¥', COLORS.red, { backgroundColor: COLORS.red }),
    ],
    { y: axis('¥', 'left', { beginAtZero: true }) },
  );
  drawChart(
    'chart-reserve',
    'line',
    reserveDays.map((day) => day.date),
    [
      series(reserveDays, 'utilisationPercent', 'Utilisation %', COLORS.orange, { yAxisID: 'y', fill: 'origin' }),
      series(reserveDays, 'outstanding', 'Outstanding ¥', COLORS.blue, { type: 'bar', yAxisID: 'yuan', backgroundColor: `${COLORS.blue}55` }),
    ],
    { y: axis('utilisation %', 'left', { beginAtZero: true }), yuan: axis('outstanding ¥', 'right', { beginAtZero: true }) },
  );
}

// --- the table of days --------------------------------------------------------------------

const TABLE_FIELDS = [
  'yieldPer10k',
  'sevenDayYieldCompoundPercent',
  'sevenDayYieldSimplePercent',
  'aum',
  'holders',
  'subscriptions',
  'redemptions',
  'incomeDistributed',
  'residual',
];

function cell(value, className = 'num') {
  const td = document.createElement('td');
  td.className = value === null || value === undefined ? `${className} empty` : className;
  td.textContent = value === null || value === undefined ? EMPTY : String(value);
  return td;
}

function statusCell(status) {
  const td = document.createElement('td');
  const badge = document.createElement('span');
  badge.className = `status status-${status}`;
  badge.textContent = status;
  td.append(badge);
  return td;
}

function renderTable(days, reserveByDate) {
  const rows = days.toReversed().map((day) => {
    const row = document.createElement('tr');
    row.dataset.date = day.date;
    row.append(
      cell(day.date, 'date'),
      ...TABLE_FIELDS.map((field) => cell(day[field])),
      cell(reserveByDate.get(day.date)?.utilisationPercent),
      statusCell(day.accrualStatus),
    );
    return row;
  });
  $('days-table').tBodies[0].replaceChildren(...rows);
}

// --- CSV export ----------------------------------------------------------------------------

/** The bearer token cannot ride on a plain link, so the CSV is fetched and handed over as a blob. */
async function exportCsv() {
  if (!shown) return;
  const query = new URLSearchParams({ from: shown.from, to: shown.to, format: 'csv' });
  try {
    const response = await api(`/v1/ops/reports/funds/${encodeURIComponent(shown.fundCode)}/daily?${query}`, { accept: 'text/csv' });
    const name = /filename="?([^";]+)"?/.exec(response.headers.get('content-disposition') ?? '')?.[1];
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await response.blob());
    link.download = name ?? `${shown.fundCode}-daily-${shown.from}-${shown.to}.csv`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  } catch (error) {
    if (!failedAccess(error)) showDashboardError(error.message);
  }
}

// --- start -------------------------------------------------------------------------------------

$('signin-form').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', () => signOut());
$('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  refresh();
});
$('fund').addEventListener('change', refresh);
$('export-csv').addEventListener('click', exportCsv);

if (sessionStorage.getItem(TOKEN_KEY)) openDashboard().catch((error) => failedAccess(error) || showDashboardError(error.message));
else showSignIn();
