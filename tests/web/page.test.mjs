// page.test.mjs — the management page (web/) in a real browser (Debian's
// chromium through playwright-core) against a running meter:
//   node page.test.mjs --url http://127.0.0.1:PORT --bm BINARY --modbus 127.0.0.1:PORT2
//                      [--admin-pw PW] [--user-pw PW]
// or, for developing the page, against tests/web/mock_server.py:
//   node page.test.mjs --url http://127.0.0.1:8081 --mock
// Changes made through the page are checked with a Modbus read
// (`BINARY read --tcp ... --json NAME`; with --mock, the mock's /mock/read).
// Screenshots of every page (desktop and 375 px wide) go to $BM_ARTIFACTS
// (default: a new temporary folder; the path is printed).
// Exit status 0 when every check passed; otherwise 1 with "FAIL ..." lines.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

// ---------------------------------------------------------------- options
const opt = { url: '', bm: '', modbus: '', mock: false, adminPw: 'test-admin-pw', userPw: 'test-user-pw',
  chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], next = () => process.argv[++i];
  if (a === '--url') opt.url = next().replace(/\/$/, '');
  else if (a === '--bm') opt.bm = next();
  else if (a === '--modbus') opt.modbus = next();
  else if (a === '--mock') opt.mock = true;
  else if (a === '--admin-pw') opt.adminPw = next();
  else if (a === '--user-pw') opt.userPw = next();
  else if (a === '--chromium') opt.chromium = next();
  else {
    console.error(`page.test.mjs: unknown option ${a}`);
    process.exit(2);
  }
}
if (!opt.url || (!opt.mock && (!opt.bm || !opt.modbus))) {
  console.error('usage: node page.test.mjs --url URL (--bm BINARY --modbus HOST:PORT | --mock) [--admin-pw PW] [--user-pw PW]');
  process.exit(2);
}
const artifacts = process.env.BM_ARTIFACTS || mkdtempSync(join(tmpdir(), 'bm-web-'));
mkdirSync(artifacts, { recursive: true });
console.log(`screenshots: ${artifacts}`);

// ---------------------------------------------------------------- checks
let passed = 0, failed = 0;
const t0 = Date.now();
function ok(name) {
  passed++;
  console.log(`ok   ${name}`);
}
class Fail extends Error {}
function check(cond, name, detail = '') {
  if (!cond) throw new Fail(`${name}${detail ? ': ' + detail : ''}`);
  ok(name);
}

/* one register over Modbus, as the meter's other interface sees it */
async function modbus(name) {
  if (opt.mock) {
    const r = await fetch(`${opt.url}/mock/read?name=${encodeURIComponent(name)}`);
    return (await r.json())[name];
  }
  const { stdout } = await run(opt.bm, ['read', '--tcp', opt.modbus, '--json', name], { timeout: 10000 });
  const v = JSON.parse(stdout)[name];
  if (v === undefined) throw new Fail(`Modbus read of ${name}: no value in ${stdout.trim()}`);
  return v;
}

/* "12.35 kW" → 12350 */
function parseQuantity(text) {
  const m = /^\s*(-?[\d.]+(?:e[-+]?\d+)?)\s*([kMG]?)/.exec(text || '');
  if (!m) return NaN;
  return Number(m[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 })[m[2]];
}

async function until(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      if (e instanceof Fail) throw e;
      last = e.message;
    }
    if (Date.now() > end) throw new Fail(`timed out (${ms / 1000} s) waiting for ${what}${last ? ` (last: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

// ---------------------------------------------------------------- browser
const browser = await chromium.launch({ executablePath: opt.chromium, args: ['--no-sandbox'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(10000);
const problems = [];
let streamBlocked = false; // while the test blocks /api/stream, its failures are expected
page.on('console', (m) => {
  const t = m.text();
  if (m.type() !== 'error' || /status of 40[0139]/.test(t) || (streamBlocked && /ERR_FAILED/.test(t))) return;
  problems.push('console: ' + t);
});
page.on('pageerror', (e) => problems.push('page error: ' + e.message));
page.on('request', (r) => {
  if (!r.url().startsWith(opt.url) && !r.url().startsWith('data:')) problems.push('request to another origin: ' + r.url());
});
const tid = (id) => page.getByTestId(id);

async function shot(name) {
  await page.screenshot({ path: join(artifacts, name + '.png'), fullPage: true });
}

async function setField(name, value) {
  const f = tid('field-' + name);
  await f.waitFor();
  if ((await f.evaluate((e) => e.tagName)) === 'SELECT') await f.selectOption(String(value));
  else await f.fill(String(value));
}

async function login(user, pw) {
  await tid('login-user').waitFor();
  await tid('login-user').fill(user);
  await tid('login-password').fill(pw);
  await tid('login-submit').click();
  await tid('nav-dashboard').waitFor({ state: 'visible' });
  await until(async () => (await tid('account').textContent()).startsWith(user), `the account shown as ${user}`);
}

async function openSettings() {
  await tid('nav-settings').click();
  await until(async () => (await tid('field-vt_ratio').count()) && (await tid('field-vt_ratio').inputValue()) !== '',
    'the settings form with values');
}

async function openGroup(id) {
  const open = await page.locator('#group-' + id).evaluate((d) => d.open);
  if (!open) await tid('group-' + id).click();
}

const TABS = ['dashboard', 'phasors', 'harmonics', 'energy', 'alarms', 'io', 'settings', 'device'];
const READY = {
  dashboard: () => tid('circuit-1-P').waitFor(),
  phasors: () => page.locator('[data-testid="phasor-U1"]').waitFor({ state: 'attached' }),
  harmonics: () => until(async () => (await tid('harm-thd').textContent()) !== '—', 'the THD value'),
  energy: () => page.locator('#energy-maxmin tbody tr').first().waitFor(),
  alarms: () => page.locator('#events-table tbody tr').first().waitFor(),
  io: () => tid('relay-1-state').waitFor(),
  settings: () => tid('field-vt_ratio').waitFor(),
  device: () => until(async () => (await tid('device-model').textContent()).length > 1, 'the device model'),
};

let code = 0;
try {
  // ---- login
  await page.goto(opt.url + '/');
  await tid('login-user').waitFor({ state: 'visible' });
  ok('the login form is shown without a session');
  await tid('login-user').fill('admin');
  await tid('login-password').fill('wrong-password');
  await tid('login-submit').click();
  await until(async () => (await tid('login-error').textContent()).length > 0, 'the login error');
  ok('a wrong password is refused with a message');
  await login('admin', opt.adminPw);
  ok('admin logs in');

  // ---- dashboard: C1 P against Modbus
  await until(async () => (await tid('circuit-1-P').getAttribute('data-value')) || '', 'a value of C1 P on the dashboard', 15000);
  let pOk = false, detail = '';
  for (let k = 0; k < 6 && !pOk; k++) {
    const before = await modbus('C1.P');
    const text = await tid('circuit-1-P').textContent();
    const after = await modbus('C1.P');
    const shown = parseQuantity(text);
    const lo = Math.min(before, after), hi = Math.max(before, after), tol = 0.03 * Math.max(Math.abs(lo), Math.abs(hi)) + 1;
    pOk = shown >= lo - tol && shown <= hi + tol;
    detail = `page "${text}" (${shown}), Modbus ${before} .. ${after}`;
    if (!pOk) await page.waitForTimeout(700);
  }
  check(pOk, 'the dashboard shows C1 P within 3 % of a Modbus read of C1.P', detail);
  ok(`  (${detail})`);
  const liveText = await until(async () => {
    const t = await tid('live-status').textContent();
    return /live/.test(t) ? t : '';
  }, 'the live status');
  check(/stream|polling/.test(liveText), 'live updates run', liveText);
  await shot('dashboard');

  // ---- every page renders (desktop)
  for (const t of TABS.slice(1)) {
    await tid('nav-' + t).click();
    await tid('page-' + t).waitFor({ state: 'visible' });
    await READY[t]();
    await page.waitForTimeout(200);
    await shot(t);
    ok(`page ${t} renders`);
  }
  const events = await page.locator('#events-table tbody tr').count();
  check(events >= 1, 'the event log lists events', `${events} rows`);

  // ---- settings: vt_ratio = 2 through the form, read back over Modbus
  await openSettings();
  await openGroup('meter');
  await setField('vt_ratio', 2);
  await tid('save-meter').click();
  await until(async () => /Saved/.test(await tid('status-meter').textContent()), 'the save of vt_ratio');
  check((await modbus('vt_ratio')) === 2, 'vt_ratio saved in the form reads 2 over Modbus');
  check((await tid('field-vt_ratio').inputValue()) === '2', 'the form shows the saved vt_ratio');

  // an invalid value: the error next to the field, the form keeps it, nothing changes
  await setField('vt_ratio', 0);
  await tid('save-meter').click();
  const err = await until(async () => (await tid('error-vt_ratio').textContent()).trim(), 'the error next to vt_ratio');
  ok(`vt_ratio 0 is refused next to the field ("${err}")`);
  check((await tid('field-vt_ratio').inputValue()) === '0', 'the form keeps the refused value');
  check((await modbus('vt_ratio')) === 2, 'after the refused save Modbus still reads vt_ratio 2');
  await shot('settings-error');

  // relay 4 to manual mode through the form
  await openGroup('relays');
  await setField('DO4.mode', 0);
  await tid('save-relays').click();
  await until(async () => /Saved/.test(await tid('status-relays').textContent()), 'the save of DO4.mode');
  check((await modbus('DO4.mode')) === 0, 'DO4.mode saved in the form reads 0 over Modbus');

  // ---- I/O: close relay 4, refused command on relay 1 (alarm mode)
  await tid('nav-io').click();
  await tid('relay-4-close').click();
  await until(async () => (await tid('relay-4-state').getAttribute('data-state')) === 'closed', 'relay 4 shown closed');
  check(((await modbus('relays')) >> 3) & 1, 'relay 4 closed from the page: bit 3 of relays over Modbus');
  if ((await modbus('DO1.mode')) === 1) {
    await tid('relay-1-close').click();
    const t = await until(async () => (await tid('relay-1-error').textContent()).trim(), 'the error of relay 1');
    check(/409/.test(t), 'a command to a relay in alarm mode shows the server\'s 409 error', t);
    check(!((await modbus('relays')) & 1), 'relay 1 stays open');
  }
  await shot('io-relay');

  // ---- the event log: the page's changes are there, newest first, paging with "Older"
  await page.evaluate(async () => {
    // 26 more events (config changes) so the log has more than one page of 25
    const s = await (await fetch('/api/session')).json();
    for (let k = 0; k < 26; k++) {
      const r = await fetch('/api/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
        body: JSON.stringify({ demand_period: 15 + (k % 2) }) });
      if (!r.ok) throw new Error('PATCH demand_period: ' + r.status);
    }
  });
  await tid('nav-alarms').click();
  const seqs = async () => page.locator('#events-table tbody tr td:first-child').allTextContents();
  const first = await until(async () => {
    const v = (await seqs()).map(Number);
    return v.length === 25 ? v : null;
  }, 'a full first page of 25 events');
  check(first.every((v, k) => k === 0 || v < first[k - 1]), 'the event log is newest first', first.join(','));
  const rows = await page.locator('#events-table tbody tr').allInnerTexts();
  check(rows.some((r) => /config/.test(r) && /web \(admin\)/.test(r)), 'a change from the page is logged with source web (admin)');
  const timeText = await page.locator('#events-table tbody tr td:nth-child(2)').first().textContent();
  check(/\d/.test(timeText) && timeText !== '—', 'event times are shown as local date-time', timeText);
  await tid('events-older').click();
  const older = await until(async () => {
    const v = (await seqs()).map(Number);
    return v.length && v[0] < first[first.length - 1] ? v : null;
  }, 'the older page');
  check(older[0] === first[first.length - 1] - 1, '"Older" continues right below the first page', `${first[first.length - 1]} then ${older[0]}`);
  const olderText = await page.locator('#events-table tbody').innerText();
  check(/DO4 closed/.test(olderText), 'the older page has the relay event from before', olderText.split('\n').slice(0, 6).join(' | '));
  await tid('events-newest').click();
  await until(async () => Number((await seqs())[0]) === first[0] || Number((await seqs())[0]) > first[0], '"Newest" back at the top');
  ok('"Newest" returns to the newest events');

  // ---- clock and reset forms
  await tid('nav-settings').click();
  await openGroup('reset');
  await tid('reset-what').selectOption('maxmin');
  await tid('reset-password').fill('9999');
  await tid('reset-submit').click();
  const rs = await until(async () => (await tid('reset-status').textContent()).trim(), 'the reset answer');
  check(/403/.test(rs), 'a reset with a wrong reset password shows the 403', rs);
  await openGroup('clock');
  await tid('clock-sync').click();
  const cs = await until(async () => (await tid('clock-status').textContent()).trim(), 'the clock answer');
  check(/Clock set/.test(cs), 'the clock is set from the page', cs);
  const drift = Math.abs((await modbus('rtc')) - Date.now() / 1000);
  check(drift < 30, 'the meter clock (rtc over Modbus) follows this computer\'s clock', `${drift.toFixed(1)} s apart`);

  // ---- 375 px wide: no page-wide horizontal scrolling, screenshots
  await page.setViewportSize({ width: 375, height: 812 });
  for (const t of TABS) {
    await tid('nav-' + t).click();
    await tid('page-' + t).waitFor({ state: 'visible' });
    await READY[t]();
    await page.waitForTimeout(150);
    const w = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth }));
    check(w.doc <= w.view && w.body <= w.view, `page ${t} fits 375 px without horizontal scrolling`, JSON.stringify(w));
    await shot('phone-' + t);
  }
  await page.setViewportSize({ width: 1280, height: 900 });

  // ---- log out, log in as user: read only
  await tid('logout').click();
  await tid('login-user').waitFor({ state: 'visible' });
  ok('logout shows the login form');
  // the stream fails for this session: the page falls back to polling /api/live
  streamBlocked = true;
  await page.route('**/api/stream', (r) => r.abort());
  await login('user', opt.userPw);
  ok('user logs in');
  await until(async () => /polling/.test(await tid('live-status').textContent()), 'live (polling) after the stream failed');
  const m0 = await page.locator('#dash-meta').textContent();
  await until(async () => (await page.locator('#dash-meta').textContent()) !== m0, 'the dashboard updating by polling', 8000);
  ok('without the stream the dashboard keeps updating by polling /api/live');
  await page.unroute('**/api/stream');
  await openSettings();
  await openGroup('meter');
  await setField('vt_ratio', 3);
  await tid('save-meter').click();
  const refused = await until(async () => {
    const t = await tid('status-meter').textContent();
    return /403/.test(t) ? t : '';
  }, 'the refusal of the save');
  ok(`the user's settings save is refused ("${refused}")`);
  await shot('settings-user-refused');
  const st = await page.evaluate(async () => {
    const s = await (await fetch('/api/session')).json();
    const patch = (hdr) => fetch('/api/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...hdr }, body: '{"vt_ratio": 4}' });
    const a = await patch({ 'X-CSRF-Token': s.csrf });
    const b = await patch({});
    const c = await fetch('/api/relay', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf }, body: '{"relay": 4, "close": false}' });
    return { role: s.role, withToken: a.status, withoutToken: b.status, relay: c.status };
  });
  check(st.role === 'user' && st.withToken === 403 && st.withoutToken === 403 && st.relay === 403,
    'the API refuses the user\'s PATCH and relay command from the page (403)', JSON.stringify(st));
  check((await modbus('vt_ratio')) === 2, 'Modbus still reads vt_ratio 2');
  check(((await modbus('relays')) >> 3) & 1, 'relay 4 is still closed');

  check(problems.length === 0, 'no script errors, CSP violations or requests to other origins', problems.join('; '));
} catch (e) {
  code = 1;
  failed++;
  console.log(`FAIL ${e instanceof Fail ? e.message : e.stack || e}`);
  if (problems.length) console.log('browser problems:\n  ' + problems.join('\n  '));
  try {
    await shot('failure');
    console.log(`the page at the failure: ${join(artifacts, 'failure.png')}`);
  } catch {
    /* no page left */
  }
} finally {
  await browser.close();
}
console.log(`page.test.mjs: ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${artifacts}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(code);
