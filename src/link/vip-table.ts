/**
 * The table of VIPs one link answers, kept on both sides of the worker boundary and sent as changes.
 *
 * The main thread describes every link in full on each change (`Announcer.push`); sending that whole table
 * on every change costs a structured clone of every entry and, in the worker, a parse of every address and
 * MAC again: with 100,000 addresses each new Service cost ~100,000 objects on both heaps and the worker fell
 * behind. {@link diffTable} turns the full description into the entries that changed; {@link encodeTable}
 * packs them into bytes (one buffer, moved to the worker, not cloned object by object); {@link VipTable}
 * applies them in the worker to typed-array maps ({@link AddressMap}), so the worker's engine heap holds no
 * object per address: a slot object is made only for an address a request asks about.
 */
import { type IP, type IPFamily, formatIP, ipFromBytes, parseIP, solicitedNodeAddress, writeIP } from '../net/ip.ts';
import { type MAC, formatMAC, ipv6MulticastMAC, parseMAC } from '../net/mac.ts';
import type { SlotLookup, VipSlot } from '../announce/responder.ts';
import type { LinkVip } from './protocol.ts';
import { AddressMap } from './address-map.ts';

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

/**
 * `mac mode` of an entry, one string per distinct pair per call: the table as sent holds one per address,
 * and a string made per entry was 10,000 of them at 10,000 addresses (with a handful of distinct values).
 */
function entries(): (v: LinkVip) => string {
  const made = new Map<string, Partial<Record<LinkVip['mode'], string>>>();
  return (v) => {
    let modes = made.get(v.mac);
    if (!modes) made.set(v.mac, (modes = {}));
    return (modes[v.mode] ??= `${v.mac} ${v.mode}`);
  };
}

/**
 * The update that brings a worker holding `sent` to `vips`, and what it holds then (`sent` itself, changed in
 * place): the whole table when there is no `sent` yet or when the changes outnumber the table's entries
 * (a table replaced by another), else only what changed; no update when nothing did.
 */
export function diffTable(sent: SentTable | undefined, vips: LinkVip[]): { update?: TableUpdate; sent: SentTable } {
  const entryOf = entries();
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

/** Before an update: the slots it replaced, the table's current slot for everything else. */
export interface Previous {
  v4: SlotLookup;
  v6: SlotLookup;
}

/**
 * A table update as bytes, for the worker. `whole`: the entries replace the table. `macs`: the MACs the
 * entries name, by index. `bytes`: entries of 4 header bytes — family (4 or 6, +0x80 for a removal), mode
 * (0 answer, 1 probe, 2 watch), MAC index (uint16, little-endian) — then the address (4 or 16 bytes).
 */
export interface EncodedTable {
  whole: boolean;
  macs: string[];
  bytes: Uint8Array;
}

const MODES = ['answer', 'probe', 'watch'] as const;
const MODE_CODE: Record<VipSlot['mode'], number> = { answer: 0, probe: 1, watch: 2 };
const DROP = 0x80;
/** At most this many distinct MACs in one update: the index is 16 bits. */
const MAX_MACS = 0xffff;

/** Packs a {@link TableUpdate}; an address that does not parse is left out (as the table would leave it out). */
export function encodeTable(update: TableUpdate): EncodedTable {
  const whole = update.vips !== undefined;
  const set = update.vips ?? update.set ?? [];
  const drop = whole ? [] : update.drop ?? [];
  const macs: string[] = [];
  const macIndex = new Map<string, number>();
  const out = new Uint8Array(set.length * 20 + drop.length * 20);
  let n = 0;
  const put = (ip: IP, head: number, mode: number, mac: number) => {
    out[n] = head;
    out[n + 1] = mode;
    out[n + 2] = mac & 0xff;
    out[n + 3] = mac >> 8;
    writeIP(out, n + 4, ip);
    n += ip.family === 4 ? 8 : 20;
  };
  for (const text of drop) {
    const ip = parseIP(text);
    if (ip) put(ip, ip.family | DROP, 0, 0);
  }
  for (const v of set) {
    const ip = parseIP(v.ip);
    if (!ip) continue;
    let m = macIndex.get(v.mac);
    if (m === undefined) {
      if (macs.length >= MAX_MACS) throw new RangeError(`encodeTable: more than ${MAX_MACS} distinct MACs`);
      macIndex.set(v.mac, (m = macs.length));
      macs.push(v.mac);
    }
    put(ip, ip.family, MODE_CODE[v.mode], m);
  }
  return { whole, macs, bytes: out.slice(0, n) };
}

/** One family's slots, answering the responder's lookups from an {@link AddressMap}. */
class FamilySlots implements SlotLookup {
  readonly map: AddressMap;
  /** Slot objects made for addresses asked about, so a host asking again costs no allocation. */
  private readonly made = new Map<bigint, VipSlot>();

  constructor(readonly family: IPFamily, private readonly macs: readonly MAC[]) {
    this.map = new AddressMap(family);
  }

  get size(): number {
    return this.map.size;
  }

  has(value: bigint): boolean {
    return this.map.has(value);
  }

  get(value: bigint): VipSlot | undefined {
    const made = this.made.get(value);
    if (made) return made;
    const packed = this.map.get(value);
    if (packed === undefined) return undefined;
    // Bounded: a scan of every address must not rebuild the per-address objects this table exists to avoid.
    if (this.made.size >= SLOT_CACHE) this.made.clear();
    const slot = this.slotOf(value, packed);
    this.made.set(value, slot);
    return slot;
  }

  /** Every slot (made for the call, not kept): for tests and diagnostics. */
  *values(): IterableIterator<VipSlot> {
    for (const [value, packed] of this.map.entries()) yield this.slotOf(value, packed);
  }

  /** The packed entry of an address (MAC index and mode), without making a slot. */
  packed(value: bigint): number | undefined {
    return this.map.get(value);
  }

  set(value: bigint, mac: number, mode: number): void {
    this.made.delete(value);
    this.map.set(value, (mac << 2) | mode);
  }

  delete(value: bigint): boolean {
    this.made.delete(value);
    return this.map.delete(value);
  }

  /** A slot object for an entry (not cached). */
  slotOf(value: bigint, packed: number): VipSlot {
    const ip: IP = { family: this.family, value };
    return { key: formatIP(ip), ip, mac: this.macs[packed >>> 2]!, mode: MODES[packed & 3]! };
  }
}

/** Slot objects kept per family for addresses asked about (a flood for every address clears and refills). */
const SLOT_CACHE = 4096;

/** The worker's side: one link's slots by address, with the IPv6 solicited-node groups they need. */
export class VipTable {
  /** By address value, per family: what the responder looks up for each request. */
  v4: FamilySlots;
  v6: FamilySlots;
  /** Parsed MACs by index (a few distinct: ours and the nodes'); replaced with the table when it grew large. */
  private macs: MAC[] = [];
  private readonly macIndex = new Map<string, number>();
  /** Low 24 bits of an IPv6 VIP (its solicited-node group) -> how many of the table's VIPs need that group. */
  private readonly groupCounts = new Map<number, number>();

  constructor() {
    this.v4 = new FamilySlots(4, this.macs);
    this.v6 = new FamilySlots(6, this.macs);
  }

  /** The multicast groups the table's addresses need joined (solicited-node groups of IPv6 VIPs), as MAC text. */
  *groups(): IterableIterator<string> {
    for (const low of this.groupCounts.keys()) yield formatMAC(ipv6MulticastMAC(solicitedNodeAddress({ family: 6, value: BigInt(low) })));
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
  apply(update: EncodedTable): Previous {
    if (update.whole && this.macs.length > 4096) {
      // A new list, not a cleared one: the slots replaced below keep reading theirs (`before`).
      this.macs = [];
      this.macIndex.clear();
    }
    const local = update.macs.map((text) => this.macOf(text));
    const { bytes } = update;
    if (update.whole) {
      const before = { v4: this.v4, v6: this.v6 };
      this.v4 = new FamilySlots(4, this.macs);
      this.v6 = new FamilySlots(6, this.macs);
      this.groupCounts.clear();
      walk(bytes, (ip, drop, mode, mac) => {
        if (!drop) this.put(ip, local[mac], mode);
      });
      return before;
    }
    // What the changed addresses held, packed: a slot is made only for one the caller asks about.
    const old4 = new Map<bigint, number | undefined>();
    const old6 = new Map<bigint, number | undefined>();
    walk(bytes, (ip, drop, mode, mac) => {
      const [cur, old] = ip.family === 4 ? [this.v4, old4] : [this.v6, old6];
      if (!old.has(ip.value)) old.set(ip.value, cur.packed(ip.value));
      if (drop) this.remove(ip);
      else this.put(ip, local[mac], mode);
    });
    // A patch changes the maps in place (only a whole table replaces them, and the MAC list only grows
    // meanwhile): the overlay reads them live.
    const overlay = (cur: FamilySlots, old: Map<bigint, number | undefined>): SlotLookup => ({
      get: (value) => {
        if (!old.has(value)) return cur.get(value);
        const was = old.get(value);
        return was === undefined ? undefined : cur.slotOf(value, was);
      },
      has: (value) => (old.has(value) ? old.get(value) !== undefined : cur.has(value)),
    });
    return { v4: overlay(this.v4, old4), v6: overlay(this.v6, old6) };
  }

  /** The index of a MAC (text) in the table's list; undefined when it does not parse. */
  private macOf(text: string): number | undefined {
    let i = this.macIndex.get(text);
    if (i === undefined) {
      const mac = parseMAC(text);
      if (!mac) return undefined;
      this.macIndex.set(text, (i = this.macs.length));
      this.macs.push(mac);
    }
    return i;
  }

  /** Sets an address; a MAC that did not parse removes it instead (as a whole table build leaves it out). */
  private put(ip: IP, mac: number | undefined, mode: number): void {
    if (mac === undefined || mode > 2) {
      this.remove(ip);
      return;
    }
    const slots = ip.family === 4 ? this.v4 : this.v6;
    const had = slots.has(ip.value);
    slots.set(ip.value, mac, mode);
    if (ip.family === 6 && !had) {
      const g = groupOf(ip);
      this.groupCounts.set(g, (this.groupCounts.get(g) ?? 0) + 1);
    }
  }

  private remove(ip: IP): void {
    const slots = ip.family === 4 ? this.v4 : this.v6;
    if (!slots.delete(ip.value) || ip.family !== 6) return;
    const g = groupOf(ip);
    const n = (this.groupCounts.get(g) ?? 1) - 1;
    if (n <= 0) this.groupCounts.delete(g);
    else this.groupCounts.set(g, n);
  }
}

/** Calls `fn` for each entry of encoded bytes; stops at a truncated or unknown entry. */
function walk(bytes: Uint8Array, fn: (ip: IP, drop: boolean, mode: number, mac: number) => void): void {
  for (let n = 0; n + 4 <= bytes.length;) {
    const family = bytes[n]! & ~DROP;
    if (family !== 4 && family !== 6) return;
    const len = family === 4 ? 4 : 16;
    if (n + 4 + len > bytes.length) return;
    fn(ipFromBytes(bytes, n + 4, family), (bytes[n]! & DROP) !== 0, bytes[n + 1]!, bytes[n + 2]! | (bytes[n + 3]! << 8));
    n += 4 + len;
  }
}

/** An IPv6 address's solicited-node group, as the low 24 bits that name it (ff02::1:ffXX:XXXX, 33:33:ff:XX:XX:XX). */
function groupOf(ip: IP): number {
  return Number(ip.value & 0xff_ffffn);
}
