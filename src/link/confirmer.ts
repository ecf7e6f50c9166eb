/**
 * The receive worker's neighbour confirmations (see `announce/requesters.ts` for why): remembers who asks
 * on each link, confirms them every interval and whenever the MAC behind a VIP changes, checks on silent
 * hosts, and trades the tables with the leader's Lease (through the main thread). Owns no socket: frames go
 * out through the `send` it is given, so it runs in the worker beside the responder.
 */
import { type IP, formatIP, parseIP } from '../net/ip.ts';
import { type MAC, formatMAC, macEquals, parseMAC } from '../net/mac.ts';
import type { Previous } from './vip-table.ts';
import { arpConfirmFrame } from '../wire/arp.ts';
import { naConfirmFrame } from '../wire/ndp.ts';
import { presenceProbeFrame } from '../announce/probe.ts';
import type { Asker, ResponderState, VipSlot } from '../announce/responder.ts';
import { type Requester, Requesters, type SharedRequester } from '../announce/requesters.ts';

/** What the confirmer needs of one link. */
export interface ConfirmLink {
  readonly name: string;
  /** What the link answers now; absent while its MAC is unknown. */
  readonly state?: ResponderState;
  /** Our IPv6 link-local source, for liveness checks of IPv6 hosts. */
  readonly src6?: IP;
  /** Whether frames can be sent (the socket is open). */
  readonly open: boolean;
  readonly requesters: Requesters;
}

/** How the confirmer reaches the wire and the counters. */
export interface ConfirmIO {
  /** Sends a frame out of `link`; false when it could not. */
  send(link: ConfirmLink, frame: Uint8Array): boolean;
  confirmed(vip: string): void;
  checked(link: string): void;
  refused(link: string): void;
  /** Every remembered host, when the tables changed. */
  share(hosts: (SharedRequester & { lastSeen: number })[]): void;
}

/** The tables are shared at most this often (ms): the leader writes them with its next Lease renewal anyway. */
const SHARE_EVERY_MS = 1000;

/** Confirmations across every link of the worker. */
export class Confirmer {
  /** Interval between confirm rounds (ms); 0: off, nothing is remembered or sent. */
  private intervalMs = 0;
  private next = 0;
  /** Shared hosts whose VIPs no link had yet (still starting): tried again with every change of links. */
  private pending: SharedRequester[] = [];
  private sharedVersion = 0;
  private lastShare = 0;

  constructor(private readonly io: ConfirmIO) {}

  /** Sets the interval (config `announce.confirmInterval`); the first round is one interval away. */
  setInterval(ms: number, now: number): void {
    if (ms === this.intervalMs) return;
    this.intervalMs = ms;
    this.next = now + ms;
  }

  /** Records the host that asked for `slot` (answered or watched). */
  asked(link: ConfirmLink, slot: VipSlot, asker: Asker | undefined, now: number): void {
    if (!asker || this.intervalMs === 0) return;
    const before = link.requesters.refused;
    link.requesters.asked(slot.ip, asker.ip, asker.mac, now);
    if (link.requesters.refused !== before) this.io.refused(link.name);
  }

  /**
   * Confirms at once, to the hosts that asked, every VIP `link` now answers with a MAC they may not have:
   * newly answered (this replica took over from a standby's watch) or answered with another MAC (the node
   * behind it changed). The gratuitous burst reaches everyone but only makes entries STALE.
   */
  changed(link: ConfirmLink, prev: (Previous & { ifMac: MAC }) | undefined): void {
    const st = link.state;
    if (this.intervalMs === 0 || !st || !link.open || link.requesters.size === 0) return;
    const ifChanged = !prev || !macEquals(prev.ifMac, st.ifMac);
    for (const r of link.requesters.list()) {
      const slots = r.ip.family === 4 ? st.v4 : st.v6;
      const old = r.ip.family === 4 ? prev?.v4 : prev?.v6;
      for (const v of r.vips) {
        const slot = slots.get(v);
        if (slot?.mode !== 'answer') continue;
        const before = old?.get(v);
        if (ifChanged || before?.mode !== 'answer' || !macEquals(before.mac, slot.mac)) this.confirm(link, st, slot, r);
      }
    }
  }

  /** Adopts again the shared hosts whose VIPs were missing (call when the links changed). */
  retry(links: Iterable<ConfirmLink>, now: number): void {
    if (this.pending.length > 0) this.adopt(links, this.pending, now);
  }

  /** Runs a confirm round when one is due; returns ms until the next (Infinity when off). */
  tick(links: Iterable<ConfirmLink>, now: number): number {
    if (this.intervalMs === 0) return Infinity;
    if (now >= this.next) {
      this.next = now + this.intervalMs;
      for (const link of links) this.round(link, now);
    }
    return Math.max(0, this.next - now);
  }

  /** Hands the tables to `io.share` when they changed, at most once a second. */
  share(links: Iterable<ConfirmLink>, now: number): void {
    if (this.intervalMs === 0 || now - this.lastShare < SHARE_EVERY_MS) return;
    const all = [...links];
    const version = all.reduce((sum, l) => sum + l.requesters.version, 0);
    if (version === this.sharedVersion) return;
    this.sharedVersion = version;
    this.lastShare = now;
    const hosts: (SharedRequester & { lastSeen: number })[] = [];
    for (const link of all) {
      for (const r of link.requesters.list()) {
        const family = r.ip.family;
        hosts.push({ ip: formatIP(r.ip), mac: formatMAC(r.mac), lastSeen: r.lastSeen, vips: [...r.vips].map((value) => formatIP({ family, value })) });
      }
    }
    this.io.share(hosts);
  }

  /** Takes the hosts another replica confirms, on the link that serves (or watches) each VIP. */
  adopt(links: Iterable<ConfirmLink>, hosts: SharedRequester[], now: number): void {
    const all = [...links];
    // Until confirmations are configured (the first links message), everything waits.
    if (this.intervalMs === 0) {
      this.pending = hosts;
      return;
    }
    const missing: SharedRequester[] = [];
    for (const h of hosts) {
      const ip = parseIP(h.ip);
      const mac = parseMAC(h.mac);
      if (!ip || !mac) continue;
      const left: string[] = [];
      for (const text of h.vips) {
        const vip = parseIP(text);
        if (!vip || vip.family !== ip.family) continue;
        const link = all.find((l) => (vip.family === 4 ? l.state?.v4 : l.state?.v6)?.has(vip.value));
        if (link) link.requesters.asked(vip, ip, mac, now);
        else left.push(text);
      }
      if (left.length > 0) missing.push({ ip: h.ip, mac: h.mac, vips: left });
    }
    this.pending = missing;
  }

  private round(link: ConfirmLink, now: number): void {
    const st = link.state;
    if (!st || !link.open) return;
    const { confirm: hosts, check } = link.requesters.round(now);
    for (const r of hosts) {
      const slots = r.ip.family === 4 ? st.v4 : st.v6;
      for (const v of r.vips) {
        const slot = slots.get(v);
        if (!slot) r.vips.delete(v); // the VIP is gone from this link
        else if (slot.mode === 'answer') this.confirm(link, st, slot, r);
      }
    }
    for (const r of check) {
      const frame = presenceProbeFrame(st.ifMac, r.ip, link.src6, r.mac);
      if (frame && this.io.send(link, frame)) this.io.checked(link.name);
    }
  }

  /** Sends `r` a unicast reply for `slot`: its neighbour entry for the VIP becomes REACHABLE. */
  private confirm(link: ConfirmLink, st: ResponderState, slot: VipSlot, r: Requester): void {
    const frame = slot.ip.family === 4
      ? arpConfirmFrame(st.ifMac, slot.mac, slot.ip, r.mac, r.ip)
      : naConfirmFrame(st.ifMac, slot.mac, slot.ip, r.mac, r.ip);
    if (this.io.send(link, frame)) this.io.confirmed(slot.key);
  }
}
