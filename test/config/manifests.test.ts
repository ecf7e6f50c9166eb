/**
 * The manifests under config/ parse, and say what the code needs: RBAC covers every API the controller,
 * the watches and the leader election use (and nothing to write beyond status, events and the Lease), the
 * Deployment runs on hostNetwork with NET_RAW only and two replicas kept apart.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { tempDir } from '../support/tmp.ts';

const ROOT = join(import.meta.dir, '../..');
const docs = (path: string) => YAML.parseAllDocuments(readFileSync(join(ROOT, path), 'utf8')).map((d) => {
  expect(d.errors).toEqual([]);
  return d.toJS();
});

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
function allows(rules: Rule[], group: string, resource: string, verb: string): boolean {
  return rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
}

describe('manifests', () => {
  test('RBAC grants what l2lb uses, and writes only status, events and its Lease', () => {
    const all = docs('config/rbac/l2lb.yaml');
    const cluster = all.find((d) => d.kind === 'ClusterRole').rules as Rule[];
    const lease = all.find((d) => d.kind === 'Role').rules as Rule[];
    for (const [g, r] of [['', 'services'], ['', 'namespaces'], ['', 'nodes'], ['network.kubesphere.io', 'eips']]) {
      for (const verb of ['list', 'watch']) expect(allows(cluster, g!, r!, verb)).toBe(true);
    }
    expect(allows(cluster, 'discovery.k8s.io', 'endpointslices', 'watch')).toBe(true);
    expect(allows(cluster, '', 'services/status', 'patch')).toBe(true);
    expect(allows(cluster, 'network.kubesphere.io', 'eips/status', 'patch')).toBe(true);
    expect(allows(cluster, '', 'events', 'create')).toBe(true);
    for (const verb of ['get', 'create', 'update']) expect(allows(lease, 'coordination.k8s.io', 'leases', verb)).toBe(true);
    // least privilege: no writes to the main resources, no secrets
    expect(allows(cluster, '', 'services', 'patch') || allows(cluster, '', 'services', 'update')).toBe(false);
    expect(cluster.some((r) => r.resources.includes('secrets'))).toBe(false);
    expect(all.find((d) => d.kind === 'Role').metadata.namespace).toBe('l2lb-system');
  });

  test('the Eip CRD is network.kubesphere.io/v1alpha2, cluster-scoped, with a status subresource', () => {
    const [crd] = docs('config/crd/eips.network.kubesphere.io.yaml');
    expect(crd.spec.group).toBe('network.kubesphere.io');
    expect(crd.spec.scope).toBe('Cluster');
    const v = crd.spec.versions.find((x: { name: string }) => x.name === 'v1alpha2');
    expect(v.subresources).toEqual({ status: {} });
    expect(Object.keys(v.schema.openAPIV3Schema.properties.spec.properties).sort()).toEqual(
      ['address', 'disable', 'interface', 'namespaceSelector', 'namespaces', 'priority', 'protocol', 'usingKnownIPs'],
    );
    expect(Object.keys(v.schema.openAPIV3Schema.properties.status.properties).sort()).toEqual(
      ['firstIP', 'lastIP', 'occupied', 'poolSize', 'ready', 'usage', 'used', 'v4'],
    );
  });

  test('the Deployment: 2 replicas, hostNetwork, NET_RAW only, anti-affinity, probes on /healthz and /readyz, a valid config', async () => {
    const all = docs('config/deploy/l2lb.yaml');
    const dep = all.find((d) => d.kind === 'Deployment');
    expect(dep.spec.replicas).toBe(2);
    const pod = dep.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.serviceAccountName).toBe('l2lb');
    expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe('kubernetes.io/hostname');
    const c = pod.containers[0];
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_RAW'] });
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    // The embedded config is one l2lb accepts.
    const { loadConfig } = await import('../../src/config/load.ts');
    const cm = all.find((d) => d.kind === 'ConfigMap');
    const { writeFileSync } = await import('node:fs');
    const dir = tempDir('l2lb-manifest-');
    writeFileSync(join(dir, 'token'), 'x');
    // The Secrets' values, where the pod mounts them.
    const secret = (name: string) => all.find((d) => d.kind === 'Secret' && d.metadata.name === name);
    writeFileSync(join(dir, 'key'), secret('l2lb-membership-key').stringData.key);
    const cfgText = cm.data['l2lb.yaml'].replace('/etc/l2lb/token/token', join(dir, 'token')).replace('/etc/l2lb/membership/key', join(dir, 'key'));
    writeFileSync(join(dir, 'l2lb.yaml'), cfgText);
    const loaded = loadConfig({ file: join(dir, 'l2lb.yaml'), env: {} }).config;
    expect(loaded.mode).toBe('kubernetes');
    // Heartbeats are authenticated in the manifests, with the key from its Secret, mounted in the pod.
    expect(loaded.membership.key).toBe(secret('l2lb-membership-key').stringData.key);
    const mounts = c.volumeMounts.map((m: { mountPath: string }) => m.mountPath);
    expect(mounts).toContain('/etc/l2lb/membership');
  });

  test('the DaemonSet (per-node mode): hostNetwork, NET_RAW only, NODE_NAME from the downward API, a valid config', async () => {
    const all = docs('config/deploy/l2lb-daemonset.yaml');
    const ds = all.find((d) => d.kind === 'DaemonSet');
    expect(ds.spec.updateStrategy.rollingUpdate.maxUnavailable).toBe(1);
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.serviceAccountName).toBe('l2lb');
    const c = pod.containers[0];
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_RAW'] });
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(c.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    const { loadConfig } = await import('../../src/config/load.ts');
    const { writeFileSync } = await import('node:fs');
    const dir = tempDir('l2lb-manifest-ds-');
    writeFileSync(join(dir, 'token'), 'x');
    const secret = (name: string) => all.find((d) => d.kind === 'Secret' && d.metadata.name === name);
    writeFileSync(join(dir, 'key'), secret('l2lb-membership-key').stringData.key);
    const cm = all.find((d) => d.kind === 'ConfigMap');
    const cfgText = cm.data['l2lb.yaml'].replace('/etc/l2lb/token/token', join(dir, 'token')).replace('/etc/l2lb/membership/key', join(dir, 'key'));
    writeFileSync(join(dir, 'l2lb.yaml'), cfgText);
    const file = join(dir, 'l2lb.yaml');
    // The node's name is what the downward API puts in NODE_NAME; without it the config is refused.
    const loaded = loadConfig({ file, env: { NODE_NAME: 'worker-3' } }).config;
    expect(loaded.kubernetes.announce).toBe('self');
    expect(loaded.kubernetes.nodeName).toBe('worker-3');
    expect(loaded.membership.key).toBe(secret('l2lb-membership-key').stringData.key);
    expect(() => loadConfig({ file, env: {} })).toThrow(/kubernetes\.nodeName|NODE_NAME/);
    // The same ServiceAccount as the Deployment: config/rbac covers both.
    expect(c.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toContain('/etc/l2lb/membership');
  });
});
