/**
 * The HTTP layer under the Kubernetes client: `fetch` with the cluster's CA, client certificate and bearer
 * token, passed the way each runtime really honours them. Bun takes them per request (`fetch(url, { tls })`);
 * Deno takes them on an HTTP client object (`Deno.createHttpClient`). Neither reads NODE_EXTRA_CA_CERTS for
 * this: when `caPem` is set it is the only trusted root, so a wrong CA fails.
 */
import type { KubeAccess } from './access.ts';
import { KubeStats, errorFailure, statusFailure } from './stats.ts';

/** The subset of Deno's API used here; tsc sees Bun's types only. */
interface DenoHttpClient {
  close(): void;
}
declare const Deno: {
  createHttpClient(opts: { caCerts?: string[]; cert?: string; key?: string }): DenoHttpClient;
} | undefined;

/** Query parameters; `undefined` values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** Options of {@link KubeHttp.request}. */
export interface RequestOptions {
  query?: Query;
  /** JSON-encoded unless it is already a string. */
  body?: unknown;
  /** Content-Type of the body (default `application/json`). */
  contentType?: string;
  signal?: AbortSignal;
  /** Aborts the request (and its body) after this long with a `TimeoutError`. */
  timeoutMs?: number;
  /**
   * A long-lived request (a watch): it gets a connection of its own, closed when it ends, instead of taking
   * an idle one from the pool. A burst of watch reconnects must not take the warm connections the Lease
   * renewals ride on: a new connection may hang in its TLS handshake or wait for a busy server.
   */
  ownConnection?: boolean;
}

/** A Kubernetes `Status` object, as the API server returns with errors. */
export interface KubeStatus {
  kind?: string;
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[]; retryAfterSeconds?: number };
}

/** The API server refused a request: HTTP status, Kubernetes reason (`NotFound`, `Conflict`, …) and Status body. */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  /** HTTP status code (or the `code` of an ERROR watch event). */
  readonly status: number;
  /** Kubernetes reason, e.g. `NotFound`, `AlreadyExists`, `Conflict`, `Expired`, `Forbidden`; else the HTTP status text. */
  readonly reason: string;
  /** The parsed Status object, when the server sent one. */
  readonly body?: KubeStatus;
  /** What was asked, for messages. */
  readonly method: string;
  readonly path: string;
  /** From `Retry-After` or `details.retryAfterSeconds` (429, 503). */
  readonly retryAfterMs?: number;

  constructor(init: { status: number; reason: string; message: string; method: string; path: string; body?: KubeStatus; retryAfterMs?: number }) {
    super(`${init.method} ${init.path}: ${init.status} ${init.reason}${init.message ? `: ${init.message}` : ''}`);
    this.status = init.status;
    this.reason = init.reason;
    this.method = init.method;
    this.path = init.path;
    if (init.body !== undefined) this.body = init.body;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }

  /** Reads an error response's body (consuming it) into an error. */
  static async fromResponse(res: Response, method: string, path: string): Promise<KubeApiError> {
    let text = '';
    try {
      text = await res.text();
    } catch {
      // The body may die with the connection; the status line is still worth reporting.
    }
    let body: KubeStatus | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && (parsed as KubeStatus).kind === 'Status') body = parsed as KubeStatus;
    } catch {
      // Not JSON (a proxy's HTML page, say): keep a short excerpt as the message.
    }
    const header = Number(res.headers.get('retry-after'));
    const retryAfterSeconds = Number.isFinite(header) && header > 0 ? header : body?.details?.retryAfterSeconds;
    const init: ConstructorParameters<typeof KubeApiError>[0] = {
      status: res.status,
      reason: body?.reason || res.statusText || String(res.status),
      message: body?.message ?? text.trim().slice(0, 200),
      method,
      path,
    };
    if (body) init.body = body;
    if (retryAfterSeconds) init.retryAfterMs = retryAfterSeconds * 1000;
    return new KubeApiError(init);
  }

  /** An error from the Status of a watch ERROR event. */
  static fromStatus(status: KubeStatus, method: string, path: string): KubeApiError {
    return new KubeApiError({ status: status.code ?? 500, reason: status.reason || 'Unknown', message: status.message ?? '', method, path, body: status });
  }
}

/** Builds `path?query` with `undefined` entries left out. */
export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

/**
 * Requests to one API server with the credentials of a {@link KubeAccess}. Returns the raw `Response` for
 * every status: callers decide what an error is (a watch reads the body as a stream).
 */
export class KubeHttp {
  readonly access: KubeAccess;
  /** Failed requests (and the retry loops of everyone using this connection), for metrics. */
  readonly stats = new KubeStats();
  readonly #base: string;
  /** Deno: one HTTP client (and its connection pool) for the lifetime of this object. */
  #denoClient: DenoHttpClient | undefined;

  constructor(access: KubeAccess) {
    this.access = access;
    this.#base = access.server.replace(/\/+$/, '');
  }

  /**
   * Sends one request; network errors and timeouts reject as `fetch` does (TypeError, AbortError,
   * TimeoutError). A 401 to a bearer token reads the token again at once and, if it changed, sends the
   * request once more with the new one: a projected ServiceAccount token is replaced on disk, and the old
   * one may be refused before the token cache would have looked again.
   */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const token = await this.access.token?.();
    const res = await this.#send(method, path, opts, token);
    if (res.status !== 401 || token === undefined || !this.access.token) return res;
    const fresh = await this.access.token({ fresh: true });
    if (fresh === undefined || fresh === token) return res;
    await res.body?.cancel().catch(() => undefined);
    return await this.#send(method, path, opts, fresh);
  }

  /** One exchange with the server, counted in {@link stats} when it fails. */
  async #send(method: string, path: string, opts: RequestOptions, token: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'l2lb' };
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['Content-Type'] = opts.contentType ?? 'application/json';
    }
    const signals: AbortSignal[] = [];
    if (opts.signal) signals.push(opts.signal);
    if (opts.timeoutMs !== undefined) signals.push(AbortSignal.timeout(opts.timeoutMs));
    const init: RequestInit & Record<string, unknown> = { method, headers };
    // Bun takes `keepalive: false` as "neither from the pool nor back to it".
    if (opts.ownConnection) init.keepalive = false;
    if (body !== undefined) init.body = body;
    if (signals.length === 1) init.signal = signals[0];
    else if (signals.length > 1) init.signal = AbortSignal.any(signals);
    Object.assign(init, this.#tlsInit());
    let res: Response;
    try {
      res = await fetch(`${this.#base}${withQuery(path, opts.query)}`, init);
    } catch (error) {
      const reason = errorFailure(error);
      if (reason) this.stats.failure(path, reason);
      throw error;
    }
    const reason = statusFailure(res.status);
    if (reason) this.stats.failure(path, reason);
    return res;
  }

  /** The runtime-specific part of the fetch options that carries CA, client certificate and key. */
  #tlsInit(): Record<string, unknown> {
    const { caPem, certPem, keyPem, insecureSkipTLSVerify } = this.access;
    if (typeof Deno !== 'undefined') {
      // Deno has no per-client switch for skipping verification; insecure-skip-tls-verify needs
      // `deno run --unsafely-ignore-certificate-errors`.
      if (!caPem && !certPem) return {};
      this.#denoClient ??= Deno.createHttpClient({
        ...(caPem ? { caCerts: [caPem] } : {}),
        ...(certPem && keyPem ? { cert: certPem, key: keyPem } : {}),
      });
      return { client: this.#denoClient };
    }
    const tls: Record<string, unknown> = {};
    if (caPem) tls.ca = caPem;
    if (certPem && keyPem) {
      tls.cert = certPem;
      tls.key = keyPem;
    }
    if (insecureSkipTLSVerify) tls.rejectUnauthorized = false;
    return Object.keys(tls).length > 0 ? { tls } : {};
  }

  /** Releases the Deno HTTP client (no-op under Bun). */
  close(): void {
    this.#denoClient?.close();
    this.#denoClient = undefined;
  }
}
