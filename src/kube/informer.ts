/**
 * An informer: a local copy of one collection kept current by list + watch, with change callbacks.
 *
 * It never gives up: a closed or silent watch resumes from the last resourceVersion, an expired version
 * relists and reports the difference, and errors (network, 5xx, 429, 401/403) back off and retry. Nothing
 * is reported for an object whose resourceVersion did not change, so resuming and relisting do not repeat
 * events; nor for one whose kept fields did not change (see `transform`).
 *
 * Memory is bounded by what is kept, not by what the server sends. Lists are paginated (`pageSize`, 500 by
 * default, fewer when that would weigh more than `pageBytes`, 1 MiB: ~85 kubelet Nodes) and each page is cut
 * down by `transform` as it arrives, so the peak of a list is about 1 MiB of text and its parse on top of the
 * kept objects, never the whole collection as one string. A relist (after a 410 or
 * when a continue token expired) reuses every kept object whose resourceVersion did not change, so it costs
 * no more than the first list: one more Map of keys while the new store is built.
 *
 * At 100,000 Services (in one namespace or many: the collection is listed cluster-wide, so namespaces do
 * not change the pages) the list is 200 requests of 500 where the server cannot select what is kept (before
 * Kubernetes 1.31; from 1.31 `listAs` asks only for the LoadBalancers and our labelled Services); each page
 * is ~1 MB of JSON with managedFields, parsed, cut down and dropped before the next one is asked for. What
 * stays is what is kept: ~90 MB if all 100,000 were LoadBalancers (~0.9 KB each, src/kube/trim.ts), ~35 MB
 * if they were ClusterIP Services (nothing when `select` refuses them, as the Service controller's does),
 * against ~450 MB whole. The continue token is good until etcd compacts the revision the list started at
 * (every 5 min by default), far longer than 200 pages take; if it expires anyway (410 Expired on a page),
 * the list starts over at once, and only a second expiry in a row backs off. Starting over keeps the result
 * one consistent snapshot: the "inconsistent continue" token a real server offers with that 410 is not
 * used, since a watch could not resume from it.
 */
import { describeError, sleep } from './util.ts';
import { keyOf } from './objects.ts';
import type { Logger } from '../log.ts';
import { type KubeClient, type WatchEvent } from './client.ts';
import { KubeApiError } from './http.ts';
import { backoffDelay } from './backoff.ts';
import { sameExceptVersion } from './trim.ts';

/** About what a list page weighs at most, in JSON (a page's text and its parse are the peak of a list). */
export const DEFAULT_PAGE_BYTES = 1 << 20;

/** The part of every Kubernetes object the informer relies on. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: string;
  };
}

/** A change to the store: from a watch event or from the difference a relist found. */
export interface InformerEvent<T extends KubeObject> {
  type: 'added' | 'modified' | 'deleted';
  /** The new state; for `deleted`, the last state known. */
  object: T;
  /** The state before (for `modified` and `deleted`). */
  old?: T;
}

/** Options of the {@link Informer} constructor. */
export interface InformerOptions<T extends KubeObject = KubeObject> {
  log: Logger;
  /** Names the informer in logs, e.g. `services`. */
  name: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Retry delays after errors: doubling from `initialMs` to `maxMs`, with jitter (default 200 ms .. 10 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** Give up a watch that sent nothing for this long (default 30 000 ms). */
  inactivityMs?: number;
  /** Server-side watch timeout; default random in 240..300 s so that many watches do not reconnect together. */
  watchTimeoutSeconds?: number;
  /** List page size (default 500): the most items a page asks for. */
  pageSize?: number;
  /** About what a list page should weigh in JSON (default {@link DEFAULT_PAGE_BYTES}; see `ListOptions.pageBytes`). */
  pageBytes?: number;
  /**
   * Cuts each object down to what is kept, as it arrives (list pages and watch events); undefined drops
   * it. Default: kept whole. An update whose transformed object equals the stored one but for its
   * resourceVersion is stored (the version) and not reported.
   */
  transform?: (object: unknown) => T | undefined;
  /**
   * A selection made on this side, for what the server cannot select (a Service's type, before Kubernetes
   * 1.31): an object it refuses is not stored and its changes wake nobody; a stored object that stops
   * passing is reported `deleted`, one that starts passing `added`, as a watch with a field selector reports
   * an object leaving or entering the selection. Applied to the transformed object. Default: all pass.
   */
  select?: (object: T) => boolean;
  /**
   * Server-side selections whose union holds every object `select` keeps (each is ANDed with the
   * informer's own selectors): a list asks for each of them instead of the whole collection, the first at
   * the server's current revision, the others at that same revision (`resourceVersionMatch=Exact`), so they
   * add up to one snapshot the watch resumes from. The watch itself is not narrowed: it sees every change,
   * and `select` tells what enters and leaves. A server that cannot select so (400, e.g. a Service's
   * `spec.type` before Kubernetes 1.31) gets the whole list instead, asked again at each list.
   */
  listAs?: readonly ListSelection[];
}

/** One server-side selection of a collection (see `InformerOptions.listAs`). */
export interface ListSelection {
  labelSelector?: string;
  fieldSelector?: string;
}

/** Two selectors that must both hold, as one (`a,b`). */
const both = (a: string | undefined, b: string | undefined): string | undefined => (a && b ? `${a},${b}` : a || b);

/** The store key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(object: KubeObject): string {
  return keyOf(object.metadata);
}

/** A watch that ends this fast without a single event counts as a failure, so a bad server cannot spin us. */
const QUICK_CLOSE_MS = 1000;



/** Keeps a local copy of the collection at `path` (e.g. `/api/v1/services`) current. */
export class Informer<T extends KubeObject> {
  readonly #client: KubeClient;
  readonly #path: string;
  readonly #opts: InformerOptions<T>;
  readonly #transform: (object: unknown) => T | undefined;
  readonly #log: Logger;
  readonly #handlers: ((ev: InformerEvent<T>) => void)[] = [];
  #store = new Map<string, T>();
  #abort = new AbortController();
  #running: Promise<void> | undefined;
  #synced = false;
  #resolveSynced!: () => void;
  #connected = false;
  #lastError: string | undefined;
  /** The last list could not be made of `listAs` selections (the server refused them). */
  #wholeList = false;

  /** Resolves after the first complete list has been stored (and its `added` events delivered). */
  readonly synced: Promise<void>;
  /** The informer's name (from the options), for logs and status. */
  readonly name: string;
  /** The collection path it watches. */
  readonly path: string;

  constructor(client: KubeClient, path: string, opts: InformerOptions<T>) {
    this.#client = client;
    this.#path = path;
    this.#opts = opts;
    this.#transform = opts.transform ?? ((object) => object as T);
    this.name = opts.name;
    this.path = path;
    this.#log = opts.log.child({ informer: opts.name });
    this.synced = new Promise((resolve) => (this.#resolveSynced = resolve));
  }

  /** Registers a handler for every change, including the `added` of the initial list and relist differences. */
  onChange(handler: (ev: InformerEvent<T>) => void): void {
    this.#handlers.push(handler);
  }

  /** Starts listing and watching in the background (once). */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Ends the watch and waits for the loop to finish. `synced` stays pending if it never synced. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    this.#connected = false;
  }

  /** True once the first complete list is in the store: never act on a partial view before. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** The object stored under `key` (`namespace/name` or `name`). */
  get(key: string): T | undefined {
    return this.#store.get(key);
  }

  /** All stored objects. */
  list(): T[] {
    return [...this.#store.values()];
  }

  /** What keeps it disconnected right now (undefined when connected). */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** True while the last list or watch request succeeded (for /readyz and /v1/status). */
  connected(): boolean {
    return this.#connected;
  }

  #emit(ev: InformerEvent<T>): void {
    for (const handler of this.#handlers) {
      try {
        handler(ev);
      } catch (error) {
        // A handler bug must not stop the informer; the next change gives it another chance.
        this.#log.error('change handler failed', { error, type: ev.type, key: objectKey(ev.object) });
      }
    }
  }

  /** The kept form of an object from the wire, or undefined when it cannot be stored. */
  #keep(raw: unknown): T | undefined {
    const object = this.#transform(raw);
    return object?.metadata?.name ? object : undefined;
  }

  /** Whether the `select` option keeps the object (all pass without one). */
  #selected(object: T): boolean {
    return this.#opts.select?.(object) ?? true;
  }

  /** Applies one watch event to the store and reports it unless it changes nothing kept. */
  #apply(ev: WatchEvent): void {
    if (ev.type === 'BOOKMARK') return;
    const object = this.#keep(ev.object);
    if (!object) return;
    const key = objectKey(object);
    const old = this.#store.get(key);
    if (ev.type === 'DELETED' || !this.#selected(object)) {
      if (!old) return;
      this.#store.delete(key);
      this.#emit({ type: 'deleted', object, old });
      return;
    }
    if (old && old.metadata.resourceVersion === object.metadata.resourceVersion) return;
    this.#store.set(key, object);
    // Only fields l2lb does not keep changed (a kubelet heartbeat, managedFields): the new version is
    // stored, for writes made against it, and nobody is woken.
    if (old && sameExceptVersion(old, object)) return;
    this.#emit(old ? { type: 'modified', object, old } : { type: 'added', object });
  }

  /**
   * The kept form of one listed object; the stored object itself when its resourceVersion did not change,
   * so a relist holds one copy of what did not change, not two.
   */
  #keepListed(raw: unknown): T | undefined {
    const object = this.#keep(raw);
    if (!object || !this.#selected(object)) return undefined;
    const old = this.#store.get(objectKey(object));
    return old && old.metadata.resourceVersion === object.metadata.resourceVersion ? old : object;
  }

  /** Replaces the store with a fresh list and reports the difference: deletions first, then the rest in list order. */
  #replace(items: T[]): void {
    const next = new Map<string, T>();
    for (const item of items) next.set(objectKey(item), item);
    const events: InformerEvent<T>[] = [];
    for (const [key, old] of this.#store) if (!next.has(key)) events.push({ type: 'deleted', object: old, old });
    for (const [key, object] of next) {
      const old = this.#store.get(key);
      if (!old) events.push({ type: 'added', object });
      else if (old !== object && !sameExceptVersion(old, object)) events.push({ type: 'modified', object, old });
    }
    this.#store = next;
    for (const ev of events) this.#emit(ev);
  }

  #ok(): void {
    if (this.#lastError !== undefined) this.#log.info('connected again', { path: this.#path });
    this.#connected = true;
    this.#lastError = undefined;
  }

  /** The backoff before retry number `failures`, counted in the connection's stats (the metric shows it). */
  #delay(failures: number, error?: unknown): number {
    const hint = error instanceof KubeApiError ? error.retryAfterMs : undefined;
    const delay = backoffDelay(failures, this.#opts.backoff ?? { initialMs: 200, maxMs: 10_000 }, hint);
    this.#client.http.stats.retry(this.name, delay);
    return delay;
  }

  #failed(error: unknown, failures: number, delayMs: number, during: 'list' | 'watch'): void {
    this.#connected = false;
    this.#lastError = `${during} ${this.#path}: ${describeError(error)}`;
    const fields = { path: this.#path, error: describeError(error), attempt: failures, retryInMs: Math.round(delayMs) };
    if (error instanceof KubeApiError && (error.status === 401 || error.status === 403)) {
      // Credentials or RBAC are wrong: retrying helps only once someone fixes them, so say it loudly.
      this.#log.error(`${during} refused (${error.status} ${error.reason}): check the credentials and RBAC of l2lb`, fields);
    } else {
      this.#log.warn(`${during} failed, retrying`, fields);
    }
  }

  /** The collection as one snapshot: by the `listAs` selections when the server can make them, else whole. */
  async #list(signal: AbortSignal): Promise<{ items: T[]; resourceVersion: string }> {
    const { labelSelector, fieldSelector, listAs } = this.#opts;
    const pages = {
      limit: this.#opts.pageSize ?? 500,
      pageBytes: this.#opts.pageBytes ?? DEFAULT_PAGE_BYTES,
      signal,
      map: (raw: unknown) => this.#keepListed(raw),
    };
    const [first, ...rest] = listAs ?? [];
    if (first) {
      let atRevision = false;
      try {
        const at = (part: ListSelection) => ({ labelSelector: both(labelSelector, part.labelSelector), fieldSelector: both(fieldSelector, part.fieldSelector), ...pages });
        const head = await this.#client.list<T>(this.#path, at(first));
        atRevision = true;
        // An object in two selections is listed twice at the same version: #replace keeps one.
        for (const part of rest) {
          const more = await this.#client.list<T>(this.#path, { ...at(part), exactVersion: head.resourceVersion });
          for (const item of more.items) head.items.push(item);
        }
        if (this.#wholeList) this.#log.info('the server selects again: listing by selection', { path: this.#path });
        this.#wholeList = false;
        return head;
      } catch (error) {
        // 400: the server cannot select so (a Service's type before 1.31). A 410 at the first selection's
        // revision: compacted already, or a store that keeps no past revisions (a server that answered every
        // such list 410 would otherwise never be listed at all). Either way the whole list is one snapshot.
        const refused = error instanceof KubeApiError && (error.status === 400 || (error.status === 410 && atRevision));
        if (!refused) throw error;
        if (!this.#wholeList) this.#log.info('the server cannot list what is kept by selection: listing the whole collection', { path: this.#path, error: describeError(error) });
        this.#wholeList = true;
      }
    }
    return this.#client.list<T>(this.#path, { labelSelector, fieldSelector, ...pages });
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const { labelSelector, fieldSelector } = this.#opts;
    // undefined: the store must be (re)built from a list before watching.
    let version: string | undefined;
    let failures = 0;
    // Lists in a row whose continue token expired before the last page.
    let listExpiries = 0;
    while (!signal.aborted) {
      let during: 'list' | 'watch' = 'list';
      // A watch that was up for a while (or delivered something) proves the server is back: its failure
      // starts the backoff over.
      let healthy = false;
      let justListed = false;
      try {
        if (version === undefined) {
          justListed = true;
          const listed = await this.#list(signal);
          listExpiries = 0;
          if (signal.aborted) break;
          this.#ok();
          this.#replace(listed.items);
          version = listed.resourceVersion;
          if (!this.#synced) {
            this.#synced = true;
            this.#log.debug('synced', { path: this.#path, objects: listed.items.length, resourceVersion: version });
            this.#resolveSynced();
          }
        }
        during = 'watch';
        const started = performance.now();
        let events = 0;
        let opened = false;
        const watchOpts: Parameters<KubeClient['watch']>[1] = {
          resourceVersion: version,
          signal,
          inactivityMs: this.#opts.inactivityMs ?? 30_000,
          timeoutSeconds: this.#opts.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 61),
          onOpen: () => {
            opened = true;
            this.#ok();
          },
        };
        if (labelSelector) watchOpts.labelSelector = labelSelector;
        if (fieldSelector) watchOpts.fieldSelector = fieldSelector;
        const healthyTimer = setTimeout(() => (healthy = opened), QUICK_CLOSE_MS);
        const result = await this.#client.watch(this.#path, watchOpts, (ev) => {
          events++;
          healthy = true;
          // Tracked per event so that a watch that dies with an error still resumes where it was.
          version = (ev.object?.metadata?.resourceVersion as string | undefined) || version;
          this.#apply(ev);
        }).finally(() => clearTimeout(healthyTimer));
        if (signal.aborted) break;
        this.#client.http.stats.watchEnd(this.name, result.end);
        version = result.resourceVersion;
        if (result.end === 'expired') {
          this.#log.info('resourceVersion expired, relisting', { path: this.#path, resourceVersion: version });
          version = undefined;
          // A fresh list's version expiring at once again means a confused server: do not spin on it.
          if (events === 0 && performance.now() - started < QUICK_CLOSE_MS && justListed) {
            failures++;
            await sleep(this.#delay(failures), signal);
          }
          continue;
        }
        if (result.end === 'inactive') {
          // Expected on quiet collections (a real API server sends them no bookmarks), and the only sign of a
          // SIGTERMed server, which leaves watches silent. Not a failure by itself: the reconnect tells.
          this.#log.debug('watch silent, reconnecting', { path: this.#path, resourceVersion: version });
          continue;
        }
        if (events === 0 && performance.now() - started < QUICK_CLOSE_MS) {
          failures++;
          await sleep(this.#delay(failures), signal);
        } else {
          failures = 0;
        }
      } catch (error) {
        if (signal.aborted) break;
        if (during === 'list' && error instanceof KubeApiError && error.status === 410 && listExpiries++ === 0) {
          // The continue token expired mid-list (etcd compacted the list's revision): start over at once
          // from a fresh snapshot; the store keeps the last complete view meanwhile. A second expiry in a
          // row is a failure like any other and backs off.
          this.#log.info('list continue token expired, listing again', { path: this.#path, error: describeError(error) });
          continue;
        }
        if (during === 'watch') this.#client.http.stats.watchEnd(this.name, 'failed');
        if (healthy) failures = 0;
        failures++;
        // A list whose continue token expired must start over; a failed watch resumes from its version.
        if (error instanceof KubeApiError && error.status === 410) version = undefined;
        const delay = this.#delay(failures, error);
        this.#failed(error, failures, delay, during);
        await sleep(delay, signal);
      }
    }
  }
}
