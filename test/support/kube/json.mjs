// JSON for the Kubernetes API stand-in, with exact integers.
//
// kube-apiserver decodes JSON numbers into int64 when the literal is an integer that fits, and into float64
// otherwise; it writes int64 values back with all their digits. JavaScript numbers are exact only up to
// 2^53-1, so an integer literal beyond that is kept as a BigNum (its decimal text): validation can judge it
// the way the real server does, and an accepted int64 goes back on the wire unchanged.

/** An integer literal outside JavaScript's exact range, kept as its decimal text. Immutable. */
export class BigNum {
  /** @param {string} text decimal integer literal, optionally with a leading '-' */
  constructor(text) {
    this.text = text;
    Object.freeze(this);
  }

  /** @returns {bigint} */
  get big() {
    return BigInt(this.text);
  }

  toJSON() {
    return SENTINEL + this.text;
  }
}

const SENTINEL = '\u0000l2lb-bignum:';
const SENTINEL_JSON = JSON.stringify(SENTINEL).slice(1, -1);
const SENTINEL_RE = new RegExp('"' + SENTINEL_JSON.replace(/\\/g, '\\\\') + '(-?\\d+)"', 'g');
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Parses JSON text; integer literals beyond ±(2^53-1) become BigNum. Throws SyntaxError like JSON.parse.
 * @param {string} text
 * @returns {unknown}
 */
export function parseJson(text) {
  // A 16-digit run is the least an unsafe integer needs; most bodies have none and skip the scan.
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  let out = '';
  let last = 0;
  let replaced = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // skip a string literal, honouring escapes
      i++;
      while (i < text.length && text.charCodeAt(i) !== 34) {
        if (text.charCodeAt(i) === 92) i++;
        i++;
      }
      continue;
    }
    if (c === 45 || (c >= 48 && c <= 57)) {
      let j = i + (c === 45 ? 1 : 0);
      while (j < text.length && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
      const next = text[j];
      const isInteger = next !== '.' && next !== 'e' && next !== 'E';
      const literal = text.slice(i, j);
      if (isInteger && literal.replace('-', '').length >= 16 && /^-?\d+$/.test(literal)) {
        const value = BigInt(literal);
        if (value > SAFE || value < -SAFE) {
          out += text.slice(last, i) + '"' + SENTINEL_JSON + literal + '"';
          last = j;
          replaced = true;
        }
      }
      // skip the rest of a float literal so its digits are not rescanned
      while (j < text.length && /[0-9.eE+-]/.test(text[j])) j++;
      i = j - 1;
    }
  }
  if (!replaced) return JSON.parse(text);
  return revive(JSON.parse(out + text.slice(last)));
}

/** @param {unknown} v @returns {unknown} */
function revive(v) {
  if (typeof v === 'string') return v.startsWith(SENTINEL) ? new BigNum(v.slice(SENTINEL.length)) : v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = revive(v[i]);
    return v;
  }
  if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) /** @type {any} */ (v)[k] = revive(/** @type {any} */ (v)[k]);
  }
  return v;
}

/**
 * Serialises like JSON.stringify, writing BigNum values as bare integer literals.
 * @param {unknown} value
 * @param {number} [indent]
 * @returns {string}
 */
export function stringify(value, indent) {
  const s = JSON.stringify(value, null, indent);
  return s !== undefined && s.includes(SENTINEL_JSON) ? s.replace(SENTINEL_RE, '$1') : s;
}

/**
 * Deep copy of a JSON document (BigNum values are immutable and shared).
 * @template T
 * @param {T} v
 * @returns {T}
 */
export function clone(v) {
  if (v === null || typeof v !== 'object' || v instanceof BigNum) return v;
  if (Array.isArray(v)) return /** @type {any} */ (v.map(clone));
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const k of Object.keys(v)) out[k] = clone(/** @type {any} */ (v)[k]);
  return /** @type {any} */ (out);
}

/**
 * Structural equality of two JSON documents (key order ignored).
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
export function deepEqual(a, b) {
  if (a === b) return true;
  if (a instanceof BigNum || b instanceof BigNum) {
    return a instanceof BigNum && b instanceof BigNum && a.text === b.text;
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = /** @type {unknown[]} */ (b);
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(/** @type {any} */ (a)[k], /** @type {any} */ (b)[k]));
}

/** @param {unknown} v @returns {v is Record<string, any>} */
export function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof BigNum);
}
