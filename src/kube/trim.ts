/**
 * Keep only what is read. Every object an informer receives (each item of a list page, each watch event) is
 * cut down here, as it arrives, to the fields l2lb reads; the rest (`managedFields`, a kubelet's 50 images
 * and `nodeInfo`, heartbeat times, `last-applied-configuration`, selectors, cluster IPs, endpoint
 * addresses) is never stored. A cluster's objects are mostly fields l2lb never looks at: a kubelet-written
 * Node is ~11 KB of JSON of which l2lb reads its name, labels, InternalIPs, Ready and one taint.
 *
 * What it saves, measured as JS heap per object held (Bun 1.4; objects as the stand-in serves them, with
 * managedFields): a LoadBalancer Service (2.1 KB of JSON) 4.5 KB whole, 0.9 KB kept, 0.75 KB with its alike
 * parts shared (below); a Service of another type 4.1 KB, 0.35 KB; a kubelet-written Node (14.7 KB of JSON)
 * 25 KB, 0.75 KB.
 *
 * Pure but for a bounded cache of shared parts (below), and never throws: a field of an unexpected type is
 * left out as if absent. An object without `metadata.name` comes back undefined (the informer skips it).
 *
 * What l2lb writes back stays correct with trimmed objects because every write names only its own keys
 * (`src/kube/controller.ts`): the status merge patch sets `status.loadBalancer.ingress` whole, our one
 * label and our one annotation by key (a merge patch leaves other keys alone), and `status.conditions`
 * whole, which is why conditions are kept exactly as read. An Eip's `status.used` is kept whole for the
 * same reason (addresses no longer used are removed with explicit nulls).
 */
import {
  ANNOTATION_DEFAULT_POOL, ANNOTATION_IP, ANNOTATION_LB, ANNOTATION_NODE_SELECTOR, ANNOTATION_POOL, ANNOTATION_PREFER,
  ANNOTATION_PREFERRED_NODES, ANNOTATION_SERVING, ANNOTATION_SHARED, LABEL_SERVICE_NAME,
  type Eip, type EndpointSlice, type Namespace, type Node, type ObjectMeta, type Service,
} from './objects.ts';
import { TAINT_OUT_OF_SERVICE } from './selection.ts';

/** The Service annotations l2lb reads (and, for `l2lb.io/serving-node`, writes). */
export const SERVICE_ANNOTATIONS: readonly string[] = [ANNOTATION_LB, ANNOTATION_IP, ANNOTATION_POOL, ANNOTATION_SHARED, ANNOTATION_SERVING, ANNOTATION_PREFER];
/** The Service labels l2lb reads (and writes): the OpenELB pool label. */
export const SERVICE_LABELS: readonly string[] = [ANNOTATION_POOL];
/** The Eip annotations l2lb reads. */
export const EIP_ANNOTATIONS: readonly string[] = [ANNOTATION_DEFAULT_POOL, ANNOTATION_NODE_SELECTOR, ANNOTATION_PREFERRED_NODES, ANNOTATION_PREFER];

type Json = Record<string, unknown>;

function rec(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/**
 * The same few strings recur in every object (`LoadBalancer`, `TCP`, `IPv4`, `True`, ...); JSON.parse makes
 * a new copy of each for every object. One shared copy each: a few MB less at 10,000 Services.
 */
const COMMON = new Map(
  ['LoadBalancer', 'ClusterIP', 'NodePort', 'ExternalName', 'TCP', 'UDP', 'SCTP', 'IPv4', 'IPv6', 'SingleStack', 'PreferDualStack',
    'RequireDualStack', 'Local', 'Cluster', 'VIP', 'Proxy', 'True', 'False', 'Unknown', 'Ready', 'InternalIP', 'openelb', 'true',
    'NoSchedule', 'NoExecute', 'default'].map((s) => [s, s]),
);

function common(s: string): string {
  return COMMON.get(s) ?? s;
}

/**
 * Parts that are alike in many objects (a Service's ports and families, our annotations, the pool label)
 * are kept once and shared, frozen: 1,017 -> 748 B per kept LoadBalancer Service at 10,000 of them (heap
 * after a full collection, Bun 1.4). Frozen, because a shared part changed through one object would change
 * every other one: such a write throws instead. The table is bounded: past {@link SHARED_MAX} distinct
 * values it starts over; objects keep what they hold, and new arrivals share again from then on.
 */
const SHARED_MAX = 4096;
let shared = new Map<string, unknown>();

/** The shared, frozen copy of a value equal to `value` (`value` itself, frozen, the first time). */
function share<T extends object>(kind: string, value: T): T {
  const key = `${kind}${JSON.stringify(value)}`;
  const got = shared.get(key);
  if (got !== undefined) return got as T;
  if (shared.size >= SHARED_MAX) shared = new Map();
  if (Array.isArray(value)) for (const v of value) if (typeof v === 'object' && v !== null) Object.freeze(v);
  shared.set(key, Object.freeze(value));
  return value;
}

/** `map` with only the keys in `keys` that hold strings; undefined when none does. */
function pickStrings(map: unknown, keys: readonly string[]): Record<string, string> | undefined {
  const m = rec(map);
  if (!m) return undefined;
  let out: Record<string, string> | undefined;
  for (const k of keys) {
    const v = m[k];
    if (typeof v === 'string') (out ??= {})[k] = common(v);
  }
  return out;
}

/** Every string entry of `map` (labels used by selectors, where any key may matter); undefined when none. */
function allStrings(map: unknown): Record<string, string> | undefined {
  const m = rec(map);
  if (!m) return undefined;
  let out: Record<string, string> | undefined;
  for (const k in m) {
    const v = m[k];
    if (typeof v === 'string') (out ??= {})[k] = v;
  }
  return out;
}

/** What to keep of `metadata` besides name, namespace, uid and resourceVersion. */
interface MetaKeep {
  /** Label keys to keep, or 'all'. */
  labels?: readonly string[] | 'all';
  annotations?: readonly string[];
  /** Share the kept labels and annotations with other objects that keep the same ({@link share}). */
  share?: boolean;
  creationTimestamp?: boolean;
  deletionTimestamp?: boolean;
}

/** The metadata l2lb keeps of `raw`, or undefined when it has no name (not an object the informer can key). */
function metaOf(raw: Json, keep: MetaKeep): ObjectMeta | undefined {
  const m = rec(raw.metadata);
  const name = str(m?.name);
  if (!m || !name) return undefined;
  const out: ObjectMeta = { name };
  const ns = str(m.namespace);
  if (ns !== undefined) out.namespace = common(ns);
  const uid = str(m.uid);
  if (uid !== undefined) out.uid = uid;
  const rv = str(m.resourceVersion);
  if (rv !== undefined) out.resourceVersion = rv;
  if (keep.creationTimestamp) {
    const t = str(m.creationTimestamp);
    if (t !== undefined) out.creationTimestamp = t;
  }
  if (keep.deletionTimestamp) {
    const t = str(m.deletionTimestamp);
    if (t !== undefined) out.deletionTimestamp = t;
  }
  const labels = keep.labels === 'all' ? allStrings(m.labels) : keep.labels ? pickStrings(m.labels, keep.labels) : undefined;
  if (labels) out.labels = keep.share ? share('l', labels) : labels;
  const annotations = keep.annotations ? pickStrings(m.annotations, keep.annotations) : undefined;
  if (annotations) out.annotations = keep.share ? share('a', annotations) : annotations;
  return out;
}

/**
 * A Service as l2lb keeps it: identity, `deletionTimestamp`, the pool label, our annotations,
 * `status.loadBalancer.ingress` and `status.conditions` as read (an empty status is left out). A
 * LoadBalancer also keeps its creation time (allocation order) and what allocation and node choice read of
 * its spec (type, class, requested IP, families and policy, `externalTrafficPolicy`, port numbers and
 * protocols); any other type keeps only its type (it is not ours, and becoming a LoadBalancer is an update
 * that brings the whole object): most of a large cluster's Services cost a few hundred bytes each.
 */
export function trimService(raw: unknown): Service | undefined {
  const o = rec(raw);
  if (!o) return undefined;
  const spec = rec(o.spec);
  const type = str(spec?.type);
  const metadata = metaOf(o, { labels: SERVICE_LABELS, annotations: SERVICE_ANNOTATIONS, creationTimestamp: type === 'LoadBalancer', deletionTimestamp: true, share: true });
  if (!metadata) return undefined;
  const out: Service = { metadata };
  if (spec) {
    const s: NonNullable<Service['spec']> = {};
    if (type !== undefined) s.type = common(type);
    if (type === 'LoadBalancer') {
      const cls = str(spec.loadBalancerClass);
      if (cls !== undefined) s.loadBalancerClass = cls;
      const ip = str(spec.loadBalancerIP);
      if (ip !== undefined) s.loadBalancerIP = ip;
      if (Array.isArray(spec.ipFamilies)) s.ipFamilies = share('f', spec.ipFamilies.filter((f): f is string => typeof f === 'string').map(common));
      const policy = str(spec.ipFamilyPolicy);
      if (policy !== undefined) s.ipFamilyPolicy = common(policy);
      const etp = str(spec.externalTrafficPolicy);
      if (etp !== undefined) s.externalTrafficPolicy = common(etp);
      if (Array.isArray(spec.ports)) {
        const ports: NonNullable<NonNullable<Service['spec']>['ports']> = [];
        for (const p of spec.ports) {
          const port = rec(p);
          if (!port || typeof port.port !== 'number') continue;
          const protocol = str(port.protocol);
          ports.push(protocol === undefined ? { port: port.port } : { port: port.port, protocol: common(protocol) });
        }
        s.ports = share('p', ports);
      }
    }
    out.spec = s;
  }
  const status = rec(o.status);
  const st: NonNullable<Service['status']> = {};
  const ingress = rec(status?.loadBalancer)?.ingress;
  if (Array.isArray(ingress) && ingress.length > 0) {
    const kept: { ip?: string; hostname?: string; ipMode?: string }[] = [];
    for (const i of ingress) {
      const ing = rec(i);
      if (!ing) continue;
      const entry: { ip?: string; hostname?: string; ipMode?: string } = {};
      const ip = str(ing.ip);
      if (ip !== undefined) entry.ip = ip;
      const hostname = str(ing.hostname);
      if (hostname !== undefined) entry.hostname = hostname;
      const ipMode = str(ing.ipMode);
      if (ipMode !== undefined) entry.ipMode = common(ipMode);
      kept.push(entry);
    }
    st.loadBalancer = { ingress: kept };
  }
  // Kept exactly as read: a merge patch replaces the list whole, so l2lb writes the others' conditions back
  // as they are (under the resourceVersion it read them at).
  if (Array.isArray(status?.conditions) && status.conditions.length > 0) st.conditions = status.conditions as NonNullable<Service['status']>['conditions'];
  if (st.loadBalancer || st.conditions) out.status = st;
  return out;
}

/**
 * A Node as node choice reads it: name, every label (pool node selectors may name any), its InternalIPs, the
 * Ready condition's status and the out-of-service taint. Heartbeat times, the other conditions, images,
 * `nodeInfo`, capacity, annotations and `unschedulable` (node choice does not read it: a cordoned node
 * still forwards Service traffic) are dropped, so a kubelet's status update that changes only those
 * causes no work.
 */
export function trimNode(raw: unknown): Node | undefined {
  const o = rec(raw);
  if (!o) return undefined;
  const metadata = metaOf(o, { labels: 'all' });
  if (!metadata) return undefined;
  const out: Node = { metadata };
  const taints: { key: string; effect?: string }[] = [];
  for (const t of arr(rec(o.spec)?.taints)) {
    const taint = rec(t);
    if (taint?.key !== TAINT_OUT_OF_SERVICE) continue;
    const effect = str(taint.effect);
    taints.push(effect === undefined ? { key: TAINT_OUT_OF_SERVICE } : { key: TAINT_OUT_OF_SERVICE, effect: common(effect) });
  }
  if (taints.length > 0) out.spec = { taints };
  const status = rec(o.status);
  const conditions: { type: string; status: string }[] = [];
  const addresses: { type: string; address: string }[] = [];
  for (const c of arr(status?.conditions)) {
    const cond = rec(c);
    const s = str(cond?.status);
    if (cond?.type === 'Ready' && s !== undefined) conditions.push({ type: 'Ready', status: common(s) });
  }
  for (const a of arr(status?.addresses)) {
    const addr = rec(a);
    const address = str(addr?.address);
    if (addr?.type === 'InternalIP' && address !== undefined) addresses.push({ type: 'InternalIP', address });
  }
  if (status) out.status = { conditions, addresses };
  return out;
}

/** A Namespace: its name and labels (pools bound by `namespaceSelector`). */
export function trimNamespace(raw: unknown): Namespace | undefined {
  const o = rec(raw);
  if (!o) return undefined;
  const metadata = metaOf(o, { labels: 'all' });
  return metadata && { metadata };
}

/**
 * An Eip: identity and creation time (which pool is older), the annotations l2lb reads, its spec and its
 * status as read (a few small fields; `status.used` must be whole to clear addresses no longer used).
 * `kind` is set: the controller tells Eips from Services by it.
 */
export function trimEip(raw: unknown): Eip | undefined {
  const o = rec(raw);
  if (!o) return undefined;
  const metadata = metaOf(o, { annotations: EIP_ANNOTATIONS, creationTimestamp: true });
  if (!metadata) return undefined;
  const out: Eip = { kind: 'Eip', metadata };
  const spec = rec(o.spec);
  if (spec) out.spec = spec as Eip['spec'];
  const status = rec(o.status);
  if (status) out.status = status as Eip['status'];
  return out;
}

/**
 * An EndpointSlice: identity, the Service it belongs to, and which nodes have an endpoint and whether it
 * is ready, once per node and state, sorted. Addresses, ports, targetRefs, zones and hints are dropped, so
 * a pod restarting on the same node changes nothing l2lb keeps.
 */
export function trimEndpointSlice(raw: unknown): EndpointSlice | undefined {
  const o = rec(raw);
  if (!o) return undefined;
  const metadata = metaOf(o, { labels: [LABEL_SERVICE_NAME] });
  if (!metadata) return undefined;
  const seen = new Map<string, boolean>();
  for (const e of arr(o.endpoints)) {
    const ep = rec(e);
    const node = str(ep?.nodeName);
    if (!ep || node === undefined) continue;
    // ready unset means ready (discovery.k8s.io/v1: "nil should be interpreted as true")
    const ready = rec(ep.conditions)?.ready !== false;
    const key = `${ready ? '1' : '0'}${node}`;
    if (!seen.has(key)) seen.set(key, ready);
  }
  const endpoints = [...seen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, ready]) => ({ nodeName: key.slice(1), conditions: { ready } }));
  return { metadata, endpoints };
}

/**
 * Whether two kept objects say the same, their resourceVersion aside: an update that changed only fields
 * l2lb does not keep. The informer then only takes the new resourceVersion (writes need it) and reports
 * nothing.
 */
export function sameExceptVersion(a: { metadata: ObjectMeta }, b: { metadata: ObjectMeta }): boolean {
  const { resourceVersion: _a, ...ma } = a.metadata;
  const { resourceVersion: _b, ...mb } = b.metadata;
  if (!deepEqual(ma, mb)) return false;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (k === 'metadata') continue;
    if (!deepEqual((a as Json)[k], (b as Json)[k])) return false;
  }
  return true;
}

/** Structural equality of JSON values (key order does not matter). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as Json)[k], (b as Json)[k])) return false;
  }
  return true;
}
