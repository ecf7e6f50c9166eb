/**
 * Address ranges and CIDR prefixes with exact BigInt arithmetic: an IPv6 /64 holds 2^64 addresses and
 * "::/0" 2^128, far beyond what a JavaScript number counts exactly.
 */
import { type IP, compareIP, familyBits, formatIP, maxValue, parseIP } from './ip.ts';

/** An inclusive range of addresses of one family, `first <= last`. */
export interface IPRange {
  readonly first: IP;
  readonly last: IP;
}

/** A prefix: `ip` is the network address (host bits zero), `prefix` 0..32 or 0..128. */
export interface CIDR {
  readonly ip: IP;
  readonly prefix: number;
}

/** Splits "addr/len" into the address (host bits as written) and the prefix length, or undefined. */
function splitCIDR(text: string): { ip: IP; prefix: number } | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(text.slice(0, slash));
  if (!ip) return undefined;
  const p = text.slice(slash + 1);
  // Decimal without sign or leading zeros: "/024" or "/+24" are typos, not prefixes.
  if (p.length === 0 || p.length > 3 || (p.length > 1 && p.charCodeAt(0) === 48)) return undefined;
  let prefix = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    prefix = prefix * 10 + (c - 48);
  }
  if (prefix > familyBits(ip.family)) return undefined;
  return { ip, prefix };
}

/** The mask of the host part of a prefix of `family`. */
function hostMask(family: 4 | 6, prefix: number): bigint {
  return (1n << BigInt(familyBits(family) - prefix)) - 1n;
}

/**
 * Parses "192.0.2.0/24" or "2001:db8::/64". Host bits are accepted and masked off ("192.0.2.7/24" is
 * 192.0.2.0/24); use {@link hostBitsSet} to warn about them. Undefined for anything else.
 */
export function parseCIDR(text: string): CIDR | undefined {
  const c = splitCIDR(text);
  if (!c) return undefined;
  const value = c.ip.value & ~hostMask(c.ip.family, c.prefix) & maxValue(c.ip.family);
  return { ip: { family: c.ip.family, value }, prefix: c.prefix };
}

/**
 * True when `text` is a CIDR whose address has host bits set ("192.0.2.7/24"); false for a clean CIDR
 * and for anything that is not a CIDR at all.
 */
export function hostBitsSet(text: string): boolean {
  const c = splitCIDR(text);
  return c !== undefined && (c.ip.value & hostMask(c.ip.family, c.prefix)) !== 0n;
}

/** "network/prefix" in canonical address form. */
export function formatCIDR(c: CIDR): string {
  return `${formatIP(c.ip)}/${c.prefix}`;
}

/** The addresses a prefix covers, network and broadcast address included. */
export function cidrRange(c: CIDR): IPRange {
  const mask = hostMask(c.ip.family, c.prefix);
  const first = c.ip.value & ~mask & maxValue(c.ip.family);
  return { first: { family: c.ip.family, value: first }, last: { family: c.ip.family, value: first | mask } };
}

/**
 * Parses one of: a single address ("192.0.2.1"), a CIDR ("192.0.2.0/24"), or "first-last" of one family
 * with first <= last ("192.0.2.10-192.0.2.20", spaces around the '-' allowed). Leading and trailing
 * whitespace is ignored. Undefined for anything else.
 */
export function parseRange(text: string): IPRange | undefined {
  const t = text.trim();
  const dash = t.indexOf('-');
  if (dash >= 0) {
    if (t.indexOf('-', dash + 1) >= 0) return undefined;
    const first = parseIP(t.slice(0, dash).trim());
    const last = parseIP(t.slice(dash + 1).trim());
    if (!first || !last || first.family !== last.family || first.value > last.value) return undefined;
    return { first, last };
  }
  if (t.indexOf('/') >= 0) {
    const c = parseCIDR(t);
    return c ? cidrRange(c) : undefined;
  }
  const ip = parseIP(t);
  return ip ? { first: ip, last: ip } : undefined;
}

/** Number of addresses in the range (exact). */
export function rangeSize(r: IPRange): bigint {
  return r.last.value - r.first.value + 1n;
}

/** True when `ip` is of the range's family and within first..last (both ends included). */
export function rangeContains(r: IPRange, ip: IP): boolean {
  return ip.family === r.first.family && ip.value >= r.first.value && ip.value <= r.last.value;
}

/** True when the ranges share at least one address. */
export function rangesOverlap(a: IPRange, b: IPRange): boolean {
  return a.first.family === b.first.family && a.first.value <= b.last.value && b.first.value <= a.last.value;
}

/** "first-last", or the single address when the range holds one. Inverse of {@link parseRange}. */
export function formatRange(r: IPRange): string {
  return compareIP(r.first, r.last) === 0 ? formatIP(r.first) : `${formatIP(r.first)}-${formatIP(r.last)}`;
}
