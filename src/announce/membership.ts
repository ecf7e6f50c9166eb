/**
 * Membership on the wire: this replica's heartbeats, the replicas heard (`members.ts`), who answers
 * (`leadership.ts`) and the dead-man switch that keeps a stalled replica silent. It owns the timers; the
 * rules are pure and live in the modules it calls. The receive worker sends and decodes the frames
 * (`link/beacon.ts`); this class decides what they say.
 *
 * Why a tick on the main thread renews the worker's grant: after a SIGSTOP/SIGCONT (or a VM pause, a long
 * GC) the worker runs first and would answer from a state that may be stale by seconds — a node it maps an
 * address to may have died meanwhile and another replica may lead. With the grant run out it answers
 * nothing until this class, having seen the stall, has listened for a whole window and decided again.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../log.ts';
import { type BeaconSpec, FLAG_FENCED, FLAG_LEADER, FLAG_LEASE, MAX_NAME_BYTES, type Heartbeat, type HeartbeatDrop, deploymentId, vipDigest } from '../wire/heartbeat.ts';
import { type Departure, type Member, Members } from './members.ts';
import { type Leadership, type Role, decideLeadership } from './leadership.ts';

/** Settings of one replica's membership. */
export interface MembershipOptions {
  identity: string;
  /** The group name; replicas of other groups are ignored. */
  deployment: string;
  key?: string;
  /** ms between heartbeats. */
  interval: number;
  misses: number;
  priority: number;
  preempt: boolean;
  /** Kubernetes mode: the Lease takes part in the decision (`io.lease`). */
  kube: boolean;
  /**
   * Per-node mode: no leader on the wire; every replica that is not fenced answers for its own node's
   * addresses, and the heartbeats only say who is alive (`io.members`).
   */
  peers?: boolean;
  /**
   * How long to listen after a stall or a link loss before acting again, at least `interval × misses`:
   * long enough for the node probes to have judged every node again (a node may have died meanwhile).
   */
  fenceWindow: number;
  log: Logger;
  now?: () => number;
}

/** How membership reaches the rest of the process. */
export interface MembershipIO {
  /** Sets the worker's dead-man switch (ms since the epoch). */
  grant(answerUntil: number, beaconUntil: number): void;
  /** What the worker puts in heartbeats. */
  beacon(spec: BeaconSpec | undefined): void;
  /** Kubernetes mode: whether we hold the Lease renewed at or after `since`, and its `leaseTransitions`. */
  lease?(since?: number): { held: boolean; term: number };
  /**
   * Lines describing what we would announce as leader (`vipDigest`). Asked on every decision (every
   * heartbeat heard): return the same object while nothing changed and it is not hashed again.
   */
  vips(): Iterable<string>;
  /** Our role changed: answer (`leader`) or not. */
  role(role: Role, why: string): void;
  /** Kubernetes mode: give the Lease up (someone else leads on the wire). */
  yieldLease?(): void;
  /** A replica appeared, left, or changed its VIP digest (per-node mode: ownership must be decided again). */
  members?(): void;
}

/** A replica as last heard, kept after it expired (per-node mode tells a restart from a failure by it). */
export interface SeenMember {
  heard: number;
  live: boolean;
  mac: string;
  /** Its VIP digest as hex. */
  digest: string;
  /** Its last heartbeat said it answers nothing (listening after a start, a stall or a link loss). */
  fenced: boolean;
}

/** A replica as `/v1/status` shows it. */
export interface MemberView {
  identity: string;
  role: 'leader' | 'standby' | 'fenced';
  term: number;
  termHolder: string;
  lease: boolean;
  priority: number;
  interface: string;
  mac: string;
  lastHeard: string;
  since: string;
  /** Whether its VIP digest equals ours (standalone: the same VIP set). */
  sameVips: boolean;
}

/** Why a takeover happened, the label of `l2lb_takeovers_total`. */
export type TakeoverReason = 'missed-heartbeats' | 'no-leader' | 'preempt' | 'lease' | 'leader-left';

/** Every takeover reason, for pre-registering metrics. */
export const TAKEOVER_REASONS: readonly TakeoverReason[] = Object.freeze(['missed-heartbeats', 'leader-left', 'no-leader', 'preempt', 'lease'] as const);

/** Shortens an identity to the wire's limit, keeping it unique with a hash suffix. */
export function wireIdentity(identity: string): string {
  const bytes = new TextEncoder().encode(identity);
  if (bytes.length <= MAX_NAME_BYTES && bytes.length > 0) return identity;
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 8);
  let head = identity;
  while (new TextEncoder().encode(head).length > MAX_NAME_BYTES - 9) head = head.slice(0, -1);
  return `${head}-${hash}`;
}

function roleOf(m: Member): MemberView['role'] {
  if (m.last.flags & FLAG_FENCED) return 'fenced';
  return m.last.flags & FLAG_LEADER ? 'leader' : 'standby';
}

/** One replica's membership. */
export class Membership {
  readonly identity: string;
  readonly #opts: MembershipOptions;
  readonly #io: MembershipIO;
  readonly #now: () => number;
  readonly #members: Members;
  readonly #deployment: Uint8Array;
  readonly #key?: Uint8Array;
  readonly #epoch: number;
  readonly #window: number;
  #role: Role = 'fenced';
  #term = 0;
  #termHolder: string;
  #why = 'listening';
  #listeningSince: number;
  #fenceWindow: number;
  /** Why we are fenced beyond listening: a link lost or a stall. */
  #cut: string | undefined;
  #answerUntil = 0;
  #beaconUntil = 0;
  #lastTick = 0;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #expiry: ReturnType<typeof setTimeout> | undefined;
  #beacon = '';
  #digest: Uint8Array = new Uint8Array(8);
  /** Departures since the last decision: the reason of a takeover. */
  #departed: Departure[] = [];
  #stopped = false;
  /** What {@link #digest} was computed from. */
  #digested?: Iterable<string>;
  /** Every replica ever heard: last heard, MAC, digest. Bounded by the replicas of the deployment. */
  readonly #seen = new Map<string, { heard: number; mac: string; digest: string; fenced: boolean }>();
  /** The identity last heard from each MAC in `#seen`. */
  readonly #byMac = new Map<string, string>();
  readonly takeovers: Partial<Record<TakeoverReason, number>> = {};
  /** Drops found here (replays, our own frames); the worker counts the rest. */
  readonly drops: Partial<Record<HeartbeatDrop, number>> = {};
  /** The last takeover, for `/v1/status`. */
  lastTakeover: { at: string; reason: string } | undefined;
  stalls = 0;

  constructor(opts: MembershipOptions, io: MembershipIO) {
    this.#opts = opts;
    this.#io = io;
    this.#now = opts.now ?? Date.now;
    this.identity = wireIdentity(opts.identity);
    this.#termHolder = this.identity;
    this.#members = new Members(this.identity);
    this.#deployment = deploymentId(opts.deployment);
    if (opts.key !== undefined) this.#key = new TextEncoder().encode(opts.key);
    this.#epoch = this.#now();
    this.#window = opts.interval * opts.misses;
    this.#fenceWindow = this.#window;
    this.#listeningSince = this.#epoch;
  }

  get role(): Role {
    return this.#role;
  }

  get term(): number {
    return this.#term;
  }

  /** Starts listening (one window before acting) and sending heartbeats. */
  start(): void {
    const now = this.#now();
    this.#listeningSince = now;
    this.#lastTick = now;
    if (!this.#key) this.#opts.log.warn('membership: heartbeats are not authenticated (no membership.key): any host on the segment can influence takeover');
    this.#opts.log.info('membership: listening', { identity: this.identity, deployment: this.#opts.deployment, intervalMs: this.#opts.interval, misses: this.#opts.misses });
    this.#tick();
    this.#ticker = setInterval(() => this.#tick(), this.#opts.interval);
  }

  /** Stops: a last heartbeat says we no longer lead, so the next in line acts at once, not after a window. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#ticker);
    clearTimeout(this.#expiry);
    // A last heartbeat that is valid for 1 ms: the others drop us at once and the next in line acts.
    this.#io.grant(0, this.#now() + 20);
    this.#role = 'standby';
    this.#sendBeacon(true, true);
  }

  /** A heartbeat decoded by the worker. */
  heard(iface: string, mac: string, hb: Heartbeat, at: number): void {
    if (this.#stopped) return;
    const wasLive = this.#members.live(at).some((m) => m.identity === hb.identity);
    const drop = this.#members.accept(hb, iface, mac, at);
    if (drop) {
      this.drops[drop] = (this.drops[drop] ?? 0) + 1;
      return;
    }
    const digest = Buffer.from(hb.vips).toString('hex');
    const fenced = (hb.flags & FLAG_FENCED) !== 0;
    const before = this.#seen.get(hb.identity);
    this.#seen.set(hb.identity, { heard: at, mac, digest, fenced });
    if (before?.mac !== mac) {
      if (before && this.#byMac.get(before.mac) === hb.identity) this.#byMac.delete(before.mac);
      this.#byMac.set(mac, hb.identity);
    }
    this.#decide();
    if (!wasLive || before?.digest !== digest || before.fenced !== fenced) this.#io.members?.();
  }

  /**
   * The segment links' state: with none up we can hear nobody and must assume someone else took over;
   * when one comes back we listen a whole window first.
   */
  links(anyUp: boolean): void {
    if (!anyUp && this.#cut === undefined) {
      this.#cut = 'no segment link up';
      this.#opts.log.warn('membership: fenced, no segment link is up');
      this.#decide();
    } else if (anyUp && this.#cut === 'no segment link up') {
      this.#cut = undefined;
      this.#fence('a segment link came back up');
    }
  }

  /** The lease or the VIP set changed: decide and tell the others now rather than at the next beat. */
  changed(): void {
    if (!this.#stopped) this.#decide();
  }

  /** The replicas heard, for `/v1/status`. */
  view(): { identity: string; role: Role; term: number; termHolder: string; reason: string; authenticated: boolean; members: MemberView[] } {
    const now = this.#now();
    return {
      identity: this.identity, role: this.#role, term: this.#term, termHolder: this.#termHolder, reason: this.#why,
      authenticated: this.#key !== undefined,
      members: this.#members.live(now).map((m) => ({
        identity: m.identity, role: roleOf(m), term: m.last.term, termHolder: m.last.termHolder,
        lease: (m.last.flags & FLAG_LEASE) !== 0, priority: m.last.priority, interface: m.iface, mac: m.mac,
        lastHeard: new Date(m.heard).toISOString(), since: new Date(m.since).toISOString(),
        sameVips: sameBytes(m.last.vips, this.#digest),
      })),
    };
  }

  /** Every replica heard since start, by identity, with whether it is alive now. */
  seen(): Map<string, SeenMember> {
    const now = this.#now();
    const live = new Set(this.#members.live(now).map((m) => m.identity));
    const out = new Map<string, SeenMember>();
    for (const [id, s] of this.#seen) out.set(id, { ...s, live: live.has(id) });
    return out;
  }

  /** The identity whose last heartbeat came from `mac`, if any. */
  identityOfMac(mac: string): string | undefined {
    return this.#byMac.get(mac);
  }

  /** When this replica started listening (ms since the epoch). */
  get startedAt(): number {
    return this.#epoch;
  }

  /** Our own VIP digest as the others hear it, hex. */
  get digest(): string {
    return Buffer.from(this.#digest).toString('hex');
  }

  /** Live members by role, us included (`l2lb_members`). */
  counts(): Record<'leader' | 'standby' | 'fenced', number> {
    const out = { leader: 0, standby: 0, fenced: 0 };
    out[this.#role]++;
    for (const m of this.#members.live(this.#now())) out[roleOf(m)]++;
    return out;
  }

  /** Members whose VIP set differs from ours. */
  mismatched(): string[] {
    return this.#members.live(this.#now()).filter((m) => !sameBytes(m.last.vips, this.#digest)).map((m) => m.identity);
  }

  #fence(why: string): void {
    this.#listeningSince = this.#now();
    // Long enough for the node probes to judge every node again after a stall.
    this.#fenceWindow = Math.max(this.#window, this.#opts.fenceWindow);
    this.#opts.log.warn('membership: fenced, listening before answering again', { why, listenMs: this.#fenceWindow });
    this.#decide();
  }

  /**
   * Called from long synchronous work on the main thread (a reconcile pass, a /metrics scrape of 10,000
   * VIPs) and from handlers of events that come in bursts (watch events, write answers, probe results: many
   * small tasks in one turn of the event loop hold the timers back as one long task does): ticks early, so
   * the dead-man grant does not run out while the thread is busy rather than stalled. Before this, such a pass at start fenced the replica and cost the first write a
   * Lease retry period (issue 14). A real stall (SIGSTOP, the host frozen) still runs the grant out: nothing
   * calls this then. Only between the caller's steps, never inside a loop over shared state: a tick may
   * change the role, and the role's consumers may call back into the caller.
   */
  alive(): void {
    // A quarter interval, not a whole one: a step that begins just before a tick was due would otherwise
    // start up to one interval into the window, and a 200 ms step then ran the 300 ms grant out.
    if (this.#now() - this.#lastTick >= this.#opts.interval / 4) this.#tick();
  }

  #tick(): void {
    if (this.#stopped) return;
    this.#decide();
    this.#lastTick = this.#now();
  }

  #decide(): void {
    const now = this.#now();
    // The grant ran out before we renewed it: the worker went silent, the others count us gone and another
    // replica may lead now. Checked on every path in (after a SIGCONT a heartbeat or a timer may run before
    // the tick), and before anything renews the grant.
    if (this.#beaconUntil > 0 && now >= this.#beaconUntil) {
      this.#beaconUntil = 0;
      this.stalls++;
      this.#role = 'fenced';
      this.#fence(`the main thread stalled for ${now - this.#lastTick} ms`);
      return;
    }
    this.#departed.push(...this.#members.expire(now));
    const lease = this.#opts.kube ? this.#io.lease?.(this.#listeningSince) : undefined;
    const window = this.#listeningSince === this.#epoch ? this.#window : this.#fenceWindow;
    let d: Leadership = this.#opts.peers
      // Per-node mode: nobody leads on the wire; each replica answers for its own node once it has listened.
      ? now - this.#listeningSince < window
        ? { role: 'fenced', term: 0, termHolder: this.identity, yieldLease: false, reason: 'listening' }
        : { role: 'leader', term: 0, termHolder: this.identity, yieldLease: false, reason: 'answers for its node' }
      : decideLeadership({
        now, self: { identity: this.identity, priority: this.#opts.priority }, current: { role: this.#role, term: this.#term },
        listeningSince: this.#listeningSince, window, live: this.#members.live(now), lease, preempt: this.#opts.preempt,
      });
    if (this.#cut !== undefined) d = { ...d, role: 'fenced', reason: this.#cut };
    this.#apply(d, now);
    clearTimeout(this.#expiry);
    const next = Math.min(this.#members.nextExpiry(), this.#listeningSince + window);
    if (Number.isFinite(next) && next > now) this.#expiry = setTimeout(() => this.#decide(), next - now + 1);
  }

  #apply(d: Leadership, now: number): void {
    const before = this.#role;
    this.#role = d.role;
    this.#term = d.term;
    this.#termHolder = d.termHolder;
    this.#why = d.reason;
    // Grants first: the worker must be allowed (or forbidden) to answer before it is told what to answer.
    this.#answerUntil = d.role === 'leader' ? now + this.#window : 0;
    this.#beaconUntil = now + this.#window;
    this.#io.grant(this.#answerUntil, this.#beaconUntil);
    // The Lease holder must be the one answering: a standby gives it up (rule 4 and any lost claim).
    if (!this.#opts.peers && (d.yieldLease || (d.role === 'standby' && this.#io.lease?.().held))) this.#io.yieldLease?.();
    // Per heartbeat heard: hashing the whole set each time costs what the set costs; an unchanged set is
    // handed over as the same object.
    const lines = this.#io.vips();
    if (lines !== this.#digested) {
      this.#digest = vipDigest(lines);
      this.#digested = lines;
    }
    const departed = this.#departed;
    this.#departed = [];
    if (departed.length > 0) queueMicrotask(() => this.#io.members?.());
    if (d.role !== before) {
      let why = d.reason;
      if (d.role === 'leader') {
        // A stopping replica's last heartbeat lives 1 ms (see stop()): it left, it did not fail.
        const stopped = departed.find((x) => x.member.last.interval === 1);
        const left = departed.find((x) => x.member.last.flags & FLAG_LEADER);
        const reason: TakeoverReason = stopped ? 'leader-left' : left ? 'missed-heartbeats' : d.reason.startsWith('preempts') ? 'preempt' : d.reason === 'holds the Lease' ? 'lease' : 'no-leader';
        if (stopped) why = `${stopped.member.identity} stopped`;
        else if (left) why = left.reason;
        this.takeovers[reason] = (this.takeovers[reason] ?? 0) + 1;
        this.lastTakeover = { at: new Date(now).toISOString(), reason: why };
        this.#opts.log.info('membership: takeover, this replica answers', { reason: why, rule: d.reason, term: d.term, was: before });
      } else {
        this.#opts.log.info(`membership: ${d.role}`, { reason: why, term: d.term, termHolder: d.termHolder, was: before });
      }
      this.#io.role(d.role, why);
    }
    this.#sendBeacon(d.role !== before);
  }

  #sendBeacon(force: boolean, leaving = false): void {
    const lease = this.#opts.kube ? this.#io.lease?.(this.#listeningSince) : undefined;
    let flags = 0;
    if (this.#role === 'leader') flags |= FLAG_LEADER;
    if (this.#role === 'fenced') flags |= FLAG_FENCED;
    if (lease?.held && this.#role === 'leader') flags |= FLAG_LEASE;
    const heartbeat: Omit<Heartbeat, 'sequence'> = {
      deployment: this.#deployment, flags, epoch: this.#epoch, term: this.#term, termHolder: this.#termHolder,
      identity: this.identity, priority: this.#opts.priority, vips: this.#digest,
      interval: leaving ? 1 : this.#opts.interval, misses: leaving ? 1 : this.#opts.misses,
    };
    const text = `${flags}|${this.#term}|${this.#termHolder}|${Buffer.from(this.#digest).toString('hex')}`;
    if (!force && text === this.#beacon) return;
    this.#beacon = text;
    this.#io.beacon({ heartbeat, key: this.#key });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
