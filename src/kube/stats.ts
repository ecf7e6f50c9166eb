/**
 * Counts of what went wrong talking to the API server and how the retry loops answered, for metrics: failed
 * requests by resource and reason, each retry loop's backoff (so its jitter is visible), and how watches
 * ended. Recording only; the loops decide.
 */

/**
 * Why a request failed: the HTTP status class a client acts on, or what happened on the way. Answers that
 * are part of the protocol (404, 409 Conflict, 410 Expired) are not failures.
 */
export type RequestFailure = '401' | '403' | '429' | '4xx' | '5xx' | 'timeout' | 'network';

/** How a watch ended (see `WatchResult`), or `failed` when it ended with an error. */
export type WatchEnd = 'closed' | 'expired' | 'inactive' | 'failed';

/** One retry loop's backoff so far. */
export interface RetryRecord {
  /** Retries after a failure. */
  count: number;
  /** The delay chosen last (ms): successive values differ by the jitter. */
  lastDelayMs: number;
  /** Sum of all delays (ms). */
  totalDelayMs: number;
}

/**
 * The reason a response status counts as a failure, or undefined when it does not (2xx, 3xx, 404, 409, 410:
 * the normal answers of reads, optimistic writes and watches).
 */
export function statusFailure(status: number): RequestFailure | undefined {
  if (status === 401 || status === 403 || status === 429) return String(status) as RequestFailure;
  if (status >= 500) return '5xx';
  if (status >= 400 && status !== 404 && status !== 409 && status !== 410) return '4xx';
  return undefined;
}

/**
 * The reason a thrown request error counts as a failure: `timeout` for a deadline (TimeoutError), undefined
 * for an abort the caller chose (AbortError), `network` for the rest (refused, reset, TLS, DNS).
 */
export function errorFailure(error: unknown): RequestFailure | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError') return 'timeout';
  if (name === 'AbortError') return undefined;
  return 'network';
}

/**
 * The resource a request path addresses, with its subresource: `services`, `services/status`, `leases`,
 * `eips/status`, `namespaces`; the path itself for anything outside the resource API (`/version`).
 */
export function resourceOf(path: string): string {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  let rest: string[];
  if (parts[0] === 'api') rest = parts.slice(2);
  else if (parts[0] === 'apis') rest = parts.slice(3);
  else return `/${parts.join('/')}`;
  // namespaces/<ns>/<resource>/..., but namespaces/<name>/status|finalize are the Namespace's own
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') rest = rest.slice(2);
  if (rest.length === 0) return `/${parts.join('/')}`;
  return rest.length >= 3 ? `${rest[0]}/${rest[2]}` : rest[0]!;
}

/** The counters one API connection (a `KubeHttp`) collects for everything that uses it. */
export class KubeStats {
  /** Failed requests: `resource` -> reason -> count. */
  readonly failures = new Map<string, Map<RequestFailure, number>>();
  /** Backoff of each retry loop, by the loop's name (an informer's name, `writes`). */
  readonly retries = new Map<string, RetryRecord>();
  /** Watch ends: informer name -> how -> count. */
  readonly watchEnds = new Map<string, Map<WatchEnd, number>>();

  /** Counts a failed request. */
  failure(path: string, reason: RequestFailure): void {
    const resource = resourceOf(path);
    let byReason = this.failures.get(resource);
    if (!byReason) this.failures.set(resource, (byReason = new Map()));
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }

  /** Counts a retry of `loop` after `delayMs`. */
  retry(loop: string, delayMs: number): void {
    const r = this.retries.get(loop) ?? { count: 0, lastDelayMs: 0, totalDelayMs: 0 };
    r.count++;
    r.lastDelayMs = delayMs;
    r.totalDelayMs += delayMs;
    this.retries.set(loop, r);
  }

  /** Counts how a watch of `informer` ended. */
  watchEnd(informer: string, end: WatchEnd): void {
    let byEnd = this.watchEnds.get(informer);
    if (!byEnd) this.watchEnds.set(informer, (byEnd = new Map()));
    byEnd.set(end, (byEnd.get(end) ?? 0) + 1);
  }
}
