/**
 * The heartbeat frame replicas of one deployment send each other on the segment (see `announce/members.ts`).
 *
 * Raw Ethernet, not UDP: the receive worker already owns an AF_PACKET socket per interface, a heartbeat
 * must reach the other replicas when the host has no IP on the segment (a gateway box may answer for VIPs
 * only), and no host firewall (nftables INPUT chain) sees it. EtherType 0x88b5 is IEEE 802's "Local
 * Experimental EtherType 1", meant for exactly this; the destination is the locally administered group
 * address 03:6c:32:6c:62:00 ("l2lb"), so bridges flood it like any multicast and never route it. What a
 * switch must let through: that EtherType to that group on the VLAN of the segment.
 *
 * Layout after the Ethernet header (all integers big-endian):
 *
 * ```
 *  0  magic "l2"            2   | 32 vip digest          8
 *  2  version (1)           1   | 40 interval ms         2
 *  3  flags                 1   | 42 misses              1
 *  4  deployment id         8   | 43 priority            1
 * 12  epoch (boot ms)       8   | 44 identity length     1, identity (UTF-8, <= 63)
 * 20  sequence              4   |    term holder length  1, term holder (UTF-8, <= 63)
 * 24  term                  8   |    HMAC-SHA256 over everything before it, when flag AUTH is set (32)
 * ```
 *
 * (epoch, sequence) orders a sender's frames across restarts; the term is the leadership term the sender
 * believes in (the Lease's `leaseTransitions` in Kubernetes mode, a counter in standalone HA) and the term
 * holder who holds it. Decoding never throws: every failure has its own reason.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ETHERNET_HEADER_LENGTH, writeEthernetHeader } from './ethernet.ts';

/** IEEE 802 Local Experimental EtherType 1. */
export const ETHERTYPE_HEARTBEAT = 0x88b5;
/** The group address heartbeats are sent to ("l2lb", locally administered multicast). */
export const HEARTBEAT_MAC = new Uint8Array([0x03, 0x6c, 0x32, 0x6c, 0x62, 0x00]);
/** Current frame version. */
export const HEARTBEAT_VERSION = 1;
/** Longest identity or term holder in bytes (a Kubernetes Pod name is at most 63 characters). */
export const MAX_NAME_BYTES = 63;
const FIXED = 44;
const MAC_LENGTH = 32;

/** Flag bits. */
export const FLAG_LEADER = 0x01; // the sender answers and announces
export const FLAG_LEASE = 0x02; // the sender's term is confirmed by a Lease the API server accepted
export const FLAG_FENCED = 0x04; // the sender resumed after a stall and answers nothing until it knows it leads
export const FLAG_AUTH = 0x80; // the frame ends with an HMAC-SHA256

/** Why a heartbeat was dropped; one name per check, the label of `l2lb_heartbeats_dropped_total`. */
export type HeartbeatDrop =
  | 'hb-too-short'
  | 'hb-bad-magic'
  | 'hb-bad-version'
  | 'hb-bad-name' // an identity or term holder that is empty, too long, not UTF-8 or runs past the end
  | 'hb-bad-timing' // interval or misses of 0
  | 'hb-trailing-bytes' // bytes after the last field that are no MAC
  | 'hb-other-deployment'
  | 'hb-unauthenticated' // we have a key, the frame has no MAC
  | 'hb-unexpected-auth' // the frame has a MAC, we have no key to check it
  | 'hb-bad-mac' // the MAC does not match our key
  | 'hb-replayed' // a sequence already seen or older than the replay window
  | 'hb-self'; // our own frame seen again (a looped segment)

/** Every heartbeat drop reason, for pre-registering metrics. */
export const HEARTBEAT_DROPS: readonly HeartbeatDrop[] = Object.freeze([
  'hb-too-short', 'hb-bad-magic', 'hb-bad-version', 'hb-bad-name', 'hb-bad-timing', 'hb-trailing-bytes',
  'hb-other-deployment', 'hb-unauthenticated', 'hb-unexpected-auth', 'hb-bad-mac', 'hb-replayed', 'hb-self',
] as const);

/** What one heartbeat says. */
export interface Heartbeat {
  /** {@link deploymentId} of the sender's deployment. */
  deployment: Uint8Array;
  flags: number;
  /** The sender's start time in ms since the epoch: a restart begins a new sequence. */
  epoch: number;
  sequence: number;
  term: number;
  termHolder: string;
  identity: string;
  priority: number;
  /** The sender's heartbeat interval (ms) and misses: how long it is alive without another frame. */
  interval: number;
  misses: number;
  /** {@link vipDigest} of what the sender would announce as leader. */
  vips: Uint8Array;
}

/**
 * What a sender puts in every heartbeat (all but the sequence, which the sender counts per frame), with the
 * HMAC key when heartbeats are authenticated.
 */
export interface BeaconSpec {
  heartbeat: Omit<Heartbeat, 'sequence'>;
  key?: Uint8Array;
}

/** A decoded heartbeat or the reason it was dropped. */
export type DecodedHeartbeat = { ok: true; value: Heartbeat } | { ok: false; reason: HeartbeatDrop };

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The 8-byte id of a deployment name: two deployments on one segment ignore each other's heartbeats. */
export function deploymentId(name: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`l2lb-deployment\0${name}`).digest().subarray(0, 8));
}

/** An 8-byte digest of a VIP set (IP -> MAC lines, order-free), so replicas can tell their sets differ. */
export function vipDigest(entries: Iterable<string>): Uint8Array {
  const h = createHash('sha256');
  for (const line of [...entries].sort()) h.update(`${line}\n`);
  return new Uint8Array(h.digest().subarray(0, 8));
}

function nameBytes(name: string, what: string): Uint8Array {
  const bytes = utf8.encode(name);
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES) throw new RangeError(`${what} must be 1 to ${MAX_NAME_BYTES} bytes of UTF-8`);
  return bytes;
}

/**
 * Builds a whole heartbeat frame from `src`, signed with `key` when one is given (the AUTH flag follows the
 * key, whatever `hb.flags` says). Throws RangeError on values out of range: the caller's fault, not the wire's.
 */
export function encodeHeartbeat(src: Uint8Array, hb: Heartbeat, key?: Uint8Array): Uint8Array {
  const identity = nameBytes(hb.identity, 'identity');
  const holder = nameBytes(hb.termHolder, 'term holder');
  if (hb.deployment.length !== 8 || hb.vips.length !== 8) throw new RangeError('deployment and vip digest are 8 bytes');
  const body = FIXED + 1 + identity.length + 1 + holder.length;
  const frame = new Uint8Array(ETHERNET_HEADER_LENGTH + body + (key ? MAC_LENGTH : 0));
  writeEthernetHeader(frame, HEARTBEAT_MAC, src, ETHERTYPE_HEARTBEAT);
  const p = frame.subarray(ETHERNET_HEADER_LENGTH);
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  p[0] = 0x6c;
  p[1] = 0x32;
  p[2] = HEARTBEAT_VERSION;
  p[3] = key ? (hb.flags | FLAG_AUTH) & 0xff : hb.flags & ~FLAG_AUTH & 0xff;
  p.set(hb.deployment, 4);
  view.setBigUint64(12, BigInt(hb.epoch));
  view.setUint32(20, hb.sequence >>> 0);
  view.setBigUint64(24, BigInt(hb.term));
  p.set(hb.vips, 32);
  view.setUint16(40, hb.interval);
  p[42] = hb.misses;
  p[43] = hb.priority;
  let at = FIXED;
  p[at++] = identity.length;
  p.set(identity, at);
  at += identity.length;
  p[at++] = holder.length;
  p.set(holder, at);
  at += holder.length;
  if (key) p.set(createHmac('sha256', key).update(p.subarray(0, at)).digest(), at);
  return frame;
}

function readName(p: Uint8Array, at: number, end: number): { name: string; next: number } | undefined {
  if (at >= end) return undefined;
  const length = p[at]!;
  if (length === 0 || length > MAX_NAME_BYTES || at + 1 + length > end) return undefined;
  try {
    return { name: strictUtf8.decode(p.subarray(at + 1, at + 1 + length)), next: at + 1 + length };
  } catch {
    return undefined;
  }
}

const fail = (reason: HeartbeatDrop): DecodedHeartbeat => ({ ok: false, reason });

/**
 * Decodes and checks the payload of a heartbeat frame (after the Ethernet header). `deployment` is ours:
 * another deployment's frame is dropped before its MAC is checked. With `key` the frame must carry a valid
 * HMAC; without one it must carry none (a replica with a key and one without are misconfigured, and that
 * should show as a counted drop, not as a silent trust). The replay check needs the sender's history and
 * lives in `announce/members.ts`.
 */
export function decodeHeartbeat(p: Uint8Array, deployment: Uint8Array, key?: Uint8Array): DecodedHeartbeat {
  if (p.length < FIXED + 4) return fail('hb-too-short');
  if (p[0] !== 0x6c || p[1] !== 0x32) return fail('hb-bad-magic');
  if (p[2] !== HEARTBEAT_VERSION) return fail('hb-bad-version');
  const flags = p[3]!;
  const authed = (flags & FLAG_AUTH) !== 0;
  const end = authed ? p.length - MAC_LENGTH : p.length;
  if (end < FIXED + 4) return fail('hb-too-short');
  const identity = readName(p, FIXED, end);
  const holder = identity && readName(p, identity.next, end);
  if (!identity || !holder) return fail('hb-bad-name');
  if (holder.next !== end) return fail('hb-trailing-bytes');
  for (let i = 0; i < 8; i++) if (p[4 + i] !== deployment[i]) return fail('hb-other-deployment');
  if (key && !authed) return fail('hb-unauthenticated');
  if (!key && authed) return fail('hb-unexpected-auth');
  if (key) {
    const want = createHmac('sha256', key).update(p.subarray(0, end)).digest();
    if (!timingSafeEqual(want, p.subarray(end, end + MAC_LENGTH))) return fail('hb-bad-mac');
  }
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const interval = view.getUint16(40);
  const misses = p[42]!;
  if (interval === 0 || misses === 0) return fail('hb-bad-timing');
  return {
    ok: true,
    value: {
      deployment: p.slice(4, 12),
      flags,
      epoch: Number(view.getBigUint64(12)),
      sequence: view.getUint32(20),
      term: Number(view.getBigUint64(24)),
      vips: p.slice(32, 40),
      interval,
      misses,
      priority: p[43]!,
      identity: identity.name,
      termHolder: holder.name,
    },
  };
}
