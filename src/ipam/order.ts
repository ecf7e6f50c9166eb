/**
 * Stable orderings shared by pools and claims. Ages come in as RFC 3339 text (Kubernetes
 * `creationTimestamp`); nothing here reads a clock.
 */

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A number that orders RFC 3339 timestamps by instant, oldest first: milliseconds since the epoch, or
 * -Infinity for anything else (empty included), so such entries count as older than anything (what a
 * config pool without a timestamp is). Instants, not text, because "2026-01-01T00:00:00Z" and
 * "2026-01-01T01:00:00+01:00" are the same time. Only RFC 3339 is read, rewritten into the one form
 * ECMAScript defines exactly (three fraction digits): `Date.parse` of other text is implementation-defined
 * and may use the local time zone, which would make the order depend on the machine. Compute it once per
 * item when sorting many: parsing in the comparator dominates a sort of 10,000 claims.
 */
export function ageRank(text: string): number {
  const plain = plainRank(text);
  if (plain !== undefined) return plain;
  const m = RFC3339.exec(text);
  if (!m) return Number.NEGATIVE_INFINITY;
  const fraction = (m[3] ?? '').slice(0, 3).padEnd(3, '0');
  const zone = m[4] === 'z' ? 'Z' : m[4];
  const ms = Date.parse(`${m[1]}T${m[2]}.${fraction}${zone}`);
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/** The digits of `text` from `at`, `n` of them, as a number; -1 when one is not a digit. */
function digits(text: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * {@link ageRank} of the form the API server writes (`2026-01-02T03:04:05Z`), read without a regex, strings
 * or a parse: every Service's rank is worked out on every pass, ~400 bytes of garbage each the other way.
 * Undefined for anything else, including dates the general path must judge (day 31 of a short month).
 */
function plainRank(t: string): number | undefined {
  if (t.length !== 20 || t.charCodeAt(19) !== 90 || t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45 || t.charCodeAt(10) !== 84 || t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58) return undefined;
  const y = digits(t, 0, 4), mo = digits(t, 5, 2), d = digits(t, 8, 2), h = digits(t, 11, 2), mi = digits(t, 14, 2), s = digits(t, 17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 28 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** Compares two {@link ageRank}s and, on a tie, the texts: a total, deterministic order, oldest first. */
export function compareRanked(ra: number, a: string, rb: number, b: string): number {
  if (ra !== rb) return ra < rb ? -1 : 1;
  return compareText(a, b);
}

/** Orders RFC 3339 timestamps by age, oldest first (see {@link ageRank}). */
export function compareAge(a: string, b: string): number {
  return compareRanked(ageRank(a), a, ageRank(b), b);
}

/** Code-unit order, independent of locale (unlike `localeCompare`), so every runtime sorts the same. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "IPv4" or "IPv6". */
export function familyName(family: 4 | 6): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}
