/**
 * A collection watched only while something needs it. EndpointSlices are the case: l2lb reads them only
 * for Services with `externalTrafficPolicy: Local`, and a cluster has one or more per Service with a
 * selector (90,000 of them beside 10,000 LoadBalancers is a plausible cluster), so watching them with no
 * Local Service at all would cost memory and API server work for nothing.
 *
 * Needs are named (a Service key each); the watch starts with the first and stops `lingerMs` after the
 * last is gone, so a Service flapping between Local and Cluster does not relist the collection each time.
 */
import type { Informer, InformerEvent, KubeObject } from './informer.ts';

/** What the controller uses of a watched collection: an {@link Informer}, or an {@link OnDemandInformer}. */
export interface Watched<T extends KubeObject> {
  readonly name: string;
  /** Resolves once the first complete view is stored. */
  readonly synced: Promise<void>;
  start(): void;
  stop(): Promise<void>;
  /** True once the first complete view is stored (readiness). */
  hasSynced(): boolean;
  readonly lastError: string | undefined;
  onChange(handler: (ev: InformerEvent<T>) => void): void;
  list(): T[];
}

/** Options of the {@link OnDemandInformer} constructor. */
export interface OnDemandOptions {
  /** Names it in readiness reasons while there is no watch (the watch's own name otherwise). */
  name: string;
  /**
   * The needs are known once this resolves (the initial list of what needs the collection): `synced`
   * then waits for the collection's own list only if something needs it.
   */
  after: Promise<void>;
  /** Keep watching this long after the last need is gone. */
  lingerMs: number;
  /** Called when a watch started after the first sync has its complete list (even an empty one). */
  onComplete?: () => void;
}

/** An {@link Informer} made by `make` while at least one need is registered (and for `lingerMs` after). */
export class OnDemandInformer<T extends KubeObject> implements Watched<T> {
  readonly #make: () => Informer<T>;
  readonly #opts: OnDemandOptions;
  readonly #needs = new Set<string>();
  readonly #handlers: ((ev: InformerEvent<T>) => void)[] = [];
  #inner: Informer<T> | undefined;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #started = false;
  #stopped = false;
  #synced = false;
  /** Informers being stopped (a stop is awaited by {@link stop}). */
  readonly #stopping = new Set<Promise<void>>();

  readonly name: string;
  readonly synced: Promise<void>;

  constructor(make: () => Informer<T>, opts: OnDemandOptions) {
    this.#make = make;
    this.#opts = opts;
    this.name = opts.name;
    this.synced = opts.after.then(() => this.#inner?.synced).then(() => {
      this.#synced = true;
    });
  }

  /** Registers (`needed`) or drops the need named `key`. */
  need(key: string, needed: boolean): void {
    if (needed) this.#needs.add(key);
    else this.#needs.delete(key);
    this.#update();
  }

  /** Whether something needs the collection now. */
  needed(): boolean {
    return this.#needs.size > 0;
  }

  /** Whether a watch runs now (needed, or lingering after the last need). */
  watching(): boolean {
    return this.#inner !== undefined;
  }

  /**
   * Whether {@link list} is the whole collection as far as anything needs it: no watch runs (nothing
   * needs it), or the watch has its complete list. False only while a watch started for a new need is
   * still listing.
   */
  complete(): boolean {
    return this.#inner === undefined || this.#inner.hasSynced();
  }

  start(): void {
    this.#started = true;
    this.#update();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#linger);
    this.#linger = undefined;
    const inner = this.#inner;
    this.#inner = undefined;
    if (inner) this.#stopping.add(inner.stop());
    await Promise.all(this.#stopping);
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  get lastError(): string | undefined {
    return this.#inner?.lastError;
  }

  onChange(handler: (ev: InformerEvent<T>) => void): void {
    this.#handlers.push(handler);
    if (this.#inner) this.#forward(this.#inner, handler);
  }

  /** The objects of the running watch; none when nothing is watched. */
  list(): T[] {
    return this.#inner?.list() ?? [];
  }

  #update(): void {
    if (!this.#started || this.#stopped) return;
    if (this.#needs.size > 0) {
      clearTimeout(this.#linger);
      this.#linger = undefined;
      if (!this.#inner) this.#begin();
      return;
    }
    if (this.#inner && this.#linger === undefined) {
      this.#linger = setTimeout(() => {
        this.#linger = undefined;
        if (this.#needs.size === 0) this.#end();
      }, this.#opts.lingerMs);
    }
  }

  #begin(): void {
    const inner = this.#make();
    this.#inner = inner;
    for (const handler of this.#handlers) this.#forward(inner, handler);
    const late = this.#synced;
    void inner.synced.then(() => {
      if (late && this.#inner === inner) this.#opts.onComplete?.();
    });
    inner.start();
  }

  /** Passes the changes `inner` reports to `handler` while `inner` is the watch. */
  #forward(inner: Informer<T>, handler: (ev: InformerEvent<T>) => void): void {
    inner.onChange((ev) => {
      if (this.#inner === inner) handler(ev);
    });
  }

  /** Stops the watch and forgets its objects (nothing needs them: no change is reported for them). */
  #end(): void {
    const inner = this.#inner;
    if (!inner) return;
    this.#inner = undefined;
    const stopping = inner.stop();
    this.#stopping.add(stopping);
    void stopping.finally(() => this.#stopping.delete(stopping));
  }
}
