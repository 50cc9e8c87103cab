// app.js — the management page of branchmeter (docs/api.md).
// Plain ES module, no framework, no requests but to this meter's /api/.
// Everything shown and changed goes through the JSON API; names are the
// register map's (docs/registers.md). The page keeps the CSRF token only in
// memory and sends it on every state-changing request.

// ---------------------------------------------------------------- helpers

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/* el('div', {class: 'x', testid: 'y', text: 'z', onclick: f}, child, ...) */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  for (const c of children.flat()) if (c != null && c !== false) e.append(c);
  return e;
}

const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  setAttrs(e, attrs);
  for (const c of children.flat()) if (c != null && c !== false) e.append(c);
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.setAttribute('class', v);
    else if (k === 'text') e.textContent = v;
    else if (k === 'testid') e.setAttribute('data-testid', v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

// ---------------------------------------------------------------- formatting

const SCALE_UNITS = new Set(['W', 'var', 'VA', 'V', 'A', 'Wh', 'varh', 'VAh']);
const PREFIXES = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];

/* sig significant digits, no exponent for everyday magnitudes */
function fmtNum(v, sig = 4) {
  if (!isNum(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 10 ** sig) return String(Math.round(v));
  if (a < 1e-4) return v.toExponential(Math.max(0, sig - 2));
  return v.toPrecision(sig);
}

function fmtEnergy(v) {
  if (!isNum(v)) return '—';
  const a = Math.abs(v);
  const d = a < 1e3 ? 3 : a < 1e5 ? 2 : a < 1e7 ? 1 : 0;
  return v.toFixed(d);
}

/* A value with its unit: W, var, VA, V, A, Wh scale to k/M/G. */
function fmt(v, unit = '', sig = 4) {
  if (typeof v === 'string') return v;
  if (!isNum(v)) return '—';
  if (unit === 'deg' || unit === '°') return v.toFixed(1) + '°';
  if (unit === '%') return fmtNum(v, 3) + ' %';
  if (/^k(Wh|varh|VAh)$/.test(unit)) return fmtEnergy(v) + ' ' + unit;
  if (SCALE_UNITS.has(unit)) {
    const a = Math.abs(v);
    for (const [f, p] of PREFIXES) if (a >= f) return fmtNum(v / f, sig) + ' ' + p + unit;
  }
  return unit ? fmtNum(v, sig) + ' ' + unit : fmtNum(v, sig);
}

const DT_OPTS = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' };

/* Unix seconds → local date-time of this browser */
function fmtTime(t) {
  if (!isNum(t) || t <= 0) return '—';
  return new Date(t * 1000).toLocaleString(undefined, DT_OPTS);
}

function fmtTimeMs(ms) {
  if (!isNum(ms) || ms <= 0) return '—';
  return new Date(ms).toLocaleString(undefined, { ...DT_OPTS, fractionalSecondDigits: 3 });
}

function fmtDuration(s) {
  if (!isNum(s)) return '—';
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  const pad = (x) => String(x).padStart(2, '0');
  return (d ? d + ' d ' : '') + pad(h) + ':' + pad(m) + ':' + pad(s % 60);
}

function ipText(v) {
  if (!isNum(v)) return '';
  v = v >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function ipParse(s) {
  const m = /^\s*(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\s*$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return null;
  return ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
}

// ---------------------------------------------------------------- names

const ALARMS = [
  ['over_i', 'Overcurrent'], ['under_i', 'Undercurrent'], ['over_u', 'Overvoltage (phase)'],
  ['under_u', 'Undervoltage (phase)'], ['over_ul', 'Overvoltage (line)'], ['under_ul', 'Undervoltage (line)'],
  ['over_p', 'Active power high'], ['over_q', 'Reactive power high'], ['over_s', 'Apparent power high'],
  ['over_dp', 'P demand high'], ['over_dq', 'Q demand high'], ['over_ds', 'S demand high'],
  ['over_thdu', 'THD-U high'], ['over_thdi', 'THD-I high'], ['over_t', 'Temperature high'],
  ['over_ires', 'Residual current high'],
];
const ALARM_LABEL = Object.fromEntries(ALARMS);
const alarmLabel = (n) => ALARM_LABEL[n] || n;

const RESETS = { 1: 'energy', 2: 'maximum demand', 3: 'max/min', 4: 'tariff energy', 5: 'factory settings' };
const SEQ_TEXT = { 0: 'correct (L1 → L2 → L3)', 1: 'reversed', 2: 'phase lost or weak' };

/* units of the live object's quantities (same names as the registers) */
function liveUnit(q) {
  if (/^U(\d|12|23|31|avg|LL|Lavg|0)?$/.test(q) || /^U(12|23|31|Lavg)$/.test(q)) return 'V';
  if (/^I(\d|n|avg)?$/.test(q)) return 'A';
  if (/^P\d?$/.test(q) || /^DP(_max)?$/.test(q)) return 'W';
  if (/^Q\d?$/.test(q)) return 'var';
  if (/^S\d?$/.test(q)) return 'VA';
  if (/^F\d?$/.test(q)) return 'Hz';
  if (/^A(U|I|UI)\d$/.test(q)) return 'deg';
  if (/_kWh$/.test(q)) return 'kWh';
  if (/^(THD|HD|HR|Uunb|Iunb)/.test(q)) return '%';
  if (q === 'temperature') return '°C';
  if (q === 'residual') return 'mA';
  return '';
}

// ---------------------------------------------------------------- state

const S = {
  csrf: null, user: null, role: null,
  registers: null, regByName: new Map(), regByAddr: new Map(), regsPromise: null,
  device: null,
  live: null, liveAt: 0, liveVia: '',
  es: null, esOpenedAt: 0, pollTimer: null, pollBusy: false, streamRetry: null, tickTimer: null,
  tab: null, tabTimer: null,
  circuit: 1, nCircuits: 0, nRelays: 0, nInputs: 0,
  dashCards: new Map(),
  harm: null, harmChannel: 'HU1', harmPick: null,
  events: { before: null, pages: [], last: 0 },
  settingsBuilt: false, settingsBuilding: null, settingInputs: new Map(),
  ioValues: {},
};

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, data) {
    const msg = (data && data.error) || (status ? 'HTTP ' + status : 'no answer from the meter');
    super(status ? `HTTP ${status}: ${msg}` : msg);
    this.status = status;
    this.data = data || {};
  }
}

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  if (method !== 'GET' && S.csrf) opt.headers['X-CSRF-Token'] = S.csrf;
  let res;
  try {
    res = await fetch('/api/' + path, opt);
  } catch (e) {
    throw new ApiError(0, { error: 'no answer from the meter (' + e.message + ')' });
  }
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { error: text.slice(0, 200) };
  }
  if (res.status === 401 && path !== 'login' && path !== 'session') sessionLost();
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/* GET /api/values for many names: the server takes up to 4 KiB of names */
async function getValues(names) {
  const chunks = [];
  let cur = [], len = 0;
  for (const n of names) {
    if (len + n.length + 1 > 3000 && cur.length) {
      chunks.push(cur);
      cur = [];
      len = 0;
    }
    cur.push(n);
    len += n.length + 1;
  }
  if (cur.length) chunks.push(cur);
  const parts = await Promise.all(
    chunks.map((c) => api('GET', 'values?names=' + encodeURIComponent(c.join(',')))));
  return Object.assign({}, ...parts.map((p) => p.values || {}));
}

function loadRegisters() {
  if (!S.regsPromise) {
    S.regsPromise = api('GET', 'registers').then((list) => {
      S.registers = list;
      S.regByName = new Map(list.map((r) => [r.name, r]));
      S.regByAddr = new Map(list.map((r) => [r.address, r]));
      S.nRelays = list.filter((r) => /^DO\d+\.mode$/.test(r.name) && r.present).length;
      S.nInputs = list.filter((r) => /^DI\d+\.count$/.test(r.name) && r.present).length;
      return list;
    }).catch((e) => {
      S.regsPromise = null;
      throw e;
    });
  }
  return S.regsPromise;
}

const regUnit = (name) => (S.regByName.get(name) || {}).unit || '';

// ---------------------------------------------------------------- session

function showLogin(note) {
  $('#app-view').hidden = true;
  $('#logout').hidden = true;
  $('#account').hidden = true;
  $('#live-status').hidden = true;
  $('#login-view').hidden = false;
  $('#login-note').textContent = note || '';
  $('#login-error').textContent = '';
  $('#login-password').value = '';
  ($('#login-user').value ? $('#login-password') : $('#login-user')).focus();
}

async function onLoginSubmit(ev) {
  ev.preventDefault();
  const user = $('#login-user').value.trim(), password = $('#login-password').value;
  const btn = $('#login-submit');
  $('#login-error').textContent = '';
  btn.disabled = true;
  try {
    const d = await api('POST', 'login', { user, password });
    $('#login-password').value = '';
    await startSession(d);
  } catch (e) {
    $('#login-error').textContent =
      e.status === 401 ? 'Wrong user or password.' :
      e.status === 429 ? 'Too many failed attempts: wait a minute and try again.' : e.message;
  } finally {
    btn.disabled = false;
  }
}

async function startSession(d) {
  S.csrf = d.csrf;
  S.user = d.user;
  S.role = d.role;
  $('#login-view').hidden = true;
  $('#app-view').hidden = false;
  $('#logout').hidden = false;
  const acc = $('#account');
  acc.hidden = false;
  acc.textContent = d.user + (d.role === 'admin' ? '' : ' (read only)');
  $('#readonly-note').hidden = d.role === 'admin';
  startLive();
  S.tickTimer = setInterval(tick, 1000);
  api('GET', 'device').then((dev) => {
    S.device = dev;
    $('#device-name').textContent = dev.model || '';
    setCircuitCount(dev.circuits);
  }).catch(() => {});
  loadRegisters().then(() => {
    renderIoStates();
    if (S.live) renderDashIo(S.live);
  }).catch(() => {});
  showTab(tabFromHash());
}

function endSession() {
  stopLive();
  clearInterval(S.tickTimer);
  clearInterval(S.tabTimer);
  S.tabTimer = null;
  S.csrf = S.user = S.role = null;
  S.live = null;
  S.tab = null;
  S.dashCards.clear();
  clear($('#dash-circuits'));
  clear($('#settings-groups'));
  S.settingsBuilt = false;
  S.settingInputs.clear();
  S.events = { before: null, pages: [], last: 0 };
}

function sessionLost() {
  if (!S.csrf) return;
  endSession();
  showLogin('Your session has ended. Please log in again.');
}

async function logout() {
  try {
    await api('POST', 'logout');
  } catch {
    /* the session is gone either way */
  }
  endSession();
  showLogin('Logged out.');
}

// ---------------------------------------------------------------- live data

function startLive() {
  stopLive();
  if (!('EventSource' in window)) {
    startPolling();
    return;
  }
  const es = new EventSource('/api/stream');
  S.es = es;
  S.esOpenedAt = Date.now();
  es.addEventListener('live', (ev) => {
    if (S.es !== es) return;
    try {
      onLive(JSON.parse(ev.data), 'stream');
    } catch {
      /* a bad frame: the next one comes within a second */
    }
  });
  es.onerror = () => {
    if (S.es !== es) return;
    streamFailed();
  };
}

function streamFailed() {
  if (S.es) S.es.close();
  S.es = null;
  startPolling();
  // try the stream again later; polling carries on meanwhile
  clearTimeout(S.streamRetry);
  S.streamRetry = setTimeout(() => {
    if (S.csrf) startLive();
  }, 30000);
}

function startPolling() {
  clearInterval(S.pollTimer);
  S.pollTimer = setInterval(pollLive, 1000);
  pollLive();
}

async function pollLive() {
  if (S.pollBusy || !S.csrf) return;
  S.pollBusy = true;
  try {
    onLive(await api('GET', 'live'), 'polling');
  } catch {
    /* shown as stale by tick(); 401 handled by api() */
  } finally {
    S.pollBusy = false;
  }
}

function stopLive() {
  if (S.es) S.es.close();
  S.es = null;
  clearInterval(S.pollTimer);
  S.pollTimer = null;
  clearTimeout(S.streamRetry);
  S.streamRetry = null;
}

async function refreshLiveOnce() {
  try {
    onLive(await api('GET', 'live'), S.liveVia || 'polling');
  } catch {
    /* next update will do */
  }
}

function tick() {
  // a stream that is open but silent for 5 s counts as failed
  if (S.es && Date.now() - Math.max(S.liveAt, S.esOpenedAt) > 5000) streamFailed();
  const st = $('#live-status');
  st.hidden = false;
  const age = S.liveAt ? (Date.now() - S.liveAt) / 1000 : Infinity;
  st.classList.toggle('stale', age > 3);
  st.textContent = !S.liveAt ? 'connecting…' : age > 3 ? `no data for ${Math.round(age)} s` : 'live (' + S.liveVia + ')';
}

function onLive(d, via) {
  S.live = d;
  S.liveAt = Date.now();
  S.liveVia = via;
  if (d.circuits && d.circuits.length) setCircuitCount(Math.max(S.nCircuits, d.circuits.length));
  renderDashboard(d);
  renderDashIo(d);
  if (S.tab === 'phasors') renderPhasors();
  if (S.tab === 'alarms') renderAlarmList();
  if (S.tab === 'io') renderIoStates();
  if (S.tab === 'settings') $('#clock-now').textContent = fmtTime(d.rtc);
}

// ---------------------------------------------------------------- navigation

const TABS = {
  dashboard: { enter: () => {} },
  phasors: { enter: renderPhasors },
  harmonics: { enter: loadHarmonics, every: 2000 },
  energy: { enter: loadEnergy, every: 5000 },
  alarms: { enter: () => { renderAlarmList(); loadEvents(null); }, every: 5000, refresh: refreshEvents },
  io: { enter: loadIo, every: 2000 },
  settings: { enter: enterSettings },
  device: { enter: loadDevice, every: 10000 },
};

function tabFromHash() {
  const t = location.hash.replace(/^#/, '');
  return TABS[t] ? t : 'dashboard';
}

function showTab(name) {
  if (!S.csrf) return;
  S.tab = name;
  for (const sec of $$('main > .tab')) sec.hidden = sec.id !== 'tab-' + name;
  for (const a of $$('nav.tabs a')) {
    const on = a.dataset.tab === name;
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clearInterval(S.tabTimer);
  S.tabTimer = null;
  const t = TABS[name];
  Promise.resolve().then(t.enter).catch(showTabError);
  if (t.every) {
    S.tabTimer = setInterval(() => {
      if (S.tab === name) Promise.resolve().then(t.refresh || t.enter).catch(showTabError);
    }, t.every);
  }
}

function showTabError(e) {
  if (e && e.status === 401) return;
  console.warn(e);
}

function setCircuitCount(n) {
  if (!isNum(n) || n < 1 || n === S.nCircuits) return;
  S.nCircuits = n;
  if (S.circuit > n) S.circuit = 1;
  for (const sel of $$('select.circuit-select')) {
    clear(sel);
    for (let c = 1; c <= n; c++) sel.append(el('option', { value: c, text: 'C' + c }));
    sel.value = String(S.circuit);
  }
}

function onCircuitChange(ev) {
  S.circuit = Number(ev.target.value) || 1;
  for (const sel of $$('select.circuit-select')) sel.value = String(S.circuit);
  if (S.tab && TABS[S.tab]) Promise.resolve().then(TABS[S.tab].enter).catch(showTabError);
}

// ---------------------------------------------------------------- dashboard

const PHASE_ROWS = [
  ['U', ['U1', 'U2', 'U3']],
  ['U–U', ['U12', 'U23', 'U31']],
  ['I', ['I1', 'I2', 'I3']],
  ['P', ['P1', 'P2', 'P3']],
  ['PF', ['PF1', 'PF2', 'PF3']],
];
const HEADLINE = [['P', 'P'], ['Q', 'Q'], ['S', 'S'], ['PF', 'PF'], ['F', 'f']];
const DASH_KV = [
  ['EP_imp_kWh', 'Energy import'], ['EP_exp_kWh', 'Energy export'], ['DP', 'Demand P'],
  ['DP_max', 'Max demand P'], ['In', 'Neutral current'], ['Iavg', 'Average current'],
  ['temperature', 'Temperature'], ['residual', 'Residual current'],
];

function buildCircuitCard(n) {
  const cells = {};
  const cell = (q, tag = 'span', cls = 'value') => (cells[q] = el(tag, { class: cls, testid: `circuit-${n}-${q}` }));
  const wiring = el('span', { class: 'muted' });
  const badges = el('div', { class: 'alarm-badges', testid: `circuit-${n}-alarms` });
  const headline = el('div', { class: 'headline' },
    HEADLINE.map(([q, label]) => el('div', { class: 'metric' + (q === 'P' ? ' main' : '') },
      el('span', { class: 'label', text: label }), cell(q))));
  const table = el('table', { class: 'phases' },
    el('thead', {}, el('tr', {}, el('th'), el('th', { text: 'L1' }), el('th', { text: 'L2' }), el('th', { text: 'L3' }))),
    el('tbody', {}, PHASE_ROWS.map(([label, qs]) =>
      el('tr', {}, el('th', { text: label }), qs.map((q) => cell(q, 'td', 'num'))))));
  const kv = el('dl', { class: 'kv' });
  const kvRows = {};
  for (const [q, label] of DASH_KV) {
    const dt = el('dt', { text: label }), dd = cell(q, 'dd', 'num');
    kvRows[q] = [dt, dd];
    kv.append(dt, dd);
  }
  const root = el('article', { class: 'card circuit', testid: `circuit-${n}` },
    el('div', { class: 'card-head' }, el('h3', { text: 'Circuit ' + n }), wiring), badges, headline,
    el('div', { class: 'table-wrap' }, table), kv);
  return { root, cells, kvRows, wiring, badges };
}

function renderDashboard(d) {
  const wrap = $('#dash-circuits');
  const circuits = d.circuits || [];
  $('#dash-meta').textContent = [
    isNum(d.tariff) ? 'tariff T' + d.tariff : null,
    'meter time ' + fmtTime(d.rtc),
  ].filter(Boolean).join(' · ');
  if (!circuits.length) {
    if (!S.dashCards.size) wrap.textContent = 'Waiting for the first measurement window…';
    return;
  }
  if (!S.dashCards.size) clear(wrap);
  for (const c of circuits) {
    let card = S.dashCards.get(c.circuit);
    if (!card) {
      card = buildCircuitCard(c.circuit);
      S.dashCards.set(c.circuit, card);
      wrap.append(card.root);
    }
    card.wiring.textContent = c.wiring || '';
    for (const [q, node] of Object.entries(card.cells)) {
      const v = c[q];
      node.textContent = fmt(v, liveUnit(q), /^PF/.test(q) ? 3 : 4);
      node.dataset.value = isNum(v) ? String(v) : '';
    }
    for (const [q, [dt, dd]] of Object.entries(card.kvRows)) {
      const have = q in c && (q !== 'temperature' && q !== 'residual' && q !== 'In' ? true : c[q] !== null);
      dt.hidden = dd.hidden = !have;
    }
    const alarms = c.alarms || [];
    card.root.classList.toggle('has-alarm', alarms.length > 0);
    clear(card.badges);
    for (const a of alarms) card.badges.append(el('span', { class: 'badge alarm', text: alarmLabel(a), title: a }));
  }
}

function renderDashIo(d) {
  const box = $('#dash-io');
  const nr = S.nRelays, ni = S.nInputs;
  if ((!nr || !isNum(d.relays)) && (!ni || !isNum(d.inputs))) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  clear(box);
  box.append(el('h3', { text: 'Relays and inputs' }));
  const row = el('div', { class: 'chips' });
  for (let r = 1; r <= nr && isNum(d.relays); r++) {
    const on = (d.relays >> (r - 1)) & 1;
    row.append(el('span', { class: 'chip' + (on ? ' on' : ''), testid: `dash-relay-${r}`, text: `DO${r} ${on ? 'closed' : 'open'}` }));
  }
  for (let i = 1; i <= ni && isNum(d.inputs); i++) {
    const on = (d.inputs >> (i - 1)) & 1;
    const al = isNum(d.input_alarms) && (d.input_alarms >> (i - 1)) & 1;
    row.append(el('span', {
      class: 'chip' + (on ? ' on' : '') + (al ? ' alarm' : ''), testid: `dash-input-${i}`,
      text: `DI${i} ${on ? 'closed' : 'open'}${al ? ' · alarm' : ''}`,
    }));
  }
  box.append(row);
}

// ---------------------------------------------------------------- phasors

const PH_COLORS = ['#b03a2e', '#b7950b', '#1f618d'];

function renderPhasors() {
  const d = S.live;
  const host = $('#phasor-svg');
  const c = d && (d.circuits || []).find((x) => x.circuit === S.circuit);
  const R = 100;
  const root = svg('svg', { viewBox: '-120 -120 240 240', role: 'img', 'aria-label': 'Phasor diagram of circuit ' + S.circuit });
  const defs = svg('defs');
  PH_COLORS.forEach((col, k) => {
    defs.append(svg('marker', { id: 'arr' + k, viewBox: '0 0 10 10', refX: 9, refY: 5, markerUnits: 'userSpaceOnUse', markerWidth: 9, markerHeight: 9, orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: col })));
  });
  root.append(defs);
  root.append(svg('circle', { cx: 0, cy: 0, r: R, fill: 'none', stroke: '#c8ced6', 'stroke-width': 1 }));
  root.append(svg('circle', { cx: 0, cy: 0, r: R / 2, fill: 'none', stroke: '#e1e5ea', 'stroke-width': 1, 'stroke-dasharray': '3 3' }));
  for (const a of [0, 90, 180, 270]) {
    const x = Math.cos((a * Math.PI) / 180) * R, y = -Math.sin((a * Math.PI) / 180) * R;
    root.append(svg('line', { x1: 0, y1: 0, x2: x, y2: y, stroke: '#e1e5ea', 'stroke-width': 1 }));
    root.append(svg('text', { x: x * 1.12, y: y * 1.12 + 3, 'text-anchor': 'middle', 'font-size': 8, fill: '#8a939c' }, a + '°'));
  }
  const table = clear($('#phasor-table'));
  table.append(el('thead', {}, el('tr', {}, ['', 'U', '∠U', 'I', '∠I', '∠U−I'].map((h, k) => el('th', { class: k ? 'num' : null, text: h })))));
  const tb = el('tbody');
  table.append(tb);
  if (c) {
    const mags = (k) => [1, 2, 3].map((p) => c[k + p]);
    const maxOf = (a) => Math.max(0, ...a.filter(isNum).map(Math.abs));
    const u = mags('U'), i = mags('I'), au = mags('AU'), ai = mags('AI'), aui = mags('AUI');
    const um = maxOf(u), im = maxOf(i);
    const vec = (mag, ang, max, len, k, label, dashed) => {
      if (!isNum(mag) || !isNum(ang) || !(max > 0) || mag <= 0) return;
      const r = (len * mag) / max, t = (ang * Math.PI) / 180;
      const x = r * Math.cos(t), y = -r * Math.sin(t);
      root.append(svg('line', {
        x1: 0, y1: 0, x2: x, y2: y, stroke: PH_COLORS[k], 'stroke-width': dashed ? 2 : 3,
        'stroke-dasharray': dashed ? '5 3' : null, 'marker-end': `url(#arr${k})`, 'data-testid': 'phasor-' + label,
      }));
      const lx = x + (8 * Math.cos(t)), ly = y - (8 * Math.sin(t)) + 3;
      root.append(svg('text', { x: lx, y: ly, 'text-anchor': 'middle', 'font-size': 9, 'font-weight': 600, fill: PH_COLORS[k] }, label));
    };
    for (let k = 0; k < 3; k++) {
      vec(u[k], au[k], um, 0.92 * R, k, 'U' + (k + 1), false);
      vec(i[k], ai[k], im, 0.62 * R, k, 'I' + (k + 1), true);
      tb.append(el('tr', {}, el('th', { text: 'L' + (k + 1) }),
        el('td', { class: 'num', text: fmt(u[k], 'V') }), el('td', { class: 'num', text: fmt(au[k], 'deg') }),
        el('td', { class: 'num', text: fmt(i[k], 'A') }), el('td', { class: 'num', text: fmt(ai[k], 'deg') }),
        el('td', { class: 'num', text: fmt(aui[k], 'deg') })));
    }
    root.append(svg('circle', { cx: 0, cy: 0, r: 2.5, fill: '#333' }));
  }
  clear(host).append(root);
  const seq = (v) => (isNum(v) ? (SEQ_TEXT[Math.round(v)] || String(v)) + ` (${Math.round(v)})` : 'n/a (single-phase or no data)');
  const us = $('#phasor-useq'), is = $('#phasor-iseq');
  us.textContent = c ? seq(c.USeq) : '—';
  is.textContent = c ? seq(c.ISeq) : '—';
  us.classList.toggle('bad', !!c && isNum(c.USeq) && c.USeq !== 0);
  is.classList.toggle('bad', !!c && isNum(c.ISeq) && c.ISeq !== 0);
}

// ---------------------------------------------------------------- harmonics

async function loadHarmonics() {
  const n = S.circuit;
  const h = await api('GET', 'harmonics?circuit=' + n);
  if (S.circuit !== n) return;
  S.harm = h;
  drawHarmonics();
}

function drawHarmonics() {
  const h = S.harm, ch = S.harmChannel;
  const cv = $('#harm-canvas');
  const w = Math.max(200, cv.parentElement.clientWidth), hgt = 280;
  const dpr = window.devicePixelRatio || 1;
  cv.width = Math.round(w * dpr);
  cv.height = Math.round(hgt * dpr);
  const g = cv.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, hgt);
  const arr = h && Array.isArray(h[ch]) ? h[ch] : [];
  // arr[0] is order 1 (100 %); bars for orders 2..50
  const vals = [];
  for (let o = 2; o <= 50; o++) vals.push(isNum(arr[o - 1]) ? arr[o - 1] : null);
  const kind = ch[1], p = ch.slice(2);
  const thd = h ? h['THD' + kind + p] : null, kf = h && kind === 'I' ? h['K' + p] : null;
  $('#harm-thd').textContent = fmt(thd, '%');
  $('#harm-k').textContent = kind === 'I' && p !== 'n' ? fmtNum(kf, 3) : '—';
  const L = 40, Rm = 8, T = 12, B = 26;
  const pw = w - L - Rm, ph = hgt - T - B;
  const vmax = Math.max(0.5, ...vals.filter(isNum));
  const step = niceStep(vmax / 5);
  const top = Math.ceil(vmax / step) * step;
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#5b6570';
  g.strokeStyle = '#e1e5ea';
  g.lineWidth = 1;
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = T + ph - (v / top) * ph;
    g.beginPath();
    g.moveTo(L, Math.round(y) + 0.5);
    g.lineTo(L + pw, Math.round(y) + 0.5);
    g.stroke();
    g.fillText(+v.toPrecision(3) + ' %', L - 4, y);
  }
  const bw = pw / vals.length;
  g.textAlign = 'center';
  g.textBaseline = 'top';
  vals.forEach((v, k) => {
    const o = k + 2, x = L + k * bw;
    if (isNum(v) && v > 0) {
      const bh = (Math.min(v, top) / top) * ph;
      g.fillStyle = o === S.harmPick ? '#d35400' : o % 2 ? '#1f618d' : '#7fb3d5';
      g.fillRect(x + bw * 0.15, T + ph - bh, Math.max(1, bw * 0.7), bh);
    }
    if (o === 2 || o % 5 === 0) {
      g.fillStyle = '#5b6570';
      g.fillText(String(o), x + bw / 2, T + ph + 6);
    }
  });
  if (!h) {
    g.fillStyle = '#5b6570';
    g.textAlign = 'center';
    g.fillText('loading…', L + pw / 2, T + ph / 2);
  } else if (!vals.some(isNum)) {
    g.fillStyle = '#5b6570';
    g.textAlign = 'center';
    g.fillText('no data for ' + ch + ' in this wiring', L + pw / 2, T + ph / 2);
  }
  cv.dataset.geom = JSON.stringify({ L, bw });
  const pick = S.harmPick;
  $('#harm-pick').textContent = pick ? `H${pick}: ${fmt(vals[pick - 2], '%')}` : '—';
}

function niceStep(x) {
  const e = 10 ** Math.floor(Math.log10(x)), f = x / e;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

function onHarmPoint(ev) {
  const cv = ev.currentTarget, r = cv.getBoundingClientRect();
  const gm = JSON.parse(cv.dataset.geom || '{"L":40,"bw":10}');
  const o = 2 + Math.floor((ev.clientX - r.left - gm.L) / gm.bw);
  S.harmPick = o >= 2 && o <= 50 ? o : null;
  drawHarmonics();
}

// ---------------------------------------------------------------- energy & demand

async function loadEnergy() {
  const n = S.circuit, p = 'C' + n + '.';
  await loadRegisters().catch(() => {});
  const v = await getValues([p + 'E*', p + 'L?.E*', p + 'T?.E*', p + 'D*', p + '*unb*',
    p + '*_max', p + '*_max_time', p + '*_min', p + '*_min_time']);
  if (S.circuit !== n) return;
  const val = (name) => v[p + name];
  const cellv = (name, unit) => {
    const u = unit ?? regUnit(p + name);
    return el('td', { class: 'num', testid: 'val-' + p + name, text: p + name in v ? fmt(val(name), u) : '—' });
  };
  const head = (...hs) => el('thead', {}, el('tr', {}, hs.map((h, k) =>
    el('th', { class: k && !/^Time/.test(h) ? 'num' : null, text: h }))));

  const ENERGY = [['EP_imp', 'Active import'], ['EP_exp', 'Active export'], ['EQ_imp', 'Reactive import'],
    ['EQ_exp', 'Reactive export'], ['EQ_q1', 'Reactive Q1'], ['EQ_q2', 'Reactive Q2'], ['EQ_q3', 'Reactive Q3'],
    ['EQ_q4', 'Reactive Q4'], ['ES', 'Apparent']];
  const hasL = ENERGY.some(([q]) => isNum(val('L1.' + q)));
  clear($('#energy-total')).append(
    hasL ? head('', 'Total', 'L1', 'L2', 'L3') : head('', 'Total'),
    el('tbody', {}, ENERGY.filter(([q]) => p + q in v).map(([q, label]) => el('tr', {}, el('th', { text: label }),
      cellv(q), hasL ? ['L1', 'L2', 'L3'].map((l) => cellv(l + '.' + q)) : null))));

  const tariff = S.live && S.live.tariff;
  const TQ = ['EP_imp', 'EP_exp', 'EQ_imp', 'EQ_exp'];
  const trows = [];
  for (let t = 1; t <= 6; t++) {
    if (!TQ.some((q) => `${p}T${t}.${q}` in v)) continue;
    trows.push(el('tr', { class: t === tariff ? 'current' : null }, el('th', { text: 'T' + t + (t === tariff ? ' (now)' : '') }),
      TQ.map((q) => cellv(`T${t}.${q}`))));
  }
  clear($('#energy-tariff')).append(head('', 'P import', 'P export', 'Q import', 'Q export'), el('tbody', {}, trows));

  const drows = [['P', 'W'], ['Q', 'var'], ['S', 'VA']].filter(([k]) => p + 'D' + k in v).map(([k, u]) =>
    el('tr', {}, el('th', { text: k }), cellv('D' + k, u), cellv(`D${k}_last`, u), cellv(`D${k}_max`, u),
      el('td', { class: 'time', testid: `val-${p}D${k}_max_time`, text: fmtTime(val(`D${k}_max_time`)) })));
  clear($('#energy-demand')).append(head('', 'Present', 'Last', 'Max', 'Time of max'), el('tbody', {}, drows));

  const UNB = [['Uunb2', 'Voltage, negative sequence'], ['Uunb0', 'Voltage, zero sequence'],
    ['Iunb2', 'Current, negative sequence'], ['Iunb0', 'Current, zero sequence']];
  clear($('#energy-unb')).append(el('tbody', {}, UNB.filter(([q]) => p + q in v).map(([q, label]) =>
    el('tr', {}, el('th', { text: label }), cellv(q, '%')))));

  const bases = [];
  for (const k of Object.keys(v)) {
    const m = /^C\d+\.(.+)_max$/.exec(k);
    if (m && !/^D[PQS]$/.test(m[1]) && !bases.includes(m[1])) bases.push(m[1]);
  }
  clear($('#energy-maxmin')).append(head('', 'Max', 'Time', 'Min', 'Time'), el('tbody', {}, bases.map((b) => {
    const u = regUnit(`${p}${b}_max`) || liveUnit(b);
    return el('tr', {}, el('th', { text: b }), cellv(b + '_max', u),
      el('td', { class: 'time', text: fmtTime(val(b + '_max_time')) }), cellv(b + '_min', u),
      el('td', { class: 'time', text: fmtTime(val(b + '_min_time')) }));
  })));
}

// ---------------------------------------------------------------- alarms & events

function renderAlarmList() {
  const ul = clear($('#alarm-list'));
  const d = S.live;
  if (!d) {
    ul.append(el('li', { class: 'muted', text: 'Waiting for data…' }));
    return;
  }
  let n = 0;
  for (const c of d.circuits || []) {
    for (const a of c.alarms || []) {
      n++;
      ul.append(el('li', { class: 'alarm-item', testid: `alarm-C${c.circuit}-${a}` },
        el('span', { class: 'badge alarm', text: 'C' + c.circuit }), ` ${alarmLabel(a)} `, el('code', { text: a })));
    }
  }
  for (let i = 1; i <= 16 && isNum(d.input_alarms); i++) {
    if ((d.input_alarms >> (i - 1)) & 1) {
      n++;
      ul.append(el('li', { class: 'alarm-item', testid: `alarm-DI${i}` },
        el('span', { class: 'badge alarm', text: 'DI' + i }), ' Input logic alarm'));
    }
  }
  if (!n) ul.append(el('li', { class: 'ok', text: 'No active alarms.' }));
}

function describeEvent(e) {
  const v = e.value, c = e.code;
  switch (e.type) {
    case 'power-on': return c === 1 ? 'started, saved state restored' : 'started without saved state';
    case 'config': {
      const r = S.regByAddr.get(c);
      return `settings changed from ${r ? r.name : 'register ' + c}` + (isNum(v) ? `, ${v} register${v === 1 ? '' : 's'}` : '');
    }
    case 'reset': return 'reset: ' + (RESETS[c] || 'code ' + c);
    case 'clock': return 'clock set' + (isNum(v) ? `, moved ${fmtNum(v, 6)} s` : '');
    case 'rollover': return `energy rollover at ${fmtNum(v, 4)} Wh` + (isNum(e.value2) ? `, ${e.value2} registers` : '');
    case 'freeze': return 'monthly freeze ' + (isNum(v) ? `${Math.floor(v / 100)}-${String(v % 100).padStart(2, '0')}` : '');
    case 'lockout': return 'password lockout';
    case 'alarm-on':
    case 'alarm-off': {
      const what = c > 100 ? `DI${c - 100} input alarm` : alarmLabel((ALARMS[c] || [])[0] || 'alarm ' + c);
      return (e.type === 'alarm-on' ? 'alarm: ' : 'alarm ended: ') + what + (isNum(v) && c <= 100 ? `, value ${fmtNum(v)}` : '');
    }
    case 'input': return `DI${c} ${v ? 'closed' : 'open'}`;
    case 'relay': return `DO${c} ${v ? 'closed' : 'open'}`;
    default: return `code ${c}` + (isNum(v) ? `, value ${fmtNum(v)}` : '');
  }
}

const EVENTS_PAGE = 25;

async function loadEvents(before) {
  $('#events-error').textContent = '';
  await loadRegisters().catch(() => {});
  let d;
  try {
    d = await api('GET', `events?count=${EVENTS_PAGE}` + (before ? `&before=${before}` : ''));
  } catch (e) {
    $('#events-error').textContent = e.message;
    throw e;
  }
  S.events.before = before;
  S.events.last = d.last;
  const evs = d.events || [];
  const table = clear($('#events-table'));
  table.append(el('thead', {}, el('tr', {}, ['#', 'Time', 'Event', 'Source', 'Circuit', 'Details'].map((h) => el('th', { text: h })))));
  const tb = el('tbody');
  for (const e of evs) {
    tb.append(el('tr', { class: /^alarm-on$/.test(e.type) ? 'alarm-row' : null, testid: 'event-' + e.seq },
      el('td', { class: 'num', text: String(e.seq) }),
      el('td', { class: 'time', text: fmtTime(e.time) }),
      el('td', { text: e.type }),
      el('td', { text: e.source + (e.account ? ` (${e.account})` : '') }),
      el('td', { text: e.circuit ? 'C' + e.circuit : '—' }),
      el('td', { text: describeEvent(e) })));
  }
  if (!evs.length) tb.append(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No events.' })));
  table.append(tb);
  const seqs = evs.map((e) => e.seq);
  const lo = seqs.length ? Math.min(...seqs) : null;
  S.events.lowest = lo;
  $('#events-range').textContent = seqs.length ? `#${Math.max(...seqs)} … #${lo} of ${d.last}` : '';
  $('#events-older').disabled = !lo || lo <= 1 || evs.length < EVENTS_PAGE;
  $('#events-newest').disabled = !before;
}

function refreshEvents() {
  renderAlarmList();
  if (!S.events.before) return loadEvents(null);
  return undefined;
}

// ---------------------------------------------------------------- I/O

async function loadIo() {
  await loadRegisters().catch(() => {});
  buildIo();
  const names = [];
  if (S.nRelays) names.push('DO*.mode', 'DO*.pulse');
  if (S.nInputs) names.push('DI*.count', 'DI*.alarm', 'SOE*');
  S.ioValues = names.length ? await getValues(names) : {};
  renderIoStates();
  renderSoe();
}

function buildIo() {
  const rbox = $('#relays');
  if (rbox.dataset.built !== String(S.nRelays)) {
    rbox.dataset.built = String(S.nRelays);
    clear(rbox);
    if (!S.nRelays) rbox.append(el('p', { class: 'muted', text: 'This model has no relay outputs.' }));
    else {
      const tb = el('tbody');
      for (let r = 1; r <= S.nRelays; r++) {
        const err = el('div', { class: 'error', role: 'alert', testid: `relay-${r}-error` });
        tb.append(el('tr', {},
          el('th', { text: 'DO' + r }),
          el('td', {}, el('span', { class: 'state', testid: `relay-${r}-state`, id: `relay-${r}-state`, text: '—' })),
          el('td', { id: `relay-${r}-mode`, testid: `relay-${r}-mode`, text: '—' }),
          el('td', {}, el('div', { class: 'buttons' },
            el('button', { type: 'button', testid: `relay-${r}-close`, onclick: () => relayCommand(r, true), text: 'Close' }),
            el('button', { type: 'button', testid: `relay-${r}-open`, onclick: () => relayCommand(r, false), text: 'Open' }),
            err))));
      }
      rbox.append(el('div', { class: 'table-wrap' }, el('table', { class: 'data relays' },
        el('thead', {}, el('tr', {}, ['Relay', 'State', 'Mode', 'Manual control'].map((h) => el('th', { text: h })))), tb)),
      el('p', { class: 'muted small', text: 'Manual commands need the relay in manual mode (Settings → Relays → DOn.mode = 0).' }));
    }
  }
  const ibox = $('#inputs');
  if (ibox.dataset.built !== String(S.nInputs)) {
    ibox.dataset.built = String(S.nInputs);
    clear(ibox);
    if (!S.nInputs) ibox.append(el('p', { class: 'muted', text: 'This model has no digital inputs.' }));
    else {
      const tb = el('tbody');
      for (let i = 1; i <= S.nInputs; i++) {
        tb.append(el('tr', {}, el('th', { text: 'DI' + i }),
          el('td', {}, el('span', { class: 'state', id: `input-${i}-state`, testid: `input-${i}-state`, text: '—' })),
          el('td', { class: 'num', id: `input-${i}-count`, testid: `input-${i}-count`, text: '—' }),
          el('td', { id: `input-${i}-alarm`, testid: `input-${i}-alarm`, text: '—' })));
      }
      ibox.append(el('div', { class: 'table-wrap' }, el('table', { class: 'data' },
        el('thead', {}, el('tr', {}, ['Input', 'State', 'Changes', 'Logic alarm'].map((h) => el('th', { class: h === 'Changes' ? 'num' : null, text: h })))), tb)));
    }
  }
}

function renderIoStates() {
  if (S.tab !== 'io') return;
  buildIo();
  const d = S.live || {}, v = S.ioValues;
  for (let r = 1; r <= S.nRelays; r++) {
    const st = $(`#relay-${r}-state`);
    if (!st) continue;
    const on = isNum(d.relays) ? (d.relays >> (r - 1)) & 1 : null;
    st.textContent = on === null ? '—' : on ? 'closed' : 'open';
    st.dataset.state = on === null ? '' : on ? 'closed' : 'open';
    st.classList.toggle('on', on === 1);
    const mode = v[`DO${r}.mode`];
    $(`#relay-${r}-mode`).textContent = mode === 0 ? 'manual' + (v[`DO${r}.pulse`] ? ' (pulse)' : '') : mode === 1 ? 'alarm' : '—';
  }
  for (let i = 1; i <= S.nInputs; i++) {
    const st = $(`#input-${i}-state`);
    if (!st) continue;
    const on = isNum(d.inputs) ? (d.inputs >> (i - 1)) & 1 : null;
    st.textContent = on === null ? '—' : on ? 'closed' : 'open';
    st.dataset.state = on === null ? '' : on ? 'closed' : 'open';
    st.classList.toggle('on', on === 1);
    $(`#input-${i}-count`).textContent = isNum(v[`DI${i}.count`]) ? String(v[`DI${i}.count`]) : '—';
    const active = isNum(d.input_alarms) && (d.input_alarms >> (i - 1)) & 1;
    const al = $(`#input-${i}-alarm`);
    al.textContent = active ? 'ACTIVE' : v[`DI${i}.alarm`] === 1 ? 'armed' : v[`DI${i}.alarm`] === 0 ? 'off' : '—';
    al.classList.toggle('bad', !!active);
  }
}

function renderSoe() {
  const v = S.ioValues;
  const table = clear($('#soe-table'));
  if (!S.nInputs) {
    table.append(el('tbody', {}, el('tr', {}, el('td', { class: 'muted', text: 'No digital inputs.' }))));
    return;
  }
  table.append(el('thead', {}, el('tr', {}, ['#', 'Time', 'Input', 'New state'].map((h) => el('th', { text: h })))));
  const tb = el('tbody');
  for (let k = 1; k <= 16; k++) {
    const inp = v[`SOE${k}.input`];
    if (!inp) continue;
    tb.append(el('tr', { testid: 'soe-' + k }, el('td', { class: 'num', text: String(k) }),
      el('td', { class: 'time', text: fmtTimeMs(v[`SOE${k}.time_ms`]) }),
      el('td', { text: 'DI' + inp }), el('td', { text: v[`SOE${k}.state`] ? 'closed' : 'open' })));
  }
  if (!tb.firstChild) tb.append(el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'No input changes recorded.' })));
  table.append(tb);
}

async function relayCommand(r, close) {
  const err = $(`[data-testid="relay-${r}-error"]`);
  err.textContent = '';
  err.classList.remove('ok');
  const btns = $$(`[data-testid^="relay-${r}-"]`).filter((b) => b.tagName === 'BUTTON');
  btns.forEach((b) => (b.disabled = true));
  try {
    await api('POST', 'relay', { relay: r, close });
    err.classList.add('ok');
    err.textContent = `DO${r} ${close ? 'closed' : 'opened'}`;
    await refreshLiveOnce();
    renderIoStates();
  } catch (e) {
    err.textContent = e.message;
  } finally {
    btns.forEach((b) => (b.disabled = false));
  }
}

// ---------------------------------------------------------------- settings

const GROUP_TITLES = {
  meter: 'Meter and grid', tariffs: 'Tariffs', demand: 'Demand', communication: 'Communication',
  display: 'Display', relays: 'Relays', inputs: 'Digital inputs',
};

function settingGroup(name) {
  let m = /^C(\d+)\.([A-Za-z0-9_]+)\.[A-Za-z0-9_]+$/.exec(name);
  if (m && /^(over|under)_/.test(m[2])) return 'alarms-' + m[1];
  m = /^C(\d+)\./.exec(name);
  if (m) return 'circuit-' + m[1];
  if (/^DO\d+\./.test(name)) return 'relays';
  if (/^DI\d+\./.test(name)) return 'inputs';
  if (/^(tariff_|periods$|T[a-f]\.)/.test(name)) return 'tariffs';
  if (/^demand_/.test(name)) return 'demand';
  if (/^(rs485_|address$|baud$|parity$|stop_bits$|tcp_|dhcp$|ip$|netmask$|gateway$|web_|ftp_|mqtt|dlt)/.test(name)) return 'communication';
  if (/^(language$|key_tone$|backlight$|brightness$|display|lcd)/.test(name)) return 'display';
  return 'meter';
}

function groupTitle(id) {
  let m = /^circuit-(\d+)$/.exec(id);
  if (m) return 'Circuit ' + m[1];
  m = /^alarms-(\d+)$/.exec(id);
  if (m) return 'Alarms, circuit ' + m[1];
  return GROUP_TITLES[id] || id;
}

function groupRank(id) {
  const order = ['meter', 'circuit', 'tariffs', 'demand', 'communication', 'display', 'relays', 'inputs'];
  const m = /^(circuit|alarms)-(\d+)$/.exec(id);
  if (m) return 1 + Number(m[2]) / 10 + (m[1] === 'alarms' ? 0.05 : 0);
  const k = order.indexOf(id);
  return k < 0 ? 99 : k;
}

function subgroupOf(name) {
  const rest = name.replace(/^C\d+\./, '');
  const k = rest.lastIndexOf('.');
  return k < 0 ? '' : rest.slice(0, k);
}

function isSetting(r) {
  return r.access === 'RW' && r.unlock === 'settings' && r.present === true &&
    r.name !== 'rtc' && r.name !== 'datetime' && !/\.command$/.test(r.name);
}

/* "...: 0 disabled, 1 enabled" → [["0","disabled"],["1","enabled"]]; "...: 2400, 4800" → values */
function parseEnum(r) {
  if (!/^U(8|16|32)$/.test(r.type)) return null;
  const d = r.description || '';
  const i = d.lastIndexOf(': ');
  if (i < 0) return null;
  const parts = d.slice(i + 2).split(/,\s*/);
  if (parts.length < 2) return null;
  const opts = [];
  for (const p of parts) {
    let m = /^(\d+) (.+)$/.exec(p.trim());
    if (m) opts.push([m[1], m[2]]);
    else if ((m = /^(\d+)$/.exec(p.trim()))) opts.push([m[1], m[1]]);
    else return null;
  }
  return opts;
}

const isIp = (r) => r.type === 'U32' && /IPv4/.test(r.description || '');

function settingText(v, r) {
  if (v == null) return '';
  if (isIp(r)) return ipText(v);
  if (r.type === 'F32' && isNum(v)) return String(Number(v.toPrecision(7)));
  return String(v);
}

function commonPrefix(descs) {
  if (descs.length < 2) return '';
  let p = descs[0];
  for (const d of descs) while (!d.startsWith(p)) p = p.slice(0, -1);
  const k = p.lastIndexOf(': ');
  return k < 0 ? '' : p.slice(0, k + 2);
}

async function enterSettings() {
  $('#clock-now').textContent = fmtTime(S.live && S.live.rtc);
  if (S.settingsBuilt) return loadSettingValues(true);
  // the forms appear only with their values, so nothing typed is overwritten
  if (!S.settingsBuilding) {
    S.settingsBuilding = (async () => {
      $('#settings-status').textContent = 'Loading the settings…';
      await loadRegisters();
      const forms = buildSettings();
      await loadSettingValues(false);
      if (!S.csrf) return;
      clear($('#settings-groups')).append(forms);
      S.settingsBuilt = true;
      $('#settings-status').textContent = '';
    })().catch((e) => {
      $('#settings-status').textContent = 'Could not load the settings: ' + e.message;
      throw e;
    }).finally(() => {
      S.settingsBuilding = null;
    });
  }
  return S.settingsBuilding;
}

function buildSettings() {
  const host = document.createDocumentFragment();
  S.settingInputs.clear();
  const groups = new Map();
  for (const r of S.registers.filter(isSetting)) {
    const g = settingGroup(r.name);
    if (!groups.has(g)) groups.set(g, new Map());
    const sub = subgroupOf(r.name);
    const subs = groups.get(g);
    if (!subs.has(sub)) subs.set(sub, []);
    subs.get(sub).push(r);
  }
  const ids = [...groups.keys()].sort((a, b) => groupRank(a) - groupRank(b));
  for (const id of ids) {
    const form = el('form', { class: 'settings-form', 'data-group': id, novalidate: true });
    for (const [sub, regs] of groups.get(id)) {
      const prefix = sub ? commonPrefix(regs.map((r) => r.description || '')) : '';
      const fs = el('fieldset', { class: 'sub' });
      if (sub) {
        const alarm = ALARM_LABEL[sub];
        const about = prefix ? prefix.slice(0, -2) : alarm;
        fs.append(el('legend', { text: sub + (about ? ' — ' + about : '') }));
      }
      for (const r of regs) fs.append(buildField(r, prefix));
      form.append(fs);
    }
    const status = el('span', { class: 'status', role: 'status', testid: 'status-' + id });
    form.append(el('div', { class: 'actions' },
      el('button', { type: 'submit', testid: 'save-' + id, text: 'Save' }),
      el('button', { type: 'button', class: 'btn-light', text: 'Undo changes', onclick: () => revertGroup(form) }),
      status));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      saveGroup(id, form, status);
    });
    form.addEventListener('input', (ev) => markDirty(ev.target));
    form.addEventListener('change', (ev) => markDirty(ev.target));
    host.append(el('details', { class: 'group', id: 'group-' + id, open: id === 'meter' },
      el('summary', { testid: 'group-' + id, text: groupTitle(id) }), form));
  }
  return host;
}

function buildField(r, prefix) {
  const id = 'f-' + r.name;
  const opts = parseEnum(r);
  let input;
  if (opts) {
    input = el('select', { id, name: r.name, testid: 'field-' + r.name },
      opts.map(([v, label]) => el('option', { value: v, text: v === label ? v : `${v} — ${label}` })));
  } else {
    input = el('input', {
      id, name: r.name, testid: 'field-' + r.name, type: 'text', autocomplete: 'off', spellcheck: 'false',
      inputmode: isIp(r) ? 'decimal' : /^U/.test(r.type) ? 'numeric' : null,
      placeholder: isIp(r) ? 'a.b.c.d' : 'n/a',
    });
  }
  input.dataset.orig = '';
  S.settingInputs.set(r.name, { input, reg: r });
  let desc = r.description || '';
  if (prefix && desc.startsWith(prefix)) desc = desc.slice(prefix.length);
  return el('div', { class: 'field' },
    el('label', { for: id }, el('code', { class: 'reg', text: r.name }), r.unit ? el('span', { class: 'unit', text: r.unit }) : null),
    input,
    el('div', { class: 'desc', text: desc }),
    el('div', { class: 'error', role: 'alert', testid: 'error-' + r.name, id: 'e-' + r.name }));
}

function markDirty(input) {
  if (!input || !input.dataset || input.dataset.orig === undefined) return;
  input.classList.toggle('changed', input.value.trim() !== input.dataset.orig);
}

function setFieldValue(input, text) {
  if (input.tagName === 'SELECT' && text !== '' && ![...input.options].some((o) => o.value === text)) {
    input.append(el('option', { value: text, text }));
  }
  input.value = text;
  input.dataset.orig = text;
  input.classList.remove('changed');
}

async function loadSettingValues(keepDirty) {
  const names = [...S.settingInputs.keys()];
  if (!names.length) return;
  const v = await getValues(names);
  for (const [name, { input, reg }] of S.settingInputs) {
    if (keepDirty && input.classList.contains('changed')) continue;
    setFieldValue(input, name in v ? settingText(v[name], reg) : '');
  }
}

function revertGroup(form) {
  for (const input of $$('input, select', form)) {
    if (input.dataset.orig === undefined) continue;
    input.value = input.dataset.orig;
    input.classList.remove('changed');
  }
  for (const e of $$('.error', form)) e.textContent = '';
  form.querySelector('.status').textContent = '';
}

async function saveGroup(id, form, status) {
  for (const e of $$('.error', form)) e.textContent = '';
  status.className = 'status';
  const body = {};
  let bad = 0;
  for (const input of $$('input, select', form)) {
    const name = input.name;
    const it = S.settingInputs.get(name);
    if (!it) continue;
    const text = input.value.trim();
    if (text === input.dataset.orig) continue;
    let v;
    if (isIp(it.reg)) v = ipParse(text);
    else v = text === '' ? null : Number(text);
    if (v === null || !Number.isFinite(v)) {
      $('#e-' + CSS.escape(name)).textContent = isIp(it.reg) ? 'an IPv4 address a.b.c.d is needed' : 'a number is needed';
      bad++;
      continue;
    }
    body[name] = v;
  }
  if (bad) {
    status.classList.add('bad');
    status.textContent = 'Not saved: fix the marked fields.';
    return;
  }
  const names = Object.keys(body);
  if (!names.length) {
    status.textContent = 'Nothing changed.';
    return;
  }
  const btn = form.querySelector('button[type=submit]');
  btn.disabled = true;
  status.textContent = 'Saving…';
  try {
    const res = await api('PATCH', 'settings', body);
    // reload: the saved fields as the meter has them now, and whatever a
    // change moved elsewhere (fields being edited are left alone)
    for (const name of names) S.settingInputs.get(name).input.classList.remove('changed');
    await loadSettingValues(true);
    status.classList.add('ok');
    status.textContent = 'Saved: ' + (res.changed || names).join(', ');
    if (id === 'relays') loadIo().catch(() => {});
  } catch (e) {
    status.classList.add('bad');
    const field = e.data && e.data.field;
    if (e.status === 400 && field && S.settingInputs.has(field)) {
      $('#e-' + CSS.escape(field)).textContent = e.data.error || e.message;
      status.textContent = `Not saved: ${field}: ${e.data.error || e.message}`;
      S.settingInputs.get(field).input.focus();
    } else if (e.status === 403) {
      status.textContent = `Refused (HTTP 403): ${e.data.error || 'this account may not change settings'}`;
    } else {
      status.textContent = 'Not saved: ' + e.message;
    }
  } finally {
    btn.disabled = false;
  }
}

async function onClockSubmit(ev) {
  ev.preventDefault();
  let t = $('#clock-datetime').value;
  if (!t) {
    setStatus('#clock-status', false, 'Pick a date and time first.');
    return;
  }
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(t)) t += ':00';
  await clockRequest({ datetime: t });
}

async function clockRequest(body) {
  try {
    await api('POST', 'clock', body);
    setStatus('#clock-status', true, 'Clock set.');
    refreshLiveOnce();
  } catch (e) {
    setStatus('#clock-status', false, e.message);
  }
}

async function onResetSubmit(ev) {
  ev.preventDefault();
  const what = $('#reset-what').value, pw = $('#reset-password').value;
  try {
    await api('POST', 'reset', { what, reset_password: pw });
    $('#reset-password').value = '';
    setStatus('#reset-status', true, 'Reset done: ' + $('#reset-what').selectedOptions[0].textContent);
    if (what === 'factory' && S.settingsBuilt) loadSettingValues(false).catch(() => {});
  } catch (e) {
    setStatus('#reset-status', false, e.message);
  }
}

function setStatus(sel, ok, text) {
  const s = $(sel);
  s.className = 'status ' + (ok ? 'ok' : 'bad');
  s.textContent = text;
}

// ---------------------------------------------------------------- device

const DEVICE_FIELDS = [
  ['vendor', 'Vendor'], ['model', 'Model'], ['model_summary', 'Model summary'], ['firmware', 'Firmware'],
  ['serial', 'Serial number'], ['circuits', 'Circuits'], ['sample_rate', 'Sample rate'],
  ['datetime', 'Meter time (its local time)'], ['rtc', 'Meter time (this browser)'], ['uptime_s', 'Running time'],
];
const CONFIG_NAMES = ['address', 'baud', 'parity', 'stop_bits', 'rs485_enabled', 'tcp_enabled', 'tcp_port', 'dhcp', 'ip',
  'netmask', 'gateway', 'web_port', 'nominal_hz', 'vt_ratio', 'u_nominal', 'C*.wiring', 'C*.ct_ratio'];

function displayValue(name, v) {
  const r = S.regByName.get(name);
  if (!r) return fmt(v);
  if (isIp(r)) return ipText(v) || '—';
  const opts = parseEnum(r);
  if (opts && isNum(v)) {
    const o = opts.find(([k]) => Number(k) === v);
    if (o) return o[0] === o[1] ? o[0] + (r.unit ? ' ' + r.unit : '') : o[1];
  }
  if (!isNum(v)) return fmt(v);
  return String(Number(v.toPrecision(7))) + (r.unit ? ' ' + r.unit : '');
}

function shortLabel(name) {
  const r = S.regByName.get(name);
  const c = /^C(\d+)\./.exec(name);
  let d = (r && r.description) || name;
  d = d.split(/:|,| \(/)[0];
  return (c ? 'C' + c[1] + ' ' : '') + d;
}

async function loadDevice() {
  const [dev] = await Promise.all([api('GET', 'device'), loadRegisters().catch(() => {})]);
  S.device = dev;
  setCircuitCount(dev.circuits);
  const dl = clear($('#device-info'));
  for (const [k, label] of DEVICE_FIELDS) {
    let v = dev[k];
    if (k === 'rtc') v = fmtTime(v);
    else if (k === 'uptime_s') v = fmtDuration(v);
    else if (k === 'sample_rate') v = isNum(v) ? v + ' S/s' : v;
    dl.append(el('dt', { text: label }), el('dd', { testid: 'device-' + k, text: v == null ? '—' : String(v) }));
  }
  const vals = await getValues(CONFIG_NAMES);
  const cl = clear($('#device-config'));
  for (const name of Object.keys(vals)) {
    cl.append(el('dt', { text: shortLabel(name), title: name }), el('dd', { testid: 'config-' + name, text: displayValue(name, vals[name]) }));
  }
}

// ---------------------------------------------------------------- start

function init() {
  $('#login-form').addEventListener('submit', onLoginSubmit);
  $('#logout').addEventListener('click', logout);
  window.addEventListener('hashchange', () => showTab(tabFromHash()));
  for (const sel of $$('select.circuit-select')) sel.addEventListener('change', onCircuitChange);
  $('#harm-channel').addEventListener('change', (ev) => {
    S.harmChannel = ev.target.value;
    S.harmPick = null;
    drawHarmonics();
  });
  const cv = $('#harm-canvas');
  cv.addEventListener('mousemove', onHarmPoint);
  cv.addEventListener('click', onHarmPoint);
  window.addEventListener('resize', () => {
    if (S.tab === 'harmonics') drawHarmonics();
  });
  $('#events-older').addEventListener('click', () => {
    if (S.events.lowest) loadEvents(S.events.lowest).catch(showTabError);
  });
  $('#events-newest').addEventListener('click', () => loadEvents(null).catch(showTabError));
  $('#settings-reload').addEventListener('click', () => {
    if (!S.settingsBuilt) return;
    for (const e of $$('#settings-groups .error, #settings-groups .status')) e.textContent = '';
    loadSettingValues(false).then(() => {
      $('#settings-status').textContent = 'Values reloaded from the meter.';
    }).catch((e) => {
      $('#settings-status').textContent = e.message;
    });
  });
  $('#clock-form').addEventListener('submit', onClockSubmit);
  $('#clock-sync').addEventListener('click', () => clockRequest({ unix: Math.round(Date.now() / 1000) }));
  $('#reset-form').addEventListener('submit', onResetSubmit);

  api('GET', 'session').then(startSession).catch(() => showLogin());
}

init();
