/**
 * Address allocation for LoadBalancer Services: one pure function from a snapshot (pools, namespaces,
 * Services) to an address list or a reason per Service. No I/O, no clock, no randomness: the same input
 * gives the same output, whatever order the input lists are in, so a restarted or newly elected l2lb
 * recomputes exactly what its predecessor wrote.
 *
 * Order of work, so a Service that has an address never loses it to a newer one:
 * 1. every Service's current addresses that are still valid (oldest Service first); and, kept with a
 *    `kept` note, an address whose pool was deleted, disabled, edited or bound elsewhere since: the
 *    address stays with its Service (and goes to nobody else) until the Service moves or goes;
 * 2. requested addresses (`eip.openelb.kubesphere.io/v1alpha1`, else `spec.loadBalancerIP`), oldest first;
 *    a request that cannot be met leaves the Service on the address it has, with a `kept` note saying why;
 * 3. dynamic allocation, oldest first: the pool named by `eip.openelb.kubesphere.io/v1alpha2`, else the
 *    pools bound to the namespace by priority (lower first, as OpenELB), then the default pool, falling
 *    through to the next pool when one is full. Pools that are neither bound nor default are only used
 *    when a Service names them or asks for one of their addresses (as in OpenELB). A named pool that
 *    cannot give an address likewise leaves the Service on the one it has.
 *
 * So an address is taken away only by a deliberate change of the Service itself (another address or pool
 * that can be had, another family, not a LoadBalancer of ours any more, deleted), never by a typo in a
 * request or a pool that went away.
 *
 * A Service that ends up failing gives back what it held during the pass (a RequireDualStack Service
 * whose second family failed, or one whose explicit request failed); the pass is then run again without
 * it, so the addresses it gave back are available to everyone. One that failed only for want of room that
 * others have since given back is let in again (once), so the answer is a fixed point: feeding the result
 * back in as `current` gives the same result.
 */
import { type IP, type IPFamily, formatIP, ipEquals, parseIP } from '../net/ip.ts';
import { addressProblem, describeAddressProblem } from '../net/announceable.ts';
import { FreeCursor } from './cursor.ts';
import { ageRank, compareRanked, compareText, familyName } from './order.ts';
import { type Pool, availableTo, boundTo, comparePriority, poolFor, poolHolds, poolRefusal } from './pool.ts';
import { type Sharer, shareConflict } from './sharing.ts';

export { poolUsage, type PoolUsage } from './usage.ts';

/** One port of a Service; two Services sharing an address must not both use the same port and protocol. */
export interface ServicePort {
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** What the allocator needs to know about one of our LoadBalancer Services. */
export interface ServiceClaim {
  /** "namespace/name" */
  key: string;
  namespace: string;
  /** creationTimestamp: older Services are served first. */
  createdAt: string;
  /** From spec.ipFamilies; empty means [4]. The first is the primary family. */
  families: readonly IPFamily[];
  /**
   * SingleStack: one address, of the primary family. PreferDualStack / RequireDualStack: one address per
   * family in `families` (Prefer: best effort, Require: all or nothing).
   */
  familyPolicy: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
  /** status.loadBalancer.ingress IPs; each is kept while still valid. */
  current: string[];
  /**
   * The pool its current addresses came from (the label l2lb writes, `eip.openelb.kubesphere.io/v1alpha2`):
   * an address in no pool now is still kept when the Service carries this, because its pool went away.
   */
  currentPool?: string;
  /** Annotation eip.openelb.kubesphere.io/v1alpha1 (comma-separated allowed), else spec.loadBalancerIP. */
  requested: readonly string[];
  /** Annotation eip.openelb.kubesphere.io/v1alpha2: a pool name (a comma-separated list is accepted, e.g. one per family). */
  pool?: string;
  /** Annotation l2lb.io/allow-shared-ip. */
  sharingKey?: string;
  ports: ServicePort[];
}

/** A namespace and its labels (for `namespaceSelector`). */
export interface Namespace {
  name: string;
  labels: Record<string, string>;
}

/** One address given to a Service, with the pool it came from. */
export interface Assignment {
  ip: string;
  pool: string;
}

/**
 * The outcome for one Service. `partial` is set when a PreferDualStack Service got fewer families than it
 * asked for, and says why. `reason` says what to change; it is meant for an Event as it is.
 */
export type AllocationResult =
  | { ok: true; addresses: Assignment[]; partial?: string; kept?: string }
  | { ok: false; reason: string };

/** One family of one Service during a pass. */
interface Slot {
  readonly family: IPFamily;
  readonly requested: IP | undefined;
  ip?: IP;
  /** Undefined for an address kept from a pool that no longer exists. */
  pool?: Pool;
  failure?: string;
  /** The failure is about something the user asked for explicitly: it fails even a PreferDualStack Service. */
  explicit?: boolean;
  /** The address the Service has, kept although its pool or its request say otherwise: why. */
  kept?: string;
  /**
   * The current address is held while the Service asks for another address (`requested`) or another pool
   * (`pool`): it is given up only once that can be had (phases 2 and 2b), so nobody takes it meanwhile.
   */
  provisional?: 'requested' | 'pool';
  /** Given up its address for a named pool that has room: served first in phase 3. */
  mover?: boolean;
}

/** A claim prepared once per call. */
interface Work extends Sharer {
  readonly claim: ServiceClaim;
  readonly labels: Record<string, string>;
  readonly current: IP[];
  readonly poolNames: readonly string[] | undefined;
  /** The families it wants, primary first, with the address requested for each. */
  readonly wanted: readonly { family: IPFamily; requested: IP | undefined }[];
  /** This pass's state per wanted family (fresh each pass). */
  slots: Slot[];
  /** A problem with the claim itself (bad requested address): it fails and holds nothing. */
  readonly error: string | undefined;
}

/** Allocation state of one pool during a pass. */
interface PoolState {
  /** Distinct addresses held. */
  count: number;
  /** Offsets (from pool.first) held before the cursor existed. */
  offsets: bigint[];
  cursor?: FreeCursor;
}

const NONE: readonly string[] = Object.freeze([]);

/** Splits comma-separated annotation values and trims them. */
function splitList(values: readonly string[]): readonly string[] {
  if (values.length === 0) return NONE;
  const out: string[] = [];
  for (const v of values) {
    for (const part of v.split(',')) {
      const t = part.trim();
      if (t !== '') out.push(t);
    }
  }
  return out;
}

/** What nearly every Service wants, one family and no address named: shared, not made per Service per pass. */
const ONLY: Record<IPFamily, Work['wanted']> = {
  4: Object.freeze([Object.freeze({ family: 4, requested: undefined })]),
  6: Object.freeze([Object.freeze({ family: 6, requested: undefined })]),
};

/** Whether `ip` is among `ips` (a loop: a closure per call was garbage per Service per pass). */
function hasIP(ips: readonly IP[], ip: IP): boolean {
  for (const x of ips) if (ipEquals(x, ip)) return true;
  return false;
}

/** One family, as a claim's `families`: shared by every single-stack claim (claims are rebuilt every pass). */
export const SINGLE_FAMILY: Readonly<Record<IPFamily, readonly IPFamily[]>> = { 4: Object.freeze([4]), 6: Object.freeze([6]) };

function wantedFamilies(claim: ServiceClaim): readonly IPFamily[] {
  const families = claim.families.length > 0 ? claim.families : SINGLE_FAMILY[4];
  if (claim.familyPolicy === 'SingleStack') return SINGLE_FAMILY[families[0]!];
  return [...new Set(families)];
}

function prepare(claim: ServiceClaim, labels: Record<string, string>): Work {
  const wanted = wantedFamilies(claim);
  let error: string | undefined;
  // Made only for a Service that asks for an address (few do): a Map per claim was ~10,000 per pass.
  let requested: Partial<Record<IPFamily, IP>> | undefined;
  for (const text of splitList(claim.requested)) {
    const ip = parseIP(text);
    if (!ip) {
      error ??= `${JSON.stringify(text)} is not an IP address`;
      continue;
    }
    const problem = addressProblem(ip);
    if (problem) {
      error ??= describeAddressProblem(ip, problem);
      continue;
    }
    if (!wanted.includes(ip.family)) {
      error ??= `${formatIP(ip)} is ${familyName(ip.family)} but the Service's ipFamilies are ${wanted.map(familyName).join(', ')}`;
      continue;
    }
    const earlier = requested?.[ip.family];
    if (earlier && !ipEquals(earlier, ip)) {
      error ??= `more than one ${familyName(ip.family)} address requested: ${formatIP(earlier)}, ${formatIP(ip)}`;
      continue;
    }
    (requested ??= {})[ip.family] = ip;
  }
  const current: IP[] = [];
  for (const text of claim.current) {
    const ip = parseIP(text.trim());
    if (ip && !hasIP(current, ip)) current.push(ip);
  }
  const names = claim.pool === undefined ? NONE : splitList([claim.pool]);
  return {
    key: claim.key,
    sharingKey: claim.sharingKey === '' ? undefined : claim.sharingKey,
    ports: claim.ports,
    claim,
    labels,
    current,
    poolNames: names.length > 0 ? names : undefined,
    wanted: requested === undefined && wanted.length === 1 ? ONLY[wanted[0]!] : wanted.map((family) => ({ family, requested: requested?.[family] })),
    slots: [],
    error,
  };
}

/** Why the pool cannot be used at all, or undefined. */
function unusable(pool: Pool): string | undefined {
  if (pool.usable) return undefined;
  return pool.problem === 'disabled' ? `pool ${pool.spec.name} is disabled` : `pool ${pool.spec.name} is not usable: ${pool.problem}`;
}

/** Everything one pass needs; a pass is cheap to redo. */
class Pass {
  /** Who holds each address, one map per family: keyed by the address's value, no key made per lookup. */
  private readonly holders: Record<IPFamily, Map<bigint, Work[]>> = { 4: new Map(), 6: new Map() };
  private readonly states = new Map<Pool, PoolState>();
  private readonly candidates = new Map<string, Pool[] | string>();
  /** Addresses promised to movers (phase 2b), by pool. */
  private readonly reserved = new Map<Pool, bigint>();
  /**
   * Services moving to a pool they named, across passes: their old address is given up from phase 1 on,
   * so a request for it made in the same pass sees it free (the result is a fixed point).
   */
  moving = new Set<Work>();
  /** Services whose move found no room after all: they keep their address from now on. */
  stuck = new Set<Work>();
  /** This pass changed who moves: the pass must be redone. */
  movesChanged = false;
  /** Probe mode: work out what a Service would get without taking anything (see allocate()). */
  probe = false;

  constructor(
    private readonly pools: Pool[],
    private readonly byName: Map<string, Pool>,
  ) {}

  private state(pool: Pool): PoolState {
    let s = this.states.get(pool);
    if (!s) {
      // Skipped addresses are taken before anyone asks: the cursor walks past them, they count as no use.
      s = { count: 0, offsets: pool.skipped.map((x) => x.ip.value - pool.first.value) };
      this.states.set(pool, s);
    }
    return s;
  }

  private hold(w: Work, slot: Slot, ip: IP, pool: Pool | undefined, viaCursor: boolean): void {
    slot.ip = ip;
    slot.pool = pool;
    if (this.probe) return;
    const holders = this.holders[ip.family];
    let list = holders.get(ip.value);
    if (!list) {
      list = [];
      holders.set(ip.value, list);
      // An address kept from a deleted pool counts against no pool.
      if (pool) {
        const s = this.state(pool);
        s.count++;
        // Addresses the cursor hands out are already behind it; the others go into the list it sorts; one
        // outside first..last (a pool shrunk under it) is no offset of the cursor's.
        if (!viaCursor && poolHolds(pool, ip)) s.offsets.push(ip.value - pool.first.value);
      }
    }
    list.push(w);
  }

  private conflict(w: Work, ip: IP): string | undefined {
    const list = this.holders[ip.family].get(ip.value);
    return list ? shareConflict(formatIP(ip), list, w) : undefined;
  }

  /**
   * Phase 1: keep a current address when it is still one the Service could be given now; else, when no
   * request of the Service's asks for something else, keep it anyway if its pool went away or changed
   * (see {@link orphanWhy}).
   */
  keepCurrent(w: Work): void {
    for (const slot of w.slots) {
      for (const ip of w.current) {
        if (ip.family !== slot.family) continue;
        if (this.conflict(w, ip) !== undefined) continue;
        const pool = poolFor(this.pools, ip);
        const valid = pool && pool.usable && poolHolds(pool, ip) && availableTo(pool.spec, w.claim.namespace, w.labels);
        const why = valid ? undefined : this.orphanWhy(w, ip, pool);
        if (!valid && why === undefined) continue;
        this.hold(w, slot, ip, pool, false);
        if (why !== undefined) slot.kept = why;
        // Asked for another address, or named other pools: held until that can be had (phases 2, 2b). A
        // requested address decides over the pool named; phase 2 checks it against that pool.
        const otherPool = w.poolNames !== undefined && !(pool && w.poolNames.includes(pool.spec.name));
        const otherAddress = slot.requested !== undefined && !ipEquals(slot.requested, ip);
        if (otherAddress && this.moving.has(w)) {
          // Moving to the address it asked for: its old one is free for everyone in this pass.
          this.release(w, slot);
        } else if (slot.requested && (otherAddress || otherPool)) slot.provisional = 'requested';
        else if (otherPool && this.moving.has(w)) {
          // Moving: its address is free for everyone in this pass; phase 2b finds it room in the new pool.
          this.release(w, slot);
          slot.mover = true;
        } else if (otherPool) slot.provisional = 'pool';
        break;
      }
    }
  }

  /** Gives up what a slot holds (phases 1 to 2b only: no pool has a cursor yet). */
  private release(w: Work, slot: Slot): void {
    const ip = slot.ip;
    if (!ip) return;
    const pool = slot.pool;
    slot.ip = undefined;
    slot.pool = undefined;
    slot.kept = undefined;
    slot.provisional = undefined;
    if (this.probe) return;
    const holders = this.holders[ip.family];
    const list = holders.get(ip.value);
    if (!list) return;
    const at = list.indexOf(w);
    if (at >= 0) list.splice(at, 1);
    if (list.length > 0) return;
    holders.delete(ip.value);
    if (!pool) return;
    const st = this.state(pool);
    if (st.cursor) throw new Error('allocate: an address released after its pool handed out addresses');
    st.count--;
    const off = st.offsets.indexOf(ip.value - pool.first.value);
    if (off >= 0) st.offsets.splice(off, 1);
  }

  /**
   * Why a current address that its pool no longer gives is still the Service's, or undefined when it is
   * not to be kept: it must be announceable, and in a pool (deleted pools: the pool its Service is
   * labelled with, and in none now).
   */
  private orphanWhy(w: Work, ip: IP, pool: Pool | undefined): string | undefined {
    const text = formatIP(ip);
    if (addressProblem(ip) !== undefined) return undefined;
    if (!pool) {
      const was = w.claim.currentPool;
      if (!was || this.byName.get(was)?.usable) return undefined;
      return `pool ${was} no longer exists: ${text} stays with this Service until it is deleted or asks for another address or pool`;
    }
    const name = pool.spec.name;
    const stays = `${text} stays with this Service, and no new address comes from the pool`;
    if (!pool.usable) return pool.problem === 'disabled' ? `pool ${name} is disabled: ${stays}` : `pool ${name} is not usable (${pool.problem}): ${stays}`;
    if (!poolHolds(pool, ip)) return `${poolRefusal(pool, ip) ?? `${text} is not an address of pool ${name}`} now: it stays with this Service`;
    if (!availableTo(pool.spec, w.claim.namespace, w.labels)) return `pool ${name} is not available to namespace ${w.claim.namespace} any more: ${text} stays with this Service`;
    return undefined;
  }

  /**
   * A Service whose request cannot be met (`reason`) keeps the addresses it has, kept or not by phase 1,
   * and takes nothing new.
   */
  keepOnly(w: Work, reason: string): void {
    for (const slot of w.slots) {
      if (slot.ip) continue;
      slot.failure = reason;
      this.keepInstead(w, slot);
    }
  }

  /**
   * Keeps the address a Service has when what it asked for instead (`failure`) cannot be had: the
   * request waits, the address stays. Only when nobody holds the address yet.
   */
  keepInstead(w: Work, slot: Slot): void {
    if (slot.ip || !slot.failure) return;
    for (const ip of w.current) {
      if (ip.family !== slot.family || this.conflict(w, ip) !== undefined || addressProblem(ip) !== undefined) continue;
      const pool = poolFor(this.pools, ip);
      if (!pool && !w.claim.currentPool) continue;
      this.hold(w, slot, ip, pool, false);
      slot.kept = `${slot.failure}: the Service keeps ${formatIP(ip)} until the request can be met`;
      slot.failure = undefined;
      return;
    }
  }

  /** Phase 2: the address the Service asked for, or why it cannot have it. */
  takeRequested(w: Work): void {
    for (const slot of w.slots) {
      if (!slot.requested || (slot.ip && slot.provisional !== 'requested')) continue;
      const ip = slot.requested;
      const reason = this.stuck.has(w) && slot.provisional === 'requested' ? 'an earlier attempt to move found the address taken' : this.checkRequested(w, ip);
      if (typeof reason === 'string') {
        if (slot.provisional === 'requested') {
          // The request waits; the address it has stays.
          slot.kept = `${reason}: the Service keeps ${formatIP(slot.ip!)} until the request can be met`;
          slot.provisional = undefined;
          continue;
        }
        if (this.moving.has(w)) {
          // It gave its address up for this one in an earlier pass, and cannot have it after all: the pass
          // is redone with it keeping what it had.
          this.moving.delete(w);
          this.stuck.add(w);
          this.movesChanged = true;
        }
        slot.failure = reason;
        slot.explicit = true;
        this.keepInstead(w, slot);
      } else {
        const moves = slot.provisional === 'requested' && !ipEquals(slot.ip!, ip);
        this.release(w, slot);
        this.hold(w, slot, ip, reason, false);
        if (moves) {
          // Redone with its old address free from phase 1 on: a request for it earlier in this phase saw it held.
          this.moving.add(w);
          this.movesChanged = true;
        }
      }
    }
  }

  private checkRequested(w: Work, ip: IP): string | Pool {
    const text = formatIP(ip);
    const pool = poolFor(this.pools, ip);
    if (!pool) return `${text} is in no pool`;
    const name = pool.spec.name;
    if (w.poolNames && !w.poolNames.includes(name)) return `${text} is not in pool ${w.poolNames.join(', ')}`;
    const bad = unusable(pool);
    if (bad) return bad;
    if (!availableTo(pool.spec, w.claim.namespace, w.labels)) return `pool ${name} is not available to namespace ${w.claim.namespace}`;
    const refused = poolRefusal(pool, ip);
    if (refused) return refused;
    return this.conflict(w, ip) ?? pool;
  }

  /**
   * Phase 2b, before any pool hands out addresses: a Service that names pools it cannot use (missing,
   * disabled, bound elsewhere, of the other family) keeps the address it has, now, while nobody can take it.
   */
  checkNamedPools(w: Work): void {
    for (const slot of w.slots) {
      if (slot.mover) {
        // Moving since an earlier pass: the room must still be there, else it stays where it was.
        const cands = this.candidatesFor(w, slot);
        const room = typeof cands === 'string' ? undefined : cands.find((p) => this.room(p) > 0n);
        if (room) this.reserved.set(room, (this.reserved.get(room) ?? 0n) + 1n);
        else {
          this.moving.delete(w);
          this.stuck.add(w);
          this.movesChanged = true;
        }
        continue;
      }
      if (slot.provisional !== 'pool') continue;
      slot.provisional = undefined;
      const cands = this.candidatesFor(w, slot);
      let why: string | undefined = typeof cands === 'string' ? cands : undefined;
      if (typeof cands !== 'string') {
        // Room now, after every Service kept what it has and the requests took theirs; a mover is served
        // before the new Services of phase 3, so the room counted here is still there. The pass is then
        // redone with the old address free from the start.
        const room = this.stuck.has(w) ? undefined : cands.find((p) => this.room(p) > 0n);
        if (room) {
          this.release(w, slot);
          this.reserved.set(room, (this.reserved.get(room) ?? 0n) + 1n);
          slot.mover = true;
          this.moving.add(w);
          this.movesChanged = true;
          continue;
        }
        why = cands.map((p) => `pool ${p.spec.name} has no free address`).join(', ');
      }
      slot.kept = `${why}: the Service keeps ${formatIP(slot.ip!)} until the request can be met`;
    }
  }

  /** Addresses of `pool` neither held nor promised to a mover. */
  private room(pool: Pool): bigint {
    return pool.size - BigInt(this.state(pool).count) - (this.reserved.get(pool) ?? 0n);
  }

  /** Phase 3: a free address from the first candidate pool that has one. */
  allocate(w: Work): void {
    for (const slot of w.slots) {
      if (slot.ip || slot.failure) continue;
      const cands = this.candidatesFor(w, slot);
      if (typeof cands === 'string') {
        slot.failure = cands;
        this.keepInstead(w, slot);
        continue;
      }
      const full: string[] = [];
      for (const pool of cands) {
        const s = this.state(pool);
        s.cursor ??= new FreeCursor(pool.last.value - pool.first.value + 1n, s.offsets);
        const offset = this.probe ? s.cursor.peek() : s.cursor.next();
        if (offset !== undefined) {
          this.hold(w, slot, { family: pool.family, value: pool.first.value + offset }, pool, true);
          break;
        }
        full.push(`pool ${pool.spec.name} is full (${s.count}/${pool.size})`);
      }
      if (!slot.ip) {
        slot.failure = full.join(', ');
        // Only a Service that named these pools keeps what it has instead (the others had nothing valid).
        if (w.poolNames) this.keepInstead(w, slot);
      }
    }
  }

  /** The pools to try in order, or why there are none. */
  private candidatesFor(w: Work, slot: Slot): Pool[] | string {
    if (w.poolNames) return this.namedCandidates(w, slot);
    const ns = w.claim.namespace;
    const cacheKey = `${slot.family} ${ns}`;
    let c = this.candidates.get(cacheKey);
    if (c === undefined) {
      c = this.namespaceCandidates(ns, w.labels, slot.family);
      this.candidates.set(cacheKey, c);
    }
    return c;
  }

  private namedCandidates(w: Work, slot: Slot): Pool[] | string {
    const out: Pool[] = [];
    let error: string | undefined;
    let otherFamily: Pool | undefined;
    for (const name of w.poolNames!) {
      const pool = this.byName.get(name);
      if (!pool) {
        error ??= `pool ${name} does not exist`;
        continue;
      }
      const bad = unusable(pool);
      if (!bad && pool.family !== slot.family) {
        otherFamily ??= pool;
        continue;
      }
      if (bad) error ??= bad;
      else if (!availableTo(pool.spec, w.claim.namespace, w.labels)) error ??= `pool ${name} is not available to namespace ${w.claim.namespace}`;
      else out.push(pool);
    }
    if (out.length > 0) return out;
    if (error) {
      slot.explicit = true;
      return error;
    }
    return `pool ${otherFamily!.spec.name} is ${familyName(otherFamily!.family)} but the Service needs ${familyName(slot.family)}`;
  }

  private namespaceCandidates(ns: string, labels: Record<string, string>, family: IPFamily): Pool[] | string {
    const bound: Pool[] = [];
    const defaults: Pool[] = [];
    let anyFamily = false;
    for (const pool of this.pools) {
      if (!pool.usable) continue;
      const isBound = boundTo(pool.spec, ns, labels);
      if (!isBound && !pool.spec.isDefault) continue;
      anyFamily = true;
      if (pool.family !== family) continue;
      (isBound ? bound : defaults).push(pool);
    }
    if (bound.length + defaults.length === 0) {
      return anyFamily ? `no ${familyName(family)} pool for namespace ${ns}` : `no pool for namespace ${ns}`;
    }
    return [...bound.sort(comparePriority), ...defaults.sort(comparePriority)];
  }
}

/** The pool a Service names resolves to the usable pool of that name, else the oldest of that name. */
function indexByName(pools: Pool[]): Map<string, Pool> {
  const byName = new Map<string, Pool>();
  for (const pool of pools) {
    const seen = byName.get(pool.spec.name);
    if (!seen || (!seen.usable && pool.usable)) byName.set(pool.spec.name, pool);
  }
  return byName;
}

function result(w: Work): { result: AllocationResult; held: boolean } {
  // Plain loops: at 10,000 Services the filter/map/flatMap chains were ~10 arrays and closures per Service
  // per pass, for what is nearly always one address and no note.
  let held = false;
  let failing = false;
  for (const s of w.slots) {
    if (s.ip !== undefined) held = true;
    if (s.failure !== undefined) failing = true;
  }
  if (w.error !== undefined) return { result: { ok: false, reason: w.error }, held };
  const addresses = addressesOf(w);
  const kept = keptNotes(w);
  if (!failing) return { result: kept === undefined ? { ok: true, addresses } : { ok: true, addresses, kept }, held };
  const failures = w.slots.filter((s) => s.failure !== undefined);
  const reason = [...new Set(failures.map((s) => s.failure!))].join('; ');
  const bestEffort = w.claim.familyPolicy === 'PreferDualStack' && held && !failures.some((s) => s.explicit);
  if (bestEffort) return { result: { ok: true, addresses, partial: reason, ...(kept !== undefined ? { kept } : {}) }, held };
  return { result: { ok: false, reason }, held };
}

/** The addresses a Service holds in this pass, with their pools. */
function addressesOf(w: Work): Assignment[] {
  const out: Assignment[] = [];
  for (const s of w.slots) if (s.ip !== undefined) out.push({ ip: formatIP(s.ip), pool: s.pool?.spec.name ?? w.claim.currentPool ?? '' });
  return out;
}

/** The slots' notes on addresses kept against their request or pool, joined; undefined when none. */
function keptNotes(w: Work): string | undefined {
  let out: string | undefined;
  for (const s of w.slots) if (s.kept) out = out === undefined ? s.kept : `${out}; ${s.kept}`;
  return out;
}

/** The result of a Service that keeps what it has because `reason` says its request cannot be met. */
function keptResult(w: Work, reason: string): AllocationResult {
  const addresses = addressesOf(w);
  if (addresses.length === 0) return { ok: false, reason };
  const notes = [...new Set(w.slots.flatMap((s) => (s.kept ? [s.kept] : [])))];
  return { ok: true, addresses, kept: notes.length > 0 ? notes.join('; ') : `${reason}: the Service keeps ${addresses.map((a) => a.ip).join(', ')} until the request can be met` };
}

/**
 * Allocates addresses to every claim. Claims with the same key after the first (oldest) are ignored.
 * See the module comment for the rules and their order.
 *
 * `between` is called after each of its loops over every claim (10–40 ms apart at 10,000 Services, the
 * whole 0.1–0.2 s on a busy leader): a caller at scale renews there what must not run out meanwhile (the
 * wire membership's dead-man grant). It must not change anything given here. (A generator that let the
 * caller's event loop run between the loops cost 8 MiB more peak at 10,000 Services, measured A/B; why was
 * not found: intermediates kept in its frame, or code the JIT optimises less.)
 */
export function allocate(pools: Pool[], namespaces: Namespace[], claims: ServiceClaim[], between: () => void = () => {}): Map<string, AllocationResult> {
  const labelsOf = new Map<string, Record<string, string>>();
  for (const ns of namespaces) labelsOf.set(ns.name, ns.labels);
  const none: Record<string, string> = {};

  const ordered = claims
    .map((claim, index) => ({ claim, index, rank: ageRank(claim.createdAt) }))
    .sort((a, b) =>
      compareRanked(a.rank, a.claim.createdAt, b.rank, b.claim.createdAt) || compareText(a.claim.key, b.claim.key) || a.index - b.index);
  between();
  const works: Work[] = [];
  const keys = new Set<string>();
  for (const { claim } of ordered) {
    if (keys.has(claim.key)) continue;
    keys.add(claim.key);
    works.push(prepare(claim, labelsOf.get(claim.namespace) ?? none));
  }
  between();

  const byName = indexByName(pools);
  // Each extra pass drops at least one Service, so there are at most n+1 passes; in practice one or two
  // (every Service that fails while holding an address fails in the first pass).
  const failed = new Map<Work, AllocationResult>();
  /** Failed Services given a second chance because the final state would have room for them. */
  const retried = new Set<Work>();
  /**
   * Services whose request cannot be met but that have addresses: they keep what they have and take
   * nothing new (the reason goes into their `kept` note). A malformed request is one from the start.
   */
  const restricted = new Map<Work, string>();
  for (const w of works) if (w.error !== undefined && w.current.length > 0) restricted.set(w, w.error);
  let moving = new Set<Work>();
  let stuck = new Set<Work>();
  for (;;) {
    const pass = new Pass(pools, byName);
    pass.moving = moving;
    pass.stuck = stuck;
    const active = works.filter((w) => !failed.has(w));
    const free = (w: Work) => w.error === undefined && !restricted.has(w);
    for (const w of active) w.slots = w.wanted.map((x) => ({ family: x.family, requested: x.requested }));
    for (const w of active) if (free(w) || restricted.has(w)) pass.keepCurrent(w);
    between();
    for (const [w, reason] of restricted) if (!failed.has(w)) pass.keepOnly(w, reason);
    for (const w of active) if (free(w)) pass.takeRequested(w);
    for (const w of active) if (free(w)) pass.checkNamedPools(w);
    between();
    // Services that gave up an address for a pool with room go first: that room was counted for them.
    for (const w of active) if (free(w) && w.slots.some((sl) => sl.mover)) pass.allocate(w);
    for (const w of active) if (free(w) && !w.slots.some((sl) => sl.mover)) pass.allocate(w);
    between();

    let again = pass.movesChanged;
    moving = pass.moving;
    stuck = pass.stuck;
    const out = new Map<string, AllocationResult>();
    for (const w of works) {
      const given = failed.get(w);
      if (given) {
        out.set(w.claim.key, given);
        continue;
      }
      const reason = restricted.get(w);
      if (reason !== undefined) {
        const kr = keptResult(w, reason);
        if (!kr.ok) {
          // Nothing of its own could be kept after all: it fails like any other (the reason is worked out
          // again in the final state below, as for a Service with no address).
          restricted.delete(w);
          failed.set(w, kr);
          again = true;
        }
        out.set(w.claim.key, kr);
        continue;
      }
      const r = result(w);
      if (!r.result.ok && r.held) {
        // It had addresses: it keeps those and takes nothing new, so a request it cannot have as a whole (a
        // typo, a pool gone, one family of a dual-stack request) never takes an address away. Else it hands
        // back what it took. Either way the pass is redone.
        if (w.current.length > 0) restricted.set(w, r.result.reason);
        else failed.set(w, r.result);
        again = true;
      }
      out.set(w.claim.key, r.result);
    }
    between();
    if (!again) {
      // A Service that gave its addresses back is told why it fails in the final state, where what it
      // gave back may be taken, and as if it had no address: the controller clears its status, so this is
      // the reason a replay of this result gives.
      pass.probe = true;
      const wouldFit: Work[] = [];
      for (const [w, given] of failed) {
        w.slots = w.wanted.map((x) => ({ family: x.family, requested: x.requested }));
        pass.takeRequested(w);
        pass.allocate(w);
        const probed = result(w).result;
        if (probed.ok && !retried.has(w)) wouldFit.push(w);
        out.set(w.claim.key, probed.ok ? given : probed);
      }
      if (wouldFit.length === 0) return out;
      // It failed only because others held what they have since given back: it gets its addresses in the
      // final state (once: a Service that fails again keeps its reason), so the result is a fixed point.
      for (const w of wouldFit) {
        failed.delete(w);
        retried.add(w);
      }
    }
  }
}
