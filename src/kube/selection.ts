/**
 * Pure decisions over Kubernetes objects: which Services are ours, what each asks of the allocator, which
 * pools the cluster and the config declare, and what an Eip's status should say.
 */
import type { KubernetesConfig, PoolConfig } from '../config/schema.ts';
import { formatIP } from '../net/ip.ts';
import { parseLabelSelector } from '../net/labels.ts';
import type { PoolSpec, Pool } from '../ipam/pool.ts';
import { SINGLE_FAMILY, type ServiceClaim, type ServicePort } from '../ipam/allocate.ts';
import type { NodeInfo } from '../announce/nodes.ts';
import type { ListSelection } from './informer.ts';
import {
  LABEL_EXCLUDE_LB, LABEL_SERVICE_NAME, type EndpointSlice, type Node,
  ANNOTATION_DEFAULT_POOL, ANNOTATION_IP, ANNOTATION_NODE_SELECTOR, ANNOTATION_PREFER, ANNOTATION_PREFERRED_NODES, ANNOTATION_LB, ANNOTATION_LB_VALUE, ANNOTATION_POOL, ANNOTATION_SHARED,
  type Eip, type EipStatus, type Service, keyOf,
} from './objects.ts';

/** The taint of a node shut down for good (non-graceful node shutdown): its addresses are handed over. */
export const TAINT_OUT_OF_SERVICE = 'node.kubernetes.io/out-of-service';

/** A Node as node selection needs it. */
export function nodeInfo(node: Node): NodeInfo {
  return {
    name: node.metadata.name,
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    excluded: node.metadata.labels?.[LABEL_EXCLUDE_LB] !== undefined,
    internalIPs: (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
    labels: node.metadata.labels ?? {},
    outOfService: node.spec?.taints?.some((t) => t.key === TAINT_OUT_OF_SERVICE) ?? false,
  };
}

/** Nodes with a ready endpoint, per Service key, from EndpointSlices. */
export function endpointNodes(slices: EndpointSlice[]): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const s of slices) {
    const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
    if (!svc) continue;
    const key = `${s.metadata.namespace ?? 'default'}/${svc}`;
    let set = out.get(key);
    if (!set) out.set(key, (set = new Set()));
    for (const e of s.endpoints ?? []) {
      // ready unset means ready (discovery.k8s.io/v1: "nil should be interpreted as true")
      if (e.nodeName && e.conditions?.ready !== false) set.add(e.nodeName);
    }
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

/**
 * Whether a Service needs the EndpointSlices watched: a LoadBalancer with `externalTrafficPolicy: Local`
 * (its address may only go to a node with a ready endpoint). Whatever its class: which Services are ours
 * can change with a config reload, and another controller's Local Service costs only the watch.
 */
export function needsEndpoints(svc: Service): boolean {
  return svc.spec?.type === 'LoadBalancer' && svc.spec.externalTrafficPolicy === 'Local';
}

/**
 * Whether a Service can concern l2lb at all, whatever the config says: a LoadBalancer (ours now, or after a
 * config reload), or one carrying our pool label (it was ours: its label and addresses are ours to take
 * back). Any other Service is not kept: in a large cluster most Services are ClusterIP, and 90,000 of them
 * kept beside 10,000 LoadBalancers cost 64 MiB of settled RSS and 83 of peak, and a pass over each, for
 * nothing (`test/bench/scale.ts` budget2).
 */
export function mayConcern(svc: Service): boolean {
  return svc.spec?.type === 'LoadBalancer' || svc.metadata.labels?.[ANNOTATION_POOL] !== undefined;
}

/**
 * What {@link mayConcern} keeps, as the API server selects it (the two must change together): the
 * LoadBalancers by type, which Kubernetes serves from 1.31 (older servers answer 400 and the Services are
 * listed whole), and the Services with our pool label. Where 90,000 ClusterIP Services sit beside 10,000
 * LoadBalancers the list is then a tenth of the bytes to send, parse and drop (`test/bench/scale.ts`
 * budget2, test/bench/RESULTS.md).
 */
export const CONCERN_SELECTIONS: readonly ListSelection[] = Object.freeze([
  { fieldSelector: 'spec.type=LoadBalancer' },
  { labelSelector: ANNOTATION_POOL },
]);

/** Whether l2lb manages this Service: a LoadBalancer with our class or OpenELB's annotation (or unclassed, if so configured). */
export function isOurs(svc: Service, cfg: Pick<KubernetesConfig, 'loadBalancerClass' | 'claimUnclassed'>): boolean {
  if (svc.spec?.type !== 'LoadBalancer' || svc.metadata.deletionTimestamp) return false;
  const cls = svc.spec.loadBalancerClass;
  // A Service of another class belongs to another controller, whatever its annotations say.
  if (cls !== undefined && cls !== '') return cls === cfg.loadBalancerClass;
  if (svc.metadata.annotations?.[ANNOTATION_LB] === ANNOTATION_LB_VALUE) return true;
  return cfg.claimUnclassed;
}

/** The ingress IPs a Service has now. */
export function ingressIPs(svc: Service): string[] {
  // A loop, not map + filter: this runs for every Service several times a pass.
  const out: string[] = [];
  for (const i of svc.status?.loadBalancer?.ingress ?? NO_INGRESS) if (i.ip) out.push(i.ip);
  return out;
}

/** Whether the Service's status has `ip`: {@link ingressIPs} without the list (per address per pass). */
export function hasIngress(svc: Service, ip: string): boolean {
  for (const i of svc.status?.loadBalancer?.ingress ?? NO_INGRESS) if (i.ip === ip) return true;
  return false;
}

const NO_INGRESS: readonly { ip?: string }[] = Object.freeze([]);
// Shared by every claim without a request, frozen (claims are rebuilt every pass, and nothing changes them).
const NO_REQUEST: readonly string[] = Object.freeze([]);

const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);

/** What a Service asks of the allocator. */
export function claimOf(svc: Service): ServiceClaim {
  const ann = svc.metadata.annotations ?? {};
  const raw = ann[ANNOTATION_IP];
  const fromAnnotation = raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : NO_REQUEST;
  const requested = fromAnnotation.length > 0 ? fromAnnotation : svc.spec?.loadBalancerIP ? [svc.spec.loadBalancerIP] : NO_REQUEST;
  const named = svc.spec?.ipFamilies;
  const families = named === undefined ? SINGLE_FAMILY[4] : named.length === 1 ? SINGLE_FAMILY[named[0] === 'IPv6' ? 6 : 4] : named.map((f) => (f === 'IPv6' ? 6 : 4) as 4 | 6);
  const policy = svc.spec?.ipFamilyPolicy;
  const ports: ServicePort[] = (svc.spec?.ports ?? []).map((p) => ({
    port: p.port,
    protocol: (PROTOCOLS.has(p.protocol ?? 'TCP') ? p.protocol ?? 'TCP' : 'TCP') as ServicePort['protocol'],
  }));
  return {
    key: keyOf(svc.metadata),
    namespace: svc.metadata.namespace ?? 'default',
    createdAt: svc.metadata.creationTimestamp ?? '',
    families: families.length > 0 ? families : [4],
    familyPolicy: policy === 'PreferDualStack' || policy === 'RequireDualStack' ? policy : 'SingleStack',
    current: ingressIPs(svc),
    currentPool: svc.metadata.labels?.[ANNOTATION_POOL] || undefined,
    requested,
    pool: ann[ANNOTATION_POOL] || undefined,
    sharingKey: ann[ANNOTATION_SHARED] || undefined,
    ports,
  };
}

/** An Eip as a pool spec, or undefined when it is not a Layer 2 pool (left alone entirely). */
export function eipPool(eip: Eip): PoolSpec | undefined {
  const spec = eip.spec ?? {};
  // OpenELB's default protocol is bgp: an Eip without protocol is not ours.
  if (spec.protocol !== 'layer2') return undefined;
  return {
    name: eip.metadata.name,
    source: 'eip',
    address: spec.address ?? '',
    protocol: 'layer2',
    interface: spec.interface,
    disable: spec.disable,
    priority: spec.priority,
    namespaces: spec.namespaces,
    namespaceSelector: spec.namespaceSelector,
    isDefault: eip.metadata.annotations?.[ANNOTATION_DEFAULT_POOL] === 'true',
    createdAt: eip.metadata.creationTimestamp ?? '',
    ...nodePreference(eip.metadata.annotations ?? {}),
  };
}

/** A config-file pool as a pool spec; config pools count as the oldest when pools overlap. */
export function configPool(p: PoolConfig): PoolSpec {
  return {
    name: p.name,
    source: 'config',
    address: p.address,
    protocol: 'layer2',
    interface: p.interface,
    disable: p.disable,
    priority: p.priority,
    namespaces: p.namespaces,
    namespaceSelector: p.namespaceSelector,
    isDefault: p.default,
    createdAt: '',
    ...(p.nodeSelector ? { nodeSelector: p.nodeSelector } : {}),
    ...(p.preferredNodes ? { preferredNodes: p.preferredNodes } : {}),
    ...(p.prefer ? { prefer: p.prefer } : {}),
  };
}

/**
 * Largest integer a status field may carry: the API server stores int64, and a JavaScript number is exact
 * only up to 2^53-1, so a larger pool (any IPv6 /64) is reported as this value.
 */
export const MAX_REPORTED_SIZE = Number.MAX_SAFE_INTEGER;

/** The status an Eip should have, from its pool and who uses which address. */
export function eipStatus(pool: Pool | undefined, usedIPs: Record<string, string[]>): EipStatus {
  const used: Record<string, string> = {};
  for (const ip of Object.keys(usedIPs).sort()) {
    const keys = usedIPs[ip]!;
    // Nearly every address has one user: its key as it is, not a joined copy per address per pass.
    used[ip] = keys.length === 1 ? keys[0]! : keys.join(';');
  }
  const usage = Object.keys(used).length;
  if (!pool) return { ready: false, usage, used, occupied: false, poolSize: 0 };
  const size = pool.size > BigInt(MAX_REPORTED_SIZE) ? MAX_REPORTED_SIZE : Number(pool.size);
  return {
    occupied: pool.usable && BigInt(usage) >= pool.size,
    usage,
    poolSize: size,
    used,
    firstIP: formatIP(pool.first),
    lastIP: formatIP(pool.last),
    ready: pool.usable,
    v4: pool.family === 4,
  };
}

/** An Eip's node choice annotations; an unparseable one is ignored and named in `nodeProblem`. */
function nodePreference(ann: Record<string, string>): Pick<PoolSpec, 'nodeSelector' | 'preferredNodes' | 'prefer' | 'nodeProblem'> {
  const out: Pick<PoolSpec, 'nodeSelector' | 'preferredNodes' | 'prefer' | 'nodeProblem'> = {};
  const problems: string[] = [];
  const sel = ann[ANNOTATION_NODE_SELECTOR];
  if (sel !== undefined) {
    const parsed = parseLabelSelector(sel);
    if (parsed) out.nodeSelector = parsed;
    else problems.push(`${ANNOTATION_NODE_SELECTOR} ${JSON.stringify(sel)} ignored: expected label=value pairs separated by ","`);
  }
  const pref = ann[ANNOTATION_PREFERRED_NODES];
  if (pref !== undefined) {
    const tiers = pref.split(';').map((t) => t.trim()).filter(Boolean).map(parseLabelSelector);
    if (tiers.every((t) => t !== undefined)) out.preferredNodes = tiers as Record<string, string>[];
    else problems.push(`${ANNOTATION_PREFERRED_NODES} ${JSON.stringify(pref)} ignored: expected selectors like zone=a;zone=b`);
  }
  const prefer = ann[ANNOTATION_PREFER];
  if (prefer === 'strict' || prefer === 'sticky') out.prefer = prefer;
  else if (prefer !== undefined) problems.push(`${ANNOTATION_PREFER} ${JSON.stringify(prefer)} ignored: expected sticky or strict`);
  if (problems.length > 0) out.nodeProblem = problems.join('; ');
  return out;
}
