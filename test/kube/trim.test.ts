/**
 * Keep only what is read (src/kube/trim.ts): each field l2lb reads survives the cut, each other one is gone,
 * and an update that touches only dropped fields leaves a kept object that equals the stored one but for its
 * resourceVersion (so the informer wakes nobody).
 */
import { describe, expect, test } from 'bun:test';
import { sameExceptVersion, trimEip, trimEndpointSlice, trimNamespace, trimNode, trimService } from '../../src/kube/trim.ts';
import { claimOf, endpointNodes, isOurs, nodeInfo } from '../../src/kube/selection.ts';
import { kubeletNode } from '../support/kube/nodes.ts';

const MANAGED = [{ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'v1', time: '2024-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:type': {} } } }];

/** A LoadBalancer Service as the API server returns it, with everything a cluster puts on one. */
function rawService(): any {
  return {
    kind: 'Service', apiVersion: 'v1',
    metadata: {
      name: 'web', namespace: 'shop', uid: 'u-1', resourceVersion: '100', generation: 1,
      creationTimestamp: '2024-01-01T00:00:00Z', deletionTimestamp: '2024-01-02T00:00:00Z', finalizers: ['service.kubernetes.io/load-balancer-cleanup'],
      labels: { app: 'web', 'eip.openelb.kubesphere.io/v1alpha2': 'lan' },
      annotations: {
        'lb.kubesphere.io/v1alpha1': 'openelb', 'eip.openelb.kubesphere.io/v1alpha1': '192.0.2.5', 'eip.openelb.kubesphere.io/v1alpha2': 'lan',
        'l2lb.io/allow-shared-ip': 'k', 'l2lb.io/serving-node': '192.0.2.5=n1', 'l2lb.io/prefer': 'strict',
        'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1","kind":"Service","metadata":{}}',
        'meta.helm.sh/release-name': 'shop',
      },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Thing', name: 'o', uid: 'x' }],
      managedFields: MANAGED,
    },
    spec: {
      type: 'LoadBalancer', loadBalancerClass: 'l2lb.io/layer2', loadBalancerIP: '192.0.2.5', ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack',
      externalTrafficPolicy: 'Local', healthCheckNodePort: 31000, internalTrafficPolicy: 'Cluster', sessionAffinity: 'None',
      allocateLoadBalancerNodePorts: true, clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00::a'], selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53, nodePort: 30053 }],
    },
    status: {
      loadBalancer: { ingress: [{ ip: '192.0.2.5', ipMode: 'VIP', ports: [{ port: 80, protocol: 'TCP' }] }, { hostname: 'lb.example.com' }] },
      conditions: [{ type: 'other.io/Thing', status: 'True', reason: 'R', message: 'm', lastTransitionTime: '2024-01-01T00:00:00Z', observedGeneration: 1 }],
    },
  };
}

/** Sets `path` (dotted, numeric parts index arrays) in a copy of `obj`. */
function withPath(obj: any, path: string, value: unknown): any {
  const copy = structuredClone(obj);
  const parts = path.split('.');
  let at = copy;
  for (const p of parts.slice(0, -1)) at = at[p] ??= {};
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

/** For each path: changing it (and the resourceVersion) changes the kept object, or does not. */
function expectKept(trim: (raw: unknown) => any, raw: any, kept: [string, unknown][], dropped: [string, unknown][]): void {
  const before = trim(raw);
  for (const [path, value] of kept) {
    const after = trim(withPath(withPath(raw, 'metadata.resourceVersion', '101'), path, value));
    expect({ path, same: after !== undefined && sameExceptVersion(before, after) }).toEqual({ path, same: false });
  }
  for (const [path, value] of dropped) {
    const after = trim(withPath(withPath(raw, 'metadata.resourceVersion', '101'), path, value));
    expect({ path, same: sameExceptVersion(before, after) }).toEqual({ path, same: true });
    expect(after.metadata.resourceVersion).toBe('101');
  }
}

describe('trimService', () => {
  test('keeps identity, the pool label, our annotations, what allocation and node choice read, ingress and conditions; nothing else', () => {
    expect(trimService(rawService())).toEqual({
      metadata: {
        name: 'web', namespace: 'shop', uid: 'u-1', resourceVersion: '100', creationTimestamp: '2024-01-01T00:00:00Z', deletionTimestamp: '2024-01-02T00:00:00Z',
        labels: { 'eip.openelb.kubesphere.io/v1alpha2': 'lan' },
        annotations: {
          'lb.kubesphere.io/v1alpha1': 'openelb', 'eip.openelb.kubesphere.io/v1alpha1': '192.0.2.5', 'eip.openelb.kubesphere.io/v1alpha2': 'lan',
          'l2lb.io/allow-shared-ip': 'k', 'l2lb.io/serving-node': '192.0.2.5=n1', 'l2lb.io/prefer': 'strict',
        },
      },
      spec: {
        type: 'LoadBalancer', loadBalancerClass: 'l2lb.io/layer2', loadBalancerIP: '192.0.2.5', ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack',
        externalTrafficPolicy: 'Local', ports: [{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }],
      },
      status: {
        loadBalancer: { ingress: [{ ip: '192.0.2.5', ipMode: 'VIP' }, { hostname: 'lb.example.com' }] },
        conditions: [{ type: 'other.io/Thing', status: 'True', reason: 'R', message: 'm', lastTransitionTime: '2024-01-01T00:00:00Z', observedGeneration: 1 }],
      },
    });
  });

  test('each kept field is kept and each dropped one dropped: a change to a dropped field alone changes nothing kept', () => {
    const raw = rawService();
    const ann = (k: string, v: string | undefined) => ({ ...raw.metadata.annotations, [k]: v });
    const before = trimService(raw)!;
    const change = (f: (o: any) => void) => {
      const o = structuredClone(raw);
      o.metadata.resourceVersion = '101';
      f(o);
      return sameExceptVersion(before, trimService(o)!);
    };
    // kept
    for (const k of ['lb.kubesphere.io/v1alpha1', 'eip.openelb.kubesphere.io/v1alpha1', 'eip.openelb.kubesphere.io/v1alpha2', 'l2lb.io/allow-shared-ip', 'l2lb.io/serving-node', 'l2lb.io/prefer']) {
      expect({ k, same: change((o) => (o.metadata.annotations = ann(k, 'changed'))) }).toEqual({ k, same: false });
    }
    expect(change((o) => (o.metadata.labels['eip.openelb.kubesphere.io/v1alpha2'] = 'other'))).toBe(false);
    expect(change((o) => (o.spec.type = 'ClusterIP'))).toBe(false);
    expect(change((o) => (o.spec.loadBalancerClass = 'other'))).toBe(false);
    expect(change((o) => (o.spec.loadBalancerIP = '192.0.2.6'))).toBe(false);
    expect(change((o) => (o.spec.ipFamilies = ['IPv6']))).toBe(false);
    expect(change((o) => (o.spec.ipFamilyPolicy = 'SingleStack'))).toBe(false);
    expect(change((o) => (o.spec.externalTrafficPolicy = 'Cluster'))).toBe(false);
    expect(change((o) => (o.spec.ports[0].port = 81))).toBe(false);
    expect(change((o) => (o.spec.ports[1].protocol = 'TCP'))).toBe(false);
    expect(change((o) => o.spec.ports.pop())).toBe(false);
    expect(change((o) => (o.status.loadBalancer.ingress[0].ip = '192.0.2.9'))).toBe(false);
    expect(change((o) => (o.status.loadBalancer.ingress[0].ipMode = 'Proxy'))).toBe(false);
    expect(change((o) => (o.status.conditions[0].observedGeneration = 2))).toBe(false);
    expect(change((o) => (o.metadata.uid = 'u-2'))).toBe(false);
    expect(change((o) => (o.metadata.creationTimestamp = '2024-02-01T00:00:00Z'))).toBe(false);
    expect(change((o) => delete o.metadata.deletionTimestamp)).toBe(false);
    // dropped
    expect(change((o) => (o.metadata.managedFields = [...MANAGED, { ...MANAGED[0], manager: 'l2lb', subresource: 'status' }]))).toBe(true);
    expect(change((o) => (o.metadata.annotations = ann('kubectl.kubernetes.io/last-applied-configuration', '{"changed":true}')))).toBe(true);
    expect(change((o) => (o.metadata.annotations = ann('meta.helm.sh/release-name', undefined)))).toBe(true);
    expect(change((o) => (o.metadata.labels.app = 'web2'))).toBe(true);
    expect(change((o) => (o.metadata.generation = 2))).toBe(true);
    expect(change((o) => (o.metadata.finalizers = []))).toBe(true);
    expect(change((o) => (o.metadata.ownerReferences = []))).toBe(true);
    expect(change((o) => (o.spec.selector = { app: 'web2' }))).toBe(true);
    expect(change((o) => (o.spec.sessionAffinity = 'ClientIP'))).toBe(true);
    expect(change((o) => (o.spec.healthCheckNodePort = 31001))).toBe(true);
    expect(change((o) => (o.spec.internalTrafficPolicy = 'Local'))).toBe(true);
    expect(change((o) => (o.spec.clusterIPs = ['10.96.0.11']))).toBe(true);
    expect(change((o) => (o.spec.ports[0].targetPort = 9090))).toBe(true);
    expect(change((o) => (o.spec.ports[0].nodePort = 30081))).toBe(true);
    expect(change((o) => (o.spec.ports[0].name = 'web'))).toBe(true);
    expect(change((o) => (o.status.loadBalancer.ingress[0].ports = []))).toBe(true);
  });

  test('a Service of another type keeps only its type of the spec (becoming a LoadBalancer is an update that brings the rest)', () => {
    const raw = rawService();
    raw.spec.type = 'ClusterIP';
    const kept = trimService(raw)!;
    expect(kept.spec).toEqual({ type: 'ClusterIP' });
    // creation time orders allocation only: not kept for a Service that is not a LoadBalancer
    expect(kept.metadata.creationTimestamp).toBeUndefined();
    expect(kept.metadata.uid).toBe('u-1');
    expect(kept.metadata.labels).toEqual({ 'eip.openelb.kubesphere.io/v1alpha2': 'lan' });
    expect(kept.status?.loadBalancer?.ingress?.[0]?.ip).toBe('192.0.2.5');
    expect(isOurs(kept, { loadBalancerClass: 'l2lb.io/layer2', claimUnclassed: true })).toBe(false);
  });

  test('an empty status (no ingress, no conditions) is left out; so is an empty ingress list', () => {
    const raw = rawService();
    raw.status = { loadBalancer: {} };
    expect(trimService(raw)!.status).toBeUndefined();
    raw.status = { loadBalancer: { ingress: [] }, conditions: [] };
    expect(trimService(raw)!.status).toBeUndefined();
    raw.status = { conditions: [{ type: 'x', status: 'True' }] };
    expect(trimService(raw)!.status).toEqual({ conditions: [{ type: 'x', status: 'True' }] });
  });

  test('what the decisions read of a kept Service is what they read of the whole one', () => {
    const raw = rawService();
    delete raw.metadata.deletionTimestamp;
    const cfg = { loadBalancerClass: 'l2lb.io/layer2', claimUnclassed: false };
    expect(claimOf(trimService(raw)!)).toEqual(claimOf(raw));
    expect(isOurs(trimService(raw)!, cfg)).toBe(isOurs(raw, cfg));
    expect(isOurs(trimService(raw)!, cfg)).toBe(true);
  });

  test('parts alike in many Services (ports, families, our annotations, the pool label) are one shared, frozen copy', () => {
    const a = trimService(rawService())!;
    const b = trimService(withPath(withPath(rawService(), 'metadata.name', 'other'), 'metadata.uid', 'u-2'))!;
    expect(b.spec!.ports).toBe(a.spec!.ports);
    expect(b.spec!.ipFamilies).toBe(a.spec!.ipFamilies);
    expect(b.metadata.annotations).toBe(a.metadata.annotations);
    expect(b.metadata.labels).toBe(a.metadata.labels);
    // What differs is not shared, and each keeps its own value.
    const c = trimService(withPath(withPath(rawService(), 'spec.ports.0.port', 81), 'metadata.labels', { 'eip.openelb.kubesphere.io/v1alpha2': 'wan' }))!;
    expect(c.spec!.ports).not.toBe(a.spec!.ports);
    expect(c.spec!.ports).toEqual([{ port: 81, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }]);
    expect(c.metadata.labels).toEqual({ 'eip.openelb.kubesphere.io/v1alpha2': 'wan' });
    expect(a.metadata.labels).toEqual({ 'eip.openelb.kubesphere.io/v1alpha2': 'lan' });
    // A write through one Service would change every other: it throws instead.
    expect(() => { (b.spec!.ports![0] as { port: number }).port = 1; }).toThrow(TypeError);
    expect(() => { b.metadata.labels!.x = 'y'; }).toThrow(TypeError);
    expect(a.spec!.ports![0]!.port).toBe(80);
  });

  test('the shared table is bounded: past its size it starts over and every object still keeps its own values', () => {
    const first = trimService(rawService())!;
    const many = Array.from({ length: 5_000 }, (_, i) => trimService(withPath(rawService(), 'spec.ports', [{ port: 1000 + i, protocol: 'TCP' }]))!);
    for (const [i, s] of many.entries()) expect(s.spec!.ports).toEqual([{ port: 1000 + i, protocol: 'TCP' }]);
    expect(first.spec!.ports).toEqual([{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }]);
    // Sharing goes on after the table started over.
    expect(trimService(rawService())!.spec!.ports).toBe(trimService(rawService())!.spec!.ports);
  });
});

describe('trimNode', () => {
  const raw = () => kubeletNode('node-1', { internalIPs: ['10.0.0.5', 'fd00::5'], labels: { zone: 'a' }, taints: [{ key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' }, { key: 'dedicated', value: 'x', effect: 'NoSchedule' }] });

  test('a kubelet-sized Node (~12 KB) keeps its name, labels, InternalIPs, Ready and the out-of-service taint (under 1 KB)', () => {
    const node = raw();
    node.metadata.uid = 'n-1';
    node.metadata.resourceVersion = '7';
    node.metadata.managedFields = MANAGED;
    node.spec.unschedulable = true;
    const kept = trimNode(node)!;
    expect(kept).toEqual({
      metadata: { name: 'node-1', uid: 'n-1', resourceVersion: '7', labels: node.metadata.labels },
      spec: { taints: [{ key: 'node.kubernetes.io/out-of-service', effect: 'NoExecute' }] },
      status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'InternalIP', address: 'fd00::5' }] },
    });
    expect(JSON.stringify(node).length).toBeGreaterThan(10_000);
    expect(JSON.stringify(kept).length).toBeLessThan(1_000);
    expect(nodeInfo(kept)).toEqual(nodeInfo(node));
  });

  test('each kept field is kept and each dropped one dropped: heartbeats, images, nodeInfo and cordons change nothing kept', () => {
    const node = raw();
    node.metadata.resourceVersion = '7';
    const before = trimNode(node)!;
    const change = (f: (o: any) => void) => {
      const o = structuredClone(node);
      o.metadata.resourceVersion = '8';
      f(o);
      return sameExceptVersion(before, trimNode(o)!);
    };
    const ready = (o: any) => o.status.conditions.find((c: any) => c.type === 'Ready');
    // kept
    expect(change((o) => (o.metadata.labels.zone = 'b'))).toBe(false);
    expect(change((o) => (o.metadata.labels['node.kubernetes.io/exclude-from-external-load-balancers'] = ''))).toBe(false);
    expect(change((o) => (ready(o).status = 'False'))).toBe(false);
    expect(change((o) => (o.status.addresses[0].address = '10.0.0.6'))).toBe(false);
    expect(change((o) => o.status.addresses.splice(1, 1))).toBe(false);
    expect(change((o) => (o.spec.taints = o.spec.taints.slice(1)))).toBe(false);
    // dropped
    expect(change((o) => o.status.conditions.forEach((c: any) => (c.lastHeartbeatTime = '2030-01-01T00:00:00Z')))).toBe(true);
    expect(change((o) => (ready(o).lastTransitionTime = '2030-01-01T00:00:00Z'))).toBe(true);
    expect(change((o) => (ready(o).message = 'something else'))).toBe(true);
    expect(change((o) => (o.status.conditions[1].status = 'True'))).toBe(true);
    expect(change((o) => o.status.images.reverse())).toBe(true);
    expect(change((o) => (o.status.nodeInfo.bootID = 'new-boot'))).toBe(true);
    expect(change((o) => (o.status.allocatable.pods = '100'))).toBe(true);
    expect(change((o) => (o.status.capacity.cpu = '8'))).toBe(true);
    expect(change((o) => (o.status.daemonEndpoints.kubeletEndpoint.Port = 10251))).toBe(true);
    expect(change((o) => (o.status.addresses.find((a: any) => a.type === 'Hostname').address = 'other'))).toBe(true);
    expect(change((o) => (o.metadata.annotations['node.alpha.kubernetes.io/ttl'] = '30'))).toBe(true);
    expect(change((o) => (o.metadata.managedFields = MANAGED))).toBe(true);
    expect(change((o) => (o.spec.unschedulable = true))).toBe(true);
    expect(change((o) => o.spec.taints.push({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }))).toBe(true);
    expect(change((o) => (o.spec.podCIDR = '10.1.0.0/24'))).toBe(true);
  });

  test('a Node without status keeps no status; a NotReady one says so', () => {
    expect(trimNode({ metadata: { name: 'bare' } })).toEqual({ metadata: { name: 'bare' } });
    expect(nodeInfo(trimNode(kubeletNode('down', { ready: false }))!).ready).toBe(false);
  });
});

describe('trimNamespace, trimEip, trimEndpointSlice', () => {
  test('a Namespace keeps its name and labels; spec, status, annotations and managedFields go', () => {
    const raw = {
      metadata: { name: 'team-a', uid: 'ns-1', resourceVersion: '3', labels: { tier: 'gold', 'kubernetes.io/metadata.name': 'team-a' }, annotations: { a: 'b' }, managedFields: MANAGED },
      spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' },
    };
    expect(trimNamespace(raw)).toEqual({ metadata: { name: 'team-a', uid: 'ns-1', resourceVersion: '3', labels: { tier: 'gold', 'kubernetes.io/metadata.name': 'team-a' } } });
    expectKept(trimNamespace, raw, [['metadata.labels', { tier: 'silver' }]], [['metadata.annotations', {}], ['status', { phase: 'Terminating' }], ['metadata.managedFields', []]]);
  });

  test('an Eip keeps identity, the annotations read, spec and status whole (used addresses are cleared by name)', () => {
    const raw = {
      apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip',
      metadata: {
        name: 'lan', uid: 'e-1', resourceVersion: '9', creationTimestamp: '2024-01-01T00:00:00Z', generation: 3, managedFields: MANAGED,
        labels: { team: 'net' },
        annotations: { 'eip.openelb.kubesphere.io/is-default-eip': 'true', 'l2lb.io/node-selector': 'zone=a', 'l2lb.io/preferred-nodes': 'zone=a;zone=b', 'l2lb.io/prefer': 'strict', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      },
      spec: { address: '192.0.2.0/24', protocol: 'layer2', interface: 'eth0', priority: 1, namespaces: ['a'], namespaceSelector: { tier: 'gold' } },
      status: { used: { '192.0.2.1': 'a/web' }, usage: 1, poolSize: 254, ready: true, v4: true, firstIP: '192.0.2.1', lastIP: '192.0.2.254', occupied: false },
    };
    expect(trimEip(raw)).toEqual({
      kind: 'Eip',
      metadata: {
        name: 'lan', uid: 'e-1', resourceVersion: '9', creationTimestamp: '2024-01-01T00:00:00Z',
        annotations: { 'eip.openelb.kubesphere.io/is-default-eip': 'true', 'l2lb.io/node-selector': 'zone=a', 'l2lb.io/preferred-nodes': 'zone=a;zone=b', 'l2lb.io/prefer': 'strict' },
      },
      spec: raw.spec,
      status: raw.status,
    });
    expectKept(trimEip, raw, [['spec.priority', 2], ['status.used', {}], ['metadata.annotations', {}]],
      [['metadata.labels', {}], ['metadata.generation', 4], ['metadata.managedFields', []]]);
  });

  test('an EndpointSlice keeps its Service and, once per node and state, which nodes have endpoints and whether ready', () => {
    const ep = (ip: string, nodeName: string | undefined, ready: boolean | null | undefined) => ({
      addresses: [ip], conditions: { ready, serving: ready, terminating: false }, nodeName, zone: 'a', targetRef: { kind: 'Pod', name: `pod-${ip}`, namespace: 'shop', uid: ip },
    });
    const raw = {
      kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1',
      metadata: { name: 'web-abc', namespace: 'shop', uid: 's-1', resourceVersion: '5', generation: 2, managedFields: MANAGED, labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' }, ownerReferences: [] },
      addressType: 'IPv4',
      endpoints: [ep('10.0.0.1', 'n2', true), ep('10.0.0.2', 'n1', null), ep('10.0.0.3', 'n2', true), ep('10.0.0.4', 'n3', false), ep('10.0.0.5', undefined, true)],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    };
    const kept = trimEndpointSlice(raw)!;
    expect(kept).toEqual({
      metadata: { name: 'web-abc', namespace: 'shop', uid: 's-1', resourceVersion: '5', labels: { 'kubernetes.io/service-name': 'web' } },
      endpoints: [{ nodeName: 'n3', conditions: { ready: false } }, { nodeName: 'n1', conditions: { ready: true } }, { nodeName: 'n2', conditions: { ready: true } }],
    });
    expect(endpointNodes([kept])).toEqual(endpointNodes([raw as never]));
    // a pod replaced on the same node, a port renamed: nothing kept changes
    const moved = structuredClone(raw);
    moved.metadata.resourceVersion = '6';
    moved.endpoints[0] = ep('10.0.0.9', 'n2', true);
    moved.ports[0]!.name = 'web';
    expect(sameExceptVersion(kept, trimEndpointSlice(moved)!)).toBe(true);
    const gone = structuredClone(raw);
    gone.endpoints = gone.endpoints.filter((e) => e.nodeName !== 'n1');
    expect(sameExceptVersion(kept, trimEndpointSlice(gone)!)).toBe(false);
  });
});

describe('odd input', () => {
  test('never throws: no name, wrong types and non-objects come back undefined or without the odd field', () => {
    for (const trim of [trimService, trimNode, trimNamespace, trimEip, trimEndpointSlice]) {
      for (const raw of [null, undefined, 42, 'x', [], {}, { metadata: null }, { metadata: { name: 5 } }, { metadata: { name: '' } }]) {
        expect(trim(raw)).toBeUndefined();
      }
      expect(() => trim({ metadata: { name: 'a', labels: 'x', annotations: [1] }, spec: 'x', status: [], endpoints: 'x' })).not.toThrow();
    }
    expect(trimService({ metadata: { name: 'a' }, spec: { type: 'LoadBalancer', ports: [null, { port: '80' }, { port: 80 }], ipFamilies: [1, 'IPv4'] }, status: { loadBalancer: { ingress: [null, { ip: 1 }] } } }))
      .toEqual({ metadata: { name: 'a' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }], ipFamilies: ['IPv4'] }, status: { loadBalancer: { ingress: [{}] } } });
    expect(trimNode({ metadata: { name: 'n', labels: { a: 1, b: 'x' } }, status: { conditions: [{ type: 'Ready' }], addresses: [{ type: 'InternalIP' }] } }))
      .toEqual({ metadata: { name: 'n', labels: { b: 'x' } }, status: { conditions: [], addresses: [] } });
  });
});
