/**
 * The client under API server faults (issue 11, point 7), against the HTTPS stand-in: a token rotated on
 * disk (the 401 reads it again at once and the request is sent once more), a TLS handshake that hangs (the
 * request timeout covers it, the informer backs off with jitter and recovers when handshakes go through),
 * a watch that goes silent while the server works (given up after inactivityMs, resumed from its
 * resourceVersion without a relist), throttling answered in plain text (APF), and every failure counted by
 * resource and reason for the metrics.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KubeAccess, loadKubeAccess } from '../../src/kube/access.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { KubeApiError, KubeHttp } from '../../src/kube/http.ts';
import { Informer, type KubeObject } from '../../src/kube/informer.ts';
import { createLogger } from '../../src/log.ts';
import { StandIn } from '../support/kube/standin.ts';
import { waitFor } from '../support/netns.ts';
import { tempDir } from '../support/tmp.ts';

setDefaultTimeout(30_000);

let api: StandIn;
let access: KubeAccess;
const dir = tempDir('l2lb-faults-');
const log = createLogger({ level: 'error', format: 'json' }, () => {});
const informers: Informer<KubeObject>[] = [];
let seq = 0;

beforeAll(async () => {
  api = await StandIn.start();
  const kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, 'cert');
  access = loadKubeAccess({ kubeconfig, env: {} });
});
afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
  await api.clearFaults();
});
afterAll(async () => {
  await api?.close();
});

/**
 * A client whose connections are its own: Bun pools connections per TLS configuration, and a certificate
 * of its own gives this client a pool no earlier test filled, so a hanging handshake really is met.
 */
function freshClient(timeoutMs?: number): KubeClient {
  const cert = api.issueClientCert(`faults-${++seq}`, ['system:masters']);
  return new KubeClient(new KubeHttp({ ...access, certPem: cert.certPem, keyPem: cert.keyPem }), timeoutMs ? { timeoutMs } : {});
}

/** A namespace of its own and the Lease collection in it (the informers below watch Leases). */
async function leases(): Promise<{ ns: string; path: string; put: (name: string) => Promise<KubeObject> }> {
  const ns = `faults-${++seq}`;
  await api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  return {
    ns,
    path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
    put: (name): Promise<KubeObject> => api.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: ns }, spec: {} }),
  };
}

describe('a token rotated on disk', () => {
  test('the 401 to the old token reads the file again at once (not after its cache time) and the request is answered', async () => {
    const tokenFile = join(dir, 'token');
    const kubeconfig = join(dir, 'kubeconfig-token-file');
    api.writeKubeconfig(kubeconfig, 'token-file', { tokenFile });
    // A cache far longer than the test: only the 401 can make the client look at the file again.
    const http = new KubeHttp(loadKubeAccess({ kubeconfig, env: {}, tokenCacheMs: 3_600_000 }));
    const client = new KubeClient(http);
    const path = '/api/v1/namespaces/default';
    expect((await client.get<KubeObject>(path)).metadata.name).toBe('default');

    const { previous, token } = await api.rotateToken();
    writeFileSync(tokenFile, `${token}\n`);
    await api.revokeToken(previous);
    const since = Date.now();
    expect((await client.get<KubeObject>(path)).metadata.name).toBe('default');
    const log = (await api.requests()).filter((r) => r.at >= since && r.path === path).map((r) => `${r.status} ${r.user}`);
    expect(log).toEqual(['401 ', '200 system:serviceaccount:l2lb-system:l2lb']);
    expect(http.stats.failures.get('namespaces')?.get('401')).toBe(1);
  });

  test('a 401 that a fresh read does not cure is answered as it is, after one read and no second request', async () => {
    const tokenFile = join(dir, 'token-stale');
    const kubeconfig = join(dir, 'kubeconfig-stale');
    api.writeKubeconfig(kubeconfig, 'token-file', { tokenFile });
    const client = new KubeClient(new KubeHttp(loadKubeAccess({ kubeconfig, env: {} })));
    const { previous } = await api.rotateToken();
    await api.revokeToken(previous); // the file still holds the revoked token
    const since = Date.now();
    const err = await client.get('/api/v1/namespaces/kube-system').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(401);
    expect((await api.requests()).filter((r) => r.at >= since && r.path === '/api/v1/namespaces/kube-system')).toHaveLength(1);
  });
});

describe('a TLS handshake that hangs', () => {
  test('a request gives up after its timeout; a watch after the request timeout, not after inactivityMs; both are timeouts', async () => {
    const client = freshClient(400);
    await api.hangHandshakes();
    let t0 = performance.now();
    const got = await client.get('/api/v1/namespaces/default').catch((e: unknown) => e);
    expect((got as Error).name).toBe('TimeoutError');
    expect(performance.now() - t0).toBeLessThan(1500);
    t0 = performance.now();
    const watched = await client.watch('/api/v1/services', { resourceVersion: '1', signal: new AbortController().signal, inactivityMs: 10_000 }, () => undefined).catch((e: unknown) => e);
    // Not `{ end: 'inactive' }`: a watch that never got an answer failed, and its caller backs off.
    expect((watched as Error).name).toBe('TimeoutError');
    expect((watched as Error).message).toContain('no answer to the watch within 400 ms');
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(Object.fromEntries(client.http.stats.failures.get('namespaces')!)).toEqual({ timeout: 1 });
    expect(Object.fromEntries(client.http.stats.failures.get('services')!)).toEqual({ timeout: 1 });
  });

  test('a watch takes a connection of its own: reconnecting into hung handshakes leaves the warm connection to short requests (the Lease)', async () => {
    const client = freshClient(800);
    await client.get('/api/v1/namespaces/default'); // one warm connection, idle in the pool
    await api.hangHandshakes();
    const stop = new AbortController();
    const watching = client.watch('/api/v1/services', { resourceVersion: '1', signal: stop.signal }, () => undefined).catch((e: unknown) => e);
    await Bun.sleep(100);
    const [ns, ms] = await (async () => {
      const t0 = performance.now();
      const got = await client.get<KubeObject>('/api/v1/namespaces/default');
      return [got, performance.now() - t0] as const;
    })();
    expect(ns.metadata.name).toBe('default');
    expect(ms).toBeLessThan(400);
    // the watch itself is the one in the hanging handshake
    expect(((await watching) as Error).name).toBe('TimeoutError');
    stop.abort();
  });

  test('an informer cut off by it backs off with jitter, keeps its objects, and catches up without a restart once handshakes go through', async () => {
    const { ns, path, put } = await leases();
    await put('before');
    const client = freshClient(300);
    const inf = new Informer<KubeObject>(client, path, { log, name: 'hang', backoff: { initialMs: 100, maxMs: 800 }, inactivityMs: 10_000 });
    informers.push(inf);
    inf.start();
    await inf.synced;
    // The stand-in logs a watch as it registers it: only a registered watch is dropped below.
    await waitFor('watching', async () => (await api.requests()).some((r) => r.path === path && r.watch), 3000);
    await api.hangHandshakes();
    await api.dropWatches(); // the watch must connect again, into the hanging handshake
    const delays: number[] = [];
    const started = performance.now();
    while (performance.now() - started < 3000) {
      const r = client.http.stats.retries.get('hang');
      if (r && r.count > delays.length) delays.push(r.lastDelayMs);
      await Bun.sleep(20);
    }
    expect(inf.connected()).toBe(false);
    expect(inf.list().map((o) => o.metadata.name)).toEqual(['before']);
    // Each attempt waits 300 ms for its handshake, then a growing, jittered pause: a handful, not a storm.
    expect(delays.length).toBeGreaterThanOrEqual(3);
    expect(delays.length).toBeLessThanOrEqual(8);
    const ceilings = delays.map((_, i) => Math.min(800, 100 * 2 ** i));
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(ceilings[i]! / 2);
      expect(d).toBeLessThanOrEqual(ceilings[i]!);
    });
    // jitter: the delays are not one fixed fraction of their ceilings
    expect(new Set(delays.map((d, i) => (d / ceilings[i]!).toFixed(3))).size).toBeGreaterThan(1);
    expect(client.http.stats.failures.get('leases')?.get('timeout')).toBeGreaterThanOrEqual(3);
    expect(client.http.stats.watchEnds.get('hang')?.get('failed')).toBeGreaterThanOrEqual(3);

    await api.clearFaults();
    await put('after');
    await waitFor('the informer to catch up', () => inf.connected() && inf.get(`${ns}/after`) !== undefined, 5000);
    expect(inf.list().map((o) => o.metadata.name).sort()).toEqual(['after', 'before']);
  });
});

describe('a watch that goes silent while the server works', () => {
  test('is given up after inactivityMs and resumed from its resourceVersion: nothing lost, no relist', async () => {
    const { ns, path, put } = await leases();
    const client = freshClient();
    const inf = new Informer<KubeObject>(client, path, { log, name: 'silent', inactivityMs: 700 });
    const seen: string[] = [];
    inf.onChange((ev) => seen.push(`${ev.type} ${ev.object.metadata.name}`));
    informers.push(inf);
    inf.start();
    await inf.synced;
    await waitFor('watching', () => inf.connected(), 3000);
    const first = await put('one');
    await waitFor('one', () => seen.includes('added one'), 3000);
    const since = Date.now();
    expect(await api.silenceWatches()).toBeGreaterThanOrEqual(1);
    const t0 = performance.now();
    await put('two');
    await waitFor('two, through a new watch', () => seen.includes('added two'), 5000);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(500); // the silent watch did not deliver it
    expect(took).toBeLessThan(2500);
    expect(seen).toEqual(['added one', 'added two']);
    const requests = (await api.requests()).filter((r) => r.at >= since && r.path === path);
    expect(requests.filter((r) => !r.watch)).toEqual([]); // no relist
    const resumed = requests.find((r) => r.watch);
    expect(new URLSearchParams(resumed!.query).get('resourceVersion')).toBe(first.metadata.resourceVersion ?? 'missing');
    expect(client.http.stats.watchEnds.get('silent')?.get('inactive')).toBeGreaterThanOrEqual(1);
    expect(inf.get(`${ns}/two`)).toBeDefined();
  });
});

describe('throttling and server errors', () => {
  test('APF\'s plain-text 429 carries its Retry-After into the error; 429 and 5xx are counted by resource and reason', async () => {
    const client = freshClient();
    await api.failNext(1, { status: 429, apf: true, verbs: ['get'] });
    const throttled = await client.get('/api/v1/namespaces/default').catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(KubeApiError);
    expect((throttled as KubeApiError).status).toBe(429);
    expect((throttled as KubeApiError).retryAfterMs).toBe(1000);
    expect((throttled as KubeApiError).message).toContain('Too many requests, please try again later.');
    await api.failNext(1, { status: 429, verbs: ['list'] });
    await api.failNext(2, { status: 503, verbs: ['list'] });
    for (let i = 0; i < 3; i++) await client.list('/api/v1/nodes').catch(() => undefined);
    await client.list('/api/v1/nodes');
    expect(Object.fromEntries(client.http.stats.failures.get('namespaces')!)).toEqual({ '429': 1 });
    expect(Object.fromEntries(client.http.stats.failures.get('nodes')!)).toEqual({ '429': 1, '5xx': 2 });
    // the protocol's own answers are no failures
    await client.get('/api/v1/namespaces/default/services/absent').catch(() => undefined);
    expect(client.http.stats.failures.get('services')).toBeUndefined();
  });
});
