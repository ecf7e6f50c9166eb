/**
 * KubeClient over real HTTPS against the API server stand-in (client certificate): CRUD, paginated list,
 * optimistic concurrency, the three patch types and the status subresource.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeAccess } from '../../src/kube/access.ts';
import { KubeClient, MIN_PAGE_ITEMS } from '../../src/kube/client.ts';
import { KubeApiError, KubeHttp } from '../../src/kube/http.ts';
import { StandIn } from '../support/kube/standin.ts';

interface Service {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { type: string; ports: { port: number; protocol?: string }[]; loadBalancerIP?: string };
  status?: { loadBalancer?: { ingress?: { ip: string }[] } };
}

const SERVICES = '/api/v1/namespaces/client-test/services';
const EIPS = '/apis/network.kubesphere.io/v1alpha2/eips';
let api: StandIn;
let client: KubeClient;
let dir: string;

function service(name: string, labels?: Record<string, string>): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'client-test', ...(labels ? { labels } : {}) }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] } };
}

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<KubeApiError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(KubeApiError);
    return error as KubeApiError;
  }
  throw new Error('expected a KubeApiError, the request succeeded');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'l2lb-client-'));
  api = await StandIn.start();
  const kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, 'cert');
  client = new KubeClient(new KubeHttp(loadKubeAccess({ kubeconfig, env: {} })));
  await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'client-test' } });
});
afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('KubeClient', () => {
  test('create then get returns the stored object; a missing one is 404 NotFound', async () => {
    const created = await client.create<Service>(SERVICES, service('web'));
    expect(created.metadata.resourceVersion).toBeTruthy();
    const got = await client.get<Service>(`${SERVICES}/web`);
    expect(got.metadata.name).toBe('web');
    expect(got.spec.ports[0]?.port).toBe(80);
    const e = await failure(client.get(`${SERVICES}/missing`));
    expect(e.status).toBe(404);
    expect(e.reason).toBe('NotFound');
    expect(e.message).toContain('missing');
  });

  test('creating an existing name is 409 AlreadyExists', async () => {
    await client.create(SERVICES, service('dup'));
    const e = await failure(client.create(SERVICES, service('dup')));
    expect(e.status).toBe(409);
    expect(e.reason).toBe('AlreadyExists');
  });

  test('list follows continue across pages and filters by label', async () => {
    for (let i = 0; i < 7; i++) await client.create(SERVICES, service(`page-${i}`, { group: 'paged' }));
    await client.create(SERVICES, service('other', { group: 'else' }));
    const before = (await api.requests()).length;
    const list = await client.list<Service>(SERVICES, { labelSelector: 'group=paged', limit: 3 });
    expect(list.items.map((s) => s.metadata.name).sort()).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4', 'page-5', 'page-6']);
    expect(list.resourceVersion).toMatch(/^\d+$/);
    const pages = (await api.requests()).slice(before);
    expect(pages.map((r) => r.path)).toEqual([SERVICES, SERVICES, SERVICES]);
    expect(pages.map((r) => new URLSearchParams(r.query).has('continue'))).toEqual([false, true, true]);
    expect(pages.every((r) => new URLSearchParams(r.query).get('limit') === '3')).toBe(true);
  });

  test('pageBytes: after each page the next asks for as many items as fit in about that many bytes (fat objects, fewer per page)', async () => {
    const fat = (name: string) => ({ ...service(name, { group: 'fat' }), metadata: { ...service(name).metadata, labels: { group: 'fat' }, annotations: { blob: 'x'.repeat(10_000) } } });
    for (let i = 0; i < 70; i++) await client.create(SERVICES, fat(`fat-${String(i).padStart(2, '0')}`));
    let before = (await api.requests()).length;
    const list = await client.list<Service>(SERVICES, { labelSelector: 'group=fat', limit: 30, pageBytes: 100_000 });
    expect(list.items.map((s) => s.metadata.name)).toEqual(Array.from({ length: 70 }, (_, i) => `fat-${String(i).padStart(2, '0')}`));
    let pages = (await api.requests()).slice(before);
    // ~10 KB each: 100 KB would be 10 per page, but a page asks for no fewer than MIN_PAGE_ITEMS.
    expect(MIN_PAGE_ITEMS).toBe(20);
    expect(pages.map((r) => new URLSearchParams(r.query).get('limit'))).toEqual(['30', '20', '20']);
    // Thin objects: the limit given stays the most a page asks for.
    before = (await api.requests()).length;
    await client.list<Service>(SERVICES, { labelSelector: 'group=paged', limit: 3, pageBytes: 100_000 });
    pages = (await api.requests()).slice(before);
    expect(pages.map((r) => new URLSearchParams(r.query).get('limit'))).toEqual(['3', '3', '3']);
  });

  test('replace with the current resourceVersion succeeds, with a stale one is 409 Conflict', async () => {
    const v1 = await client.create<Service>(SERVICES, service('occ'));
    const v2 = await client.replace<Service>(`${SERVICES}/occ`, { ...v1, metadata: { ...v1.metadata, labels: { step: '2' } } });
    expect(v2.metadata.labels).toEqual({ step: '2' });
    expect(v2.metadata.resourceVersion).not.toBe(v1.metadata.resourceVersion);
    const e = await failure(client.replace(`${SERVICES}/occ`, { ...v1, metadata: { ...v1.metadata, labels: { step: 'stale' } } }));
    expect(e.status).toBe(409);
    expect(e.reason).toBe('Conflict');
    expect((await client.get<Service>(`${SERVICES}/occ`)).metadata.labels).toEqual({ step: '2' });
  });

  test('merge patch (the default) adds and removes fields', async () => {
    await client.create(SERVICES, service('merge', { keep: 'yes', drop: 'me' }));
    const patched = await client.patch<Service>(`${SERVICES}/merge`, { metadata: { labels: { drop: null, added: 'x' } } });
    expect(patched.metadata.labels).toEqual({ keep: 'yes', added: 'x' });
  });

  test('a write whose answer is discarded still lands, resolves to nothing, and still throws on a conflict', async () => {
    expect(await client.create(SERVICES, service('quiet'), { discard: true })).toBeUndefined();
    const current = await client.get<Service>(`${SERVICES}/quiet`);
    expect(await client.patch(`${SERVICES}/quiet/status`, { status: { loadBalancer: { ingress: [{ ip: '192.0.2.11' }] } } }, 'merge', { discard: true })).toBeUndefined();
    expect((await client.get<Service>(`${SERVICES}/quiet`)).status?.loadBalancer?.ingress).toEqual([{ ip: '192.0.2.11' }]);
    const stale = client.patch(`${SERVICES}/quiet/status`, { metadata: { resourceVersion: current.metadata.resourceVersion }, status: {} }, 'merge', { discard: true });
    expect(stale).rejects.toMatchObject({ status: 409 });
    await stale.catch(() => {});
  });

  test('JSON patch applies operations; a failed test operation is refused', async () => {
    await client.create(SERVICES, service('jsonp'));
    const patched = await client.patch<Service>(`${SERVICES}/jsonp`, [{ op: 'add', path: '/metadata/annotations', value: { a: '1' } }, { op: 'replace', path: '/spec/ports/0/port', value: 8080 }], 'json');
    expect(patched.metadata.annotations).toEqual({ a: '1' });
    expect(patched.spec.ports[0]?.port).toBe(8080);
    const e = await failure(client.patch(`${SERVICES}/jsonp`, [{ op: 'test', path: '/spec/ports/0/port', value: 1 }], 'json'));
    expect(e.status).toBe(422);
  });

  test('strategic merge works on a Service and is 415 on a custom resource', async () => {
    await client.create(SERVICES, service('smp'));
    const patched = await client.patch<Service>(`${SERVICES}/smp`, { metadata: { labels: { s: '1' } } }, 'strategic');
    expect(patched.metadata.labels).toEqual({ s: '1' });
    await client.create(EIPS, { apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', metadata: { name: 'pool-smp' }, spec: { address: '192.0.2.0/28', protocol: 'layer2' } });
    const e = await failure(client.patch(`${EIPS}/pool-smp`, { spec: { disable: true } }, 'strategic'));
    expect(e.status).toBe(415);
    // A merge patch of the same change is fine.
    const eip = await client.patch<{ spec: { disable?: boolean } }>(`${EIPS}/pool-smp`, { spec: { disable: true } });
    expect(eip.spec.disable).toBe(true);
  });

  test('status goes through the status subresource; a patch of the main resource ignores it', async () => {
    await client.create(SERVICES, service('st'));
    const ingress = [{ ip: '192.0.2.10' }];
    const ignored = await client.patch<Service>(`${SERVICES}/st`, { status: { loadBalancer: { ingress } } });
    expect(ignored.status?.loadBalancer?.ingress ?? []).toEqual([]);
    const written = await client.patch<Service>(`${SERVICES}/st/status`, { status: { loadBalancer: { ingress } } });
    expect(written.status?.loadBalancer?.ingress).toEqual(ingress);
    expect((await client.get<Service>(`${SERVICES}/st`)).status?.loadBalancer?.ingress).toEqual(ingress);
  });

  test('delete removes the object; deleting it again is 404', async () => {
    await client.create(SERVICES, service('gone'));
    await client.delete(`${SERVICES}/gone`);
    expect((await failure(client.get(`${SERVICES}/gone`))).status).toBe(404);
    expect((await failure(client.delete(`${SERVICES}/gone`))).status).toBe(404);
  });

  test('server errors carry status and reason', async () => {
    await api.failNext(1, { status: 500 });
    const e = await failure(client.get(`${SERVICES}/web`));
    expect(e.status).toBe(500);
    expect(e.message).toMatch(/^GET \/api\/v1\/namespaces\/client-test\/services\/web: 500 /);
    // The next call is served normally.
    expect((await client.get<Service>(`${SERVICES}/web`)).metadata.name).toBe('web');
  });
});
