// The regulator dashboard (docs/portal.md): one page, routed by the URL's
// hash, that reads the registry's HTTP API (docs/API.md) with the API key
// the user signs in with.  The key lives in sessionStorage only: it is
// gone when the tab closes and is never written anywhere else.  What a
// key may see is the API's business: a manufacturer's key gets the same
// pages limited to its own fleet.
//
// Every value from the API reaches the page as text nodes (el() below),
// never as HTML.

import { normalise, checkChar, display, CODE_LEN } from './code.js';
import { parseLossless, checkEvent } from './proof.js';

const KEY = 'hrid.key';
const view = document.getElementById('view');
const STATES = ['registered', 'released', 'in_service', 'maintenance', 'suspended',
                'scrapped', 'recycled', 'voided'];
const STATE_WORDS = {
  registered: 'Registered', released: 'Released', in_service: 'In service',
  maintenance: 'In maintenance', suspended: 'Suspended', scrapped: 'Scrapped',
  recycled: 'Recycled', voided: 'Voided',
};
// How many groups a bar chart shows before it sums the rest as "others".
const TOP = 15;

// ---- DOM -------------------------------------------------------------------

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

const fmt = (n) => Number(n).toLocaleString('en-US');
const stateWord = (s) => STATE_WORDS[s] || s;
const badge = (s, id) => el('span', { class: `badge b-${s}`, id }, stateWord(s));

function show(...nodes) {
  view.replaceChildren(...nodes);
}

function errorLine(e) {
  return el('p', { class: 'error' }, e instanceof ApiError ? e.message : String(e.message || e));
}

// ---- the API ---------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(path, { text = false } = {}) {
  const headers = {};
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = `Bearer ${key}`;
  const res = await fetch(path, { headers });
  const body = await res.text();
  if (!res.ok) {
    let code = null, message = `${path}: HTTP ${res.status}`;
    try {
      const err = JSON.parse(body).error;
      code = err.code;
      message = err.message;
    } catch (_) { /* not a JSON error body */ }
    if (res.status === 401 && key) {
      sessionStorage.removeItem(KEY);
      location.hash = '#/signin';
    }
    throw new ApiError(res.status, code, message);
  }
  return text ? body : JSON.parse(body);
}

const api = (path) => request(path);
const apiText = (path) => request(path, { text: true });
const enc = encodeURIComponent;

// ---- charts ----------------------------------------------------------------

const PALETTE = ['#2f6fb0', '#0a7d36', '#8a5a00', '#b3261e', '#6a4c93', '#1b998b',
                 '#c05780', '#5b6570', '#e09f3e', '#335c67', '#9e2a2b', '#3a86ff'];

// A panel with a chart and, under it, the same numbers as a table.
// series: [{label, values}] charted, all of labels.length; opts.extra:
// more columns for the table only; opts.rows: the table's row names
// (default labels); opts.rest: {groups, units} summed up in a note, for
// the groups beyond the chart's.  data-total on the panel is the sum of
// the first series and the rest: what the API counted.
function chartPanel(id, title, type, labels, series, opts = {}) {
  const canvas = el('canvas', { role: 'img', 'aria-label': title });
  const rest = opts.rest && opts.rest.groups > 0 ? opts.rest : null;
  const total = series[0].values.reduce((a, v) => a + Number(v), 0) + (rest ? rest.units : 0);
  const cols = [...series, ...(opts.extra || [])];
  const rows = opts.rows || labels;
  const table = el('table', {},
    el('thead', {}, el('tr', {}, el('th', {}, opts.labelHead || 'group'),
      cols.map((s) => el('th', { class: 'num' }, s.label)))),
    el('tbody', {}, rows.map((l, i) => el('tr', {}, el('td', {}, l),
      cols.map((s) => el('td', { class: 'num' }, s.values[i] == null ? '' : fmt(s.values[i])))))));
  const panel = el('section', { class: `panel${opts.wide ? ' wide' : ''}`, id, 'data-total': total },
    el('h2', {}, title),
    opts.note ? el('p', { class: 'muted' }, opts.note) : null,
    el('div', { class: labels.length > 8 && opts.horizontal ? 'chart tall' : 'chart' }, canvas),
    rest ? el('p', { class: 'muted rest' }, `Not charted: ${fmt(rest.groups)} more with ${fmt(rest.units)} units in all.`) : null,
    el('details', {}, el('summary', {}, 'the numbers'), table));
  panel.draw = () => {
    if (!window.Chart) {
      canvas.replaceWith(el('p', { class: 'error' },
        'The charting library is missing (run make web): the numbers are below.'));
      return;
    }
    const legend = series.length > 1 || type === 'doughnut';
    new window.Chart(canvas, {
      type,
      data: {
        labels,
        datasets: series.map((s, k) => ({
          label: s.label,
          data: s.values.map((v) => (v == null ? null : Number(v))),
          borderDash: s.dash ? [6, 4] : undefined,
          spanGaps: true,
          backgroundColor: type === 'doughnut' ? labels.map((_, i) => PALETTE[i % PALETTE.length])
                                               : PALETTE[k % PALETTE.length],
          borderColor: type === 'line' ? PALETTE[k % PALETTE.length] : undefined,
          pointStyle: type === 'line' ? 'line' : undefined,
          pointRadius: type === 'line' ? (labels.length > 40 ? 0 : 2) : undefined,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: opts.horizontal ? 'y' : 'x',
        plugins: { legend: { display: legend, position: 'bottom',
                             labels: { usePointStyle: type === 'line', pointStyle: 'line' } } },
        scales: type === 'doughnut' ? {} : {
          [opts.horizontal ? 'x' : 'y']: { beginAtZero: opts.zero !== false, max: opts.max },
          // Every group named on a horizontal bar chart.
          [opts.horizontal ? 'y' : 'x']: { ticks: { autoSkip: !opts.horizontal } },
        },
      },
    });
  };
  return panel;
}

// The first TOP groups of a stats reply, and what the others sum to.
function topGroups(items, dim, name = (k) => k) {
  const head = items.slice(0, TOP);
  const tail = items.slice(TOP);
  return {
    labels: head.map((x) => name(x[dim], false)),
    rows: head.map((x) => name(x[dim], true)),
    values: head.map((x) => x.units),
    rest: { groups: tail.length, units: tail.reduce((a, x) => a + x.units, 0) },
  };
}

// Public names of enterprises and models, for chart labels; ids when a
// lookup fails.
async function names(kind, ids) {
  const out = {};
  await Promise.all(ids.map(async (id) => {
    try {
      const r = await api(`/v1/${kind}/${enc(id)}`);
      out[id] = kind === 'enterprises' ? (r.public_name || r.name) : r.name;
    } catch (_) {
      out[id] = null;
    }
  }));
  // name(id, long): the chart's label, or the table's with the id.
  return (id, long) => (out[id] ? (long ? `${out[id]} (${id})` : out[id]) : id);
}

// ---- sign in -----------------------------------------------------------------

function signin(message) {
  const input = el('input', { type: 'password', id: 'key-input', autocomplete: 'off',
                              placeholder: 'hrid_...', required: true });
  const out = el('p', { id: 'signin-result', class: 'error' }, message || '');
  const form = el('form', { id: 'signin-form', class: 'panel signin' },
    el('h1', {}, 'Sign in'),
    el('p', { class: 'muted' }, 'With a regulator, admin or manufacturer API key. ',
      'The key stays in this browser tab (session storage) and goes only to this registry.'),
    el('label', {}, 'API key', input),
    el('p', {}, el('button', { type: 'submit', id: 'signin-submit' }, 'Sign in')),
    out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    // Any keyed call tells a known key from an unknown one; roles that
    // may not read statistics (403) may still open the units they hold.
    const res = await fetch('/v1/stats/units?by=state', { headers: { Authorization: `Bearer ${key}` } });
    if (res.status === 401) {
      out.textContent = 'This key is unknown or revoked.';
      return;
    }
    sessionStorage.setItem(KEY, key);
    if (location.hash === '#/') route();
    else location.hash = '#/';
  });
  show(form);
  setChrome();
}

function setChrome(scope) {
  const key = sessionStorage.getItem(KEY);
  document.getElementById('nav').hidden = !key;
  document.getElementById('signout').hidden = !key;
  document.getElementById('who').textContent = key
    ? `signed in with ${key.slice(0, 9)}…${scope ? ' · ' + scope : ''}` : '';
}

document.getElementById('signout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  location.hash = '#/signin';
});

// ---- overview ----------------------------------------------------------------

async function overview() {
  show(el('p', { class: 'muted' }, 'Loading the fleet statistics…'));
  let st;
  try {
    st = await Promise.all([
      api('/v1/stats/units?by=state'), api('/v1/stats/units?by=enterprise'),
      api('/v1/stats/units?by=model'), api('/v1/stats/units?by=region'),
      api('/v1/stats/units?by=level'), api('/v1/stats/registrations'),
      api('/v1/stats/incidents'), api('/v1/stats/recalls'),
    ]);
  } catch (e) {
    if (e.status === 403) {
      show(el('section', { class: 'panel' }, el('h1', {}, 'Fleet overview'),
        el('p', {}, 'Market statistics are for regulators, the platform operator and manufacturers. ',
          'Use ', el('a', { href: '#/search' }, 'Search'), ' to open the units you hold.')));
      return;
    }
    show(errorLine(e));
    return;
  }
  const [byState, byEnt, byModel, byRegion, byLevel, months, incidents, recalls] = st;
  const market = byState.market;
  const scope = market ? 'manufacturer view: your fleet' : 'whole registry';
  setChrome(scope);

  const count = (s) => (byState.items.find((x) => x.state === s) || { units: 0 }).units;
  const incidentTotal = incidents.items.reduce((a, x) => a + x.incidents, 0);
  const openRecalls = recalls.items.filter((x) => x.status === 'open').length;
  const total = (id, n, label) => el('div', { class: 'total', id, 'data-value': n },
    el('div', { class: 'n' }, fmt(n)), el('div', { class: 'l' }, label));

  const modelIds = [...new Set([...byModel.items.slice(0, TOP).map((x) => x.model),
                               ...topIncidentModels(incidents.items).map((x) => x.model)])];
  const [entName, modelName] = await Promise.all([
    names('enterprises', byEnt.items.slice(0, TOP).map((x) => x.enterprise)),
    names('models', modelIds)]);

  const ent = topGroups(byEnt.items, 'enterprise', entName);
  const mod = topGroups(byModel.items, 'model', modelName);
  const reg = topGroups(byRegion.items, 'region', (k) => (k === 'none' ? 'never deployed' : k));
  const levels = [...byLevel.items].sort((a, b) => Number(a.level) - Number(b.level));
  const inc = topIncidentModels(incidents.items);

  const panels = [
    chartPanel('chart-enterprise', 'Units by manufacturer', 'bar', ent.labels,
      [{ label: 'units', values: ent.values }],
      { horizontal: true, labelHead: 'manufacturer', rows: ent.rows, rest: ent.rest }),
    chartPanel('chart-model', 'Units by model', 'bar', mod.labels,
      [{ label: 'units', values: mod.values }],
      { horizontal: true, labelHead: 'model', rows: mod.rows, rest: mod.rest }),
    chartPanel('chart-state', 'Units by state', 'doughnut', byState.items.map((x) => stateWord(x.state)),
      [{ label: 'units', values: byState.items.map((x) => x.units) }], { labelHead: 'state' }),
    chartPanel('chart-level', 'Units by intelligence level', 'bar', levels.map((x) => `level ${x.level}`),
      [{ label: 'units', values: levels.map((x) => x.units) }], { labelHead: 'level' }),
    chartPanel('chart-region', 'Units by region (where deployed)', 'bar', reg.labels,
      [{ label: 'units', values: reg.values }],
      { labelHead: 'region', rest: reg.rest, note: 'GB/T 2260 or ISO 3166-2 region codes.' }),
    chartPanel('chart-months', 'Registrations and releases per month', 'line', months.items.map((x) => x.month),
      [{ label: 'registered', values: months.items.map((x) => x.registered) },
       { label: 'released', values: months.items.map((x) => x.released) }],
      { wide: true, labelHead: 'month (UTC)' }),
  ];
  if (recalls.items.length > 0) {
    panels.push(chartPanel('chart-recalls', 'Recall campaigns: completion (%)', 'bar',
      recalls.items.map((x) => `recall ${x.recall}`),
      [{ label: 'completion %', values: recalls.items.map((x) => Math.round(x.completion * 1000) / 10) }],
      { horizontal: true, labelHead: 'recall', max: 100,
        rows: recalls.items.map((x) => `recall ${x.recall} (${x.status})`),
        extra: [{ label: 'affected', values: recalls.items.map((x) => x.affected) },
                { label: 'remedied', values: recalls.items.map((x) => x.remedied) }] }));
  } else {
    panels.push(el('section', { class: 'panel', id: 'chart-recalls' },
      el('h2', {}, 'Recall campaigns: completion'), el('p', { class: 'muted' }, 'No recall campaigns yet.')));
  }
  if (inc.length > 0) {
    panels.push(chartPanel('chart-incidents', 'Incidents per 1,000 units, by model', 'bar',
      inc.map((x) => modelName(x.model, false)),
      [{ label: 'per 1,000 units', values: inc.map((x) => Math.round(x.per_1000_units * 10) / 10) }],
      { horizontal: true, labelHead: 'model', rows: inc.map((x) => modelName(x.model, true)),
        extra: [{ label: 'incidents', values: inc.map((x) => x.incidents) },
                { label: 'verified', values: inc.map((x) => x.verified) },
                { label: 'units', values: inc.map((x) => x.units) }],
        note: `The ${inc.length === 1 ? 'one model' : inc.length + ' models'} with the highest rates, ` +
          'verified and unverified reports.' }));
  } else {
    panels.push(el('section', { class: 'panel', id: 'chart-incidents' },
      el('h2', {}, 'Incidents per 1,000 units, by model'), el('p', { class: 'muted' }, 'No incident reports yet.')));
  }
  const alertsPanel = el('section', { class: 'panel', id: 'panel-alerts' }, el('h2', {}, 'Open alerts'),
    el('p', { class: 'muted' }, 'Loading…'));
  const outliersPanel = el('section', { class: 'panel wide', id: 'panel-outliers' },
    el('h2', {}, 'Model health outliers'), el('p', { class: 'muted' }, 'Loading…'));
  const fencesPanel = el('section', { class: 'panel', id: 'panel-fences' }, el('h2', {}, 'Fence violations'),
    el('p', { class: 'muted' }, 'Loading…'));
  panels.push(alertsPanel, fencesPanel, outliersPanel);

  show(
    el('h1', {}, market ? 'Your fleet' : 'Fleet overview'),
    el('div', { class: 'totals' },
      total('total-units', byState.total, 'units registered'),
      total('total-in-service', count('in_service'), 'in service'),
      total('total-suspended', count('suspended'), 'suspended'),
      total('total-scrapped', count('scrapped') + count('recycled'), 'scrapped or recycled'),
      total('total-incidents', incidentTotal, 'incident reports'),
      total('total-recalls', openRecalls, 'open recalls'),
      market ? total('total-market', market.units, 'units in the whole market') : null),
    el('div', { class: 'grid' }, panels));
  for (const p of panels) if (p.draw) p.draw();
  loadAlerts(alertsPanel, modelName);
  loadFences(fencesPanel);
  loadOutliers(outliersPanel, byModel.items.slice(0, TOP).map((x) => x.model), modelName);
}

// Every item of a listing, at most `pages` pages of 1,000.
async function allItems(path, pages = 20) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < pages; i++) {
    const page = await api(`${path}${path.includes('?') ? '&' : '?'}limit=1000${cursor ? '&cursor=' + enc(cursor) : ''}`);
    out.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) return { items: out, complete: true };
  }
  return { items: out, complete: false };
}

const unitLink = (code) => el('a', { class: 'mono', href: `#/unit/${code}` }, display(code));

// Open telemetry alerts (GET /v1/alerts?state=open): how many, per model,
// and the latest.
async function loadAlerts(panel, modelName) {
  const head = el('h2', {}, 'Open alerts');
  let list;
  try {
    list = await allItems('/v1/alerts?state=open');
  } catch (e) {
    panel.replaceChildren(head, errorLine(e));
    return;
  }
  const n = list.items.length;
  const count = el('p', { id: 'alerts-open', 'data-value': n },
    el('strong', {}, fmt(n) + (list.complete ? '' : '+')), ' open alert', n === 1 ? '' : 's',
    ' on telemetry thresholds.');
  if (n === 0) {
    panel.replaceChildren(head, count);
    return;
  }
  const perModel = new Map();
  for (const a of list.items) perModel.set(a.code.slice(0, 12), (perModel.get(a.code.slice(0, 12)) || 0) + 1);
  const top = [...perModel.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  const latest = [...list.items].sort((a, b) => (a.since < b.since ? 1 : -1)).slice(0, 10);
  panel.replaceChildren(head, count,
    el('table', { id: 'alerts-by-model' },
      el('thead', {}, el('tr', {}, el('th', {}, 'model'), el('th', { class: 'num' }, 'open alerts'))),
      el('tbody', {}, top.map(([m, k]) => el('tr', {}, el('td', {}, modelName(m, true)),
                                                el('td', { class: 'num' }, fmt(k)))))),
    el('details', {}, el('summary', {}, 'the latest'),
      el('table', { id: 'alerts-latest' },
        el('thead', {}, el('tr', {}, ['unit', 'metric', 'value', 'since'].map((h) => el('th', {}, h)))),
        el('tbody', {}, latest.map((a) => el('tr', {}, el('td', {}, unitLink(a.code)), el('td', {}, a.metric),
          el('td', { class: 'num' }, a.value), el('td', {}, (a.since || '').replace('T', ' ').slice(0, 16))))))));
}

// How many rows the fence violations table shows: the most recently
// reported, so that a registry with thousands open still draws a light page.
const FENCE_ROWS = 50;

const minute = (t) => (t || '').replace('T', ' ').slice(0, 16);
const place = (v) => `${Number(v.lat).toFixed(6)}, ${Number(v.lon).toFixed(6)}`;

// A unit's open fence violations in a line, for the record and as-of.
function fencesText(list) {
  return list.map((v) => `outside its zones since ${minute(v.first_report)}, ` +
    `last reported ${minute(v.last_report)} at ${place(v)}`).join('; ') || 'none';
}

// Open fence violations (GET /v1/fence-violations?state=open): how many,
// and the units with where they were last reported.  The list is for
// regulators and the platform operator; other keys get 403 and the panel
// says so, as the overview does for statistics.
async function loadFences(panel) {
  const head = el('h2', {}, 'Fence violations');
  let list;
  try {
    list = await allItems('/v1/fence-violations?state=open');
  } catch (e) {
    if (e.status === 403) {
      panel.classList.add('na');
      panel.replaceChildren(head, el('p', { id: 'fences-forbidden' },
        'Not available to this key: fence violations are for regulators and the platform operator.'));
      return;
    }
    panel.replaceChildren(head, errorLine(e));
    return;
  }
  const n = list.items.length;
  const count = el('p', { id: 'fences-open', 'data-value': n },
    el('strong', {}, fmt(n) + (list.complete ? '' : '+')), ' unit', n === 1 ? '' : 's',
    ' reported outside ', n === 1 ? 'its' : 'their', ' electronic fences.');
  if (n === 0) {
    panel.replaceChildren(head, count);
    return;
  }
  const rows = [...list.items].sort((a, b) => (a.last_report < b.last_report ? 1 : -1)).slice(0, FENCE_ROWS);
  panel.replaceChildren(head, count,
    n > rows.length ? el('p', { class: 'muted' }, `The ${rows.length} most recently reported.`) : null,
    el('table', { id: 'fences-table' },
      el('thead', {}, el('tr', {}, ['unit', 'outside since', 'last report', 'last lat, lon']
        .map((h) => el('th', {}, h)))),
      el('tbody', {}, rows.map((v) => el('tr', { 'data-code': v.code },
        el('td', {}, unitLink(v.code)), el('td', {}, minute(v.first_report)),
        el('td', {}, minute(v.last_report)), el('td', { class: 'mono' }, place(v)))))));
}

// Units whose most worn joint stands out in their model's fleet
// (GET /v1/models/{model}/health), over the largest models: one request
// each.
async function loadOutliers(panel, models, modelName) {
  const head = el('h2', {}, 'Model health outliers');
  const replies = await Promise.all(models.map((m) => api(`/v1/models/${enc(m)}/health`).catch((e) => ({ error: e }))));
  const failed = replies.find((r) => r.error);
  if (failed && replies.every((r) => r.error)) {
    panel.replaceChildren(head, errorLine(failed.error));
    return;
  }
  const rows = replies.filter((r) => !r.error && r.metrics && r.metrics['joint.max.wear']);
  const note = el('p', { class: 'muted' }, `The ${models.length === 1 ? 'one model' : models.length + ' largest models'}: `,
    'each one\'s most worn joint per unit ',
    'from its latest report, and the units whose wear is an outlier for the model (robust z-score above 3.5).');
  if (rows.length === 0) {
    panel.replaceChildren(head, note, el('p', { class: 'muted', id: 'outliers-none' }, 'No health reports from these models yet.'));
    return;
  }
  const q = (r, k) => (r.metrics['joint.max.wear'][k] == null ? '' : Number(r.metrics['joint.max.wear'][k]).toFixed(4));
  panel.replaceChildren(head, note,
    el('table', { id: 'outliers-table' },
      el('thead', {}, el('tr', {}, ['model', 'units reporting', 'wear p50', 'p90', 'p99', 'outliers', 'units']
        .map((h, i) => el('th', { class: i > 0 && i < 6 ? 'num' : '' }, h)))),
      el('tbody', {}, rows.sort((a, b) => b.outliers.length - a.outliers.length).map((r) =>
        el('tr', { 'data-model': r.model, 'data-outliers': r.outliers.length },
          el('td', {}, modelName(r.model, true)),
          el('td', { class: 'num' }, fmt(r.metrics['joint.max.wear'].units)),
          el('td', { class: 'num' }, q(r, 'p50')), el('td', { class: 'num' }, q(r, 'p90')),
          el('td', { class: 'num' }, q(r, 'p99')),
          el('td', { class: 'num' }, fmt(r.outliers.length)),
          el('td', {}, [...r.outliers].sort((a, b) => b.z - a.z).slice(0, 5)
            .map((o) => el('span', {}, unitLink(o.code), ` (wear ${Number(o.wear).toFixed(4)}, z ${Number(o.z).toFixed(1)}) `))))))));
}

function topIncidentModels(items) {
  return [...items].filter((x) => x.incidents > 0)
    .sort((a, b) => b.per_1000_units - a.per_1000_units).slice(0, TOP);
}

// ---- search ------------------------------------------------------------------

function search(params) {
  const codeInput = el('input', { id: 'code-input', class: 'code', autocomplete: 'off',
                                  placeholder: 'cn-0001-224001-2503060000000001-d' });
  const codeOut = el('div', { id: 'code-result' });
  const codeForm = el('form', { id: 'code-form', class: 'inline' },
    el('label', {}, 'Code (spaces, hyphens and lower case are fine)', codeInput),
    el('button', { type: 'submit' }, 'Find'));
  codeForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const code = normalise(codeInput.value);
    codeOut.replaceChildren();
    if (code === '') return;
    if (code.length === CODE_LEN && /^[0-9A-Z]+$/.test(code) && checkChar(code.slice(0, 28)) !== code[28]) {
      codeOut.append(el('p', { class: 'muted' }, `The check character should be '${checkChar(code.slice(0, 28))}': asking the registry…`));
    }
    try {
      await api(`/v1/codes/${enc(code)}`);
    } catch (e) {
      codeOut.replaceChildren(el('p', { class: 'error', id: 'code-error' }, `Not a valid code: ${e.message}`));
      return;
    }
    try {
      await api(`/v1/units/${code}`);
    } catch (e) {
      codeOut.replaceChildren(el('p', { class: 'error', id: 'code-error' },
        e.status === 404 ? `${display(code)} is a valid code, but no unit is registered under it.` : e.message));
      return;
    }
    location.hash = `#/unit/${code}`;
  });

  const stateSel = el('select', { id: 'f-state' }, el('option', { value: '' }, 'any state'),
    STATES.map((s) => el('option', { value: s, selected: params.get('state') === s }, stateWord(s))));
  const modelInput = el('input', { id: 'f-model', placeholder: 'CN0001224001', size: 16,
                                   value: params.get('model') || '' });
  const list = el('div', { id: 'unit-list' });
  const filterForm = el('form', { id: 'filter-form', class: 'inline' },
    el('label', {}, 'State', stateSel), el('label', {}, 'Model id', modelInput),
    el('button', { type: 'submit' }, 'List units'));
  filterForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    listUnits(list, stateSel.value, normalise(modelInput.value), null, true);
  });

  show(el('h1', {}, 'Search'),
    el('section', { class: 'panel' }, el('h2', {}, 'A unit by its code'), codeForm, codeOut),
    el('section', { class: 'panel' }, el('h2', {}, 'Units by state and model'), filterForm, list));
  setChrome();
  codeInput.focus();
  if (params.get('state') || params.get('model')) listUnits(list, params.get('state') || '', params.get('model') || '', null, true);
}

async function listUnits(list, state, model, cursor, fresh) {
  const q = new URLSearchParams({ limit: '50' });
  if (state) q.set('state', state);
  if (model) q.set('model', model);
  if (cursor) q.set('cursor', cursor);
  let page;
  try {
    page = await api(`/v1/units?${q}`);
  } catch (e) {
    list.replaceChildren(errorLine(e));
    return;
  }
  let tbody = list.querySelector('tbody');
  if (fresh || !tbody) {
    tbody = el('tbody');
    list.replaceChildren(el('table', {},
      el('thead', {}, el('tr', {}, ['code', 'model', 'state', 'operator', 'produced'].map((h) => el('th', {}, h)))),
      tbody));
  }
  list.querySelector('.more')?.remove();
  for (const u of page.items) {
    tbody.append(el('tr', {},
      el('td', { class: 'mono' }, el('a', { href: `#/unit/${u.code}` }, u.display)),
      el('td', {}, u.model ? u.model.name : ''),
      el('td', {}, badge(u.state)),
      el('td', {}, u.operator ? (u.operator.public_name || u.operator.name) : ''),
      el('td', {}, u.production_date)));
  }
  if (page.items.length === 0 && fresh) list.append(el('p', { class: 'muted' }, 'No units match.'));
  if (page.next_cursor) {
    list.append(el('p', { class: 'more' }, el('button', { type: 'button', class: 'quiet',
      onclick: () => listUnits(list, state, model, page.next_cursor, false) }, 'More')));
  }
}

// ---- a unit --------------------------------------------------------------------

const facts = (pairs) => el('dl', { class: 'facts' },
  pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));

function party(p) {
  if (!p) return null;
  return p.public_name && p.name && p.public_name !== p.name ? `${p.name} (${p.public_name})`
    : (p.name || p.public_name || (p.id ? `party ${p.id}` : null));
}

function firmwareText(fw) {
  return fw ? Object.entries(fw).map(([k, v]) => `${k} ${v}`).join(', ') : null;
}

// One event's body in a line.
function summary(e) {
  const b = e.body || {};
  switch (e.type) {
    case 'register': return `batch ${b.batch || '-'}, ${b.factory || ''}`;
    case 'release': return `market filing ${b.market_filing_no || ''}`;
    case 'transfer': return `${b.kind || ''} to party ${b.to}${b.price !== undefined ? `, price ${b.price} ${b.currency || ''}` : ''}`;
    case 'deploy': return `${b.site ? b.site.name : ''}, ${b.scenario || ''}${b.site && b.site.region ? `, region ${b.site.region}` : ''}`;
    case 'firmware_update': return `${b.component} ${b.from_version} → ${b.to_version}`;
    case 'inspection': return `${b.result}, next due ${b.next_due || '-'}`;
    case 'incident': return `${b.severity} ${b.kind}: ${b.description || ''}`;
    case 'recall_notice': case 'recall_remedy': return `recall ${b.recall}${b.action ? ': ' + b.action : ''}`;
    default: {
      const parts = Object.entries(b).filter(([, v]) => typeof v !== 'object')
        .map(([k, v]) => `${k} ${v}`);
      return parts.join(', ');
    }
  }
}

async function unitPage(code, params) {
  show(el('p', { class: 'muted' }, 'Loading the unit…'));
  let unit;
  try {
    unit = await api(`/v1/units/${enc(code)}`);
  } catch (e) {
    show(el('h1', {}, display(code)), errorLine(e));
    return;
  }
  code = unit.code;
  const [market, cred] = await Promise.all([
    api(`/v1/market-access/${code}`).catch((e) => ({ error: e })),
    api(`/v1/units/${code}/credential`).catch(() => null),
  ]);

  const record = el('section', { class: 'panel', id: 'record' }, el('h2', {}, `Record (${unit.view} view)`), facts([
    ['state', badge(unit.state, 'unit-state')],
    ['manufacturer', unit.enterprise ? `${unit.enterprise.name} (${unit.enterprise.id})` : null],
    ['model', unit.model ? `${unit.model.name} (${unit.model.id})` : null],
    ['intelligence level', unit.model ? `${unit.model.level}: ${unit.model.level_meaning}` : null],
    ['production date', unit.production_date],
    ['serial, batch', unit.serial ? `${unit.serial}, ${unit.batch || '-'}` : null],
    ['factory', unit.factory],
    ['owner', party(unit.owner)],
    ['custodian', party(unit.custodian)],
    ['operator', party(unit.operator)],
    ['site', unit.site ? `${unit.site.name || ''} ${unit.site.region ? '(' + unit.site.region + ')' : ''}` : null],
    ['scenario', unit.scenario],
    ['region', unit.region],
    ['firmware', firmwareText(unit.firmware)],
    ['market filing', unit.market_filing_no],
    ['jurisdiction', unit.jurisdiction],
    ['certifications', (unit.certifications || []).map((c) => `${c.scheme} ${c.tier || ''} (${(c.scenarios || []).join(', ')})`).join('; ') || 'none valid now'],
    ['open recalls', (unit.open_recalls || []).map((r) => `recall ${r.id}: ${r.defect}; remedy: ${r.remedy}`).join(' | ') || 'none'],
    ['open alerts', unit.open_alerts === undefined ? null
      : el('span', { id: 'unit-alerts' }, unit.open_alerts.map((a) => `${a.metric} ${a.value} since ${(a.since || '').slice(0, 16)}`).join('; ') || 'none')],
    ['fence violations', unit.fence_violations === undefined ? null
      : el('span', { id: 'unit-fences', class: unit.fence_violations.length ? 'warn' : null },
        fencesText(unit.fence_violations))],
  ]));

  const marketPanel = el('section', { class: 'panel', id: 'market' }, el('h2', {}, 'Market access'),
    market.error ? errorLine(market.error)
      : [el('p', { class: market.allowed ? 'ok' : 'error', id: 'market-verdict' }, market.allowed ? 'allowed' : 'denied'),
         el('ul', {}, market.reasons.map((r) => el('li', {}, r.message)))]);

  const labelUrl = cred ? new URL(cred.label) : null;
  const labelPanel = el('section', { class: 'panel label-panel', id: 'label' }, el('h2', {}, 'Label'),
    el('img', { class: 'label-img', id: 'label-img', src: `/v1/units/${code}/label.svg`,
                alt: `QR label of ${unit.display}` }),
    cred ? el('p', { class: 'muted mono no-print wrap', id: 'label-text' }, cred.label) : null,
    el('p', { class: 'no-print' },
      el('button', { type: 'button', id: 'print-label', onclick: () => {
        document.body.classList.add('print-only-label');
        window.print();
        document.body.classList.remove('print-only-label');
      } }, 'Print label'), ' ',
      el('a', { href: `/v1/units/${code}/label.svg`, target: '_blank' }, 'label.svg'), ' · ',
      el('a', { href: `/v1/units/${code}/label.png?scale=12`, target: '_blank' }, 'label.png'), ' · ',
      labelUrl ? el('a', { href: labelUrl.pathname + labelUrl.search, id: 'verify-link' }, 'public verify page') : null));

  const asofInput = el('input', { id: 'asof-t', size: 28, value: params.get('t') || new Date().toISOString(),
                                  placeholder: '2026-05-22T08:30:00Z' });
  const asofOut = el('div', { id: 'asof-result' });
  const asofForm = el('form', { id: 'asof-form', class: 'inline' },
    el('label', {}, 'Time (RFC 3339, or local date and time)', asofInput),
    el('button', { type: 'submit' }, 'Show as of'));
  asofForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    asOf(code, asofInput.value.trim(), asofOut);
  });
  const asofPanel = el('section', { class: 'panel', id: 'asof' }, el('h2', {}, 'As of a time'),
    el('p', { class: 'muted' }, 'The unit as it stood then: custody, site, firmware, certifications, recalls and fence violations.'),
    asofForm, asofOut);

  const timeline = el('section', { class: 'panel', id: 'timeline' }, el('h2', {}, 'Timeline'),
    el('p', { class: 'muted' }, 'Loading the history…'));
  const telemetry = el('section', { class: 'panel', id: 'telemetry' }, el('h2', {}, 'Health telemetry'),
    el('p', { class: 'muted' }, 'Loading the health reports…'));

  show(
    el('p', { class: 'no-print' }, el('a', { href: '#/search' }, '← search')),
    el('h1', { class: 'mono', id: 'unit-code' }, unit.display),
    el('p', {}, unit.enterprise ? unit.enterprise.name : '', ' · ', unit.model ? unit.model.name : '', ' ',
      badge(unit.state), ' ', (unit.open_recalls || []).length ? badge('recalled') : null),
    el('div', { class: 'grid' }, record, el('div', {}, marketPanel, labelPanel)),
    asofPanel, telemetry, timeline);
  setChrome();
  loadTelemetry(code, telemetry);
  loadTimeline(code, timeline, asofInput, asofOut);
  if (params.get('t')) asOf(code, params.get('t'), asofOut);
}

// ---- health telemetry ----------------------------------------------------------

const DAY_MS = 86400000;
// The plots cover 30 days, the window the registry fits its trends over,
// in 6-hour buckets: 120 points a line.
const TELEMETRY_DAYS = 30;
const TELEMETRY_STEP = '6h';
// Joints plotted: those projected to wear out first.
const JOINTS_PLOTTED = 6;

const dateOf = (t) => (t ? t.slice(0, 10) : 'not projected');
const ratio = (v) => (v == null ? '' : Number(v).toFixed(4));

// Joints by urgency: the earliest projected crossing first, then the most
// worn.
function byUrgency(a, b) {
  if (a.projected_at && b.projected_at) return a.projected_at < b.projected_at ? -1 : 1;
  if (a.projected_at || b.projected_at) return a.projected_at ? -1 : 1;
  return b.value - a.value;
}

// Lines of several series over the union of their bucket times.
function lines(replies, value = (p) => p.avg) {
  const times = [...new Set(replies.flatMap((r) => (r ? r.points.map((p) => p.t) : [])))].sort();
  const label = (t) => `${t.slice(5, 10)} ${t.slice(11, 16)}`;
  return {
    labels: times.map(label),
    values: replies.map((r) => {
      const at = new Map((r ? r.points : []).map((p) => [p.t, value(p)]));
      return times.map((t) => (at.has(t) ? at.get(t) : null));
    }),
  };
}

async function loadTelemetry(code, panel) {
  const head = el('h2', {}, 'Health telemetry');
  let health;
  try {
    health = await api(`/v1/units/${code}/health`);
  } catch (e) {
    panel.replaceChildren(head, errorLine(e));
    return;
  }
  const joints = [...health.joints].sort(byUrgency);
  if (joints.length === 0 && !health.battery) {
    panel.replaceChildren(head, el('p', { class: 'muted', id: 'telemetry-none' },
      `No health reports in the last ${TELEMETRY_DAYS} days.`));
    return;
  }
  const to = new Date();
  const from = new Date(to.getTime() - TELEMETRY_DAYS * DAY_MS);
  const series = (metric) => api(`/v1/units/${code}/telemetry?metric=${metric}&from=${from.toISOString()}` +
    `&to=${to.toISOString()}&step=${TELEMETRY_STEP}`).catch(() => null);
  const plotted = joints.slice(0, JOINTS_PLOTTED);
  const [wear, soh, precision] = await Promise.all([
    Promise.all(plotted.map((j) => series(`joint.${j.joint}.wear`))),
    health.battery ? series('battery.soh') : null,
    series('precision_mm')]);

  const rows = [...joints.map((j) => ['joint ' + j.joint + ' wear', j]),
                ...(health.battery ? [['battery state of health', health.battery]] : [])];
  const table = el('table', { id: 'health-table' },
    el('thead', {}, el('tr', {}, ['', 'now', 'per day', 'threshold', 'projected to cross', 'last report']
      .map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.map(([name, x]) => el('tr', { 'data-projected': x.projected_at || '' },
      el('td', {}, name), el('td', { class: 'num' }, ratio(x.value)),
      el('td', { class: 'num' }, x.rate_per_day == null ? ''
        : (x.rate_per_day > 0 ? '+' : '') + Number(x.rate_per_day).toFixed(4)),
      el('td', { class: 'num' }, ratio(x.threshold)),
      el('td', { class: x.projected_at ? 'warn' : 'muted' }, dateOf(x.projected_at)),
      el('td', {}, (x.at || '').replace('T', ' ').slice(0, 16))))));

  const charts = [];
  if (plotted.length > 0) {
    const w = lines(wear);
    charts.push(chartPanel('chart-wear', 'Joint wear (0 new, 1 worn out)', 'line', w.labels,
      [...plotted.map((j, i) => ({ label: `joint ${j.joint}`, values: w.values[i] })),
       { label: 'threshold', values: w.labels.map(() => plotted[0].threshold), dash: true }],
      { labelHead: 'time (UTC)', zero: false,
        note: joints.length > plotted.length
          ? `The ${plotted.length} of ${joints.length} joints projected to wear out first.` : null }));
  }
  if (soh) {
    const b = lines([soh]);
    charts.push(chartPanel('chart-soh', 'Battery state of health', 'line', b.labels,
      [{ label: 'state of health', values: b.values[0] },
       { label: 'threshold', values: b.labels.map(() => health.battery.threshold), dash: true }],
      { labelHead: 'time (UTC)', zero: false }));
  }
  if (precision && precision.points.length > 0) {
    const p = lines([precision]);
    charts.push(chartPanel('chart-precision', 'Motion precision (mm, lower is better)', 'line', p.labels,
      [{ label: 'precision (mm)', values: p.values[0] }], { labelHead: 'time (UTC)' }));
  }
  panel.replaceChildren(head,
    el('p', { class: 'muted' }, `Trends fitted over the last ${TELEMETRY_DAYS} days; plots in ${TELEMETRY_STEP} averages.`),
    table, el('div', { class: 'grid' }, charts));
  for (const c of charts) c.draw();
}

async function loadTimeline(code, panel, asofInput, asofOut) {
  let text;
  const pages = [];
  let cursor = null;
  try {
    for (let i = 0; i < 100; i++) {
      text = await apiText(`/v1/units/${code}/events?limit=1000${cursor ? '&cursor=' + enc(cursor) : ''}`);
      pages.push(text);
      cursor = JSON.parse(text).next_cursor;
      if (!cursor) break;
    }
  } catch (e) {
    panel.replaceChildren(el('h2', {}, 'Timeline'), errorLine(e));
    return;
  }
  const shown = pages.flatMap((t) => JSON.parse(t).items);
  const exact = pages.flatMap((t) => parseLossless(t).items);
  const cache = {};
  const cells = [];
  const check = async (i, button, cell) => {
    button.disabled = true;
    cell.textContent = 'checking…';
    cell.className = 'muted';
    try {
      const r = await checkEvent(exact[i], api, apiText, cache);
      if (r.ok) {
        cell.className = 'ok proof-ok';
        cell.textContent = `✓ in the log${r.recomputed ? '' : ' (by its logged hash: redacted)'}`;
        cell.title = `Inclusion proof verified against the checkpoint of ${fmt(r.size)} leaves; ` +
          (r.signature === 'verified' ? 'checkpoint signature verified with the log key.'
                                      : 'checkpoint signature not checked: this browser has no Ed25519.');
      } else {
        cell.className = r.pending ? 'warn' : 'error proof-bad';
        cell.textContent = `✗ ${r.reason}`;
        if (r.pending) delete cache.cp;
      }
    } catch (e) {
      cell.className = 'error proof-bad';
      cell.textContent = `✗ ${e.message}`;
      delete cache.cp;
    }
    button.disabled = false;
  };
  const rows = shown.map((e, i) => {
    const cell = el('span', { class: 'muted' });
    const button = el('button', { type: 'button', class: 'small quiet proof-check' }, 'Check proof');
    button.addEventListener('click', () => check(i, button, cell));
    cells.push([button, cell]);
    return el('tr', { 'data-leaf': e.leaf, 'data-type': e.type },
      el('td', { class: 'num mono' }, e.leaf),
      el('td', {}, (e.at || '').replace('T', ' ').replace('.000Z', 'Z')),
      el('td', {}, e.type),
      el('td', {}, e.actor ? `${e.actor.role || ''} (party ${e.actor.party})` : ''),
      el('td', {}, summary(e), e.redacted ? el('span', { class: 'muted' }, ' (redacted)') : null),
      el('td', { class: 'nowrap' }, el('button', { type: 'button', class: 'small quiet', onclick: () => {
        asofInput.value = e.at;
        asOf(code, e.at, asofOut);
      } }, 'as of')),
      el('td', { class: 'nowrap' }, button, ' ', cell));
  });
  const all = el('button', { type: 'button', id: 'check-all', onclick: async () => {
    all.disabled = true;
    for (let i = 0; i < cells.length; i++) await check(i, cells[i][0], cells[i][1]);
    all.disabled = false;
  } }, 'Check every proof');
  panel.replaceChildren(el('h2', {}, `Timeline (${shown.length} events)`),
    el('p', { class: 'muted' }, 'Each event is a leaf of the registry\'s signed log. A check recomputes the leaf from the event, ',
      'walks its inclusion proof to the signed checkpoint\'s root and checks the checkpoint\'s signature, in this browser. ', all),
    el('table', {}, el('thead', {}, el('tr', {}, ['leaf', 'time (UTC)', 'event', 'by', 'what', '', 'in the log']
      .map((h) => el('th', {}, h)))), el('tbody', {}, rows)));
}

async function asOf(code, t, out) {
  let at = t;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(t)) at = new Date(t).toISOString();
  out.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  let a;
  try {
    a = await api(`/v1/units/${code}/as-of?t=${enc(at)}`);
  } catch (e) {
    out.replaceChildren(errorLine(e));
    return;
  }
  const comps = (a.components || []).map((c) => `${c.slot}: ${c.part_no} ${c.serial || ''}`).join('; ');
  out.replaceChildren(facts([
    ['as of', a.as_of || at],
    ['state', badge(a.state, 'asof-state')],
    ['previous state', a.previous_state],
    ['custodian', a.custodian ? `party ${a.custodian}` : null],
    ['owner', a.owner ? `party ${a.owner}` : null],
    ['operator', a.operator ? `party ${a.operator}` : null],
    ['site', a.site ? `${a.site.name || ''} ${a.site.region ? '(' + a.site.region + ')' : ''}` : null],
    ['scenario', a.scenario],
    ['jurisdiction', a.jurisdiction],
    ['firmware', firmwareText(a.firmware)],
    ['components', comps],
    ['last inspection', a.last_inspection ? JSON.stringify(a.last_inspection) : 'none'],
    ['certifications', (a.certifications || []).map((c) => `${c.scheme} ${c.tier || ''}`).join('; ') || 'none'],
    ['open recalls', (a.open_recalls || []).map((r) => `recall ${r.id}`).join(', ') || 'none'],
    ['fence violations', a.fence_violations === undefined ? null
      : el('span', { id: 'asof-fences' }, fencesText(a.fence_violations))],
    ['last event', a.last_event ? `${a.last_event.type} at ${a.last_event.at} (leaf ${a.last_event.leaf})` : null],
    ['events replayed', a.replayed_events],
  ]));
}

// ---- routing -----------------------------------------------------------------

async function route() {
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query || '');
  if (path === '/signin' || !sessionStorage.getItem(KEY)) {
    signin();
    return;
  }
  const m = /^\/unit\/([^/]+)$/.exec(path);
  if (m) return unitPage(normalise(decodeURIComponent(m[1])), params);
  if (path === '/search') return search(params);
  return overview();
}

window.addEventListener('hashchange', route);
route();
