/**
 * The controller keeps only what it reads (issue 14): against the stand-in with objects shaped like a real
 * server's (managedFields on every object, kubelet-sized Nodes), a write that changes only fields l2lb does
 * not keep causes no pass and no write; EndpointSlices are listed and watched only while a Service needs
 * them, and a Service that starts needing them keeps its node until they are known.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { join } from 'node:path';
import { StandIn } from '../support/kube/standin.ts';
import { kubeletHeartbeat, kubeletNode } from '../support/kube/nodes.ts';
import { waitFor } from '../support/netns.ts';
import { tempDir } from '../support/tmp.ts';
import { type ControllerIO, ServiceController } from '../../src/kube/controller.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { KubeHttp } from '../../src/kube/http.ts';
import { loadKubeAccess } from '../../src/kube/access.ts';
import { DEFAULT_CONFIG, type Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log.ts';
import type { DesiredVip } from '../../src/announce/announcer.ts';

setDefaultTimeout(30_000);

let api: StandIn;
let kubeconfig: string;
const controllers: ServiceController[] = [];
const DIR = tempDir('l2lb-footprint-');

/** Two nodes on loopback (every 127/8 address is local), answering the wire probes at once with these MACs. */
const NODES: Record<string, string> = { 'node-a': '127.0.0.2', 'node-b': '127.0.0.3' };
const MACS: Record<string, string> = { '127.0.0.2': '02:00:00:00:00:0a', '127.0.0.3': '02:00:00:00:00:0b' };
const nodeOfMac = (mac: string | undefined) => Object.entries(NODES).find(([, ip]) => MACS[ip] === mac)?.[0];

const eip = { apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', metadata: { name: 'lan', annotations: { 'eip.openelb.kubesphere.io/is-default-eip': 'true' } }, spec: { address: '192.0.2.0/29', protocol: 'layer2' } };
const svcRef = (name: string) => ({ apiVersion: 'v1', kind: 'Service', namespace: 'default', name });

function service(name: string, etp: 'Cluster' | 'Local' = 'Cluster') {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: 'default', labels: { app: name }, annotations: { 'lb.kubesphere.io/v1alpha1': 'openelb', 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    spec: { type: 'LoadBalancer', externalTrafficPolicy: etp, selector: { app: name }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
  };
}

function slice(service: string, nodes: string[]) {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: `${service}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: nodes.map((nodeName, i) => ({ addresses: [`10.244.0.${i + 10}`], conditions: { ready: true }, nodeName })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

interface Running {
  ctl: ServiceController;
  announced: () => DesiredVip[];
  nodeOf: (ip: string) => string | undefined;
}

/** The controller in the gateway model, wired as app.ts wires it, with wire probes that answer at once. */
function start(over: Partial<Config['kubernetes']> = {}): Running {
  let announced: DesiredVip[] = [];
  const cfg = { ...DEFAULT_CONFIG, mode: 'kubernetes', kubernetes: { ...DEFAULT_CONFIG.kubernetes, ...over } } as Config;
  const probed = new Set<string>();
  let ctl: ServiceController | undefined;
  const io: ControllerIO = {
    announce: (v) => {
      announced = v;
    },
    segments: () => new Map([['lo', { interface: 'lo', prefixes: ['127.0.0.1/8'] }]]),
    interfaceFor: () => 'lo',
    probes: (targets) => {
      const fresh = [...targets.values()].flat().filter((ip) => !probed.has(ip));
      for (const ip of fresh) probed.add(ip);
      if (fresh.length > 0) queueMicrotask(() => ctl!.onProbe(fresh.map((ip) => ({ ip, state: 'up', before: 'unknown', mac: MACS[ip], misses: 0, at: Date.now() }))));
    },
  };
  ctl = new ServiceController(new KubeClient(new KubeHttp(loadKubeAccess({ kubeconfig, env: {} }))), cfg, createLogger({ level: 'error', format: 'json' }, () => {}), io);
  ctl.start();
  controllers.push(ctl);
  return { ctl, announced: () => announced, nodeOf: (ip) => nodeOfMac(announced.find((v) => v.ip === ip)?.mac) };
}

/** Requests l2lb made to a collection path (lists and watches), from the stand-in's log. */
async function collectionRequests(resource: string): Promise<{ watch: boolean; status: number; at: number }[]> {
  return (await api.requests()).filter((r) => r.method === 'GET' && r.path === resource && r.user === 'l2lb');
}

beforeAll(async () => {
  api = await StandIn.start();
  kubeconfig = join(DIR, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, 'cert');
  for (const [name, ip] of Object.entries(NODES)) await api.create(kubeletNode(name, { internalIPs: [ip] }), { manager: 'kubelet' });
  await api.create(eip);
});

afterEach(async () => {
  while (controllers.length) await controllers.pop()!.stop();
  for (const s of await api.list('v1', 'Service')) if (s.metadata.name !== 'kubernetes') await api.remove(svcRef(s.metadata.name));
  for (const s of await api.list('discovery.k8s.io/v1', 'EndpointSlice')) await api.remove({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: s.metadata.namespace, name: s.metadata.name });
  await api.clearFaults();
});

afterAll(async () => {
  await api?.close();
});

describe('only what is read causes work', () => {
  test('kubelet heartbeats, managedFields and edits of fields l2lb does not read cause no pass and no write', async () => {
    await api.create(service('web'));
    const { ctl, nodeOf } = start();
    await waitFor('the address served', () => nodeOf('192.0.2.1'), 5000, 10);
    await waitFor('written', async () => (await api.get(svcRef('web')))?.status?.loadBalancer?.ingress?.length === 1, 5000);
    await ctl.settled();
    await Bun.sleep(300);
    await ctl.settled();
    const reconciles = ctl.counts.reconciles;
    const writes = ctl.counts.statusWrites;

    // every kubelet posts its status (new heartbeat times and managedFields), twice
    for (const round of [1, 2]) {
      for (const name of Object.keys(NODES)) {
        const node = await api.get({ apiVersion: 'v1', kind: 'Node', name });
        await api.patchStatus({ apiVersion: 'v1', kind: 'Node', name }, kubeletHeartbeat(node, new Date(Date.now() + round * 10_000)), { manager: 'kubelet' });
      }
    }
    // someone edits what l2lb does not read: the selector, a label, last-applied-configuration, a port's target
    const svc = await api.get(svcRef('web'));
    await api.update({
      ...svc,
      metadata: { ...svc.metadata, labels: { ...svc.metadata.labels, team: 'shop' }, annotations: { ...svc.metadata.annotations, 'kubectl.kubernetes.io/last-applied-configuration': '{"changed":1}' } },
      spec: { ...svc.spec, selector: { app: 'web', tier: 'front' }, ports: [{ ...svc.spec.ports[0], targetPort: 9090 }] },
    }, { manager: 'kubectl-edit' });
    const rv = (await api.get(svcRef('web'))).metadata.resourceVersion;
    expect(rv).not.toBe(svc.metadata.resourceVersion);
    await Bun.sleep(500);
    expect(ctl.counts.reconciles).toBe(reconciles);
    expect(ctl.counts.statusWrites).toBe(writes);

    // a field l2lb reads still causes a pass at once
    const node = await api.get({ apiVersion: 'v1', kind: 'Node', name: 'node-a' });
    await api.update({ ...node, metadata: { ...node.metadata, labels: { ...node.metadata.labels, zone: 'x' } } }, { manager: 'kubectl-label' });
    await waitFor('a pass', () => ctl.counts.reconciles > reconciles || undefined, 3000, 10);
  });

  test('what l2lb writes back from kept objects leaves the rest of the object as it was (labels, annotations, conditions of others)', async () => {
    await api.create(service('keep'));
    await api.patchStatus(svcRef('keep'), { conditions: [{ type: 'other.io/Ready', status: 'True', reason: 'Fine', message: 'fine', lastTransitionTime: '2024-01-01T00:00:00Z', observedGeneration: 1 }] }, { manager: 'other-controller' });
    start();
    const written = await waitFor('written', async () => {
      const s = await api.get(svcRef('keep'));
      return s?.status?.loadBalancer?.ingress?.length === 1 && s.metadata.annotations['l2lb.io/serving-node'] ? s : undefined;
    }, 5000);
    expect(written.metadata.labels).toEqual({ app: 'keep', 'eip.openelb.kubesphere.io/v1alpha2': 'lan' });
    expect(written.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toBe('{}');
    expect(written.spec.selector).toEqual({ app: 'keep' });
    expect(written.spec.ports[0]).toMatchObject({ name: 'http', targetPort: 8080 });
    expect(written.status.conditions).toEqual([{ type: 'other.io/Ready', status: 'True', reason: 'Fine', message: 'fine', lastTransitionTime: '2024-01-01T00:00:00Z', observedGeneration: 1 }]);
    expect(written.metadata.managedFields.find((e: { manager: string }) => e.manager === 'l2lb')).toMatchObject({ subresource: 'status' });
  });
});

describe('EndpointSlices only while a Service needs them', () => {
  test('none listed or watched without a Local Service; the first one starts the watch and is served where it has endpoints', async () => {
    await api.create(service('plain'));
    await api.create(slice('plain', ['node-a']));
    const { ctl, nodeOf } = start();
    await waitFor('served', () => nodeOf('192.0.2.1'), 5000, 10);
    await Bun.sleep(300);
    expect(await collectionRequests('/apis/discovery.k8s.io/v1/endpointslices')).toEqual([]);
    expect(ctl.ready().ready).toBe(true);

    await api.create(slice('local', ['node-b']));
    await api.create(service('local', 'Local'));
    const ip = await waitFor('the Local Service served', async () => {
      const s = await api.get(svcRef('local'));
      const addr = s?.status?.loadBalancer?.ingress?.[0]?.ip;
      return addr && nodeOf(addr) ? addr : undefined;
    }, 5000, 10);
    expect(nodeOf(ip)).toBe('node-b');
    const reqs = await collectionRequests('/apis/discovery.k8s.io/v1/endpointslices');
    expect(reqs.filter((r) => !r.watch)).toHaveLength(1);
    expect(reqs.some((r) => r.watch)).toBe(true);
    expect(ctl.ready().ready).toBe(true);
  });

  test('a Local Service present at start: the first pass waits for the EndpointSlices, so its address never goes to a node without endpoints', async () => {
    await api.create(slice('early', ['node-a']));
    await api.create(service('early', 'Local'));
    await api.latency(400, { verbs: ['list'], resource: 'endpointslices' });
    const moves: (string | undefined)[] = [];
    const run = start();
    const ip = await waitFor('served', async () => {
      const addr = (await api.get(svcRef('early')))?.status?.loadBalancer?.ingress?.[0]?.ip;
      const node = addr && run.nodeOf(addr);
      if (node) moves.push(node);
      return node ? addr : undefined;
    }, 5000, 10);
    expect(run.nodeOf(ip)).toBe('node-a');
    expect(moves).toEqual(['node-a']);
    expect(run.ctl.counts.failovers).toBe(0);
  });

  test('a served Service that turns Local keeps its node while the EndpointSlices are first listed, then goes where its endpoints are', async () => {
    await api.create(service('turns'));
    const run = start();
    const ip = await waitFor('served', async () => {
      const addr = (await api.get(svcRef('turns')))?.status?.loadBalancer?.ingress?.[0]?.ip;
      return addr && run.nodeOf(addr) ? addr : undefined;
    }, 5000, 10);
    const first = run.nodeOf(ip)!;
    const other = first === 'node-a' ? 'node-b' : 'node-a';
    await api.create(slice('turns', [other]));
    await api.latency(800, { verbs: ['list'], resource: 'endpointslices' });
    const svc = await api.get(svcRef('turns'));
    await api.update({ ...svc, spec: { ...svc.spec, externalTrafficPolicy: 'Local' } });
    // while the list is slow: still answered, by the same node
    const until = performance.now() + 600;
    while (performance.now() < until) {
      expect(run.nodeOf(ip)).toBe(first);
      await Bun.sleep(20);
    }
    await waitFor('moved to the node with endpoints', () => run.nodeOf(ip) === other || undefined, 5000, 10);
  });
});
