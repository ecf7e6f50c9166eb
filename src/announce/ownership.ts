/**
 * Which node serves which Service address, and why: the one decision both announce styles make (the
 * gateway model, where the leader answers with the chosen node's MAC, and the per-node mode, where each
 * node's instance answers for what its own node owns). Pure: every input is an argument, so every
 * instance given the same inputs decides alike, and the rules are tested without sockets or a cluster.
 * The controller (`kube/controller.ts`) gathers the inputs and does the I/O with the result.
 *
 * In the per-node mode the decision must not depend on an instance's own history, or two instances that
 * once saw different things would disagree for good. So `current` (the stickiness) comes from a shared
 * record, the Service's `l2lb.io/serving-node` annotation that one writer keeps, and this instance's last
 * decision only says since when and whether something moved. Two instances with the same inputs then name
 * the same node for every address, whatever happened before.
 */
import {
  type AddressRequest, type Candidacy, type Choice, type NodeHealth, type NodeInfo, type NotCandidate, type Segment,
  addressOnSegment, assign, candidacy, nodeCandidacy, segmentRanges,
} from './nodes.ts';

// ---------------------------------------------------------------------------------------------------------
// Per-node mode: the instance on each node

/** What this instance heard of another node's instance. */
export interface InstanceSeen {
  /** Last heartbeat (ms since the epoch). */
  heard: number;
  /** Still in the members table (not expired, did not say it stopped). */
  live: boolean;
  /** The MAC its heartbeats come from. */
  mac?: string;
}

/** Timings of the per-node rules. */
export interface InstancePolicy {
  /**
   * A heartbeat younger than this proves the node alive even when a probe is lost (default 1.5 heartbeat
   * intervals): both must fail for a node to be dead.
   */
  overdueMs: number;
  /** How long a node whose probe answers keeps its addresses after its instance went silent. */
  graceMs: number;
  /** When this instance started listening: a node never heard is taken as silent since then. */
  startedAt: number;
}

/** A node's instance, its health as candidacy should judge it, and when that may change by itself. */
export interface InstanceView {
  instance: NonNullable<NodeInfo['instance']>;
  health: NodeHealth | undefined;
  /** The time at which the view changes without any new input (grace over, heartbeat overdue). */
  wakeAt?: number;
}

/**
 * The instance state of one node and the health its candidacy is judged on, from its last heartbeat
 * (`seen`, undefined when never heard) and its probe result (`probe`).
 *
 * Failure and restart are told apart by the node's kernel: it answers the ARP/NS probe of its own address
 * whatever l2lb does. Heartbeats gone and the probe failing: the node is dead, its addresses move at once.
 * Heartbeats gone and the probe answered: the instance restarts (rolling update, crash, OOM) on a node
 * that still takes traffic: clients' neighbour entries point at it and its kube-proxy serves, so it keeps
 * what it serves for `graceMs` (and takes nothing new) before its addresses move.
 */
export function instanceView(seen: InstanceSeen | undefined, probe: NodeHealth | undefined, now: number, policy: InstancePolicy): InstanceView {
  if (seen && now - seen.heard <= policy.overdueMs) {
    // Heartbeats on time: alive even if a probe was lost under load (a false move costs every flow).
    if (probe?.state !== 'up') {
      const mac = probe?.mac ?? seen.mac;
      return {
        instance: 'live',
        health: { ...probe, state: 'up', ...(mac !== undefined ? { mac } : {}) },
        wakeAt: seen.heard + policy.overdueMs + 1,
      };
    }
    return { instance: 'live', health: probe };
  }
  if (seen?.live) return { instance: 'live', health: probe };
  const silentSince = seen ? seen.heard : policy.startedAt;
  const graceEnds = silentSince + policy.graceMs;
  if (probe?.state === 'up' && now < graceEnds) return { instance: 'restarting', health: probe, wakeAt: graceEnds };
  return { instance: 'absent', health: probe };
}

/** What the per-node mode adds to the inputs of one decision. */
export interface PeerFacts {
  /** The Node this instance runs on. */
  self: string;
  /** The instances heard, by Node name. */
  seen: ReadonlyMap<string, InstanceSeen>;
  /** This host's links, by interface: its MAC and whether it runs. Our own node is judged by them. */
  links: ReadonlyMap<string, { mac?: string; up: boolean }>;
  policy: InstancePolicy;
}

/**
 * The nodes with their `instance` state and the health candidacy should use: our own node's addresses are
 * judged by our own links (we do not probe ourselves), every other node by {@link instanceView}. Also the
 * earliest time at which that changes with no new input.
 */
export function withInstances(
  nodes: readonly NodeInfo[], health: ReadonlyMap<string, NodeHealth>, segments: ReadonlyMap<string, Segment>, peers: PeerFacts, now: number,
): { nodes: NodeInfo[]; health: Map<string, NodeHealth>; wakeAt?: number } {
  const out = new Map(health);
  let wake = Infinity;
  const result = nodes.map((n): NodeInfo => {
    if (n.name === peers.self) {
      for (const [iface, seg] of segments) {
        const own = peers.links.get(iface) ?? { up: false };
        for (const family of [4, 6] as const) {
          const ip = candidacy(n, undefined, family, seg).ip;
          if (ip) out.set(ip, { state: own.up ? 'up' : 'down', ...(own.mac ? { mac: own.mac } : {}) });
        }
      }
      return { ...n, instance: 'live' };
    }
    // The node is as alive as its best-answering address: the first up, else the first unknown, else the
    // first probed (a loop: two arrays per node per pass were garbage at 5,000 Nodes).
    let up: NodeHealth | undefined, unknown: NodeHealth | undefined, first: NodeHealth | undefined;
    for (const ip of n.internalIPs) {
      const h = health.get(ip);
      if (!h) continue;
      first ??= h;
      if (h.state === 'up') up ??= h;
      else if (h.state === 'unknown') unknown ??= h;
    }
    const probe = up ?? unknown ?? first;
    const view = instanceView(peers.seen.get(n.name), probe, now, peers.policy);
    if (view.wakeAt !== undefined) wake = Math.min(wake, view.wakeAt);
    if (view.health && view.health !== probe) {
      for (const ip of n.internalIPs) {
        const h = health.get(ip);
        out.set(ip, { ...h, state: view.health.state, ...(view.health.mac !== undefined ? { mac: view.health.mac } : {}) });
      }
    }
    return { ...n, instance: view.instance };
  });
  return { nodes: result, health: out, ...(Number.isFinite(wake) ? { wakeAt: wake } : {}) };
}

// ---------------------------------------------------------------------------------------------------------
// The decision

/** Which node serves one address, as one instance decided it. */
export interface Serving {
  /** Undefined: no node serves it (no candidate, or waiting for the first probes). */
  node?: string;
  /** The node's MAC (from its probe answers, or our own link's). */
  mac?: string;
  /** Since when this instance has decided so (ms since the epoch). */
  since: number;
  /**
   * initial: first node of a new address; kept: the recorded node confirmed; moved: `from` lost it for
   * `why`; waiting: no first choice before the first probes; none: no node can serve it.
   */
  reason: 'initial' | 'kept' | 'moved' | 'waiting' | 'none';
  /** On 'moved' (and on 'none' after a node lost it): the node that had it. */
  from?: string;
  /**
   * Why `from` lost it: a {@link NotCandidate}, 'node-removed', 'not-selected', 'not-preferred', or
   * 'record' when `from` can still serve but the shared record names another node.
   */
  why?: string;
}

/** An address that changed node. */
export interface Move {
  ip: string;
  from: string;
  /** Undefined: withdrawn, no node can serve it. */
  to?: string;
  /** Why `from` lost it (see {@link Serving.why}). */
  why: string;
}

/** The inputs of one decision. */
export interface OwnershipInput {
  /** One per Service address; `current` is the shared record of its node (stickiness). */
  requests: readonly AddressRequest[];
  /** Nodes as candidacy judges them (per-node mode: through {@link withInstances}). */
  nodes: readonly NodeInfo[];
  /** Health by node address (probes, kube-proxy checks). */
  health: ReadonlyMap<string, NodeHealth>;
  /** Each interface's segment. */
  segments: ReadonlyMap<string, Segment>;
  /** What this instance decided last, by address. */
  previous: ReadonlyMap<string, Serving>;
  /** Per-node mode: our own node (judged by our links, never probed). */
  self?: string;
  now: number;
}

/** The result of one decision. */
export interface Ownership {
  /** Every requested address, by address. */
  serving: Map<string, Serving>;
  /** Addresses whose node changed from `previous` (a first choice is not a move). */
  moves: Move[];
  /** Addresses given their first node (none before). */
  firsts: { ip: string; node: string }[];
  /** Every node's candidacy: the best over its interfaces and families, for the API. */
  candidacy: Map<string, Candidacy>;
  /** Node addresses to probe, per interface. */
  probes: Map<string, string[]>;
}

/** Words for why a node lost an address or cannot serve one; `detail` adds what the probes saw. */
export function describeWhy(node: string, why: string | undefined, detail: { misses?: number; proxyResult?: string } = {}): string {
  switch (why as NotCandidate | 'node-removed' | 'not-selected' | 'not-preferred' | 'record' | undefined) {
    case 'probe-down': return `${node} missed ${detail.misses ?? 0} probes`;
    case 'kube-proxy-down': return `${node} kube-proxy health check failed${detail.proxyResult ? ` (${detail.proxyResult})` : ''}`;
    case 'not-ready': return `${node} is not Ready`;
    case 'excluded': return `${node} is excluded from load balancers`;
    case 'no-address-on-segment': return `${node} has no address on the segment`;
    case 'probe-unknown': return `${node} is not probed yet`;
    case 'no-ready-endpoint': return `${node} has no ready endpoint of the Service`;
    case 'kube-proxy-unknown': return `${node} kube-proxy health check has no result yet`;
    case 'out-of-service': return `${node} is tainted node.kubernetes.io/out-of-service`;
    case 'no-instance': return `${node} has no l2lb instance heard (silent past kubernetes.restartGrace, or never started)`;
    case 'not-selected': return `${node} does not match the pool's nodeSelector`;
    case 'not-preferred': return `a more preferred node than ${node} can serve (l2lb.io/prefer: strict)`;
    case 'node-removed': return `${node} is no longer a Node`;
    case 'record': return `the record (${'l2lb.io/serving-node'}) names another node than ${node}`;
    default: return `${node} is no longer a candidate`;
  }
}

/**
 * Why a node that had an address lost it: what the choice says, else its own candidacy, else the record
 * moved on while it could still serve.
 */
function lostWhy(c: Choice | undefined, node: string, best: ReadonlyMap<string, Candidacy>): string {
  return (c?.movedFrom === node && c.why) || (best.get(node)?.candidate === false ? best.get(node)!.why! : best.has(node) ? 'record' : 'node-removed');
}

const FAMILIES = [4, 6] as const;

/**
 * Decides the node of every requested address: the sticky rendezvous choice of `nodes.ts` over the
 * candidates, plus two rules of timing. A first choice waits until every node that could serve on the
 * interface has a probe result (answers arrive one at a time: choosing before would stick to whichever
 * answered first, and instances would disagree); 'unknown' lasts at most `health.failures` rounds. An
 * address whose node has no MAC known is withdrawn rather than pointed at nothing.
 */
export function decideOwnership(input: OwnershipInput): Ownership {
  const { requests, nodes, health, segments, previous, self, now } = input;
  // Given as they are: assign only reads them, and copies were 10,000 requests and every node's health per pass.
  const choices = assign(requests, nodes, health, segments);
  const probes = new Map<string, string[]>();
  const best = new Map<string, Candidacy>();
  // Interfaces with a node whose first probe (or kube-proxy check) result is still out.
  const unsettled = new Set<string>();
  for (const [iface, seg] of segments) {
    const ips: string[] = [];
    // The segment's ranges once, each node's address once per family: not per node and call.
    const ranges = segmentRanges(seg);
    for (const n of nodes) {
      for (const family of FAMILIES) {
        const ip = addressOnSegment(n, family, ranges);
        if (ip === undefined) continue;
        // Probe whatever the wire could make a candidate: Ready, not excluded, with an address here.
        if (n.name !== self && n.ready && !n.excluded) ips.push(ip);
        const real = nodeCandidacy(n, health.get(ip), ip);
        if (!best.has(n.name) || real.candidate) best.set(n.name, real);
        if (real.why === 'probe-unknown' || real.why === 'kube-proxy-unknown') unsettled.add(iface);
      }
    }
    probes.set(iface, [...new Set(ips)].sort());
  }
  for (const n of nodes) if (!best.has(n.name)) best.set(n.name, candidacy(n, undefined, 4, { interface: '', prefixes: [] }));

  const serving = new Map<string, Serving>();
  const moves: Move[] = [];
  const firsts: { ip: string; node: string }[] = [];
  for (const req of requests) {
    const c = choices.get(req.ip);
    const before = previous.get(req.ip);
    // A first choice that merely confirms the record is no guess: it needs no wait.
    if (!before?.node && !(req.current !== undefined && c?.node === req.current) && unsettled.has(req.interface)) {
      serving.set(req.ip, { since: before?.since ?? now, reason: 'waiting' });
      continue;
    }
    if (!c?.node || !c.mac) {
      if (before?.node) {
        const why = lostWhy(c, before.node, best);
        moves.push({ ip: req.ip, from: before.node, why });
        serving.set(req.ip, { since: now, reason: 'none', from: before.node, why });
      } else serving.set(req.ip, { since: before?.since ?? now, reason: 'none', ...(before?.from ? { from: before.from, why: before.why } : {}) });
      continue;
    }
    if (before?.node === c.node) {
      // Unchanged (nearly every address on nearly every pass): the same object, not a copy per pass.
      serving.set(req.ip, before.mac === c.mac ? before : { ...before, mac: c.mac });
      continue;
    }
    if (before?.node) {
      const why = lostWhy(c, before.node, best);
      moves.push({ ip: req.ip, from: before.node, to: c.node, why });
      serving.set(req.ip, { node: c.node, mac: c.mac, since: now, reason: 'moved', from: before.node, why });
      continue;
    }
    firsts.push({ ip: req.ip, node: c.node });
    serving.set(req.ip, c.reason === 'moved'
      ? { node: c.node, mac: c.mac, since: now, reason: 'moved', from: c.movedFrom!, why: c.why ?? 'node-removed' }
      : { node: c.node, mac: c.mac, since: now, reason: c.reason === 'kept' ? 'kept' : 'initial' });
  }
  return { serving, moves, firsts, candidacy: best, probes };
}
