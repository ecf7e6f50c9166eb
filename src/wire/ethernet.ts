/**
 * Ethernet II framing for the two payloads the responder handles: ARP and IPv6.
 */
import { type Decoded, drop } from './decoded.ts';

/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** EtherType of an 802.1Q VLAN tag. */
export const ETHERTYPE_VLAN = 0x8100;
/** EtherType of IPv6. */
export const ETHERTYPE_IPV6 = 0x86dd;
/** EtherType of an 802.1ad (QinQ) service tag. */
export const ETHERTYPE_QINQ = 0x88a8;

/** Length of the Ethernet header: destination, source, EtherType. */
export const ETHERNET_HEADER_LENGTH = 14;

/** A decoded frame. All fields are views into the frame given to {@link decodeEthernet}, not copies. */
export interface EthernetFrame {
  dst: Uint8Array;
  src: Uint8Array;
  etherType: number;
  payload: Uint8Array;
}

const TOO_SHORT = drop('eth-too-short');
const VLAN = drop('eth-vlan');
const UNSUPPORTED = drop('eth-unsupported-type');

/**
 * Splits an Ethernet II frame (no FCS) into addresses, EtherType and payload. Only ARP and IPv6 pass;
 * a frame still carrying a VLAN tag is 'eth-vlan' (the responder answers on untagged interfaces).
 * Linux usually strips the 802.1Q tag before an AF_PACKET socket sees the frame and reports it only in
 * PACKET_AUXDATA (checked on veth: a frame sent with tag 10 arrives as plain ARP, tp_status has
 * TP_STATUS_VLAN_VALID, tp_vlan_tci 10), so the link layer must drop tagged frames from the auxdata;
 * this check only catches tags the kernel left in place. Never throws.
 */
export function decodeEthernet(frame: Uint8Array): Decoded<EthernetFrame> {
  if (frame.length < ETHERNET_HEADER_LENGTH) return TOO_SHORT;
  const etherType = (frame[12]! << 8) | frame[13]!;
  if (etherType !== ETHERTYPE_ARP && etherType !== ETHERTYPE_IPV6) {
    return etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ ? VLAN : UNSUPPORTED;
  }
  return {
    ok: true,
    value: {
      dst: frame.subarray(0, 6),
      src: frame.subarray(6, 12),
      etherType,
      payload: frame.subarray(ETHERNET_HEADER_LENGTH),
    },
  };
}

/**
 * Builds a frame: `dst`, `src` (6 bytes each), the EtherType and the payload, in a new array. No padding
 * to the 60-byte minimum: the kernel (or the NIC) pads short frames on the way out.
 */
export function encodeEthernet(dst: Uint8Array, src: Uint8Array, etherType: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(ETHERNET_HEADER_LENGTH + payload.length);
  writeEthernetHeader(frame, dst, src, etherType);
  frame.set(payload, ETHERNET_HEADER_LENGTH);
  return frame;
}

/** Writes the 14-byte header at the start of `frame`; the frame encoders build the payload in place after it. */
export function writeEthernetHeader(frame: Uint8Array, dst: Uint8Array, src: Uint8Array, etherType: number): void {
  if (dst.length !== 6 || src.length !== 6) throw new RangeError('Ethernet addresses are 6 bytes');
  frame.set(dst, 0);
  frame.set(src, 6);
  frame[12] = etherType >>> 8;
  frame[13] = etherType & 0xff;
}
