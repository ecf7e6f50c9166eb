/**
 * The Kubernetes API server stand-in, exercised over real HTTPS as a client would: Bun's fetch with
 * `tls: { ca, cert, key }`, curl with --cacert/--cert/--key, and client-node's kubeconfig loader.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { selfSignedCert } from './pki.ts';
import { StandIn, StandInError, type KubeObject } from './standin.ts';
import { kubeletHeartbeat, kubeletNode } from './nodes.ts';
import { WatchReader, type WatchEvent } from './watch-reader.ts';

const tmp = mkdtempSync(join(tmpdir(), 'standin-test-'));
let s: StandIn;

beforeAll(async () => {
  s = await StandIn.start();
});
afterAll(async () => {
  await s?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const json = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
const send = (method: string, body: unknown, contentType = 'application/json'): RequestInit => ({
  method,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  headers: { 'Content-Type': contentType },
});
const lbService = (name: string, ns = 'default', extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: ns, ...extra },
  spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
});
const isEvent = (e: unknown): e is WatchEvent => typeof e === 'object' && e !== null && 'type' in e;

function watch(path: string): Promise<WatchReader> {
  return WatchReader.open(() => s.fetch(path));
}

describe('authentication', () => {
  test('no credentials: 401 Status exactly as kube-apiserver', async () => {
    const r = await s.fetch('/api/v1/namespaces', {}, 'none');
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
  });

  test('bearer token and client certificate are accepted; a wrong token or an untrusted certificate is not', async () => {
    expect((await s.fetch('/api/v1/namespaces', {}, 'token')).status).toBe(200);
    expect((await s.fetch('/api/v1/namespaces', {}, 'cert')).status).toBe(200);
    const wrong = await fetch(s.url + '/api/v1/namespaces', { headers: { Authorization: 'Bearer nope' }, tls: { ca: s.caPem } } as RequestInit);
    expect(wrong.status).toBe(401);
    const evil = selfSignedCert('l2lb');
    const untrusted = await fetch(s.url + '/api/v1/namespaces', { tls: { ca: s.caPem, cert: evil.certPem, key: evil.keyPem } } as RequestInit);
    expect(untrusted.status).toBe(401);
  });

  test('the request log records who asked (token user or certificate CN) and the answer', async () => {
    await s.fetch('/api/v1/nodes?limit=1', {}, 'token');
    await s.fetch('/api/v1/nodes?limit=2', {}, 'cert');
    const log = await s.requests();
    const token = log.find((e) => e.path === '/api/v1/nodes' && e.query === 'limit=1');
    const cert = log.find((e) => e.path === '/api/v1/nodes' && e.query === 'limit=2');
    expect(token).toMatchObject({ method: 'GET', user: 'system:serviceaccount:l2lb-system:l2lb', status: 200, watch: false });
    expect(cert).toMatchObject({ method: 'GET', user: 'l2lb', status: 200, watch: false });
  });

  test('curl with --cacert/--cert/--key (a standard client) and with a token', () => {
    const ca = join(tmp, 'ca.crt');
    const crt = join(tmp, 'client.crt');
    const key = join(tmp, 'client.key');
    writeFileSync(ca, s.caPem);
    writeFileSync(crt, s.clientCertPem);
    writeFileSync(key, s.clientKeyPem);
    const url = `${s.url}/api/v1/namespaces/default`;
    const viaCert = Bun.spawnSync(['curl', '-sS', '--cacert', ca, '--cert', crt, '--key', key, url], { env: { PATH: process.env.PATH ?? '' } });
    expect(viaCert.exitCode).toBe(0);
    expect(JSON.parse(viaCert.stdout.toString())).toMatchObject({ kind: 'Namespace', metadata: { name: 'default' }, status: { phase: 'Active' } });
    const viaToken = Bun.spawnSync(['curl', '-sS', '--cacert', ca, '-H', `Authorization: Bearer ${s.token}`, '-o', '/dev/null', '-w', '%{http_code}', url]);
    expect(viaToken.stdout.toString()).toBe('200');
    // localhost is in the certificate too
    const viaName = Bun.spawnSync(['curl', '-sS', '--cacert', ca, '--cert', crt, '--key', key, '-o', '/dev/null', '-w', '%{http_code}', url.replace('127.0.0.1', 'localhost')]);
    expect(viaName.stdout.toString()).toBe('200');
  });

  test('writeKubeconfig writes a kubeconfig that client-node loads (token and certificate)', () => {
    for (const auth of ['token', 'cert'] as const) {
      const path = join(tmp, `kubeconfig-${auth}`);
      s.writeKubeconfig(path, auth);
      const kc = new KubeConfig();
      kc.loadFromFile(path);
      expect(kc.getCurrentCluster()?.server).toBe(s.url);
      expect(Buffer.from(kc.getCurrentCluster()?.caData ?? '', 'base64').toString()).toBe(s.caPem);
      const user = kc.getCurrentUser();
      if (auth === 'token') expect(user?.token).toBe(s.token);
      else expect(Buffer.from(user?.certData ?? '', 'base64').toString()).toBe(s.clientCertPem);
    }
  });
});

describe('create, get, list', () => {
  test('POST sets uid, creationTimestamp, resourceVersion and Service defaults; a second POST is 409 AlreadyExists', async () => {
    const r = await s.fetch('/api/v1/namespaces/default/services', json(lbService('web')));
    expect(r.status).toBe(201);
    const svc = await r.json();
    expect(svc.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(svc.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Number(svc.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(svc.spec).toMatchObject({
      type: 'LoadBalancer',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      externalTrafficPolicy: 'Cluster',
      allocateLoadBalancerNodePorts: true,
    });
    expect(svc.spec.clusterIP).toMatch(/^10\.96\./);
    expect(svc.spec.ports[0]).toMatchObject({ port: 80, protocol: 'TCP', targetPort: 80 });
    expect(svc.spec.ports[0].nodePort).toBeGreaterThanOrEqual(30000);
    expect(svc.status).toEqual({ loadBalancer: {} });

    const again = await s.fetch('/api/v1/namespaces/default/services', json(lbService('web')));
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ reason: 'AlreadyExists', message: 'services "web" already exists', code: 409 });

    const got = await (await s.fetch('/api/v1/namespaces/default/services/web')).json();
    expect(got).toMatchObject({ kind: 'Service', apiVersion: 'v1', metadata: { uid: svc.metadata.uid } });
    const missing = await s.fetch('/api/v1/namespaces/default/services/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ reason: 'NotFound', message: 'services "nope" not found', details: { name: 'nope', kind: 'services' } });
  });

  test('dual-stack request gets an address of each family; status set on create is dropped', async () => {
    const body = { ...lbService('dual'), spec: { type: 'LoadBalancer', ipFamilyPolicy: 'RequireDualStack', ports: [{ port: 53, protocol: 'UDP' }] }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.9' }] } } };
    const svc = await (await s.fetch('/api/v1/namespaces/default/services', json(body))).json();
    expect(svc.spec.ipFamilies).toEqual(['IPv4', 'IPv6']);
    expect(svc.spec.clusterIPs).toHaveLength(2);
    expect(svc.spec.clusterIPs[1]).toContain(':');
    expect(svc.status).toEqual({ loadBalancer: {} });
  });

  test('generateName, a namespace that does not exist (404), a bad name (422), resourceVersion on create (500)', async () => {
    const gen = await (await s.fetch('/api/v1/namespaces/default/services', json({ metadata: { generateName: 'gen-' }, spec: { ports: [{ port: 1 }] } }))).json();
    expect(gen.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
    const noNs = await s.fetch('/api/v1/namespaces/ghost/services', json(lbService('x', 'ghost')));
    expect(noNs.status).toBe(404);
    expect((await noNs.json()).message).toBe('namespaces "ghost" not found');
    const bad = await s.fetch('/api/v1/namespaces/default/services', json(lbService('1-starts-with-digit')));
    expect(bad.status).toBe(422);
    expect((await bad.json()).message).toStartWith('Service "1-starts-with-digit" is invalid: metadata.name: Invalid value: "1-starts-with-digit": a DNS-1035 label');
    const withRv = await s.fetch('/api/v1/namespaces/default/services', json(lbService('rv', 'default', { resourceVersion: '5' })));
    expect(withRv.status).toBe(500);
    expect((await withRv.json()).message).toBe('Internal error occurred: resourceVersion should not be set on objects to be created');
  });

  test('label and field selectors, all-namespaces lists, typed list items without kind', async () => {
    await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'sel', labels: { team: 'blue' } } });
    await s.create({ ...lbService('a', 'sel', { labels: { app: 'x', tier: 'web' } }) });
    await s.create({ ...lbService('b', 'sel', { labels: { app: 'x', tier: 'db' } }) });
    await s.create({ ...lbService('c', 'sel', { labels: { app: 'y' } }) });
    const names = async (q: string) => ((await (await s.fetch(q)).json()).items as KubeObject[]).map((o) => o.metadata.name);
    expect(await names('/api/v1/namespaces/sel/services?labelSelector=app%3Dx%2Ctier!%3Ddb')).toEqual(['a']);
    expect(await names('/api/v1/namespaces/sel/services?labelSelector=tier')).toEqual(['a', 'b']);
    expect(await names('/api/v1/namespaces/sel/services?labelSelector=!tier')).toEqual(['c']);
    expect(await names('/api/v1/namespaces/sel/services?labelSelector=app+in+(y,z)')).toEqual(['c']);
    expect(await names('/api/v1/services?fieldSelector=metadata.namespace%3Dsel,metadata.name!%3Db')).toEqual(['a', 'c']);
    expect(await names('/api/v1/namespaces?labelSelector=kubernetes.io/metadata.name%3Dsel')).toEqual(['sel']);
    const list = await (await s.fetch('/api/v1/namespaces/sel/services')).json();
    expect(list.kind).toBe('ServiceList');
    expect(Number(list.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(list.items[0].kind).toBeUndefined();
    const unsupported = await s.fetch('/api/v1/services?fieldSelector=spec.foo%3D1');
    expect(unsupported.status).toBe(400);
    expect((await unsupported.json()).message).toBe('field label not supported: spec.foo');
  });

  test('limit + continue pages through a consistent snapshot; resourceVersion=0 ignores limit', async () => {
    for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) await s.create(lbService(n, 'paging'));
    const first = await (await s.fetch('/api/v1/namespaces/paging/services?limit=2')).json();
    expect(first.items.map((o: KubeObject) => o.metadata.name)).toEqual(['p1', 'p2']);
    expect(first.metadata.remainingItemCount).toBe(3);
    expect(first.metadata.continue).toBeString();
    await s.create(lbService('p6', 'paging'));
    const second = await (await s.fetch(`/api/v1/namespaces/paging/services?limit=2&continue=${encodeURIComponent(first.metadata.continue)}`)).json();
    expect(second.items.map((o: KubeObject) => o.metadata.name)).toEqual(['p3', 'p4']);
    expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    const third = await (await s.fetch(`/api/v1/namespaces/paging/services?limit=2&continue=${encodeURIComponent(second.metadata.continue)}`)).json();
    expect(third.items.map((o: KubeObject) => o.metadata.name)).toEqual(['p5']);
    expect(third.metadata.continue).toBeUndefined();
    const cached = await (await s.fetch('/api/v1/namespaces/paging/services?limit=2&resourceVersion=0')).json();
    expect(cached.items).toHaveLength(6);
  });
});

describe('resourceVersionMatch=Exact: a list at a past revision', () => {
  const names = (list: { items: KubeObject[] }) => list.items.map((o) => o.metadata.name);
  test('serves the state the revision had, with selectors and pages; a revision not kept is 410 Expired', async () => {
    await s.create(lbService('x1', 'exact', { labels: { pick: 'yes' } }));
    await s.create(lbService('x2', 'exact'));
    const first = await (await s.fetch('/api/v1/namespaces/exact/services')).json();
    const rv = first.metadata.resourceVersion as string;
    await s.create(lbService('x3', 'exact', { labels: { pick: 'yes' } }));
    expect((await s.fetch('/api/v1/namespaces/exact/services/x1', { method: 'DELETE' })).status).toBe(200);
    const at = (q: string) => s.fetch(`/api/v1/namespaces/exact/services?resourceVersion=${rv}&resourceVersionMatch=Exact${q}`);
    const exact = await (await at('')).json();
    expect(names(exact)).toEqual(['x1', 'x2']);
    expect(exact.metadata.resourceVersion).toBe(rv);
    expect(names(await (await at('&labelSelector=pick')).json())).toEqual(['x1']);
    // pages of it: the continue token carries the revision
    const page1 = await (await at('&limit=1')).json();
    expect(names(page1)).toEqual(['x1']);
    const page2 = await (await s.fetch(`/api/v1/namespaces/exact/services?limit=1&continue=${encodeURIComponent(page1.metadata.continue)}`)).json();
    expect(names(page2)).toEqual(['x2']);
    expect(page2.metadata.resourceVersion).toBe(rv);
    // NotOlderThan (or no match): the present
    expect(names(await (await s.fetch(`/api/v1/namespaces/exact/services?resourceVersion=${rv}&resourceVersionMatch=NotOlderThan`)).json())).toEqual(['x2', 'x3']);
    // a revision no list was taken at, and not the present: etcd compacted it, as far as a client can tell
    const gone = await s.fetch(`/api/v1/namespaces/exact/services?resourceVersion=${Number(rv) + 1}&resourceVersionMatch=Exact`);
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ reason: 'Expired', code: 410, message: 'The resourceVersion for the provided list is too old.' });
    await s.compact();
    expect((await at('')).status).toBe(410);
  });

  test('misuse is a 422 naming every problem; a watch refuses it', async () => {
    const invalid = async (q: string) => {
      const r = await s.fetch(`/api/v1/services?${q}`);
      expect(r.status).toBe(422);
      return ((await r.json()).details.causes as { message: string }[]).map((c) => c.message);
    };
    expect(await invalid('resourceVersionMatch=Exact')).toEqual(['Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided']);
    expect(await invalid('resourceVersionMatch=Exact&resourceVersion=0')).toEqual(['Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"']);
    expect(await invalid('resourceVersionMatch=Newest&resourceVersion=1')).toEqual(['Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""']);
    expect(await invalid('resourceVersionMatch=Exact&continue=abc')).toEqual([
      'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
      'Forbidden: resourceVersionMatch is forbidden when continue is provided',
    ]);
    expect(await invalid('watch=true&resourceVersionMatch=NotOlderThan&resourceVersion=1')).toEqual(['Forbidden: resourceVersionMatch is forbidden for watch']);
  });
});

describe('kubernetesVersion', () => {
  test('1.28 (the default) cannot select Services by spec.type; 1.31 can, in lists and watches, where leaving the selection is DELETED', async () => {
    const version = await (await s.fetch('/version')).json();
    expect(version).toMatchObject({ major: '1', minor: '28', gitVersion: 'v1.28.15' });
    for (const q of ['', '&watch=true']) {
      const r = await s.fetch(`/api/v1/services?fieldSelector=spec.type%3DLoadBalancer${q}`);
      expect(r.status).toBe(400);
      expect((await r.json()).message).toBe('field label not supported: spec.type');
    }
    const t = await StandIn.start({ kubernetesVersion: '1.31' });
    try {
      expect(await (await t.fetch('/version')).json()).toMatchObject({ minor: '31', gitVersion: 'v1.31.0' });
      await t.create(lbService('lb', 'types'));
      await t.create({ ...lbService('cip', 'types'), spec: { type: 'ClusterIP', ports: [{ port: 80 }] } });
      const list = await (await t.fetch('/api/v1/services?fieldSelector=spec.type%3DLoadBalancer')).json();
      expect((list.items as KubeObject[]).map((o) => o.metadata.name)).toEqual(['lb']);
      const w = await WatchReader.open(() => t.fetch(`/api/v1/services?watch=true&fieldSelector=spec.type%3DLoadBalancer&resourceVersion=${list.metadata.resourceVersion}`));
      try {
        expect((await t.fetch('/api/v1/namespaces/types/services/lb', send('PATCH', { spec: { type: 'ClusterIP' } }, 'application/merge-patch+json'))).status).toBe(200);
        const ev = await w.next();
        expect(isEvent(ev) && ev.type).toBe('DELETED');
        expect(isEvent(ev) && ev.object.metadata.name).toBe('lb');
      } finally {
        await w.close();
      }
    } finally {
      await t.close();
    }
  });
});

describe('pagination: continue tokens expire', () => {
  test('continueTtlMs: a page asked for later than that after the first is 410 Expired with the inconsistent continue token; a new list works', async () => {
    const t = await StandIn.start({ continueTtlMs: 300 });
    try {
      for (const n of ['c1', 'c2', 'c3']) await t.create(lbService(n, 'ttl'));
      const first = await (await t.fetch('/api/v1/namespaces/ttl/services?limit=1')).json();
      const soon = await t.fetch(`/api/v1/namespaces/ttl/services?limit=1&continue=${encodeURIComponent(first.metadata.continue)}`);
      expect(soon.status).toBe(200);
      const second = await soon.json();
      expect(second.items.map((o: KubeObject) => o.metadata.name)).toEqual(['c2']);
      // a change after the first page: the list's revision is no longer the current one
      await t.create(lbService('c4', 'ttl'));
      await Bun.sleep(400);
      const late = await t.fetch(`/api/v1/namespaces/ttl/services?limit=1&continue=${encodeURIComponent(second.metadata.continue)}`);
      expect(late.status).toBe(410);
      const status = await late.json();
      expect(status).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
      expect(status.message).toStartWith('The provided continue parameter is too old to display a consistent list result.');
      expect(status.metadata.continue).toBeString();
      // the rest at the current revision, as the real server offers it (inconsistent: c4 is in it)
      const rest = await (await t.fetch(`/api/v1/namespaces/ttl/services?continue=${encodeURIComponent(status.metadata.continue)}`)).json();
      expect(rest.items.map((o: KubeObject) => o.metadata.name)).toEqual(['c3', 'c4']);
      const again = await (await t.fetch('/api/v1/namespaces/ttl/services?limit=10')).json();
      expect(again.items).toHaveLength(4);
    } finally {
      await t.close();
    }
  });

  test('failNext 410 fails only list pages that carry a continue token; compact() expires every token', async () => {
    for (const n of ['f1', 'f2', 'f3']) await s.create(lbService(n, 'expire'));
    await s.failNext(1, { status: 410, verbs: ['list'], resource: 'services' });
    const first = await s.fetch('/api/v1/namespaces/expire/services?limit=1');
    expect(first.status).toBe(200);
    const page = await first.json();
    const next = await s.fetch(`/api/v1/namespaces/expire/services?limit=1&continue=${encodeURIComponent(page.metadata.continue)}`);
    expect(next.status).toBe(410);
    expect((await next.json()).reason).toBe('Expired');
    const retried = await s.fetch(`/api/v1/namespaces/expire/services?limit=1&continue=${encodeURIComponent(page.metadata.continue)}`);
    expect(retried.status).toBe(200);
    const token = (await retried.json()).metadata.continue;
    await s.create(lbService('f4', 'expire'));
    await s.compact();
    const compacted = await s.fetch(`/api/v1/namespaces/expire/services?limit=1&continue=${encodeURIComponent(token)}`);
    expect(compacted.status).toBe(410);
  });
});

describe('managedFields', () => {
  const fieldsOf = (o: KubeObject, manager: string, subresource?: string) =>
    o.metadata.managedFields.find((e: KubeObject) => e.manager === manager && e.subresource === subresource)?.fieldsV1;

  test('every write records its manager (fieldManager, else the User-Agent up to "/", else the admin default) and the fields it set', async () => {
    const created = await s.create(lbService('mf', 'managed', { labels: { app: 'mf' } }));
    expect(created.metadata.managedFields).toEqual([
      expect.objectContaining({ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1' }),
    ]);
    const mine = fieldsOf(created, 'kubectl-client-side-apply');
    expect(mine['f:metadata']['f:labels']).toEqual({ '.': {}, 'f:app': {} });
    expect(mine['f:spec']['f:ports']['k:{"port":80,"protocol":"TCP"}']).toMatchObject({ '.': {}, 'f:port': {}, 'f:protocol': {} });
    expect(mine['f:spec']['f:type']).toEqual({});
    // a Service's status is reset on create: nobody's
    expect(mine['f:status']).toBeUndefined();
    expect(created.metadata.managedFields[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const patched = await (await s.fetch('/api/v1/namespaces/managed/services/mf/status', {
      ...send('PATCH', { metadata: { labels: { pool: 'lan' } }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.7' }] } } }, 'application/merge-patch+json'),
      headers: { 'Content-Type': 'application/merge-patch+json', 'User-Agent': 'l2lb/0.9 (linux)' },
    })).json();
    expect(patched.metadata.managedFields.map((e: KubeObject) => [e.manager, e.subresource])).toEqual([['kubectl-client-side-apply', undefined], ['l2lb', 'status']]);
    expect(fieldsOf(patched, 'l2lb', 'status')).toEqual({
      'f:metadata': { 'f:labels': { 'f:pool': {} } },
      'f:status': { 'f:loadBalancer': { 'f:ingress': {} } },
    });

    // a label another manager set moves to the writer that changes it; a field removed leaves every entry
    const relabel = await (await s.fetch('/api/v1/namespaces/managed/services/mf?fieldManager=ops-team', send('PATCH', { metadata: { labels: { app: 'mf2', pool: null } } }, 'application/merge-patch+json'))).json();
    expect(fieldsOf(relabel, 'ops-team')).toEqual({ 'f:metadata': { 'f:labels': { 'f:app': {} } } });
    expect(fieldsOf(relabel, 'kubectl-client-side-apply')['f:metadata']?.['f:labels']).toBeUndefined();
    expect(fieldsOf(relabel, 'kubectl-client-side-apply')['f:spec']['f:type']).toEqual({});
    expect(fieldsOf(relabel, 'l2lb', 'status')).toEqual({ 'f:status': { 'f:loadBalancer': { 'f:ingress': {} } } });

    // a write that changes nothing changes neither the resourceVersion nor managedFields
    const same = await (await s.fetch('/api/v1/namespaces/managed/services/mf?fieldManager=someone', send('PATCH', { metadata: { labels: { app: 'mf2' } } }, 'application/merge-patch+json'))).json();
    expect(same.metadata.resourceVersion).toBe(relabel.metadata.resourceVersion);
    expect(same.metadata.managedFields).toEqual(relabel.metadata.managedFields);
    // watchers and lists see them too
    const listed = (await (await s.fetch('/api/v1/namespaces/managed/services')).json()).items[0];
    expect(listed.metadata.managedFields).toEqual(relabel.metadata.managedFields);
  });
});

describe('kubelet-sized Nodes', () => {
  test('kubeletNode: ~12 KB as written (50 images, nodeInfo, 5 conditions), more with managedFields; a heartbeat moves only heartbeat times to a status entry', async () => {
    const node = kubeletNode('fat-1', { internalIPs: ['10.0.0.5', 'fd00::5'] });
    const size = JSON.stringify(node).length;
    expect(size).toBeGreaterThan(10_500);
    expect(size).toBeLessThan(13_500);
    expect(node.status.images).toHaveLength(50);
    expect(node.status.images[0].names[0]).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(node.status.conditions.map((c: KubeObject) => c.type)).toEqual(['NetworkUnavailable', 'MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready']);
    expect(node.status.nodeInfo.kubeletVersion).toBe('v1.28.15');
    expect(node.status.addresses.filter((a: KubeObject) => a.type === 'InternalIP').map((a: KubeObject) => a.address)).toEqual(['10.0.0.5', 'fd00::5']);
    const stored = await s.create(node, { manager: 'kubelet' });
    expect(JSON.stringify(stored).length).toBeGreaterThan(size + 500);
    expect(stored.status.images).toHaveLength(50);
    expect(fieldsOf(stored)['f:status']['f:images']).toEqual({});
    const later = new Date(Date.now() + 40_000);
    const beat = await s.patchStatus({ apiVersion: 'v1', kind: 'Node', name: 'fat-1' }, kubeletHeartbeat(stored, later), { manager: 'kubelet' });
    expect(beat.metadata.resourceVersion).not.toBe(stored.metadata.resourceVersion);
    expect(beat.status.conditions.every((c: KubeObject) => c.lastHeartbeatTime === later.toISOString().slice(0, 19) + 'Z')).toBe(true);
    const status = beat.metadata.managedFields.find((e: KubeObject) => e.subresource === 'status');
    expect(status).toMatchObject({ manager: 'kubelet', operation: 'Update' });
    expect(Object.keys(status.fieldsV1['f:status']['f:conditions'])).toHaveLength(5);
    expect(status.fieldsV1['f:status']['f:conditions']['k:{"type":"Ready"}']).toEqual({ 'f:lastHeartbeatTime': {} });
    const main = beat.metadata.managedFields.find((e: KubeObject) => e.subresource === undefined);
    expect(main.fieldsV1['f:status']['f:conditions']['k:{"type":"Ready"}']['f:lastHeartbeatTime']).toBeUndefined();
    expect(main.fieldsV1['f:status']['f:conditions']['k:{"type":"Ready"}']['f:status']).toEqual({});
    await s.remove({ apiVersion: 'v1', kind: 'Node', name: 'fat-1' });

    function fieldsOf(o: KubeObject) {
      return o.metadata.managedFields.find((e: KubeObject) => e.manager === 'kubelet').fieldsV1;
    }
  });
});

describe('update and patch', () => {
  test('PUT with a stale resourceVersion is 409 Conflict; without one it is unconditional; PUT of a missing Eip is 404', async () => {
    const svc = await s.create(lbService('put', 'default'));
    const fresh = { ...svc, metadata: { ...svc.metadata, labels: { v: '1' } } };
    const ok = await s.fetch('/api/v1/namespaces/default/services/put', send('PUT', fresh));
    expect(ok.status).toBe(200);
    const stale = await s.fetch('/api/v1/namespaces/default/services/put', send('PUT', { ...fresh, metadata: { ...fresh.metadata, labels: { v: '2' } } }));
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on services "put": the object has been modified; please apply your changes to the latest version and try again',
      details: { name: 'put', kind: 'services' },
    });
    const { resourceVersion: _rv, ...noRv } = fresh.metadata;
    const unconditional = await s.fetch('/api/v1/namespaces/default/services/put', send('PUT', { ...fresh, metadata: { ...noRv, labels: { v: '3' } } }));
    expect(unconditional.status).toBe(200);
    expect((await unconditional.json()).metadata.labels).toEqual({ v: '3' });
    const missing = await s.fetch('/apis/network.kubesphere.io/v1alpha2/eips/none', send('PUT', { metadata: { name: 'none' }, spec: { address: '192.0.2.0/24' } }));
    expect(missing.status).toBe(404);
    expect((await missing.json()).message).toBe('eips.network.kubesphere.io "none" not found');
  });

  test('a write that changes nothing keeps the resourceVersion', async () => {
    const svc = await s.create(lbService('noop', 'default'));
    const r = await s.fetch('/api/v1/namespaces/default/services/noop', send('PATCH', { metadata: { labels: null } }, 'application/merge-patch+json'));
    expect((await r.json()).metadata.resourceVersion).toBe(svc.metadata.resourceVersion);
  });

  test('merge patch (RFC 7386), strategic merge on a core kind, stale resourceVersion in a patch', async () => {
    await s.create(lbService('mp', 'default', { labels: { a: '1', b: '2' } }));
    const p = '/api/v1/namespaces/default/services/mp';
    const r = await s.fetch(p, send('PATCH', { metadata: { labels: { a: null, c: '3' } } }, 'application/merge-patch+json'));
    expect(r.status).toBe(200);
    const patched = await r.json();
    expect(patched.metadata.labels).toEqual({ b: '2', c: '3' });
    const smp = await s.fetch(p, send('PATCH', { metadata: { annotations: { x: 'y' } } }, 'application/strategic-merge-patch+json'));
    expect(smp.status).toBe(200);
    const stale = await s.fetch(p, send('PATCH', { metadata: { resourceVersion: '1', labels: { d: '4' } } }, 'application/merge-patch+json'));
    expect(stale.status).toBe(409);
    const wrongType = await s.fetch(p, send('PATCH', { metadata: {} }, 'application/json'));
    expect(wrongType.status).toBe(415);
  });

  test('JSON patch (RFC 6902): add, replace, remove, test; a failing test is 422', async () => {
    await s.create(lbService('jp', 'default', { labels: { keep: 'me' } }));
    const p = '/api/v1/namespaces/default/services/jp';
    const ops = [
      { op: 'test', path: '/metadata/labels/keep', value: 'me' },
      { op: 'add', path: '/metadata/annotations', value: { 'l2lb.io/allow-shared-ip': 'k' } },
      { op: 'replace', path: '/spec/ports/0/port', value: 8080 },
      { op: 'remove', path: '/metadata/labels/keep' },
    ];
    const r = await s.fetch(p, send('PATCH', ops, 'application/json-patch+json'));
    expect(r.status).toBe(200);
    const o = await r.json();
    expect(o.metadata.annotations).toEqual({ 'l2lb.io/allow-shared-ip': 'k' });
    expect(o.metadata.labels).toBeUndefined();
    expect(o.spec.ports[0].port).toBe(8080);
    const failing = await s.fetch(p, send('PATCH', [{ op: 'test', path: '/spec/type', value: 'ClusterIP' }], 'application/json-patch+json'));
    expect(failing.status).toBe(422);
    expect((await failing.json()).details.causes[0].message).toBe('testing value /spec/type failed: test failed');
  });

  test('strategic merge patch on a custom resource is 415 UnsupportedMediaType', async () => {
    await s.create({ apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', metadata: { name: 'smp' }, spec: { address: '192.0.2.0/28', protocol: 'layer2' } });
    const r = await s.fetch('/apis/network.kubesphere.io/v1alpha2/eips/smp', send('PATCH', { spec: { disable: true } }, 'application/strategic-merge-patch+json'));
    expect(r.status).toBe(415);
    expect(await r.json()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
      reason: 'UnsupportedMediaType',
      code: 415,
    });
    const merge = await s.fetch('/apis/network.kubesphere.io/v1alpha2/eips/smp', send('PATCH', { spec: { disable: true } }, 'application/merge-patch+json'));
    expect(merge.status).toBe(200);
    expect((await merge.json()).metadata.generation).toBe(2);
  });
});

describe('status subresource', () => {
  test('writes to a Service ignore status; writes to /status ignore spec', async () => {
    await s.create(lbService('st', 'default'));
    const p = '/api/v1/namespaces/default/services/st';
    const main = await (await s.fetch(p, send('PATCH', { spec: { loadBalancerIP: '192.0.2.50' }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } }, 'application/merge-patch+json'))).json();
    expect(main.spec.loadBalancerIP).toBe('192.0.2.50');
    expect(main.status).toEqual({ loadBalancer: {} });
    const st = await (await s.fetch(p + '/status', send('PATCH', { spec: { loadBalancerIP: '192.0.2.99' }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } }, 'application/merge-patch+json'))).json();
    expect(st.status.loadBalancer.ingress).toEqual([{ ip: '192.0.2.1' }]);
    expect(st.spec.loadBalancerIP).toBe('192.0.2.50');
    expect(Number(st.metadata.resourceVersion)).toBeGreaterThan(Number(main.metadata.resourceVersion));
    const put = await s.fetch(p + '/status', send('PUT', { ...st, status: { loadBalancer: { ingress: [{ ip: '2001:db8::1' }] } } }));
    expect(put.status).toBe(200);
    expect((await put.json()).status.loadBalancer.ingress[0].ip).toBe('2001:db8::1');
  });

  test('a Service status write also carries metadata changes (1.28 resets only spec), an Eip one does not', async () => {
    await s.create(lbService('st-label', 'default'));
    const r = await s.fetch('/api/v1/namespaces/default/services/st-label/status', send('PATCH', { metadata: { labels: { 'eip.openelb.kubesphere.io/v1alpha2': 'lan' } }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.3' }] } } }, 'application/merge-patch+json'));
    expect((await r.json()).metadata.labels).toEqual({ 'eip.openelb.kubesphere.io/v1alpha2': 'lan' });
  });

  test('an ingress IP that is not an IP is 422; changing the type away from LoadBalancer clears the status', async () => {
    await s.create({ ...lbService('bad-ip', 'default'), status: { loadBalancer: { ingress: [{ ip: '192.0.2.2' }] } } });
    const p = '/api/v1/namespaces/default/services/bad-ip';
    const bad = await s.fetch(p + '/status', send('PATCH', { status: { loadBalancer: { ingress: [{ ip: '192.0.2.256' }] } } }, 'application/merge-patch+json'));
    expect(bad.status).toBe(422);
    expect((await bad.json()).message).toBe('Service "bad-ip" is invalid: status.loadBalancer.ingress[0].ip: Invalid value: "192.0.2.256": must be a valid IP address');
    const toClusterIP = await (await s.fetch(p, send('PATCH', { spec: { type: 'ClusterIP' } }, 'application/merge-patch+json'))).json();
    expect(toClusterIP.status).toEqual({ loadBalancer: {} });
    expect(toClusterIP.spec.ports[0].nodePort).toBeUndefined();
  });

  test('an Eip status write changes only status (labels in it are ignored); a main write ignores status', async () => {
    await s.create({ apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', metadata: { name: 'sub' }, spec: { address: '192.0.2.0/24' } });
    const p = '/apis/network.kubesphere.io/v1alpha2/eips/sub';
    const st = await (await s.fetch(p + '/status', send('PATCH', { metadata: { labels: { x: 'y' } }, spec: { disable: true }, status: { poolSize: 254, ready: true } }, 'application/merge-patch+json'))).json();
    expect(st.status).toEqual({ poolSize: 254, ready: true });
    expect(st.metadata.labels).toBeUndefined();
    expect(st.spec.disable).toBeUndefined();
    const main = await (await s.fetch(p, send('PATCH', { status: { poolSize: 1 }, spec: { interface: 'eth0' } }, 'application/merge-patch+json'))).json();
    expect(main.status.poolSize).toBe(254);
    expect(main.spec.interface).toBe('eth0');
  });
});

describe('validation l2lb can trip on', () => {
  test('Lease MicroTime needs exactly six fractional digits (400 on PUT/POST), returned as sent', async () => {
    const lease = (t: string) => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'l2lb-leader', namespace: 'kube-system' },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: t, renewTime: t, leaseTransitions: 0 },
    });
    const path = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases';
    for (const t of ['2026-11-27T08:00:00Z', '2026-11-27T08:00:00.000Z', '2026-11-27T08:00:00.0000000Z']) {
      const r = await s.fetch(path, json(lease(t)));
      expect(r.status).toBe(400);
      const body = await r.json();
      expect(body.reason).toBe('BadRequest');
      expect(body.message).toStartWith(`Lease in version "v1" cannot be handled as a Lease: parsing time "${t}"`);
    }
    const ok = await s.fetch(path, json(lease('2026-11-27T08:00:00.123456Z')));
    expect(ok.status).toBe(201);
    const created = await ok.json();
    expect(created.spec.renewTime).toBe('2026-11-27T08:00:00.123456Z');
    const badPatch = await s.fetch(path + '/l2lb-leader', send('PATCH', { spec: { renewTime: '2026-11-27T08:00:01Z' } }, 'application/merge-patch+json'));
    expect(badPatch.status).toBe(422);
    const wrongType = await s.fetch(path, json({ ...lease('2026-11-27T08:00:00.000000Z'), metadata: { name: 'x', namespace: 'kube-system' }, spec: { leaseDurationSeconds: '15' } }));
    expect(wrongType.status).toBe(400);
    expect((await wrongType.json()).message).toContain('json: cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32');
  });

  test('Eip status integers are int64: 2^64 (a /64 pool) rejects the whole write, 2^53-1 and 2^63-1 pass exactly', async () => {
    await s.create({ apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', metadata: { name: 'v6' }, spec: { address: '2001:db8::/64', protocol: 'layer2' } });
    const p = '/apis/network.kubesphere.io/v1alpha2/eips/v6/status';
    const tooBig = await s.fetch(p, send('PATCH', '{"status":{"poolSize":18446744073709551616,"usage":1,"firstIP":"2001:db8::"}}', 'application/merge-patch+json'));
    expect(tooBig.status).toBe(422);
    expect(await tooBig.json()).toMatchObject({
      reason: 'Invalid',
      message: 'Eip.network.kubesphere.io "v6" is invalid: status.poolSize: Invalid value: "number": status.poolSize in body must be of type integer: "number"',
      details: { name: 'v6', group: 'network.kubesphere.io', kind: 'Eip', causes: [{ reason: 'FieldValueInvalid', field: 'status.poolSize' }] },
    });
    expect((await s.get({ apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', name: 'v6' }))?.status).toBeUndefined();
    const frac = await s.fetch(p, send('PATCH', '{"status":{"usage":1.5}}', 'application/merge-patch+json'));
    expect(frac.status).toBe(422);
    const safe = await s.fetch(p, send('PATCH', '{"status":{"poolSize":9007199254740991}}', 'application/merge-patch+json'));
    expect(safe.status).toBe(200);
    expect((await safe.json()).status.poolSize).toBe(9007199254740991);
    const max = await s.fetch(p, send('PATCH', '{"status":{"poolSize":9223372036854775807}}', 'application/merge-patch+json'));
    expect(max.status).toBe(200);
    expect(await max.text()).toContain('"poolSize":9223372036854775807');
    const over = await s.fetch(p, send('PATCH', '{"status":{"poolSize":9223372036854775808}}', 'application/merge-patch+json'));
    expect(over.status).toBe(422);
  });

  test('Eip fields are typed and unknown ones pruned, like a structural CRD schema', async () => {
    const r = await s.fetch('/apis/network.kubesphere.io/v1alpha2/eips', json({ metadata: { name: 'typed' }, spec: { address: '192.0.2.0/24', protocol: 'layer2', colour: 'red' } }));
    expect(r.status).toBe(201);
    expect((await r.json()).spec).toEqual({ address: '192.0.2.0/24', protocol: 'layer2' });
    const badEnum = await s.fetch('/apis/network.kubesphere.io/v1alpha2/eips', json({ metadata: { name: 'enum' }, spec: { address: '192.0.2.0/24', protocol: 'ospf' } }));
    expect(badEnum.status).toBe(422);
    expect((await badEnum.json()).message).toBe('Eip.network.kubesphere.io "enum" is invalid: spec.protocol: Unsupported value: "ospf": supported values: "bgp", "layer2", "vip"');
  });

  test('a label value longer than 63 characters is 422', async () => {
    const r = await s.fetch('/api/v1/namespaces/default/services', json(lbService('lbl', 'default', { labels: { 'eip.openelb.kubesphere.io/v1alpha2': 'p'.repeat(64) } })));
    expect(r.status).toBe(422);
    expect((await r.json()).message).toContain('metadata.labels: Invalid value: "pppp');
  });
});

describe('delete', () => {
  test('a Service DELETE answers the object, a Lease DELETE a Status; finalizers postpone removal until the last one goes', async () => {
    await s.create(lbService('gone', 'default'));
    const del = await s.fetch('/api/v1/namespaces/default/services/gone', { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((await del.json()).kind).toBe('Service');
    await s.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'del', namespace: 'default' }, spec: {} });
    const delLease = await (await s.fetch('/apis/coordination.k8s.io/v1/namespaces/default/leases/del', { method: 'DELETE' })).json();
    expect(delLease).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'del', group: 'coordination.k8s.io', kind: 'leases' } });

    const list = await (await s.fetch('/api/v1/namespaces/fin/services')).json();
    await s.create(lbService('held', 'fin', { finalizers: ['l2lb.io/release'] }));
    const w = await watch(`/api/v1/namespaces/fin/services?watch=1&resourceVersion=${list.metadata.resourceVersion}`);
    const marked = await (await s.fetch('/api/v1/namespaces/fin/services/held', { method: 'DELETE' })).json();
    expect(marked.metadata.deletionTimestamp).toBeString();
    expect((await s.fetch('/api/v1/namespaces/fin/services/held')).status).toBe(200);
    const added = await s.fetch('/api/v1/namespaces/fin/services/held', send('PATCH', { metadata: { finalizers: ['l2lb.io/release', 'x.io/more'] } }, 'application/merge-patch+json'));
    expect(added.status).toBe(422);
    await s.fetch('/api/v1/namespaces/fin/services/held', send('PATCH', { metadata: { finalizers: null } }, 'application/merge-patch+json'));
    expect((await s.fetch('/api/v1/namespaces/fin/services/held')).status).toBe(404);
    expect((await w.take(3)).map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    await w.close();
  });

  test('deleting a namespace terminates it, deletes its content, then the namespace; default cannot be deleted', async () => {
    await s.create(lbService('inside', 'doomed'));
    const r = await (await s.fetch('/api/v1/namespaces/doomed', { method: 'DELETE' })).json();
    expect(r.status.phase).toBe('Terminating');
    const blocked = await s.fetch('/api/v1/namespaces/doomed/services', json(lbService('late', 'doomed')));
    expect(blocked.status).toBe(403);
    expect((await blocked.json()).message).toBe('services "late" is forbidden: unable to create new content in namespace doomed because it is being terminated');
    for (let i = 0; i < 50 && (await s.get({ apiVersion: 'v1', kind: 'Namespace', name: 'doomed' })); i++) await Bun.sleep(20);
    expect(await s.get({ apiVersion: 'v1', kind: 'Namespace', name: 'doomed' })).toBeUndefined();
    expect(await s.get({ apiVersion: 'v1', kind: 'Service', namespace: 'doomed', name: 'inside' })).toBeUndefined();
    expect((await s.fetch('/api/v1/namespaces/default', { method: 'DELETE' })).status).toBe(403);
  });
});

describe('events', () => {
  test('POST an Event, PATCH its count; the namespace must match the involved object', async () => {
    const ev = {
      metadata: { name: 'web.17a', namespace: 'default' },
      involvedObject: { kind: 'Service', namespace: 'default', name: 'web', apiVersion: 'v1' },
      reason: 'AssignIP',
      message: 'Assigned 192.0.2.10 from pool lan',
      type: 'Normal',
      source: { component: 'l2lb' },
      reportingComponent: 'l2lb',
      count: 1,
      firstTimestamp: '2026-11-27T08:00:00Z',
      lastTimestamp: '2026-11-27T08:00:00.5+01:00',
    };
    const r = await s.fetch('/api/v1/namespaces/default/events', json(ev));
    expect(r.status).toBe(201);
    const created = await r.json();
    expect(created.lastTimestamp).toBe('2026-11-27T07:00:00Z');
    const patched = await s.fetch('/api/v1/namespaces/default/events/web.17a', send('PATCH', { count: 2, lastTimestamp: '2026-11-27T08:00:05Z' }, 'application/merge-patch+json'));
    expect((await patched.json()).count).toBe(2);
    const byReason = await (await s.fetch('/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb,reason%3DAssignIP')).json();
    expect(byReason.items).toHaveLength(1);
    const wrongNs = await s.fetch('/api/v1/namespaces/kube-system/events', json({ ...ev, metadata: { name: 'x', namespace: 'kube-system' } }));
    expect(wrongNs.status).toBe(422);
    expect((await wrongNs.json()).message).toBe('Event "x" is invalid: involvedObject.namespace: Invalid value: "default": does not match event.namespace');
  });
});

describe('watch', () => {
  test('ADDED, MODIFIED, DELETED in order; resume from a resourceVersion replays what came after', async () => {
    await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'w1' } });
    const list = await (await s.fetch('/api/v1/namespaces/w1/services')).json();
    const w = await watch(`/api/v1/namespaces/w1/services?watch=1&resourceVersion=${list.metadata.resourceVersion}`);
    expect(w.status).toBe(200);
    await s.create(lbService('a', 'w1'));
    await s.patchStatus({ apiVersion: 'v1', kind: 'Service', namespace: 'w1', name: 'a' }, { loadBalancer: { ingress: [{ ip: '192.0.2.7' }] } });
    await s.remove({ apiVersion: 'v1', kind: 'Service', namespace: 'w1', name: 'a' });
    const evs = await w.take(3);
    expect(evs.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(evs[0].object.kind).toBe('Service');
    const rvs = evs.map((e) => Number(e.object.metadata.resourceVersion));
    expect(rvs[0]).toBeLessThan(rvs[1]);
    expect(rvs[1]).toBeLessThan(rvs[2]);
    await w.close();

    const resumed = await watch(`/api/v1/namespaces/w1/services?watch=1&resourceVersion=${rvs[0]}`);
    const again = await resumed.take(2);
    expect(again.map((e) => [e.type, e.object.metadata.resourceVersion])).toEqual([
      ['MODIFIED', String(rvs[1])],
      ['DELETED', String(rvs[2])],
    ]);
    await resumed.close();
  });

  test('resourceVersion 0 starts with ADDED for what exists; a label selector turns a relabel into DELETED', async () => {
    await s.create(lbService('l1', 'w2', { labels: { mine: 'yes' } }));
    await s.create(lbService('l2', 'w2'));
    const w = await watch('/api/v1/namespaces/w2/services?watch=true&resourceVersion=0&labelSelector=mine%3Dyes');
    const [first] = await w.take(1);
    expect(first.type).toBe('ADDED');
    expect(first.object.metadata.name).toBe('l1');
    await s.fetch('/api/v1/namespaces/w2/services/l1', send('PATCH', { metadata: { labels: { mine: 'no' } } }, 'application/merge-patch+json'));
    const [gone] = await w.take(1);
    expect(gone.type).toBe('DELETED');
    expect(gone.object.metadata.labels).toEqual({ mine: 'yes' });
    await w.close();
  });

  test('after compact() a resume from an older resourceVersion gets one ERROR 410 line with HTTP 200, then the stream ends', async () => {
    const svc = await s.create(lbService('c1', 'w3'));
    await s.create(lbService('c2', 'w3'));
    await s.compact();
    const rv = svc.metadata.resourceVersion;
    const w = await watch(`/api/v1/namespaces/w3/services?watch=1&resourceVersion=${rv}`);
    expect(w.status).toBe(200);
    const ev = await w.next();
    const current = (await (await s.fetch('/api/v1/namespaces/w3/services')).json()).metadata.resourceVersion;
    expect(ev).toEqual({
      type: 'ERROR',
      object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${rv} (${current})`, reason: 'Expired', code: 410 },
    });
    expect(await w.next()).toEqual({ end: 'done' });
  });

  test('timeoutSeconds ends the stream cleanly; no bookmarks unless configured', async () => {
    const t0 = Date.now();
    const w = await watch('/api/v1/namespaces/w4/services?watch=1&timeoutSeconds=1&allowWatchBookmarks=true');
    expect(await w.next(4000)).toEqual({ end: 'done' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  test('dropWatches() resets open watch connections', async () => {
    const w = await watch('/api/v1/services?watch=1');
    const initial = await w.next(1000);
    expect(isEvent(initial)).toBe(true);
    while (isEvent(await w.next(200)));
    await s.dropWatches();
    const end = await w.next(3000);
    expect('end' in end && end.end === 'error' && (end.error as Error & { code?: string }).code).toBe('ECONNRESET');
  });

  test('failNext fails matching requests only, with the real Status bodies', async () => {
    await s.create(lbService('f1', 'default'));
    await s.failNext(1, { status: 409, verbs: ['patch'], resource: 'services/status' });
    await s.failNext(1, { status: 429, verbs: ['get'] });
    const p = '/api/v1/namespaces/default/services/f1';
    const ok = await s.fetch(p, send('PATCH', { metadata: { labels: { a: 'b' } } }, 'application/merge-patch+json'));
    expect(ok.status).toBe(200);
    const conflict = await s.fetch(p + '/status', send('PATCH', { status: {} }, 'application/merge-patch+json'));
    expect(conflict.status).toBe(409);
    expect((await conflict.json()).reason).toBe('Conflict');
    const limited = await s.fetch(p);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect((await s.fetch(p)).status).toBe(200);
    await s.failNext(2, { status: 503 });
    expect((await s.fetch(p)).status).toBe(503);
    expect((await s.fetch('/api/v1/nodes')).status).toBe(503);
    expect((await s.fetch(p)).status).toBe(200);
  });

  test('admin errors carry the Status', async () => {
    const err = await s.update({ apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', metadata: { name: 'nope-missing' }, spec: { address: '192.0.2.1' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StandInError);
    expect((err as StandInError).status?.code).toBe(404);
  });
});

describe('faults for the client under test (issue 11, point 7)', () => {
  // Each test uses its own server: faults are global to a server and must not leak into other tests.
  let f: StandIn;
  beforeAll(async () => {
    f = await StandIn.start();
  });
  afterAll(async () => {
    await f?.close();
  });
  afterEach(async () => {
    await f.clearFaults();
  });
  const fwatch = (path: string) => WatchReader.open(() => f.fetch(path));
  /** Milliseconds `fn` takes. */
  const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const out = await fn();
    return [out, performance.now() - t0];
  };

  test('429 is answered like kube-apiserver: Retry-After: 1 with a Status (details.retryAfterSeconds), or APF\'s plain text', async () => {
    await f.failNext(1, { status: 429 });
    const status = await f.fetch('/api/v1/namespaces');
    expect(status.status).toBe(429);
    expect(status.headers.get('retry-after')).toBe('1');
    expect(await status.json()).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Too many requests, please try again later.',
      reason: 'TooManyRequests', details: { retryAfterSeconds: 1 }, code: 429,
    });
    await f.failNext(1, { status: 429, apf: true });
    const apf = await f.fetch('/api/v1/namespaces');
    expect(apf.status).toBe(429);
    expect(apf.headers.get('retry-after')).toBe('1');
    expect(apf.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await apf.text()).toBe('Too many requests, please try again later.\n');
    expect((await f.fetch('/api/v1/namespaces')).status).toBe(200);
  });

  test('latency: matching requests are answered late, others at once; watch headers come late; clearFaults ends it', async () => {
    await f.latency(400, { verbs: ['list', 'watch'], resource: 'services' });
    const [slow, slowMs] = await timed(() => f.fetch('/api/v1/services'));
    expect(slow.status).toBe(200);
    expect(slowMs).toBeGreaterThanOrEqual(390);
    const [fast, fastMs] = await timed(() => f.fetch('/api/v1/nodes'));
    expect(fast.status).toBe(200);
    expect(fastMs).toBeLessThan(300);
    const [w, watchMs] = await timed(() => fwatch('/api/v1/services?watch=1'));
    expect(watchMs).toBeGreaterThanOrEqual(390);
    await w.close();
    await f.latency(300);
    const [, versionMs] = await timed(() => f.fetch('/version'));
    expect(versionMs).toBeGreaterThanOrEqual(290);
    // a write whose client gave up in the queue is dropped undone; one that waited gets done
    await f.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lat' } });
    const gaveUp = await f.fetch('/api/v1/namespaces/lat/services', { ...json(lbService('dropped', 'lat')), signal: AbortSignal.timeout(100) }).catch((e: Error) => e);
    expect(gaveUp).toBeInstanceOf(Error);
    expect((await f.fetch('/api/v1/namespaces/lat/services', json(lbService('waited', 'lat')))).status).toBe(201);
    expect((await f.list('v1', 'Service', 'lat')).map((o) => o.metadata.name)).toEqual(['waited']);
    await f.clearFaults();
    const [, clearedMs] = await timed(() => f.fetch('/api/v1/services'));
    expect(clearedMs).toBeLessThan(300);
  });

  test('silenceWatches: open watches go quiet without closing, new ones work; clearFaults sends what was held, in order', async () => {
    await f.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'quiet' } });
    const rv = (await (await f.fetch('/api/v1/namespaces/quiet/services')).json()).metadata.resourceVersion;
    const old = await fwatch(`/api/v1/namespaces/quiet/services?watch=1&resourceVersion=${rv}`);
    await f.create(lbService('before', 'quiet'));
    expect((await old.take(1))[0].object.metadata.name).toBe('before');
    expect(await f.silenceWatches()).toBe(1);
    await f.create(lbService('during-1', 'quiet'));
    await f.create(lbService('during-2', 'quiet'));
    expect(await old.next(600)).toEqual({ end: 'timeout' });
    const fresh = await fwatch(`/api/v1/namespaces/quiet/services?watch=1&resourceVersion=${rv}`);
    expect((await fresh.take(3)).map((e) => e.object.metadata.name)).toEqual(['before', 'during-1', 'during-2']);
    await f.create(lbService('during-3', 'quiet'));
    expect((await fresh.take(1))[0].object.metadata.name).toBe('during-3');
    expect(await old.next(300)).toEqual({ end: 'timeout' });
    await f.clearFaults();
    expect((await old.take(3)).map((e) => e.object.metadata.name)).toEqual(['during-1', 'during-2', 'during-3']);
    await old.close();
    await fresh.close();
  });

  test('hangHandshakes: a new connection is accepted but its TLS handshake never starts; an established one keeps working; clearFaults lets it finish', async () => {
    const ca = join(tmp, 'hang-ca.crt');
    writeFileSync(ca, f.caPem);
    // a connection of the pool, established before the fault
    expect((await f.fetch('/api/v1/namespaces')).status).toBe(200);
    await f.hangHandshakes();
    const curl = Bun.spawnSync(['curl', '-v', '--cacert', ca, '-m', '1', '-o', '/dev/null', `${f.url}/version`]);
    expect(curl.exitCode).toBe(28); // operation timed out
    const trace = curl.stderr.toString();
    expect(trace).toContain('* Connected to 127.0.0.1'); // TCP was accepted
    expect(trace).toContain('TLS handshake, Client hello (1)'); // the ClientHello went out
    expect(trace).not.toContain('Server hello'); // and was never answered
    const [pooled, pooledMs] = await timed(() => f.fetch('/api/v1/namespaces'));
    expect(pooled.status).toBe(200);
    expect(pooledMs).toBeLessThan(500);
    // a new connection (token auth: Bun pools per TLS configuration) waits in the handshake...
    const waiting = f.fetch('/api/v1/namespaces', {}, 'token');
    const outcome = await Promise.race([waiting.then((r) => r.status), Bun.sleep(700).then(() => 'pending')]);
    expect(outcome).toBe('pending');
    // ...until the fault clears: the held handshake goes on and the request is answered
    expect(await f.clearFaults()).toBeGreaterThanOrEqual(2);
    expect((await waiting).status).toBe(200);
    const after = Bun.spawnSync(['curl', '-sS', '--cacert', ca, '-m', '2', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${f.token}`, `${f.url}/version`]);
    expect(after.stdout.toString()).toBe('200');
  });

  test('rotateToken: the new token works at once, the old one until revokeToken, then 401; a restart keeps that', async () => {
    const withToken = (t: string) => fetch(`${f.url}/api/v1/namespaces`, { headers: { Authorization: `Bearer ${t}` }, tls: { ca: f.caPem } } as RequestInit).then((r) => r.status);
    const { previous, token } = await f.rotateToken();
    expect(token).not.toBe(previous);
    expect(f.token).toBe(token);
    expect(await withToken(previous)).toBe(200);
    expect(await withToken(token)).toBe(200);
    await f.revokeToken(previous);
    expect(await withToken(previous)).toBe(401);
    expect(await withToken(token)).toBe(200);
    await f.restart();
    expect(await withToken(previous)).toBe(401);
    expect(await withToken(token)).toBe(200);
    const log = (await f.requests()).filter((r) => r.path === '/api/v1/namespaces' && r.status === 200).at(-1);
    expect(log?.user).toBe('system:serviceaccount:l2lb-system:l2lb');
  });

  test('writeKubeconfig token-file: the kubeconfig names the token file (client-go tokenFile), which holds the token', () => {
    const kubeconfig = join(tmp, 'kubeconfig-token-file');
    const tokenFile = join(tmp, 'token');
    f.writeKubeconfig(kubeconfig, 'token-file', { tokenFile });
    expect(readFileSync(tokenFile, 'utf8').trim()).toBe(f.token);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    expect(kc.getCurrentCluster()?.server).toBe(f.url);
    expect(readFileSync(kubeconfig, 'utf8')).toContain(`    tokenFile: ${tokenFile}\n`);
  });
});

describe('options: bookmarks', () => {
  let b: StandIn;
  beforeAll(async () => {
    b = await StandIn.start({ bookmarkIntervalMs: 300 });
  });
  afterAll(async () => {
    await b?.close();
  });

  test('with bookmarkIntervalMs, watches that allow bookmarks get them, others do not', async () => {
    const rv = (await (await b.fetch('/api/v1/namespaces')).json()).metadata.resourceVersion;
    const withBm = await WatchReader.open(() => b.fetch(`/api/v1/namespaces/default/services?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`));
    const without = await WatchReader.open(() => b.fetch(`/api/v1/namespaces/default/services?watch=1&resourceVersion=${rv}`));
    const evs: WatchEvent[] = [];
    for (;;) {
      const ev = await withBm.next(1500);
      if (!isEvent(ev)) throw new Error(`no bookmark: ${JSON.stringify(ev)}`);
      evs.push(ev);
      if (ev.type === 'BOOKMARK') break;
    }
    expect(evs[evs.length - 1].object).toMatchObject({ kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: rv } });
    const other = await without.next(700);
    expect(other).toEqual({ end: 'timeout' });
    await withBm.close();
    await without.close();
  });
});

describe('options', () => {
  test('writeCost: at most `slots` writes at once, each `ms` long, the rest queued in order; reads are not held', async () => {
    const a = await StandIn.start({ writeCost: { ms: 100, slots: 2 } });
    try {
      const t0 = performance.now();
      const done: number[] = [];
      await Promise.all(Array.from({ length: 6 }, (_, i) =>
        a.fetch('/api/v1/namespaces/default/services', json(lbService(`c${i}`))).then((r) => {
          expect(r.status).toBe(201);
          done.push(performance.now() - t0);
        })));
      done.sort((x, y) => x - y);
      // Three rounds of two: ~100, ~200, ~300 ms.
      expect(done[1]!).toBeGreaterThanOrEqual(95);
      expect(done[2]!).toBeGreaterThanOrEqual(195);
      expect(done[5]!).toBeGreaterThanOrEqual(295);
      expect(done[5]!).toBeLessThan(600);
      const r0 = performance.now();
      expect((await a.fetch('/api/v1/namespaces/default/services')).status).toBe(200);
      expect(performance.now() - r0).toBeLessThan(90);
    } finally {
      await a.close();
    }
  });

  test('anonymous: requests without credentials are system:anonymous and get 403', async () => {
    const a = await StandIn.start({ anonymous: true });
    try {
      const r = await a.fetch('/api/v1/namespaces/default/services', {}, 'none');
      expect(r.status).toBe(403);
      expect((await r.json()).message).toBe('services is forbidden: User "system:anonymous" cannot list resource "services" in API group "" in the namespace "default"');
      expect((await a.fetch('/api/v1/namespaces/default/services', {}, 'cert')).status).toBe(200);
    } finally {
      await a.close();
    }
  });

  test('extra tokens and issued client certificates authenticate as their own users', async () => {
    const a = await StandIn.start({ tokens: { 'replica-b': 'tok-b' } });
    try {
      await fetch(a.url + '/api/v1/nodes', { headers: { Authorization: 'Bearer tok-b' }, tls: { ca: a.caPem } } as RequestInit);
      const c = a.issueClientCert('replica-c', ['system:masters']);
      await fetch(a.url + '/api/v1/nodes', { tls: { ca: a.caPem, cert: c.certPem, key: c.keyPem } } as RequestInit);
      expect((await a.requests()).map((e) => e.user)).toEqual(['replica-b', 'replica-c']);
    } finally {
      await a.close();
    }
  });

  test('node ports run out like in a real cluster unless the Service opts out of them', async () => {
    const a = await StandIn.start({ nodePortRange: [30000, 30001] });
    try {
      for (const n of ['np1', 'np2']) expect((await a.fetch('/api/v1/namespaces/default/services', json(lbService(n)))).status).toBe(201);
      const full = await a.fetch('/api/v1/namespaces/default/services', json(lbService('np3')));
      expect(full.status).toBe(500);
      expect((await full.json()).message).toBe('Internal error occurred: failed to allocate a nodePort: range is full');
      const noPorts = { ...lbService('np4'), spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] } };
      expect((await a.fetch('/api/v1/namespaces/default/services', json(noPorts))).status).toBe(201);
      await a.remove({ apiVersion: 'v1', kind: 'Service', name: 'np1' });
      expect((await a.fetch('/api/v1/namespaces/default/services', json(lbService('np5')))).status).toBe(201);
    } finally {
      await a.close();
    }
  });

  test('keepHistoryOnRestart lets watches resume across a restart', async () => {
    const a = await StandIn.start({ keepHistoryOnRestart: true });
    try {
      const svc = await a.create(lbService('h1', 'default'));
      await a.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'default' }, spec: {} });
      await a.create(lbService('h2', 'default'));
      await a.restart();
      const w = await WatchReader.open(() => a.fetch(`/api/v1/namespaces/default/services?watch=1&resourceVersion=${svc.metadata.resourceVersion}`));
      const [ev] = await w.take(1);
      expect([ev.type, ev.object.metadata.name]).toEqual(['ADDED', 'h2']);
      await w.close();
    } finally {
      await a.close();
    }
  });

  test('netns: the server runs inside a network namespace and is reachable there', async () => {
    if (process.getuid?.() !== 0) {
      console.warn('SKIP netns option: needs root (network namespaces)');
      return;
    }
    const ns = `kst${process.pid}`;
    Bun.spawnSync(['ip', 'netns', 'add', ns]);
    try {
      Bun.spawnSync(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      const a = await StandIn.start({ netns: ns });
      try {
        writeFileSync(join(tmp, 'ns-ca.crt'), a.caPem);
        const inside = Bun.spawnSync(['ip', 'netns', 'exec', ns, 'curl', '-sS', '--cacert', join(tmp, 'ns-ca.crt'), '-H', `Authorization: Bearer ${a.token}`, '-o', '/dev/null', '-w', '%{http_code}', `${a.url}/api/v1/namespaces`]);
        expect(inside.stdout.toString()).toBe('200');
        // the control socket is a file: admin calls work from the root namespace
        expect((await a.create(lbService('in-ns', 'default'))).metadata.name).toBe('in-ns');
      } finally {
        await a.close();
      }
    } finally {
      Bun.spawnSync(['ip', 'netns', 'del', ns]);
    }
  });
});

describe('stop and restart', () => {
  let k: StandIn;
  beforeAll(async () => {
    k = await StandIn.start();
  });
  afterAll(async () => {
    await k?.close();
  });

  test('kill: connections refused, watches end at once; restart: same port, same state, counter continues, old resourceVersions are 410', async () => {
    const svc = await k.create(lbService('keep', 'prod'));
    await k.patchStatus({ apiVersion: 'v1', kind: 'Service', namespace: 'prod', name: 'keep' }, { loadBalancer: { ingress: [{ ip: '192.0.2.20' }] } });
    await k.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'prod' }, spec: { holderIdentity: 'x' } });
    const before = await (await k.fetch('/api/v1/namespaces/prod/services/keep')).json();
    const w = await WatchReader.open(() => k.fetch(`/api/v1/namespaces/prod/services?watch=1&resourceVersion=${before.metadata.resourceVersion}`));
    await k.stop('kill');
    const end = await w.next(2000);
    expect('end' in end && end.end !== 'timeout').toBe(true);
    const refused = await k.fetch('/api/v1/namespaces').catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error);

    await k.restart();
    const after = await (await k.fetch('/api/v1/namespaces/prod/services/keep')).json();
    expect(after.metadata.uid).toBe(svc.metadata.uid);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.status.loadBalancer.ingress).toEqual([{ ip: '192.0.2.20' }]);
    expect(k.url).toBe(`https://127.0.0.1:${k.port}`);
    const next = await k.create(lbService('new', 'prod'));
    expect(Number(next.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion) + 1);
    // like a real restart, the watch cache starts from the current state: the Service's RV is older than the Lease's
    const resumed = await WatchReader.open(() => k.fetch(`/api/v1/namespaces/prod/services?watch=1&resourceVersion=${before.metadata.resourceVersion}`));
    const ev = await resumed.next();
    expect(isEvent(ev) && ev.type === 'ERROR' && ev.object.code === 410).toBe(true);
  });

  test('term: new connections refused, open watches stay open and silent until restart', async () => {
    const list = await (await k.fetch('/api/v1/namespaces/prod/services')).json();
    const w = await WatchReader.open(() => k.fetch(`/api/v1/namespaces/prod/services?watch=1&resourceVersion=${list.metadata.resourceVersion}`));
    await k.stop('term');
    expect(k.running).toBe(true);
    const refused = await k.fetch('/api/v1/namespaces').catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error);
    await k.create(lbService('while-down', 'prod'));
    expect(await w.next(700)).toEqual({ end: 'timeout' });
    await k.restart();
    const end = await w.next(2000);
    expect('end' in end && end.end !== 'timeout').toBe(true);
    const got = await k.fetch('/api/v1/namespaces/prod/services/while-down');
    expect(got.status).toBe(200);
  });
});
