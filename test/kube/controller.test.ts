/**
 * The Kubernetes controller against the HTTPS API server stand-in (client certificate auth): addresses are
 * allocated from Eip and config pools, written to Service status with optimistic concurrency, Events and Eip
 * status follow, and nothing is lost across 409s, dropped watches, 410s, restarts of l2lb or of the server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';

setDefaultTimeout(30_000);
import { join } from 'node:path';
import { StandIn } from '../support/kube/standin.ts';
import { waitFor } from '../support/netns.ts';
import { type ControllerIO, ServiceController } from '../../src/kube/controller.ts';
import { parseIP } from '../../src/net/ip.ts';
import { parseCIDR } from '../../src/net/range.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { KubeHttp } from '../../src/kube/http.ts';
import { loadKubeAccess } from '../../src/kube/access.ts';
import { DEFAULT_CONFIG, type Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log.ts';
import type { DesiredVip } from '../../src/announce/announcer.ts';
import { ProxyHealthChecker } from '../../src/kube/proxyhealth.ts';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tempDir } from '../support/tmp.ts';

let api: StandIn;
const cleanups: (() => unknown)[] = [];
let kubeconfig: string;
const controllers: ServiceController[] = [];
let announced: DesiredVip[] = [];

function config(over: Partial<Config> = {}): Config {
  // `self`: no Node objects here; node selection has tests of its own.
  return { ...DEFAULT_CONFIG, mode: 'kubernetes', kubernetes: { ...DEFAULT_CONFIG.kubernetes, announce: 'leader' }, ...over } as Config;
}

/** A controller against the stand-in `kc` (default: the file's) names; stopped after each test. */
function startController(cfg = config(), io: Partial<ControllerIO> = {}, kc = kubeconfig, opts: { sliceMs?: number } = {}): ServiceController {
  const access = loadKubeAccess({ kubeconfig: kc, env: {} });
  const c = new ServiceController(new KubeClient(new KubeHttp(access)), cfg, createLogger({ level: 'error', format: 'json' }, () => {}), {
    announce: (v) => {
      announced = v;
    },
    ...io,
  }, opts);
  c.start();
  controllers.push(c);
  return c;
}

let seq = 0;
function service(name: string, opts: { ns?: string; annotations?: Record<string, string>; class?: string; type?: string; families?: string[]; policy?: string; ports?: number[] } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: opts.ns ?? 'default', annotations: opts.class ? opts.annotations : { 'lb.kubesphere.io/v1alpha1': 'openelb', ...opts.annotations } },
    spec: {
      type: opts.type ?? 'LoadBalancer',
      ...(opts.class ? { loadBalancerClass: opts.class } : {}),
      ...(opts.families ? { ipFamilies: opts.families } : {}),
      ...(opts.policy ? { ipFamilyPolicy: opts.policy } : {}),
      ports: (opts.ports ?? [80]).map((port) => ({ port, protocol: 'TCP' })),
    },
  };
}

/** An Eip; the default pool unless `annotations` says otherwise (a pool neither default nor bound serves only Services that name it). */
function eip(name: string, address: string, extra: Record<string, unknown> = {}, annotations: Record<string, string> = { 'eip.openelb.kubesphere.io/is-default-eip': 'true' }) {
  return { apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', metadata: { name, annotations }, spec: { address, protocol: 'layer2', ...extra } };
}

const svcRef = (name: string, ns = 'default') => ({ apiVersion: 'v1', kind: 'Service', namespace: ns, name });
const eipRef = (name: string) => ({ apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', name });

async function ingress(name: string, ns = 'default', on = api): Promise<string[]> {
  const s = await on.get(svcRef(name, ns));
  return (s?.status?.loadBalancer?.ingress ?? []).map((i: { ip: string }) => i.ip);
}

async function events(name: string, ns = 'default', on = api): Promise<{ reason: string; message: string; type: string }[]> {
  return (await on.list('v1', 'Event', ns)).filter((e: { involvedObject: { name: string } }) => e.involvedObject.name === name);
}

// Made at file level: its removal then comes after the whole file, not after the first describe block.
const KUBECONFIG_DIR = tempDir('l2lb-ctl-');

beforeAll(async () => {
  api = await StandIn.start();
  kubeconfig = join(KUBECONFIG_DIR, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, 'cert');
  await api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { pool: 'a' } } });
});

afterEach(async () => {
  while (controllers.length) await controllers.pop()!.stop();
  for (const s of await api.list('v1', 'Service')) await api.remove(svcRef(s.metadata.name, s.metadata.namespace));
  for (const e of await api.list('network.kubesphere.io/v1alpha2', 'Eip')) await api.remove(eipRef(e.metadata.name));
  for (const n of await api.list('v1', 'Node')) await api.remove({ apiVersion: 'v1', kind: 'Node', name: n.metadata.name });
  while (cleanups.length) await cleanups.pop()!();
  announced = [];
});

afterAll(async () => {
  await api?.close();
});

describe('ServiceController', () => {
  test('a Service gets an address; label, Events, Eip status and the announcer follow', async () => {
    await api.create(eip('lan', '192.0.2.0/29'));
    await api.create(service(`web${++seq}`));
    const name = `web${seq}`;
    startController();
    await waitFor('ingress', async () => (await ingress(name)).length === 1, 5000);
    expect(await ingress(name)).toEqual(['192.0.2.1']); // network address skipped
    const svc = await api.get(svcRef(name));
    expect(svc.metadata.labels['eip.openelb.kubesphere.io/v1alpha2']).toBe('lan');
    await waitFor('AssignIP event', async () => (await events(name)).some((e) => e.reason === 'AssignIP'), 3000);
    expect((await events(name)).find((e) => e.reason === 'AssignIP')!.message).toContain('192.0.2.1 from pool lan');
    await waitFor('eip status', async () => (await api.get(eipRef('lan')))?.status?.usage === 1, 3000);
    const st = (await api.get(eipRef('lan'))).status;
    expect(st).toMatchObject({ poolSize: 6, usage: 1, used: { '192.0.2.1': `default/${name}` }, firstIP: '192.0.2.1', lastIP: '192.0.2.6', ready: true, v4: true, occupied: false });
    expect(announced.map((v) => v.ip)).toEqual(['192.0.2.1']);
    // status written only through the status subresource
    const writes = (await api.requests()).filter((r) => r.method === 'PATCH' && r.path.includes(`/services/${name}`));
    expect(writes.some((r) => r.path.endsWith('/status'))).toBe(true);
  });

  test('a full pool gives AssignIPFailed with an actionable reason; deleting a Service frees its address', async () => {
    await api.create(eip('tiny', '198.51.100.10-198.51.100.11'));
    await api.create(service('a1'));
    await api.create(service('a2'));
    startController();
    await waitFor('two addresses', async () => (await ingress('a1')).length === 1 && (await ingress('a2')).length === 1, 5000);
    await api.create(service('a3'));
    await waitFor('AssignIPFailed', async () => (await events('a3')).some((e) => e.reason === 'AssignIPFailed'), 3000);
    const ev = (await events('a3')).find((e) => e.reason === 'AssignIPFailed')!;
    expect(ev.message).toBe('pool tiny is full (2/2)');
    expect(ev.type).toBe('Warning');
    await api.remove(svcRef('a1'));
    await waitFor('a3 gets the freed address', async () => (await ingress('a3')).length === 1, 3000);
    await waitFor('eip used updated', async () => {
      const used = (await api.get(eipRef('tiny'))).status?.used ?? {};
      return Object.values(used).sort().join() === 'default/a2,default/a3';
    }, 3000);
  });

  test('Services of another class are never touched; one that stops being ours is released', async () => {
    await api.create(eip('lan', '192.0.2.0/29'));
    await api.create(service('other', { class: 'example.com/other' }));
    await api.create(service('mine'));
    startController();
    await waitFor('mine assigned', async () => (await ingress('mine')).length === 1, 5000);
    const other = await api.get(svcRef('other'));
    expect(other.metadata.labels?.['eip.openelb.kubesphere.io/v1alpha2']).toBeUndefined();
    expect(other.status?.loadBalancer?.ingress ?? []).toEqual([]);
    expect((await api.requests()).some((r) => r.method !== 'GET' && r.path.includes('/services/other'))).toBe(false);
    const mine = await api.get(svcRef('mine'));
    mine.spec.type = 'ClusterIP';
    await api.update(mine);
    await waitFor('released', async () => (await ingress('mine')).length === 0, 3000);
    await waitFor('ReleaseIP', async () => (await events('mine')).some((e) => e.reason === 'ReleaseIP'), 3000);
    expect((await api.get(svcRef('mine'))).metadata.labels?.['eip.openelb.kubesphere.io/v1alpha2']).toBeUndefined();
  });

  test('one of ours turned ClusterIP while no l2lb ran: at start its label comes off and the release is said once, with the address the Eip recorded', async () => {
    await api.create(eip('lan', '192.0.2.0/29'));
    await api.create(service('gone'));
    // Labelled with a pool that is not one of ours: not ours to touch.
    const foreign = service('foreign', { type: 'ClusterIP' });
    await api.create({ ...foreign, metadata: { ...foreign.metadata, labels: { 'eip.openelb.kubesphere.io/v1alpha2': 'elsewhere' } } });
    const first = startController();
    await waitFor('gone assigned', async () => (await ingress('gone')).length === 1, 5000);
    const [ip] = await ingress('gone');
    await waitFor('the Eip records it', async () => (await api.get(eipRef('lan'))).status?.used?.[ip!] === 'default/gone', 3000);
    await first.stop();
    controllers.splice(controllers.indexOf(first), 1);
    const gone = await api.get(svcRef('gone'));
    gone.spec.type = 'ClusterIP';
    await api.update(gone);
    // The server cleared the address; our label stays, and nothing in a new process knows it was ours.
    expect(await ingress('gone')).toEqual([]);
    expect((await api.get(svcRef('gone'))).metadata.labels?.['eip.openelb.kubesphere.io/v1alpha2']).toBe('lan');
    // Slow writes, and other Services arriving meanwhile: passes run while the release is still on its way.
    await api.latency(400, { verbs: ['patch'] });
    const second = startController();
    await waitFor('the release write started', () => second.counts.statusWrites > 0, 5000, 10);
    for (let i = 0; i < 3; i++) {
      await api.create(service(`later${i}`));
      await Bun.sleep(120);
    }
    await api.clearFaults();
    await waitFor('the label off', async () => (await api.get(svcRef('gone'))).metadata.labels?.['eip.openelb.kubesphere.io/v1alpha2'] === undefined, 5000);
    await waitFor('the Eip no longer gives it to gone', async () => (await api.get(eipRef('lan'))).status?.used?.[ip!] !== 'default/gone', 3000);
    await second.settled();
    await Bun.sleep(300);
    const released = (await events('gone')).filter((e) => e.reason === 'ReleaseIP');
    expect(released.map((e) => e.message)).toEqual([`released ${ip}: the Service is no longer ours (not a LoadBalancer, or of another class)`]);
    expect((await api.requests()).some((r) => r.method !== 'GET' && r.path.includes('/services/foreign'))).toBe(false);
  });

  test('a pass lets the event loop run between its steps: a config that arrives meanwhile is taken after it, a stop meanwhile writes nothing more', async () => {
    await api.create(eip('lan', '192.0.2.0/27'));
    const ours = DEFAULT_CONFIG.kubernetes.loadBalancerClass;
    for (let i = 0; i < 12; i++) await api.create(service(`step${i}`, { class: ours }));
    // sliceMs 0: every step of a pass is a turn of the event loop, as at 10,000 Services.
    let c: ServiceController | undefined;
    let turns = 0;
    const seenMidPass: number[] = [];
    // Arrives during the first pass: from then on none of the twelve is ours.
    const toOther = config({ kubernetes: { ...config().kubernetes, loadBalancerClass: 'example.com/other' } });
    c = startController(config(), {
      // Watch events renew the grant too: only a pass's turns count here.
      alive: () => {
        if (c!.counts.reconciles === 0) return;
        turns++;
        if (turns === 1) c!.setConfig(toOther);
        // What the API shows while the first pass goes on: the Services of the config it started with.
        if (c!.passes.count === 0) seenMidPass.push(c!.serviceViews().length);
      },
    }, kubeconfig, { sliceMs: 0 });
    await waitFor('a pass with each config', () => c!.passes.count >= 2, 5000, 10);
    await c.settled();
    expect(turns).toBeGreaterThan(5);
    expect(seenMidPass.length).toBeGreaterThan(1);
    expect(seenMidPass.every((n) => n === 12)).toBe(true);
    expect(c.serviceViews()).toEqual([]);
    await c.stop();
    controllers.splice(controllers.indexOf(c), 1);

    // A second controller stopped at its first turn (after allocation, before any write): nothing written.
    await api.create(service('late'));
    const before = (await api.requests()).length;
    const stopped = startController(config(), {
      alive: () => {
        if (stopped.counts.reconciles > 0) void stopped.stop();
      },
    }, kubeconfig, { sliceMs: 0 });
    await waitFor('its first pass began', () => stopped.counts.reconciles > 0, 5000, 10);
    await Bun.sleep(300);
    expect(await ingress('late')).toEqual([]);
    expect((await api.requests()).slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
  });

  test('a Service that cannot concern us (no LoadBalancer, not labelled by us) starts no pass; once a LoadBalancer, it is served', async () => {
    await api.create(eip('lan', '192.0.2.0/29'));
    for (let i = 0; i < 3; i++) await api.create(service(`cip${i}`, { type: 'ClusterIP' }));
    await api.create(service('lb'));
    const c = startController();
    await waitFor('lb assigned', async () => (await ingress('lb')).length === 1, 5000);
    await c.settled();
    await Bun.sleep(300);
    const passes = c.counts.reconciles;
    // ClusterIP Services come, change and go: nobody is woken
    for (let i = 3; i < 6; i++) await api.create(service(`cip${i}`, { type: 'ClusterIP' }));
    const cip0 = await api.get(svcRef('cip0'));
    cip0.metadata.labels = { app: 'changed' };
    await api.update(cip0);
    await api.remove(svcRef('cip2'));
    await Bun.sleep(500);
    expect(c.counts.reconciles).toBe(passes);
    // entering the selection: a new LoadBalancer like any other
    const cip = await api.get(svcRef('cip1'));
    cip.spec.type = 'LoadBalancer';
    await api.update(cip);
    await waitFor('cip1 assigned', async () => (await ingress('cip1')).length === 1, 5000);
    expect(c.counts.reconciles).toBeGreaterThan(passes);
    expect(c.serviceViews().map((v) => v.service)).toEqual(['default/cip1', 'default/lb']);
  });

  test('a pass started by what allocation does not read reuses its results; a change of what it reads allocates again', async () => {
    await api.create(eip('lan', '192.0.2.0/29'));
    await api.create(service('one'));
    let own = '192.0.2.6';
    const c = startController(config(), { host: () => ({ own: [parseIP(own)!], ownedBy: new Map([[own, 'configured on eth0']]), subnets: [] }) });
    await waitFor('one assigned', async () => (await ingress('one')).length === 1, 5000);
    await c.settled();
    await Bun.sleep(300);
    // Our own write, seen on the watch, changed the Service: the next pass allocates once more.
    c.onProbe([]);
    await c.settled();
    const first = await ingress('one');
    let allocations = c.counts.allocations;
    const passes = c.counts.reconciles;
    // Probe results and instances heard start passes; allocation reads neither.
    c.onProbe([]);
    await c.settled();
    c.onMembers();
    await c.settled();
    expect(c.counts.reconciles).toBeGreaterThan(passes);
    expect(c.counts.allocations).toBe(allocations);
    expect(await ingress('one')).toEqual(first);
    // Each input of allocation, changed: a new Service, a Namespace's labels, an Eip, this host's address, the config.
    const again = async (what: string, change: () => Promise<unknown> | void) => {
      await change();
      await waitFor(`allocated again after ${what}`, () => c.counts.allocations > allocations, 5000, 10);
      await c.settled();
      allocations = c.counts.allocations;
    };
    await again('a new Service', () => api.create(service('two')));
    await waitFor('two assigned', async () => (await ingress('two')).length === 1, 5000);
    await c.settled();
    allocations = c.counts.allocations;
    await again('a Namespace labelled', async () => {
      const ns = await api.get({ apiVersion: 'v1', kind: 'Namespace', name: 'default' });
      ns.metadata.labels = { ...ns.metadata.labels, team: 'a' };
      await api.update(ns);
    });
    await again('an Eip', () => api.create(eip('more', '192.0.2.16/29', {}, {})));
    await again('this host\'s address', () => {
      own = '192.0.2.5';
      c.onProbe([]);
    });
    await again('the config', () => c.setConfig(config()));
    expect(await ingress('one')).toEqual(first);
  });

  test('Events decided before the Lease is won are emitted once leading (first pass as a standby)', async () => {
    await api.create(eip('pair', '192.0.2.8/30', {}, {}));
    await api.create(service('early', { annotations: { 'eip.openelb.kubesphere.io/v1alpha2': 'pair' } }));
    // Asks for an address outside every pool: fails whatever happens.
    await api.create(service('wrong', { annotations: { 'eip.openelb.kubesphere.io/v1alpha1': '203.0.113.77' } }));
    const c = startController();
    c.setLeader(false);
    await waitFor('the standby computed its first pass', () => c.serviceViews().filter((v) => v.state !== 'pending').length === 2, 5000);
    await c.settled();
    expect(await events('early')).toEqual([]);
    expect(await ingress('early')).toEqual([]);
    c.setLeader(true);
    await waitFor('AssignIP', async () => (await events('early')).some((e) => e.reason === 'AssignIP'), 5000);
    await waitFor('AssignIPFailed', async () => (await events('wrong')).some((e) => e.reason === 'AssignIPFailed'), 5000);
    expect(await ingress('early')).toEqual(['192.0.2.9']);
    await c.settled();
    // Once each, not again on later passes.
    expect((await events('early')).filter((e) => e.reason === 'AssignIP')).toHaveLength(1);
    expect((await events('wrong')).filter((e) => e.reason === 'AssignIPFailed')).toHaveLength(1);
  });

  test("pools skip this host's addresses and its subnet's broadcast, say so in the view and on the Eip; an Eip of multicast is reported, not used", async () => {
    const uids = new Set([
      (await api.create(eip('lan', '192.0.2.252-192.0.2.255'))).metadata.uid,
      (await api.create(eip('mc', '224.0.0.0/24', {}, {}))).metadata.uid,
    ]);
    // Events about these two Eips (others named alike in earlier tests have other uids).
    const eipEvents = async () => (await api.list('v1', 'Event', 'default')).filter((e: { involvedObject: { uid: string } }) => uids.has(e.involvedObject.uid));
    for (let i = 0; i < 3; i++) await api.create(service(`skip${i}`));
    const c = startController(config(), {
      host: () => ({ own: [parseIP('192.0.2.253')!], ownedBy: new Map([['192.0.2.253', 'configured on eth0']]), subnets: [parseCIDR('192.0.2.1/24')!] }),
    });
    await waitFor('two assigned, one failed', () => c.serviceViews().filter((v) => v.state !== 'pending').length === 3, 5000);
    await c.settled();
    const got = (await Promise.all([0, 1, 2].map((i) => ingress(`skip${i}`)))).flat().sort();
    expect(got).toEqual(['192.0.2.252', '192.0.2.254']);
    const pools = c.poolViews();
    expect(pools.find((p) => p.name === 'lan')).toMatchObject({ size: '2', used: 2, usable: true });
    expect(pools.find((p) => p.name === 'lan')!.skipped).toContain('192.0.2.253 already belongs to a host on the segment (configured on eth0)');
    expect(pools.find((p) => p.name === 'lan')!.skipped).toContain('192.0.2.255 is the broadcast address of a connected subnet 192.0.2.0/24');
    expect(pools.find((p) => p.name === 'mc')).toMatchObject({ usable: false, problem: 'every address of 224.0.0.1-224.0.0.254 is in 224.0.0.0/4 (multicast)' });
    const onEips = await eipEvents();
    expect(onEips.map((e: { involvedObject: { name: string }; reason: string; type: string }) => [e.involvedObject.name, e.reason, e.type]).sort()).toEqual([
      ['lan', 'PoolAddressesSkipped', 'Warning'], ['mc', 'PoolUnusable', 'Warning'],
    ]);
    // Once each, not at every pass.
    await api.create(service('skip3'));
    await waitFor('the fourth fails too', () => c.serviceViews().filter((v) => v.state === 'failed').length === 2, 5000);
    await c.settled();
    expect(await eipEvents()).toHaveLength(2);
  });

  test('a reloaded config (setConfig) takes effect: a config pool added later serves a waiting Service', async () => {
    await api.create(service('late-pool', { annotations: { 'eip.openelb.kubesphere.io/v1alpha2': 'cfg' } }));
    const c = startController();
    await waitFor('failed: no such pool', () => c.serviceViews().find((v) => v.service === 'default/late-pool')?.lastError, 5000);
    expect(c.serviceViews().find((v) => v.service === 'default/late-pool')!.lastError).toBe('pool cfg does not exist');
    c.setConfig(config({ pools: [{ name: 'cfg', address: '198.51.100.16/29' }] }));
    await waitFor('assigned from the reloaded pool', async () => (await ingress('late-pool')).length === 1, 5000);
    expect(await ingress('late-pool')).toEqual(['198.51.100.17']);
  });

  test('never taking an address away by mistake: a typo in the requested address, the Eip deleted or disabled', async () => {
    await api.create(eip('lan', '192.0.2.0/29'));
    await api.create(eip('other', '198.51.100.0/29', {}, {}));
    await api.create(service('steady'));
    const c = startController();
    await waitFor('assigned', async () => (await ingress('steady')).length === 1, 5000);
    const had = await ingress('steady');
    // A typo in the requested address: the Service keeps its address, a Warning and a condition say why.
    const svc = await api.get(svcRef('steady'));
    await api.update({ ...svc, metadata: { ...svc.metadata, annotations: { ...svc.metadata.annotations, 'eip.openelb.kubesphere.io/v1alpha1': '198.51.100.300' } } });
    await waitFor('the condition', async () => (await api.get(svcRef('steady'))).status?.conditions?.some((x: { type: string }) => x.type === 'l2lb.io/AddressRequest'), 5000);
    expect(await ingress('steady')).toEqual(had);
    const cond = (await api.get(svcRef('steady'))).status.conditions.find((x: { type: string }) => x.type === 'l2lb.io/AddressRequest');
    expect(cond).toMatchObject({ status: 'False', reason: 'AddressKept', message: `"198.51.100.300" is not an IP address: the Service keeps ${had[0]} until the request can be met` });
    await waitFor('the warning', async () => (await events('steady')).some((e) => e.reason === 'AssignIPFailed' && e.message.includes('198.51.100.300')), 5000);
    expect(c.serviceViews().find((v) => v.service === 'default/steady')).toMatchObject({ state: 'kept' });
    // Fixed: it moves to the address it asks for, and the condition goes.
    const again = await api.get(svcRef('steady'));
    await api.update({ ...again, metadata: { ...again.metadata, annotations: { ...again.metadata.annotations, 'eip.openelb.kubesphere.io/v1alpha1': '198.51.100.3' } } });
    await waitFor('moved', async () => (await ingress('steady'))[0] === '198.51.100.3', 5000);
    await waitFor('condition removed', async () => !(await api.get(svcRef('steady'))).status?.conditions?.some((x: { type: string }) => x.type === 'l2lb.io/AddressRequest'), 5000);
    // Its Eip disabled, then deleted: the address stays, with a warning each time.
    const o = await api.get(eipRef('other'));
    await api.update({ ...o, spec: { ...o.spec, disable: true } });
    await waitFor('warned: disabled', async () => (await events('steady')).some((e) => e.message.startsWith('pool other is disabled: 198.51.100.3 stays')), 5000);
    await api.remove(eipRef('other'));
    await waitFor('warned: deleted', async () => (await events('steady')).some((e) => e.message.startsWith('pool other no longer exists: 198.51.100.3 stays')), 5000);
    await c.settled();
    expect(await ingress('steady')).toEqual(['198.51.100.3']);
    expect(announced.map((v) => v.ip)).toContain('198.51.100.3');
    // Nobody else is given it meanwhile.
    await api.create(service('newcomer', { annotations: { 'eip.openelb.kubesphere.io/v1alpha1': '198.51.100.3' } }));
    await waitFor('newcomer refused', () => c.serviceViews().find((v) => v.service === 'default/newcomer')?.state === 'failed', 5000);
  });

  test('a 409 on the status write is retried', async () => {
    await api.create(eip('lan', '192.0.2.0/29'));
    await api.failNext(2, { status: 409, verbs: ['patch'], resource: 'services' });
    await api.create(service('conflicted'));
    startController();
    await waitFor('assigned despite 409s', async () => (await ingress('conflicted')).length === 1, 5000);
  });

  test('status writes the server refuses (429, then 503) wait at least Retry-After, then back off with jitter; the address lands once it answers', async () => {
    await api.create(eip('lan', '192.0.2.0/29'));
    const since = Date.now();
    await api.failNext(2, { status: 429, verbs: ['patch'], resource: 'services/status' });
    await api.failNext(2, { status: 503, verbs: ['patch'], resource: 'services/status' });
    await api.create(service('throttled'));
    const c = startController();
    await waitFor('assigned once the server answers', async () => (await ingress('throttled')).length === 1, 15_000);
    const writes = (await api.requests()).filter((r) => r.at >= since && r.method === 'PATCH' && r.path === '/api/v1/namespaces/default/services/throttled/status');
    expect(writes.map((w) => w.status)).toEqual([429, 429, 503, 503, 200]);
    const gaps = writes.slice(1).map((w, i) => w.at - writes[i]!.at);
    // 429 (Retry-After: 1): 1..1.25 s twice; then the doubling backoff, 1..2 s and 2..4 s (+ a pass's slack).
    const bounds: [number, number][] = [[1000, 1250], [1000, 1250], [1000, 2000], [2000, 4000]];
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(bounds[i]![0] - 5);
      expect(gap).toBeLessThanOrEqual(bounds[i]![1] + 200);
    });
    const stats = c.kubeStats;
    expect(stats.retries.get('writes')?.count).toBe(4);
    expect(Object.fromEntries(stats.failures.get('services/status')!)).toEqual({ '429': 2, '5xx': 2 });
  });

  test('a 429 slows every write down, not only the refused one: no status write starts within Retry-After, fewer at once after, all land', async () => {
    await api.create(eip('lan', '192.0.2.0/26'));
    for (let i = 0; i < 40; i++) await api.create(service(`many-${i}`));
    const since = Date.now();
    await api.failNext(3, { status: 429, apf: true, verbs: ['patch'], resource: 'services/status' });
    const c = startController(config({ kubernetes: { ...config().kubernetes, maxInflight: 8 } }));
    let lowest = c.writeLimit;
    const watchLimit = setInterval(() => (lowest = Math.min(lowest, c.writeLimit)), 5);
    try {
      await waitFor('all assigned', async () => {
        const list = await api.list('v1', 'Service', 'default');
        return list.filter((s: { status?: { loadBalancer?: { ingress?: unknown[] } } }) => s.status?.loadBalancer?.ingress?.length).length === 40 || undefined;
      }, 15_000);
    } finally {
      clearInterval(watchLimit);
    }
    const writes = (await api.requests()).filter((r) => r.at >= since && r.method === 'PATCH' && r.path.endsWith('/status') && r.path.includes('/services/'));
    const refused = writes.filter((w) => w.status === 429);
    expect(refused.length).toBe(3);
    // The first refusal paused everything: nothing new went out until its Retry-After (1 s) had passed,
    // but for the writes already in flight when it came (at most maxInflight).
    const first = refused[0]!.at;
    const during = writes.filter((w) => w.at > first && w.at < first + 950);
    expect(during.length).toBeLessThanOrEqual(8);
    expect(lowest).toBeLessThanOrEqual(4);
    expect(c.counts.throttled).toBe(3);
    expect(writes.filter((w) => w.status === 200).length).toBeGreaterThanOrEqual(40);
  });

  test('a dropped watch resumes, a 410 relists, and nothing is missed', async () => {
    await api.create(eip('lan', '192.0.2.0/29'));
    startController();
    await Bun.sleep(200);
    await api.dropWatches();
    await api.create(service('after-drop'));
    await waitFor('after-drop assigned', async () => (await ingress('after-drop')).length === 1, 5000);
    await api.compact();
    await api.dropWatches();
    await api.create(service('after-410'));
    await waitFor('after-410 assigned', async () => (await ingress('after-410')).length === 1, 5000);
  });

  test('l2lb restarted mid-way keeps every existing address', async () => {
    await api.create(eip('lan', '192.0.2.0/28'));
    for (let i = 0; i < 6; i++) await api.create(service(`keep${i}`));
    const first = startController();
    await waitFor('all assigned', async () => (await Promise.all([0, 1, 2, 3, 4, 5].map((i) => ingress(`keep${i}`)))).every((x) => x.length === 1), 5000);
    const before = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => ingress(`keep${i}`)));
    await first.stop();
    controllers.splice(controllers.indexOf(first), 1);
    // A new Service created while l2lb is down must not take anybody's address.
    await api.remove(svcRef('keep0'));
    await api.create(service('newcomer'));
    const second = startController();
    await waitFor('newcomer assigned', async () => (await ingress('newcomer')).length === 1, 5000);
    await second.settled();
    const after = await Promise.all([1, 2, 3, 4, 5].map((i) => ingress(`keep${i}`)));
    expect(after).toEqual(before.slice(1));
  });

  test('the API server going away and coming back loses nothing', async () => {
    await api.create(eip('lan', '192.0.2.0/28'));
    await api.create(service('steady'));
    startController();
    await waitFor('steady assigned', async () => (await ingress('steady')).length === 1, 5000);
    const steady = await ingress('steady');
    await api.stop('kill');
    await Bun.sleep(1000);
    await api.restart();
    await api.create(service('while-back'));
    await waitFor('while-back assigned', async () => (await ingress('while-back')).length === 1, 15000);
    expect(await ingress('steady')).toEqual(steady);
  }, 30000);

  test('an IPv6 /64 pool: exact arithmetic, poolSize reported clamped to 2^53-1 and accepted by the server', async () => {
    await api.create(eip('v6', '2001:db8:1::/64'));
    await api.create(service('six', { families: ['IPv6'] }));
    startController();
    await waitFor('v6 assigned', async () => (await ingress('six')).length === 1, 5000);
    expect((await ingress('six'))[0]).toMatch(/^2001:db8:1:/);
    await waitFor('eip status', async () => (await api.get(eipRef('v6')))?.status?.usage === 1, 3000);
    expect((await api.get(eipRef('v6'))).status.poolSize).toBe(Number.MAX_SAFE_INTEGER);
  });
});

/**
 * Stand-ins for two nodes' kube-proxy health endpoints on one port: 127.0.0.2 and 127.0.0.3 (every 127/8
 * address is local, so two servers share a port). `status[ip]` is what each answers.
 */
async function kubeProxies(ips: string[]): Promise<{ port: number; status: Record<string, number> }> {
  const status: Record<string, number> = Object.fromEntries(ips.map((ip) => [ip, 200]));
  for (let attempt = 0; ; attempt++) {
    const servers: Server[] = [];
    try {
      let port = 0;
      for (const ip of ips) {
        const srv = createServer((_req, res) => {
          res.writeHead(status[ip]!);
          res.end();
        });
        servers.push(srv);
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(port, ip, () => resolve());
        });
        port = (srv.address() as AddressInfo).port;
      }
      cleanups.push(() => Promise.all(servers.map((srv) => new Promise((r) => srv.close(r)))));
      return { port, status };
    } catch (err) {
      for (const srv of servers) srv.close();
      if (attempt >= 5) throw err; // the port picked for the first was taken on another address
    }
  }
}

describe('ServiceController: node lookups for wire events', () => {
  test('a probed address names the node that lists it now: a Node whose InternalIP changed is found by the new one, not the old', async () => {
    await api.create({
      apiVersion: 'v1', kind: 'Node', metadata: { name: 'lookup-a' },
      status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '127.0.0.91' }] },
    });
    const ctl = startController(config({ kubernetes: { ...DEFAULT_CONFIG.kubernetes, announce: 'node' } }));
    await waitFor('the node indexed', () => ctl.nodeOfAddress('127.0.0.91') === 'lookup-a' || undefined, 5000, 10);
    // Looked up once more before the change: the index is built and kept between lookups.
    expect(ctl.nodeOfAddress('127.0.0.92')).toBeUndefined();
    await api.patchStatus({ apiVersion: 'v1', kind: 'Node', name: 'lookup-a' }, { addresses: [{ type: 'InternalIP', address: '127.0.0.92' }] });
    await waitFor('the new address', () => ctl.nodeOfAddress('127.0.0.92') === 'lookup-a' || undefined, 5000, 10);
    expect(ctl.nodeOfAddress('127.0.0.91')).toBeUndefined();
    await api.remove({ apiVersion: 'v1', kind: 'Node', name: 'lookup-a' });
    await waitFor('the node gone', () => ctl.nodeOfAddress('127.0.0.92') === undefined || undefined, 5000, 10);
  });
});

describe('ServiceController: gateway model with the kube-proxy health check', () => {
  test("a node whose kube-proxy check fails is not chosen; the address moves and the Event says why", async () => {
    const nodes: Record<string, string> = { 'node-a': '127.0.0.2', 'node-b': '127.0.0.3' };
    const macs: Record<string, string> = { '127.0.0.2': '02:00:00:00:00:0a', '127.0.0.3': '02:00:00:00:00:0b' };
    const proxies = await kubeProxies(Object.values(nodes));
    for (const [name, ip] of Object.entries(nodes)) {
      await api.create({
        apiVersion: 'v1', kind: 'Node', metadata: { name },
        status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: ip }] },
      });
    }
    await api.create(eip('lan', '192.0.2.0/29'));
    await api.create(service('kp'));
    const cfg = {
      ...DEFAULT_CONFIG, mode: 'kubernetes',
      health: { ...DEFAULT_CONFIG.health, kubeProxy: { enabled: true, port: proxies.port, path: '/healthz', interval: 50, timeout: 200 } },
    } as Config;
    const h = cfg.health;
    const log = createLogger({ level: 'error', format: 'json' }, () => {});
    let ctl: ServiceController | undefined;
    // Wired as app.ts wires it: the checker gets the probe targets and reports to the controller.
    const checker = new ProxyHealthChecker(
      { port: h.kubeProxy.port, path: h.kubeProxy.path, intervalMs: h.kubeProxy.interval, timeoutMs: h.kubeProxy.timeout, failures: h.failures, successes: h.successes },
      (changes) => ctl?.onProxyHealth(changes),
    );
    cleanups.push(() => checker.stop());
    const probed = new Set<string>();
    ctl = new ServiceController(new KubeClient(new KubeHttp(loadKubeAccess({ kubeconfig, env: {} }))), cfg, log, {
      announce: (v) => {
        announced = v;
      },
      segments: () => new Map([['lo', { interface: 'lo', prefixes: ['127.0.0.1/8'] }]]),
      interfaceFor: () => 'lo',
      probes: (targets) => {
        const ips = [...targets.values()].flat();
        checker.setTargets(ips);
        // The wire probes answer at once here: this test is about the kube-proxy check.
        const fresh = ips.filter((ip) => !probed.has(ip));
        for (const ip of fresh) probed.add(ip);
        if (fresh.length > 0) queueMicrotask(() => ctl!.onProbe(fresh.map((ip) => ({ ip, state: 'up', before: 'unknown', mac: macs[ip], misses: 0, at: Date.now() }))));
      },
    });
    ctl.start();
    controllers.push(ctl);

    const nodeOf = (mac: string | undefined) => Object.entries(nodes).find(([, ip]) => macs[ip] === mac)?.[0];
    const first = await waitFor('the address served by a node', () => nodeOf(announced.find((v) => v.ip === '192.0.2.1')?.mac), 5000, 10);
    const other = first === 'node-a' ? 'node-b' : 'node-a';
    expect(ctl.nodeViews().map((n) => [n.name, n.candidate, n.addresses[0]!.kubeProxy?.state])).toEqual([['node-a', true, 'up'], ['node-b', true, 'up']]);

    proxies.status[nodes[first]!] = 503;
    await waitFor('the address moved', () => nodeOf(announced.find((v) => v.ip === '192.0.2.1')?.mac) === other, 5000, 10);
    const view = ctl.nodeViews().find((n) => n.name === first)!;
    expect(view).toMatchObject({ candidate: false, why: 'kube-proxy-down', serving: [] });
    expect(view.addresses[0]!.kubeProxy).toMatchObject({ state: 'down', result: 'HTTP 503', misses: 3 });
    const reason = `192.0.2.1 moved from ${first} to ${other}: ${first} kube-proxy health check failed (HTTP 503)`;
    expect(ctl.servingOf('192.0.2.1')).toMatchObject({ node: other, why: `${first} kube-proxy health check failed (HTTP 503)` });
    await waitFor('NodeChanged event', async () => (await events('kp')).some((e) => e.reason === 'NodeChanged'), 3000);
    expect((await events('kp')).filter((e) => e.reason === 'NodeChanged').map((e) => e.message)).toEqual([reason]);
    await waitFor('serving node recorded', async () => (await api.get(svcRef('kp'))).metadata.annotations?.['l2lb.io/serving-node'] === `192.0.2.1=${other}`, 3000);

    // Back to 200: the node is a candidate again and the address stays where it is (sticky).
    proxies.status[nodes[first]!] = 200;
    await waitFor('candidate again', () => ctl!.nodeViews().find((n) => n.name === first)?.candidate, 5000, 10);
    expect(nodeOf(announced.find((v) => v.ip === '192.0.2.1')?.mac)).toBe(other);
    expect(ctl.counts.proxyChanges).toBe(4); // two unknown>up, one up>down, one down>up
  });
});

describe('ServiceController on Kubernetes 1.31: Services listed by selection', () => {
  test('only LoadBalancers and our labelled Services are listed; one of ours turned ClusterIP while the watch was down is released after the relist', async () => {
    const api31 = await StandIn.start({ kubernetesVersion: '1.31' });
    cleanups.push(() => api31.close());
    const kc = join(KUBECONFIG_DIR, 'kubeconfig-131');
    api31.writeKubeconfig(kc, 'cert');
    const serviceLists = async () => (await api31.requests()).filter((r) => r.path === '/api/v1/services' && !r.watch).map((r) => `${r.status} ${decodeURIComponent(r.query).replace(/&limit=\d+/, '')}`);
    const selected = ['200 fieldSelector=spec.type=LoadBalancer', expect.stringMatching(/^200 labelSelector=eip\.openelb\.kubesphere\.io\/v1alpha2&resourceVersion=\d+&resourceVersionMatch=Exact$/)];
    await api31.create(eip('lan', '192.0.2.0/29'));
    await api31.create(service('mine'));
    for (let i = 0; i < 20; i++) await api31.create(service(`cip${i}`, { type: 'ClusterIP' }));
    const ctl = startController(config(), {}, kc);
    await waitFor('mine assigned', async () => (await ingress('mine', 'default', api31)).length === 1, 5000);
    await ctl.settled();
    const listed = await serviceLists();
    // the watch goes down; meanwhile ours becomes ClusterIP (the server clears its status, our label stays)
    // and the server's history is compacted: the relist must still find it to take the label back
    await waitFor('watching', async () => (await api31.requests()).some((r) => r.path === '/api/v1/services' && r.watch), 3000);
    await api31.failNext(2, { status: 503, verbs: ['watch'], resource: 'services' });
    await api31.dropWatches();
    const mine = await api31.get(svcRef('mine'));
    mine.spec.type = 'ClusterIP';
    await api31.update(mine);
    await api31.compact();
    await waitFor('mine released', async () => (await api31.get(svcRef('mine'))).metadata.labels?.['eip.openelb.kubesphere.io/v1alpha2'] === undefined, 10_000);
    await waitFor('ReleaseIP', async () => (await events('mine', 'default', api31)).some((e) => e.reason === 'ReleaseIP'), 3000);
    expect(listed).toEqual(selected);
    expect((await serviceLists()).slice(2)).toEqual(selected);
  });
});
