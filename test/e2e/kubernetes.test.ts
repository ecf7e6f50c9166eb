/**
 * Kubernetes mode end to end: the compiled binary in namespace A talks to the API server stand-in (also in
 * A, over HTTPS with a client certificate), gives a LoadBalancer Service an address from an Eip, writes it
 * back, and answers ARP for it in namespace B. On a 1.28 server (the stand-in's default) every Service is
 * listed; on a 1.31 one only the LoadBalancers and our labelled Services.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { join } from 'node:path';
import { type Pair, arpingMacs, createPair, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, ensureBinary, startL2lb } from '../support/l2lb.ts';
import { StandIn } from '../support/kube/standin.ts';
import { tempDir } from '../support/tmp.ts';

setDefaultTimeout(30_000);
const root = requireRoot('e2e kubernetes');
let pair: Pair;
let api: StandIn;
let l2: Running;

const svcRef = { apiVersion: 'v1', kind: 'Service', namespace: 'default', name: 'web' };

const arping = (ip: string) => arpingMacs(pair.nsB, pair.ifB, ip);

/** An OpenELB-annotated LoadBalancer Service in `default`. */
const lbService = (name: string) => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name, namespace: 'default', annotations: { 'lb.kubesphere.io/v1alpha1': 'openelb' } },
  spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
});

/** The Lease's namespace and the default Eip `lan` (192.0.2.240/29 on `iface`). */
async function cluster(on: StandIn, iface: string): Promise<void> {
  await on.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'l2lb-system' } });
  await on.create({
    apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip',
    metadata: { name: 'lan', annotations: { 'eip.openelb.kubesphere.io/is-default-eip': 'true' } },
    spec: { address: '192.0.2.240/29', protocol: 'layer2', interface: iface },
  });
}

/**
 * l2lb in `on`'s namespace A as the leader (this host's MAC: no Node objects here; node selection has its own
 * end-to-end tests), with a client certificate and short Lease timings; `extra` is merged into the config.
 */
function startLeader(on: StandIn, p: Pair, extra: Record<string, unknown> = {}): Promise<Running> {
  const dir = tempDir('l2lb-kube-e2e-');
  const kubeconfig = join(dir, 'kubeconfig');
  on.writeKubeconfig(kubeconfig, 'cert');
  return startL2lb(p.nsA, {
    mode: 'kubernetes', interfaces: [p.ifA],
    kubernetes: { kubeconfig, announce: 'leader', leaderElection: { leaseDuration: '2s', renewDeadline: '1s', retryPeriod: '200ms' } },
    ...extra,
  }, { dir });
}

describe.skipIf(!root)('kubernetes mode (compiled binary, API server stand-in)', () => {
  beforeAll(async () => {
    ensureBinary();
    pair = createPair('l2kube');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    api = await StandIn.start({ netns: pair.nsA });
    await cluster(api, pair.ifA);
    await api.create(lbService('web'));
    l2 = await startLeader(api, pair, { announce: { probeCount: 1, probeInterval: '50ms', probeWait: '100ms' } });
  }, 60_000);

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    await api?.close();
    pair?.destroy();
  });

  test("the Service gets an address from the Eip, written to its status", async () => {
    const svc = await waitFor('ingress', async () => {
      const s = await api.get(svcRef);
      return s?.status?.loadBalancer?.ingress?.length === 1 && s;
    }, 10_000);
    expect(svc.status.loadBalancer.ingress[0].ip).toBe('192.0.2.241');
    expect(svc.metadata.labels['eip.openelb.kubesphere.io/v1alpha2']).toBe('lan');
  });

  test('the 1.28 server cannot select Services by type (400): every Service is listed instead, and the log says so once', async () => {
    const lists = (await api.requests()).filter((r) => r.path === '/api/v1/services' && !r.watch && r.user === 'l2lb');
    expect(lists.slice(0, 2).map((r) => `${r.status} ${decodeURIComponent(r.query).replace(/&?limit=\d+/, '')}`)).toEqual(['400 fieldSelector=spec.type=LoadBalancer', '200 ']);
    expect(l2.logs().split('listing the whole collection').length - 1).toBe(1);
  });

  test('the address answers ARP in namespace B with our MAC', async () => {
    await waitFor('VIP active', () => l2.api('GET', '/v1/vips/192.0.2.241').json?.state === 'active', 5000);
    expect(arping('192.0.2.241')).toEqual([pair.macA]);
  });

  test('the admin API shows pools and services; VIPs are read-only here', () => {
    const pools = l2.api('GET', '/v1/pools').json.pools;
    expect(pools).toEqual([expect.objectContaining({ name: 'lan', source: 'eip', size: '6', used: 1, free: '5', usable: true })]);
    const services = l2.api('GET', '/v1/services').json.services;
    expect(services).toEqual([expect.objectContaining({ service: 'default/web', addresses: ['192.0.2.241'], pool: 'lan', state: 'assigned' })]);
    expect(l2.api('PUT', '/v1/vips/192.0.2.9', {}).status).toBe(405);
    expect(l2.api('GET', '/readyz').status).toBe(200);
    const m = l2.api('GET', '/metrics').text;
    expect(m).toContain('l2lb_pool_used{pool="lan"} 1');
    expect(m).toContain('l2lb_services{state="assigned"} 1');
    expect(m).toMatch(/l2lb_kube_writes_total\{kind="service-status"\} [1-9]/);
    // Passes are timed: at least the one that assigned web, each taking some time, the sum at least the last.
    const num = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(m)?.[1]);
    expect(num('l2lb_kube_reconcile_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(num('l2lb_kube_allocations_total')).toBeGreaterThanOrEqual(1);
    expect(num('l2lb_kube_allocations_total')).toBeLessThanOrEqual(num('l2lb_kube_reconcile_seconds_count'));
    expect(num('l2lb_kube_reconcile_last_seconds')).toBeGreaterThan(0);
    expect(num('l2lb_kube_reconcile_seconds_sum')).toBeGreaterThanOrEqual(num('l2lb_kube_reconcile_last_seconds'));
  });

  test('a Lease namespace that does not exist: /readyz and /v1/status say what to do, and the replica does not lead', async () => {
    const dir = tempDir('l2lb-kube-e2e-');
    const kubeconfig = join(dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig, 'cert');
    const other = await startL2lb(pair.nsA, {
      mode: 'kubernetes', interfaces: [pair.ifA],
      kubernetes: { kubeconfig, announce: 'leader', leaderElection: { namespace: 'l2lb-absent', leaseDuration: '2s', renewDeadline: '1s', retryPeriod: '200ms' } },
    }, { dir, waitReady: false });
    try {
      const ready = await waitFor('the reason in /readyz', () => {
        const r = other.api('GET', '/readyz');
        return r.status === 503 && r.json?.reasons?.some((x: string) => x.includes('l2lb-absent')) ? r.json : undefined;
      }, 10_000);
      expect(ready.reasons.join(' ')).toContain('namespace l2lb-absent does not exist');
      expect(ready.reasons.join(' ')).toContain('apply config/deploy/namespace.yaml');
      expect(other.api('GET', '/v1/status').json.leaderElection.problem).toContain('l2lb-absent');
      expect(other.api('GET', '/metrics').text).toContain('l2lb_leader 0');
    } finally {
      await other.stop('SIGKILL');
    }
  });

  test('deleting the Eip a Service uses takes nothing off the network: the Service keeps its address and says why; the Eip back clears it', async () => {
    const eipRef = { apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', name: 'lan' };
    const eip = (await api.get(eipRef))!;
    await api.remove(eipRef);
    const view = await waitFor('the Service kept', () => {
      const v = l2.api('GET', '/v1/services').json?.services?.[0];
      return v?.state === 'kept' ? v : undefined;
    }, 10_000);
    expect(view).toMatchObject({ addresses: ['192.0.2.241'], pool: 'lan' });
    expect(view.lastError).toContain('192.0.2.241');
    const svc = await waitFor('the condition', async () => {
      const s = await api.get(svcRef);
      return s?.status?.conditions?.some((c: { type: string }) => c.type === 'l2lb.io/AddressRequest') ? s : undefined;
    }, 10_000);
    expect(svc.status.loadBalancer.ingress.map((i: { ip: string }) => i.ip)).toEqual(['192.0.2.241']);
    expect(svc.status.conditions.find((c: { type: string }) => c.type === 'l2lb.io/AddressRequest')).toMatchObject({ status: 'False', reason: 'AddressKept' });
    const events = await waitFor('a warning Event', async () => {
      const list = (await api.list('v1', 'Event', 'default')).filter((e: { reason: string; involvedObject: { name: string } }) => e.reason === 'AssignIPFailed' && e.involvedObject.name === 'web');
      return list.length > 0 ? list : undefined;
    }, 10_000);
    expect(events[0]).toMatchObject({ type: 'Warning' });
    const m = l2.api('GET', '/metrics').text;
    expect(m).toContain('l2lb_services{state="kept"} 1');
    expect(m).toContain('l2lb_services_kept{pool="lan"} 1');
    // Still answered, with our MAC.
    expect(l2.api('GET', '/v1/vips/192.0.2.241').json?.state).toBe('active');
    expect(arping('192.0.2.241')).toEqual([pair.macA]);
    // The Eip back: assigned again, the condition gone, the address the same.
    await api.create({ apiVersion: eip.apiVersion, kind: eip.kind, metadata: { name: 'lan', annotations: eip.metadata.annotations }, spec: eip.spec });
    await waitFor('assigned again', () => l2.api('GET', '/v1/services').json?.services?.[0]?.state === 'assigned' || undefined, 10_000);
    const back = await waitFor('the condition cleared', async () => {
      const s = await api.get(svcRef);
      return s && !s.status?.conditions?.some((c: { type: string }) => c.type === 'l2lb.io/AddressRequest') ? s : undefined;
    }, 10_000);
    expect(back.status.loadBalancer.ingress.map((i: { ip: string }) => i.ip)).toEqual(['192.0.2.241']);
    expect(l2.api('GET', '/metrics').text).not.toContain('l2lb_services_kept{');
  });

  test('deleting the Service stops the answers', async () => {
    await api.remove(svcRef);
    await waitFor('VIP gone', () => l2.api('GET', '/v1/vips').json?.vips?.length === 0, 5000);
    expect(arping('192.0.2.241')).toEqual([]);
  });
});

describe.skipIf(!root)('kubernetes mode on a 1.31 server: Services listed by selection (compiled binary)', () => {
  let pair131: Pair;
  let api131: StandIn;
  let l131: Running;
  const LB = ['shop', 'blog'];
  const CLUSTER_IP = 300;

  beforeAll(async () => {
    ensureBinary();
    pair131 = createPair('l2k131');
    api131 = await StandIn.start({ netns: pair131.nsA, kubernetesVersion: '1.31' });
    await cluster(api131, pair131.ifA);
    for (const name of LB) await api131.create(lbService(name));
    for (let i = 0; i < CLUSTER_IP; i++) {
      await api131.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: `cip-${i}`, namespace: 'default' }, spec: { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }] } });
    }
    l131 = await startLeader(api131, pair131);
  }, 60_000);

  afterAll(async () => {
    await l131?.stop('SIGKILL');
    await api131?.close();
    pair131?.destroy();
  });

  test('the LoadBalancers get their addresses; only they and our labelled Services were listed, never the 300 ClusterIP ones', async () => {
    for (const name of LB) {
      await waitFor(`${name} assigned`, async () => (await api131.get({ apiVersion: 'v1', kind: 'Service', namespace: 'default', name }))?.status?.loadBalancer?.ingress?.length === 1, 10_000);
    }
    const lists = (await api131.requests()).filter((r) => r.path === '/api/v1/services' && !r.watch && r.user === 'l2lb');
    expect(lists.map((r) => `${r.status} ${decodeURIComponent(r.query).replace(/&limit=\d+/, '')}`)).toEqual([
      '200 fieldSelector=spec.type=LoadBalancer',
      expect.stringMatching(/^200 labelSelector=eip\.openelb\.kubesphere\.io\/v1alpha2&resourceVersion=\d+&resourceVersionMatch=Exact$/),
    ]);
    expect(l131.logs()).not.toContain('listing the whole collection');
    expect(l131.api('GET', '/v1/services').json.services.map((s: { service: string }) => s.service).sort()).toEqual(['default/blog', 'default/shop']);
  });
});
