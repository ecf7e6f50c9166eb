/**
 * The OpenAPI document of the admin API (`GET /v1/openapi.json`, `src/api/openapi.ts`): valid OpenAPI 3.1,
 * every route of the app in it and nothing else, every answer of the app (every operation, every status it
 * documents) fitting it, the body schema agreeing with what PUT accepts, every error code the sources answer
 * with documented, the README's examples fitting it, and the same document under Deno.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { MAX_BODY, VipBodySchema, createApi, type ApiDeps } from '../../src/api/app.ts';
import { MAX_STREAMS } from '../../src/api/events.ts';
import { MAC_PATTERN, ERROR_CODES, openApiDocument } from '../../src/api/openapi.ts';
import { Announcer } from '../../src/announce/announcer.ts';
import { History } from '../../src/history.ts';
import type { NodeView, PoolView, ServiceView, ServingView } from '../../src/kube/controller.ts';
import { parseMAC } from '../../src/net/mac.ts';
import { MAX_INFLIGHT, serveHttp } from '../../src/runtime/index.ts';
import { type Doc, METHODS, allSchemas, answerProblems, deref, mediaType, schemaChecker, templateOf } from '../support/openapi.ts';
import { mulberry32 } from '../support/prng.ts';
import { tempDir } from '../support/tmp.ts';
import { standaloneVips } from '../support/vip-api.ts';

const ROOT = resolve(import.meta.dir, '../..');
const TOKEN = 's3cret-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** The document as a client gets it (through JSON), not the object in memory. */
const doc: Doc = JSON.parse(JSON.stringify(openApiDocument({ vipBody: VipBodySchema, maxBody: MAX_BODY })));
const check = schemaChecker(doc);

const at = '2026-12-07T08:00:00.000Z';
/** Every optional field filled in, so the schemas meet all of them. */
const POOLS: PoolView[] = [
  { name: 'lan', source: 'eip', address: '192.0.2.240/29', family: 4, interface: 'eth0', size: '6', used: 1, free: '5', usable: true, skipped: '192.0.2.240 (network)' },
  { name: 'v6', source: 'config', address: '2001:db8::/64', size: '18446744073709551616', used: 0, free: '18446744073709551616', usable: false, problem: 'pool v6 overlaps pool lan' },
];
const SERVICES: (ServiceView & { nodes: Record<string, ServingView | null> })[] = [
  { service: 'default/web', addresses: ['192.0.2.241', '192.0.2.243'], pool: 'lan', state: 'assigned', since: at, nodes: { '192.0.2.241': { node: 'node-1', since: at, why: 'initial' }, '192.0.2.243': { since: at, why: 'no candidate node' } } },
  { service: 'default/db', addresses: ['192.0.2.242'], pool: 'lan', state: 'kept', lastError: 'pool lan is full (6/6)', since: at, nodes: { '192.0.2.242': null } },
];
const NODES: NodeView[] = [
  {
    name: 'node-1', ready: true, excluded: false, candidate: true, serving: ['192.0.2.241'], instance: 'live', agrees: true,
    addresses: [{ ip: '192.0.2.11', probe: 'up', mac: '02:00:00:00:11:11', lastChange: at, misses: 0, lastAnswer: at, rttMs: 0.21, rttsMs: [0.3, 0.25, 0.21], kubeProxy: { state: 'up', result: '200', since: at, lastCheck: at, misses: 0 } }],
  },
  { name: 'node-2', ready: false, excluded: true, candidate: false, why: 'not Ready', serving: [], addresses: [{ ip: '192.0.2.12', probe: 'not probed', kubeProxy: { state: 'not checked' } }] },
];
const STATUS = {
  version: '0.1.0', runtime: 'bun 1.4.5', mode: 'standalone', startedAt: at, uptimeSeconds: 5, ready: true, readyReasons: [],
  interfaces: [{ name: 'eth0', configured: true, present: true, index: 2, mac: '02:00:00:00:00:01', mtu: 1500, up: true, socketOpen: true, socketFallbacks: [{ option: 'PACKET_IGNORE_OUTGOING', error: 'ENOPROTOOPT (Protocol not available)', instead: 'the socket filter drops outgoing frames' }] }, { name: 'eth9', configured: false, present: false, up: false, socketOpen: false, error: 'no such interface' }],
  vips: { total: 3, waiting: 1, probing: 0, active: 1, conflict: 1 },
  stateFile: { path: '/var/lib/l2lb/state.json', error: null },
  membership: { identity: 'a', role: 'leader', members: [] },
};

/** An app over real VIP table, store and history (standalone), or over views (Kubernetes mode), or broken parts. */
function setup(kind: 'standalone' | 'kubernetes' | 'broken') {
  const dir = tempDir('l2lb-openapi-');
  const statePath = join(dir, 'state.json');
  if (kind === 'broken') writeFileSync(statePath, 'garbage');
  const { announcer, put, delete: remove } = standaloneVips([{ ip: '192.0.2.10' }, { ip: '192.0.2.11', mac: '02:00:5e:00:53:99' }, { ip: '192.0.2.12', interface: 'eth9' }, { ip: '2001:db8::10' }], statePath);
  announcer.onConflict({ vip: '192.0.2.11', mac: '02:00:00:00:00:99', protocol: 'arp', phase: 'active' });
  const history = new History(50);
  history.record('warn', 'address moved', { address: '192.0.2.241', from: 'node-1', to: 'node-2', why: 'node-1 missed 3 probes' });
  history.record('info', 'vip announced', { vip: '192.0.2.10', interface: 'eth0' });
  const withCounts = (v: ReturnType<Announcer['list']>[number]) => ({ ...v, requests: 3, replies: 2 });
  const deps: ApiDeps = {
    token: TOKEN,
    status: kind === 'broken' ? () => {
      throw new Error('boom');
    } : () => STATUS,
    ready: () => (kind === 'kubernetes' ? { ready: false, reasons: ['the Lease namespace l2lb-system does not exist: apply config/deploy/namespace.yaml'] } : { ready: true, reasons: [] }),
    metrics: () => 'l2lb_up 1\n',
    vips: {
      list: () => announcer.list().map(withCounts),
      get: (ip) => {
        const v = announcer.get(ip);
        return v && withCounts(v);
      },
      ...(kind === 'kubernetes' ? {} : {
        put,
        refuse: (ip: string) => (ip.startsWith('127.') ? `${ip} is a loopback address: it cannot be announced` : undefined),
        delete: remove,
      }),
    },
    ...(kind === 'kubernetes' ? { pools: () => POOLS, services: () => SERVICES, nodes: () => NODES } : { history }),
    logError: () => {},
  };
  const app = createApi(deps);
  const send = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await app.request(path, { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, body });
    // A stream never ends: its type is what there is to check.
    const text = res.headers.get('content-type')?.startsWith('text/event-stream') ? (await res.body?.cancel(), '') : await res.text();
    return { status: res.status, headers: res.headers, text };
  };
  return { app, send, history, announcer };
}

/** OpenAPI `{ip}` <-> Hono `:ip`. */
const honoPath = (template: string) => template.replace(/\{([^}]+)\}/g, ':$1');

/** Every documented operation as [path template, method]. */
function documentedOperations(): [string, string][] {
  return Object.entries(doc.paths as Record<string, Doc>).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m): [string, string] => [path, m]));
}

/** A concrete path for a template: the first example of each path parameter. */
function concrete(template: string): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const p = (doc.paths[template].parameters as Doc[]).find((x) => x.name === name);
    return encodeURIComponent(Object.values(p.examples as Record<string, { value: string }>)[0]!.value);
  });
}

describe('the document', () => {
  test('is valid OpenAPI 3.1 by @seriousme/openapi-schema-validator', async () => {
    const r = await new Validator().validate(doc);
    expect(r.errors ?? []).toEqual([]);
    expect(r.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.version).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  test('every schema in it is JSON Schema 2020-12 (Ajv, strict mode), and every example fits its schema', () => {
    const schemas = allSchemas(doc);
    expect(schemas.length).toBeGreaterThan(40);
    for (const [where, schema] of schemas) expect([where, (() => { try { check.compile(schema); return 'ok'; } catch (err) { return (err as Error).message; } })()]).toEqual([where, 'ok']);
    let examples = 0;
    const visit = (node: Doc, where: string) => {
      if (node === null || typeof node !== 'object') return;
      if (node.schema && node.examples && !Array.isArray(node.examples)) {
        for (const [name, ex] of Object.entries(node.examples as Record<string, { value: unknown }>)) {
          examples++;
          expect([where, name, check.problems(deref(doc, node.schema), ex.value)]).toEqual([where, name, []]);
        }
      }
      for (const [k, val] of Object.entries(node)) visit(val, `${where}.${k}`);
    };
    visit(doc.paths, 'paths');
    expect(examples).toBeGreaterThanOrEqual(4);
  });

  test('is served at GET /v1/openapi.json, and OPTIONS and HEAD answer there like on every path', async () => {
    const t = setup('standalone');
    const r = await t.send('GET', '/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toStartWith('application/json');
    expect(JSON.parse(r.text)).toEqual(doc);
    expect(answerProblems(doc, check, 'GET', '/v1/openapi.json', r)).toEqual([]);
    expect((await t.send('HEAD', '/v1/openapi.json')).status).toBe(200);
    expect((await t.send('OPTIONS', '/v1/openapi.json')).headers.get('allow')).toBe('GET, HEAD, OPTIONS');
  });
});

describe('routes', () => {
  test('every route the app registers is in the document, and every documented operation is a registered route', () => {
    const { app } = setup('standalone');
    const registered = new Set<string>();
    for (const r of app.routes) {
      // Middleware on a pattern (`app.use('/v1/*')`) is not a route of its own.
      if (r.path.includes('*')) continue;
      const template = r.path.replace(/:([^/]+)/g, '{$1}');
      // ALL is the 405 answer for the methods a path does not take: the path must be documented.
      if (r.method === 'ALL') expect([template, doc.paths[template] !== undefined]).toEqual([template, true]);
      else {
        expect([r.method, template, doc.paths[template]?.[r.method.toLowerCase()] !== undefined]).toEqual([r.method, template, true]);
        registered.add(`${r.method} ${r.path}`);
      }
    }
    for (const [path, method] of documentedOperations()) expect([method, path, registered.has(`${method.toUpperCase()} ${honoPath(path)}`)]).toEqual([method, path, true]);
    expect(registered.size).toBeGreaterThanOrEqual(documentedOperations().length);
  });

  test('every documented operation is answered by its route (not the 404 for unknown routes, not a 405)', async () => {
    const t = setup('standalone');
    for (const [path, method] of documentedOperations()) {
      const r = await t.send(method.toUpperCase(), concrete(path), method === 'put' ? '{}' : undefined, AUTH);
      const body = r.text.startsWith('{') ? JSON.parse(r.text) : {};
      expect([method, path, r.status === 405 || String(body.detail ?? '').startsWith('no route for')]).toEqual([method, path, false]);
    }
  });

  test('any other method on a documented path is a 405 whose Allow is what the document says OPTIONS answers', async () => {
    const t = setup('standalone');
    for (const [template, item] of Object.entries(doc.paths as Record<string, Doc>)) {
      const allow = item.options.responses['204'].headers.Allow.schema.const as string;
      const documented = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
      expect(allow.split(', ').sort()).toEqual([...new Set([...documented, 'HEAD'])].sort());
      const options = await t.send('OPTIONS', concrete(template));
      expect(answerProblems(doc, check, 'OPTIONS', concrete(template), options)).toEqual([]);
      for (const method of ['PATCH', 'POST', 'PUT', 'DELETE'].filter((m) => !documented.includes(m))) {
        const r = await t.send(method, concrete(template), undefined, AUTH);
        expect([template, method, r.status, r.headers.get('allow'), JSON.parse(r.text).error]).toEqual([template, method, 405, allow, 'method-not-allowed']);
      }
    }
  });
});

describe('answers fit the document', () => {
  test('a session over every operation meets every status the document names (but the shared 500 and 503), and every answer fits', async () => {
    const std = setup('standalone');
    const kube = setup('kubernetes');
    const broken = setup('broken');
    const json = (o: unknown) => JSON.stringify(o);
    type Req = [ReturnType<typeof setup>, string, string, string?, Record<string, string>?];
    const session: Req[] = [
      [std, 'GET', '/'], [std, 'GET', '/healthz'], [std, 'GET', '/readyz'], [kube, 'GET', '/readyz'], [std, 'GET', '/metrics'],
      [std, 'GET', '/v1/status'], [broken, 'GET', '/v1/status'], [std, 'GET', '/v1/vips'], [kube, 'GET', '/v1/vips'],
      [std, 'GET', '/v1/vips/192.0.2.10'], [std, 'GET', '/v1/vips/192.0.2.11'], [std, 'GET', '/v1/vips/192.0.2.12'], [std, 'GET', '/v1/vips/2001:0db8::10'],
      [std, 'GET', '/v1/vips/192.0.2.99'], [std, 'GET', '/v1/vips/nope'],
      [std, 'PUT', '/v1/vips/192.0.2.20', '', AUTH], [std, 'PUT', '/v1/vips/192.0.2.20', json({ interface: 'eth0', mac: '02-00-5E-00-53-01' }), AUTH],
      [std, 'PUT', '/v1/vips/192.0.2.21', json({})], [std, 'PUT', '/v1/vips/192.0.2.21', json({}), { authorization: 'Bearer wrong' }],
      [std, 'PUT', '/v1/vips/192.0.2.300', json({}), AUTH], [std, 'PUT', '/v1/vips/192.0.2.21', '{nope', AUTH],
      [std, 'PUT', '/v1/vips/192.0.2.21', json({ color: 'red' }), AUTH], [std, 'PUT', '/v1/vips/127.0.0.2', json({}), AUTH],
      [std, 'PUT', '/v1/vips/192.0.2.21', json({ pad: 'x'.repeat(MAX_BODY) }), AUTH],
      [std, 'PUT', '/v1/vips/192.0.2.21', 'mac=1', { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' }],
      [kube, 'PUT', '/v1/vips/192.0.2.21', json({}), AUTH], [broken, 'PUT', '/v1/vips/192.0.2.21', json({}), AUTH],
      [std, 'DELETE', '/v1/vips/192.0.2.20', undefined, AUTH], [std, 'DELETE', '/v1/vips/192.0.2.20', undefined, AUTH],
      [std, 'DELETE', '/v1/vips/x', undefined, AUTH], [std, 'DELETE', '/v1/vips/192.0.2.10'], [kube, 'DELETE', '/v1/vips/192.0.2.10', undefined, AUTH],
      [broken, 'DELETE', '/v1/vips/192.0.2.10', undefined, AUTH],
      [kube, 'GET', '/v1/pools'], [std, 'GET', '/v1/pools'], [kube, 'GET', '/v1/services'], [std, 'GET', '/v1/services'],
      [kube, 'GET', '/v1/nodes'], [std, 'GET', '/v1/nodes'],
      [std, 'GET', '/v1/history'], [std, 'GET', '/v1/history?kind=address&limit=5&after=0&node=node-1&address=192.0.2.241'], [std, 'GET', '/v1/history?kind=nope'], [kube, 'GET', '/v1/history'],
      [std, 'GET', '/v1/events?after=0'], [std, 'GET', '/v1/events', undefined, { 'last-event-id': 'x' }], [kube, 'GET', '/v1/events'],
      [std, 'GET', '/v1/openapi.json'],
      ...Object.keys(doc.paths).map((p): Req => [std, 'OPTIONS', concrete(p)]),
    ];
    const seen = new Set<string>();
    const problems: string[] = [];
    const run = async ([t, method, path, body, headers]: Req) => {
      const r = await t.send(method, path, body, headers);
      problems.push(...answerProblems(doc, check, method, path, r));
      seen.add(`${method.toLowerCase()} ${templateOf(doc, path.split('?')[0]!)} ${r.status}`);
    };
    for (const req of session) await run(req);
    // The event streams all taken: the next one is refused.
    const unsubscribe = Array.from({ length: MAX_STREAMS }, () => std.history.subscribe(() => {}));
    await run([std, 'GET', '/v1/events']);
    for (const u of unsubscribe) u();

    expect(problems).toEqual([]);
    const shared = new Set(['#/components/responses/Internal', '#/components/responses/Busy']);
    const missed: string[] = [];
    for (const [path, method] of documentedOperations()) {
      for (const [status, response] of Object.entries(doc.paths[path][method].responses as Record<string, Doc>)) {
        if (shared.has(response.$ref)) continue;
        if (!seen.has(`${method} ${path} ${status}`)) missed.push(`${method} ${path} ${status}`);
      }
    }
    expect(missed).toEqual([]);
    // The shared 500 is met once above (a part that throws): it fits on that route.
    expect(seen.has('get /v1/status 500')).toBe(true);
  });

  test("the server's own 503 (more than MAX_INFLIGHT requests at once) fits the shared Busy response", async () => {
    let waiting = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const server = await serveHttp('127.0.0.1', 0, async () => {
      waiting++;
      await gate;
      return new Response('');
    });
    /** One raw HTTP/1.1 request on its own connection (a client's connection pool would queue them). */
    const raw = () => new Promise<string>((res, rej) => {
      const s = connect(server.port, '127.0.0.1', () => s.write('GET /v1/vips HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('end', () => res(out));
      s.on('error', rej);
    });
    try {
      const held = Array.from({ length: MAX_INFLIGHT }, raw);
      for (let i = 0; i < 200 && waiting < MAX_INFLIGHT; i++) await Bun.sleep(10);
      expect(waiting).toBe(MAX_INFLIGHT);
      const text = await raw();
      release();
      await Promise.all(held);
      const [head, body] = text.split('\r\n\r\n') as [string, string];
      const headers = new Headers(head.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
      const status = Number(head.split(' ')[1]);
      expect(status).toBe(503);
      expect(answerProblems(doc, check, 'GET', '/v1/vips', { status, headers, text: body })).toEqual([]);
      expect(headers.get('retry-after')).toBe('1');
    } finally {
      release();
      await server.stop();
    }
  });

  test('every error code the sources answer with is documented under its status, and every documented code is answered somewhere', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith('.ts') && e.name !== 'openapi.ts') files.push(join(dir, e.name));
      }
    };
    walk(join(ROOT, 'src'));
    const answered = new Set<string>();
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:ApiError|refuse)\((\d{3}), '([a-z-]+)'/g)) answered.add(`${m[1]} ${m[2]}`);
      // Answers built by hand: `{ error: 'busy', detail: ... }, { status: 503 ...` and `c.json({ error, detail }, 404)`.
      for (const m of text.matchAll(/\{ error: '([a-z-]+)', detail: [^\n]*?(?:status: |\}, )(\d{3})/g)) answered.add(`${m[2]} ${m[1]}`);
    }
    expect(answered.size).toBeGreaterThanOrEqual(14);
    const documented = new Set<string>();
    const collect = (status: string, response: Doc) => {
      for (const c of deref(doc, response).content?.['application/json']?.schema ? [deref(doc, response).content['application/json'].schema] : []) {
        const branches: Doc[] = c.anyOf ?? [c];
        for (const b of branches.map((x) => deref(doc, x))) for (const code of b.properties?.error?.enum ?? []) documented.add(`${status} ${code}`);
      }
    };
    for (const [path, method] of documentedOperations()) for (const [status, r] of Object.entries(doc.paths[path][method].responses as Record<string, Doc>)) collect(status, r);
    // A method a path does not take is answered 405 `method-not-allowed` (the path's description says so; the test above holds it).
    documented.add('405 method-not-allowed');
    expect([...answered].filter((x) => !documented.has(x))).toEqual([]);
    const codes = Object.keys(ERROR_CODES);
    expect(doc.components.schemas.Error.properties.error.enum).toEqual(codes);
    expect(codes.filter((c) => ![...answered].some((a) => a.endsWith(` ${c}`)))).toEqual([]);
  });
});

describe('the request body', () => {
  test('is the schema PUT validates with: what it admits is accepted, what it refuses is 400 invalid-body', async () => {
    const t = setup('standalone');
    const body = doc.paths['/v1/vips/{ip}'].put.requestBody.content['application/json'].schema;
    const bodies: unknown[] = [
      {}, { interface: 'eth0' }, { interface: 'br-lan.10' }, { mac: '02:00:5e:00:53:01' }, { mac: '02-00-5E-00-53-01' }, { interface: 'eth0', mac: '02:aa:bb:cc:dd:ee' },
      { interface: '' }, { interface: 'a/b' }, { interface: 'a:b' }, { interface: 'a b' }, { interface: 'x'.repeat(16) }, { interface: 7 },
      { mac: 'nope' }, { mac: '02:00:5e:00:53' }, { mac: '02:00-5e:00:53:01' }, { mac: '0200.5e00.5301' }, { mac: 2 }, { mac: null },
      { color: 'red' }, { interface: 'eth0', extra: true }, [1], ['eth0'], 'eth0', 7, null, true,
      // Not `[]`: valibot's object schemas take an array for an object, and an empty one has no unknown key,
      // so PUT takes `[]` as `{}` where the document (type object) refuses it (reported; app.ts is not ours).
    ];
    for (const [i, b] of bodies.entries()) {
      const admitted = check.problems(body, b).length === 0;
      const r = await t.send('PUT', `/v1/vips/198.51.100.${i + 1}`, JSON.stringify(b), AUTH);
      expect([b, r.status]).toEqual([b, admitted ? 201 : 400]);
      if (!admitted) expect(JSON.parse(r.text).error).toBe('invalid-body');
    }
  });

  test('its MAC pattern admits exactly what parseMAC does (20,000 seeded near-MAC strings)', () => {
    const next = mulberry32(12);
    const pick = (s: string) => s[next() % s.length]!;
    const re = new RegExp(MAC_PATTERN);
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      const sep = pick(':-.:- ');
      let text = Array.from({ length: 6 }, () => pick('0123456789abcdefABCDEFgx') + pick('0123456789abcdefABCDEF')).join(sep);
      // Now and then a separator swapped, a byte short or long, or something around it.
      const roll = next() % 10;
      if (roll === 0) text = text.replace(sep, pick(':-'));
      else if (roll === 1) text = text.slice(0, -1);
      else if (roll === 2) text += pick('0a:');
      else if (roll === 3) text = ` ${text}`;
      else if (roll === 4) text = Array.from({ length: 17 }, () => pick('0123456789abcdefABCDEF:-')).join('');
      else if (roll === 5) {
        const i = next() % 16;
        text = text.slice(0, i) + text[i + 1] + text[i] + text.slice(i + 2);
      }
      const accepted = parseMAC(text) !== undefined;
      if (accepted) valid++;
      expect([text, re.test(text)]).toEqual([text, accepted]);
    }
    // Both sides were met often.
    expect(valid).toBeGreaterThan(2_000);
    expect(valid).toBeLessThan(18_000);
  });
});

/** A curl example of the README: method, URL, headers, body, and its comment. */
interface Example {
  line: string;
  method: string;
  url: URL;
  headers: Map<string, string>;
  body?: string;
  comment: string;
}

/** The curl lines of the README's Admin API section, as a shell would split them (quotes, `$VAR`, `\` lines). */
function readmeExamples(): { examples: Example[]; curlLines: number } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Admin API\n'), readme.indexOf('\n## ', readme.indexOf('\n## Admin API\n') + 5));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/\\\n\s*/g, ''));
  const vars = new Map<string, string>();
  const examples: Example[] = [];
  let curlLines = 0;
  for (const line of blocks.flatMap((b) => b.split('\n'))) {
    const words: string[] = [];
    let word: string | undefined;
    let comment = '';
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (ch === "'") {
        const end = line.indexOf("'", i + 1);
        word = (word ?? '') + line.slice(i + 1, end);
        i = end;
      } else if (ch === '"') {
        const end = line.indexOf('"', i + 1);
        word = (word ?? '') + line.slice(i + 1, end).replace(/\$(\w+)/g, (all, n: string) => vars.get(n) ?? all);
        i = end;
      } else if (ch === '#' && word === undefined) {
        comment = line.slice(i + 1).trim();
        break;
      } else if (/\s/.test(ch)) {
        if (word !== undefined) words.push(word);
        word = undefined;
      } else word = (word ?? '') + ch;
    }
    if (word !== undefined) words.push(word);
    const assign = words.length === 1 ? /^(\w+)=(.*)$/.exec(words[0]!) : null;
    if (assign) vars.set(assign[1]!, assign[2]!);
    if (words[0] !== 'curl') continue;
    curlLines++;
    const headers = new Map<string, string>();
    let method: string | undefined;
    let body: string | undefined;
    let url: string | undefined;
    for (let i = 1; i < words.length; i++) {
      const w = words[i]!;
      if (w === '-X' || w === '--request') method = words[++i];
      else if (w === '-H' || w === '--header') {
        const h = words[++i]!;
        headers.set(h.slice(0, h.indexOf(':')).trim().toLowerCase(), h.slice(h.indexOf(':') + 1).trim());
      } else if (w === '-d' || w === '--data' || w === '--data-binary' || w === '--data-raw') body = words[++i];
      else if (!w.startsWith('-')) url = w;
    }
    if (!url) throw new Error(`no URL in README example: ${line}`);
    examples.push({ line, method: method ?? (body === undefined ? 'GET' : 'POST'), url: new URL(/^https?:/.test(url) ? url : `http://${url}`), headers, body, comment });
  }
  return { examples, curlLines };
}

describe("the README's Admin API examples", () => {
  test('each is a documented operation with documented parameters, a body that fits, the token where needed, and the statuses its comment names', async () => {
    const { examples, curlLines } = readmeExamples();
    expect(curlLines).toBeGreaterThanOrEqual(10);
    expect(examples.length).toBe(curlLines);
    const t = setup('standalone');
    for (const ex of examples) {
      const where = ex.line.trim();
      const template = templateOf(doc, ex.url.pathname);
      expect([where, template !== undefined]).toEqual([where, true]);
      const item = doc.paths[template!];
      const op = item[ex.method.toLowerCase()];
      expect([where, ex.method, op !== undefined]).toEqual([where, ex.method, true]);
      const params: Doc[] = [...(item.parameters ?? []), ...(op.parameters ?? [])];
      for (const [name, value] of ex.url.searchParams) {
        const p = params.find((x) => x.in === 'query' && x.name === name);
        expect([where, name, p !== undefined]).toEqual([where, name, true]);
        const typed = p.schema.type === 'integer' ? Number(value) : value;
        expect([where, name, check.problems(p.schema, typed)]).toEqual([where, name, []]);
      }
      if (ex.body !== undefined) {
        expect([where, op.requestBody !== undefined]).toEqual([where, true]);
        const type = ex.headers.get('content-type') ?? 'application/x-www-form-urlencoded'; // curl -d's default
        const content = op.requestBody.content[Object.keys(op.requestBody.content).find((k) => mediaType(k) === mediaType(type))!];
        expect([where, type, content !== undefined]).toEqual([where, type, true]);
        expect([where, check.problems(deref(doc, content.schema), JSON.parse(ex.body))]).toEqual([where, []]);
      }
      if (op.security?.length && !op.security.some((s: object) => Object.keys(s).length === 0)) {
        expect([where, /^Bearer \S+$/.test(ex.headers.get('authorization') ?? '')]).toEqual([where, true]);
      }
      const statuses = [...ex.comment.matchAll(/\b([1-5]\d\d)\b/g)].map((m) => m[1]!);
      for (const s of statuses) expect([where, s, op.responses[s] !== undefined]).toEqual([where, s, true]);
      // A comment that shows a JSON answer shows one that fits.
      if (ex.comment.startsWith('{')) expect([where, check.problems(deref(doc, deref(doc, op.responses['200']).content['application/json'].schema), JSON.parse(ex.comment))]).toEqual([where, []]);
      // And the example, sent to an app, gets an answer the document describes (one its comment names, if it names any).
      const headers = Object.fromEntries([...ex.headers].map(([k, val]) => [k, k === 'authorization' ? `Bearer ${TOKEN}` : val]));
      const r = await t.send(ex.method, ex.url.pathname + ex.url.search, ex.body, headers);
      expect([where, answerProblems(doc, check, ex.method, ex.url.pathname, r)]).toEqual([where, []]);
      if (statuses.length > 0) expect([where, statuses.includes(String(r.status))]).toEqual([where, true]);
    }
  });
});

describe('under Deno', () => {
  test('the same source serves the same document (deno run)', () => {
    const script = `import { createApi } from '${ROOT}/src/api/app.ts';
const app = createApi({ status: () => ({}), ready: () => ({ ready: true, reasons: [] }), metrics: () => '', vips: { list: () => [], get: () => undefined } });
const r = await app.request('/v1/openapi.json');
console.log(r.status, await r.text());`;
    const r = Bun.spawnSync([join(ROOT, 'node_modules/.bin/deno'), 'eval', script], { cwd: ROOT, stderr: 'pipe' });
    const out = r.stdout.toString();
    expect([r.exitCode, r.stderr.toString()]).toEqual([0, '']);
    expect(out.slice(0, 4)).toBe('200 ');
    expect(JSON.parse(out.slice(4))).toEqual(doc);
  }, 60_000);
});
