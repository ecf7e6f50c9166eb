/**
 * The table of VIPs one link answers, kept on both sides of the worker boundary and sent as changes.
 *
 * The main thread describes every link in full on each change (`Announcer.push`); sending that whole table
 * on every change costs a structured clone of every entry and, in the worker, a parse of every address and
 * MAC again: with 100,000 addresses each new Service cost ~100,000 objects on both heaps and the worker fell
 * behind. {@link diffTable} turns the full description into the entries that changed; {@link VipTable}
 * applies them in the worker in place, keeping one parsed MAC per distinct MAC (a few: ours and the nodes').
 */
import { type IP, parseIP, solicitedNodeAddress } from '../net/ip.ts';
import { type MAC, formatMAC, ipv6MulticastMAC, parseMAC } from '../net/mac.ts';
import type { VipSlot } from '../announce/responder.ts';
import type { LinkVip } from './protocol.ts';

/** What changed in one link's table since the last update, or the whole table. */
export interface TableUpdate {
  /** The whole table: replaces what the worker has. */
  vips?: LinkVip[];
  /** Entries added or changed (their MAC or mode). */
  set?: LinkVip[];
  /** Addresses (their text) no longer in the table. */
  drop?: string[];
}

/** The table as last sent: address text -> `mac mode`. */
export type SentTable = Map<string, string>;

const entryOf = (v: LinkVip) => `${v.mac} ${v.mode}`;

/**
 * The update that brings a worker holding `sent` to `vips`, and what it holds then (`sent` itself, changed in
 * place): the whole table when there is no `sent` yet or when the changes outnumber the table's entries
 * (a table replaced by another), else only what changed; no update when nothing did.
 */
export function diffTable(sent: SentTable | undefined, vips: LinkVip[]): { update?: TableUpdate; sent: SentTable } {
  if (sent === undefined) return { update: { vips }, sent: new Map(vips.map((v) => [v.ip, entryOf(v)])) };
  const set: LinkVip[] = [];
  const seen = new Set<string>();
  for (const v of vips) {
    seen.add(v.ip);
    const e = entryOf(v);
    if (sent.get(v.ip) !== e) {
      set.push(v);
      sent.set(v.ip, e);
    }
  }
  const drop: string[] = [];
  if (seen.size !== sent.size) {
    for (const ip of sent.keys()) {
      if (!seen.has(ip)) drop.push(ip);
    }
    for (const ip of drop) sent.delete(ip);
  }
  if (set.length === 0 && drop.length === 0) return { sent };
  // More changes than entries: the whole table is smaller, and the worker rebuilds instead of patching.
  if (set.length + drop.length > vips.length) return { update: { vips }, sent };
  return { update: { ...(set.length > 0 ? { set } : {}), ...(drop.length > 0 ? { drop } : {}) }, sent };
}

/** The previous slot of each address an update changed: what a host was told before it (see `Confirmer.changed`). */
export interface SlotLookup {
  get(value: bigint): VipSlot | undefined;
}

/** Before an update: the slots it replaced, the table's current slot for everything else. */
export interface Previous {
  v4: SlotLookup;
  v6: SlotLookup;
}

/** The worker's side: one link's slots by address, with the IPv6 solicited-node groups they need. */
export class VipTable {
  /** By address value, per family: what the responder looks up for each request. */
  v4 = new Map<bigint, VipSlot>();
  v6 = new Map<bigint, VipSlot>();
  /** Solicited-node multicast MAC (text) -> how many of the table's IPv6 addresses need it. */
  private readonly groupCounts = new Map<string, number>();
  /** One parsed MAC per distinct text, shared by every slot that answers with it. */
  private readonly macs = new Map<string, MAC>();

  /** The multicast groups the table's addresses need joined (solicited-node groups of IPv6 VIPs). */
  groups(): Iterable<string> {
    return this.groupCounts.keys();
  }

  /** How many distinct solicited-node groups the table's addresses need. */
  get groupCount(): number {
    return this.groupCounts.size;
  }

  /** How many addresses the table holds. */
  get size(): number {
    return this.v4.size + this.v6.size;
  }

  /** Applies an update; returns what the changed addresses were before it. */
  apply(update: TableUpdate): Previous {
    if (update.vips) {
      const before = { v4: this.v4, v6: this.v6 };
      this.v4 = new Map();
      this.v6 = new Map();
      this.groupCounts.clear();
      if (this.macs.size > 4096) this.macs.clear();
      for (const v of update.vips) this.put(v);
      return before;
    }
    const old4 = new Map<bigint, VipSlot | undefined>();
    const old6 = new Map<bigint, VipSlot | undefined>();
    const remember = (ip: IP) => {
      const [cur, old] = ip.family === 4 ? [this.v4, old4] : [this.v6, old6];
      if (!old.has(ip.value)) old.set(ip.value, cur.get(ip.value));
    };
    for (const text of update.drop ?? []) {
      const ip = parseIP(text);
      if (!ip) continue;
      remember(ip);
      this.remove(ip);
    }
    for (const v of update.set ?? []) {
      const ip = parseIP(v.ip);
      if (!ip) continue;
      remember(ip);
      this.put(v, ip);
    }
    // A patch changes the maps in place (only a whole table replaces them): the overlay reads them live.
    const overlay = (cur: Map<bigint, VipSlot>, old: Map<bigint, VipSlot | undefined>): SlotLookup => ({
      get: (value) => (old.has(value) ? old.get(value) : cur.get(value)),
    });
    return { v4: overlay(this.v4, old4), v6: overlay(this.v6, old6) };
  }

  private put(v: LinkVip, ip = parseIP(v.ip)): void {
    if (!ip) return;
    this.remove(ip);
    let mac = this.macs.get(v.mac);
    if (mac === undefined) {
      const parsed = parseMAC(v.mac);
      if (!parsed) return;
      this.macs.set(v.mac, (mac = parsed));
    }
    (ip.family === 4 ? this.v4 : this.v6).set(ip.value, { key: v.ip, ip, mac, mode: v.mode });
    if (ip.family === 6) {
      const g = groupOf(ip);
      this.groupCounts.set(g, (this.groupCounts.get(g) ?? 0) + 1);
    }
  }

  private remove(ip: IP): void {
    const map = ip.family === 4 ? this.v4 : this.v6;
    if (!map.delete(ip.value) || ip.family !== 6) return;
    const g = groupOf(ip);
    const n = (this.groupCounts.get(g) ?? 1) - 1;
    if (n <= 0) this.groupCounts.delete(g);
    else this.groupCounts.set(g, n);
  }
}

function groupOf(ip: IP): string {
  return formatMAC(ipv6MulticastMAC(solicitedNodeAddress(ip)));
}
