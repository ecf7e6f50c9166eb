/**
 * Leader election on a `coordination.k8s.io/v1` Lease, after client-go's `tools/leaderelection`: get, create,
 * replace with resourceVersion (a 409 means another writer won), and expiry measured on our own clock from
 * when we last saw the record change — clocks of different hosts are never compared.
 *
 * One deliberate difference (issue 4): a leader that cannot reach the API server stays leader and keeps
 * retrying. Its answers on the wire are a deterministic function of the cluster state it last saw, so two
 * replicas answering alike for a while is harmless, while nobody answering is an outage. It steps down only
 * when it sees another holder. A follower, in turn, never becomes leader without a successful write.
 */
import { describeError, sleep } from './util.ts';
import type { Logger } from '../log.ts';
import { KubeClient } from './client.ts';
import { KubeApiError } from './http.ts';

/** Options of {@link LeaderElector}. */
export interface LeaseOptions {
  /** Namespace and name of the Lease (config `kubernetes.leaderElection.namespace`/`name`). */
  namespace: string;
  name: string;
  /** Who we are in `spec.holderIdentity`; see {@link defaultIdentity}. */
  identity: string;
  /** How long a holder's record stays valid without a change (written as whole `leaseDurationSeconds`). */
  leaseDurationMs: number;
  /**
   * Deadline of each Lease request, and how long the leader may go without renewing before it warns. Unlike
   * client-go it does not step down then (issue 4): it steps down only when it sees another holder.
   */
  renewDeadlineMs: number;
  /** Pause between attempts (renewals, and a follower's looks at the Lease); jittered by up to −10 %. */
  retryPeriodMs: number;
  log: Logger;
  /** Clock in epoch ms (default `Date.now`); the timestamps written and all expiry arithmetic use it. */
  now?: () => number;
}

/** `leader`: we hold the Lease; `follower`: another holder (or nobody) does; `unknown`: not seen yet, or the API is out of reach. */
export type LeaderState = 'leader' | 'follower' | 'unknown';

/** What {@link LeaderElector.view} reports, for `/v1/status` and metrics. */
export interface LeaseView {
  /** `spec.holderIdentity` as last seen (undefined: nobody holds the Lease). */
  holder?: string;
  state: LeaderState;
  isLeader: boolean;
  /** When `state` last changed (ISO 8601). */
  since: string;
  /** `spec.renewTime` as last seen or written (the holder's clock). */
  lastRenew?: string;
  /** What failed last; cleared by the next answer of the API server. */
  lastError?: string;
  /** `spec.leaseTransitions` as last seen. */
  transitions: number;
  /** False while Lease requests fail with network errors, timeouts or 5xx. */
  apiReachable: boolean;
  /** Why this replica cannot take the Lease at all, and what to do (a missing namespace, missing RBAC). */
  problem?: string;
}

/** Defaults of the timing options (issue 4): failover well under client-go's 15/10/2 s. */
export const LEASE_DEFAULTS = {
  namespace: 'l2lb-system',
  name: 'l2lb',
  leaseDurationMs: 5000,
  renewDeadlineMs: 3000,
  retryPeriodMs: 1000,
} as const;

export { defaultIdentity } from '../identity.ts';

/**
 * A Kubernetes MicroTime for epoch milliseconds: UTC with exactly six fractional digits
 * (`2026-11-27T08:00:00.000000Z`); the API server answers 400 to any other form. A fractional `ms` fills
 * the microseconds.
 */
export function microTime(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.min(999, Math.max(0, Math.floor((ms - whole) * 1000)));
  // toISOString throws a RangeError for NaN and out-of-range times, which is what a caller should get.
  return `${new Date(whole).toISOString().slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [field: string]: unknown;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string>; [field: string]: unknown };
  spec?: LeaseSpec;
}

/**
 * Annotation on the Lease through which the leader hands standbys what only it can see (the hosts it
 * confirms, see `announce/requesters.ts`): written with every renewal, so it costs no extra request.
 */
export const SHARED_ANNOTATION = 'l2lb.io/shared';

/**
 * Follow-up of one attempt: `again` re-runs at once (a 409 told us our view is stale), `wait` sleeps, and
 * `ineligible` (the Lease is free but the wire membership does not let us take it yet) sleeps only until it
 * does: a replica that leads on the wire 0.3 s after start must not wait out a retry period begun before.
 */
type Next = 'again' | 'wait' | 'ineligible';

/** How often eligibility (a local check, no request) is looked at while the Lease is free and we may not take it. */
const ELIGIBLE_POLL_MS = 50;

/** A run of immediate re-attempts longer than this waits a period instead, so a confused server cannot spin us. */
const MAX_IMMEDIATE = 3;


function isStatus(error: unknown, status: number): boolean {
  return error instanceof KubeApiError && error.status === status;
}

/** Network errors, timeouts and 5xx say nothing about who holds the Lease: the server is just not there. */
function isUnreachable(error: unknown): boolean {
  return !(error instanceof KubeApiError) || error.status >= 500;
}


/**
 * Elects one leader among the replicas sharing a Lease. `start()` runs the loop in the background;
 * `onChange` handlers learn when we gain or lose leadership (and when the observed holder changes).
 */
export class LeaderElector {
  readonly #client: KubeClient;
  readonly #opts: LeaseOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #path: string;
  readonly #collection: string;
  readonly #handlers: ((isLeader: boolean, holder: string | undefined) => void)[] = [];
  readonly #sharedHandlers: ((value: string) => void)[] = [];
  /** What we write in {@link SHARED_ANNOTATION} while we lead. */
  #share: string | undefined;
  /** The annotation as last seen from another holder. */
  #seenShared: string | undefined;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  /** The Lease as last read or written: its resourceVersion makes our next write conditional. */
  #lease: Lease | undefined;
  /** The record as last seen, and when (our clock) we saw it change: the basis of expiry, as client-go's observedTime. */
  #record: string | undefined;
  #observedAt = 0;
  #leader = false;
  #holder: string | undefined;
  #transitions = 0;
  #lastRenew: string | undefined;
  #state: LeaderState = 'unknown';
  #since: number;
  #lastError: string | undefined;
  /** A lasting reason this replica cannot hold the Lease (see {@link LeaseView.problem}). */
  #problem: string | undefined;
  /** The last failure logged and how often it has repeated since (logged at 1, 2, 4, 8, ... repeats). */
  #repeat = { message: '', count: 0 };
  #reachable = false;
  /** Whether reachability was established once: the first answer is not a "reachable again". */
  #reported = false;
  /** When our last write of the Lease succeeded (leader only), for the renewDeadline warning. */
  #lastWrite = 0;
  #deadlineWarned = false;

  constructor(client: KubeClient, opts: LeaseOptions) {
    if (!(opts.retryPeriodMs > 0) || !(opts.leaseDurationMs > opts.retryPeriodMs)) {
      throw new RangeError(`leader election: retryPeriod (${opts.retryPeriodMs} ms) must be above 0 and below leaseDuration (${opts.leaseDurationMs} ms)`);
    }
    if (!(opts.renewDeadlineMs > 0)) throw new RangeError(`leader election: renewDeadline (${opts.renewDeadlineMs} ms) must be above 0`);
    if (!opts.identity) throw new RangeError('leader election: identity must not be empty');
    // Our own client on the same connection: a Lease request must give up after renewDeadline, not after
    // the general 30 s, or a black-holed leader would learn of a new holder far too late.
    this.#client = new KubeClient(client.http, { timeoutMs: opts.renewDeadlineMs });
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#since = this.#now();
    this.#log = opts.log.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    this.#collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(opts.namespace)}/leases`;
    this.#path = `${this.#collection}/${encodeURIComponent(opts.name)}`;
  }

  /**
   * Registers a handler called when we gain or lose leadership, and when a follower sees another holder.
   * It is called synchronously from the election loop: on `false` stop answering at once.
   */
  onChange(handler: (isLeader: boolean, holder: string | undefined) => void): void {
    this.#handlers.push(handler);
  }

  /** Sets what the leader writes in {@link SHARED_ANNOTATION} from its next renewal on (undefined: nothing). */
  share(value: string | undefined): void {
    this.#share = value;
  }

  /** Registers a handler for a changed {@link SHARED_ANNOTATION} written by another holder. */
  onShared(handler: (value: string) => void): void {
    this.#sharedHandlers.push(handler);
  }

  /**
   * With wire membership, only the replica that leads on the wire may take the Lease (`eligible` true);
   * the others leave it alone even when it runs out, so the Lease always ends up with the one answering.
   */
  setEligible(eligible: () => boolean): void {
    this.#eligible = eligible;
  }

  /**
   * Gives the Lease up while running on (another replica leads on the wire): stops leading at once, then
   * releases as on stop, so the wire leader takes it within one retry period.
   */
  async yieldLease(): Promise<void> {
    if (!this.#leader || this.#yielding) return;
    this.#yielding = true;
    try {
      this.#setLeader(false, undefined);
      await this.#release();
    } finally {
      this.#yielding = false;
    }
  }

  /** Starts the election loop in the background (once; a stopped elector does not start again). */
  start(): void {
    if (this.#stopped) return;
    this.#running ??= this.#run();
  }

  /**
   * Ends the loop (waiting for a request in flight, at most renewDeadline) and reports the loss of
   * leadership. With `release`, a leader then clears the holder (and sets `leaseDurationSeconds` 1, as
   * client-go's ReleaseOnCancel) so a standby takes over at its next look, within one retry period.
   * Without it the Lease runs out as after a SIGKILL.
   */
  stop(opts: { release: boolean } = { release: false }): Promise<void> {
    this.#stopped ??= this.#stop(opts.release);
    return this.#stopped;
  }

  async #stop(release: boolean): Promise<void> {
    this.#abort.abort();
    await this.#running;
    const wasLeader = this.#leader;
    // Stop answering before the Lease says we stopped, never after: no moment with two leaders.
    this.#setLeader(false, wasLeader ? undefined : this.#holder);
    if (release && wasLeader) await this.#release();
  }

  /** The state for `/v1/status`. */
  view(): LeaseView {
    const view: LeaseView = {
      state: this.#state,
      isLeader: this.#leader,
      since: new Date(this.#since).toISOString(),
      transitions: this.#transitions,
      apiReachable: this.#reachable,
    };
    if (this.#holder !== undefined) view.holder = this.#holder;
    if (this.#lastRenew !== undefined) view.lastRenew = this.#lastRenew;
    if (this.#lastError !== undefined) view.lastError = this.#lastError;
    if (this.#problem !== undefined) view.problem = this.#problem;
    return view;
  }

  /** When our last write of the Lease succeeded (ms, our clock; 0: never). */
  get lastWriteAt(): number {
    return this.#lastWrite;
  }

  /** Whether we hold the Lease (and so must answer on the wire). */
  isLeader(): boolean {
    return this.#leader;
  }

  // --------------------------------------------------------------------------------------------- loop

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    this.#log.info('leader election started', {
      leaseDurationMs: this.#opts.leaseDurationMs,
      renewDeadlineMs: this.#opts.renewDeadlineMs,
      retryPeriodMs: this.#opts.retryPeriodMs,
    });
    let immediate = 0;
    while (!signal.aborted) {
      let next: Next = 'wait';
      try {
        next = await this.#attempt();
      } catch (error) {
        // Only a bug gets here (every request error is handled in #attempt); keep electing regardless.
        this.#log.error('leader election attempt failed unexpectedly', { error });
      }
      if (signal.aborted) break;
      if (next === 'again' && immediate < MAX_IMMEDIATE) {
        immediate++;
        continue;
      }
      immediate = 0;
      if (next === 'ineligible') await this.#untilEligible(this.#delay(), signal);
      else await sleep(this.#delay(), signal);
    }
  }

  /** Sleeps `ms`, or less: until the wire membership lets this replica take the Lease. */
  async #untilEligible(ms: number, signal: AbortSignal): Promise<void> {
    const end = this.#now() + ms;
    while (!signal.aborted && this.#now() < end && !this.#eligible()) await sleep(Math.min(ELIGIBLE_POLL_MS, end - this.#now()), signal);
  }

  /** Time to the next attempt: the retry period shortened by up to 10 %, and for a follower no later than the holder's expiry. */
  #delay(): number {
    // Jitter only downwards: "a standby takes over within one retry period" must hold with jitter too.
    const period = this.#opts.retryPeriodMs * (0.9 + 0.1 * Math.random());
    // A leader renews every period; so does anyone whose last attempt failed (no spinning on an error).
    if (this.#leader || this.#holder === undefined || this.#record === undefined || this.#lastError !== undefined) return period;
    // Look again right when the holder's record runs out, so a dead leader is replaced after
    // leaseDuration (+ at most the retry period it took us to see its last renewal), not a period later.
    const untilExpiry = this.#observedAt + this.#validityMs() - this.#now() + 1;
    return untilExpiry > 0 ? Math.min(period, untilExpiry) : period;
  }

  /** One step: a leader renews on its last known version; everyone else reads the Lease and acts on it. */
  async #attempt(): Promise<Next> {
    if (this.#leader && this.#lease) return this.#write(this.#lease, true);
    let lease: Lease;
    try {
      lease = await this.#client.get<Lease>(this.#path);
    } catch (error) {
      if (isStatus(error, 404)) {
        this.#answered();
        return this.#eligible() ? this.#create() : 'ineligible';
      }
      this.#failed(error, 'get');
      return 'wait';
    }
    this.#answered();
    this.#saw(lease);
    const holder = this.#holder;
    // Ours: a restart under the same identity, or a write of ours that timed out yet landed.
    if (holder === this.#opts.identity) return this.#write(lease, true);
    if (holder !== undefined && !this.#expired()) {
      if (this.#leader) this.#log.warn('another replica holds the Lease: stepping down', { holder });
      this.#setLeader(false, holder);
      return 'wait';
    }
    if (this.#yielding) return 'wait';
    if (!this.#eligible()) return 'ineligible';
    return this.#write(lease, false);
  }

  /** Whether the observed holder's record has gone unchanged for longer than its validity, by our clock. */
  #expired(): boolean {
    return this.#now() >= this.#observedAt + this.#validityMs();
  }

  /**
   * How long the observed record is valid. The field holds whole seconds: when it equals our own setting
   * rounded up, the holder is taken to run our configuration and our exact duration applies (so sub-second
   * settings keep their failover time); otherwise the holder's word counts.
   */
  #validityMs(): number {
    const seconds = this.#lease?.spec?.leaseDurationSeconds;
    if (seconds === undefined || seconds <= 0 || seconds === this.#durationSeconds()) return this.#opts.leaseDurationMs;
    return seconds * 1000;
  }

  #durationSeconds(): number {
    return Math.max(1, Math.ceil(this.#opts.leaseDurationMs / 1000));
  }

  /** Creates the Lease with us as holder; a 409 means another replica created it first. */
  async #create(): Promise<Next> {
    const stamp = microTime(this.#now());
    const body: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: this.#withShared({ name: this.#opts.name, namespace: this.#opts.namespace }),
      spec: {
        holderIdentity: this.#opts.identity,
        leaseDurationSeconds: this.#durationSeconds(),
        acquireTime: stamp,
        renewTime: stamp,
        leaseTransitions: 0,
      },
    };
    try {
      const created = await this.#client.create<Lease>(this.#collection, body);
      this.#wrote(created);
      return 'wait';
    } catch (error) {
      if (isStatus(error, 409)) {
        this.#answered();
        this.#lease = undefined;
        return 'again';
      }
      if (isStatus(error, 404)) {
        // The namespace is missing: nobody can ever hold this Lease until someone creates it.
        this.#problem = `namespace ${this.#opts.namespace} does not exist, so the Lease ${this.#opts.namespace}/${this.#opts.name} cannot be created and no replica writes: apply config/deploy/namespace.yaml, or set kubernetes.leaderElection.namespace to an existing namespace`;
        this.#logRepeated('error', this.#problem, {});
      }
      this.#failed(error, 'create');
      return 'wait';
    }
  }

  /**
   * Replaces `lease` (conditional on its resourceVersion) with us as holder: a renewal keeps acquireTime and
   * leaseTransitions, a takeover sets acquireTime and counts a transition.
   */
  async #write(lease: Lease, renewal: boolean): Promise<Next> {
    const now = this.#now();
    const stamp = microTime(now);
    const spec = lease.spec ?? {};
    const body: Lease = {
      ...lease,
      metadata: this.#withShared(lease.metadata),
      spec: {
        ...spec,
        holderIdentity: this.#opts.identity,
        leaseDurationSeconds: this.#durationSeconds(),
        acquireTime: renewal && spec.acquireTime ? spec.acquireTime : stamp,
        renewTime: stamp,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (renewal ? 0 : 1),
      },
    };
    try {
      const saved = await this.#client.replace<Lease>(this.#path, body);
      this.#wrote(saved);
      return 'wait';
    } catch (error) {
      if (isStatus(error, 409) || isStatus(error, 404)) {
        // Someone wrote (or deleted) the Lease since we read it: read it again at once and see who.
        this.#answered();
        this.#lease = undefined;
        return 'again';
      }
      this.#failed(error, renewal ? 'renew' : 'acquire');
      return 'wait';
    }
  }

  /** Gives up the Lease on the way out: no holder, renewTime now, duration 1 s (client-go's release). */
  async #release(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const lease = this.#lease ?? (await this.#client.get<Lease>(this.#path));
        if (lease.spec?.holderIdentity !== this.#opts.identity) return;
        const stamp = microTime(this.#now());
        const released = await this.#client.replace<Lease>(this.#path, {
          ...lease,
          spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp },
        });
        this.#lease = released;
        this.#holder = undefined;
        this.#lastRenew = released.spec?.renewTime;
        this.#log.info('released the Lease');
        return;
      } catch (error) {
        // A 409: our version was stale; read it again and retry once if it is still ours.
        this.#lease = undefined;
        if (isStatus(error, 409)) continue;
        this.#log.warn('could not release the Lease: a standby takes over once it runs out', { error: describeError(error) });
        return;
      }
    }
  }

  /** `metadata` with our shared annotation set (or removed when we share nothing). */
  #withShared(metadata: Lease['metadata']): Lease['metadata'] {
    const annotations = { ...metadata.annotations };
    if (this.#share === undefined) delete annotations[SHARED_ANNOTATION];
    else annotations[SHARED_ANNOTATION] = this.#share;
    return { ...metadata, annotations };
  }

  // ------------------------------------------------------------------------------------------- state

  /** A successful write of ours: we are the leader. */
  #wrote(lease: Lease): void {
    if (this.#problem !== undefined) this.#log.info('Lease created: the problem is gone', { was: this.#problem });
    this.#problem = undefined;
    this.#repeat = { message: '', count: 0 };
    this.#answered();
    this.#saw(lease);
    this.#lastWrite = this.#now();
    if (this.#deadlineWarned) this.#log.info('Lease renewed again');
    this.#deadlineWarned = false;
    this.#setLeader(true, this.#opts.identity);
  }

  /** Takes in a Lease read or written: a changed record restarts the expiry clock, as client-go's observedTime. */
  #saw(lease: Lease): void {
    this.#lease = lease;
    const spec = lease.spec ?? {};
    const record = JSON.stringify([
      spec.holderIdentity ?? '',
      spec.renewTime ?? '',
      spec.acquireTime ?? '',
      spec.leaseDurationSeconds ?? 0,
      spec.leaseTransitions ?? 0,
    ]);
    if (record !== this.#record) {
      this.#record = record;
      this.#observedAt = this.#now();
    }
    this.#holder = spec.holderIdentity || undefined;
    const shared = lease.metadata.annotations?.[SHARED_ANNOTATION];
    if (this.#holder !== this.#opts.identity && shared !== undefined && shared !== this.#seenShared) {
      this.#seenShared = shared;
      for (const h of this.#sharedHandlers) {
        try {
          h(shared);
        } catch (error) {
          this.#log.error('shared Lease data handler failed', { error });
        }
      }
    }
    this.#transitions = spec.leaseTransitions ?? 0;
    this.#lastRenew = spec.renewTime;
    this.#updateState();
  }

  /** The API server answered (even with an error status): it is reachable. */
  #answered(): void {
    this.#lastError = undefined;
    this.#markReachable();
  }

  #markReachable(): void {
    if (this.#reachable) return;
    this.#reachable = true;
    if (this.#reported) {
      this.#log.info('API server reachable again', { leader: this.#leader });
      // While we could not look, the holder could not renew either (most likely it lost the server too):
      // that time must not count against it, or every outage longer than a lease would end in a takeover
      // race. Its record counts as seen afresh now.
      this.#observedAt = this.#now();
    }
    this.#reported = true;
    this.#updateState();
  }

  #failed(error: unknown, during: string): void {
    const message = `${during} ${this.#opts.namespace}/${this.#opts.name}: ${describeError(error)}`;
    const changed = message !== this.#lastError;
    this.#lastError = message;
    if (isUnreachable(error)) {
      // Logged once per change to unreachable (and once if the server was never there), not per retry.
      if (this.#reachable || !this.#reported) {
        this.#log.warn(
          this.#leader
            ? 'API server unreachable: still leading with the last known state until another holder is seen'
            : 'API server unreachable: not leading until a write of the Lease succeeds',
          { error: describeError(error) },
        );
      }
      this.#reachable = false;
      this.#reported = true;
    } else {
      this.#markReachable();
      const forbidden = isStatus(error, 401) || isStatus(error, 403);
      const fields = { error: describeError(error), leader: this.#leader };
      // A missing namespace was said above with what to do; the rest at a falling rate while it repeats
      // (an answer in between clears lastError, so "changed" alone would log every retry).
      if (forbidden) this.#logRepeated('error', 'Lease request refused: check the credentials and RBAC of l2lb (get, create, update on leases)', fields);
      else if (!(during === 'create' && isStatus(error, 404)) && changed) this.#log.warn('Lease request failed, retrying', fields);
    }
    if (this.#leader && !this.#deadlineWarned && this.#now() - this.#lastWrite >= this.#opts.renewDeadlineMs) {
      this.#deadlineWarned = true;
      this.#log.warn('Lease not renewed within renewDeadline: still leading until another holder is seen', {
        renewDeadlineMs: this.#opts.renewDeadlineMs,
        lastRenew: this.#lastRenew,
      });
    }
    this.#updateState();
  }

  /** Logs `message` the first time and then at 2, 4, 8, ... repeats in a row, with the count. */
  #logRepeated(level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void {
    if (this.#repeat.message !== message) this.#repeat = { message, count: 0 };
    const n = ++this.#repeat.count;
    if ((n & (n - 1)) !== 0) return;
    this.#log[level](message, n > 1 ? { ...fields, repeated: n } : fields);
  }

  #updateState(): void {
    const state: LeaderState = this.#leader ? 'leader' : this.#record === undefined || !this.#reachable ? 'unknown' : 'follower';
    if (state === this.#state) return;
    this.#state = state;
    this.#since = this.#now();
  }

  /** Sets leadership and the holder we report; tells the handlers when either changed. */
  #setLeader(leader: boolean, holder: string | undefined): void {
    const changed = leader !== this.#leader;
    const reported = this.#reportedHolder;
    this.#leader = leader;
    this.#updateState();
    if (!changed && holder === reported) return;
    this.#reportedHolder = holder;
    if (changed) {
      if (leader) this.#log.info('became leader', { transitions: this.#transitions });
      else this.#log.info('stopped leading', { holder });
    } else {
      this.#log.info('new leader observed', { holder });
    }
    for (const handler of this.#handlers) {
      try {
        handler(leader, holder);
      } catch (error) {
        // A handler bug must not stop the election: the loop has to keep renewing or we lose the Lease.
        this.#log.error('leader change handler failed', { error });
      }
    }
  }

  #eligible: () => boolean = () => true;
  #yielding = false;

  /** The holder last passed to the handlers, so a follower hears of each new holder once. */
  #reportedHolder: string | undefined;
}
