/**
 * Address pools: OpenELB `Eip` objects (`network.kubesphere.io/v1alpha2`) and config-file pools, turned
 * into ranges the allocator can use. Pure: the caller passes specs and timestamps in.
 *
 * Where we follow OpenELB and where we differ:
 * - `address` is a single IP, a CIDR or `first-last`, IPv4 or IPv6, with exact BigInt sizes (OpenELB
 *   counts in an int64 and overflows on an IPv6 /64).
 * - IPv4 CIDRs of /30 and wider skip the network and broadcast address (OpenELB hands them out); /31 and
 *   /32 (RFC 3021) and plain ranges keep every address. IPv6 never skips.
 * - Overlapping pools: OpenELB's webhook rejects the second one, but a pool can still appear without the
 *   webhook (or from the config file). Here the newer one is reported and not used.
 * - Only `protocol: layer2` Eips are ours. An Eip without a protocol is BGP in OpenELB, so it is ignored
 *   too; config-file pools have no protocol field and are always ours.
 */
import { matchLabels } from '../net/labels.ts';
import { type IP, IPV4_ANY, formatIP } from '../net/ip.ts';
import { type IPRange, parseCIDR, parseRange, rangeContains, rangeSize, rangesOverlap } from '../net/range.ts';
import { compareAge, compareText } from './order.ts';

/** One pool as written: an `Eip` spec (plus what the controller reads from its metadata) or a config pool. */
export interface PoolSpec {
  /** Eip name or config pool name; Services name it in `eip.openelb.kubesphere.io/v1alpha2`. */
  name: string;
  source: 'eip' | 'config';
  /** Single IP, CIDR or a-b range, IPv4 or IPv6. */
  address: string;
  /** Only `layer2` pools are ours; others are dropped without a problem. Config pools may leave it out. */
  protocol?: string;
  /** Interface name or `can_reach:IP`, passed through untouched. */
  interface?: string;
  disable?: boolean;
  /** Order among namespace-bound pools: lower first (OpenELB). Default 0. */
  priority?: number;
  /** Namespaces this pool is bound to by name. */
  namespaces?: string[];
  /**
   * Namespaces this pool is bound to by label (matchLabels: every pair must match). An empty object
   * matches every namespace, as an empty Kubernetes label selector does (and as OpenELB does); leave it
   * undefined for "no selector".
   */
  namespaceSelector?: Record<string, string>;
  /** `eip.openelb.kubesphere.io/is-default-eip: "true"`, or `default: true` in the config. */
  isDefault?: boolean;
  /** creationTimestamp (RFC 3339): decides which of two overlapping pools is newer. Config pools are older than any Eip. */
  /** Node choice (not allocation): only nodes with these labels serve the pool's addresses. */
  nodeSelector?: Record<string, string>;
  /** Node choice: ordered preference tiers. */
  preferredNodes?: Record<string, string>[];
  /** Node choice: `strict` moves an address back to a more preferred node. */
  prefer?: 'sticky' | 'strict';
  /** Why an annotation about node choice was ignored (reported like other pool problems). */
  nodeProblem?: string;
  createdAt: string;
}

/** A pool ready for allocation. */
export interface Pool {
  spec: PoolSpec;
  family: 4 | 6;
  /** The range as written. For an address that does not parse: 0.0.0.0-0.0.0.0 with `valid: false`. */
  range: IPRange;
  /** First usable address (network address skipped for IPv4 CIDRs /30 and wider). */
  first: IP;
  /** Last usable address (broadcast address skipped likewise). */
  last: IP;
  /** Number of usable addresses, exact. 0 when the address does not parse. */
  size: bigint;
  /** True when the address parsed (the range means something). */
  valid: boolean;
  /** False when disabled, invalid, overlapping an older pool or named like an older pool. */
  usable: boolean;
  /** Why the pool is not usable, for status and logs. */
  problem?: string;
}

/** True when the pool is ours: `protocol: layer2`, or a config pool without a protocol. */
export function isLayer2(spec: PoolSpec): boolean {
  return spec.protocol === 'layer2' || (spec.protocol === undefined && spec.source === 'config');
}

/** Oldest first: config pools, then Eips by creationTimestamp, then by name and address for a total order. */
export function comparePoolAge(a: PoolSpec, b: PoolSpec): number {
  if (a.source !== b.source) return a.source === 'config' ? -1 : 1;
  return compareAge(a.createdAt, b.createdAt) || compareText(a.name, b.name) || compareText(a.address, b.address);
}

/** Parses the address of a spec into a pool (usability decided later). */
function parsePool(spec: PoolSpec): Pool {
  const range = parseRange(spec.address);
  if (!range) {
    const none: IPRange = { first: IPV4_ANY, last: IPV4_ANY };
    return {
      spec, family: 4, range: none, first: IPV4_ANY, last: IPV4_ANY, size: 0n, valid: false, usable: false,
      problem: `address ${JSON.stringify(spec.address)} is not an IP, CIDR or range`,
    };
  }
  let { first, last } = range;
  const family = first.family;
  if (family === 4 && spec.address.includes('/')) {
    const cidr = parseCIDR(spec.address.trim());
    // /31 and /32 have no network or broadcast address (RFC 3021); wider IPv4 prefixes do.
    if (cidr && cidr.prefix <= 30) {
      first = { family, value: first.value + 1n };
      last = { family, value: last.value - 1n };
    }
  }
  return { spec, family, range, first, last, size: rangeSize({ first, last }), valid: true, usable: true };
}

/**
 * Builds the pools from their specs: drops pools that are not layer2, parses addresses, and marks each
 * pool unusable (with a `problem`) when its address does not parse, an older pool has the same name, it
 * overlaps an older pool with a valid address, or it is disabled — in that order of precedence. Overlap is
 * judged against older pools whether they are disabled or not, so toggling `disable` never moves an
 * address from one pool to another. Sorted by name, then age; the result does not depend on input order.
 */
export function buildPools(specs: PoolSpec[]): Pool[] {
  const byAge = specs.filter(isLayer2).map(parsePool).sort((a, b) => comparePoolAge(a.spec, b.spec));
  const names = new Set<string>();
  const older: Pool[] = [];
  for (const pool of byAge) {
    if (pool.valid) {
      if (names.has(pool.spec.name)) {
        mark(pool, `name ${pool.spec.name} is already used by an older pool`);
      } else {
        const hit = older.find((o) => rangesOverlap(o.range, pool.range));
        if (hit) mark(pool, `overlaps pool ${hit.spec.name} (older)`);
        else if (pool.spec.disable) mark(pool, 'disabled');
      }
      older.push(pool);
    }
    names.add(pool.spec.name);
  }
  return byAge.sort((a, b) => compareText(a.spec.name, b.spec.name) || comparePoolAge(a.spec, b.spec));
}

function mark(pool: Pool, problem: string): void {
  pool.usable = false;
  pool.problem = problem;
}

/**
 * The pool that owns `ip`: the usable pool whose written range holds it (usable pools never overlap),
 * else the oldest valid pool that holds it (so a caller can say "pool X is disabled"), else undefined.
 * The address may still be a skipped network/broadcast address: check `first`/`last` for that.
 */
export function poolFor(pools: Pool[], ip: IP): Pool | undefined {
  let owner: Pool | undefined;
  for (const pool of pools) {
    if (!pool.valid || !rangeContains(pool.range, ip)) continue;
    if (pool.usable) return pool;
    if (!owner || comparePoolAge(pool.spec, owner.spec) < 0) owner = pool;
  }
  return owner;
}

/** True when `ip` is one of the pool's usable addresses (inside first..last). */
export function poolHolds(pool: Pool, ip: IP): boolean {
  return pool.valid && rangeContains({ first: pool.first, last: pool.last }, ip);
}

/** True when the pool names the namespace in `namespaces` or its `namespaceSelector` matches the labels. */
export function boundTo(spec: PoolSpec, namespace: string, labels: Record<string, string>): boolean {
  if (spec.namespaces?.includes(namespace)) return true;
  return spec.namespaceSelector !== undefined && matchLabels(spec.namespaceSelector, labels);
}

/** True when the pool has a namespace binding at all (namespaces or a selector). */
export function hasBinding(spec: PoolSpec): boolean {
  return (spec.namespaces !== undefined && spec.namespaces.length > 0) || spec.namespaceSelector !== undefined;
}

/**
 * True when a Service in `namespace` may take addresses from the pool: the pool is bound to no namespace,
 * or to this one, or it is the default pool (which serves every namespace). OpenELB lets any Service name
 * any Eip; we keep a namespace-bound pool to its namespaces, which is what binding a pool is for.
 */
export function availableTo(spec: PoolSpec, namespace: string, labels: Record<string, string>): boolean {
  return spec.isDefault === true || !hasBinding(spec) || boundTo(spec, namespace, labels);
}

/** First and last usable address as text (Eip `status.firstIP` / `lastIP`); "" for a pool whose address does not parse. */
export function usableText(pool: Pool): { firstIP: string; lastIP: string } {
  if (!pool.valid) return { firstIP: '', lastIP: '' };
  return { firstIP: formatIP(pool.first), lastIP: formatIP(pool.last) };
}

/** Orders pools for automatic allocation: priority (lower first, as in OpenELB), then name. */
export function comparePriority(a: Pool, b: Pool): number {
  return (a.spec.priority ?? 0) - (b.spec.priority ?? 0) || compareText(a.spec.name, b.spec.name) || comparePoolAge(a.spec, b.spec);
}
