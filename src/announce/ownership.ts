/**
 * Per-node mode (`kubernetes.announce: self`): what the heartbeats and the probes say about the l2lb
 * instance on each node, as the HRW choice in `nodes.ts` takes it (`NodeInfo.instance`). Pure: every
 * instance given the same heartbeats, probe results and time decides alike.
 *
 * Failure and restart are told apart by the node's kernel: it answers the ARP/NS probe of its own address
 * whatever l2lb does. Heartbeats gone and the probe failing: the node is dead, its addresses move at once.
 * Heartbeats gone and the probe answered: the instance restarts (rolling update, crash, OOM) on a node
 * that still takes traffic: clients' neighbour entries point at it and its kube-proxy serves, so it keeps
 * what it serves for `graceMs` (and takes nothing new) before its addresses move.
 */
import type { NodeHealth, NodeInfo } from './nodes.ts';

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
 */
export function instanceView(seen: InstanceSeen | undefined, probe: NodeHealth | undefined, now: number, policy: InstancePolicy): InstanceView {
  if (seen && now - seen.heard <= policy.overdueMs) {
    // Heartbeats on time: alive even if a probe was lost under load (a false move costs every flow).
    if (probe?.state === 'down') {
      const mac = probe.mac ?? seen.mac;
      return { instance: 'live', health: { ...probe, state: 'up', ...(mac !== undefined ? { mac } : {}) }, wakeAt: seen.heard + policy.overdueMs + 1 };
    }
    return { instance: 'live', health: probe };
  }
  if (seen?.live) return { instance: 'live', health: probe };
  const silentSince = seen ? seen.heard : policy.startedAt;
  const graceEnds = silentSince + policy.graceMs;
  if (probe?.state === 'up' && now < graceEnds) return { instance: 'restarting', health: probe, wakeAt: graceEnds };
  return { instance: 'absent', health: probe };
}
