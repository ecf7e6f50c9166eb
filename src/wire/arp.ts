/**
 * ARP for Ethernet and IPv4 (RFC 826): the only combination the responder meets. Other hardware or
 * protocol types are dropped with their own reason.
 */
import { type IP, IPV4_ANY, ipFromBytes, isUnspecified, writeIP } from '../net/ip.ts';
import { BROADCAST_MAC, type MAC, ZERO_MAC } from '../net/mac.ts';
import { type Decoded, drop } from './decoded.ts';
import { ETHERNET_HEADER_LENGTH, ETHERTYPE_ARP, ETHERTYPE_IPV4, writeEthernetHeader } from './ethernet.ts';

/** ARP operation: request. */
export const ARP_REQUEST = 1;
/** ARP operation: reply. */
export const ARP_REPLY = 2;
/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_LENGTH = 28;

/** An Ethernet/IPv4 ARP packet. MACs decoded from a frame are views into it, not copies. */
export interface ArpPacket {
  op: 1 | 2;
  senderMAC: Uint8Array;
  senderIP: IP;
  targetMAC: Uint8Array;
  targetIP: IP;
}

const TOO_SHORT = drop('arp-too-short');
const BAD_HTYPE = drop('arp-bad-hardware-type');
const BAD_PTYPE = drop('arp-bad-protocol-type');
const BAD_LENGTHS = drop('arp-bad-lengths');
const BAD_OP = drop('arp-bad-op');

/**
 * Decodes an ARP packet (the Ethernet payload). Bytes after the 28 of the packet (Ethernet padding) are
 * ignored. Never throws.
 */
export function decodeArp(payload: Uint8Array): Decoded<ArpPacket> {
  if (payload.length < ARP_LENGTH) return TOO_SHORT;
  if (payload[0] !== 0 || payload[1] !== 1) return BAD_HTYPE;
  if (payload[2] !== 0x08 || payload[3] !== 0x00) return BAD_PTYPE;
  if (payload[4] !== 6 || payload[5] !== 4) return BAD_LENGTHS;
  const op = (payload[6]! << 8) | payload[7]!;
  if (op !== ARP_REQUEST && op !== ARP_REPLY) return BAD_OP;
  return {
    ok: true,
    value: {
      op,
      senderMAC: payload.subarray(8, 14),
      senderIP: ipFromBytes(payload, 14, 4),
      targetMAC: payload.subarray(18, 24),
      targetIP: ipFromBytes(payload, 24, 4),
    },
  };
}

function checkArp(p: ArpPacket): void {
  if (p.senderMAC.length !== 6 || p.targetMAC.length !== 6) throw new RangeError('ARP: MACs are 6 bytes');
  if (p.senderIP.family !== 4 || p.targetIP.family !== 4) throw new RangeError('ARP: IPv4 addresses required');
}

/** Writes the 28 bytes of `p` into `buf` at `offset`. */
function writeArp(buf: Uint8Array, offset: number, p: ArpPacket): void {
  checkArp(p);
  buf[offset] = 0;
  buf[offset + 1] = 1; // htype Ethernet
  buf[offset + 2] = ETHERTYPE_IPV4 >>> 8;
  buf[offset + 3] = ETHERTYPE_IPV4 & 0xff;
  buf[offset + 4] = 6;
  buf[offset + 5] = 4;
  buf[offset + 6] = 0;
  buf[offset + 7] = p.op;
  buf.set(p.senderMAC, offset + 8);
  writeIP(buf, offset + 14, p.senderIP);
  buf.set(p.targetMAC, offset + 18);
  writeIP(buf, offset + 24, p.targetIP);
}

/** The 28-byte ARP packet. Throws a RangeError for MACs that are not 6 bytes or non-IPv4 addresses. */
export function encodeArp(p: ArpPacket): Uint8Array {
  const out = new Uint8Array(ARP_LENGTH);
  writeArp(out, 0, p);
  return out;
}

/** An Ethernet frame carrying `p`, built in one allocation. */
export function arpFrame(ethDst: Uint8Array, ethSrc: Uint8Array, p: ArpPacket): Uint8Array {
  const frame = new Uint8Array(ETHERNET_HEADER_LENGTH + ARP_LENGTH);
  writeEthernetHeader(frame, ethDst, ethSrc, ETHERTYPE_ARP);
  writeArp(frame, ETHERNET_HEADER_LENGTH, p);
  return frame;
}

/** RFC 5227 probe: a request with sender IP 0.0.0.0 (someone checking whether the target is taken). */
export function isArpProbe(p: ArpPacket): boolean {
  return p.op === ARP_REQUEST && isUnspecified(p.senderIP);
}

/**
 * Gratuitous ARP / RFC 5227 announcement: sender IP == target IP (request or reply). 0.0.0.0 does not
 * count, so a packet is never both a probe and gratuitous.
 */
export function isGratuitousArp(p: ArpPacket): boolean {
  return p.senderIP.value === p.targetIP.value && !isUnspecified(p.senderIP);
}

/**
 * The reply to `request`, addressed to the requester (Ethernet destination = its sender MAC): sender
 * (answerMAC, request.targetIP), target (request.senderMAC, request.senderIP). The Ethernet source is
 * `ethSrc`, our interface's MAC, even when we answer with another host's `answerMAC`, so switches keep
 * learning that host's MAC on its own port. A probe (sender 0.0.0.0) gets target IP 0.0.0.0, as Linux does.
 */
export function arpReplyFrame(ethSrc: MAC, request: ArpPacket, answerMAC: MAC): Uint8Array {
  return arpFrame(request.senderMAC, ethSrc, {
    op: ARP_REPLY,
    senderMAC: answerMAC,
    senderIP: request.targetIP,
    targetMAC: request.senderMAC,
    targetIP: request.senderIP,
  });
}

/**
 * An ARP reply telling the host (hostMAC, hostIP) that `ip` is at `answerMAC`, unicast to it without a
 * request. A unicast reply is what makes a Linux neighbour entry REACHABLE (a broadcast or gratuitous one
 * only makes it STALE), so this keeps a host's entry confirmed (see `announce/requesters.ts`).
 */
export function arpConfirmFrame(ethSrc: MAC, answerMAC: MAC, ip: IP, hostMAC: MAC, hostIP: IP): Uint8Array {
  return arpFrame(hostMAC, ethSrc, { op: ARP_REPLY, senderMAC: answerMAC, senderIP: ip, targetMAC: hostMAC, targetIP: hostIP });
}

/**
 * An ARP request for `targetIP` from (ethSrc, senderIP), target MAC zero as Linux sends it. Broadcast by
 * default; pass `ethDst` to re-check a known neighbour by unicast, as the kernel does in its PROBE state.
 */
export function arpRequestFrame(ethSrc: MAC, senderIP: IP, targetIP: IP, ethDst: MAC = BROADCAST_MAC): Uint8Array {
  return arpFrame(ethDst, ethSrc, { op: ARP_REQUEST, senderMAC: ethSrc, senderIP, targetMAC: ZERO_MAC, targetIP });
}

/**
 * RFC 5227 probe for `targetIP`: broadcast request, sender (ethSrc, 0.0.0.0), target MAC zero (RFC 5227
 * 2.1.1 "SHOULD be set to all zeroes"; iputils `arping -D` puts ff:ff:ff:ff:ff:ff there instead).
 */
export function arpProbeFrame(ethSrc: MAC, targetIP: IP): Uint8Array {
  return arpRequestFrame(ethSrc, IPV4_ANY, targetIP);
}

/**
 * Gratuitous ARP announcing `ip` at `announceMAC`, in both forms hosts act on: [request (op 1, target MAC
 * zero, exactly what Linux sends with arp_notify), reply (op 2, target MAC broadcast)]. Both go to
 * broadcast with Ethernet source `ethSrc`, sender (announceMAC, ip), target IP ip.
 */
export function gratuitousArpFrames(ethSrc: MAC, announceMAC: MAC, ip: IP): [Uint8Array, Uint8Array] {
  return [
    arpFrame(BROADCAST_MAC, ethSrc, { op: ARP_REQUEST, senderMAC: announceMAC, senderIP: ip, targetMAC: ZERO_MAC, targetIP: ip }),
    arpFrame(BROADCAST_MAC, ethSrc, { op: ARP_REPLY, senderMAC: announceMAC, senderIP: ip, targetMAC: BROADCAST_MAC, targetIP: ip }),
  ];
}
