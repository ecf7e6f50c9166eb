/**
 * Kubernetes mode at a modest scale, as a regression guard of the footprint (issue 14): the compiled binary
 * against the stand-in serving objects shaped like a real server's (managedFields on every object) with
 * 5,000 LoadBalancer Services over 20 namespaces and 500 kubelet-sized Nodes (~12 KB each), in the gateway
 * model (Nodes watched, every node probed: their addresses answer from namespace B). Every Service gets its
 * address; then a kubelet heartbeat from every node, and a relist of everything (the server's history
 * compacted, every watch dropped). l2lb's VmHWM stays under a generous ceiling (the budget is the bench's),
 * the relist does not raise it much, and the heartbeats cause no status write. The figures are printed.
 *
 * `KUBE_SCALE_BINARY=/path/to/l2lb` runs another binary (to compare builds); default dist/l2lb. (Not `L2LB_…`:
 * l2lb refuses environment variables with its prefix that name no config key.)
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Pair, createPair, ndiscMacs, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, ensureBinary, startL2lb } from '../support/l2lb.ts';
import { type KubeObject, StandIn } from '../support/kube/standin.ts';
import { kubeletHeartbeat, kubeletNode } from '../support/kube/nodes.ts';
import { tempDir } from '../support/tmp.ts';

setDefaultTimeout(240_000);
const root = requireRoot('e2e kubernetes at scale');

const SERVICES = 5_000;
const NODES = 500;
const NAMESPACES = 20;
/**
 * A regression guard, not the budget (the bench's): 181 MiB in CI at 1e0de7f, 192 the round before; 308-371
 * without the heap target (src/runtime/heap.ts), 456 when l2lb kept whole objects; either fails this. The
 * headroom is for a loaded machine (other suites once added ~10 %).
 */
const HWM_CEILING_MIB = 260;

let pair: Pair;
let api: StandIn;
let l2: Running;
let config: string;
/** How l2lb was started: a restart starts it again the same way. */
let start: () => Promise<Running>;
// At file level: the restart test starts l2lb again from the kubeconfig and config file kept here.
const DIR = tempDir('l2lb-scale-');

const nsName = (i: number) => `team-${String(i).padStart(2, '0')}`;
/** Node i's InternalIP (IPv6, like the Services: every node can serve every address). */
const nodeIP = (i: number) => `2001:db8:ff::${(i + 0x100).toString(16)}`;

function service(i: number): KubeObject {
  const name = `svc-${String(i).padStart(5, '0')}`;
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: {
      name, namespace: nsName(i % NAMESPACES), labels: { app: name, 'app.kubernetes.io/part-of': 'shop' },
      annotations: { 'lb.kubesphere.io/v1alpha1': 'openelb', 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ metadata: { name }, spec: { type: 'LoadBalancer' } }) },
    },
    spec: {
      type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack', selector: { app: name },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }, { name: 'https', port: 443, protocol: 'TCP', targetPort: 8443 }],
    },
  };
}

async function createAll(objects: KubeObject[], opts: { manager?: string } = {}): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < objects.length) await api.create(objects[next++], opts);
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** VmRSS and VmHWM (MiB) of the l2lb process (found by its config file on the command line). */
function memory(): { rss: number; hwm: number } {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!cmd.includes(config)) continue;
    const status = readFileSync(`/proc/${name}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
  }
  throw new Error('l2lb process not found');
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Status writes l2lb made, from the stand-in's request log. */
async function statusWrites(): Promise<string[]> {
  return (await api.requests())
    .filter((r) => r.method === 'PATCH' && r.path.endsWith('/status') && r.path.includes('/services/') && r.user === 'l2lb').map((r) => r.path);
}

/** How often l2lb's membership fenced itself for a stalled main thread (each printed). */
function stallsOf(l: Running): number {
  const stalls = l.logs().split('\n').filter((line) => line.includes('main thread stalled'));
  if (stalls.length > 0) console.log(`kube-scale: ${stalls.length} stall(s): ${stalls.join(' ')}`);
  // The metric an operator would alert on counts the same.
  expect(metric(l.api('GET', '/metrics').text, 'l2lb_membership_stalls_total')).toBe(stalls.length);
  return stalls.length;
}

/** Waits until l2lb made no status write for `quietMs`. */
async function quiet(quietMs = 1500): Promise<void> {
  let last = -1;
  let since = performance.now();
  await waitFor('l2lb quiet', () => {
    const writes = metric(l2.api('GET', '/metrics').text, 'l2lb_kube_writes_total{kind="service-status"}');
    if (writes !== last) {
      last = writes;
      since = performance.now();
    }
    return performance.now() - since >= quietMs || undefined;
  }, 60_000, 250);
}

describe.skipIf(!root)('kubernetes mode at 5,000 Services and 500 kubelet-sized Nodes (compiled binary, stand-in)', () => {
  beforeAll(async () => {
    const binary = process.env.KUBE_SCALE_BINARY ?? ensureBinary();
    pair = createPair('l2ksc');
    // Namespace A holds l2lb and the stand-in; the node addresses answer from namespace B.
    sh(['ip', '-n', pair.nsA, 'address', 'add', '2001:db8:ff::1/64', 'dev', pair.ifA, 'nodad']);
    const batch = join(tempDir('l2lb-scale-'), 'addresses.batch');
    await Bun.write(batch, Array.from({ length: NODES }, (_, i) => `address add ${nodeIP(i)}/64 dev ${pair.ifB} nodad\n`).join(''));
    sh(['ip', '-n', pair.nsB, '-batch', batch]);

    api = await StandIn.start({ netns: pair.nsA });
    await createAll([
      ...Array.from({ length: NAMESPACES }, (_, i) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: nsName(i) } })),
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'l2lb-system' } },
      {
        apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip',
        metadata: { name: 'v6', annotations: { 'eip.openelb.kubesphere.io/is-default-eip': 'true' } },
        spec: { address: '2001:db8:1::/64', protocol: 'layer2', interface: pair.ifA },
      },
    ]);
    await createAll(Array.from({ length: NODES }, (_, i) => kubeletNode(`node-${String(i).padStart(4, '0')}`, { internalIPs: [nodeIP(i)] })), { manager: 'kubelet' });
    await createAll(Array.from({ length: SERVICES }, (_, i) => service(i)));

    const dir = DIR;
    const kubeconfig = join(dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig, 'cert');
    config = join(dir, 'l2lb.json');
    start = () => startL2lb(pair.nsA, {
      mode: 'kubernetes',
      interfaces: [pair.ifA],
      kubernetes: { kubeconfig, announce: 'node', leaderElection: { leaseDuration: '2s', renewDeadline: '1s', retryPeriod: '200ms' } },
      announce: { probeCount: 1, probeInterval: '50ms', probeWait: '100ms' },
      log: { level: 'warn', format: 'json' },
    }, { dir, command: [binary], waitReady: false });
    l2 = await start();
    // Ready once every list is in and every node was probed: longer than the helper waits at this size.
    await waitFor('l2lb /readyz', () => l2.api('GET', '/readyz').status === 200 || undefined, 60_000, 200);
  }, 240_000);

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    await api?.close();
    pair?.destroy();
  });

  test('every Service gets its address; VmHWM stays under the ceiling, a relist of everything does not raise it much, heartbeats write nothing', async () => {
    const t0 = performance.now();
    await waitFor('every Service written', () => metric(l2.api('GET', '/metrics').text, 'l2lb_kube_writes_total{kind="service-status"}') >= SERVICES || undefined, 120_000, 250);
    const writtenS = (performance.now() - t0) / 1000;
    expect(metric(l2.api('GET', '/metrics').text, 'l2lb_services{state="assigned"}')).toBe(SERVICES);
    await quiet();
    const items = await api.list('v1', 'Service');
    const ours = items.filter((s: KubeObject) => s.metadata.name.startsWith('svc-'));
    expect(ours).toHaveLength(SERVICES);
    const addresses = ours.map((s: KubeObject) => s.status?.loadBalancer?.ingress?.[0]?.ip);
    expect(addresses.every((ip: string | undefined) => ip?.startsWith('2001:db8:1:'))).toBe(true);
    expect(new Set(addresses).size).toBe(SERVICES);
    // served by nodes (their addresses answered the probes), not withdrawn
    expect(ours.every((s: KubeObject) => /=node-\d{4}$/.test(s.metadata.annotations['l2lb.io/serving-node'] ?? ''))).toBe(true);
    const first = memory();

    // a kubelet heartbeat from every node: nothing l2lb keeps changes, nothing is written
    const writes = metric(l2.api('GET', '/metrics').text, 'l2lb_kube_writes_total{kind="service-status"}');
    const nodes = await api.list('v1', 'Node');
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < nodes.length) {
        const n = nodes[next++];
        await api.patchStatus({ apiVersion: 'v1', kind: 'Node', name: n.metadata.name }, kubeletHeartbeat(n, new Date(Date.now() + 10_000)), { manager: 'kubelet' });
      }
    }));
    await Bun.sleep(2000);
    expect(metric(l2.api('GET', '/metrics').text, 'l2lb_kube_writes_total{kind="service-status"}')).toBe(writes);
    const afterHeartbeats = memory();

    // every watch dropped and the history compacted: every informer relists
    await api.compact();
    await api.dropWatches();
    await waitFor('relisted', () => (metric(l2.api('GET', '/metrics').text, 'l2lb_kube_watch_ends_total{informer="services",end="expired"}') >= 1) || undefined, 30_000, 250);
    await Bun.sleep(3000);
    await quiet();
    expect(metric(l2.api('GET', '/metrics').text, 'l2lb_services{state="assigned"}')).toBe(SERVICES);
    const afterRelist = memory();
    const scrapeStart = performance.now();
    const scrape = l2.api('GET', '/metrics').text;
    const scrapeMs = performance.now() - scrapeStart;

    console.log(
      `kube-scale: ${SERVICES} Services + ${NODES} kubelet-sized Nodes: all written ${writtenS.toFixed(1)} s after ready; ` +
        `VmRSS/VmHWM MiB: assigned ${first.rss.toFixed(0)}/${first.hwm.toFixed(0)}, after heartbeats ${afterHeartbeats.rss.toFixed(0)}/${afterHeartbeats.hwm.toFixed(0)}, ` +
        `after a full relist ${afterRelist.rss.toFixed(0)}/${afterRelist.hwm.toFixed(0)} (ceiling ${HWM_CEILING_MIB}); ` +
        `one /metrics scrape ${scrapeMs.toFixed(0)} ms (${scrape.split('\n').length} lines, with curl)`,
    );
    expect(afterRelist.hwm).toBeLessThan(HWM_CEILING_MIB);
    // the relist holds the kept objects once, not twice
    expect(afterRelist.hwm).toBeLessThan(first.hwm * 1.25 + 10);
    // Busy is not stalled: passes over every Service, /metrics scrapes of 55,000 lines (polled every 250 ms
    // above) and bursts of watch events, write answers and probe results renew the membership's grant.
    // Before, this test's run fenced the replica 19 times (~0.5 s without answers each); with the renewal
    // between a pass's pieces and scrape families, 0–3 stalls of 0.3–0.5 s about 1–2 s after ready (3 of 10
    // runs); since the event handlers renew too, none in 10 runs. At most one: a loaded CI machine adds
    // pauses of its own.
    expect(stallsOf(l2)).toBeLessThanOrEqual(1);
  });

  test('a restart (SIGTERM, as in a rolling update) adopts every address from status: all answered again, nothing rewritten', async () => {
    const addresses = async () => new Map((await api.list('v1', 'Service')).filter((s: KubeObject) => s.metadata.name.startsWith('svc-'))
      .map((s: KubeObject): [string, string | undefined] => [s.metadata.name, s.status?.loadBalancer?.ingress?.[0]?.ip]));
    const before = await addresses();
    expect(l2.api('GET', '/v1/status').json?.vips?.active).toBe(SERVICES);
    await l2.stop('SIGTERM');
    const requestsBefore = (await statusWrites()).length;
    l2 = await start();
    await waitFor('every address active again', () => l2.api('GET', '/v1/status').json?.vips?.active === SERVICES || undefined, 60_000, 200);
    // answered on the wire, not only counted: a sample from the other namespace
    for (const i of [0, SERVICES / 2, SERVICES - 1]) {
      const ip = before.get(`svc-${String(i).padStart(5, '0')}`)!;
      expect(ndiscMacs(pair.nsB, pair.ifB, ip)).not.toEqual([]);
    }
    await Bun.sleep(2000);
    expect((await statusWrites()).slice(requestsBefore)).toEqual([]);
    expect(await addresses()).toEqual(before);
    // The adoption of 5,000 addresses is long work too: 1–2 stalls in 10 restarts measured, never two in one.
    expect(stallsOf(l2)).toBeLessThanOrEqual(1);
  });
});
