/**
 * Which addresses may be announced: unicast addresses that belong to no host of the segment already. One
 * rule for every way an address reaches l2lb (config `vips`, the admin API, config pools, `Eip` objects,
 * Service annotations, `spec.loadBalancerIP`). Pure: what the host has (its own addresses and connected
 * subnets) comes in as an argument.
 */
import { type IP, formatIP } from './ip.ts';
import { type CIDR, type IPRange, cidrRange, formatRange, parseCIDR, rangeContains, rangesOverlap } from './range.ts';

/** Why an address may not be announced. */
export type AddressProblem =
  | 'unspecified' // 0.0.0.0/8 ("this network"), ::
  | 'loopback' // 127.0.0.0/8, ::1
  | 'multicast' // 224.0.0.0/4, ff00::/8
  | 'limited-broadcast' // 255.255.255.255
  | 'reserved' // 240.0.0.0/4 (class E: not forwarded by any stack)
  | 'link-local' // 169.254.0.0/16, fe80::/10: neighbours resolve them per link; a VIP there serves nobody routed
  | 'ipv4-mapped' // ::ffff:0:0/96: an IPv4 address in IPv6 clothing
  | 'subnet-network' // the first address of a connected IPv4 subnet (/30 or wider)
  | 'subnet-broadcast' // the last address of a connected IPv4 subnet (/30 or wider)
  | 'own-address'; // configured on this host (or, in Kubernetes mode, a Node's InternalIP)

/** What the host has, as far as the rule needs it. */
export interface HostAddresses {
  /** Connected subnets (interface address with prefix), any family. */
  subnets?: readonly CIDR[];
  /** Addresses that belong to hosts of the segment already: this host's own, the Nodes'. */
  own?: readonly IP[];
  /** What owns each of `own`, for the message ("eth0", "node node-1"); by canonical text. */
  ownedBy?: ReadonlyMap<string, string>;
}

/** The fixed blocks, in the order they are checked (the limited broadcast address is inside 240/4). */
const BLOCKS: readonly { range: IPRange; block: string; problem: AddressProblem }[] = ([
  ['0.0.0.0/8', 'unspecified'], ['127.0.0.0/8', 'loopback'], ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'limited-broadcast'], ['240.0.0.0/4', 'reserved'], ['169.254.0.0/16', 'link-local'],
  ['::/128', 'unspecified'], ['::1/128', 'loopback'], ['::ffff:0:0/96', 'ipv4-mapped'], ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
] as const).map(([block, problem]) => ({ range: cidrRange(parseCIDR(block)!), block, problem }));

/** What a problem means, in the words an error message uses after the address. */
const WORDS: Record<AddressProblem, string> = {
  unspecified: 'is the unspecified address ("this network")',
  loopback: 'is a loopback address',
  multicast: 'is a multicast address',
  'limited-broadcast': 'is the limited broadcast address',
  reserved: 'is in the reserved range 240.0.0.0/4',
  'link-local': 'is a link-local address',
  'ipv4-mapped': 'is an IPv4-mapped IPv6 address (announce the IPv4 address instead)',
  'subnet-network': 'is the network address of a connected subnet',
  'subnet-broadcast': 'is the broadcast address of a connected subnet',
  'own-address': 'already belongs to a host on the segment',
};

/**
 * Why `ip` may not be announced, or undefined when it may: the fixed blocks first, then what `host` has.
 * Network and broadcast addresses count for connected IPv4 subnets of /30 or wider (a /31 and a /32 have
 * none, RFC 3021).
 */
export function addressProblem(ip: IP, host: HostAddresses = {}): AddressProblem | undefined {
  for (const b of BLOCKS) {
    if (rangeContains(b.range, ip)) return b.problem;
  }
  if (host.own?.some((o) => o.family === ip.family && o.value === ip.value)) return 'own-address';
  for (const s of host.subnets ?? []) {
    if (s.ip.family !== 4 || ip.family !== 4 || s.prefix > 30) continue;
    const r = cidrRange(s);
    if (ip.value === r.first.value) return 'subnet-network';
    if (ip.value === r.last.value) return 'subnet-broadcast';
  }
  return undefined;
}

/** A sentence saying why `ip` cannot be announced (with the subnet or owner where there is one). */
export function describeAddressProblem(ip: IP, problem: AddressProblem, host: HostAddresses = {}): string {
  const text = formatIP(ip);
  if (problem === 'own-address') {
    const who = host.ownedBy?.get(text);
    return `${text} ${WORDS[problem]}${who ? ` (${who})` : ''}: it cannot be announced`;
  }
  if (problem === 'subnet-network' || problem === 'subnet-broadcast') {
    const s = host.subnets?.find((c) => c.ip.family === 4 && c.prefix <= 30 && rangeContains(cidrRange(c), ip));
    return `${text} ${WORDS[problem]}${s ? ` ${formatIP(s.ip)}/${s.prefix}` : ''}: it cannot be announced`;
  }
  return `${text} ${WORDS[problem]}: it cannot be announced`;
}


/** What is left of a range once the fixed blocks are taken off its ends. */
export interface ClippedRange {
  /** The announceable part; undefined when nothing is left, or a block sits inside the range. */
  range?: IPRange;
  /** Blocks taken off the ends ("224.0.0.0/4 (multicast)"). */
  clipped: string[];
  /** Why nothing is usable: the whole range is in blocks, or a block splits it in two. */
  problem?: string;
}

/**
 * Takes the fixed blocks (multicast, loopback, ...) off the ends of a range: a pool running into multicast
 * keeps its unicast part and says what it skipped. A block strictly inside the range would split it in two;
 * that is refused with a reason rather than half-used.
 */
export function clipRange(r: IPRange): ClippedRange {
  let first = r.first.value;
  let last = r.last.value;
  const family = r.first.family;
  const clipped: string[] = [];
  const at = (v: bigint) => BLOCKS.find((b) => rangeContains(b.range, { family, value: v }));
  // Peel blocks off either end until both ends are announceable (adjacent blocks come off one by one).
  for (;;) {
    const b = first <= last ? (at(first) ?? at(last)) : undefined;
    if (!b) break;
    clipped.push(`${b.block} (${b.problem})`);
    if (rangeContains(b.range, { family, value: first })) first = b.range.last.value + 1n;
    if (first <= last && rangeContains(b.range, { family, value: last })) last = b.range.first.value - 1n;
  }
  if (first > last) return { clipped, problem: `every address of ${formatRange(r)} is in ${clipped.join(', ')}` };
  const range = { first: { family, value: first }, last: { family, value: last } };
  const inside = BLOCKS.find((b) => rangesOverlap(b.range, range));
  if (inside) {
    return { clipped, problem: `${formatRange(r)} spans ${inside.block} (${inside.problem}), whose addresses cannot be announced: write it as two pools, one on each side` };
  }
  return { range, clipped };
}

/** The addresses inside `r` that the host facts rule out (own addresses, subnet network/broadcast), sorted. */
export function hostExclusions(r: IPRange, host: HostAddresses): IP[] {
  const out = new Map<bigint, IP>();
  for (const o of host.own ?? []) if (rangeContains(r, o)) out.set(o.value, o);
  for (const s of host.subnets ?? []) {
    if (s.ip.family !== 4 || r.first.family !== 4 || s.prefix > 30) continue;
    const c = cidrRange(s);
    for (const ip of [c.first, c.last]) if (rangeContains(r, ip)) out.set(ip.value, ip);
  }
  return [...out.values()].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

