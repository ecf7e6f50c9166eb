/**
 * The admin API as an OpenAPI 3.1 document (`GET /v1/openapi.json`): every route, body, error shape and the
 * bearer token. Built at run time on the first request and kept: no build step, no file beside the binary.
 *
 * Where its schemas come from:
 * - Request bodies are converted from the very valibot schemas the routes validate with (`app.ts` passes
 *   them in), so the document cannot promise a body the route refuses or the other way round. A valibot
 *   `check` is code and has no JSON Schema form: its message becomes the description, and the MAC check also
 *   gets {@link MAC_PATTERN} (a test holds the two to the same answers on random input).
 * - Responses are the valibot schemas below, converted the same way. `ViewsMatch` holds their output types
 *   equal to the TypeScript views the routes return (`VipStatus`, `PoolView`, ...): a field added to a view
 *   and not here fails `tsc`. The tests validate real responses (an app over fake parts, and the compiled
 *   binary in a namespace, standalone and Kubernetes mode) against this document.
 *
 * Why `@valibot/to-json-schema` and not `hono-openapi` or `@hono/standard-validator`: the latter is a
 * validation middleware and writes no document. hono-openapi documents the routes declared through its own
 * `describeRoute()` and `validator()` middleware, which reads the body with Hono's validator: a body that is
 * not `application/json` is validated as `{}` (so it would be accepted), and malformed JSON throws a plain-text
 * 400 — where this API answers 415 `unsupported-media-type` and 400 `invalid-json`, refuses a large body
 * before reading it, and names unknown keys (what test/api and the abuse e2e hold). Adopting it means
 * declaring every route again around a second body reader. For valibot it converts through this same package
 * anyway, with `errorMode: 'ignore'` (0.4.x), which drops what cannot be converted (our MAC check) without a
 * word. The converter alone is one small module depending on valibot only, runs unchanged under Bun, Deno
 * and in the compiled binary, and leaves the routes as they are.
 */
import * as v from 'valibot';
import { type ConversionConfig, type JsonSchema, toJsonSchemaDefs } from '@valibot/to-json-schema';
import pkg from '../../package.json' with { type: 'json' };
import type { ConflictInfo, VipStatus } from '../announce/announcer.ts';
import type { NodeView, PoolView } from '../kube/controller.ts';
import { EVENT_KINDS, type HistoryEvent } from '../history.ts';
import { MAX_INFLIGHT } from '../runtime/index.ts';
import type { ApiDeps } from './app.ts';
import { MAX_STREAMS } from './events.ts';
import { METRICS_CONTENT_TYPE } from './metrics.ts';

/** What `app.ts` hands over: the schemas its routes validate with, and its limits. */
export interface OpenApiInputs {
  /** The schema `PUT /v1/vips/{ip}` validates its body with. */
  vipBody: v.GenericSchema;
  /** `MAX_BODY`: a larger body is refused unread (413). */
  maxBody: number;
}

/**
 * The MAC spellings `parseMAC` accepts (`net/mac.ts`): six two-digit hex bytes, one separator throughout,
 * `:` or `-`. The body schema checks with `parseMAC` itself; this is the same rule for clients.
 */
export const MAC_PATTERN = '^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$|^[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}$';

/**
 * Every `error` code the API answers with, and when. Each response below lists the codes it can carry; a
 * test finds every code the sources throw in here.
 */
export const ERROR_CODES = {
  'invalid-ip': 'the address in the path is not an IPv4 or IPv6 address',
  'invalid-json': 'the body is not JSON',
  'invalid-body': 'the body is JSON but not what the route takes (detail names the key and the rule)',
  'not-announceable': 'the address cannot be announced here (unspecified, loopback, multicast, reserved, link-local, this host\'s own, a subnet\'s network or broadcast address); detail says which',
  'invalid-query': 'a query parameter (or Last-Event-ID) is not what the route takes',
  unauthorized: 'no bearer token, or not the configured one',
  'not-found': 'no such VIP, a route of the other mode, or no route at all',
  'method-not-allowed': 'the method is not one the path takes (Allow lists them)',
  'read-only': 'VIPs are not managed through the API in this mode (Kubernetes mode: Services make them)',
  'body-too-large': 'the body is larger than the API reads',
  'unsupported-media-type': 'a body that is not application/json',
  busy: 'too many requests or event streams at once: try again',
  'state-file': 'the state file cannot take the change (disk full, read-only, no permission, unusable): nothing changed',
  internal: 'an unexpected error: the l2lb log has the details',
} as const;

/** An `error` code of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

const isoTime = (what: string) => v.pipe(v.string(), v.isoTimestamp(), v.description(what));
const count = (what: string) => v.pipe(v.number(), v.integer(), v.minValue(0), v.description(what));
const address = (what: string) => v.pipe(v.string(), v.description(what));

/** `{error, detail}`, with the codes a response can carry. */
function errorSchema(codes: readonly ErrorCode[]) {
  return v.pipe(
    v.object({
      error: v.pipe(v.picklist(codes), v.description('What went wrong, as a stable code.')),
      detail: v.pipe(v.string(), v.description('What went wrong, in words an operator can act on.')),
    }),
    v.description(codes.map((c) => `\`${c}\`: ${ERROR_CODES[c]}`).join('; ')),
  );
}

const ConflictSchema = v.object({
  mac: v.pipe(v.string(), v.description('The MAC of the other host that has the address.')),
  protocol: v.picklist(['arp', 'ndp']),
  phase: v.pipe(v.picklist(['probe', 'active']), v.description('Seen while probing before announcing, or while announcing.')),
  at: isoTime('When.'),
});

const VipStatusSchema = v.pipe(v.object({
  ip: address('The address, in canonical form.'),
  family: v.picklist([4, 6]),
  interface: v.pipe(v.string(), v.description('The interface it is announced on.')),
  mac: v.optional(v.pipe(v.string(), v.description('The MAC announced; absent while the interface\'s MAC is unknown.'))),
  macSource: v.pipe(v.picklist(['interface', 'explicit']), v.description('The interface\'s own MAC, or one given (`mac` of the body or config).')),
  source: v.pipe(v.picklist(['config', 'api', 'kubernetes']), v.description('Where the VIP comes from.')),
  state: v.pipe(v.picklist(['waiting', 'probing', 'active', 'conflict']), v.description('`waiting`: its interface is absent or down, or the packet socket on it is not open (`reason` says which); `probing`; `active` (answered); `conflict`: another host has the address (`conflict.mac`).')),
  since: isoTime('When `state` last changed.'),
  reason: v.optional(v.pipe(v.string(), v.description('Why it is waiting.'))),
  conflict: v.optional(v.pipe(ConflictSchema, v.description('The last conflict seen.'))),
  conflicts: count('Conflicts seen.'),
  probesSent: count('Conflict probes sent.'),
  gratuitousSent: count('Gratuitous ARP / unsolicited NA sent.'),
  lastAnnounced: v.optional(isoTime('When it was last announced.')),
  requests: v.optional(count('ARP requests and Neighbor Solicitations for it received for it.')),
  replies: v.optional(count('Replies sent for it.')),
}), v.description('One VIP: what is announced where, and how it goes.'));

const VipListSchema = v.object({ vips: v.array(VipStatusSchema) });

const PoolViewSchema = v.pipe(v.object({
  name: v.string(),
  source: v.pipe(v.picklist(['eip', 'config']), v.description('An OpenELB `Eip` object or the config file.')),
  address: v.pipe(v.string(), v.description('As the pool declares it: an address, a CIDR or an `a-b` range.')),
  family: v.optional(v.picklist([4, 6])),
  interface: v.optional(v.string()),
  size: v.pipe(v.string(), v.description('Addresses in the pool, in decimal (an IPv6 pool can hold more than a JSON number can count exactly).')),
  used: count('Addresses given to Services.'),
  free: v.pipe(v.string(), v.description('Addresses left, in decimal.')),
  usable: v.boolean(),
  problem: v.optional(v.pipe(v.string(), v.description('Why the pool is not used.'))),
  skipped: v.optional(v.pipe(v.string(), v.description('What the pool leaves out (fixed blocks at its ends, addresses of hosts), in words.'))),
}), v.description('A pool of addresses (Kubernetes mode).'));

const PoolListSchema = v.object({ pools: v.array(PoolViewSchema) });

const ServiceSchema = v.pipe(v.object({
  service: v.pipe(v.string(), v.description('`namespace/name`.')),
  addresses: v.array(address('An address the Service has.')),
  pool: v.optional(v.string()),
  state: v.pipe(v.picklist(['assigned', 'kept', 'failed', 'pending']), v.description('`kept`: it has its address, but its request or its pool says otherwise (`lastError` says why).')),
  lastError: v.optional(v.string()),
  since: isoTime('When `state` last changed.'),
  nodes: v.pipe(v.record(v.string(), v.nullable(v.object({
    node: v.optional(v.pipe(v.string(), v.description('Absent: no node can serve it.'))),
    since: isoTime('Since when that node serves it.'),
    why: v.pipe(v.string(), v.description('Why that node: `initial`, a move and its reason, a preference.')),
  }))), v.description('For each address, the node that serves it, since when and why (null: none chosen yet).')),
}), v.description('A LoadBalancer Service l2lb serves (Kubernetes mode).'));

const ServiceListSchema = v.object({ services: v.array(ServiceSchema) });

const NodeViewSchema = v.pipe(v.object({
  name: v.string(),
  ready: v.pipe(v.boolean(), v.description('The Node\'s `Ready` condition.')),
  excluded: v.pipe(v.boolean(), v.description('Labelled out of serving.')),
  addresses: v.array(v.object({
    ip: v.string(),
    probe: v.pipe(v.string(), v.description('What the wire probe says: `up`, `down`, `unknown` or `not probed`.')),
    mac: v.optional(v.string()),
    lastChange: v.optional(isoTime('When the probe state last changed.')),
    misses: v.optional(count('Probes unanswered in a row.')),
    lastAnswer: v.optional(isoTime('When it last answered a probe.')),
    rttMs: v.optional(v.pipe(v.number(), v.minValue(0), v.description('Round trip of the last answered probe, in milliseconds.'))),
    rttsMs: v.optional(v.pipe(v.array(v.pipe(v.number(), v.minValue(0))), v.maxLength(30), v.description('Round trips of the last 30 answered probes, oldest first, in milliseconds.'))),
    kubeProxy: v.optional(v.pipe(v.object({
      state: v.picklist(['unknown', 'up', 'down', 'not checked']),
      result: v.optional(v.string()),
      since: v.optional(isoTime('When `state` last changed.')),
      lastCheck: v.optional(isoTime('When it was last checked.')),
      misses: v.optional(count('Checks failed in a row.')),
    }), v.description('The kube-proxy health check of this address (`health.kubeProxy.enabled`).'))),
  })),
  candidate: v.pipe(v.boolean(), v.description('Whether it may serve addresses now.')),
  why: v.optional(v.pipe(v.string(), v.description('Why it may not.'))),
  serving: v.array(address('An address it serves.')),
  instance: v.optional(v.pipe(v.picklist(['live', 'restarting', 'absent']), v.description('Per-node mode: the node\'s l2lb instance as this one hears it.'))),
  agrees: v.optional(v.pipe(v.boolean(), v.description('Per-node mode: whether the node\'s instance answers what this one expects of it.'))),
}), v.description('A Node and whether it can serve addresses (Kubernetes mode).'));

const NodeListSchema = v.object({ nodes: v.array(NodeViewSchema) });

const HistoryEventSchema = v.pipe(v.object({
  id: v.pipe(v.number(), v.integer(), v.minValue(1), v.description('Sequence number, from 1, never reused while the process lives: `after` and `Last-Event-ID` take it.')),
  at: isoTime('When.'),
  level: v.picklist(['debug', 'info', 'warn', 'error']),
  kind: v.picklist(EVENT_KINDS),
  msg: v.pipe(v.string(), v.description('The log message.')),
  address: v.optional(address('The address it is about.')),
  nodes: v.optional(v.pipe(v.array(v.string()), v.description('The nodes it names.'))),
  fields: v.pipe(v.record(v.string(), v.unknown()), v.description('The log record\'s other fields.')),
}), v.description('One event of the history.'));

const HistorySchema = v.object({
  oldest: count('The id of the oldest event still kept (0: none).'),
  newest: count('The id of the newest event (0: none).'),
  events: v.pipe(v.array(HistoryEventSchema), v.description('Oldest first.')),
});

const ReadinessSchema = v.object({
  ready: v.boolean(),
  reasons: v.pipe(v.array(v.string()), v.description('What is not ready, and what to do.')),
});

const HealthSchema = v.object({ status: v.literal('ok') });

/** Free-form parts of the status: their fields follow the parts and are not a promise. */
const openObject = (what: string) => v.pipe(v.record(v.string(), v.unknown()), v.description(what));

const StatusSchema = v.pipe(v.object({
  version: v.string(),
  runtime: v.pipe(v.string(), v.description('`bun <version>` or `deno <version>`.')),
  mode: v.picklist(['standalone', 'kubernetes']),
  startedAt: isoTime('When the process started.'),
  uptimeSeconds: count('Seconds since then.'),
  ready: v.boolean(),
  readyReasons: v.array(v.string()),
  interfaces: v.array(v.object({
    name: v.string(),
    configured: v.pipe(v.boolean(), v.description('Named in `interfaces` (not only by a VIP).')),
    present: v.boolean(),
    index: v.optional(v.number()),
    mac: v.optional(v.string()),
    mtu: v.optional(v.number()),
    up: v.boolean(),
    socketOpen: v.boolean(),
    error: v.optional(v.pipe(v.string(), v.description('Why the packet socket is not open.'))),
    socketFallbacks: v.optional(v.pipe(v.array(v.object({
      option: v.pipe(v.string(), v.description('The socket option the kernel refused, e.g. `PACKET_IGNORE_OUTGOING`.')),
      error: v.pipe(v.string(), v.description('The errno, e.g. `ENOPROTOOPT (Protocol not available)`.')),
      instead: v.pipe(v.string(), v.description('What l2lb does instead.')),
    })), v.description('Only when there are some: optional socket options this kernel (or emulator) does not have, and the fallback used. See README, "Older kernels and emulators".'))),
  })),
  vips: v.object({ total: count('VIPs.'), waiting: count('Waiting.'), probing: count('Probing.'), active: count('Active.'), conflict: count('In conflict.') }),
  stateFile: v.optional(v.pipe(v.object({ path: v.nullable(v.string()), error: v.nullable(v.string()) }), v.description('Standalone mode: the state file, and why it cannot be written if it cannot.'))),
  kubernetes: v.optional(openObject('Kubernetes mode: counters of writes, Events, conflicts, errors, passes, probe changes, failovers.')),
  leaderElection: v.optional(openObject('The Lease: holder, state, isLeader, since, transitions, apiReachable, lastError, problem.')),
  membership: v.optional(openObject('Wire membership: identity, role, term, members, lastTakeover, stalls, warnings.')),
}), v.description('The process at a glance.'));

const RESPONSE_SCHEMAS = {
  Health: HealthSchema,
  Readiness: ReadinessSchema,
  Status: StatusSchema,
  VipStatus: VipStatusSchema,
  VipList: VipListSchema,
  Pool: PoolViewSchema,
  PoolList: PoolListSchema,
  Service: ServiceSchema,
  ServiceList: ServiceListSchema,
  Node: NodeViewSchema,
  NodeList: NodeListSchema,
  HistoryEvent: HistoryEventSchema,
  History: HistorySchema,
  Error: errorSchema(Object.keys(ERROR_CODES) as ErrorCode[]),
};

// Exact equality: mutual assignability would let an optional field missing on one side through.
// Both sides flattened first, so an intersection equals the object it spells.
type Flat<T> = T extends object ? { [K in keyof T]: Flat<T[K]> } : T;
type Same<A, B> = (<T>() => T extends Flat<A> ? 1 : 2) extends (<T>() => T extends Flat<B> ? 1 : 2) ? true : false;
type Holds<T extends true> = T;
/** Compile time only: each response schema describes exactly the view its route returns. */
export type ViewsMatch = [
  // `src/app.ts` adds the receive worker's counts to the announcer's view.
  Holds<Same<v.InferOutput<typeof VipStatusSchema>, VipStatus & { requests?: number; replies?: number }>>,
  Holds<Same<v.InferOutput<typeof ConflictSchema>, ConflictInfo>>,
  Holds<Same<v.InferOutput<typeof PoolViewSchema>, PoolView>>,
  Holds<Same<v.InferOutput<typeof NodeViewSchema>, NodeView>>,
  // `src/app.ts` adds the serving node of each address to the controller's view.
  Holds<Same<v.InferOutput<typeof ServiceSchema>, ReturnType<NonNullable<ApiDeps['services']>>[number]>>,
  Holds<Same<v.InferOutput<typeof HistoryEventSchema>, HistoryEvent>>,
  Holds<Same<v.InferOutput<typeof ReadinessSchema>, ReturnType<ApiDeps['ready']>>>,
];

type Json = Record<string, unknown>;
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

/** The conversion every schema of the document goes through. */
function conversion(): Omit<ConversionConfig, 'definitions'> {
  return {
    target: 'draft-2020-12',
    overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
    // A check is code: say its rule in words, and for the MAC give the pattern clients can check with.
    overrideAction: ({ valibotAction, jsonSchema }) => {
      if (valibotAction.type !== 'check') return undefined;
      const raw = (valibotAction as { message?: unknown }).message;
      const message = typeof raw === 'string' ? raw : undefined;
      return { ...jsonSchema, ...(message ? { description: message } : {}), ...(message?.startsWith('mac must be a MAC address') ? { pattern: MAC_PATTERN } : {}) };
    },
  };
}

/** One schema converted alone (the per-response error shapes). */
function convert(schema: v.GenericSchema): JsonSchema {
  return toJsonSchemaDefs({ it: schema }, conversion()).it!;
}

const json = (schema: Json | JsonSchema) => ({ 'application/json': { schema } });

/** A JSON error response carrying `codes`. */
function errorResponse(description: string, codes: readonly ErrorCode[], headers?: Json): Json {
  return { description, ...(headers ? { headers } : {}), content: json(convert(errorSchema(codes))) };
}

const BUSY_HEADERS = { 'Retry-After': { description: 'Seconds to wait (too many requests at once).', schema: { type: 'string' } } };
/** Every request can meet these: the server's limit of requests at once (src/runtime), and an unexpected error. */
const COMMON = {
  '500': { $ref: '#/components/responses/Internal' },
  '503': { $ref: '#/components/responses/Busy' },
};

/** The methods a path's Allow header lists, in the order the API lists them: HEAD comes with every GET. */
function allowOf(methods: string[]): string {
  const order = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];
  const all = new Set([...methods, ...(methods.includes('get') ? ['head'] : []), 'options']);
  return order.filter((m) => all.has(m)).map((m) => m.toUpperCase()).join(', ');
}

/** `/v1/vips/{ip}` -> `VipsIp`: the suffix of the path's OPTIONS operationId. */
function pathWords(path: string): string {
  const words = path.split(/[^A-Za-z0-9]+/).filter((w) => w !== '' && w !== 'v1');
  return words.length === 0 ? 'Root' : words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

const historyQuery = (route: 'history' | 'events'): Json[] => [
  { name: 'after', in: 'query', description: route === 'history' ? 'Only events after this id (the `Last-Event-ID` header does the same).' : 'Replay the events after this id first, then stream (the `Last-Event-ID` header wins).', schema: { type: 'integer', minimum: 0, maximum: 999_999_999_999_999 } },
  { name: 'address', in: 'query', description: 'Only events about this address.', schema: { type: 'string' } },
  { name: 'node', in: 'query', description: 'Only events that name this node.', schema: { type: 'string' } },
  { name: 'kind', in: 'query', description: 'Only events of this kind.', schema: { type: 'string', enum: [...EVENT_KINDS] } },
  ...(route === 'history' ? [{ name: 'limit', in: 'query', description: 'At most this many, the newest (default 200; the ring keeps 500).', schema: { type: 'integer', minimum: 0, maximum: 999_999_999_999_999 } }] : []),
];

/** The paths and their operations (without OPTIONS, added for every path below). */
function operations(inputs: OpenApiInputs): Record<string, Record<string, unknown>> {
  const ipParam = {
    name: 'ip', in: 'path', required: true,
    description: 'An IPv4 or IPv6 address, any spelling (an IPv6 address may be percent-encoded); answers name it canonically.',
    schema: { type: 'string' }, examples: { v4: { value: '192.0.2.10' }, v6: { value: '2001:db8::10' } },
  };
  const auth = { security: [{ bearer: [] }] };
  const unauthorized = { '401': { $ref: '#/components/responses/Unauthorized' } };
  const kubeOnly = (what: string) => ({ '404': errorResponse(`Not in Kubernetes mode: ${what} exist in Kubernetes mode only.`, ['not-found']) });
  const noHistory = { '404': errorResponse('This process keeps no event history.', ['not-found']) };
  return {
    '/': {
      get: {
        operationId: 'statusPage', tags: ['meta'], summary: 'The status page',
        description: 'A self-contained HTML page over the open JSON routes (status, VIPs, Services, nodes, pools, the event timeline, live through `/v1/events`). It never asks for the token.',
        responses: { '200': { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } }, ...COMMON },
      },
    },
    '/healthz': {
      get: { operationId: 'health', tags: ['health'], summary: 'Liveness', description: 'The process answers.', responses: { '200': { description: 'Alive.', content: json(ref('Health')) }, ...COMMON } },
    },
    '/readyz': {
      get: {
        operationId: 'ready', tags: ['health'], summary: 'Readiness',
        description: 'Ready when every configured interface has its packet socket open (Kubernetes mode: and the Lease can be taken part in).',
        responses: {
          '200': { description: 'Ready.', content: json(ref('Readiness')) },
          '500': COMMON['500'],
          '503': { description: 'Not ready (`reasons` says why and what to do), or too many requests at once (`busy`).', headers: BUSY_HEADERS, content: json({ anyOf: [ref('Readiness'), convert(errorSchema(['busy']))] }) },
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics', tags: ['health'], summary: 'Prometheus metrics',
        description: 'Every metric is prefixed `l2lb_`; the README lists them.',
        responses: { '200': { description: 'The Prometheus text exposition format.', content: { [METRICS_CONTENT_TYPE]: { schema: { type: 'string' } } } }, ...COMMON },
      },
    },
    '/v1/status': {
      get: { operationId: 'status', tags: ['status'], summary: 'The process at a glance', description: 'Version, runtime, mode, interfaces, VIP counts, the state file; in Kubernetes mode the Lease and counters.', responses: { '200': { description: 'Status.', content: json(ref('Status')) }, ...COMMON } },
    },
    '/v1/vips': {
      get: { operationId: 'listVips', tags: ['vips'], summary: 'Every VIP', description: 'With state, MAC, counters and the last conflict.', responses: { '200': { description: 'The VIPs.', content: json(ref('VipList')) }, ...COMMON } },
    },
    '/v1/vips/{ip}': {
      parameters: [ipParam],
      get: {
        operationId: 'getVip', tags: ['vips'], summary: 'One VIP',
        responses: {
          '200': { description: 'The VIP.', content: json(ref('VipStatus')) },
          '400': errorResponse('Not an address.', ['invalid-ip']),
          '404': errorResponse('No such VIP.', ['not-found']),
          ...COMMON,
        },
      },
      put: {
        operationId: 'putVip', tags: ['vips'], summary: 'Add or change a VIP (standalone mode)',
        description: 'Announces the address on `interface` (default: the interface whose subnet holds it) with `mac` (default: the interface\'s own). The change is written to the state file before it is answered.',
        ...auth,
        requestBody: {
          required: false,
          description: `Optional: an empty body is \`{}\`. At most ${inputs.maxBody} bytes.`,
          content: { 'application/json': { schema: ref('VipBody'), examples: { both: { value: { interface: 'eth0', mac: '02:00:5e:00:53:01' } }, none: { value: {} } } } },
        },
        responses: {
          '200': { description: 'Changed.', content: json(ref('VipStatus')) },
          '201': { description: 'Created.', content: json(ref('VipStatus')) },
          '400': errorResponse('A bad address, body or JSON, or an address that cannot be announced.', ['invalid-ip', 'invalid-json', 'invalid-body', 'not-announceable']),
          ...unauthorized,
          '405': errorResponse('Kubernetes mode: VIPs are read-only.', ['read-only']),
          '413': errorResponse(`The body is larger than ${inputs.maxBody} bytes (refused unread).`, ['body-too-large']),
          '415': errorResponse('A body that is not application/json.', ['unsupported-media-type']),
          '500': COMMON['500'],
          '503': errorResponse('The state file cannot take the change (nothing changed), or too many requests at once.', ['state-file', 'busy'], BUSY_HEADERS),
        },
      },
      delete: {
        operationId: 'deleteVip', tags: ['vips'], summary: 'Remove a VIP (standalone mode)',
        ...auth,
        responses: {
          '204': { description: 'Removed: it is no longer answered.' },
          '400': errorResponse('Not an address.', ['invalid-ip']),
          ...unauthorized,
          '404': errorResponse('No such VIP.', ['not-found']),
          '405': errorResponse('Kubernetes mode: VIPs are read-only.', ['read-only']),
          '500': COMMON['500'],
          '503': errorResponse('The state file cannot take the change (nothing changed), or too many requests at once.', ['state-file', 'busy'], BUSY_HEADERS),
        },
      },
    },
    '/v1/pools': {
      get: { operationId: 'listPools', tags: ['kubernetes'], summary: 'Pools (Kubernetes mode)', responses: { '200': { description: 'The pools.', content: json(ref('PoolList')) }, ...kubeOnly('pools'), ...COMMON } },
    },
    '/v1/services': {
      get: { operationId: 'listServices', tags: ['kubernetes'], summary: 'Services (Kubernetes mode)', responses: { '200': { description: 'The Services.', content: json(ref('ServiceList')) }, ...kubeOnly('services'), ...COMMON } },
    },
    '/v1/nodes': {
      get: { operationId: 'listNodes', tags: ['kubernetes'], summary: 'Nodes (Kubernetes mode)', responses: { '200': { description: 'The Nodes.', content: json(ref('NodeList')) }, ...kubeOnly('nodes'), ...COMMON } },
    },
    '/v1/history': {
      get: {
        operationId: 'history', tags: ['events'], summary: 'The event history',
        description: 'What happened, oldest first: an address moved and why, withdrawn, assigned or kept; a VIP announced, waiting or in conflict; links, node probes, takeovers, the Lease, the API server, pools, reloads. One ring of the last 500.',
        parameters: historyQuery('history'),
        responses: {
          '200': { description: 'The events.', content: json(ref('History')) },
          '400': errorResponse('A bad query.', ['invalid-query']),
          ...noHistory, ...COMMON,
        },
      },
    },
    '/v1/events': {
      get: {
        operationId: 'events', tags: ['events'], summary: 'The event history, live (Server-Sent Events)',
        description: 'Each event is `id: <id>`, `event: <kind>`, `data: <HistoryEvent as JSON>`; `event: ping` with `data: {"at": <time>}` every 5 s keeps the stream open and shows it alive. With `after` or `Last-Event-ID` (browsers send it when they reconnect) the events missed are replayed first, or `event: gap` with `data: {"missed":{"from":..,"to":..}}` says the ring no longer holds them. A client more than 1,000 events behind is cut off (it reconnects).',
        parameters: [
          ...historyQuery('events'),
          { name: 'Last-Event-ID', in: 'header', description: 'The id of the last event seen: resume after it.', schema: { type: 'integer', minimum: 0, maximum: 999_999_999_999_999 } },
        ],
        responses: {
          '200': { description: 'The stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          '400': errorResponse('A bad query or Last-Event-ID.', ['invalid-query']),
          ...noHistory,
          '500': COMMON['500'],
          '503': errorResponse(`${MAX_STREAMS} streams are open already, or too many requests at once.`, ['busy'], BUSY_HEADERS),
        },
      },
    },
    '/v1/openapi.json': {
      get: { operationId: 'openapi', tags: ['meta'], summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1.', content: json({ type: 'object' }) }, ...COMMON } },
    },
  };
}

function build(inputs: OpenApiInputs): Json {
  const schemas = toJsonSchemaDefs({ VipBody: inputs.vipBody, ...RESPONSE_SCHEMAS }, conversion());
  const paths: Record<string, Json> = {};
  for (const [path, item] of Object.entries(operations(inputs))) {
    const methods = Object.keys(item).filter((k) => k !== 'parameters');
    const allow = allowOf(methods);
    paths[path] = {
      ...item,
      description: `Also answered: HEAD for GET, OPTIONS; any other method is a 405 \`method-not-allowed\` with \`Allow: ${allow}\`.`,
      options: {
        operationId: `options${pathWords(path)}`, tags: ['meta'], summary: 'The methods this path takes',
        responses: { '204': { description: 'See Allow.', headers: { Allow: { required: true, schema: { type: 'string', const: allow } } } }, ...COMMON },
      },
    };
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'l2lb admin API',
      version: pkg.version,
      summary: 'Health, readiness, metrics, the VIP table, pools, Services, nodes and the event history of an l2lb process.',
      description: 'Reads are open; `PUT` and `DELETE` need `Authorization: Bearer <token>` when a token is configured (`api.token`). Every error is JSON `{"error": "<code>", "detail": "<words>"}`. ' +
        `A body over ${inputs.maxBody} bytes is refused unread (413); at most ${MAX_INFLIGHT} requests are handled at once (beyond: 503 \`busy\` with \`Retry-After: 1\`). HEAD is answered for every GET.`,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [
      { name: 'health', description: 'For probes and Prometheus.' },
      { name: 'status', description: 'The process.' },
      { name: 'vips', description: 'The VIP table; changed through the API in standalone mode.' },
      { name: 'kubernetes', description: 'Kubernetes mode only (404 otherwise).' },
      { name: 'events', description: 'What happened, kept and live.' },
      { name: 'meta', description: 'The page, this document, OPTIONS.' },
    ],
    paths,
    components: {
      schemas,
      responses: {
        Unauthorized: errorResponse('A token is configured and the request has no `Authorization: Bearer`, or not that token.', ['unauthorized'], {
          'WWW-Authenticate': { required: true, description: '`Bearer realm="l2lb"`, with `error="invalid_token"` for a wrong token.', schema: { type: 'string', pattern: '^Bearer realm="l2lb"' } },
        }),
        Internal: errorResponse('An unexpected error; the answer names nothing of the host, the log has the details.', ['internal']),
        Busy: errorResponse(`More than ${MAX_INFLIGHT} requests at once.`, ['busy'], BUSY_HEADERS),
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The token of `api.token`, compared in constant time. Without a configured token, PUT and DELETE are open too.' },
      },
    },
  };
}

const built = new WeakMap<v.GenericSchema, Json>();

/** The OpenAPI 3.1 document of the admin API, built on first use and kept (it is the same for the process's life). */
export function openApiDocument(inputs: OpenApiInputs): Json {
  let doc = built.get(inputs.vipBody);
  if (!doc) {
    doc = build(inputs);
    built.set(inputs.vipBody, doc);
  }
  return doc;
}
