/**
 * Which node serves which Service address (the gateway model, DESIGN.md "How traffic reaches a Service"):
 * node candidacy per address and the sticky rendezvous (highest-random-weight) choice among candidates.
 * Pure: no I/O and no clock. Probe results, Node objects and EndpointSlice facts come in as inputs, so two
 * replicas given the same cluster state choose the same node for every address.
 */
import { type IP, type IPFamily, formatIP, isLinkLocal, parseIP, writeIP } from '../net/ip.ts';
import { type IPRange, cidrRange, parseCIDR, rangeContains } from '../net/range.ts';
import { matchLabels } from '../net/labels.ts';

/** What the leader needs to know about one Node object. */
export interface NodeInfo {
  name: string;
  /** Node condition Ready=True. */
  ready: boolean;
  /** The label `node.kubernetes.io/exclude-from-external-load-balancers` is present. */
  excluded: boolean;
  /** `status.addresses` of type InternalIP (IPv4 and/or IPv6), in the order the Node lists them. */
  internalIPs: string[];
  /** The Node's labels (pool `nodeSelector` / `preferredNodes`). */
  labels?: Record<string, string>;
  /** Tainted `node.kubernetes.io/out-of-service`: handed over like an excluded node. */
  outOfService?: boolean;
  /**
   * Per-node mode: the l2lb instance on the node as the heartbeats show it ({@link InstanceState} in
   * `ownership.ts`). `live` and `restarting` keep the addresses the node serves; only `live` takes new
   * ones; `absent` serves nothing. Undefined in the gateway model (no instance on the node is needed).
   */
  instance?: 'live' | 'restarting' | 'absent';
}

/** Health of a node's address as the wire probes see it (see `ProbeTracker` in `probe.ts`). */
export interface NodeHealth {
  state: 'unknown' | 'up' | 'down';
  mac?: string;
  /**
   * The kube-proxy health check of the same address (`kube/proxyhealth.ts`), when it is enabled: 'down'
   * and 'unknown' (no result yet) make the node no candidate, like the wire probe's states. Absent = the
   * check is off.
   */
  proxy?: 'unknown' | 'up' | 'down';
}

/** The L2 segment of one interface: its own addresses with prefix length, e.g. "192.0.2.1/24". */
export interface Segment {
  interface: string;
  prefixes: string[];
}

/** One Service address to be mapped to a node. */
export interface AddressRequest {
  /** The Service address (IPv4 or IPv6). */
  ip: string;
  /** "namespace/name". */
  service: string;
  /** The interface the address is announced on. */
  interface: string;
  /** `externalTrafficPolicy: Local`. */
  localOnly: boolean;
  /** Nodes with a ready endpoint of the Service (EndpointSlices). Required when `localOnly`: absent = none. */
  endpointNodes?: string[];
  /** The node serving the address now (stickiness). */
  current?: string;
  /** Only nodes whose labels match every pair may serve (the pool's `nodeSelector`). */
  nodeSelector?: Record<string, string>;
  /**
   * Ordered preference (the pool's `preferredNodes`): the first selector that matches a candidate limits
   * the choice to the candidates it matches; no match in any tier = every candidate.
   */
  preferred?: Record<string, string>[];
  /** `l2lb.io/prefer: strict`: `current` is kept only while it is in the best tier that has a candidate. */
  strict?: boolean;
}

/** Why a node cannot serve an address. */
export type NotCandidate =
  | 'not-ready'
  | 'excluded'
  | 'out-of-service'
  | 'no-instance'
  | 'no-address-on-segment'
  | 'probe-down'
  | 'probe-unknown'
  | 'kube-proxy-down'
  | 'kube-proxy-unknown'
  | 'no-ready-endpoint';

/** Whether one node can serve an address, and if not why. */
export interface Candidacy {
  node: string;
  candidate: boolean;
  /** Set exactly when `candidate` is false. */
  why?: NotCandidate;
  /** The node's address of the right family on the segment (what is probed), when it has one. */
  ip?: string;
  /** The node's MAC from the probes, when known. */
  mac?: string;
}

/** The node chosen for one address. */
export interface Choice {
  ip: string;
  /** Undefined when no node is a candidate: the address is withdrawn, not pointed at a dead node. */
  node?: string;
  mac?: string;
  /**
   * kept: `current` is still a candidate; initial: there was no `current`; moved: `current` stopped being
   * a candidate and another node took over; none: no candidate at all.
   */
  reason: 'kept' | 'initial' | 'moved' | 'none';
  /** The previous node, on 'moved' and on 'none' when there was one. */
  movedFrom?: string;
  /**
   * Why the previous node lost the address: its {@link NotCandidate}, or 'node-removed' when it is no
   * longer a Node at all. 'invalid-address' (reason 'none') when `ip` is no address.
   */
  why?: string;
}

// ---------------------------------------------------------------------------------------------------------
// 64-bit hashing on two 32-bit halves.
//
// Plain numbers with Math.imul and >>> give the same bits in every engine; BigInt would too but costs about
// ten times as much, and assign() scores every (address, node) pair: 10,000 x 100 of them.

/** Result registers of the 64-bit helpers (no allocation per call). */
let rHi = 0;
let rLo = 0;

/**
 * The high 32 bits of the 64-bit product of two unsigned 32-bit numbers. `a * b` as a double is off by at
 * most 2^10; subtracting the exact low half (Math.imul) leaves a multiple of 2^32 give or take 2^11, so the
 * rounded quotient is exact. IEEE-754 rounding is the same in every engine, so are the bits.
 */
function mulHi(a: number, b: number): number {
  return Math.round((a * b - (Math.imul(a, b) >>> 0)) / 0x1_0000_0000);
}

// fmix64's multipliers as 32-bit halves.
const K1_HI = 0xff51afd7, K1_LO = 0xed558ccd;
const K2_HI = 0xc4ceb9fe, K2_LO = 0x1a85ec53;

/**
 * MurmurHash3's fmix64 finalizer of hi:lo into rHi:rLo: every input bit flips each output bit with p≈1/2.
 * Per 64-bit multiply: (aHi:aLo) * (bHi:bLo) mod 2^64 = aLo*bLo + 2^32 * (aHi*bLo + aLo*bHi).
 */
function fmix64(hi: number, lo: number): void {
  lo = (lo ^ (hi >>> 1)) >>> 0; // k ^= k >>> 33
  const h = (mulHi(lo, K1_LO) + Math.imul(hi, K1_LO) + Math.imul(lo, K1_HI)) >>> 0;
  let l = Math.imul(lo, K1_LO) >>> 0;
  l = (l ^ (h >>> 1)) >>> 0;
  hi = (mulHi(l, K2_LO) + Math.imul(h, K2_LO) + Math.imul(l, K2_HI)) >>> 0;
  lo = Math.imul(l, K2_LO) >>> 0;
  rLo = (lo ^ (hi >>> 1)) >>> 0;
  rHi = hi;
}

const encoder = new TextEncoder();

/** FNV-1a 64 over `bytes`, then fmix64 (FNV alone leaves short keys poorly mixed), into rHi:rLo. */
function hashBytes(bytes: Uint8Array, length = bytes.length): void {
  let hi = 0xcbf29ce4, lo = 0x84222325; // FNV-1a 64 offset basis
  for (let i = 0; i < length; i++) {
    lo = (lo ^ bytes[i]!) >>> 0;
    // * 0x100000001b3 = lo*0x1b3 + 2^32 * (hi*0x1b3 + lo*0x100)
    const p = lo * 0x1b3; // < 2^41: exact
    hi = (Math.imul(hi, 0x1b3) + Math.imul(lo, 0x100) + Math.floor(p / 0x1_0000_0000)) >>> 0;
    lo = p >>> 0;
  }
  fmix64(hi, lo);
}

/**
 * The hash of an address, into rHi:rLo: over its 4 or 16 bytes in network order, so every spelling of one
 * address ("2001:DB8::0:1", "2001:db8::1") hashes alike without formatting it. Text that is no address is
 * hashed as UTF-8.
 */
function hashAddress(ip: IP | undefined, text: string): void {
  if (!ip) return hashBytes(encoder.encode(text));
  // Into a buffer kept for it: an array per address per node choice was garbage on every pass.
  writeIP(ADDRESS_BYTES, 0, ip);
  hashBytes(ADDRESS_BYTES, ip.family === 4 ? 4 : 16);
}

const ADDRESS_BYTES = new Uint8Array(16);

/** The hash of a node name, into rHi:rLo: "|" + name as UTF-8 (the "|" keeps it apart from address bytes). */
function hashNode(name: string): void {
  hashBytes(encoder.encode(`|${name}`));
}

/**
 * The rendezvous score of `node` for `address`, an unsigned 64-bit integer: fmix64(A XOR N), where A is
 * fmix64(FNV-1a 64 of the address's bytes in network order) and N is fmix64(FNV-1a 64 of "|" + node in
 * UTF-8). The same bits in every runtime and replica. The highest score among the candidates wins.
 */
export function rendezvousScore(address: string, node: string): bigint {
  hashAddress(parseIP(address), address);
  const aHi = rHi, aLo = rLo;
  hashNode(node);
  fmix64((aHi ^ rHi) >>> 0, (aLo ^ rLo) >>> 0);
  return (BigInt(rHi) << 32n) | BigInt(rLo);
}

// ---------------------------------------------------------------------------------------------------------
// Candidacy

/** A segment's prefixes as ranges. Link-local prefixes are left out: every link has fe80::/64, so a node
 * address inside it says nothing about which segment the node is on. */
export function segmentRanges(segment: Segment): IPRange[] {
  const out: IPRange[] = [];
  for (const p of segment.prefixes) {
    const c = parseCIDR(p);
    if (c && !isLinkLocal(c.ip)) out.push(cidrRange(c));
  }
  return out;
}

/**
 * Each InternalIP list parsed and formatted once, keyed by the list: a Node's list is made once per change of
 * the Node and shared by every per-pass copy of its NodeInfo, while each pass looked at every Node's addresses
 * three times per family (at 5,000 Nodes, ~30,000 parses and formats of garbage per pass). Lists are never
 * changed in place.
 */
const PARSED = new WeakMap<readonly string[], readonly { ip: IP; text: string }[]>();

/** The node's InternalIPs that parse, each with its canonical text; made once per list (see {@link PARSED}). */
export function parsedAddresses(node: NodeInfo): readonly { ip: IP; text: string }[] {
  let out = PARSED.get(node.internalIPs);
  if (out === undefined) {
    const list: { ip: IP; text: string }[] = [];
    for (const text of node.internalIPs) {
      const ip = parseIP(text);
      if (ip) list.push({ ip, text: formatIP(ip) });
    }
    PARSED.set(node.internalIPs, (out = list));
  }
  return out;
}

/** The node's first InternalIP of `family` inside one of `ranges`, in canonical form. */
export function addressOnSegment(node: NodeInfo, family: IPFamily, ranges: readonly IPRange[]): string | undefined {
  for (const a of parsedAddresses(node)) {
    if (a.ip.family !== family) continue;
    for (const r of ranges) if (rangeContains(r, a.ip)) return a.text;
  }
  return undefined;
}

/** The checks that do not depend on the Service, in the order they are reported. */
export function nodeCandidacy(node: NodeInfo, health: NodeHealth | undefined, ip: string | undefined): Candidacy {
  const c: Candidacy = { node: node.name, candidate: false };
  if (ip !== undefined) c.ip = ip;
  if (health?.mac !== undefined) c.mac = health.mac;
  if (!node.ready) c.why = 'not-ready';
  else if (node.excluded) c.why = 'excluded';
  else if (node.outOfService) c.why = 'out-of-service';
  else if (node.instance === 'absent') c.why = 'no-instance';
  else if (ip === undefined) c.why = 'no-address-on-segment';
  else if (health?.state === 'down') c.why = 'probe-down';
  // 'up' without a MAC cannot be announced: as good as not probed yet.
  else if (health?.state !== 'up' || health.mac === undefined) c.why = 'probe-unknown';
  // After the wire: a node that is gone fails both, and "missed 3 probes" is the better explanation.
  else if (health.proxy === 'down') c.why = 'kube-proxy-down';
  else if (health.proxy === 'unknown') c.why = 'kube-proxy-unknown';
  else c.candidate = true;
  return c;
}

/**
 * Whether `node` can serve an address of `family` announced on `segment`. A candidate is Ready, not
 * excluded, has an InternalIP of `family` inside one of the segment's (non-link-local) prefixes, is probed
 * 'up' with a known MAC, has its kube-proxy check 'up' when `health.proxy` is given, and, for a `localOnly`
 * request, is among its `endpointNodes`. The first failing
 * check is reported, in the order of {@link NotCandidate}. `health` is that of the node's address on the
 * segment (undefined = never probed, 'probe-unknown').
 */
export function candidacy(
  node: NodeInfo,
  health: NodeHealth | undefined,
  family: 4 | 6,
  segment: Segment,
  req?: AddressRequest,
): Candidacy {
  const c = nodeCandidacy(node, health, addressOnSegment(node, family, segmentRanges(segment)));
  if (c.candidate && req?.localOnly && !(req.endpointNodes ?? []).includes(node.name)) {
    c.candidate = false;
    c.why = 'no-ready-endpoint';
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------------
// Choice

/**
 * Candidates with their name hashes precomputed, as parallel arrays: the per-pair work in {@link winner} is
 * one XOR and one fmix64 over typed-array reads.
 */
interface Pool {
  names: string[];
  macs: (string | undefined)[];
  hi: Uint32Array;
  lo: Uint32Array;
  /** 1: the node keeps what it serves but takes nothing new (its l2lb instance is restarting). */
  keepOnly: Uint8Array;
  labels: (Record<string, string> | undefined)[];
  /** Node name -> index. */
  index: Map<string, number>;
}

function pool(cands: readonly Candidacy[], info?: ReadonlyMap<string, NodeInfo>): Pool {
  const n = cands.length;
  const p: Pool = { names: [], macs: [], hi: new Uint32Array(n), lo: new Uint32Array(n), keepOnly: new Uint8Array(n), labels: [], index: new Map() };
  for (const c of cands) {
    if (p.index.has(c.node)) continue; // a node listed twice is one node
    const i = p.names.length;
    hashNode(c.node);
    p.hi[i] = rHi;
    p.lo[i] = rLo;
    const node = info?.get(c.node);
    p.keepOnly[i] = node?.instance === 'restarting' ? 1 : 0;
    p.labels.push(node?.labels);
    p.names.push(c.node);
    p.macs.push(c.mac);
    p.index.set(c.node, i);
  }
  return p;
}

/**
 * The indices of `p` a request may choose among, before preference: all (undefined), or those matching
 * `nodeSelector` and, for `endpoints`, having a ready endpoint.
 */
function eligible(p: Pool, nodeSelector: Record<string, string> | undefined, endpoints: ReadonlySet<string> | undefined): number[] | undefined {
  if (!nodeSelector && !endpoints) return undefined;
  const out: number[] = [];
  if (endpoints && (!nodeSelector || endpoints.size < p.names.length)) {
    for (const name of endpoints) {
      const i = p.index.get(name);
      if (i !== undefined && (!nodeSelector || matchLabels(nodeSelector, p.labels[i]))) out.push(i);
    }
    return out;
  }
  for (let i = 0; i < p.names.length; i++) if (matchLabels(nodeSelector!, p.labels[i])) out.push(i);
  return out;
}

/**
 * The first tier of `preferred` with a node among `base` (all of `p` when undefined) that `takes`, as
 * indices; undefined when no tier has one (every node of `base` then).
 */
function bestTier(p: Pool, base: readonly number[] | undefined, preferred: readonly Record<string, string>[], takes: (i: number) => boolean): number[] | undefined {
  for (const sel of preferred) {
    const tier: number[] = [];
    const n = base ? base.length : p.names.length;
    for (let k = 0; k < n; k++) {
      const i = base ? base[k]! : k;
      if (takes(i) && matchLabels(sel, p.labels[i])) tier.push(i);
    }
    if (tier.length > 0) return tier;
  }
  return undefined;
}

/**
 * The index in `p` of the HRW winner for an address hashed to aHi:aLo, among all of `p` or only the
 * indices in `only`; -1 when there is none. Equal scores (a 64-bit collision) go to the smaller node name,
 * so input order never matters.
 */
function winner(aHi: number, aLo: number, p: Pool, only?: readonly number[]): number {
  const n = only ? only.length : p.names.length;
  const { hi: hs, lo: ls, names, keepOnly } = p;
  let best = -1;
  let bHi = 0, bLo = 0;
  for (let k = 0; k < n; k++) {
    const i = only ? only[k]! : k;
    if (keepOnly[i]) continue;
    // fmix64(a ^ node), written out: this loop runs for every (address, candidate) pair. The low word of
    // the result is only needed when the high words tie.
    let hi = (aHi ^ hs[i]!) >>> 0;
    let lo = (aLo ^ ls[i]!) >>> 0;
    lo = (lo ^ (hi >>> 1)) >>> 0;
    const h = (mulHi(lo, K1_LO) + Math.imul(hi, K1_LO) + Math.imul(lo, K1_HI)) >>> 0;
    const l = ((Math.imul(lo, K1_LO) >>> 0) ^ (h >>> 1)) >>> 0;
    hi = (mulHi(l, K2_LO) + Math.imul(h, K2_LO) + Math.imul(l, K2_HI)) >>> 0;
    if (best >= 0 && hi < bHi) continue;
    lo = ((Math.imul(l, K2_LO) >>> 0) ^ (hi >>> 1)) >>> 0;
    if (best < 0 || hi > bHi || lo > bLo || (lo === bLo && names[i]! < names[best]!)) {
      best = i;
      bHi = hi;
      bLo = lo;
    }
  }
  return best;
}

/**
 * Builds the Choice from the index of the kept node (`current` still qualifies) or else of the winner
 * (-1: none), and why `current` lost the address.
 */
function decide(ip: string, current: string | undefined, p: Pool, kept: number, win: number, currentWhy: string | undefined): Choice {
  let c: Choice;
  if (kept >= 0) {
    c = { ip, node: p.names[kept]!, reason: 'kept' };
  } else {
    c = win >= 0 ? { ip, node: p.names[win]!, reason: current === undefined ? 'initial' : 'moved' } : { ip, reason: 'none' };
    if (current !== undefined) {
      c.movedFrom = current;
      c.why = currentWhy ?? 'node-removed';
    }
  }
  const mac = p.macs[kept >= 0 ? kept : win];
  if (mac !== undefined) c.mac = mac;
  return c;
}

/**
 * Chooses the node for `req` among the entries of `candidates` with `candidate: true` (the others only
 * explain why `current` lost the address): `current` while it is a candidate (sticky, so a node joining
 * never moves an address), otherwise the candidate with the highest {@link rendezvousScore}. No candidate:
 * `node` undefined and reason 'none'. `ip` of the result is `req.ip` as given.
 */
export function choose(req: AddressRequest, candidates: Candidacy[], info?: ReadonlyMap<string, NodeInfo>): Choice {
  const p = pool(candidates.filter((c) => c.candidate), info);
  const endpoints = req.localOnly ? new Set(req.endpointNodes ?? []) : undefined;
  const why = candidates.find((c) => !c.candidate && c.node === req.current)?.why;
  return pick(req.ip, parseIP(req.ip), p, req, eligible(p, req.nodeSelector, endpoints), endpoints, why);
}

/**
 * The choice for one address among `p` limited to `base` (undefined: all): `current` while it qualifies,
 * else the HRW winner among the best preference tier of nodes that take new addresses.
 */
function pick(
  text: string, ip: IP | undefined, p: Pool, req: Pick<AddressRequest, 'current' | 'nodeSelector' | 'preferred' | 'strict'>,
  base: number[] | undefined, endpoints: ReadonlySet<string> | undefined, notCandidate: string | undefined,
): Choice {
  const { current, preferred, strict } = req;
  let kept = -1;
  let currentWhy = notCandidate;
  if (current !== undefined) {
    const i = p.index.get(current);
    if (i === undefined) {
      // not a candidate at all: `notCandidate` says why
    } else if (base && !base.includes(i)) {
      currentWhy = endpoints && !endpoints.has(current) ? 'no-ready-endpoint' : 'not-selected';
    } else if (strict && preferred && preferred.length > 0) {
      const tier = bestTier(p, base, preferred, () => true);
      if (!tier || tier.includes(i)) kept = i;
      else currentWhy = 'not-preferred';
    } else kept = i;
  }
  let win = -1;
  if (kept < 0) {
    const tier = preferred && preferred.length > 0 ? bestTier(p, base, preferred, (k) => p.keepOnly[k] === 0) : undefined;
    hashAddress(ip, text);
    win = winner(rHi, rLo, p, tier ?? base);
  }
  return decide(text, current, p, kept, win, currentWhy);
}

/** The node-level candidacy of every node on one (interface, family), computed once per pair. */
interface SegmentView {
  all: Map<string, Candidacy>;
  pool: Pool;
  /** `nodeSelector` (as JSON) -> the indices it lets in. */
  selected: Map<string, number[]>;
}

/** Requests for one address merged: shared addresses (several Services on one IP) have one node. */
interface Merged {
  ip: IP;
  /** Every spelling of the address among the requests, each a key of the result. */
  texts: string[];
  interface: string;
  current?: string | undefined;
  /** Intersection of the endpoint nodes of every localOnly request; undefined when none is localOnly. */
  endpoints?: Set<string> | undefined;
  nodeSelector?: Record<string, string> | undefined;
  preferred?: Record<string, string>[] | undefined;
  strict?: boolean | undefined;
}

function byService(a: AddressRequest, b: AddressRequest): number {
  return a.service < b.service ? -1 : a.service > b.service ? 1 : 0;
}

function merge(reqs: readonly AddressRequest[], out: Map<string, Choice>): Merged[] {
  // Grouped by address value: parseIP takes IPv4 only in canonical form, so its text is its identity; an
  // IPv6 address is keyed by its BigInt, which is cheaper than formatting it. A Map to positions plus an
  // array, because iterating an array costs much less than iterating a Map.
  const at = new Map<string | bigint, number>();
  const groups: { ip: IP; reqs: AddressRequest[] }[] = [];
  for (const r of reqs) {
    const ip = parseIP(r.ip);
    if (!ip) {
      out.set(r.ip, { ip: r.ip, reason: 'none', why: 'invalid-address' });
      continue;
    }
    const key = ip.family === 4 ? r.ip : ip.value;
    const i = at.get(key);
    if (i !== undefined) groups[i]!.reqs.push(r);
    else {
      at.set(key, groups.length);
      groups.push({ ip, reqs: [r] });
    }
  }
  const merged: Merged[] = new Array(groups.length);
  for (let k = 0; k < groups.length; k++) {
    const g = groups[k]!;
    if (g.reqs.length === 1) {
      const r = g.reqs[0]!;
      merged[k] = {
        ip: g.ip, texts: [r.ip], interface: r.interface, current: r.current, endpoints: r.localOnly ? new Set(r.endpointNodes) : undefined,
        nodeSelector: r.nodeSelector, preferred: r.preferred, strict: r.strict,
      };
      continue;
    }
    // Sorted by Service so the interface and `current` taken from a shared address do not depend on order.
    const rs = [...g.reqs].sort(byService);
    const m: Merged = {
      ip: g.ip, texts: [...new Set(rs.map((r) => r.ip))], interface: rs[0]!.interface,
      nodeSelector: rs[0]!.nodeSelector, preferred: rs[0]!.preferred, strict: rs[0]!.strict,
    };
    for (const r of rs) {
      if (m.current === undefined && r.current !== undefined) m.current = r.current;
      if (!r.localOnly) continue;
      const eps = new Set(r.endpointNodes);
      m.endpoints = m.endpoints ? new Set([...m.endpoints].filter((n) => eps.has(n))) : eps;
    }
    merged[k] = m;
  }
  return merged;
}

/**
 * Maps every requested address to a node: {@link candidacy} of every node, then {@link choose}. The node
 * facts, address hashes and name hashes are computed once per node and per (interface, family), so the
 * cost per address is one score per candidate. `health` is keyed by the node's probed address on the
 * segment (as `ProbeTracker` tracks it) or, failing that, by node name. Requests for the same address
 * (shared IPs, in whatever spelling) get one choice: a node must suit every one of them. The result is
 * keyed by `req.ip` as given, which is also `Choice.ip`; an unparseable address gets reason 'none'. Node
 * names are unique (as in Kubernetes); the result does not depend on the order of `reqs` or `nodes`.
 */
export function assign(
  reqs: readonly AddressRequest[],
  nodes: readonly NodeInfo[],
  health: ReadonlyMap<string, NodeHealth>,
  segments: ReadonlyMap<string, Segment>,
): Map<string, Choice> {
  const out = new Map<string, Choice>();
  const info = new Map(nodes.map((n) => [n.name, n]));
  // Per family, interface -> view: no key string to build per address.
  const views: Record<IPFamily, Map<string, SegmentView>> = { 4: new Map(), 6: new Map() };
  const view = (iface: string, family: IPFamily): SegmentView => {
    let v = views[family].get(iface);
    if (v) return v;
    const seg = segments.get(iface);
    const ranges = seg ? segmentRanges(seg) : [];
    const all = new Map<string, Candidacy>();
    for (const n of nodes) {
      const ip = addressOnSegment(n, family, ranges);
      all.set(n.name, nodeCandidacy(n, (ip !== undefined ? health.get(ip) : undefined) ?? health.get(n.name), ip));
    }
    v = { all, pool: pool([...all.values()].filter((c) => c.candidate), info), selected: new Map() };
    views[family].set(iface, v);
    return v;
  };

  for (const m of merge(reqs, out)) {
    const v = view(m.interface, m.ip.family);
    const p = v.pool;
    let base: number[] | undefined;
    if (m.nodeSelector && !m.endpoints) {
      // A pool's selector is the same for all its addresses: filter the nodes once per pool.
      const key = JSON.stringify(m.nodeSelector);
      base = v.selected.get(key);
      if (!base) v.selected.set(key, (base = eligible(p, m.nodeSelector, undefined)!));
    } else base = eligible(p, m.nodeSelector, m.endpoints);
    const currentWhy = m.current !== undefined && !p.index.has(m.current) ? v.all.get(m.current)?.why : undefined;
    const c = pick(m.texts[0]!, m.ip, p, m, base, m.endpoints, currentWhy);
    out.set(m.texts[0]!, c);
    for (let t = 1; t < m.texts.length; t++) out.set(m.texts[t]!, { ...c, ip: m.texts[t]! });
  }
  return out;
}
