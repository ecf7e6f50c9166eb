/**
 * The admin API (Hono): health, readiness, metrics, status, and the VIP table. Reads are open; mutations need
 * the bearer token when one is configured. Every error is JSON `{error, detail}`, and no error carries a
 * stack trace or a path of this host: an unexpected one is logged and answered with a plain 500.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import type { VipStatus } from '../announce/announcer.ts';
import type { NodeView, PoolView, ServiceView, ServingView } from '../kube/controller.ts';
import { formatIP, parseIP } from '../net/ip.ts';
import { formatMAC, parseMAC } from '../net/mac.ts';
import { tokenMatches } from './auth.ts';
import { METRICS_CONTENT_TYPE } from './metrics.ts';
import { addEventRoutes } from './events.ts';
import { statusPage } from './page.ts';
import { openApiDocument } from './openapi.ts';
import type { History } from '../history.ts';

/** An error the API reports with a 4xx/5xx status. */
export class ApiError extends Error {
  constructor(readonly status: 400 | 401 | 404 | 405 | 409 | 413 | 415 | 500 | 503, readonly code: string, detail: string) {
    super(detail);
  }
}

/** Body of `PUT /v1/vips/{ip}`. */
export interface VipBody {
  interface?: string;
  mac?: string;
}

/** What the API needs from the running process. */
export interface ApiDeps {
  token?: string;
  /** Where an unexpected error is told (the client gets no detail of it). */
  logError?(message: string, fields: Record<string, unknown>): void;
  status(): Record<string, unknown>;
  ready(): { ready: boolean; reasons: string[] };
  metrics(): string;
  vips: {
    list(): VipStatus[];
    get(ip: string): VipStatus | undefined;
    /** Absent when VIPs are not managed through the API in this mode. Returns whether the VIP is new. */
    put?(ip: string, body: VipBody): boolean;
    /** Why `ip` may not be announced here (`net/announceable.ts` with this host's addresses), if it may not. */
    refuse?(ip: string): string | undefined;
    delete?(ip: string): boolean;
  };
  /** Kubernetes mode: pools and Services. */
  pools?: () => PoolView[];
  /** Each Service with the node serving each of its addresses (null: none chosen). */
  services?: () => (ServiceView & { nodes: Record<string, ServingView | null> })[];
  nodes?: () => NodeView[];
  /** The event history (`/v1/history`, `/v1/events`); absent: both are 404. */
  history?: History;
}

const IFNAME = /^[^\s/:]{1,15}$/;
/** Paths that are only read. */
const READ_ONLY_PATHS = ['/', '/healthz', '/readyz', '/metrics', '/v1/status', '/v1/vips', '/v1/pools', '/v1/services', '/v1/nodes', '/v1/history', '/v1/events', '/v1/openapi.json'];

/** A VIP's body is a few dozen bytes; anything much larger is a mistake or an attack, refused unread. */
export const MAX_BODY = 4 * 1024;

/** What `PUT /v1/vips/{ip}` validates its body with; `openapi.ts` converts the same schema for the document. */
export const VipBodySchema = v.strictObject({
  interface: v.optional(v.pipe(v.string('interface must be a string'), v.regex(IFNAME, 'interface must be a Linux interface name (1-15 characters, no "/", ":" or spaces)'))),
  mac: v.optional(v.pipe(v.string('mac must be a string'), v.check((m) => parseMAC(m) !== undefined, 'mac must be a MAC address like 02:00:00:00:00:01'))),
});

function fail(c: Context, err: ApiError) {
  return c.json({ error: err.code, detail: err.message }, err.status);
}

/** A path echoed in an error, cut short: a 100 KiB path is not sent back whole. */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function allow(c: Context, methods: string) {
  c.header('Allow', methods);
  return c.body(null, 204);
}

function notAllowed(c: Context, methods: string) {
  c.header('Allow', methods);
  return fail(c, new ApiError(405, 'method-not-allowed', `${c.req.method} is not allowed here (${methods})`));
}

function ipParam(raw: string): string {
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, 'invalid-ip', `"${clip(raw)}" is not an IPv4 or IPv6 address (bad percent-encoding)`);
  }
  const ip = parseIP(text);
  if (!ip) throw new ApiError(400, 'invalid-ip', `${JSON.stringify(clip(text))} is not an IPv4 or IPv6 address`);
  return formatIP(ip);
}

async function readBody(c: Context): Promise<VipBody> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  const type = c.req.header('content-type') ?? '';
  if (type && !/^application\/json\b/i.test(type)) throw new ApiError(415, 'unsupported-media-type', `expected application/json, got ${JSON.stringify(clip(type))}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'invalid-json', `the body is not JSON: ${(err as Error).message}`);
  }
  const r = v.safeParse(VipBodySchema, raw);
  if (!r.success) {
    const detail = r.issues.map((i) => {
      const path = v.getDotPath(i);
      return i.type === 'strict_object' && path ? `unknown key "${path}" (expected interface, mac)` : path && !i.message.startsWith(path) ? `${path}: ${i.message}` : i.message;
    }).join('; ');
    throw new ApiError(400, 'invalid-body', detail);
  }
  const out: VipBody = {};
  if (r.output.interface !== undefined) out.interface = r.output.interface;
  if (r.output.mac !== undefined) out.mac = formatMAC(parseMAC(r.output.mac)!);
  return out;
}

/** Builds the Hono app over the running process. */
export function createApi(deps: ApiDeps): Hono {
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof ApiError) return fail(c, err);
    deps.logError?.('admin API: unexpected error', { method: c.req.method, path: c.req.path, error: err });
    return fail(c, new ApiError(500, 'internal', 'internal error: the l2lb log has the details'));
  });
  app.notFound((c) => c.json({ error: 'not-found', detail: `no route for ${c.req.method} ${clip(c.req.path)}` }, 404));
  // Refused before a byte of the body is read (Content-Length, or counted while streaming).
  const limited = bodyLimit({
    maxSize: MAX_BODY,
    onError: (c) => fail(c, new ApiError(413, 'body-too-large', `the body is larger than ${MAX_BODY} bytes`)),
  });
  // OPTIONS says what a path allows; other methods are answered 405 with the same list (below).
  app.options('/v1/vips/:ip', (c) => allow(c, 'GET, HEAD, PUT, DELETE, OPTIONS'));
  for (const path of READ_ONLY_PATHS) app.options(path, (c) => allow(c, 'GET, HEAD, OPTIONS'));

  const mutating = async (c: Context, next: () => Promise<void>) => {
    if (deps.token !== undefined) {
      const auth = c.req.header('authorization') ?? '';
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (!m) {
        c.header('WWW-Authenticate', 'Bearer realm="l2lb"');
        throw new ApiError(401, 'unauthorized', 'this route needs "Authorization: Bearer <token>"');
      }
      if (!tokenMatches(m[1]!, deps.token)) {
        c.header('WWW-Authenticate', 'Bearer realm="l2lb", error="invalid_token"');
        throw new ApiError(401, 'unauthorized', 'the bearer token is not valid');
      }
    }
    await next();
  };

  // The status page: read-only, no token, its own script and style only (see page.ts).
  app.get('/', (c) => {
    const page = statusPage();
    return c.html(page.html, 200, { 'Content-Security-Policy': page.csp, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });
  });
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const r = deps.ready();
    return c.json({ ready: r.ready, reasons: r.reasons }, r.ready ? 200 : 503);
  });
  app.get('/metrics', (c) => c.body(deps.metrics(), 200, { 'Content-Type': METRICS_CONTENT_TYPE }));
  app.get('/v1/status', (c) => c.json(deps.status()));
  app.get('/v1/vips', (c) => c.json({ vips: deps.vips.list() }));
  app.get('/v1/vips/:ip', (c) => {
    const ip = ipParam(c.req.param('ip'));
    const vip = deps.vips.get(ip);
    if (!vip) throw new ApiError(404, 'not-found', `no VIP ${ip}`);
    return c.json(vip);
  });
  app.put('/v1/vips/:ip', mutating, limited, async (c) => {
    const ip = ipParam(c.req.param('ip')!);
    if (!deps.vips.put) throw new ApiError(405, 'read-only', 'VIPs are not managed through the API in this mode');
    const body = await readBody(c);
    const refused = deps.vips.refuse?.(ip);
    if (refused) throw new ApiError(400, 'not-announceable', refused);
    const created = deps.vips.put(ip, body);
    return c.json(deps.vips.get(ip) ?? { ip }, created ? 201 : 200);
  });
  app.delete('/v1/vips/:ip', mutating, (c) => {
    const ip = ipParam(c.req.param('ip')!);
    if (!deps.vips.delete) throw new ApiError(405, 'read-only', 'VIPs are not managed through the API in this mode');
    if (!deps.vips.delete(ip)) throw new ApiError(404, 'not-found', `no VIP ${ip}`);
    return c.body(null, 204);
  });
  app.get('/v1/pools', (c) => {
    if (!deps.pools) throw new ApiError(404, 'not-found', 'pools exist in kubernetes mode only');
    return c.json({ pools: deps.pools() });
  });
  app.get('/v1/services', (c) => {
    if (!deps.services) throw new ApiError(404, 'not-found', 'services exist in kubernetes mode only');
    return c.json({ services: deps.services() });
  });
  app.get('/v1/nodes', (c) => {
    if (!deps.nodes) throw new ApiError(404, 'not-found', 'nodes exist in kubernetes mode only');
    return c.json({ nodes: deps.nodes() });
  });
  app.get('/v1/openapi.json', (c) => c.json(openApiDocument({ vipBody: VipBodySchema, maxBody: MAX_BODY })));
  addEventRoutes(app, deps.history, (status, code, detail) => {
    throw new ApiError(status, code, detail);
  });
  // Other methods on known paths get 405, not 404, so a typo in the method is told apart from one in the path.
  app.all('/v1/vips/:ip', (c) => notAllowed(c, 'GET, HEAD, PUT, DELETE, OPTIONS'));
  for (const path of READ_ONLY_PATHS) app.all(path, (c) => notAllowed(c, 'GET, HEAD, OPTIONS'));

  return app;
}
