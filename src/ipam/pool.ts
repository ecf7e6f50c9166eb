/**
 * Address pools: OpenELB `Eip` objects (`network.kubesphere.io/v1alpha2`) and config-file pools, turned
 * into ranges the allocator can use. Pure: the caller passes specs and timestamps in.
 *
 * Where we follow OpenELB and where we differ:
 * - `address` is a single IP, a CIDR or `first-last`, IPv4 or IPv6, with exact BigInt sizes (OpenELB
 *   counts in an int64 and overflows on an IPv6 /64).
 * - IPv4 CIDRs of /30 and wider skip the network and broadcast address (OpenELB hands them out); /31 and
 *   /32 (RFC 3021) and plain ranges keep every address. IPv6 CIDRs of /126 and wider skip their first
 *   address, the subnet-router anycast address (RFC 4291 2.6.1) a router on the link answers for.
 * - Only announceable addresses are handed out (`net/announceable.ts`): a range running into multicast,
 *   loopback and the like is clipped (a block inside it makes the pool unusable), and the addresses that
 *   belong to hosts already (this host's own, the Nodes', a connected subnet's network and broadcast
 *   address) are skipped; the pool says so in `skipped`.
 * - Overlapping pools: OpenELB's webhook rejects the second one, but a pool can still appear without the
 *   webhook (or from the config file). Here the newer one is reported and not used.
 * - Only `protocol: layer2` Eips are ours. An Eip without a protocol is BGP in OpenELB, so it is ignored
 *   too; config-file pools have no protocol field and are always ours.
 */
import { matchLabels } from '../net/labels.ts';
import { type IP, IPV4_ANY, formatIP } from '../net/ip.ts';
import { type IPRange, parseCIDR, parseRange, rangeContains, rangeSize, rangesOverlap } from '../net/range.ts';
import { type HostAddresses, addressProblem, clipRange, describeAddressProblem, hostExclusions } from '../net/announceable.ts';
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
  /** Number of usable addresses (first..last less `skipped`), exact. 0 when the address does not parse. */
  size: bigint;
  /** Addresses inside first..last that are never handed out (they belong to hosts already), sorted, with why. */
  skipped: { ip: IP; why: string }[];
  /** What the pool leaves out besides its ends, in words (clipped blocks, skipped addresses), for the API and Events. */
  skippedNote?: string;
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
      spec, family: 4, range: none, first: IPV4_ANY, last: IPV4_ANY, size: 0n, skipped: [], valid: false, usable: false,
      problem: `address ${JSON.stringify(spec.address)} is not an IP, CIDR or range`,
    };
  }
  let { first, last } = range;
  const family = first.family;
  const cidr = spec.address.includes('/') ? parseCIDR(spec.address.trim()) : undefined;
  // /31 and /32 have no network or broadcast address (RFC 3021); wider IPv4 prefixes do.
  if (cidr && family === 4 && cidr.prefix <= 30) {
    first = { family, value: first.value + 1n };
    last = { family, value: last.value - 1n };
  }
  // The subnet-router anycast address (all-zero interface identifier) is a router's; /127 is a point-to-point link (RFC 6164).
  if (cidr && family === 6 && cidr.prefix <= 126) first = { family, value: first.value + 1n };
  const pool: Pool = { spec, family, range, first, last, size: rangeSize({ first, last }), skipped: [], valid: true, usable: true };
  const clip = clipRange({ first, last });
  if (clip.problem !== undefined) {
    pool.size = 0n;
    mark(pool, clip.problem);
  } else if (clip.range) {
    pool.first = clip.range.first;
    pool.last = clip.range.last;
    pool.size = rangeSize(clip.range);
    if (clip.clipped.length > 0) pool.skippedNote = `skips ${clip.clipped.join(', ')}`;
  }
  return pool;
}

/** Skips the addresses of `pool` that belong to hosts already; a pool left with none is not usable. */
function skipHosts(pool: Pool, host: HostAddresses): void {
  if (!pool.valid || pool.size === 0n) return;
  const taken = hostExclusions({ first: pool.first, last: pool.last }, host);
  if (taken.length === 0) return;
  pool.skipped = taken.map((ip) => ({ ip, why: describeAddressProblem(ip, addressProblem(ip, host) ?? 'own-address', host).replace(/: it cannot be announced$/, '') }));
  pool.size -= BigInt(taken.length);
  const words = pool.skipped.slice(0, 3).map((s) => s.why).join('; ') + (taken.length > 3 ? `; and ${taken.length - 3} more` : '');
  pool.skippedNote = [pool.skippedNote, `skips ${words}`].filter(Boolean).join('; ');
  if (pool.size === 0n) mark(pool, `every address of ${formatIP(pool.first)}-${formatIP(pool.last)} belongs to a host already (${words})`);
}

/**
 * Builds the pools from their specs: drops pools that are not layer2, parses addresses, and marks each
 * pool unusable (with a `problem`) when its address does not parse, an older pool has the same name, it
 * overlaps an older pool with a valid address, or it is disabled — in that order of precedence. Overlap is
 * judged against older pools whether they are disabled or not, so toggling `disable` never moves an
 * address from one pool to another. Sorted by name, then age; the result does not depend on input order.
 */
export function buildPools(specs: PoolSpec[], host: HostAddresses = {}): Pool[] {
  const byAge = specs.filter(isLayer2).map(parsePool).sort((a, b) => comparePoolAge(a.spec, b.spec));
  for (const pool of byAge) skipHosts(pool, host);
  const names = new Set<string>();
  const older: Pool[] = [];
  for (const pool of byAge) {
    if (pool.valid) {
      if (names.has(pool.spec.name)) {
        mark(pool, `name ${pool.spec.name} is already used by an older pool`);
      } else {
        const hit = older.find((o) => rangesOverlap(o.range, pool.range));
        if (hit) mark(pool, `overlaps pool ${hit.spec.name} (older)`);
        else if (pool.spec.disable && pool.usable) mark(pool, 'disabled');
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

/** True when `ip` is one of the pool's usable addresses (inside first..last, not skipped). */
export function poolHolds(pool: Pool, ip: IP): boolean {
  return pool.valid && rangeContains({ first: pool.first, last: pool.last }, ip) && !pool.skipped.some((s) => s.ip.value === ip.value);
}

/**
 * Why an address inside the pool's written range is not one it hands out, in words for an Event, or
 * undefined when it is one: the network / broadcast or subnet-router anycast address of a CIDR, a fixed
 * block taken off an end, or an address that belongs to a host.
 */
export function poolRefusal(pool: Pool, ip: IP): string | undefined {
  if (poolHolds(pool, ip)) return undefined;
  const text = formatIP(ip);
  const name = pool.spec.name;
  const skipped = pool.skipped.find((s) => s.ip.value === ip.value);
  if (skipped) return `${skipped.why}, skipped by pool ${name}`;
  const block = addressProblem(ip);
  if (block) return `${describeAddressProblem(ip, block).replace(/: it cannot be announced$/, '')}, skipped by pool ${name}`;
  if (ip.family === 6) return `${text} is the subnet-router anycast address of pool ${name}`;
  return `${text} is the ${ip.value < pool.first.value ? 'network' : 'broadcast'} address of pool ${name}`;
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
