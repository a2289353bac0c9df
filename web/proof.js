// Checking that an event is in the registry's log, in the browser
// (docs/ledger.md): the event's leaf bytes are recomputed from the event
// the API returned, hashed as RFC 9162 leaves with WebCrypto's SHA-256, and
// the audit path of GET /v1/log/proof/inclusion is walked up to the root of
// the signed checkpoint (GET /v1/log/checkpoint), whose Ed25519 signature
// is checked against the log key (GET /v1/log/key) where the browser has
// Ed25519 in WebCrypto.
//
// The leaf bytes are canonical JSON, byte for byte what the registry
// hashed; JSON.parse would lose the difference between 1 and 1.0, so the
// events are read with parseLossless, which keeps every number's text.

const enc = new TextEncoder();

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) throw new Error('this page needs WebCrypto (HTTPS or localhost) to check proofs');
  return s;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

export function b64decode(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// ---- JSON that keeps numbers as written -----------------------------------

// A number as its JSON text.
export class JNum {
  constructor(raw) { this.raw = raw; }
  valueOf() { return Number(this.raw); }
}

// Parses JSON text; objects and arrays as usual, numbers as JNum.
export function parseLossless(text) {
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const fail = (what) => { throw new SyntaxError(`JSON: ${what} at ${i}`); };
  function str() {
    let out = '';
    i++;                                  // the opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i++];
      if (c === '"') return out;
      if (c !== '\\') { out += c; continue; }
      const e = text[i++];
      if (e === 'u') {
        const h = text.slice(i, i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('bad \\u escape');
        out += String.fromCharCode(parseInt(h, 16));
        i += 4;
      } else {
        const m = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
        if (m === undefined) fail('bad escape');
        out += m;
      }
    }
  }
  function value() {
    ws();
    const c = text[i];
    if (c === '{') {
      const o = {};
      i++; ws();
      if (text[i] === '}') { i++; return o; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = str();
        ws();
        if (text[i++] !== ':') fail('expected :');
        o[k] = value();
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return o; }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      const a = [];
      i++; ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return a; }
        fail('expected , or ]');
      }
    }
    if (c === '"') return str();
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
    if (m && m[0].length > 0) { i += m[0].length; return new JNum(m[0]); }
    for (const [w, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(w, i)) { i += w.length; return v; }
    }
    return fail('unexpected character');
  }
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

// ---- canonical JSON (docs/ledger.md, "Leaves") -----------------------------

// A real as C's %.15g, with ".0" when it reads as an integer and exponents
// without '+' or leading zeros: what jansson writes with
// JSON_REAL_PRECISION(15).
export function realText(x) {
  if (!Number.isFinite(x)) throw new Error('not a finite number');
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const neg = x < 0;
  const [mant, e] = Math.abs(x).toExponential(14).split('e');
  const exp = parseInt(e, 10);
  let digits = mant.replace('.', '').replace(/0+$/, '');
  if (digits === '') digits = '0';
  let s;
  if (exp < -4 || exp >= 15) {
    s = digits[0] + (digits.length > 1 ? '.' + digits.slice(1) : '') +
        'e' + (exp < 0 ? '-' : '') + Math.abs(exp);
  } else if (exp >= 0) {
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    s = int + (frac ? '.' + frac : '');
  } else {
    s = '0.' + '0'.repeat(-exp - 1) + digits;
  }
  if (!/[.e]/.test(s)) s += '.0';
  return (neg ? '-' : '') + s;
}

function numText(n) {
  const raw = n instanceof JNum ? n.raw : String(n);
  if (!/[.eE]/.test(raw)) return raw === '-0' ? '0' : raw;   // an integer
  return realText(Number(raw));
}

function strText(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c < 0x20) out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

// Bytewise order of the keys' UTF-8, which is code point order.
function keyOrder(a, b) {
  const x = enc.encode(a), y = enc.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

export function canonical(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'string') return strText(v);
  if (v instanceof JNum || typeof v === 'number') return numText(v);
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  const keys = Object.keys(v).sort(keyOrder);
  return '{' + keys.map((k) => strText(k) + ':' + canonical(v[k])).join(',') + '}';
}

// The leaf bytes of an event as GET /v1/units/{code}/events shows it
// (parsed with parseLossless): the event without seq, leaf, state and
// redacted.
export function leafBytes(event) {
  const e = {};
  for (const [k, val] of Object.entries(event)) {
    if (!['seq', 'leaf', 'state', 'redacted'].includes(k)) e[k] = val;
  }
  return enc.encode(canonical(e));
}

export async function leafHash(bytes) {
  return sha256(concat(new Uint8Array([0]), bytes));
}

async function nodeHash(left, right) {
  return sha256(concat(new Uint8Array([1]), left, right));
}

// ---- RFC 9162 §2.1.3.2: verifying an inclusion proof -----------------------

// The root that the audit path proves for leaf index `leaf` in a tree of
// `size` leaves, or throws when the path has the wrong shape.
export async function rootFromInclusion(leaf, size, leafH, path) {
  if (!(leaf >= 0 && leaf < size)) throw new Error(`leaf ${leaf} is not in a tree of ${size}`);
  let fn = leaf, sn = size - 1, r = leafH;
  for (const p of path) {
    if (sn === 0) throw new Error('the proof is longer than the tree is deep');
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('the proof is shorter than the tree is deep');
  return r;
}

export async function verifyInclusion(leaf, size, leafH, path, root) {
  return equal(await rootFromInclusion(leaf, size, leafH, path), root);
}

// ---- checkpoints (C2SP tlog-checkpoint in a signed note) -------------------

// {origin, size, root, text, signatures:[{name, keyId, sig}]} of a note.
export function parseCheckpoint(note) {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('the checkpoint is not a signed note');
  const text = note.slice(0, split + 1);
  const lines = text.split('\n');
  if (lines.length < 4) throw new Error('the checkpoint has too few lines');
  const size = Number(lines[1]);
  if (!/^(0|[1-9]\d*)$/.test(lines[1])) throw new Error('the checkpoint size is not a number');
  const signatures = [];
  for (const line of note.slice(split + 2).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) continue;
    const blob = b64decode(m[2]);
    signatures.push({ name: m[1], keyId: blob.slice(0, 4), sig: blob.slice(4) });
  }
  return { origin: lines[0], size, root: b64decode(lines[2]), text, signatures };
}

// Checks the checkpoint's signature by the log key ({origin, public_key}
// of GET /v1/log/key).  Returns 'verified', or 'unsupported' when the
// browser has no Ed25519; throws when it does not verify.
export async function verifyCheckpoint(cp, logKey) {
  const pk = b64decode(logKey.public_key);
  const id = (await sha256(concat(enc.encode(logKey.origin + '\n'), new Uint8Array([1]), pk))).slice(0, 4);
  const s = cp.signatures.find((x) => x.name === logKey.origin && equal(x.keyId, id));
  if (!s) throw new Error('the checkpoint carries no signature by the log key');
  let key;
  try {
    key = await subtle().importKey('raw', pk, { name: 'Ed25519' }, false, ['verify']);
  } catch (e) {
    return 'unsupported';
  }
  const ok = await subtle().verify({ name: 'Ed25519' }, key, s.sig, enc.encode(cp.text));
  if (!ok) throw new Error('the checkpoint signature does not verify');
  return 'verified';
}

// ---- the whole check of one event ------------------------------------------

// event: as parsed by parseLossless from GET /v1/units/{code}/events.
// fetchJSON(path) and fetchText(path) read the API.  Returns
// {ok: true, size, signature, recomputed} or {ok: false, reason}.
export async function checkEvent(event, fetchJSON, fetchText, cache = {}) {
  const leaf = Number(event.leaf);
  if (!cache.cp) {
    cache.cp = parseCheckpoint(await fetchText('/v1/log/checkpoint'));
    cache.key = await fetchJSON('/v1/log/key');
    cache.signature = await verifyCheckpoint(cache.cp, cache.key);
  }
  const { cp } = cache;
  if (leaf >= cp.size) {
    return { ok: false, pending: true,
             reason: `leaf ${leaf} is newer than the signed checkpoint (${cp.size} leaves): try again in a second` };
  }
  const proof = await fetchJSON(`/v1/log/proof/inclusion?leaf=${leaf}&size=${cp.size}`);
  const proved = b64decode(proof.leaf_hash);
  const recomputable = !event.redacted;
  if (recomputable) {
    const mine = await leafHash(leafBytes(event));
    if (!equal(mine, proved)) {
      return { ok: false, reason: 'the event shown differs from the one in the log (leaf hash mismatch)' };
    }
  }
  const ok = await verifyInclusion(leaf, cp.size, proved, proof.hashes.map(b64decode), cp.root);
  if (!ok) return { ok: false, reason: 'the audit path does not lead to the checkpoint root' };
  return { ok: true, size: cp.size, signature: cache.signature, recomputed: recomputable };
}
