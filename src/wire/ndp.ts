/**
 * IPv6 Neighbor Discovery (RFC 4861): Neighbor Solicitation and Advertisement inside a bare IPv6 header.
 * The decoder applies the validity checks of RFC 4861 7.1.1 / 7.1.2 and never throws; the encoders build
 * what Linux sends, byte for byte (hop limit 255, traffic class and flow label 0).
 */
import {
  type IP,
  IPV6_ALL_NODES,
  IPV6_ANY,
  ipFromBytes,
  isSolicitedNode,
  isUnspecified,
  solicitedNodeAddress,
  writeIP,
} from '../net/ip.ts';
import { type MAC, ipv6MulticastMAC } from '../net/mac.ts';
import { type Decoded, drop } from './decoded.ts';
import { ETHERNET_HEADER_LENGTH, ETHERTYPE_IPV6, writeEthernetHeader } from './ethernet.ts';

/** IPv6 next-header number of ICMPv6. */
export const NEXT_HEADER_ICMPV6 = 58;
/** ICMPv6 type of a Neighbor Solicitation. */
export const NDP_NEIGHBOR_SOLICITATION = 135;
/** ICMPv6 type of a Neighbor Advertisement. */
export const NDP_NEIGHBOR_ADVERTISEMENT = 136;
/** ND option: source link-layer address. */
export const NDP_OPTION_SOURCE_LLA = 1;
/** ND option: target link-layer address. */
export const NDP_OPTION_TARGET_LLA = 2;
/** ND option: nonce (RFC 7527 enhanced DAD). */
export const NDP_OPTION_NONCE = 14;

const IPV6_HEADER_LENGTH = 40;
/** ICMPv6 header + reserved/flags + target: the fixed part of NS and NA. */
const NDP_BODY_LENGTH = 24;
const LLA_OPTION_LENGTH = 8;

/** A Neighbor Solicitation with the IPv6 header fields the validity checks need. */
export interface NeighborSolicitation {
  type: 135;
  src: IP;
  dst: IP;
  hopLimit: number;
  target: IP;
  /** Source link-layer address option (view into the packet), absent in DAD probes. */
  sourceLLA?: Uint8Array;
  /** RFC 7527 nonce option (view into the packet): Linux puts one in its DAD probes. */
  nonce?: Uint8Array;
}

/** A Neighbor Advertisement with its flags. */
export interface NeighborAdvertisement {
  type: 136;
  src: IP;
  dst: IP;
  hopLimit: number;
  router: boolean;
  solicited: boolean;
  override: boolean;
  target: IP;
  /** Target link-layer address option (view into the packet). */
  targetLLA?: Uint8Array;
}

/** A decoded NS or NA. */
export type NdpMessage = NeighborSolicitation | NeighborAdvertisement;

const IPV6_TOO_SHORT = drop('ipv6-too-short');
const IPV6_BAD_VERSION = drop('ipv6-bad-version');
const IPV6_BAD_LENGTH = drop('ipv6-bad-length');
const IPV6_NOT_ICMPV6 = drop('ipv6-not-icmpv6');
const ICMPV6_TOO_SHORT = drop('icmpv6-too-short');
const ICMPV6_BAD_CHECKSUM = drop('icmpv6-bad-checksum');
const ICMPV6_NOT_NDP = drop('icmpv6-not-ndp');
const NDP_TOO_SHORT = drop('ndp-too-short');
const NDP_BAD_CODE = drop('ndp-bad-code');
const NDP_BAD_HOP_LIMIT = drop('ndp-bad-hop-limit');
const NDP_BAD_TARGET = drop('ndp-bad-target');
const NDP_BAD_OPTION = drop('ndp-bad-option');
const NDP_BAD_LLA_OPTION = drop('ndp-bad-lla-option');
const NDP_DAD_WITH_SLLA = drop('ndp-dad-with-source-lla');
const NDP_BAD_DESTINATION = drop('ndp-bad-destination');
const NDP_SOLICITED_TO_MULTICAST = drop('ndp-solicited-to-multicast');

// ---------------------------------------------------------------------------------------------------------
// Checksum

/** Adds the big-endian 16-bit words of `buf[start, end)` to `acc` (an odd last byte is padded with zero). */
function sumWords(buf: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) acc += buf[i]! << 8;
  return acc;
}

/** Folds the carries of a one's-complement sum into 16 bits. */
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/**
 * Sum of the pseudo-header (source and destination taken from the IPv6 header at `ip6Offset`, ICMPv6
 * length, next header 58) plus the ICMPv6 message `buf[icmpStart, icmpEnd)`, folded to 16 bits.
 */
function packetSum(buf: Uint8Array, ip6Offset: number, icmpStart: number, icmpEnd: number): number {
  let acc = sumWords(buf, ip6Offset + 8, ip6Offset + 40, 0);
  acc += icmpEnd - icmpStart; // upper-layer length: a 32-bit field, its high word is zero for us
  acc += NEXT_HEADER_ICMPV6;
  return fold(sumWords(buf, icmpStart, icmpEnd, acc));
}

/**
 * The ICMPv6 checksum of `icmp` sent from `src` to `dst` (RFC 4443 2.3: pseudo-header included). Compute
 * it with the checksum field (bytes 2-3) zero; over a message whose checksum field is correct it is 0.
 */
export function icmpv6Checksum(src: IP, dst: IP, icmp: Uint8Array): number {
  const pseudo = new Uint8Array(40);
  writeIP(pseudo, 8, src);
  writeIP(pseudo, 24, dst);
  // The upper-layer length is a 32-bit field: both of its 16-bit words go into the sum.
  const acc = sumWords(pseudo, 8, 40, 0) + (icmp.length >>> 16) + (icmp.length & 0xffff) + NEXT_HEADER_ICMPV6;
  return ~fold(sumWords(icmp, 0, icmp.length, acc)) & 0xffff;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes an IPv6 packet (the Ethernet payload) that must be an NS or NA, validated per RFC 4861
 * 7.1.1 / 7.1.2: version 6, the payload length fits (bytes after it, Ethernet padding, are ignored), next
 * header 58 (any extension header is dropped), type 135/136, code 0, hop limit 255, at least 24 bytes,
 * correct checksum, non-multicast target, every option non-empty and inside the message, link-layer
 * address options of 8 bytes; an NS from :: must go to a solicited-node address and carry no source
 * link-layer address; an NA to a multicast address must not have the Solicited flag. Options other than
 * the link-layer address (and the NS nonce) are skipped. Never throws.
 */
export function decodeNdp(ipv6Packet: Uint8Array): Decoded<NdpMessage> {
  const p = ipv6Packet;
  if (p.length < IPV6_HEADER_LENGTH) return IPV6_TOO_SHORT;
  if (p[0]! >>> 4 !== 6) return IPV6_BAD_VERSION;
  const payloadLength = (p[4]! << 8) | p[5]!;
  const end = IPV6_HEADER_LENGTH + payloadLength;
  if (end > p.length) return IPV6_BAD_LENGTH;
  if (p[6] !== NEXT_HEADER_ICMPV6) return IPV6_NOT_ICMPV6;
  if (payloadLength < 4) return ICMPV6_TOO_SHORT;
  const type = p[40]!;
  // Type before checksum: other ICMPv6 (MLD, echo, RA) is dropped without summing it.
  if (type !== NDP_NEIGHBOR_SOLICITATION && type !== NDP_NEIGHBOR_ADVERTISEMENT) return ICMPV6_NOT_NDP;
  if (p[41] !== 0) return NDP_BAD_CODE;
  const hopLimit = p[7]!;
  if (hopLimit !== 255) return NDP_BAD_HOP_LIMIT;
  if (payloadLength < NDP_BODY_LENGTH) return NDP_TOO_SHORT;
  if (packetSum(p, 0, IPV6_HEADER_LENGTH, end) !== 0xffff) return ICMPV6_BAD_CHECKSUM;
  if (p[48] === 0xff) return NDP_BAD_TARGET; // multicast target (ff00::/8)

  // Options: type, length in units of 8 bytes, data.
  let lla: Uint8Array | undefined;
  let nonce: Uint8Array | undefined;
  const wantLLA = type === NDP_NEIGHBOR_SOLICITATION ? NDP_OPTION_SOURCE_LLA : NDP_OPTION_TARGET_LLA;
  let off = IPV6_HEADER_LENGTH + NDP_BODY_LENGTH;
  while (off < end) {
    if (off + 2 > end) return NDP_BAD_OPTION;
    const optType = p[off]!;
    const optLength = p[off + 1]! * 8;
    if (optLength === 0 || off + optLength > end) return NDP_BAD_OPTION;
    if (optType === wantLLA) {
      if (optLength !== LLA_OPTION_LENGTH) return NDP_BAD_LLA_OPTION;
      // A repeated option is ignored, as Linux does: the first one counts.
      if (lla === undefined) lla = p.subarray(off + 2, off + 8);
    } else if (optType === NDP_OPTION_NONCE && type === NDP_NEIGHBOR_SOLICITATION) {
      if (nonce === undefined) nonce = p.subarray(off + 2, off + optLength);
    }
    off += optLength;
  }

  const src = ipFromBytes(p, 8, 6);
  const dst = ipFromBytes(p, 24, 6);
  const target = ipFromBytes(p, 48, 6);
  if (type === NDP_NEIGHBOR_SOLICITATION) {
    if (isUnspecified(src)) {
      if (!isSolicitedNode(dst)) return NDP_BAD_DESTINATION;
      if (lla !== undefined) return NDP_DAD_WITH_SLLA;
    }
    const ns: NeighborSolicitation = { type: 135, src, dst, hopLimit, target, sourceLLA: lla, nonce };
    return { ok: true, value: ns };
  }
  const flags = p[44]!;
  const solicited = (flags & 0x40) !== 0;
  if (solicited && p[24] === 0xff) return NDP_SOLICITED_TO_MULTICAST;
  const na: NeighborAdvertisement = {
    type: 136,
    src,
    dst,
    hopLimit,
    router: (flags & 0x80) !== 0,
    solicited,
    override: (flags & 0x20) !== 0,
    target,
    targetLLA: lla,
  };
  return { ok: true, value: na };
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

function check6(a: IP, b: IP, c: IP): void {
  if (a.family !== 6 || b.family !== 6 || c.family !== 6) throw new RangeError('NDP: IPv6 addresses required');
}

function checkMAC(mac: Uint8Array | undefined, what: string): void {
  if (mac !== undefined && mac.length !== 6) throw new RangeError(`NDP: ${what} must be 6 bytes`);
}

/** Writes the IPv6 header, hop limit 255, traffic class and flow label 0, into `buf` at `o`. */
function writeIPv6Header(buf: Uint8Array, o: number, payloadLength: number, src: IP, dst: IP): void {
  buf[o] = 0x60;
  buf[o + 1] = 0;
  buf[o + 2] = 0;
  buf[o + 3] = 0;
  buf[o + 4] = payloadLength >>> 8;
  buf[o + 5] = payloadLength & 0xff;
  buf[o + 6] = NEXT_HEADER_ICMPV6;
  buf[o + 7] = 255;
  writeIP(buf, o + 8, src);
  writeIP(buf, o + 24, dst);
}

function writeLLAOption(buf: Uint8Array, o: number, optType: number, mac: Uint8Array): void {
  buf[o] = optType;
  buf[o + 1] = 1;
  buf.set(mac, o + 2);
}

/** Computes and stores the checksum of the ICMPv6 message of the IPv6 packet at `o`. */
function finishChecksum(buf: Uint8Array, o: number, end: number): void {
  const sum = ~packetSum(buf, o, o + IPV6_HEADER_LENGTH, end) & 0xffff;
  buf[o + 42] = sum >>> 8;
  buf[o + 43] = sum & 0xff;
}

/** Input of {@link encodeNS}. */
export interface NSFields {
  src: IP;
  dst: IP;
  target: IP;
  sourceLLA?: Uint8Array;
  /** RFC 7527 nonce; its length + 2 must be a multiple of 8 (6 bytes, as Linux sends). */
  nonce?: Uint8Array;
}

/** Input of {@link encodeNA}. */
export interface NAFields {
  src: IP;
  dst: IP;
  target: IP;
  targetLLA?: Uint8Array;
  router?: boolean;
  solicited: boolean;
  override: boolean;
}

function nsLength(m: NSFields): number {
  if (m.nonce !== undefined && (m.nonce.length === 0 || (m.nonce.length + 2) % 8 !== 0)) {
    throw new RangeError('NDP: nonce length + 2 must be a multiple of 8');
  }
  return NDP_BODY_LENGTH + (m.sourceLLA ? LLA_OPTION_LENGTH : 0) + (m.nonce ? m.nonce.length + 2 : 0);
}

function writeNS(buf: Uint8Array, o: number, payloadLength: number, m: NSFields): void {
  check6(m.src, m.dst, m.target);
  checkMAC(m.sourceLLA, 'source link-layer address');
  writeIPv6Header(buf, o, payloadLength, m.src, m.dst);
  const i = o + IPV6_HEADER_LENGTH;
  buf[i] = NDP_NEIGHBOR_SOLICITATION; // code, checksum, reserved: zero in a new array
  writeIP(buf, i + 8, m.target);
  let opt = i + NDP_BODY_LENGTH;
  if (m.sourceLLA) {
    writeLLAOption(buf, opt, NDP_OPTION_SOURCE_LLA, m.sourceLLA);
    opt += LLA_OPTION_LENGTH;
  }
  if (m.nonce) {
    buf[opt] = NDP_OPTION_NONCE;
    buf[opt + 1] = (m.nonce.length + 2) / 8;
    buf.set(m.nonce, opt + 2);
  }
  finishChecksum(buf, o, i + payloadLength);
}

function naLength(m: NAFields): number {
  return NDP_BODY_LENGTH + (m.targetLLA ? LLA_OPTION_LENGTH : 0);
}

function writeNA(buf: Uint8Array, o: number, payloadLength: number, m: NAFields): void {
  check6(m.src, m.dst, m.target);
  checkMAC(m.targetLLA, 'target link-layer address');
  writeIPv6Header(buf, o, payloadLength, m.src, m.dst);
  const i = o + IPV6_HEADER_LENGTH;
  buf[i] = NDP_NEIGHBOR_ADVERTISEMENT;
  buf[i + 4] = (m.router ? 0x80 : 0) | (m.solicited ? 0x40 : 0) | (m.override ? 0x20 : 0);
  writeIP(buf, i + 8, m.target);
  if (m.targetLLA) writeLLAOption(buf, i + NDP_BODY_LENGTH, NDP_OPTION_TARGET_LLA, m.targetLLA);
  finishChecksum(buf, o, i + payloadLength);
}

/** An IPv6 packet (hop limit 255) carrying a Neighbor Solicitation, checksum filled in. */
export function encodeNS(m: NSFields): Uint8Array {
  const len = nsLength(m);
  const out = new Uint8Array(IPV6_HEADER_LENGTH + len);
  writeNS(out, 0, len, m);
  return out;
}

/** An IPv6 packet (hop limit 255) carrying a Neighbor Advertisement, checksum filled in. */
export function encodeNA(m: NAFields): Uint8Array {
  const len = naLength(m);
  const out = new Uint8Array(IPV6_HEADER_LENGTH + len);
  writeNA(out, 0, len, m);
  return out;
}

/** An Ethernet frame carrying the NS `m`. */
export function nsFrame(ethDst: Uint8Array, ethSrc: Uint8Array, m: NSFields): Uint8Array {
  const len = nsLength(m);
  const frame = new Uint8Array(ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH + len);
  writeEthernetHeader(frame, ethDst, ethSrc, ETHERTYPE_IPV6);
  writeNS(frame, ETHERNET_HEADER_LENGTH, len, m);
  return frame;
}

/** An Ethernet frame carrying the NA `m`. */
export function naFrame(ethDst: Uint8Array, ethSrc: Uint8Array, m: NAFields): Uint8Array {
  const len = naLength(m);
  const frame = new Uint8Array(ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH + len);
  writeEthernetHeader(frame, ethDst, ethSrc, ETHERTYPE_IPV6);
  writeNA(frame, ETHERNET_HEADER_LENGTH, len, m);
  return frame;
}

const ALL_NODES_MAC: MAC = new Uint8Array([0x33, 0x33, 0, 0, 0, 1]);

/**
 * The answer to `ns`, received with Ethernet source `nsEthSrc`: target ns.target at `answerMAC` (target
 * link-layer option), Override set, IPv6 source `ourSrc`, Ethernet source `ethSrc`. A DAD probe (source
 * ::) is answered to ff02::1 without the Solicited flag (RFC 4861 7.2.4); anything else to ns.src, with
 * Solicited, at the Ethernet address of its source link-layer option, else the frame's source.
 */
export function naReplyFrame(ethSrc: MAC, ns: NeighborSolicitation, nsEthSrc: Uint8Array, answerMAC: MAC, ourSrc: IP): Uint8Array {
  const dad = isUnspecified(ns.src);
  const ethDst = dad ? ALL_NODES_MAC : (ns.sourceLLA ?? nsEthSrc);
  return naFrame(ethDst, ethSrc, {
    src: ourSrc,
    dst: dad ? IPV6_ALL_NODES : ns.src,
    target: ns.target,
    targetLLA: answerMAC,
    solicited: !dad,
    override: true,
  });
}

/**
 * A solicited NA telling the host (hostMAC, hostIP) that `target` is at `answerMAC`, unicast to it without
 * a solicitation, Override set, IPv6 source `target`. RFC 4861 7.2.5 moves an entry to REACHABLE on any NA
 * with the Solicited flag (an unsolicited one only makes it STALE), so this keeps a host's entry confirmed
 * (see `announce/requesters.ts`).
 */
export function naConfirmFrame(ethSrc: MAC, answerMAC: MAC, target: IP, hostMAC: MAC, hostIP: IP): Uint8Array {
  return naFrame(hostMAC, ethSrc, { src: target, dst: hostIP, target, targetLLA: answerMAC, solicited: true, override: true });
}

/**
 * A Neighbor Solicitation for `target` from (ethSrc, src) with a source link-layer option, as Linux sends
 * it: to the solicited-node address of `target`, or, given `unicastMAC`, straight to `target` at that MAC
 * (re-checking a known neighbour).
 */
export function nsRequestFrame(ethSrc: MAC, src: IP, target: IP, unicastMAC?: MAC): Uint8Array {
  if (unicastMAC) return nsFrame(unicastMAC, ethSrc, { src, dst: target, target, sourceLLA: ethSrc });
  const dst = solicitedNodeAddress(target);
  return nsFrame(ipv6MulticastMAC(dst), ethSrc, { src, dst, target, sourceLLA: ethSrc });
}

/**
 * A DAD probe for `target` (RFC 4862 5.4.2): NS from :: to its solicited-node address, Ethernet
 * destination the matching 33:33 group, no source link-layer option. `nonce` (6 bytes) adds the RFC 7527
 * nonce option, as Linux does.
 */
export function dadProbeFrame(ethSrc: MAC, target: IP, nonce?: Uint8Array): Uint8Array {
  const dst = solicitedNodeAddress(target);
  return nsFrame(ipv6MulticastMAC(dst), ethSrc, { src: IPV6_ANY, dst, target, nonce });
}

/**
 * An unsolicited NA announcing `target` at `announceMAC`: to ff02::1 (33:33:00:00:00:01), Override set,
 * Solicited clear, target link-layer option `announceMAC`, IPv6 source `src`, Ethernet source `ethSrc`.
 */
export function unsolicitedNAFrame(ethSrc: MAC, announceMAC: MAC, src: IP, target: IP): Uint8Array {
  return naFrame(ALL_NODES_MAC, ethSrc, {
    src,
    dst: IPV6_ALL_NODES,
    target,
    targetLLA: announceMAC,
    solicited: false,
    override: true,
  });
}
