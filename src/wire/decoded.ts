/**
 * The result type of every decoder: the value, or the one reason the input was dropped. Decoders never
 * throw; each distinct failure has its own name so a metric shows which check dropped what.
 */

/** Why a frame was dropped, one name per check (kebab-case, prefixed by the layer that failed). */
export type DropReason =
  // Ethernet
  | 'eth-too-short' // fewer than 14 bytes
  | 'eth-vlan' // an 802.1Q / 802.1ad tag still in the frame
  | 'eth-unsupported-type' // neither ARP nor IPv6 (IPv4, 802.3 length field, ...)
  // ARP (Ethernet/IPv4 only)
  | 'arp-too-short' // fewer than 28 bytes
  | 'arp-bad-hardware-type' // htype != 1 (Ethernet)
  | 'arp-bad-protocol-type' // ptype != 0x0800 (IPv4)
  | 'arp-bad-lengths' // hlen != 6 or plen != 4
  | 'arp-bad-op' // neither request (1) nor reply (2)
  // IPv6
  | 'ipv6-too-short' // fewer than 40 bytes
  | 'ipv6-bad-version' // version field != 6
  | 'ipv6-bad-length' // payload length runs past the end of the frame
  | 'ipv6-not-icmpv6' // next header != 58 (extension headers included)
  // ICMPv6 / NDP (RFC 4861 7.1.1, 7.1.2)
  | 'icmpv6-too-short' // fewer than 4 bytes of ICMPv6
  | 'icmpv6-bad-checksum'
  | 'icmpv6-not-ndp' // not a Neighbor Solicitation (135) or Advertisement (136)
  | 'ndp-too-short' // NS/NA body shorter than 24 bytes
  | 'ndp-bad-code' // ICMP code != 0
  | 'ndp-bad-hop-limit' // IPv6 hop limit != 255: the packet may have crossed a router
  | 'ndp-bad-target' // multicast target address
  | 'ndp-bad-option' // an option of length 0, or one running past the end
  | 'ndp-bad-lla-option' // a source/target link-layer address option that is not 8 bytes (Ethernet)
  | 'ndp-dad-with-source-lla' // NS from :: carrying a source link-layer address option
  | 'ndp-bad-destination' // NS from :: not sent to a solicited-node multicast address
  | 'ndp-solicited-to-multicast'; // NA with the Solicited flag sent to a multicast address

/** Every drop reason, in layer order, for pre-registering metrics. */
export const DROP_REASONS: readonly DropReason[] = Object.freeze([
  'eth-too-short', 'eth-vlan', 'eth-unsupported-type',
  'arp-too-short', 'arp-bad-hardware-type', 'arp-bad-protocol-type', 'arp-bad-lengths', 'arp-bad-op',
  'ipv6-too-short', 'ipv6-bad-version', 'ipv6-bad-length', 'ipv6-not-icmpv6',
  'icmpv6-too-short', 'icmpv6-bad-checksum', 'icmpv6-not-ndp',
  'ndp-too-short', 'ndp-bad-code', 'ndp-bad-hop-limit', 'ndp-bad-target', 'ndp-bad-option', 'ndp-bad-lla-option',
  'ndp-dad-with-source-lla', 'ndp-bad-destination', 'ndp-solicited-to-multicast',
] as const);

/**
 * A failed decode. `kind: 'drop'` lets a caller pass the failure straight on as a `{ kind: 'drop', reason }`
 * outcome. The objects are shared and frozen.
 */
export interface Dropped {
  readonly ok: false;
  readonly kind: 'drop';
  readonly reason: DropReason;
}

/** A decoded value or the reason it was dropped. */
export type Decoded<T> = { ok: true; value: T } | Dropped;

// One frozen object per reason: the hot path drops most frames and should not allocate for it.
const DROPPED = new Map<DropReason, Dropped>(
  DROP_REASONS.map((reason) => [reason, Object.freeze({ ok: false, kind: 'drop', reason } as const)]),
);

/** The shared failure result for `reason`. */
export function drop(reason: DropReason): Dropped {
  return DROPPED.get(reason)!;
}
