/**
 * Watch and Informer against the API server stand-in over HTTPS: events in order, resume after a dropped
 * connection without a relist, relist and diff after 410, recovery after the server is killed or goes
 * silent (SIGTERM), and no action before the initial list.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeAccess } from '../../src/kube/access.ts';
import { KubeClient, type WatchEvent } from '../../src/kube/client.ts';
import { KubeApiError, KubeHttp } from '../../src/kube/http.ts';
import { Informer, type InformerEvent, type KubeObject } from '../../src/kube/informer.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { type RequestRecord, StandIn } from '../support/kube/standin.ts';

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string };
}

let api: StandIn;
let client: KubeClient;
let dir: string;
let nsCounter = 0;
/** Each test works in its own namespace, so requests and events of one test do not leak into another. */
let ns: string;
let path: string;
const logLines: string[] = [];
const log: Logger = createLogger({ level: 'debug', format: 'text' }, (line) => logLines.push(line));

const ref = (name: string) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: ns, name });

/** Creates the Lease `name` or sets its holder to `holder` (the stand-in's admin path: no HTTP involved). */
async function put(name: string, holder = '1'): Promise<void> {
  const existing = await api.get(ref(name));
  if (existing) await api.update({ ...existing, spec: { ...existing.spec, holderIdentity: holder } });
  else await api.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: ns }, spec: { holderIdentity: holder } });
}
const remove = (name: string) => api.remove(ref(name));

/** Polls until `check` returns true (fails the test with `what` after `ms`). */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** Requests on this test's collection (not on single objects). */
async function requestsHere(): Promise<RequestRecord[]> {
  return (await api.requests()).filter((r) => r.path === path && r.method === 'GET');
}
const lists = async () => (await requestsHere()).filter((r) => !r.watch);
const watches = async () => (await requestsHere()).filter((r) => r.watch);

function record(inf: Informer<Lease>): string[] {
  const seen: string[] = [];
  inf.onChange((ev: InformerEvent<Lease>) => seen.push(`${ev.type} ${ev.object.metadata.name} ${ev.object.spec?.holderIdentity ?? ''}`.trim()));
  return seen;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'l2lb-informer-'));
  api = await StandIn.start();
  const kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, 'token');
  client = new KubeClient(new KubeHttp(loadKubeAccess({ kubeconfig, env: {} })));
});
afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  ns = `inf-${++nsCounter}`;
  path = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
  logLines.length = 0;
  if (!api.running) await api.restart();
});

describe('KubeClient.watch', () => {
  test('delivers events in order and tracks the last resourceVersion', async () => {
    await put('a');
    const { resourceVersion } = await client.list<Lease>(path);
    const abort = new AbortController();
    const events: WatchEvent[] = [];
    const done = client.watch(path, { resourceVersion, signal: abort.signal }, (ev) => {
      events.push(ev);
      if (events.length === 3) abort.abort();
    });
    await put('b');
    await put('a', '2');
    await remove('b');
    const result = await done;
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED b', 'MODIFIED a', 'DELETED b']);
    expect(result.end).toBe('closed');
    expect(result.resourceVersion).toBe(events[2]!.object.metadata.resourceVersion);
  });

  test('a too-old resourceVersion ends as expired (the 200 stream with an ERROR 410 line)', async () => {
    await put('x');
    const { resourceVersion } = await client.list<Lease>(path);
    await put('x', '2');
    await api.compact();
    const r = await client.watch(path, { resourceVersion, signal: new AbortController().signal }, () => undefined);
    expect(r).toEqual({ end: 'expired', resourceVersion });
  });

  test('a quiet watch ends as inactive after inactivityMs', async () => {
    const { resourceVersion } = await client.list<Lease>(path);
    const started = performance.now();
    const r = await client.watch(path, { resourceVersion, signal: new AbortController().signal, inactivityMs: 300 }, () => undefined);
    expect(r.end).toBe('inactive');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  test('HTTP errors other than 410 throw KubeApiError', async () => {
    const { resourceVersion } = await client.list<Lease>(path);
    const outcome = async (c: KubeClient) => {
      try {
        return await c.watch(path, { resourceVersion, signal: new AbortController().signal }, () => undefined);
      } catch (e) {
        return e;
      }
    };
    await api.failNext(1, { status: 500, verbs: ['watch'] });
    const e500 = await outcome(client);
    expect(e500).toBeInstanceOf(KubeApiError);
    expect((e500 as KubeApiError).status).toBe(500);
    const stranger = new KubeClient(new KubeHttp({ server: api.url, caPem: api.caPem, token: async () => 'not-a-token', namespace: 'default', source: 'test' }));
    const e401 = await outcome(stranger);
    expect(e401).toBeInstanceOf(KubeApiError);
    expect((e401 as KubeApiError).reason).toBe('Unauthorized');
  });
});

describe('Informer', () => {
  let inf: Informer<Lease> | undefined;
  afterEach(async () => {
    await inf?.stop();
    inf = undefined;
  });
  const make = (opts: Partial<ConstructorParameters<typeof Informer>[2]> = {}) =>
    (inf = new Informer<Lease>(client, path, { log, name: 'configmaps', backoff: { initialMs: 100, maxMs: 1000 }, ...opts }));

  test('synced only after the whole initial list (paginated), and events follow in order', async () => {
    for (let i = 0; i < 5; i++) await put(`pre-${i}`);
    // The first two list attempts fail: no partial view may count as synced.
    await api.failNext(2, { status: 503 });
    const informer = make({ pageSize: 2 });
    const syncedWhenAdded: boolean[] = [];
    informer.onChange(() => syncedWhenAdded.push(informer.hasSynced()));
    const seen = record(informer);
    informer.start();
    expect(informer.hasSynced()).toBe(false);
    await informer.synced;
    expect(informer.hasSynced()).toBe(true);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['pre-0', 'pre-1', 'pre-2', 'pre-3', 'pre-4']);
    expect(syncedWhenAdded).toEqual([false, false, false, false, false]);
    // Two failed attempts, then three pages of 2, 2 and 1.
    expect((await lists()).map((r) => r.status)).toEqual([503, 503, 200, 200, 200]);
    expect(informer.connected()).toBe(true);

    await put('new');
    await put('pre-0', '2');
    await remove('pre-1');
    await until('3 more events', () => seen.length === 8);
    expect(seen.slice(5)).toEqual(['added new 1', 'modified pre-0 2', 'deleted pre-1 1']);
    expect(informer.get(`${ns}/pre-0`)?.spec?.holderIdentity).toBe('2');
    expect(informer.get(`${ns}/pre-1`)).toBeUndefined();
  });

  test('a dropped watch resumes from the last resourceVersion: no relist, nothing lost or repeated', async () => {
    const informer = make();
    const seen = record(informer);
    await put('a');
    informer.start();
    await informer.synced;
    await until('watching', async () => (await watches()).length === 1 && informer.connected());
    for (let round = 0; round < 3; round++) {
      await put(`r${round}`);
      await until(`r${round} seen`, () => seen.includes(`added r${round} 1`));
      await api.dropWatches(); // an RST under the open watch
      await put('a', String(round + 2)); // written while the informer is away
      await until(`watch ${round + 2}`, async () => (await watches()).length === round + 2);
    }
    await until('all events', () => seen.length === 7);
    await Bun.sleep(300); // room for a repeated event to show up
    expect(seen).toEqual(['added a 1', 'added r0 1', 'modified a 2', 'added r1 1', 'modified a 3', 'added r2 1', 'modified a 4']);
    expect((await lists()).length).toBe(1);
    // Each resumed watch starts from the last version the informer had seen before the drop.
    const from = (await watches()).map((w) => Number(new URLSearchParams(w.query).get('resourceVersion')));
    expect(from.length).toBe(4);
    for (let k = 1; k < from.length; k++) expect(from[k]).toBeGreaterThan(from[k - 1]!);
  });

  test('410 after the server lost its history: relist, and the difference is reported (deletions while away included)', async () => {
    const informer = make({ inactivityMs: 500 });
    const seen = record(informer);
    await put('stays');
    await put('changes');
    await put('goes');
    informer.start();
    await informer.synced;
    await until('watching', async () => (await watches()).length === 1 && informer.connected());
    // SIGTERM-like: open watches go silent and new connections are refused, but the admin socket still
    // writes, so the collection changes while the informer cannot see it.
    await api.stop('term');
    await remove('goes');
    await put('changes', '2');
    await put('arrives');
    await api.compact();
    await until('noticed', () => !informer.connected());
    await api.restart();
    await until('relisted', () => informer.list().length === 3 && informer.get(`${ns}/changes`)?.spec?.holderIdentity === '2', 8000);
    await Bun.sleep(300);
    expect(seen.slice(0, 3).sort()).toEqual(['added changes 1', 'added goes 1', 'added stays 1']);
    expect(seen.slice(3)).toEqual(['deleted goes 1', 'added arrives 1', 'modified changes 2']);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['arrives', 'changes', 'stays']);
    expect((await lists()).length).toBe(2);
    expect(logLines.some((l) => l.includes('resourceVersion expired, relisting'))).toBe(true);
  });

  test('compaction while a dropped watch cannot reconnect: the informer relists (a second list in the log)', async () => {
    const informer = make();
    const seen = record(informer);
    await put('a');
    informer.start();
    await informer.synced;
    await until('watching', async () => (await watches()).length === 1 && informer.connected());
    await api.failNext(3, { status: 503, verbs: ['watch'] }); // the first reconnects fail: the changes below happen while away
    await api.dropWatches();
    await remove('a');
    await put('b');
    await api.compact();
    await until('relisted', async () => (await lists()).length === 2 && informer.list().length === 1 && informer.get(`${ns}/b`) !== undefined);
    await Bun.sleep(200);
    expect(seen).toEqual(['added a 1', 'deleted a 1', 'added b 1']);
  });

  test('401: logged loudly as a credentials problem, retried with backoff, never synced', async () => {
    const stranger = new KubeClient(new KubeHttp({ server: api.url, caPem: api.caPem, token: async () => 'not-a-token', namespace: 'default', source: 'test' }));
    const informer = (inf = new Informer<Lease>(stranger, path, { log, name: 'leases', backoff: { initialMs: 100, maxMs: 400 } }));
    informer.start();
    await until('three attempts', async () => (await lists()).length >= 3);
    expect(informer.hasSynced()).toBe(false);
    expect(informer.connected()).toBe(false);
    expect(informer.lastError).toContain('401 Unauthorized');
    const loud = logLines.filter((l) => l.includes(' ERROR ') && l.includes('check the credentials and RBAC'));
    expect(loud.length).toBeGreaterThanOrEqual(2);
    const times = (await lists()).map((r) => r.at);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(90); // 2nd retry waits 100..200 ms
  });

  test('429 with Retry-After: the retry waits as long as the server asked', async () => {
    const informer = make({ backoff: { initialMs: 50, maxMs: 2000 } });
    await api.failNext(1, { status: 429, verbs: ['list'] });
    informer.start();
    await informer.synced;
    const [first, second] = await lists();
    expect(first?.status).toBe(429);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  test('killed API server: back off while it is down, recover after restart, nothing lost', async () => {
    const informer = make({ backoff: { initialMs: 100, maxMs: 800 } });
    const seen = record(informer);
    await put('before');
    informer.start();
    await informer.synced;
    await until('watching', async () => (await watches()).length === 1 && informer.connected());
    await api.stop('kill');
    await until('disconnected', () => !informer.connected());
    expect(informer.lastError).toBeTruthy();
    await Bun.sleep(2000);
    // Retries while down are spaced out (backoff), not a tight loop: a few per second at most.
    const retriesWhileDown = logLines.filter((l) => l.includes('failed, retrying')).length;
    expect(retriesWhileDown).toBeGreaterThanOrEqual(2);
    expect(retriesWhileDown).toBeLessThanOrEqual(12);
    await api.restart();
    await put('after');
    await until('recovered', () => seen.includes('added after 1') && informer.connected(), 8000);
    expect(informer.lastError).toBeUndefined();
    expect(seen.filter((s) => s === 'added before 1').length).toBe(1);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['after', 'before']);
  });

  test('SIGTERMed API server leaves the watch silent: the inactivity timeout reconnects', async () => {
    const informer = make({ inactivityMs: 600 });
    const seen = record(informer);
    await put('one');
    informer.start();
    await informer.synced;
    await until('watching', async () => (await watches()).length === 1 && informer.connected());
    const stopped = performance.now();
    await api.stop('term');
    await until('noticed the silence', () => !informer.connected(), 5000);
    expect(performance.now() - stopped).toBeLessThan(3000);
    await api.restart();
    await put('two');
    await until('recovered', () => seen.includes('added two 1') && informer.connected(), 8000);
    expect(seen).toEqual(['added one 1', 'added two 1']);
  });
});

describe('Informer: keep only what is read, in bounded pages', () => {
  let inf: Informer<Lease> | undefined;
  afterEach(async () => {
    await inf?.stop();
    inf = undefined;
  });
  /** Keeps a Lease's identity and holder: everything else (duration, times, managedFields, labels) goes. */
  const keepHolder = (raw: unknown): Lease | undefined => {
    const o = raw as Lease & { metadata: { managedFields?: unknown } };
    if (!o?.metadata?.name) return undefined;
    const { name, namespace, resourceVersion } = o.metadata;
    return { metadata: { name, namespace, resourceVersion }, spec: { holderIdentity: o.spec?.holderIdentity } };
  };
  const make = (opts: Partial<ConstructorParameters<typeof Informer<Lease>>[2]> = {}) =>
    (inf = new Informer<Lease>(client, path, { log, name: 'leases', backoff: { initialMs: 200, maxMs: 1000 }, transform: keepHolder, ...opts }));
  const withDuration = async (name: string, seconds: number) => {
    const existing = await api.get(ref(name));
    await api.update({ ...existing, spec: { ...existing.spec, leaseDurationSeconds: seconds } });
  };

  test('every object is stored as the transform cuts it, from each list page (of pageSize) and each watch event', async () => {
    for (let i = 0; i < 5; i++) await put(`p${i}`);
    const raw = await api.get(ref('p0'));
    expect(raw.metadata.managedFields).toBeArray();
    const informer = make({ pageSize: 2 });
    informer.start();
    await informer.synced;
    const pages = await lists();
    expect(pages.map((r) => [r.status, new URLSearchParams(r.query).get('limit'), new URLSearchParams(r.query).has('continue')])).toEqual([
      [200, '2', false], [200, '2', true], [200, '2', true],
    ]);
    expect(informer.get(`${ns}/p0`)).toEqual({ metadata: { name: 'p0', namespace: ns, resourceVersion: raw.metadata.resourceVersion }, spec: { holderIdentity: '1' } });
    await put('p5', '7');
    await until('p5 seen', () => informer.get(`${ns}/p5`) !== undefined);
    expect(Object.keys(informer.get(`${ns}/p5`)!.metadata).sort()).toEqual(['name', 'namespace', 'resourceVersion']);
    expect(informer.get(`${ns}/p5`)!.spec).toEqual({ holderIdentity: '7' });
  });

  test('an update that changes only fields the transform drops calls no handler; the stored resourceVersion follows it', async () => {
    await put('a');
    const informer = make();
    let calls = 0;
    informer.onChange(() => calls++);
    informer.start();
    await informer.synced;
    await until('watching', async () => (await watches()).length === 1 && informer.connected());
    expect(calls).toBe(1);
    await withDuration('a', 30);
    await withDuration('a', 45);
    const rv = (await api.get(ref('a'))).metadata.resourceVersion;
    await until('the new version stored', () => informer.get(`${ns}/a`)?.metadata.resourceVersion === rv);
    expect(calls).toBe(1);
    // a kept field: reported
    await put('a', '2');
    await until('the holder change reported', () => calls === 2);
    expect(informer.get(`${ns}/a`)?.spec?.holderIdentity).toBe('2');
  });

  test('a continue token that expires mid-list: the list starts over at once and the store gets one consistent view; a second expiry in a row backs off', async () => {
    for (let i = 0; i < 5; i++) await put(`c${i}`);
    await api.failNext(1, { status: 410, verbs: ['list'] });
    // a failure waits 500..1000 ms: far from an immediate restart even on a loaded machine
    const backoff = { initialMs: 1000, maxMs: 2000 };
    const informer = make({ pageSize: 2, backoff });
    const seen = record(informer);
    informer.start();
    await informer.synced;
    let pages = await lists();
    expect(pages.map((r) => [r.status, new URLSearchParams(r.query).has('continue')])).toEqual([
      [200, false], [410, true], [200, false], [200, true], [200, true],
    ]);
    // started over without a backoff delay
    expect(pages[2]!.at - pages[1]!.at).toBeLessThan(300);
    expect(seen.sort()).toEqual(['added c0 1', 'added c1 1', 'added c2 1', 'added c3 1', 'added c4 1']);
    expect(logLines.some((l) => l.includes('list continue token expired, listing again'))).toBe(true);
    await inf!.stop();

    // twice in a row: the second is a failure and backs off
    await api.failNext(2, { status: 410, verbs: ['list'] });
    const again = make({ pageSize: 2, backoff });
    const before = (await lists()).length;
    again.start();
    await again.synced;
    pages = (await lists()).slice(before);
    expect(pages.map((r) => r.status)).toEqual([200, 410, 200, 410, 200, 200, 200]);
    expect(pages[2]!.at - pages[1]!.at).toBeLessThan(300);
    expect(pages[4]!.at - pages[3]!.at).toBeGreaterThanOrEqual(490);
    expect(again.list()).toHaveLength(5);
  });

  test('select: refused objects are not stored and wake nobody; leaving the selection reports deleted, entering it added, in a watch and in a relist', async () => {
    // Selected: held by someone other than "idle".
    const select = (l: Lease) => l.spec?.holderIdentity !== 'idle';
    await put('in');
    await put('out', 'idle');
    const informer = make({ select });
    const seen = record(informer);
    informer.start();
    await informer.synced;
    await until('watching', async () => (await watches()).length === 1 && informer.connected());
    expect(informer.list().map((l) => l.metadata.name)).toEqual(['in']);
    expect(informer.get(`${ns}/out`)).toBeUndefined();
    // changes of an object outside the selection: nothing stored, nothing reported
    await withDuration('out', 30);
    await put('idle-too', 'idle');
    await put('leaves');
    await until('leaves seen', () => informer.get(`${ns}/leaves`) !== undefined);
    expect(seen).toEqual(['added in 1', 'added leaves 1']);
    // leaving and entering through the watch
    await put('leaves', 'idle');
    await put('out', '3');
    await until('out entered', () => informer.get(`${ns}/out`) !== undefined);
    expect(informer.get(`${ns}/leaves`)).toBeUndefined();
    expect(seen.slice(2)).toEqual(['deleted leaves idle', 'added out 3']);
    // the DELETED of an object never stored: nothing
    await remove('idle-too');
    // leaving and entering while the watch is down: the relist reports the same
    await api.failNext(2, { status: 503, verbs: ['watch'] });
    await api.dropWatches();
    await put('in', 'idle');
    await put('idle-too', '4');
    await api.compact();
    await until('relisted', async () => (await lists()).length === 2 && informer.get(`${ns}/idle-too`) !== undefined);
    expect(informer.list().map((l) => l.metadata.name).sort()).toEqual(['idle-too', 'out']);
    expect(seen.slice(4).sort()).toEqual(['added idle-too 4', 'deleted in 1']);
  });

  test('a relist keeps the very objects that did not change (no second copy), reports only the difference', async () => {
    for (const n of ['same-1', 'same-2', 'changes']) await put(n);
    const informer = make();
    const seen = record(informer);
    informer.start();
    await informer.synced;
    await until('watching', async () => (await watches()).length === 1 && informer.connected());
    const same1 = informer.get(`${ns}/same-1`);
    const changes = informer.get(`${ns}/changes`);
    await api.failNext(2, { status: 503, verbs: ['watch'] });
    await api.dropWatches();
    await put('changes', '2');
    await withDuration('same-2', 99); // a dropped field only: the relist keeps it and reports nothing
    await api.compact();
    await until('relisted', async () => (await lists()).length === 2 && informer.get(`${ns}/changes`)?.spec?.holderIdentity === '2');
    await Bun.sleep(200);
    expect(informer.get(`${ns}/same-1`)).toBe(same1!);
    expect(informer.get(`${ns}/changes`)).not.toBe(changes!);
    expect(informer.get(`${ns}/same-2`)?.metadata.resourceVersion).toBe((await api.get(ref('same-2'))).metadata.resourceVersion);
    expect(seen.slice(3)).toEqual(['modified changes 2']);
  });
});

describe('Informer: listAs, a list made of server-side selections', () => {
  interface Svc extends KubeObject {
    spec?: { type?: string };
  }
  const SELECTIONS = [{ fieldSelector: 'spec.type=LoadBalancer' }, { labelSelector: 'pool' }];
  const concerns = (s: Svc) => s.spec?.type === 'LoadBalancer' || s.metadata.labels?.pool !== undefined;
  let inf: Informer<Svc> | undefined;
  let api31: StandIn;
  let client31: KubeClient;
  beforeAll(async () => {
    api31 = await StandIn.start({ kubernetesVersion: '1.31' });
    const kubeconfig = join(dir, 'kubeconfig-131');
    api31.writeKubeconfig(kubeconfig, 'token');
    client31 = new KubeClient(new KubeHttp(loadKubeAccess({ kubeconfig, env: {} })));
  });
  afterEach(async () => {
    await inf?.stop();
    inf = undefined;
  });
  afterAll(async () => {
    await api31?.close();
  });
  const svc = (name: string, type: string, labels?: Record<string, string>): KubeObject =>
    ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, ...(labels ? { labels } : {}) }, spec: { type, ports: [{ port: 80 }] } }) as KubeObject;
  const servicesPath = () => `/api/v1/namespaces/${ns}/services`;
  const make = (c: KubeClient) => {
    inf = new Informer<Svc>(c, servicesPath(), { log, name: 'services', backoff: { initialMs: 100, maxMs: 500 }, select: concerns, listAs: SELECTIONS });
    const seen: string[] = [];
    inf.onChange((ev) => seen.push(`${ev.type} ${ev.object.metadata.name}`));
    return { informer: inf, seen };
  };
  const names = (i: Informer<Svc>) => i.list().map((s) => s.metadata.name).sort();
  /** This test's list requests as `status query`. */
  const listsOf = async (s: StandIn) => (await s.requests()).filter((r) => r.path === servicesPath() && r.method === 'GET' && !r.watch).map((r) => `${r.status} ${decodeURIComponent(r.query)}`);
  const withType = async (s: StandIn, name: string, type: string) => {
    const res = await s.fetch(`${servicesPath()}/${name}`, { method: 'PATCH', body: JSON.stringify({ spec: { type } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(res.status).toBe(200);
  };

  test('1.31: the LoadBalancers and the labelled Services of one snapshot, never the others; the watch still sees a Service enter and leave', async () => {
    await api31.create(svc('lb', 'LoadBalancer'));
    await api31.create(svc('lb-labelled', 'LoadBalancer', { pool: 'lan' }));
    await api31.create(svc('was-ours', 'ClusterIP', { pool: 'lan' }));
    await api31.create(svc('plain', 'ClusterIP'));
    const { informer, seen } = make(client31);
    informer.start();
    await informer.synced;
    expect(names(informer)).toEqual(['lb', 'lb-labelled', 'was-ours']);
    // one added each, the Service in both selections too
    expect(seen.sort()).toEqual(['added lb', 'added lb-labelled', 'added was-ours']);
    const made = await listsOf(api31);
    expect(made).toHaveLength(2);
    expect(made[0]).toStartWith('200 fieldSelector=spec.type=LoadBalancer&limit=');
    const rv = /resourceVersion=(\d+)/.exec(made[1]!)?.[1];
    expect(made[1]).toMatch(/^200 labelSelector=pool&limit=\d+&resourceVersion=\d+&resourceVersionMatch=Exact$/);
    expect(rv).toBeDefined();
    // the second selection was read at the first one's revision: the revision the watch resumes from
    await until('watching', async () => (await api31.requests()).some((r) => r.path === servicesPath() && r.watch && r.query.includes(`resourceVersion=${rv}`)));
    await withType(api31, 'plain', 'LoadBalancer');
    await withType(api31, 'lb', 'ClusterIP');
    await until('plain entered, lb left', () => informer.get(`${ns}/plain`) !== undefined && informer.get(`${ns}/lb`) === undefined);
    expect(seen.slice(3)).toEqual(['added plain', 'deleted lb']);
  });

  test('1.31: the first revision compacted before the second selection is read (410): the whole collection is listed instead, and a change meanwhile is not lost', async () => {
    await api31.create(svc('a', 'LoadBalancer'));
    await api31.create(svc('b', 'ClusterIP', { pool: 'lan' }));
    await api31.latency(400, { verbs: ['list'], resource: 'services' });
    try {
      const { informer } = make(client31);
      informer.start();
      await until('the first selection answered', async () => (await listsOf(api31)).length === 1, 5000);
      // the second selection is held at the server now: a change, then etcd compacts the revision it asks for
      await api31.create(svc('c', 'LoadBalancer'));
      await api31.compact();
      await informer.synced;
      expect(names(informer)).toEqual(['a', 'b', 'c']);
      const made = await listsOf(api31);
      expect(made.map((l) => l.split(' ')[0])).toEqual(['200', '410', '200']);
      expect(made[2]).toMatch(/^200 limit=\d+$/);
      expect(logLines.filter((l) => l.includes('listing the whole collection'))).toHaveLength(1);
    } finally {
      await api31.clearFaults();
    }
  });

  test('1.28: the selection is refused (400) and the whole collection listed instead, said once; a relist asks again', async () => {
    await api.create(svc('lb', 'LoadBalancer'));
    await api.create(svc('was-ours', 'ClusterIP', { pool: 'lan' }));
    await api.create(svc('plain', 'ClusterIP'));
    const { informer, seen } = make(client);
    informer.start();
    await informer.synced;
    expect(names(informer)).toEqual(['lb', 'was-ours']);
    expect(seen.sort()).toEqual(['added lb', 'added was-ours']);
    expect((await listsOf(api)).map((l) => l.replace(/limit=\d+/, 'limit=N'))).toEqual(['400 fieldSelector=spec.type=LoadBalancer&limit=N', '200 limit=N']);
    // a relist after the watch's version expired: the selection is tried again (a server upgraded meanwhile would serve it)
    await until('watching', async () => (await api.requests()).some((r) => r.path === servicesPath() && r.watch) && informer.connected());
    await api.failNext(1, { status: 503, verbs: ['watch'] });
    await api.dropWatches();
    await api.create(svc('lb-2', 'LoadBalancer'));
    await api.compact();
    await until('relisted', async () => (await listsOf(api)).length === 4 && informer.get(`${ns}/lb-2`) !== undefined);
    expect((await listsOf(api)).slice(2).map((l) => l.split(' ')[0])).toEqual(['400', '200']);
    expect(logLines.filter((l) => l.includes('listing the whole collection'))).toHaveLength(1);
  });
});
