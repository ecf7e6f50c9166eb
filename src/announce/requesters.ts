/**
 * The hosts that asked for each VIP, so their neighbour entries can be confirmed.
 *
 * Why: in the gateway model an address maps to a node's MAC, so a client whose entry grew stale re-checks it
 * with a unicast ARP request / NS to that node, which neither answers (kube-proxy semantics) nor passes to
 * us. A flow that never confirms the entry itself (UDP: no TCP ACKs) then fails the entry after its unicast
 * probes and falls back to broadcast; if that happens while no replica leads (a leader handover takes up to
 * leaseDuration + retryPeriod) packets are dropped for seconds. A unicast ARP reply / solicited NA addressed
 * to the host makes the entry REACHABLE again (Linux `arp_process` / `ndisc_recv_na`), so the leader
 * sends one to every host that asked, every `announce.confirmInterval`: well inside the 15 s minimum
 * reachable time of Linux and Windows, entries never go stale while a replica leads, and survive a handover.
 *
 * A host is remembered from its requests, and kept while it shows it is alive: after {@link CHECK_AFTER_MS}
 * without a request (a confirmed host has no reason to ask again) it is asked for its own address in ARP
 * probe form (sender 0.0.0.0: its neighbour table is not touched) or by NS, and forgotten after
 * {@link FORGET_AFTER_MS} without a sign of life. Pure: the caller sends and passes the time.
 */
import type { IP } from '../net/ip.ts';
import { type MAC, copyMAC, macEquals } from '../net/mac.ts';

/** A host that asked for one or more VIPs. */
export interface Requester {
  readonly ip: IP;
  mac: MAC;
  /** Last request from it, or last answer to a liveness check. */
  lastSeen: number;
  /** Last liveness check sent to it. */
  lastCheck: number;
  /** Values of the VIPs it asked for (same family as `ip`). */
  readonly vips: Set<bigint>;
}

/** A host silent this long (ms) is asked whether it is still there, at most once per confirm round. */
export const CHECK_AFTER_MS = 60_000;
/** A host silent this long (ms) is forgotten: about 20 checks went unanswered. */
export const FORGET_AFTER_MS = 180_000;
/** Hosts remembered per interface; requests from more are not remembered (a flood of forged senders). */
export const MAX_REQUESTERS = 4096;

/** The requesters seen on one interface. */
export class Requesters {
  private readonly v4 = new Map<bigint, Requester>();
  private readonly v6 = new Map<bigint, Requester>();
  /** Requests not remembered because the table was full. */
  refused = 0;
  /** Bumped whenever a host or a host's VIP is added or forgotten, or a MAC changes: time to share again. */
  version = 0;

  constructor(private readonly max = MAX_REQUESTERS) {}

  /** Records that `host` at `mac` asked for `vip`. `mac` may be a view into a receive buffer: it is copied when kept. */
  asked(vip: IP, host: IP, mac: Uint8Array, now: number): void {
    const table = host.family === 4 ? this.v4 : this.v6;
    let r = table.get(host.value);
    if (!r) {
      if (this.size >= this.max) {
        this.refused++;
        return;
      }
      r = { ip: host, mac: copyMAC(mac), lastSeen: now, lastCheck: 0, vips: new Set() };
      table.set(host.value, r);
      this.version++;
    } else if (!macEquals(r.mac, mac)) {
      r.mac = copyMAC(mac);
      this.version++;
    }
    r.lastSeen = now;
    if (!r.vips.has(vip.value)) {
      r.vips.add(vip.value);
      this.version++;
    }
  }

  /** Records a sign of life (an answer to a liveness check). Unknown hosts are ignored. */
  alive(host: IP, mac: Uint8Array, now: number): void {
    const r = (host.family === 4 ? this.v4 : this.v6).get(host.value);
    if (!r) return;
    if (!macEquals(r.mac, mac)) r.mac = copyMAC(mac);
    r.lastSeen = now;
  }

  /**
   * One confirm round: forgets hosts silent for {@link FORGET_AFTER_MS}, returns the rest to confirm and,
   * among them, those to check for life (silent for {@link CHECK_AFTER_MS}; their check time is set).
   */
  round(now: number): { confirm: Requester[]; check: Requester[] } {
    const confirm: Requester[] = [];
    const check: Requester[] = [];
    for (const table of [this.v4, this.v6]) {
      for (const [k, r] of table) {
        const silent = now - r.lastSeen;
        if (silent >= FORGET_AFTER_MS) {
          table.delete(k);
          this.version++;
          continue;
        }
        confirm.push(r);
        if (silent >= CHECK_AFTER_MS) {
          r.lastCheck = now;
          check.push(r);
        }
      }
    }
    return { confirm, check };
  }

  /** The hosts that asked for `vip` (to confirm at once when its MAC changes or this replica takes over). */
  askersOf(vip: IP): Requester[] {
    const out: Requester[] = [];
    for (const r of (vip.family === 4 ? this.v4 : this.v6).values()) if (r.vips.has(vip.value)) out.push(r);
    return out;
  }

  /** Hosts remembered. */
  get size(): number {
    return this.v4.size + this.v6.size;
  }

  /** Every host, for the API. */
  list(): Requester[] {
    return [...this.v4.values(), ...this.v6.values()];
  }
}

/** A requester as the leader shares it with standbys (text forms). */
export interface SharedRequester {
  ip: string;
  mac: string;
  vips: string[];
}

/** At most this many hosts, and host-VIP pairs, are shared: the Lease is rewritten every retry period. */
export const MAX_SHARED_HOSTS = 256;
export const MAX_SHARED_PAIRS = 4096;

/**
 * The text the leader puts on its Lease so a standby can confirm the same hosts when it takes over: without
 * it, a replica started after a host last asked would not know the host, and the host's entry would age into
 * PROBE under the new leader. The most recently seen hosts first, within {@link MAX_SHARED_HOSTS} and
 * {@link MAX_SHARED_PAIRS}.
 */
export function encodeShared(hosts: (SharedRequester & { lastSeen: number })[]): string {
  const out: [string, string, string[]][] = [];
  let pairs = 0;
  for (const h of [...hosts].sort((a, b) => b.lastSeen - a.lastSeen)) {
    if (out.length >= MAX_SHARED_HOSTS || pairs >= MAX_SHARED_PAIRS) break;
    const vips = h.vips.slice(0, MAX_SHARED_PAIRS - pairs);
    pairs += vips.length;
    out.push([h.ip, h.mac, vips]);
  }
  return JSON.stringify({ requesters: out });
}

/** Reads what {@link encodeShared} wrote; anything malformed (an edited annotation) is skipped, never thrown. */
export function decodeShared(text: string): SharedRequester[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return [];
  }
  const list = (data as { requesters?: unknown })?.requesters;
  if (!Array.isArray(list)) return [];
  const out: SharedRequester[] = [];
  for (const item of list.slice(0, MAX_SHARED_HOSTS)) {
    if (!Array.isArray(item) || typeof item[0] !== 'string' || typeof item[1] !== 'string' || !Array.isArray(item[2])) continue;
    out.push({ ip: item[0], mac: item[1], vips: item[2].filter((v: unknown): v is string => typeof v === 'string').slice(0, MAX_SHARED_PAIRS) });
  }
  return out;
}
