/**
 * The few fields of Kubernetes objects l2lb reads and writes, and the OpenELB-compatible names. Typed by
 * hand: the generated client-node models are classes with date conversion we do not want on the wire.
 */

/** Object metadata. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** core/v1 Service (the parts l2lb uses). */
export interface Service {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    type?: string;
    loadBalancerClass?: string;
    loadBalancerIP?: string;
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    externalTrafficPolicy?: string;
    ports?: { name?: string; port: number; protocol?: string }[];
  };
  status?: {
    loadBalancer?: { ingress?: { ip?: string; hostname?: string; ipMode?: string }[] };
    conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string; observedGeneration?: number }[];
  };
}

/** core/v1 Namespace. */
export interface Namespace {
  metadata: ObjectMeta;
}

/** core/v1 Node (readiness, addresses, labels). */
export interface Node {
  metadata: ObjectMeta;
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect?: string }[] };
  status?: {
    conditions?: { type: string; status: string }[];
    addresses?: { type: string; address: string }[];
  };
}

/** discovery.k8s.io/v1 EndpointSlice (which nodes have ready endpoints of a Service). */
export interface EndpointSlice {
  metadata: ObjectMeta;
  endpoints?: { nodeName?: string; conditions?: { ready?: boolean | null } }[];
}

/** Label that takes a Node out of load balancing. */
export const LABEL_EXCLUDE_LB = 'node.kubernetes.io/exclude-from-external-load-balancers';
/** Label of an EndpointSlice naming its Service. */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';

/** network.kubesphere.io/v1alpha2 Eip, as OpenELB defines it. */
export interface Eip {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    address?: string;
    protocol?: string;
    interface?: string;
    disable?: boolean;
    priority?: number;
    namespaces?: string[];
    namespaceSelector?: Record<string, string>;
    usingKnownIPs?: boolean;
  };
  status?: EipStatus;
}

/** Eip status, OpenELB's fields. */
export interface EipStatus {
  occupied?: boolean;
  usage?: number;
  poolSize?: number;
  used?: Record<string, string>;
  firstIP?: string;
  lastIP?: string;
  ready?: boolean;
  v4?: boolean;
}

/** Annotation that makes a Service OpenELB's (and so ours). */
export const ANNOTATION_LB = 'lb.kubesphere.io/v1alpha1';
/** Its value. */
export const ANNOTATION_LB_VALUE = 'openelb';
/** Requested address(es), comma-separated. */
export const ANNOTATION_IP = 'eip.openelb.kubesphere.io/v1alpha1';
/** Requested pool (Eip name); also the label l2lb writes with the pool used. */
export const ANNOTATION_POOL = 'eip.openelb.kubesphere.io/v1alpha2';
/** Marks an Eip as the default pool. */
export const ANNOTATION_DEFAULT_POOL = 'eip.openelb.kubesphere.io/is-default-eip';
/**
 * Which node serves each address (`ip=node,...`), written by the leader with the status so that a new
 * leader keeps the same node (an established flow survives the handover). The API server keeps
 * annotation changes made through a Service's status subresource.
 */
export const ANNOTATION_SERVING = 'l2lb.io/serving-node';
/** Eip: only Nodes matching this `k=v,k2=v2` selector serve the pool's addresses. */
export const ANNOTATION_NODE_SELECTOR = 'l2lb.io/node-selector';
/** Eip: ordered node preference, selectors separated by ";" (`zone=a;zone=b`), most preferred first. */
export const ANNOTATION_PREFERRED_NODES = 'l2lb.io/preferred-nodes';
/** Eip or Service: `strict` moves an address back to a more preferred node; default `sticky`. */
export const ANNOTATION_PREFER = 'l2lb.io/prefer';
/** Opt-in to share an address between Services carrying the same key. */
export const ANNOTATION_SHARED = 'l2lb.io/allow-shared-ip';

/** API paths. */
export const PATHS = {
  services: '/api/v1/services',
  namespaces: '/api/v1/namespaces',
  eips: '/apis/network.kubesphere.io/v1alpha2/eips',
  nodes: '/api/v1/nodes',
  endpointSlices: '/apis/discovery.k8s.io/v1/endpointslices',
  service: (ns: string, name: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/services/${encodeURIComponent(name)}`,
  serviceStatus: (ns: string, name: string) => `${PATHS.service(ns, name)}/status`,
  eipStatus: (name: string) => `/apis/network.kubesphere.io/v1alpha2/eips/${encodeURIComponent(name)}/status`,
  events: (ns: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/events`,
} as const;

/** `namespace/name`, the key every informer and the allocator use. */
export function keyOf(meta: ObjectMeta): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}
