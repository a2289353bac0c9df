// The identity code as the portal's search box takes it (DESIGN §2):
// forgiving input, strict output, the same normalisation as libhrid's
// hrid_code_parse (spaces, tabs and hyphens dropped, letters upper-cased).
// The registry's GET /v1/codes/{code} stays the judge of validity; the
// check here only lets the page say at once that a code was mistyped.

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

export const CODE_LEN = 29;

// "cn-a7k2 326001-2605220000001234-u" -> "CNA7K23260012605220000001234U".
export function normalise(input) {
  return String(input).replace(/[\s-]+/g, '').toUpperCase();
}

// The check character of 28 characters of 0-9A-Z (ISO 7064 MOD 37,36),
// or null when a character is outside the alphabet.
export function checkChar(body28) {
  let p = 36;
  for (const c of body28) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) return null;
    const s = (p + v) % 36 || 36;
    p = (2 * s) % 37;
  }
  return ALPHABET[(37 - p) % 36];
}

// "CC-EEEE-MMMMMM-SSSSSSSSSSSSSSSS-C" for a canonical code.
export function display(code) {
  if (code.length !== CODE_LEN) return code;
  return [code.slice(0, 2), code.slice(2, 6), code.slice(6, 12),
          code.slice(12, 28), code.slice(28)].join('-');
}
