/**
 * 48-bit Ethernet MAC addresses as 6-byte Uint8Arrays, so decoders can hand out views into a frame
 * without copying.
 */
import type { IP } from './ip.ts';

/** A MAC address: always exactly 6 bytes. */
export type MAC = Uint8Array;

/** ff:ff:ff:ff:ff:ff. Shared: never write into it. */
export const BROADCAST_MAC: MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
/** 00:00:00:00:00:00. Shared: never write into it. */
export const ZERO_MAC: MAC = new Uint8Array(6);

/** "00".."ff", so formatting a MAC is six lookups. */
const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Parses "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff" (either case, one separator throughout, two digits per
 * byte). Anything else (Cisco dotted form, bare hex, short bytes) is undefined.
 */
export function parseMAC(text: string): MAC | undefined {
  if (text.length !== 17) return undefined;
  const sep = text.charCodeAt(2);
  if (sep !== 58 /* : */ && sep !== 45 /* - */) return undefined;
  const mac = new Uint8Array(6);
  for (let b = 0; b < 6; b++) {
    const i = b * 3;
    const hi = hexDigit(text.charCodeAt(i));
    const lo = hexDigit(text.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return undefined;
    if (b < 5 && text.charCodeAt(i + 2) !== sep) return undefined;
    mac[b] = hi * 16 + lo;
  }
  return mac;
}

/** Lower-case colon form of the 6 bytes of `mac` starting at `offset`. */
export function formatMAC(mac: Uint8Array, offset = 0): string {
  return `${HEX[mac[offset]!]}:${HEX[mac[offset + 1]!]}:${HEX[mac[offset + 2]!]}:${HEX[mac[offset + 3]!]}:${HEX[mac[offset + 4]!]}:${HEX[mac[offset + 5]!]}`;
}

/** Compares 6 bytes of `a` at `aOffset` with 6 bytes of `b` at `bOffset`. */
export function macEquals(a: Uint8Array, b: Uint8Array, aOffset = 0, bOffset = 0): boolean {
  if (aOffset + 6 > a.length || bOffset + 6 > b.length) return false;
  for (let i = 0; i < 6; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

/** The Ethernet group address of an IPv6 multicast address: 33:33 and its low 32 bits (RFC 2464 7). */
export function ipv6MulticastMAC(ip: IP): MAC {
  if (ip.family !== 6) throw new RangeError('ipv6MulticastMAC: IPv6 address required');
  const low = Number(ip.value & 0xffff_ffffn);
  return new Uint8Array([0x33, 0x33, low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff]);
}

/** True for an individual (I/G bit clear), non-zero address: one a host may own and answer with. */
export function isUnicastMAC(mac: Uint8Array): boolean {
  if (mac.length < 6 || (mac[0]! & 1) !== 0) return false;
  return (mac[0]! | mac[1]! | mac[2]! | mac[3]! | mac[4]! | mac[5]!) !== 0;
}

/** A copy of the 6 bytes at `offset`, for keeping a MAC beyond the life of the frame it was read from. */
export function copyMAC(bytes: Uint8Array, offset = 0): MAC {
  return bytes.slice(offset, offset + 6);
}
