/**
 * Who answers on the wire, decided from the heartbeats heard (`members.ts`) and, in Kubernetes mode, the
 * Lease. Pure: every replica computes the same answer from the same view, so two standbys never both act.
 *
 * The rules:
 * 1. A replica listens for one full window (`interval × misses`) before it may act: at start, and again
 *    after it was *fenced* — its main thread stalled longer than that window (SIGSTOP, a VM pause, a GC or
 *    disk stall) or its segment link went down. A fenced replica answers nothing, whatever it held before.
 * 2. Claims are ordered: a claim confirmed by the Lease (renewed after the last fence) beats one that is
 *    not; then the higher term; then (standalone) the higher priority; then the smaller identity.
 * 3. A replica leads while no live leader's claim beats its own. When no live replica leads, the first in
 *    line of the live replicas (fenced ones too) and itself (priority, then identity) acts, with a term one above
 *    every term it has heard, before the Lease expires; API writes still wait for the Lease.
 * 4. A replica coming out of a fence that hears a leader with a higher term than its own steps down and
 *    gives its Lease up: a newer term means someone else led while it was away.
 * 5. Standalone: a live leader keeps leading when a replica of higher priority appears, unless `preempt`:
 *    then that replica acts with a higher term and the old leader yields by rule 3.
 */
import { FLAG_FENCED, FLAG_LEADER, FLAG_LEASE } from '../wire/heartbeat.ts';
import type { Member } from './members.ts';

/** The role a replica plays on the wire. */
export type Role = 'leader' | 'standby' | 'fenced';

/** A leadership claim, ours or one heard. */
export interface Claim {
  identity: string;
  term: number;
  /** Confirmed by the API server through the Lease. */
  lease: boolean;
  priority: number;
}

/** Everything the decision depends on. */
export interface LeadershipInput {
  now: number;
  self: { identity: string; priority: number };
  /** Whether we lead now, with which term. */
  current: { role: Role; term: number };
  /** When we started listening: at start and at the end of the last fence. */
  listeningSince: number;
  /** The listening window: our own `interval × misses`. */
  window: number;
  live: Member[];
  /** Kubernetes mode: whether we hold the Lease, renewed after `listeningSince`, and its term. */
  lease?: { held: boolean; term: number };
  /** Standalone: whether a better replica takes over from a live leader. */
  preempt: boolean;
}

/** The decision and why. */
export interface Leadership {
  role: Role;
  term: number;
  /** Who holds `term` as far as we know. */
  termHolder: string;
  /** Give the Lease up (rule 4). */
  yieldLease: boolean;
  reason: string;
}

/** Whether claim `a` beats claim `b` (rule 2). `byPriority` only in standalone mode. */
export function beats(a: Claim, b: Claim, byPriority: boolean): boolean {
  if (a.lease !== b.lease) return a.lease;
  if (a.term !== b.term) return a.term > b.term;
  if (byPriority && a.priority !== b.priority) return a.priority > b.priority;
  return a.identity < b.identity;
}

/** Line order of replicas to act when nobody leads: priority (higher first), then identity. */
export function inLine(a: { identity: string; priority: number }, b: { identity: string; priority: number }): number {
  return b.priority - a.priority || (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0);
}

function claimOf(m: Member): Claim {
  return { identity: m.identity, term: m.last.term, lease: (m.last.flags & FLAG_LEASE) !== 0, priority: m.last.priority };
}

/** Applies the rules above. */
export function decideLeadership(input: LeadershipInput): Leadership {
  const { now, self, current, live, lease } = input;
  const kube = lease !== undefined;
  const leaders = live.filter((m) => (m.last.flags & FLAG_LEADER) !== 0 && (m.last.flags & FLAG_FENCED) === 0);
  const heardTerm = Math.max(0, ...live.map((m) => m.last.term));
  const best = leaders.map(claimOf).sort((a, b) => (beats(a, b, !kube) ? -1 : 1))[0];
  const ownTerm = Math.max(current.term, lease?.term ?? 0);
  const mine: Claim = { identity: self.identity, term: ownTerm, lease: lease?.held ?? false, priority: self.priority };

  if (now - input.listeningSince < input.window) {
    const yieldLease = best !== undefined && best.term > ownTerm && current.role !== 'standby';
    return { role: 'fenced', term: ownTerm, termHolder: best?.identity ?? self.identity, yieldLease, reason: 'listening' };
  }
  if (current.role === 'fenced' && best && best.term > ownTerm) {
    return { role: 'standby', term: best.term, termHolder: best.identity, yieldLease: true, reason: `${best.identity} leads term ${best.term}` };
  }
  if (best && (current.role !== 'leader' || beats(best, mine, !kube))) {
    if (!kube && input.preempt && current.role === 'standby' && self.priority > best.priority) {
      const term = Math.max(ownTerm, heardTerm) + 1;
      return { role: 'leader', term, termHolder: self.identity, yieldLease: false, reason: `preempts ${best.identity} (priority ${self.priority} > ${best.priority})` };
    }
    return { role: 'standby', term: best.term, termHolder: best.identity, yieldLease: false, reason: `${best.identity} leads term ${best.term}` };
  }
  // Terms never go down: the Lease's transitions may lag a term taken on the wire.
  if (lease?.held) return { role: 'leader', term: ownTerm, termHolder: self.identity, yieldLease: false, reason: 'holds the Lease' };
  if (current.role === 'leader') {
    return { role: 'leader', term: ownTerm, termHolder: self.identity, yieldLease: false, reason: best ? 'outranks every other leader' : 'leads' };
  }
  // Fenced replicas keep their place in line: one that is only listening (at start) acts within a window,
  // and skipping it would let two replicas that started together both act.
  const line = live.map((m) => ({ identity: m.identity, priority: m.last.priority }));
  const first = [...line, self].sort(inLine)[0]!;
  if (first.identity !== self.identity) {
    return { role: 'standby', term: ownTerm, termHolder: first.identity, yieldLease: false, reason: `${first.identity} is first in line` };
  }
  const term = Math.max(ownTerm, heardTerm) + 1;
  return { role: 'leader', term, termHolder: self.identity, yieldLease: false, reason: 'no live leader heard' };
}
