/**
 * The load generator's frames: the requests it sends (built with the product's own encoders, so the bench
 * sends exactly what the wire tests vouch for) and the checks that tell a reply to them from anything else.
 */
import { type IP, ipToBytes, parseIP } from '../../src/net/ip.ts';
import { type MAC, formatMAC } from '../../src/net/mac.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, decodeEthernet } from '../../src/wire/ethernet.ts';
import { ARP_REPLY, arpRequestFrame, decodeArp } from '../../src/wire/arp.ts';
import { NDP_NEIGHBOR_ADVERTISEMENT, NEXT_HEADER_ICMPV6, decodeNdp, nsRequestFrame } from '../../src/wire/ndp.ts';

/** Which neighbour protocol a request uses. */
export type Protocol = 'arp' | 'ndp';

/** A request frame and how to recognise its answer. */
export interface Probe {
  protocol: Protocol;
  /** The address asked for. */
  target: IP;
  /** The whole Ethernet frame to send. */
  frame: Uint8Array;
  /** Byte offset and bytes of the target address inside a reply: the cheap check of {@link quickMatch}. */
  replyTargetOffset: number;
  replyTargetBytes: Uint8Array;
  /** Our own address, which a reply is addressed to (ARP target IP, IPv6 destination: both at byte 38). */
  requesterBytes: Uint8Array;
}

/** Where the requester's address sits in a reply: ARP 14 + 24 (target IP), IPv6 14 + 24 (destination). */
const REQUESTER_OFFSET = 38;

/** Parses an address the bench was given, or throws: a typo must not become a silent no-op. */
export function ip(text: string): IP {
  const v = parseIP(text);
  if (!v) throw new Error(`bad IP address ${JSON.stringify(text)}`);
  return v;
}

/**
 * The request for `target` from (mac, source): a broadcast ARP request for IPv4, or a multicast NS to the
 * target's solicited-node address with a source link-layer option for IPv6 — what Linux itself sends.
 */
export function probeFor(mac: MAC, source: IP, target: IP): Probe {
  if (target.family === 4) {
    // ARP reply: the sender protocol address (the target we asked for) sits at 14 + 14.
    return { protocol: 'arp', target, frame: arpRequestFrame(mac, source, target), replyTargetOffset: 28, replyTargetBytes: ipToBytes(target), requesterBytes: ipToBytes(source) };
  }
  // NA: Ethernet 14 + IPv6 header 40 + ICMPv6 type/code/checksum/flags 8, then the target.
  return { protocol: 'ndp', target, frame: nsRequestFrame(mac, source, target), replyTargetOffset: 62, replyTargetBytes: ipToBytes(target), requesterBytes: ipToBytes(source) };
}

/**
 * Whether `frame[0..len)` looks like an answer to `p`: an ARP reply, or an ICMPv6 NA, for p's target and
 * addressed to us (so a gratuitous ARP reply or an unsolicited NA for the same address does not count).
 * Byte comparisons only, so the flood loop can afford it for every frame; {@link verifyReply} decodes fully.
 */
export function quickMatch(p: Probe, frame: Uint8Array, len: number): boolean {
  const o = p.replyTargetOffset;
  const t = p.replyTargetBytes;
  if (len < o + t.length || len < REQUESTER_OFFSET + p.requesterBytes.length) return false;
  if (p.protocol === 'arp') {
    if (frame[12] !== ETHERTYPE_ARP >> 8 || frame[13] !== (ETHERTYPE_ARP & 0xff) || frame[20] !== 0 || frame[21] !== ARP_REPLY) return false;
  } else if (frame[12] !== ETHERTYPE_IPV6 >> 8 || frame[13] !== (ETHERTYPE_IPV6 & 0xff) || frame[20] !== NEXT_HEADER_ICMPV6 || frame[54] !== NDP_NEIGHBOR_ADVERTISEMENT) {
    return false;
  }
  for (let i = 0; i < t.length; i++) if (frame[o + i] !== t[i]) return false;
  const r = p.requesterBytes;
  for (let i = 0; i < r.length; i++) if (frame[REQUESTER_OFFSET + i] !== r[i]) return false;
  return true;
}

/**
 * Decodes a candidate reply with the product's decoders (checksums included) and returns the MAC it maps
 * the target to, or undefined when it is not a valid answer to `p` addressed to `requester`.
 */
export function verifyReply(p: Probe, frame: Uint8Array, requester: IP): string | undefined {
  const eth = decodeEthernet(frame);
  if (!eth.ok) return undefined;
  if (p.protocol === 'arp') {
    const a = decodeArp(eth.value.payload);
    if (!a.ok || a.value.op !== ARP_REPLY) return undefined;
    if (a.value.senderIP.value !== p.target.value || a.value.targetIP.value !== requester.value) return undefined;
    return formatMAC(a.value.senderMAC);
  }
  const n = decodeNdp(eth.value.payload);
  if (!n.ok || n.value.type !== NDP_NEIGHBOR_ADVERTISEMENT) return undefined;
  if (n.value.target.value !== p.target.value || n.value.dst.value !== requester.value || !n.value.solicited) return undefined;
  return n.value.targetLLA ? formatMAC(n.value.targetLLA) : formatMAC(eth.value.src);
}
