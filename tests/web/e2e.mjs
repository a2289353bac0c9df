// The portal in a real browser: Debian's chromium (CHROMIUM, default
// /usr/bin/chromium) driven by playwright-core, on the hridd and the cast
// that run.py prepared (the scenario file, argv[2]).  One line per test,
// then "N passed, N failed"; a failed test leaves a screenshot in
// artefacts/.
//
//   node e2e.mjs SCENARIO.json [NAME...]    run all tests, or those named

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTEFACTS = path.join(HERE, 'artefacts');
const sc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const only = process.argv.slice(3);
const B = sc.base;
const PAGE_WEIGHT_MAX = 100 * 1024;
const TOP = 15;

// The API as a regulator (or another key) sees it, outside the browser.
async function api(p, key = sc.regulator) {
  const res = await fetch(B + p, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  const body = await res.json();
  if (!res.ok) throw new Error(`${p}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

// A POST to the API as a key; the reply's body, or an error.
async function post(p, body, key = sc.regulator) {
  const res = await fetch(B + p, {
    method: 'POST', body: JSON.stringify(body),
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
  });
  const reply = await res.json();
  if (!res.ok) throw new Error(`POST ${p}: ${res.status} ${JSON.stringify(reply)}`);
  return reply;
}

const tests = [];
function test(name, fn, ctx = {}) {
  tests.push({ name, fn, ctx });
}

async function signIn(page, key = sc.regulator) {
  await page.goto(`${B}/portal/`);
  await page.fill('#key-input', key);
  await page.click('#signin-submit');
  await page.waitForSelector('#total-units');
}

// The data of the chart in a panel, as Chart.js holds it.
function chartData(page, id) {
  return page.evaluate((panel) => {
    const c = window.Chart.getChart(document.querySelector(`#${panel} canvas`));
    return { labels: c.data.labels, series: c.data.datasets.map((d) => d.data) };
  }, id);
}

const text = (page, sel) => page.locator(sel).innerText();

// ---- the verify page -------------------------------------------------------

test('scan_flow_genuine_in_service', async (page) => {
  const bytes = [];
  page.on('response', async (r) => {
    try { bytes.push((await r.body()).length); } catch (_) { bytes.push(0); }
  });
  await page.goto(sc.active.label);
  assert.match(await text(page, '#verdict'), /Genuine label/);
  assert.equal(await page.getAttribute('#verdict', 'data-genuine'), 'yes');
  assert.equal(await text(page, '#state-badge'), 'In service');
  assert.equal(await text(page, '#code'), sc.active.display);
  assert.match(await text(page, '#market-verdict'), /allowed/);
  assert.match(await text(page, '#operator'), /owner \d+/);
  assert.match(await text(page, '#level'), /^3 of 5: conditional autonomy/);
  await page.waitForLoadState('networkidle');
  const total = bytes.reduce((a, n) => a + n, 0);
  assert.ok(total < PAGE_WEIGHT_MAX, `the page loads ${total} bytes`);
  assert.equal(bytes.length, 1, `the page made ${bytes.length} requests`);
  const html = await page.content();
  for (const secret of sc.private) assert.ok(!html.includes(secret), `the page shows ${secret}`);
  // The phone's time zone reached the form.
  assert.equal(await page.inputValue('#tz'), '480');
});

test('forged_label_is_not_genuine', async (page) => {
  const [base, sig] = sc.active.label.split('?s=');
  const c = sig[40] === 'A' ? 'B' : 'A';
  await page.goto(`${base}?s=${sig.slice(0, 40)}${c}${sig.slice(41)}`);
  assert.match(await text(page, '#verdict'), /not genuine/);
  assert.equal(await page.getAttribute('#verdict', 'data-genuine'), 'no');
  assert.match(await text(page, '#verdict'), /does not match this code/);
  // The record is still shown, under the warning.
  assert.equal(await text(page, '#state-badge'), 'In service');
});

test('scrapped_unit_has_no_market_access', async (page) => {
  await page.goto(sc.scrapped.label);
  assert.equal(await text(page, '#state-badge'), 'Scrapped');
  assert.equal(await text(page, '#market-verdict'), 'denied');
  assert.match(await text(page, '#market'), /is scrapped/);
});

test('recalled_unit_shows_recall_and_remedy', async (page) => {
  await page.goto(sc.recalled.label);
  assert.equal(await text(page, '#recalled-badge'), 'Recalled');
  const r = await text(page, '#recalls');
  assert.ok(r.includes(sc.recalled.defect), r);
  assert.ok(r.includes(sc.recalled.remedy), r);
  assert.equal(await text(page, '#market-verdict'), 'denied');
});

test('incident_from_the_page_reaches_the_regulator', async (page) => {
  await page.goto(sc.active.label);
  const description = `hit a door frame at walking speed ${Date.now()}`;
  await page.selectOption('#kind', 'collision');
  await page.selectOption('#severity', 'serious');
  await page.fill('#when', '2026-03-04T05:06');
  await page.fill('#place', 'lobby of block C');
  await page.fill('#description', description);
  await page.fill('#contact', '+86 138 0000 0000');
  await page.click('#report-submit');
  assert.match(await text(page, '#thanks'), /Your report was received/);
  const list = await api(`/v1/incidents?verified=false&unit=${sc.active.code}&limit=1000`);
  const mine = list.items.filter((i) => i.description === description);
  assert.equal(mine.length, 1, JSON.stringify(list.items));
  assert.equal(mine[0].kind, 'collision');
  assert.equal(mine[0].severity, 'serious');
  assert.equal(mine[0].place, 'lobby of block C');
  assert.equal(mine[0].contact, '+86 138 0000 0000');
  // 05:06 in Shanghai is 21:06 UTC the day before.
  assert.equal(mine[0].at, '2026-03-03T21:06:00.000Z');
  assert.equal(mine[0].verified, false);
});

test('verify_page_works_without_javascript', async (page) => {
  await page.goto(sc.recalled.label);
  assert.match(await text(page, '#verdict'), /Genuine label/);
  assert.equal(await text(page, '#recalled-badge'), 'Recalled');
  const description = `no-script report ${Date.now()}`;
  await page.fill('#description', description);
  await page.click('#report-submit');
  assert.match(await text(page, '#thanks'), /Your report was received/);
  const list = await api(`/v1/incidents?verified=false&unit=${sc.recalled.code}&limit=1000`);
  assert.equal(list.items.filter((i) => i.description === description).length, 1);
}, { javaScriptEnabled: false });

// ---- the dashboard -----------------------------------------------------------

test('dashboard_charts_match_the_statistics', async (page, ctx) => {
  await signIn(page);
  const [state, ent, model, region, level, months, inc] = await Promise.all([
    api('/v1/stats/units?by=state'), api('/v1/stats/units?by=enterprise'),
    api('/v1/stats/units?by=model'), api('/v1/stats/units?by=region'),
    api('/v1/stats/units?by=level'), api('/v1/stats/registrations'),
    api('/v1/stats/incidents')]);
  assert.equal(Number(await page.getAttribute('#total-units', 'data-value')), state.total);
  assert.equal(await text(page, '#total-units .n'), state.total.toLocaleString('en-US'));
  const inService = state.items.find((x) => x.state === 'in_service').units;
  assert.equal(Number(await page.getAttribute('#total-in-service', 'data-value')), inService);
  for (const [id, reply] of [['chart-enterprise', ent], ['chart-model', model],
                             ['chart-region', region], ['chart-state', state],
                             ['chart-level', level]]) {
    assert.equal(Number(await page.getAttribute(`#${id}`, 'data-total')), reply.total, id);
    const d = await chartData(page, id);
    const want = id === 'chart-level'
      ? [...reply.items].sort((a, b) => a.level - b.level).map((x) => x.units)
      : reply.items.slice(0, TOP).map((x) => x.units);
    assert.deepEqual(d.series[0], want, id);
  }
  const m = await chartData(page, 'chart-months');
  assert.deepEqual(m.labels, months.items.map((x) => x.month));
  assert.deepEqual(m.series, [months.items.map((x) => x.registered), months.items.map((x) => x.released)]);
  const i = await chartData(page, 'chart-incidents');
  const top = [...inc.items].filter((x) => x.incidents > 0)
    .sort((a, b) => b.per_1000_units - a.per_1000_units).slice(0, TOP);
  assert.deepEqual(i.series[0], top.map((x) => Math.round(x.per_1000_units * 10) / 10));
  const recalls = await api('/v1/stats/recalls');
  const r = await chartData(page, 'chart-recalls');
  assert.deepEqual(r.series[0], recalls.items.map((x) => Math.round(x.completion * 1000) / 10));
  // Fence violations from the API, not a placeholder.
  const fences = await api('/v1/fence-violations?state=open&limit=1000');
  await page.waitForSelector('#fences-open');
  assert.equal(Number(await page.getAttribute('#fences-open', 'data-value')), fences.items.length);
  assert.doesNotMatch(await text(page, '#panel-fences'), /not available/i);
  // Telemetry alerts and the fleet's outliers.
  const open = await api('/v1/alerts?state=open&limit=1000');
  assert.ok(open.items.length > 0);
  await page.waitForSelector('#alerts-open');
  assert.equal(Number(await page.getAttribute('#alerts-open', 'data-value')), open.items.length);
  assert.match(await text(page, '#alerts-by-model'), new RegExp(sc.model));
  await page.waitForSelector('#outliers-table');
  const health = await api(`/v1/models/${sc.model}/health`);
  assert.deepEqual(health.outliers.map((o) => o.code), [sc.active.code]);
  const row = page.locator(`#outliers-table tr[data-model="${sc.model}"]`);
  assert.equal(await row.getAttribute('data-outliers'), '1');
  assert.ok((await row.innerText()).includes(sc.active.display));
  // The key is kept for this tab's session only.
  const stored = await page.evaluate(() => ({ s: sessionStorage.getItem('hrid.key'),
                                              l: localStorage.length, c: document.cookie }));
  assert.deepEqual(stored, { s: sc.regulator, l: 0, c: '' });
  assert.equal((await ctx.cookies()).length, 0);
});

test('maker_sees_its_own_fleet', async (page) => {
  await signIn(page, sc.maker);
  const own = await api('/v1/stats/units?by=state', sc.maker);
  assert.equal(Number(await page.getAttribute('#total-units', 'data-value')), own.total);
  assert.equal(Number(await page.getAttribute('#total-market', 'data-value')), own.market.units);
  assert.ok(own.total < own.market.units);
  assert.match(await text(page, '#who'), /manufacturer view/);
  const ent = await chartData(page, 'chart-enterprise');
  assert.equal(ent.series[0].length, 1, JSON.stringify(ent));
  // Fence violations are for regulators: the panel says so, politely.
  await page.waitForSelector('#fences-forbidden');
  assert.match(await text(page, '#panel-fences'), /Not available to this key/);
  assert.equal(await page.locator('#fences-table').count(), 0);
});

test('signin_refuses_an_unknown_key', async (page) => {
  await page.goto(`${B}/portal/`);
  await page.fill('#key-input', 'hrid_not_a_real_key_000000000000000000000');
  await page.click('#signin-submit');
  await page.waitForSelector('#signin-result:has-text("unknown or revoked")');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('hrid.key')), null);
});

// ---- a unit ------------------------------------------------------------------

test('unit_page_verifies_inclusion_proofs', async (page) => {
  await signIn(page);
  await page.goto(`${B}/portal/#/unit/${sc.active.code}`);
  await page.waitForSelector('#check-all');
  const events = (await api(`/v1/units/${sc.active.code}/events?limit=1000`)).items;
  const rows = page.locator('#timeline tbody tr');
  assert.equal(await rows.count(), events.length);
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.leaf))),
                   events.map((e) => e.leaf));
  await page.click('#check-all');
  await page.waitForFunction((n) => document.querySelectorAll('.proof-ok, .proof-bad').length === n,
                             events.length);
  assert.equal(await page.locator('.proof-bad').count(), 0, await text(page, '#timeline'));
  assert.equal(await page.locator('.proof-ok').count(), events.length);
  // Signed checkpoint checked too where the browser has Ed25519.
  assert.match(await page.locator('.proof-ok').first().getAttribute('title'), /signature verified/);
  // The label is there, and printable.
  await page.waitForFunction(() => document.querySelector('#label-img').naturalWidth > 0);
  assert.match(await text(page, '#label-text'), new RegExp(`/v/${sc.active.code}\\?s=`));
});

test('unit_page_detects_a_tampered_event', async (page) => {
  await signIn(page);
  // The events as served, with the deploy's site renamed: what a
  // registry that rewrote history after signing would show.
  await page.route('**/v1/units/*/events*', async (route) => {
    const res = await route.fetch();
    const body = (await res.text()).replace('Nanshan care home 3', 'Nanshan care home 4');
    await route.fulfill({ response: res, body });
  });
  await page.goto(`${B}/portal/#/unit/${sc.active.code}`);
  await page.waitForSelector('#check-all');
  const deploy = page.locator('#timeline tr[data-type="deploy"]');
  await deploy.locator('.proof-check').click();
  await deploy.locator('.proof-bad').waitFor();
  assert.match(await deploy.innerText(), /differs from the one in the log/);
  const register = page.locator('#timeline tr[data-type="register"]');
  await register.locator('.proof-check').click();
  await register.locator('.proof-ok').waitFor();
});

test('as_of_shows_an_earlier_state', async (page) => {
  await signIn(page);
  await page.goto(`${B}/portal/#/unit/${sc.active.code}`);
  await page.waitForSelector('#asof-form');
  await page.click('#asof-form button');
  await page.waitForSelector('#asof-state');
  assert.equal(await text(page, '#asof-state'), 'In service');
  await page.fill('#asof-t', sc.active.before);
  await page.click('#asof-form button');
  await page.waitForSelector('#asof-state:has-text("Released")');
  assert.doesNotMatch(await text(page, '#asof-result'), /Nanshan/);
});

test('unit_page_plots_health_telemetry', async (page) => {
  await signIn(page);
  await page.goto(`${B}/portal/#/unit/${sc.active.code}`);
  await page.waitForSelector('#chart-soh canvas');
  const health = await api(`/v1/units/${sc.active.code}/health`);
  // Joint 0 wears fastest: projected first, plotted first.
  const rows = page.locator('#health-table tbody tr');
  assert.equal(await rows.count(), health.joints.length + 1);
  assert.match(await rows.first().innerText(), /^joint 0 wear/);
  const j0 = health.joints.find((j) => j.joint === 0);
  assert.ok(j0.projected_at, JSON.stringify(j0));
  assert.equal(await rows.first().getAttribute('data-projected'), j0.projected_at);
  assert.match(await rows.first().innerText(), new RegExp(j0.projected_at.slice(0, 10)));
  assert.match(await text(page, '#unit-alerts'), /joint\.0\.wear 0\.262/);
  const wear = await chartData(page, 'chart-wear');
  assert.equal(wear.series.length, 3);             // joints 0 and 7, the threshold
  const soh = await chartData(page, 'chart-soh');
  const to = new Date(), from = new Date(to.getTime() - 30 * 86400000);
  const api6h = await api(`/v1/units/${sc.active.code}/telemetry?metric=battery.soh` +
    `&from=${from.toISOString()}&to=${to.toISOString()}&step=6h`);
  assert.deepEqual(soh.series[0].filter((v) => v !== null), api6h.points.map((p) => p.avg));
  assert.ok(soh.series[1].every((v) => v === health.battery.threshold));
  await page.waitForSelector('#chart-precision canvas');
});

test('fence_violation_on_the_dashboard_and_the_unit_page', async (page) => {
  const u = sc.fenced;
  // A zone around a Shenzhen care home, the unit fenced into it, and its
  // custodian's reports a second apart after its registration (the as-of
  // record starts there): inside, then twice in Shanghai.
  const zone = await post('/v1/zones', { name: 'Nanshan care home grounds', polygon: {
    type: 'Polygon',
    coordinates: [[[113.93, 22.52], [113.95, 22.52], [113.95, 22.54], [113.93, 22.54], [113.93, 22.52]]],
  } });
  await post(`/v1/units/${u.code}/fence`, { zone_ids: [zone.id] });
  const reg = Date.parse((await api(`/v1/units/${u.code}/events?limit=1`)).items[0].at);
  const [inside, out1, out2] = [1, 2, 3].map((s) => new Date(reg + s * 1000).toISOString());
  while (Date.now() < reg + 3000) await new Promise((r) => setTimeout(r, 100));
  await post('/v1/telemetry', [
    { unit: u.code, t: inside, location: { lat: 22.53, lon: 113.94 } },
    { unit: u.code, t: out1, location: { lat: 31.2, lon: 121.4 } },
    { unit: u.code, t: out2, location: { lat: 31.230416, lon: 121.473701 } },
  ], sc.owner);
  const open = (await api('/v1/fence-violations?state=open&limit=1000')).items;
  const mine = open.filter((v) => v.code === u.code);
  assert.equal(mine.length, 1, JSON.stringify(open));
  const v = mine[0];
  assert.equal(v.lat, 31.230416);
  const minute = (t) => t.replace('T', ' ').slice(0, 16);

  // The dashboard's panel: the count and the unit's row.
  await signIn(page);
  await page.waitForSelector('#fences-table');
  assert.equal(Number(await page.getAttribute('#fences-open', 'data-value')), open.length);
  assert.doesNotMatch(await text(page, '#panel-fences'), /not available/i);
  const row = page.locator(`#fences-table tr[data-code="${u.code}"]`);
  const cells = await row.locator('td').allInnerTexts();
  assert.deepEqual(cells, [u.display, minute(v.first_report), minute(v.last_report),
                           '31.230416, 121.473701']);
  assert.equal(minute(v.first_report), minute(out1));

  // Its link opens the unit page, whose record shows the violation.
  await row.locator('a').click();
  await page.waitForSelector('#unit-fences');
  assert.equal(await text(page, '#unit-code'), u.display);
  const rec = await text(page, '#unit-fences');
  assert.match(rec, /outside its zones since/);
  assert.ok(rec.includes(minute(v.first_report)) && rec.includes('31.230416, 121.473701'), rec);

  // As of now it is open; as of the report from inside, there was none.
  await page.fill('#asof-t', new Date().toISOString());
  await page.click('#asof-form button');
  await page.waitForSelector('#asof-fences:has-text("31.230416, 121.473701")');
  await page.fill('#asof-t', inside);
  await page.click('#asof-form button');
  await page.waitForSelector('#asof-fences:text-is("none")');
});

test('search_by_a_hyphenated_lower_case_code', async (page) => {
  await signIn(page);
  await page.goto(`${B}/portal/#/search`);
  const messy = ` ${sc.active.display.toLowerCase().replace(/-/g, ' - ')} `;
  await page.fill('#code-input', messy);
  await page.press('#code-input', 'Enter');
  await page.waitForSelector('#unit-code');
  assert.equal(await text(page, '#unit-code'), sc.active.display);
  assert.ok(page.url().endsWith(`#/unit/${sc.active.code}`), page.url());
  // A typo gets libhrid's verdict from the registry.
  await page.goto(`${B}/portal/#/search`);
  const c = sc.active.code;
  await page.fill('#code-input', c.slice(0, 28) + (c[28] === '0' ? '1' : '0'));
  await page.press('#code-input', 'Enter');
  assert.match(await text(page, '#code-error'), /check character is/);
});

test('search_by_filters', async (page) => {
  await signIn(page);
  await page.goto(`${B}/portal/#/search`);
  await page.selectOption('#f-state', 'scrapped');
  await page.click('#filter-form button');
  await page.waitForSelector('#unit-list tbody tr');
  const codes = await page.locator('#unit-list tbody tr td:first-child').allInnerTexts();
  assert.ok(codes.includes(sc.scrapped.display), codes.join(' '));
  const states = await page.locator('#unit-list tbody .badge').allInnerTexts();
  assert.ok(states.every((s) => s === 'Scrapped'), states.join(' '));
});

// ---- the run -----------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // Root in a container has no user namespaces for the sandbox.
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
let passed = 0, failed = 0;
for (const t of tests) {
  if (only.length && !only.includes(t.name)) continue;
  const ctx = await browser.newContext({ timezoneId: 'Asia/Shanghai', ...t.ctx });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // Refusals the pages expect and explain (an unknown key, a bad code)
    // are logged by the browser as failed loads.
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) errors.push(m.text());
  });
  try {
    await t.fn(page, ctx);
    assert.deepEqual(errors, [], 'errors in the page');
    passed++;
    console.log(`ok   web.${t.name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL web.${t.name}: ${String(e.message).split('\n').slice(0, 12).join('\n')}`);
    fs.mkdirSync(ARTEFACTS, { recursive: true });
    const shot = path.join(ARTEFACTS, `${t.name}.png`);
    await page.screenshot({ path: shot, fullPage: true }).then(
      () => console.log(`     screenshot: ${path.relative(process.cwd(), shot)}`), () => {});
  }
  await ctx.close();
}
await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
