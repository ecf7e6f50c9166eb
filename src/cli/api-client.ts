/**
 * Reads one {@link StatusSnapshot} from a running l2lb's admin API for `l2lb status`: the I/O edge of the
 * command. Every request is a read (no token needed) with a deadline, all in parallel.
 */
import type { ApiTarget } from './api-address.ts';
import type { StatusSnapshot } from './status-format.ts';

/** The API could not be read; `message` is one line naming the address tried and why. */
export class ApiUnreachable extends Error {}

/** How long one request may take: a stopped process accepts connections (the kernel does) but never answers. */
export const REQUEST_TIMEOUT_MS = 5_000;

/** Options of {@link readSnapshot}. */
export interface ReadOptions {
  /** Events to show from `/v1/history` (0: none requested). */
  events: number;
  timeoutMs?: number;
  /** Tests pass a stand-in. */
  fetch?: (url: string, init: { signal: AbortSignal }) => Promise<Response>;
  now?: () => Date;
}

/** Words for a failed connection, the same under Bun and Deno. */
function describeFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const text = `${e?.code ?? ''} ${e?.cause?.code ?? ''} ${e?.message ?? ''} ${e?.cause?.message ?? ''}`;
  // Bun says "Unable to connect" with code ConnectionRefused, Deno "Connection refused (os error 111)".
  if (/refused/i.test(text)) return 'connection refused (is l2lb running, and listening there? see api.listen, or give --api URL)';
  if (/ENOTFOUND|getaddrinfo|dns|resolve/i.test(text)) return `the host name does not resolve (${(e?.message ?? String(err)).split('\n')[0]})`;
  return (e?.message ?? String(err)).split('\n')[0]!;
}

/**
 * Reads status, VIPs (with their request and reply counts), history and (when the process has them) Services, nodes and pools.
 *
 * @throws ApiUnreachable when `/v1/status` or `/v1/vips` cannot be read: a refused connection, a timeout,
 *   or an answer that is not l2lb's. The optional parts are left out when they fail (`/v1/pools` is a 404
 *   outside Kubernetes mode; an older process has no `/v1/history`).
 */
export async function readSnapshot(target: ApiTarget, opts: ReadOptions): Promise<StatusSnapshot> {
  const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const doFetch = opts.fetch ?? ((url, init) => fetch(url, init));
  const where = `${target.url}${target.from === '--api' ? '' : ` (api.listen from ${target.from})`}`;
  const get = async (path: string): Promise<Response> => {
    try {
      return await doFetch(`${target.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new ApiUnreachable(`cannot reach the l2lb admin API at ${where}: ${describeFailure(err, timeoutMs)}`);
    }
  };
  const required = async <T>(path: string): Promise<T> => {
    const res = await get(path);
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    if (!res.ok || typeof body !== 'object' || body === null) {
      throw new ApiUnreachable(`the server at ${where} answered GET ${path} with HTTP ${res.status}${res.ok ? ' and no JSON object' : ''}: is it l2lb's admin API?`);
    }
    return body as T;
  };
  const optional = async <T>(path: string, read: (res: Response) => Promise<T>): Promise<T | undefined> => {
    try {
      const res = await doFetch(`${target.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      return res.ok ? await read(res) : undefined;
    } catch {
      return undefined;
    }
  };
  const json = <K extends string>(key: K) => async (res: Response) => ((await res.json()) as Record<K, unknown>)[key];
  const [status, vips, history, services, nodes, pools] = await Promise.all([
    required<StatusSnapshot['status']>('/v1/status'),
    required<{ vips?: unknown }>('/v1/vips'),
    opts.events > 0 ? optional(`/v1/history?limit=${opts.events}`, json('events')) : Promise.resolve(undefined),
    optional('/v1/services', json('services')),
    optional('/v1/nodes', json('nodes')),
    optional('/v1/pools', json('pools')),
  ]);
  if (!Array.isArray(vips.vips)) throw new ApiUnreachable(`the server at ${where} answered GET /v1/vips without a "vips" list: is it l2lb's admin API?`);
  const list = <T>(value: unknown) => (Array.isArray(value) ? (value as T[]) : undefined);
  const snap: StatusSnapshot = {
    api: target.url,
    at: (opts.now?.() ?? new Date()).toISOString(),
    status,
    vips: vips.vips as StatusSnapshot['vips'],
  };
  const events = list<NonNullable<StatusSnapshot['events']>[number]>(history);
  if (events) snap.events = events;
  const s = list<NonNullable<StatusSnapshot['services']>[number]>(services);
  if (s) snap.services = s;
  const n = list<NonNullable<StatusSnapshot['nodes']>[number]>(nodes);
  if (n) snap.nodes = n;
  const p = list<NonNullable<StatusSnapshot['pools']>[number]>(pools);
  if (p) snap.pools = p;
  return snap;
}
