/**
 * Node health from the wire: every `interval` each target (a node address) is asked by ARP / NS; an answer
 * before the next round is a hit, none is a miss. `failures` consecutive misses mark a node down,
 * `successes` consecutive hits mark it up again. Pure: the caller sends the probes and passes the time.
 */

import { type IP, IPV4_ANY } from '../net/ip.ts';
import type { MAC } from '../net/mac.ts';
import { arpRequestFrame } from '../wire/arp.ts';
import { dadProbeFrame, nsRequestFrame } from '../wire/ndp.ts';

/** Health of one probed address. */
export type ProbeState = 'unknown' | 'up' | 'down';

/** Thresholds (config `health`). */
export interface ProbePolicy {
  intervalMs: number;
  failures: number;
  successes: number;
  /**
   * An answer later than this after its probe is a miss (default half the interval). Without a deadline a
   * miss would only be counted when the next round starts, adding up to a whole interval to every failover.
   */
  deadlineMs?: number;
}

/** What the tracker knows about one address. */
export interface ProbeTarget {
  ip: string;
  state: ProbeState;
  /** MAC from the last answer. */
  mac?: string;
  misses: number;
  hits: number;
  lastSeen?: number;
  /** A probe was sent and no answer came yet. */
  outstanding: boolean;
  /** The outstanding probe already counted as a miss (its deadline passed). */
  expired: boolean;
  /** When the outstanding probe's answer is due (a round's deadline, or a retry's). */
  dueAt?: number;
  since: number;
  /** Round trip of the last answered probe, ms. */
  rtt?: number;
  /** Round trips of the last {@link RTT_SAMPLES} answered probes, oldest first (the status page's chart). */
  rtts?: number[];
}

/** Round trips kept per target. */
export const RTT_SAMPLES = 30;

/**
 * When the answer to a retry is due: a node that missed one probe is asked again at once instead of at the
 * next round, with a shorter deadline (answers on a LAN take well under a millisecond; 30 ms leaves room for
 * a loaded host). The three-miss rule stands; only the wait between the misses shrinks.
 */
export function retryDeadline(policy: ProbePolicy): number {
  return Math.max(5, Math.floor(probeDeadline(policy) * 0.6));
}

/** When a round's answers are due, in ms after the round's start: `deadlineMs`, else half the interval. */
export function probeDeadline(policy: ProbePolicy): number {
  return Math.max(1, Math.min(policy.deadlineMs ?? Math.floor(policy.intervalMs / 2), policy.intervalMs - 1));
}

/**
 * The frame that asks whether `target` is there: ARP in probe form (sender 0.0.0.0, so the target's
 * neighbour table is not touched) or an NS from our link-local `src6`; to `mac` by unicast when given.
 * Without `src6` an IPv6 target gets a DAD-form NS when broadcast, and nothing (undefined) by unicast.
 */
export function presenceProbeFrame(ethSrc: MAC, target: IP, src6?: IP, mac?: MAC): Uint8Array | undefined {
  if (target.family === 4) return arpRequestFrame(ethSrc, IPV4_ANY, target, mac);
  if (src6) return nsRequestFrame(ethSrc, src6, target, mac);
  return mac ? undefined : dadProbeFrame(ethSrc, target);
}

/** Consecutive results of one checked address: what {@link countResult} reads and updates. */
export interface ResultCount {
  state: ProbeState;
  hits: number;
  misses: number;
}

/**
 * Applies one result to `c`: `failures` consecutive misses make it down, `successes` consecutive hits bring
 * it back up, and one hit settles an address never judged yet. Shared by the wire probes and the kube-proxy
 * check (`kube/proxyhealth.ts`), so both judge alike. Returns the state before.
 */
export function countResult(c: ResultCount, ok: boolean, policy: Pick<ProbePolicy, 'failures' | 'successes'>): ProbeState {
  const before = c.state;
  if (ok) {
    c.misses = 0;
    c.hits++;
    const need = c.state === 'unknown' ? 1 : policy.successes;
    if (c.state !== 'up' && c.hits >= need) c.state = 'up';
  } else {
    c.misses++;
    c.hits = 0;
    if (c.state !== 'down' && c.misses >= policy.failures) c.state = 'down';
  }
  return before;
}

/** A change of state, reported once. */
export interface ProbeChange {
  ip: string;
  state: ProbeState;
  before: ProbeState;
  mac?: string;
  misses: number;
  at: number;
  /** When the address last answered (for the time a failover took, measured from the last sign of life). */
  lastSeen?: number;
}

/** One probe to send: to `mac` by unicast when the address answered its last probe from there, else broadcast. */
export interface ProbeSend {
  ip: string;
  mac?: string;
}

/** Tracks the probe rounds of a set of addresses. */
export class ProbeTracker {
  private readonly targets = new Map<string, ProbeTarget>();
  /** Misses counted since this tracker was made: a probe whose answer did not come by its deadline. */
  missed = 0;

  constructor(private readonly policy: ProbePolicy) {}

  /** Replaces the set of addresses; new ones start `unknown`, kept ones keep their state. */
  setTargets(ips: Iterable<string>, now: number): void {
    const keep = new Set(ips);
    for (const ip of this.targets.keys()) if (!keep.has(ip)) this.targets.delete(ip);
    for (const ip of keep) {
      if (!this.targets.has(ip)) this.targets.set(ip, { ip, state: 'unknown', misses: 0, hits: 0, outstanding: false, expired: false, since: now });
    }
  }

  /**
   * Starts a round: every address still waiting for the previous round's answer gets a miss. Returns the
   * probes to send now and the state changes the misses caused.
   *
   * An address that answered its last probe is probed by unicast to the MAC it answered from, as Linux
   * re-checks a known neighbour: broadcasting every probe would make every host on the segment process
   * 1,000 frames/s for 100 nodes. After a miss the probe is broadcast again, so a node that changed its MAC
   * (a replaced NIC) is found at the cost of one miss.
   */
  round(now: number): { probe: ProbeSend[]; changes: ProbeChange[] } {
    const changes: ProbeChange[] = [];
    const probe: ProbeSend[] = [];
    const due = now + probeDeadline(this.policy);
    for (const t of this.targets.values()) {
      // A retry still waiting for its answer is this round's probe already.
      if (t.outstanding && !t.expired && t.dueAt !== undefined && t.dueAt > now) continue;
      if (t.outstanding && !t.expired) this.miss(t, now, changes);
      t.outstanding = true;
      t.expired = false;
      t.dueAt = due;
      probe.push(t.misses === 0 && t.mac !== undefined ? { ip: t.ip, mac: t.mac } : { ip: t.ip });
    }
    return { probe, changes };
  }

  /**
   * The retries due now: every address whose last probe was just counted a miss and that is not down yet
   * is asked again at once (broadcast: its MAC may have changed), due {@link retryDeadline} later. Call after
   * {@link expire}.
   */
  retry(now: number): ProbeSend[] {
    const probe: ProbeSend[] = [];
    for (const t of this.targets.values()) {
      if (!t.outstanding || !t.expired || t.state === 'down' || t.misses === 0) continue;
      t.expired = false;
      t.dueAt = now + retryDeadline(this.policy);
      probe.push({ ip: t.ip });
    }
    return probe;
  }

  /** Counts a miss for every probe still unanswered at its deadline. */
  expire(now: number): ProbeChange[] {
    const changes: ProbeChange[] = [];
    for (const t of this.targets.values()) {
      if (t.outstanding && !t.expired && (t.dueAt === undefined || t.dueAt <= now)) {
        t.expired = true;
        this.miss(t, now, changes);
      }
    }
    return changes;
  }

  /** When the next outstanding answer is due (Infinity: none). */
  nextDue(): number {
    let next = Infinity;
    for (const t of this.targets.values()) if (t.outstanding && !t.expired && t.dueAt !== undefined) next = Math.min(next, t.dueAt);
    return next;
  }

  private miss(t: ProbeTarget, now: number, changes: ProbeChange[]): void {
    this.missed++;
    const before = countResult(t, false, this.policy);
    if (t.state !== before) this.moved(t, before, now, changes);
  }

  /**
   * Records an answer from `ip` with `mac`. A changed MAC is reported as a change with the same state.
   * `rttMs`: the time since the probe it answers was sent (the caller's monotonic clock: `now` is wall time
   * in ms, too coarse for a LAN's sub-millisecond round trips); kept only for the answer that counts.
   */
  answer(ip: string, mac: string, now: number, rttMs?: number): ProbeChange[] {
    const t = this.targets.get(ip);
    if (!t) return [];
    const changes: ProbeChange[] = [];
    const macChanged = t.mac !== undefined && t.mac !== mac;
    t.mac = mac;
    t.lastSeen = now;
    // Only the first answer to a round counts: duplicates (several replies to one request) are not hits. A
    // late answer (after the deadline counted a miss) still shows the node alive and counts.
    if (!t.outstanding) {
      if (macChanged) changes.push({ ip, state: t.state, before: t.state, mac, misses: t.misses, at: now });
      return changes;
    }
    t.outstanding = false;
    t.expired = false;
    if (rttMs !== undefined && rttMs >= 0) {
      t.rtt = Math.round(rttMs * 1000) / 1000;
      t.rtts = [...(t.rtts ?? []).slice(-(RTT_SAMPLES - 1)), t.rtt];
    }
    const before = countResult(t, true, this.policy);
    if (t.state !== before) this.moved(t, before, now, changes);
    else if (macChanged) changes.push({ ip, state: t.state, before: t.state, mac, misses: 0, at: now });
    return changes;
  }

  /** Every target, for the API. */
  list(): ProbeTarget[] {
    return [...this.targets.values()].map((t) => ({ ...t, ...(t.rtts ? { rtts: [...t.rtts] } : {}) }));
  }

  /** One target. */
  get(ip: string): ProbeTarget | undefined {
    const t = this.targets.get(ip);
    return t && { ...t };
  }

  /** Reports the state change {@link countResult} just made. */
  private moved(t: ProbeTarget, before: ProbeState, now: number, changes: ProbeChange[]): void {
    changes.push({ ip: t.ip, state: t.state, before, mac: t.mac, misses: t.misses, at: now, lastSeen: t.lastSeen });
    t.since = now;
  }
}
