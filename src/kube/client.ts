/**
 * A small typed Kubernetes REST client on {@link KubeHttp}: CRUD, paginated list and a watch that reads the
 * chunked JSON stream itself. client-node's own Watch/ListWatch are not used: under Bun they lose the TLS
 * options, under Deno they die silently on quiet connections, and ListWatch stops for good on an error
 * (DESIGN: facts).
 */
import { KubeApiError, type KubeHttp, type KubeStatus, type Query } from './http.ts';

/** Patch flavours and their Content-Type (the API server has no default we could rely on). */
export const PATCH_CONTENT_TYPES = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
} as const;

/** Event types a watch passes on; ERROR ends the watch instead. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

/** One watch event. `object` is the decoded object (for BOOKMARK only `metadata.resourceVersion` is set). */
export interface WatchEvent {
  type: WatchEventType;
  // `any` on purpose (the agreed API): the kind depends on the watched path and the caller narrows it,
  // as the Informer does with its type parameter.
  object: any;
}

/** Options of {@link KubeClient.watch}. */
export interface WatchOptions {
  /** Start after this version (from a list, or the last event of a previous watch). */
  resourceVersion: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Ends the watch; `watch` then resolves with `end: 'closed'`. */
  signal: AbortSignal;
  /** With no bytes for this long the watch is given up as `inactive` (default 30 000 ms). */
  inactivityMs?: number;
  /** Asks the server to end the watch after this long (`timeoutSeconds`); unset: the server's default. */
  timeoutSeconds?: number;
  /** Ask for BOOKMARK events (default true). */
  allowWatchBookmarks?: boolean;
  /** Called once the server accepted the watch (200 and headers received). */
  onOpen?: () => void;
}

/** How a watch ended, and the last resourceVersion seen (objects and bookmarks) to resume from. */
export interface WatchResult {
  /** `closed`: the server ended the stream (or the caller aborted); `expired`: the version is too old, relist;
   *  `inactive`: no bytes for `inactivityMs`. */
  end: 'closed' | 'expired' | 'inactive';
  resourceVersion: string;
}

/** Options of {@link KubeClient.list}. */
export interface ListOptions<T = unknown> {
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size (the most items a page asks for); the client follows `continue` until the list is complete. */
  limit?: number;
  /**
   * The JSON a page should weigh, about: after each page the next one asks for as many items as fit, at
   * that page's bytes per item (at most `limit`, and no fewer than {@link MIN_PAGE_ITEMS} when `limit` allows).
   * A page of 500 kubelet Nodes is ~6 MB of text and ~12 MB parsed before it is cut down; 1 MiB pages of
   * them cost a sixth.
   */
  pageBytes?: number;
  /**
   * The list at this revision (`resourceVersionMatch=Exact`, asked on the first page; the continue token
   * carries it on): a second selection of the same snapshot. A revision the server no longer keeps is a
   * 410 Expired.
   */
  exactVersion?: string;
  /** Aborts the list (between or during pages). */
  signal?: AbortSignal;
  /**
   * Applied to each item as its page arrives (undefined drops it): only what it returns is held until the
   * list is complete, not the pages.
   */
  map?: (item: unknown) => T | undefined;
}

/** Options of the {@link KubeClient} constructor. */
export interface KubeClientOptions {
  /** Timeout of each non-watch request (default 30 000 ms). */
  timeoutMs?: number;
}

/** The fewest items a page sized by `pageBytes` asks for: round trips stay few even for huge objects. */
export const MIN_PAGE_ITEMS = 20;

/** One request's parts beside its method and path. */
interface Call {
  body?: unknown;
  contentType?: string;
  query?: Query;
  signal?: AbortSignal;
  /** Read the answer and drop it: a write whose answer is not needed. */
  discard?: boolean;
}

interface ListPage<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The resourceVersion in an event object's metadata, if any. */
function versionOf(object: unknown): string | undefined {
  if (!isRecord(object) || !isRecord(object.metadata)) return undefined;
  const rv = object.metadata.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

/** Kubernetes REST calls on paths like `/api/v1/namespaces/ns/services/name`. Errors are {@link KubeApiError}. */
export class KubeClient {
  readonly http: KubeHttp;
  readonly #timeoutMs: number;

  constructor(http: KubeHttp, opts: KubeClientOptions = {}) {
    this.http = http;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /**
   * One request's 2xx body as text; anything else throws a KubeApiError. `discard`: the body is read (so the
   * connection is reused) and dropped, resolving to "" — a write's answer is the whole object, managedFields
   * and all, and parsing 10,000 of them only to drop them was most of the garbage of the start-up writes.
   */
  async #text(method: string, path: string, call: Call = {}): Promise<string> {
    const opts: Parameters<KubeHttp['request']>[2] = { timeoutMs: this.#timeoutMs };
    if (call.body !== undefined) opts.body = call.body;
    if (call.contentType) opts.contentType = call.contentType;
    if (call.query) opts.query = call.query;
    if (call.signal) opts.signal = call.signal;
    const res = await this.http.request(method, path, opts);
    if (!res.ok) throw await KubeApiError.fromResponse(res, method, path);
    if (call.discard) {
      await res.arrayBuffer();
      return '';
    }
    return res.text();
  }

  /** The answer parsed (undefined when empty, or when `discard`). */
  async #json<T>(method: string, path: string, call: Call = {}): Promise<T> {
    const text = await this.#text(method, path, call);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** GET one object; 404 throws a KubeApiError with `status` 404. */
  get<T>(path: string): Promise<T> {
    return this.#json<T>('GET', path);
  }

  /**
   * GET a whole collection, following `continue` across pages; `resourceVersion` is the list's (for a watch).
   * Pages are asked for one after another: asking for the next before parsing the current (pipelining)
   * measured no faster on 2 cores (100,000 Services: first write 6.2-6.4 s -> 6.3-7.9 s), the client's parse
   * and the server's encoding compete for the same CPUs; measured again with the Services selected on 1.31,
   * where the 5,000 kubelet Nodes are the long list, it won 0.5-1 s but raised one run's peak by 23 MiB.
   */
  async list<T>(path: string, opts: ListOptions<T> = {}): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let resourceVersion = '';
    let token: string | undefined;
    let limit = opts.limit;
    do {
      const at = token === undefined && opts.exactVersion !== undefined ? { resourceVersion: opts.exactVersion, resourceVersionMatch: 'Exact' } : {};
      const text = await this.#text('GET', path, {
        query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit, continue: token, ...at },
        signal: opts.signal,
      });
      const page = JSON.parse(text) as ListPage<unknown>;
      const map = opts.map;
      const got = Array.isArray(page.items) ? page.items : [];
      for (const item of got) {
        const kept = map ? map(item) : (item as T);
        if (kept !== undefined) items.push(kept);
      }
      if (opts.pageBytes !== undefined && got.length > 0) {
        const fit = Math.max(MIN_PAGE_ITEMS, Math.floor(opts.pageBytes / (text.length / got.length)));
        limit = opts.limit === undefined ? fit : Math.min(opts.limit, fit);
      }
      // Every page of a paginated list is served from the same snapshot and carries its version.
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      token = page.metadata?.continue || undefined;
    } while (token);
    return { items, resourceVersion };
  }

  /** POST a new object into a collection path; 409 AlreadyExists throws. `discard`: resolve without the answer. */
  create(path: string, body: unknown, opts: { discard: true }): Promise<void>;
  create<T>(path: string, body: unknown): Promise<T>;
  create<T>(path: string, body: unknown, opts?: { discard: true }): Promise<T> {
    return this.#json<T>('POST', path, { body, discard: opts?.discard });
  }

  /** PUT the object (with `metadata.resourceVersion` for optimistic concurrency: a stale one is 409 Conflict). */
  replace<T>(path: string, body: unknown): Promise<T> {
    return this.#json<T>('PUT', path, { body });
  }

  /** PATCH the object; `merge` (default) is RFC 7386, `json` RFC 6902, `strategic` is for built-in kinds only. */
  patch(path: string, body: unknown, type: keyof typeof PATCH_CONTENT_TYPES, opts: { discard: true }): Promise<void>;
  patch<T>(path: string, body: unknown, type?: keyof typeof PATCH_CONTENT_TYPES): Promise<T>;
  patch<T>(path: string, body: unknown, type: keyof typeof PATCH_CONTENT_TYPES = 'merge', opts?: { discard: true }): Promise<T> {
    return this.#json<T>('PATCH', path, { body, contentType: PATCH_CONTENT_TYPES[type], discard: opts?.discard });
  }

  /** DELETE the object; a missing one throws (404), so callers that do not care catch `status === 404`. */
  async delete(path: string): Promise<void> {
    await this.#json<unknown>('DELETE', path);
  }

  /**
   * Watches `path` (a collection) from `opts.resourceVersion`, calling `onEvent` for each event in order,
   * until the server closes the stream (`closed`), the version has expired (`expired`: an ERROR event with
   * code 410, which a real API server sends inside a 200 stream, or an HTTP 410), nothing arrived for
   * `inactivityMs` (`inactive`: a SIGTERMed API server leaves watches silent), or the caller aborts
   * (`closed`). Other HTTP errors and ERROR events throw KubeApiError; network errors are thrown as-is,
   * and no answer (headers) within the request timeout or `inactivityMs`, whichever is shorter, throws a
   * TimeoutError. An exception from `onEvent` ends the watch and is rethrown.
   */
  async watch(path: string, opts: WatchOptions, onEvent: (ev: WatchEvent) => void): Promise<WatchResult> {
    let resourceVersion = opts.resourceVersion;
    if (opts.signal.aborted) return { end: 'closed', resourceVersion };
    const inactivityMs = opts.inactivityMs ?? 30_000;
    // Connecting, the TLS handshake and the headers get no longer than any other request: a server that
    // accepts and then says nothing (a hung handshake, a full queue) has failed, and the caller backs off.
    const headersMs = Math.min(inactivityMs, this.#timeoutMs);
    const local = new AbortController();
    let why: 'inactive' | 'caller' | 'headers' | undefined;
    const onCallerAbort = () => {
      why ??= 'caller';
      local.abort();
    };
    opts.signal.addEventListener('abort', onCallerAbort, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (ms: number, reason: 'inactive' | 'headers') => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        why ??= reason;
        local.abort(reason === 'headers' ? new DOMException(`no answer to the watch within ${ms} ms`, 'TimeoutError') : undefined);
      }, ms);
    };
    const ended = (): WatchResult | undefined =>
      why === 'inactive' ? { end: 'inactive', resourceVersion } : why === 'caller' ? { end: 'closed', resourceVersion } : undefined;

    arm(headersMs, 'headers');
    try {
      let res: Response;
      try {
        res = await this.http.request('GET', path, {
          signal: local.signal,
          ownConnection: true,
          query: {
            watch: true,
            resourceVersion,
            allowWatchBookmarks: opts.allowWatchBookmarks ?? true,
            labelSelector: opts.labelSelector,
            fieldSelector: opts.fieldSelector,
            timeoutSeconds: opts.timeoutSeconds,
          },
        });
      } catch (error) {
        const result = ended();
        if (result) return result;
        throw error;
      }
      if (res.status === 410) {
        await res.body?.cancel().catch(() => undefined);
        return { end: 'expired', resourceVersion };
      }
      if (!res.ok) throw await KubeApiError.fromResponse(res, 'GET', path);
      arm(inactivityMs, 'inactive');
      opts.onOpen?.();
      if (!res.body) return { end: 'closed', resourceVersion };

      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      /** Handles one line; returns a result when the line ends the watch. */
      const line = (text: string): WatchResult | undefined => {
        const trimmed = text.trim();
        if (!trimmed) return undefined;
        const ev = JSON.parse(trimmed) as { type?: string; object?: unknown };
        if (ev.type === 'ERROR') {
          const status = (isRecord(ev.object) ? ev.object : {}) as KubeStatus;
          if (status.code === 410) return { end: 'expired', resourceVersion };
          throw KubeApiError.fromStatus(status, 'WATCH', path);
        }
        if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED' && ev.type !== 'BOOKMARK') return undefined;
        resourceVersion = versionOf(ev.object) ?? resourceVersion;
        onEvent({ type: ev.type, object: ev.object });
        return undefined;
      };
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          arm(inactivityMs, 'inactive');
          buffer += decoder.decode(value, { stream: true });
          let start = 0;
          for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n', start)) {
            const result = line(buffer.slice(start, nl));
            start = nl + 1;
            if (result) return result;
          }
          buffer = buffer.slice(start);
        }
        const result = line(buffer + decoder.decode());
        if (result) return result;
      } catch (error) {
        const result = ended();
        if (result) return result;
        throw error;
      } finally {
        reader.cancel().catch(() => undefined);
      }
      return { end: 'closed', resourceVersion };
    } finally {
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onCallerAbort);
      // Releases the connection whatever way we leave (an early return leaves the body unread).
      local.abort();
    }
  }
}
