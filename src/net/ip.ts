/**
 * IPv4 and IPv6 addresses as plain values: a family and an unsigned BigInt (32 or 128 bits). BigInt keeps
 * IPv6 arithmetic exact (pools, ranges) and makes an address usable as a Map key through `value`.
 * Pure: no I/O, no runtime-specific APIs.
 */

/** Address family: 4 or 6. */
export type IPFamily = 4 | 6;

/** An IP address. `value` is the address as an unsigned integer: 32 bits for IPv4, 128 bits for IPv6. */
export interface IP {
  readonly family: IPFamily;
  readonly value: bigint;
}

const MAX4 = 0xffff_ffffn;
const MAX6 = (1n << 128n) - 1n;

/** Scratch space of {@link parseIP} and {@link formatIP} for IPv6 (synchronous: one per thread is enough). */
const SCRATCH = new DataView(new ArrayBuffer(16));
const SCRATCH_BYTES = new Uint8Array(SCRATCH.buffer);
const GROUPS: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
const PARTS: string[] = [];

/** The largest value of an address of `family`. */
export function maxValue(family: IPFamily): bigint {
  return family === 4 ? MAX4 : MAX6;
}

/** Number of bits in an address of `family` (32 or 128). */
export function familyBits(family: IPFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** 0.0.0.0 */
export const IPV4_ANY: IP = Object.freeze({ family: 4, value: 0n });
/** :: */
export const IPV6_ANY: IP = Object.freeze({ family: 6, value: 0n });
/** ff02::1, the link-local all-nodes group (destination of unsolicited Neighbor Advertisements). */
export const IPV6_ALL_NODES: IP = Object.freeze({ family: 6, value: 0xff02n << 112n | 1n });

/** ff02::1:ff00:0/104, the solicited-node prefix (RFC 4291 2.7.1). */
const SOLICITED_NODE_PREFIX = 0xff02_0000_0000_0000_0000_0001_ff00_0000n;

// ---------------------------------------------------------------------------------------------------------
// Parsing

/** Character code of a hex digit's value, or -1. Written out so the parser needs no regex. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

/**
 * Parses a dotted quad in `text[start, end)`. Strict: four decimal parts 0..255, no leading zeros (so
 * "010" is rejected rather than guessed as octal or decimal), nothing else. Returns -1 when invalid.
 */
function parseV4(text: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    const partStart = i;
    let part = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      part = part * 10 + (c - 48);
      i++;
      if (i - partStart > 3) return -1;
    }
    const len = i - partStart;
    if (len === 0 || part > 255) return -1;
    if (len > 1 && text.charCodeAt(partStart) === 48) return -1;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (i >= end || text.charCodeAt(i) !== 46 /* . */) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

/**
 * Parses IPv6 text: up to eight groups of 1-4 hex digits, at most one "::", optionally ending in an
 * embedded dotted quad that stands for the last two groups. No zone ids, no brackets.
 */
function parseV6(text: string): bigint | undefined {
  const n = text.length;
  if (n < 2 || n > 45) return undefined; // longest form: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
  const groups: number[] = [];
  let gap = -1; // index in `groups` where "::" stands
  let i = 0;
  if (text.charCodeAt(0) === 58 /* : */) {
    if (text.charCodeAt(1) !== 58) return undefined; // a single leading colon
    gap = 0;
    i = 2;
    if (i === n) return 0n; // "::"
  }
  for (;;) {
    // One group (or an embedded IPv4 address) starts at i.
    const groupStart = i;
    let group = 0;
    while (i < n) {
      const d = hexDigit(text.charCodeAt(i));
      if (d < 0) break;
      group = group * 16 + d;
      i++;
    }
    const len = i - groupStart;
    if (i < n && text.charCodeAt(i) === 46 /* . */) {
      // Dotted quad: only as the final part, and only where two groups still fit.
      const v4 = parseV4(text, groupStart, n);
      if (v4 < 0 || groups.length > 6) return undefined;
      groups.push(v4 >>> 16, v4 & 0xffff);
      i = n;
      break;
    }
    if (len === 0 || len > 4) return undefined;
    groups.push(group);
    if (groups.length > 8) return undefined;
    if (i === n) break;
    if (text.charCodeAt(i) !== 58) return undefined; // any other character: '%', ']', ' ', ...
    i++;
    if (i < n && text.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined; // a second "::"
      gap = groups.length;
      i++;
      if (i === n) break; // trailing "::"
    } else if (i === n) {
      return undefined; // a single trailing colon
    }
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return undefined;
  const zeros = gap < 0 ? 0 : 8 - groups.length;
  // The groups go into a scratch buffer and out as two 64-bit halves: building the value group by group
  // with BigInt shifts made ~24 BigInts per address, most of a 10,000-Service allocation pass's garbage.
  let k = 0;
  for (let g = 0; g < groups.length; g++) {
    if (g === gap) for (let z = 0; z < zeros; z++) SCRATCH.setUint16(2 * k++, 0);
    SCRATCH.setUint16(2 * k++, groups[g]!);
  }
  if (gap === groups.length) for (let z = 0; z < zeros; z++) SCRATCH.setUint16(2 * k++, 0);
  return (SCRATCH.getBigUint64(0) << 64n) | SCRATCH.getBigUint64(8);
}

/**
 * Parses an address. IPv4: strict dotted quad (no leading zeros, no shorthand). IPv6: RFC 4291 text incl.
 * "::" and an embedded dotted quad ("::ffff:192.0.2.1"); zone ids ("%eth0") and brackets are rejected.
 * Returns undefined for anything else.
 */
export function parseIP(text: string): IP | undefined {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) === 58 /* : */) {
      const v6 = parseV6(text);
      return v6 === undefined ? undefined : { family: 6, value: v6 };
    }
  }
  const v4 = parseV4(text, 0, text.length);
  return v4 < 0 ? undefined : { family: 4, value: BigInt(v4) };
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

function formatV4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/**
 * Formats an address. IPv4: dotted quad. IPv6: RFC 5952 canonical form (lower case, no leading zeros,
 * the longest run of two or more zero groups compressed to "::", the first one on a tie) and
 * "::ffff:a.b.c.d" for IPv4-mapped addresses (RFC 5952 5).
 */
export function formatIP(ip: IP): string {
  if (ip.family === 4) return formatV4(Number(ip.value));
  const v = ip.value;
  // Into the scratch buffer as two 64-bit halves, out as 16-bit groups: no BigInt per group.
  SCRATCH.setBigUint64(0, v >> 64n);
  SCRATCH.setBigUint64(8, BigInt.asUintN(64, v));
  const g = GROUPS;
  for (let i = 0; i < 8; i++) g[i] = SCRATCH.getUint16(2 * i);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return `::ffff:${formatV4(((g[6]! << 16) | g[7]!) >>> 0)}`;
  let bestStart = -1, bestLen = 1; // a single zero group is never compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  // Joined once: appending piece by piece made a rope per piece and flattened it at every endsWith().
  const parts = PARTS;
  parts.length = 0;
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      // "::" is the separator on both sides of the run: an empty part at either end supplies the other colon.
      if (i === 0) parts.push('');
      parts.push('');
      i += bestLen - 1;
      if (i === 7) parts.push('');
      continue;
    }
    parts.push(g[i]!.toString(16));
  }
  return parts.join(':');
}

// ---------------------------------------------------------------------------------------------------------
// Bytes

/** The address in network byte order: 4 or 16 bytes (a new array). */
export function ipToBytes(ip: IP): Uint8Array {
  const out = new Uint8Array(ip.family === 4 ? 4 : 16);
  writeIP(out, 0, ip);
  return out;
}

/** Writes the address in network byte order into `buf` at `offset` (4 or 16 bytes). */
export function writeIP(buf: Uint8Array, offset: number, ip: IP): void {
  if (ip.family === 4) {
    const v = Number(ip.value);
    buf[offset] = v >>> 24;
    buf[offset + 1] = (v >>> 16) & 0xff;
    buf[offset + 2] = (v >>> 8) & 0xff;
    buf[offset + 3] = v & 0xff;
    return;
  }
  // Through the scratch buffer: a DataView over `buf` per call was an object per address written. The
  // bounds check is the one that DataView made (a short buffer is a programming error, not a short write).
  if (offset < 0 || offset + 16 > buf.length) throw new RangeError(`writeIP: 16 bytes at offset ${offset} do not fit in ${buf.length}`);
  SCRATCH.setBigUint64(0, ip.value >> 64n);
  SCRATCH.setBigUint64(8, BigInt.asUintN(64, ip.value));
  for (let i = 0; i < 16; i++) buf[offset + i] = SCRATCH_BYTES[i]!;
}

/**
 * Reads an address in network byte order from `bytes` at `offset`. Without `family`, the family follows
 * from the bytes left (4 or 16); any other length is a programming error and throws a RangeError, as does
 * reading past the end. Decoders always pass the family and check lengths first.
 */
export function ipFromBytes(bytes: Uint8Array, offset = 0, family?: IPFamily): IP {
  const f = family ?? familyOfLength(bytes.length - offset);
  if (f === 4) {
    if (offset < 0 || offset + 4 > bytes.length) throw new RangeError('ipFromBytes: 4 bytes needed');
    // Plain byte arithmetic beats a DataView allocation for four bytes.
    const v = ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
    return { family: 4, value: BigInt(v) };
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, 16); // throws RangeError when short
  return { family: 6, value: (dv.getBigUint64(0) << 64n) | dv.getBigUint64(8) };
}

function familyOfLength(n: number): IPFamily {
  if (n === 4) return 4;
  if (n === 16) return 6;
  throw new RangeError(`ipFromBytes: ${n} bytes is neither an IPv4 (4) nor an IPv6 (16) address`);
}

// ---------------------------------------------------------------------------------------------------------
// Comparison and arithmetic

/** True when both are the same address of the same family. */
export function ipEquals(a: IP, b: IP): boolean {
  return a.family === b.family && a.value === b.value;
}

/** Orders IPv4 before IPv6, then numerically. Returns <0, 0 or >0, for `Array.prototype.sort`. */
export function compareIP(a: IP, b: IP): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** `ip + delta` in the same family, or undefined when the result leaves the address space. */
export function ipAdd(ip: IP, delta: bigint): IP | undefined {
  const v = ip.value + delta;
  if (v < 0n || v > maxValue(ip.family)) return undefined;
  return { family: ip.family, value: v };
}

// ---------------------------------------------------------------------------------------------------------
// Classification

/** 169.254.0.0/16 or fe80::/10. */
export function isLinkLocal(ip: IP): boolean {
  return ip.family === 4 ? ip.value >> 16n === 0xa9fen : ip.value >> 118n === 0x3fan;
}

/** 224.0.0.0/4 or ff00::/8. */
export function isMulticast(ip: IP): boolean {
  return ip.family === 4 ? ip.value >> 28n === 0xen : ip.value >> 120n === 0xffn;
}

/** 0.0.0.0 or ::. */
export function isUnspecified(ip: IP): boolean {
  return ip.value === 0n;
}

/** True for an address in ff02::1:ff00:0/104, the solicited-node multicast range. */
export function isSolicitedNode(ip: IP): boolean {
  return ip.family === 6 && ip.value >> 24n === SOLICITED_NODE_PREFIX >> 24n;
}

/**
 * The solicited-node multicast address of an IPv6 address: ff02::1:ff00:0/104 plus its low 24 bits
 * (RFC 4291 2.7.1). IPv4 has no such address: a RangeError.
 */
export function solicitedNodeAddress(ip: IP): IP {
  if (ip.family !== 6) throw new RangeError('solicitedNodeAddress: IPv6 address required');
  return { family: 6, value: SOLICITED_NODE_PREFIX | (ip.value & 0xff_ffffn) };
}
