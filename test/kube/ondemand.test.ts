/**
 * A collection watched only while something needs it (src/kube/ondemand.ts), against the stand-in: no
 * request while nothing needs it, a list and a watch from the first need, changes passed on, the watch ended
 * `lingerMs` after the last need went, and `synced` waiting for the list only when something needed it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { loadKubeAccess } from '../../src/kube/access.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { KubeHttp } from '../../src/kube/http.ts';
import { Informer, type InformerEvent, type KubeObject } from '../../src/kube/informer.ts';
import { OnDemandInformer } from '../../src/kube/ondemand.ts';
import { createLogger } from '../../src/log.ts';
import { StandIn } from '../support/kube/standin.ts';
import { waitFor } from '../support/netns.ts';
import { tempDir } from '../support/tmp.ts';

let api: StandIn;
let client: KubeClient;
let seq = 0;
let ns: string;
let path: string;
let od: OnDemandInformer<KubeObject> | undefined;
const log = createLogger({ level: 'error', format: 'json' }, () => {});
const DIR = tempDir('l2lb-ondemand-');

const lease = (name: string, holder = '1') => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: ns }, spec: { holderIdentity: holder } });
const requests = async () => (await api.requests()).filter((r) => r.path === path && r.method === 'GET');

function make(after: Promise<void>, lingerMs = 300, onComplete?: () => void): OnDemandInformer<KubeObject> {
  od = new OnDemandInformer<KubeObject>(() => new Informer<KubeObject>(client, path, { log, name: 'leases', inactivityMs: 5000 }), { name: 'leases', after, lingerMs, ...(onComplete ? { onComplete } : {}) });
  return od;
}

beforeAll(async () => {
  api = await StandIn.start();
  const kubeconfig = join(DIR, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, 'token');
  client = new KubeClient(new KubeHttp(loadKubeAccess({ kubeconfig, env: {} })));
});
afterEach(async () => {
  await od?.stop();
  od = undefined;
});
afterAll(async () => {
  await api?.close();
});

describe('OnDemandInformer', () => {
  test('nothing needs it: no request, synced once the needs are known, an empty complete view', async () => {
    ns = `od-${++seq}`;
    path = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
    await api.create(lease('x'));
    let release!: () => void;
    const o = make(new Promise((r) => (release = r)));
    o.start();
    await Bun.sleep(100);
    expect(o.hasSynced()).toBe(false);
    release();
    await o.synced;
    expect(o.hasSynced()).toBe(true);
    expect(o.complete()).toBe(true);
    expect(o.watching()).toBe(false);
    expect(o.list()).toEqual([]);
    await Bun.sleep(100);
    expect(await requests()).toEqual([]);
  });

  test('a need known before the gate: synced waits for the list; changes are passed on', async () => {
    ns = `od-${++seq}`;
    path = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
    await api.create(lease('a'));
    await api.latency(300, { verbs: ['list'], resource: 'leases' });
    let release!: () => void;
    const o = make(new Promise((r) => (release = r)));
    const seen: string[] = [];
    o.onChange((ev: InformerEvent<KubeObject>) => seen.push(`${ev.type} ${ev.object.metadata.name}`));
    o.start();
    o.need('svc-1', true);
    release();
    await Bun.sleep(100);
    expect(o.hasSynced()).toBe(false);
    expect(o.complete()).toBe(false);
    await o.synced;
    await api.clearFaults();
    expect(o.complete()).toBe(true);
    expect(o.list().map((x) => x.metadata.name)).toEqual(['a']);
    await api.create(lease('b'));
    await waitFor('b passed on', () => seen.includes('added b') || undefined, 3000, 10);
    expect(seen).toEqual(['added a', 'added b']);
  });

  test('the first need after the start lists and watches; onComplete once listed; the last need gone ends the watch after lingerMs, a need within it keeps the same watch', async () => {
    ns = `od-${++seq}`;
    path = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
    await api.create(lease('a'));
    let completed = 0;
    const o = make(Promise.resolve(), 400, () => completed++);
    o.start();
    await o.synced;
    expect(await requests()).toEqual([]);

    await api.latency(200, { verbs: ['list'], resource: 'leases' });
    o.need('svc-1', true);
    o.need('svc-2', true);
    expect(o.watching()).toBe(true);
    expect(o.complete()).toBe(false);
    // readiness does not drop while a watch started later lists
    expect(o.hasSynced()).toBe(true);
    await waitFor('complete', () => o.complete() || undefined, 3000, 10);
    await api.clearFaults();
    await waitFor('onComplete', () => completed === 1 || undefined, 1000, 5);
    expect(o.list().map((x) => x.metadata.name)).toEqual(['a']);
    await waitFor('watching', async () => (await requests()).some((r) => r.watch) || undefined, 3000, 10);

    o.need('svc-1', false);
    o.need('svc-2', false);
    await Bun.sleep(200);
    o.need('svc-2', true); // within the linger: the same watch goes on
    await Bun.sleep(400);
    expect(o.watching()).toBe(true);
    expect((await requests()).filter((r) => !r.watch)).toHaveLength(1);

    o.need('svc-2', false);
    await waitFor('the watch ended', () => !o.watching() || undefined, 2000, 10);
    expect(o.list()).toEqual([]);
    expect(o.complete()).toBe(true);
    expect(completed).toBe(1);
  });
});
