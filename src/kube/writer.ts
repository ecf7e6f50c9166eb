/**
 * Writes to the API server with bounded concurrency, the latest wish per object winning: when a write for
 * the same key is queued again before it ran, only the newest body is sent. Failures are reported to the
 * caller, which decides (usually: reconcile again once the watch has caught up).
 *
 * The bound adapts to the server like TCP's window: a rejection for load (429, API Priority and Fairness)
 * halves it and pauses every new write for the server's Retry-After; each run of successes as long as the
 * bound raises it by one, back up to the configured maximum. Without this, 10,000 writes meeting a throttled
 * server would each be refused and retried together a second later, again and again.
 */

/** One write: a key naming the object and field set, and the call that performs it. */
export interface Write {
  key: string;
  /** `low` writes (Events) wait while any `high` write (addresses) is queued: users wait for addresses. */
  priority?: 'high' | 'low';
  /** Text of what is written, to skip repeating a write that is already queued or in flight. */
  fingerprint: string;
  run(): Promise<void>;
}

/** Outcome callbacks. */
export interface WriterEvents {
  done?(w: Write): void;
  failed?(w: Write, err: unknown): void;
}

/** A write queue: at most `concurrency` requests at once, one pending write per key. */
export class Writer {
  /** Writes started at once now: from 1 to `maxInflight`. */
  private bound: number;
  /** Successes in a row since the bound last changed. */
  private streak = 0;
  /**
   * Counts refusals for load: a write started before the last one says nothing about the bound set since
   * (the writes in flight when a 429 came would otherwise raise the halved bound again at once).
   */
  private epoch = 0;
  /** No new write starts before this (performance.now() ms): the server asked us to wait. */
  private pausedUntil = 0;
  private pauseTimer?: ReturnType<typeof setTimeout>;
  /** {@link pause}d: nothing starts. */
  private paused = false;
  private readonly pending = new Map<string, Write>();
  private readonly pendingLow = new Map<string, Write>();
  private readonly inflight = new Map<string, string>();
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  /** Keys whose next write waits (a failed one backs off), with the timer that ends the wait. */
  private readonly holds = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly maxInflight: number, private readonly events: WriterEvents = {}) {
    this.bound = maxInflight;
  }

  /** How many writes may run at once now (a gauge for metrics). */
  get limit(): number {
    return this.bound;
  }

  /**
   * The server refused a write for load: halve the bound and start nothing for `ms` (its Retry-After). Writes
   * already running finish; several refusals of one burst halve once (each while paused extends the pause).
   */
  throttle(ms: number): void {
    const now = performance.now();
    if (now >= this.pausedUntil) this.bound = Math.max(1, Math.floor(this.bound / 2));
    this.streak = 0;
    this.epoch++;
    this.pausedUntil = Math.max(this.pausedUntil, now + ms);
    clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = undefined;
      this.pump();
    }, this.pausedUntil - now);
  }

  /**
   * Queues a write unless the same content for the same key is already queued or in flight; says whether
   * it queued it (false: that write is already on its way).
   */
  enqueue(w: Write): boolean {
    if (this.inflight.get(w.key) === w.fingerprint) return false;
    const queue = w.priority === 'low' ? this.pendingLow : this.pending;
    if (queue.get(w.key)?.fingerprint === w.fingerprint) return false;
    queue.set(w.key, w);
    this.pump();
    return true;
  }

  /** Writes waiting or running. */
  get size(): number {
    return this.pending.size + this.pendingLow.size + this.active;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Starts nothing until {@link resume}: writes queue meanwhile. A reconcile pass holds its writes until it
   * ends, as when it ran in one piece: one that lets the event loop run (at scale) would otherwise send the
   * first Services' writes, and take their watch echoes, before it has decided the rest. (Measured A/B at
   * 10,000 Services: the same peak memory and the last address written no later either way; the first
   * write goes out ~0.5 s sooner without the pause.)
   */
  pause(): void {
    this.paused = true;
  }

  /** Ends {@link pause}: queued writes start. */
  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Forgets queued writes and holds (running ones finish). */
  clear(): void {
    this.pending.clear();
    this.pendingLow.clear();
    for (const timer of this.holds.values()) clearTimeout(timer);
    this.holds.clear();
    clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
    this.pausedUntil = 0;
  }

  /**
   * Starts no write for `key` during the next `ms` (a running one finishes; a new one queues, the latest
   * winning): the last one failed, and the next must wait its backoff. Other keys go on. A second hold
   * replaces the first.
   */
  holdOff(key: string, ms: number): void {
    clearTimeout(this.holds.get(key));
    this.holds.set(key, setTimeout(() => {
      this.holds.delete(key);
      this.pump();
    }, ms));
  }

  private pump(): void {
    if (this.pauseTimer !== undefined || this.paused) return;
    while (this.active < this.bound) {
      const w = this.next(this.pending) ?? this.next(this.pendingLow);
      if (!w) return;
      this.start(w);
    }
  }

  /** The first queued write whose key has none in flight (two writes to one object at once would race) and is not held off. */
  private next(queue: Map<string, Write>): Write | undefined {
    for (const [key, w] of queue) if (!this.inflight.has(key) && !this.holds.has(key)) return w;
    return undefined;
  }

  private start(w: Write): void {
    (w.priority === 'low' ? this.pendingLow : this.pending).delete(w.key);
    this.inflight.set(w.key, w.fingerprint);
    this.active++;
    const epoch = this.epoch;
    w.run().then(
      () => {
        if (epoch === this.epoch && ++this.streak >= this.bound && this.bound < this.maxInflight) {
          this.bound++;
          this.streak = 0;
        }
        this.events.done?.(w);
      },
      (err) => this.events.failed?.(w, err),
    ).finally(() => {
      this.active--;
      this.inflight.delete(w.key);
      this.pump();
      if (this.size === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const r of waiters) r();
      }
    });
  }
}
