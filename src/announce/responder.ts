/**
 * The responder's decision for one received frame: a pure function of the frame and the interface's VIP
 * slots. The receive worker calls it for every frame and sends what it returns; nothing here does I/O, so
 * every rule is tested without sockets.
 */
import type { IP } from '../net/ip.ts';
import { isUnspecified, solicitedNodeAddress } from '../net/ip.ts';
import { type MAC, formatMAC, macEquals } from '../net/mac.ts';
import { type DropReason } from '../wire/decoded.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, decodeEthernet } from '../wire/ethernet.ts';
import { ARP_REQUEST, arpReplyFrame, decodeArp, isArpProbe, isGratuitousArp } from '../wire/arp.ts';
import { decodeNdp, naReplyFrame } from '../wire/ndp.ts';

/** One VIP as the responder sees it on one interface. */
export interface VipSlot {
  /** Canonical text of the address, used as the counter key. */
  readonly key: string;
  readonly ip: IP;
  /** The MAC we answer with (our own, or the node's we announce for). */
  readonly mac: MAC;
  /**
   * `answer`: announced; `probe`: being checked for conflicts, not answered; `watch`: another replica leads:
   * not answered, not defended, but the hosts asking for it are remembered for when this one takes over.
   */
  readonly mode: 'answer' | 'probe' | 'watch';
}

/** The host that sent a request, as its ARP sender / NS source says. */
export interface Asker {
  ip: IP;
  /** A view into the received frame: copy it to keep it. */
  mac: Uint8Array;
}

/** One family's VIP slots by address value (a `Map` will do; the worker keeps typed-array tables). */
export interface SlotLookup {
  get(value: bigint): VipSlot | undefined;
  has(value: bigint): boolean;
}

/** The responder's view of one interface. */
export interface ResponderState {
  /** The interface's own MAC: Ethernet source of everything we send. */
  readonly ifMac: MAC;
  readonly v4: SlotLookup;
  readonly v6: SlotLookup;
}

/** Why a well-formed frame needs no answer. */
export type IgnoreReason =
  | 'not-for-us' // unicast to another MAC (seen because the interface is promiscuous)
  | 'own-frame'
  | 'not-a-vip'
  | 'probing' // a request for a VIP still being checked for conflicts
  | 'arp-reply'
  | 'arp-gratuitous' // an announcement, not a question
  | 'ndp-advert'
  | 'ndp-wrong-destination'
  | 'standby' // a request for a VIP another replica answers
  | 'no-source'; // NDP answer needs an IPv6 source and the VIP itself is not usable

/** Every ignore reason, for pre-registered metrics. */
export const IGNORE_REASONS: readonly IgnoreReason[] = [
  'not-for-us', 'own-frame', 'not-a-vip', 'probing', 'arp-reply', 'arp-gratuitous', 'ndp-advert', 'ndp-wrong-destination', 'standby', 'no-source',
];

/** What to do with a frame. */
export type Outcome =
  | { kind: 'reply'; vip: string; protocol: 'arp' | 'ndp'; frame: Uint8Array; slot: VipSlot; asker?: Asker }
  | { kind: 'conflict'; vip: string; protocol: 'arp' | 'ndp'; mac: string; phase: 'probe' | 'active' }
  | {
    kind: 'ignored'; reason: IgnoreReason; vip?: string; seen?: { ip: IP; mac: Uint8Array }; slot?: VipSlot; asker?: Asker;
    /** Another host announced a watched address (gratuitous ARP, ARP reply, NA) with this MAC. */
    announced?: { vip: string; mac: string };
  }
  | { kind: 'drop'; reason: DropReason };

const ignored = (reason: IgnoreReason, vip?: string): Outcome => ({ kind: 'ignored', reason, vip });

/** Decides the answer to one frame received on the interface described by `st`. Never throws. */
export function respond(frame: Uint8Array, st: ResponderState): Outcome {
  const eth = decodeEthernet(frame);
  if (!eth.ok) return eth;
  const { dst, src, etherType, payload } = eth.value;
  // Unicast frames to another station reach us only in promiscuous mode (tcpdump); they are not ours to answer.
  if ((dst[0]! & 1) === 0 && !macEquals(dst, st.ifMac)) return ignored('not-for-us');
  if (macEquals(src, st.ifMac)) return ignored('own-frame');
  if (etherType === ETHERTYPE_ARP) return respondArp(payload, st);
  if (etherType === ETHERTYPE_IPV6) return respondNdp(payload, src, st);
  return { kind: 'drop', reason: 'eth-unsupported-type' };
}

function respondArp(payload: Uint8Array, st: ResponderState): Outcome {
  const d = decodeArp(payload);
  if (!d.ok) return d;
  const p = d.value;
  // Someone else using a VIP as its own address: a conflict whatever the packet type.
  const claimed = st.v4.get(p.senderIP.value);
  if (claimed && claimed.mode !== 'watch' && !macEquals(p.senderMAC, claimed.mac) && !macEquals(p.senderMAC, st.ifMac)) {
    return conflict(claimed, 'arp', p.senderMAC);
  }
  // Another host announcing an address we watch: who answers for it now (per-node mode follows this).
  const announced = claimed?.mode === 'watch' && !macEquals(p.senderMAC, st.ifMac) ? { vip: claimed.key, mac: formatMAC(p.senderMAC) } : undefined;
  // A reply tells who has which address: the node prober listens for exactly this.
  if (p.op !== ARP_REQUEST) return { kind: 'ignored', reason: 'arp-reply', seen: { ip: p.senderIP, mac: p.senderMAC }, ...(announced ? { announced } : {}) };
  if (isGratuitousArp(p)) return announced ? { kind: 'ignored', reason: 'arp-gratuitous', announced } : ignored('arp-gratuitous');
  const slot = st.v4.get(p.targetIP.value);
  if (!slot) return ignored('not-a-vip');
  if (slot.mode === 'probe') {
    // RFC 5227 2.1.1: another host probing for the address we are probing for is a conflict too.
    if (isArpProbe(p)) return conflict(slot, 'arp', p.senderMAC);
    return ignored('probing', slot.key);
  }
  const asker = isUnspecified(p.senderIP) ? undefined : { ip: p.senderIP, mac: p.senderMAC };
  if (slot.mode === 'watch') return { kind: 'ignored', reason: 'standby', vip: slot.key, slot, asker };
  return { kind: 'reply', vip: slot.key, protocol: 'arp', frame: arpReplyFrame(st.ifMac, p, slot.mac), slot, asker };
}

function respondNdp(payload: Uint8Array, ethSrc: Uint8Array, st: ResponderState): Outcome {
  const d = decodeNdp(payload);
  if (!d.ok) return d;
  const m = d.value;
  const slot = st.v6.get(m.target.value);
  if (m.type === 136) {
    if (!slot) return { kind: 'ignored', reason: 'ndp-advert', seen: { ip: m.target, mac: m.targetLLA ?? ethSrc } };
    const mac = m.targetLLA ?? ethSrc;
    if (slot.mode !== 'watch' && !macEquals(mac, slot.mac) && !macEquals(mac, st.ifMac)) return conflict(slot, 'ndp', mac);
    if (slot.mode === 'watch' && !macEquals(mac, st.ifMac)) return { kind: 'ignored', reason: 'ndp-advert', vip: slot.key, announced: { vip: slot.key, mac: formatMAC(mac) } };
    return ignored('ndp-advert', slot.key);
  }
  if (!slot) return ignored('not-a-vip');
  const dad = isUnspecified(m.src);
  if (m.dst.value !== m.target.value && m.dst.value !== solicitedNodeAddress(m.target).value) {
    return ignored('ndp-wrong-destination', slot.key);
  }
  if (slot.mode === 'probe') {
    // RFC 4862 5.4.3: a DAD solicitation for the address we are testing means someone else wants it.
    if (dad) return conflict(slot, 'ndp', m.sourceLLA ?? ethSrc);
    return ignored('probing', slot.key);
  }
  const asker = dad ? undefined : { ip: m.src, mac: m.sourceLLA ?? ethSrc };
  if (slot.mode === 'watch') return { kind: 'ignored', reason: 'standby', vip: slot.key, slot, asker };
  // The VIP itself is the source, as the kernel does for its own addresses: tools such as ndisc6 drop an
  // answer to a global target that comes from a link-local source (scope id mismatch).
  return { kind: 'reply', vip: slot.key, protocol: 'ndp', frame: naReplyFrame(st.ifMac, m, ethSrc, slot.mac, m.target), slot, asker };
}

function conflict(slot: VipSlot, protocol: 'arp' | 'ndp', mac: Uint8Array): Outcome {
  return { kind: 'conflict', vip: slot.key, protocol, mac: formatMAC(mac), phase: slot.mode === 'probe' ? 'probe' : 'active' };
}

/** Builds the lookup maps of a responder state from VIP slots. */
export function slotMaps(slots: Iterable<VipSlot>): { v4: Map<bigint, VipSlot>; v6: Map<bigint, VipSlot> } {
  const v4 = new Map<bigint, VipSlot>();
  const v6 = new Map<bigint, VipSlot>();
  for (const slot of slots) (slot.ip.family === 4 ? v4 : v6).set(slot.ip.value, slot);
  return { v4, v6 };
}
