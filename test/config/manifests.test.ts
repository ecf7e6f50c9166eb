/**
 * The manifests under config/ parse, and say what the code needs: RBAC covers every API the controller,
 * the watches and the leader election use (and nothing to write beyond status, events and the Lease), the
 * Deployment runs on hostNetwork with NET_RAW only and two replicas kept apart.
 */
import { describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

// ---------------------------------------------------------------------------------------------------------
// Schema, image reference, kustomize and the systemd unit (issue 10, item 5).
//
// `kubectl apply --dry-run=client -f` cannot check anything here: even with --validate=false it asks an API
// server for the kinds it knows (discovery), and without one it fails for every object ("unable to
// recognize ...: connection refused", kubectl 1.20 from Debian's kubernetes-client and 1.32 alike). So the
// objects are checked offline against the Kubernetes API's own schema as @kubernetes/client-node generates it
// from the OpenAPI document (release-1.36: every field's name and type, and which are required), and
// `kubectl kustomize` (no server needed) renders config/deploy.
// ---------------------------------------------------------------------------------------------------------

const MODELS = join(ROOT, 'node_modules/@kubernetes/client-node/dist/gen/models');
type Attribute = { name: string; baseName: string; type: string };
const modelCache = new Map<string, { attributes: Attribute[]; required: string[] } | undefined>();

/** A model of @kubernetes/client-node: its attributes and the JSON names of its required ones. */
function model(type: string): { attributes: Attribute[]; required: string[] } | undefined {
  if (!modelCache.has(type)) {
    const file = join(MODELS, `${type}.js`);
    if (!existsSync(file)) {
      modelCache.set(type, undefined);
    } else {
      const attributes = (require(file)[type] as { getAttributeTypeMap(): Attribute[] }).getAttributeTypeMap();
      // The generated .d.ts marks optional properties with `?`; the rest are required by the API schema.
      const declared = readFileSync(join(MODELS, `${type}.d.ts`), 'utf8');
      const required = [...declared.matchAll(/^\s+'([^']+)':/gm)].map((m) => attributes.find((a) => a.name === m[1])?.baseName ?? m[1]!);
      modelCache.set(type, { attributes, required });
    }
  }
  return modelCache.get(type);
}

/** What is wrong with `value` as a `type` (a client-node type expression) at `path`; empty when it fits. */
function schemaProblems(value: unknown, type: string, path: string): string[] {
  const is = (ok: boolean, expected: string) => (ok ? [] : [`${path}: expected ${expected}, got ${JSON.stringify(value)}`]);
  if (type === 'any') return [];
  if (type === 'string' || type === 'Date' || type === 'V1MicroTime') return is(typeof value === 'string', 'a string');
  if (type === 'number') return is(typeof value === 'number', 'a number');
  if (type === 'boolean') return is(typeof value === 'boolean', 'true or false');
  if (type === 'IntOrString') return is(typeof value === 'string' || Number.isInteger(value), 'an integer or a string');
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return is(false, 'a list');
    return value.flatMap((v, i) => schemaProblems(v, array[1]!, `${path}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  if (map) {
    if (!isObject) return is(false, 'a mapping');
    return Object.entries(value).flatMap(([k, v]) => schemaProblems(v, map[1]!, `${path}.${k}`));
  }
  const m = model(type);
  if (!m) throw new Error(`${path}: no schema for type ${type}`);
  if (!isObject) return is(false, `an object (${type})`);
  const problems: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const attr = m.attributes.find((a) => a.baseName === k);
    if (!attr) problems.push(`${path}.${k}: unknown field in ${type}`);
    else problems.push(...schemaProblems(v, attr.type, `${path}.${k}`));
  }
  for (const r of m.required) if (!(r in value)) problems.push(`${path}.${r}: required in ${type}, missing`);
  return problems;
}

/** Schema problems of one Kubernetes object, by its apiVersion and kind (`apps/v1` Deployment -> V1Deployment). */
function objectProblems(obj: { apiVersion?: string; kind?: string; metadata?: { name?: string } }): string[] {
  const version = obj.apiVersion?.split('/').pop() ?? '';
  const type = `${version.charAt(0).toUpperCase()}${version.slice(1)}${obj.kind}`;
  const known = ['v1', 'apps/v1', 'rbac.authorization.k8s.io/v1', 'apiextensions.k8s.io/v1'];
  if (!known.includes(obj.apiVersion ?? '') || !model(type)) return [`${obj.kind}/${obj.metadata?.name}: unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`];
  return schemaProblems(obj, type, `${obj.kind}/${obj.metadata?.name}`);
}

const listManifests = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').map((f) => `${dir}/${f}`);

describe('manifests against the Kubernetes API schema', () => {
  test('every object in config/deploy, config/rbac and config/crd has only known fields, of the right types, with the required ones', () => {
    const files = [...listManifests('config/deploy'), ...listManifests('config/rbac'), ...listManifests('config/crd')];
    expect(files).toContain('config/deploy/l2lb.yaml');
    let objects = 0;
    for (const file of files) {
      for (const obj of docs(file)) {
        objects++;
        expect({ file, problems: objectProblems(obj) }).toEqual({ file, problems: [] });
      }
    }
    expect(objects).toBeGreaterThanOrEqual(14);
  });

  test('the check is not vacuous: a misspelt field, a wrong type and a missing required field are each caught', () => {
    const dep = docs('config/deploy/l2lb.yaml').find((d) => d.kind === 'Deployment');
    const typo = structuredClone(dep);
    typo.spec.replicaz = 2;
    expect(objectProblems(typo)).toEqual(['Deployment/l2lb.spec.replicaz: unknown field in V1DeploymentSpec']);
    const wrongType = structuredClone(dep);
    wrongType.spec.template.spec.containers[0].ports[0].containerPort = '9470';
    expect(objectProblems(wrongType)).toEqual(['Deployment/l2lb.spec.template.spec.containers[0].ports[0].containerPort: expected a number, got "9470"']);
    const noName = structuredClone(dep);
    delete noName.spec.template.spec.containers[0].name;
    expect(objectProblems(noName)).toEqual(['Deployment/l2lb.spec.template.spec.containers[0].name: required in V1Container, missing']);
    const rbac = docs('config/rbac/l2lb.yaml').find((d) => d.kind === 'ClusterRoleBinding');
    delete rbac.roleRef.kind;
    expect(objectProblems(rbac)).toEqual(['ClusterRoleBinding/l2lb.roleRef.kind: required in V1RoleRef, missing']);
  });
});

describe('image reference and version: package.json -> config/deploy/kustomization.yaml', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const kustomization = () => docs('config/deploy/kustomization.yaml')[0] as { resources: string[]; images: { name: string; newName: string; newTag: string }[] };

  test("the kustomization's l2lb image carries package.json's version, and the plain manifests the same reference", () => {
    const image = kustomization().images.find((i) => i.name === 'l2lb')!;
    expect(image.newTag).toBe(pkg.version);
    const reference = `${image.newName}:${image.newTag}`;
    for (const file of ['config/deploy/l2lb.yaml', 'config/deploy/l2lb-daemonset.yaml']) {
      const workload = docs(file).find((d) => d.kind === 'Deployment' || d.kind === 'DaemonSet');
      expect({ file, image: workload.spec.template.spec.containers[0].image }).toEqual({ file, image: reference });
    }
    expect(readFileSync(join(ROOT, 'Containerfile'), 'utf8')).toContain(`\nARG VERSION=${pkg.version}\n`);
  });

  test('the release script brings every reference to a new package.json version, and then has nothing to change', async () => {
    const { syncImageReferences } = await import('../../build/release.ts');
    expect(syncImageReferences(ROOT, { write: false })).toEqual([]);
    const dir = tempDir('l2lb-sync-');
    const { cpSync } = await import('node:fs');
    for (const f of ['Containerfile', 'config/deploy/kustomization.yaml', 'config/deploy/l2lb.yaml', 'config/deploy/l2lb-daemonset.yaml']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
    writeFileSyncJson(join(dir, 'package.json'), { ...pkg, version: '9.8.7' });
    const changes = syncImageReferences(dir, { write: true });
    expect(changes.map((c) => `${c.file} ${c.from} -> ${c.to}`).sort()).toEqual([
      `Containerfile ${pkg.version} -> 9.8.7`,
      `config/deploy/kustomization.yaml ${pkg.version} -> 9.8.7`,
      `config/deploy/l2lb-daemonset.yaml l2lb:${pkg.version} -> l2lb:9.8.7`,
      `config/deploy/l2lb.yaml l2lb:${pkg.version} -> l2lb:9.8.7`,
    ]);
    expect(readFileSync(join(dir, 'config/deploy/kustomization.yaml'), 'utf8')).toContain('newTag: 9.8.7');
    expect(readFileSync(join(dir, 'config/deploy/l2lb.yaml'), 'utf8')).toContain('image: l2lb:9.8.7');
    expect(syncImageReferences(dir, { write: true })).toEqual([]);
    // Comments and the rest of each file are left as they were.
    expect(readFileSync(join(dir, 'config/deploy/l2lb.yaml'), 'utf8').replace('l2lb:9.8.7', `l2lb:${pkg.version}`)).toBe(readFileSync(join(ROOT, 'config/deploy/l2lb.yaml'), 'utf8'));
  });
});

const kubectl = Bun.which('kubectl');
if (!kubectl) console.warn('SKIP kubectl kustomize: kubectl is not installed');
describe.skipIf(!kubectl)('kubectl kustomize config/deploy (offline)', () => {
  test('renders the namespace, the RBAC and the Deployment, with the image from the kustomization, all valid against the schema', () => {
    // HOME elsewhere: no kubeconfig of this machine is read (kustomize needs none).
    const r = Bun.spawnSync([kubectl!, 'kustomize', join(ROOT, 'config/deploy')], { env: { PATH: process.env.PATH ?? '', HOME: tempDir('l2lb-kubectl-') }, stdout: 'pipe', stderr: 'pipe' });
    expect(r.stderr.toString()).toBe('');
    expect(r.exitCode).toBe(0);
    const rendered = YAML.parseAllDocuments(r.stdout.toString()).map((d) => d.toJS());
    const ids = (objs: { kind: string; metadata: { name: string } }[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    const expected = [...docs('config/deploy/namespace.yaml'), ...docs('config/rbac/l2lb.yaml'), ...docs('config/deploy/l2lb.yaml')];
    expect(ids(rendered)).toEqual(ids(expected));
    for (const obj of rendered) expect(objectProblems(obj)).toEqual([]);
    const image = (docs('config/deploy/kustomization.yaml')[0] as { images: { newName: string; newTag: string }[] }).images[0]!;
    expect(rendered.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0].image).toBe(`${image.newName}:${image.newTag}`);
    // Namespaced objects land in l2lb-system, the namespace comes first (applied before what lives in it).
    expect(rendered[0].kind).toBe('Namespace');
  });
});

const systemdAnalyze = Bun.which('systemd-analyze');
if (!systemdAnalyze) console.warn('SKIP systemd unit: systemd-analyze is not installed');
describe.skipIf(!systemdAnalyze)('the systemd unit', () => {
  test('systemd-analyze verify accepts config/deploy/l2lb.service without a warning', () => {
    // verify also checks that ExecStart is executable: point it at a file that is, everything else as shipped.
    const dir = tempDir('l2lb-unit-');
    const unit = readFileSync(join(ROOT, 'config/deploy/l2lb.service'), 'utf8');
    expect(unit).toContain('ExecStart=/usr/local/bin/l2lb run');
    writeFileSyncText(join(dir, 'l2lb.service'), unit.replace('ExecStart=/usr/local/bin/l2lb', `ExecStart=${process.execPath}`));
    const r = Bun.spawnSync([systemdAnalyze!, 'verify', join(dir, 'l2lb.service')], { stdout: 'pipe', stderr: 'pipe' });
    const output = `${r.stdout.toString()}${r.stderr.toString()}`;
    expect(output.split('\n').filter((l) => l.includes('l2lb.service'))).toEqual([]);
    expect(r.exitCode).toBe(0);
  });

  test('a misspelt directive would be reported (the check is not vacuous)', () => {
    const dir = tempDir('l2lb-unit-bad-');
    const unit = readFileSync(join(ROOT, 'config/deploy/l2lb.service'), 'utf8').replace('ExecStart=/usr/local/bin/l2lb', `ExecStart=${process.execPath}`).replace('NoNewPrivileges=', 'NoNewPrivilege=');
    writeFileSyncText(join(dir, 'l2lb.service'), unit);
    const r = Bun.spawnSync([systemdAnalyze!, 'verify', join(dir, 'l2lb.service')], { stdout: 'pipe', stderr: 'pipe' });
    expect(r.stderr.toString()).toContain("Unknown key 'NoNewPrivilege'");
  });
});

function writeFileSyncJson(path: string, value: unknown): void {
  writeFileSyncText(path, `${JSON.stringify(value, null, 2)}\n`);
}

function writeFileSyncText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
