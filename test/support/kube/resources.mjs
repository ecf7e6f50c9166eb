// The resources the stand-in serves and, per kind, what kube-apiserver 1.28's strategies do on create,
// update and status update: defaults, fields that are reset, validation. Only what l2lb reads or writes
// (and what a test sets up) is modelled; everything else in an object is stored as given.

import { EIP_SCHEMA } from './eip-schema.mjs';
import { clone, deepEqual, isObject } from './json.mjs';
import { field } from './status.mjs';
import {
  dns1035LabelErrors,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  isIP,
  isIPv4,
  isIPv6,
  qualifiedNameErrors,
  validateStructural,
} from './validate.mjs';

/** @typedef {import('./status.mjs').FieldError} FieldError */
/** @typedef {Record<string, any>} Obj */

/**
 * @typedef {Object} Resource
 * @property {string} group
 * @property {string} version
 * @property {string} plural
 * @property {string} kind
 * @property {boolean} namespaced
 * @property {boolean} hasStatus has a /status subresource
 * @property {boolean} custom a CustomResourceDefinition (no strategic merge patch, unstructured lists)
 * @property {boolean} returnDeleted DELETE answers with the object instead of a Status
 * @property {boolean} createOnUpdate PUT of a missing object creates it
 * @property {boolean} generation the strategy maintains metadata.generation
 * @property {(name: string) => string[]} nameErrors
 * @property {string[]} fieldSelectors
 * @property {Record<string, number>} [fieldSelectorsSince] the minor release that added a field selector
 *   (before it the server answers 400 "field label not supported")
 * @property {(o: Obj) => Record<string, string>} fields
 * @property {import('./validate.mjs').DecodeSchema} [decode]
 * @property {(o: Obj, ctx: Ctx) => void} [prepareCreate]
 * @property {(o: Obj, old: Obj, ctx: Ctx) => void} [prepareUpdate]
 * @property {(o: Obj, old: Obj) => Obj} prepareStatusUpdate returns the object to store
 * @property {(o: Obj, old: Obj | null, ctx: Ctx) => void} [allocate] after validation: cluster IPs, node ports
 * @property {(o: Obj, old: Obj | null, ctx: Ctx) => FieldError[]} [validate]
 * @property {(o: Obj, old: Obj) => FieldError[]} [validateStatus]
 */

/** What a strategy may need from the store: allocators for Service cluster IPs and node ports. */
/** @typedef {{ alloc: ServiceAllocator }} Ctx */

const metaFields = (/** @type {Obj} */ o, /** @type {boolean} */ namespaced) => {
  /** @type {Record<string, string>} */
  const f = { 'metadata.name': o.metadata?.name ?? '' };
  if (namespaced) f['metadata.namespace'] = o.metadata?.namespace ?? '';
  return f;
};

/** Default status strategy of core kinds: spec is kept from the old object, metadata changes go through. */
const keepSpec = (/** @type {Obj} */ o, /** @type {Obj} */ old) => {
  if ('spec' in old) o.spec = clone(old.spec);
  else delete o.spec;
  return o;
};

// ------------------------------------------------------------------------------------------- Services

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const needsClusterIP = (/** @type {Obj} */ s) => s.spec?.type !== 'ExternalName';
const needsNodePort = (/** @type {Obj} */ s) => {
  const t = s.spec?.type;
  if (t === 'NodePort') return true;
  return t === 'LoadBalancer' && s.spec?.allocateLoadBalancerNodePorts !== false;
};
const externallyAccessible = (/** @type {Obj} */ s) =>
  s.spec?.type === 'LoadBalancer' || s.spec?.type === 'NodePort' || (s.spec?.type === 'ClusterIP' && (s.spec?.externalIPs?.length ?? 0) > 0);
const needsHCNodePort = (/** @type {Obj} */ s) => s.spec?.type === 'LoadBalancer' && s.spec?.externalTrafficPolicy === 'Local';
const isHeadless = (/** @type {Obj} */ s) => s.spec?.clusterIP === 'None';

/** Cluster IPs and node ports for Services, from the ranges of a dual-stack kind cluster. */
export class ServiceAllocator {
  /** @param {[number, number]} nodePortRange */
  constructor(nodePortRange = [30000, 32767]) {
    this.nodePortRange = nodePortRange;
    /** @type {Set<string>} */
    this.ips = new Set();
    /** @type {Set<number>} */
    this.ports = new Set();
    this.v4Cursor = 10;
    this.v6Cursor = 10;
    this.portCursor = nodePortRange[0];
  }

  /** Marks everything a stored Service holds as used (or free again). */
  track(/** @type {Obj} */ svc, /** @type {boolean} */ used) {
    for (const ip of svc.spec?.clusterIPs ?? []) if (ip !== 'None') used ? this.ips.add(ip) : this.ips.delete(ip);
    for (const p of svc.spec?.ports ?? []) if (p.nodePort) used ? this.ports.add(p.nodePort) : this.ports.delete(p.nodePort);
    const hc = svc.spec?.healthCheckNodePort;
    if (hc) used ? this.ports.add(hc) : this.ports.delete(hc);
  }

  /** @param {'IPv4' | 'IPv6'} family */
  nextIP(family) {
    // 10.96.0.0/12 and fd00:10:96::/108 (the largest IPv6 range kube-apiserver takes); the low addresses are
    // kept for the kubernetes and DNS Services
    const size = 1 << 20;
    for (let n = 0; n < size; n++) {
      const i = family === 'IPv4' ? this.v4Cursor : this.v6Cursor;
      const next = i + 1 >= size - 1 ? 10 : i + 1;
      if (family === 'IPv4') this.v4Cursor = next;
      else this.v6Cursor = next;
      const ip =
        family === 'IPv4'
          ? `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`
          : i >> 16 ? `fd00:10:96::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}` : `fd00:10:96::${i.toString(16)}`;
      if (!this.ips.has(ip)) return ip;
    }
    throw new Error('failed to allocate a serviceIP: range is full');
  }

  nextPort() {
    const [lo, hi] = this.nodePortRange;
    for (let n = 0; n <= hi - lo; n++) {
      const p = this.portCursor;
      this.portCursor = p >= hi ? lo : p + 1;
      if (!this.ports.has(p)) return p;
    }
    throw new Error('failed to allocate a nodePort: range is full');
  }
}

/** SetDefaults_Service: the defaults applied when a Service is decoded. */
function defaultService(/** @type {Obj} */ s) {
  s.spec ??= {};
  const spec = s.spec;
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  if (spec.sessionAffinity === 'ClientIP') spec.sessionAffinityConfig ??= { clientIP: { timeoutSeconds: 10800 } };
  for (const p of spec.ports ?? []) {
    if (!isObject(p)) continue;
    p.protocol ??= 'TCP';
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if (spec.type !== 'ExternalName') spec.internalTrafficPolicy ??= 'Cluster';
  if (externallyAccessible(s)) spec.externalTrafficPolicy ??= 'Cluster';
  if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
}

/** Families, cluster IPs, node ports: what the Service REST allocates. */
function allocateService(/** @type {Obj} */ s, /** @type {Obj | null} */ old, /** @type {Ctx} */ ctx) {
  const spec = s.spec;
  if (needsClusterIP(s)) {
    if (!old || !needsClusterIP(old)) {
      if (spec.clusterIP && !spec.clusterIPs) spec.clusterIPs = [spec.clusterIP];
      const given = (spec.clusterIPs ?? []).filter((/** @type {string} */ ip) => ip && ip !== 'None');
      /** @type {string[]} */
      let families = spec.ipFamilies ?? given.map((/** @type {string} */ ip) => (isIPv6(ip) ? 'IPv6' : 'IPv4'));
      if (families.length === 0) families = ['IPv4'];
      const policy = (spec.ipFamilyPolicy ??= 'SingleStack');
      if (policy !== 'SingleStack' && families.length === 1) families = [families[0], families[0] === 'IPv4' ? 'IPv6' : 'IPv4'];
      spec.ipFamilies = families;
      if (isHeadless(s)) {
        spec.clusterIPs = ['None'];
      } else {
        spec.clusterIPs = families.map((/** @type {'IPv4'|'IPv6'} */ fam, /** @type {number} */ i) => given[i] ?? ctx.alloc.nextIP(fam));
      }
      spec.clusterIP = spec.clusterIPs[0];
    }
  }
  if (needsNodePort(s)) {
    for (const p of spec.ports ?? []) if (isObject(p) && !p.nodePort) p.nodePort = ctx.alloc.nextPort();
  }
  if (needsHCNodePort(s) && !spec.healthCheckNodePort) spec.healthCheckNodePort = ctx.alloc.nextPort();
}

/** patchAllocatedValues: an update that omits allocated values keeps them. */
function patchAllocated(/** @type {Obj} */ s, /** @type {Obj} */ old) {
  const spec = s.spec;
  const o = old.spec ?? {};
  if (needsClusterIP(old) && needsClusterIP(s)) {
    if (!spec.clusterIP) spec.clusterIP = o.clusterIP;
    if (!spec.clusterIPs || spec.clusterIPs.length === 0) spec.clusterIPs = o.clusterIPs;
    spec.ipFamilies ??= o.ipFamilies;
    spec.ipFamilyPolicy ??= o.ipFamilyPolicy;
  }
  if (needsNodePort(old) && needsNodePort(s)) {
    for (const p of spec.ports ?? []) {
      if (!isObject(p) || p.nodePort) continue;
      const match = (o.ports ?? []).find((/** @type {Obj} */ q) => q.port === p.port && (q.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
      if (match?.nodePort) p.nodePort = match.nodePort;
    }
  }
  if (needsHCNodePort(old) && needsHCNodePort(s) && !spec.healthCheckNodePort) spec.healthCheckNodePort = o.healthCheckNodePort;
}

/** dropTypeDependentFields of 1.28: a type change wipes what no longer applies, and the LB status. */
function dropTypeDependent(/** @type {Obj} */ s, /** @type {Obj} */ old) {
  const spec = s.spec;
  const o = old.spec ?? {};
  if (needsClusterIP(old) && !needsClusterIP(s)) {
    if (deepEqual(spec.clusterIP, o.clusterIP) && deepEqual(spec.clusterIPs, o.clusterIPs)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (deepEqual(spec.ipFamilies, o.ipFamilies)) delete spec.ipFamilies;
    if (spec.ipFamilyPolicy === o.ipFamilyPolicy) delete spec.ipFamilyPolicy;
  }
  if (needsNodePort(old) && !needsNodePort(s)) {
    const oldPorts = new Set((o.ports ?? []).map((/** @type {Obj} */ p) => p.nodePort).filter(Boolean));
    if ((spec.ports ?? []).every((/** @type {Obj} */ p) => !p.nodePort || oldPorts.has(p.nodePort))) {
      for (const p of spec.ports ?? []) delete p.nodePort;
    }
  }
  if (needsHCNodePort(old) && !needsHCNodePort(s) && spec.healthCheckNodePort === o.healthCheckNodePort) delete spec.healthCheckNodePort;
  if (o.type === 'LoadBalancer' && spec.type !== 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === o.allocateLoadBalancerNodePorts) {
    delete spec.allocateLoadBalancerNodePorts;
  }
  if (o.type === 'LoadBalancer' && spec.type !== 'LoadBalancer' && spec.loadBalancerClass === o.loadBalancerClass) delete spec.loadBalancerClass;
  if (externallyAccessible(old) && !externallyAccessible(s) && spec.externalTrafficPolicy === o.externalTrafficPolicy) delete spec.externalTrafficPolicy;
  if (spec.type !== 'LoadBalancer') s.status = { ...(s.status ?? {}), loadBalancer: {} };
}

function validateService(/** @type {Obj} */ s, /** @type {Obj | null} */ old) {
  /** @type {FieldError[]} */
  const errs = [];
  const spec = s.spec ?? {};
  if (!SERVICE_TYPES.includes(spec.type)) errs.push(field.notSupported('spec.type', spec.type, SERVICE_TYPES));
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  if (ports.length === 0 && !isHeadless(s) && spec.type !== 'ExternalName') errs.push(field.required('spec.ports'));
  /** @type {Set<string>} */
  const names = new Set();
  ports.forEach((/** @type {Obj} */ p, /** @type {number} */ i) => {
    const at = `spec.ports[${i}]`;
    if (ports.length > 1 && !p.name) errs.push(field.required(`${at}.name`));
    if (p.name) {
      if (names.has(p.name)) errs.push(field.duplicate(`${at}.name`, p.name));
      names.add(p.name);
    }
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) errs.push(field.invalid(`${at}.port`, p.port ?? 0, 'must be between 1 and 65535, inclusive'));
    if (!['SCTP', 'TCP', 'UDP'].includes(p.protocol)) errs.push(field.notSupported(`${at}.protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']));
    if (p.nodePort && spec.type === 'ClusterIP') errs.push(field.forbidden(`${at}.nodePort`, "may not be used when `type` is 'ClusterIP'"));
    if (p.nodePort !== undefined && (!Number.isInteger(p.nodePort) || p.nodePort < 0 || p.nodePort > 65535)) {
      errs.push(field.invalid(`${at}.nodePort`, p.nodePort, 'must be between 1 and 65535, inclusive'));
    }
  });
  if (spec.loadBalancerClass !== undefined && spec.loadBalancerClass !== null) {
    if (spec.type !== 'LoadBalancer') errs.push(field.forbidden('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
    else for (const e of qualifiedNameErrors(String(spec.loadBalancerClass))) errs.push(field.invalid('spec.loadBalancerClass', spec.loadBalancerClass, e));
  }
  if (spec.loadBalancerIP && !isIP(spec.loadBalancerIP)) errs.push(field.invalid('spec.loadBalancerIP', spec.loadBalancerIP, 'must be a valid IP address'));
  if (!externallyAccessible(s)) {
    if (spec.externalTrafficPolicy) errs.push(field.invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, 'may only be set for externally-accessible services'));
  } else if (!['Cluster', 'Local'].includes(spec.externalTrafficPolicy)) {
    errs.push(field.notSupported('spec.externalTrafficPolicy', spec.externalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (spec.ipFamilyPolicy !== undefined && !['PreferDualStack', 'RequireDualStack', 'SingleStack'].includes(spec.ipFamilyPolicy)) {
    errs.push(field.notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']));
  }
  (spec.ipFamilies ?? []).forEach((/** @type {string} */ f, /** @type {number} */ i) => {
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(field.notSupported(`spec.ipFamilies[${i}]`, f, ['IPv4', 'IPv6']));
  });
  if (spec.ipFamilyPolicy === 'SingleStack' && (spec.ipFamilies?.length ?? 0) > 1) {
    errs.push(field.invalid('spec.ipFamilies', spec.ipFamilies, 'when spec.ipFamilyPolicy is SingleStack, spec.ipFamilies must contain exactly 1 item'));
  }
  (spec.clusterIPs ?? []).forEach((/** @type {string} */ ip, /** @type {number} */ i) => {
    if (ip !== 'None' && ip !== '' && !isIP(ip)) errs.push(field.invalid(`spec.clusterIPs[${i}]`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  });
  if (old) {
    const o = old.spec ?? {};
    if (needsClusterIP(old) && needsClusterIP(s) && !deepEqual(o.clusterIPs, spec.clusterIPs)) {
      errs.push(field.invalid('spec.clusterIPs[0]', spec.clusterIPs?.[0] ?? '', 'may not change once set'));
    }
    if (o.type === 'LoadBalancer' && spec.type === 'LoadBalancer' && (o.loadBalancerClass ?? null) !== (spec.loadBalancerClass ?? null)) {
      errs.push(field.invalid('spec.loadBalancerClass', spec.loadBalancerClass ?? null, 'may not change once set'));
    }
  }
  return errs;
}

function validateServiceStatus(/** @type {Obj} */ s) {
  /** @type {FieldError[]} */
  const errs = [];
  const ingress = s.status?.loadBalancer?.ingress ?? [];
  ingress.forEach((/** @type {Obj} */ ing, /** @type {number} */ i) => {
    const at = `status.loadBalancer.ingress[${i}]`;
    if (ing.ip && !isIP(ing.ip)) errs.push(field.invalid(`${at}.ip`, ing.ip, 'must be a valid IP address'));
    if (ing.hostname) {
      for (const e of dns1123SubdomainErrors(ing.hostname)) errs.push(field.invalid(`${at}.hostname`, ing.hostname, e));
      if (isIP(ing.hostname)) errs.push(field.invalid(`${at}.hostname`, ing.hostname, 'must be a DNS name, not an IP address'));
    }
  });
  // metav1.Condition, validated as apimachinery's ValidateConditions does for Service status.
  const seen = new Set();
  (s.status?.conditions ?? []).forEach((/** @type {Obj} */ c, /** @type {number} */ i) => {
    const at = `status.conditions[${i}]`;
    if (!c.type) errs.push(field.required(`${at}.type`));
    else {
      for (const e of qualifiedNameErrors(String(c.type))) errs.push(field.invalid(`${at}.type`, c.type, e));
      if (seen.has(c.type)) errs.push(field.duplicate(`${at}.type`, c.type));
      seen.add(c.type);
    }
    if (!['True', 'False', 'Unknown'].includes(c.status)) errs.push(field.notSupported(`${at}.status`, c.status ?? '', ['False', 'True', 'Unknown']));
    if (!c.lastTransitionTime) errs.push(field.required(`${at}.lastTransitionTime`, 'must be set'));
    if (!c.reason) errs.push(field.required(`${at}.reason`, 'must be set'));
    else {
      if (String(c.reason).length > 1024) errs.push(field.tooLong(`${at}.reason`, 1024));
      if (!/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/.test(String(c.reason))) {
        errs.push(field.invalid(`${at}.reason`, c.reason, "a condition reason must start with alphabetic character, optionally followed by a string of alphanumeric characters or '_,:', and must end with an alphanumeric character or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName',  or 'ReasonA,ReasonB',  or 'ReasonA:ReasonB', regex used for validation is '[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?')"));
      }
    }
    if (c.message !== undefined && String(c.message).length > 32768) errs.push(field.tooLong(`${at}.message`, 32768));
  });
  return errs;
}

const serviceDecode = {
  struct: 'Service',
  open: true,
  fields: {
    metadata: 'any',
    spec: {
      struct: 'ServiceSpec',
      open: true,
      fields: {
        type: 'string',
        clusterIP: 'string',
        clusterIPs: { list: 'string' },
        loadBalancerIP: 'string',
        loadBalancerClass: 'string',
        allocateLoadBalancerNodePorts: 'bool',
        externalTrafficPolicy: 'string',
        ipFamilyPolicy: 'string',
        ipFamilies: { list: 'string' },
        ports: {
          list: {
            struct: 'ServicePort',
            fields: { name: 'string', protocol: 'string', appProtocol: 'string', port: 'int32', targetPort: 'any', nodePort: 'int32' },
          },
        },
        selector: { map: 'string' },
      },
    },
    status: {
      struct: 'ServiceStatus',
      fields: {
        loadBalancer: {
          struct: 'LoadBalancerStatus',
          fields: {
            ingress: {
              list: {
                struct: 'LoadBalancerIngress',
                fields: {
                  ip: 'string',
                  hostname: 'string',
                  ports: { list: { struct: 'PortStatus', fields: { port: 'int32', protocol: 'string', error: 'string' } } },
                },
              },
            },
          },
        },
        conditions: {
          list: {
            struct: 'Condition',
            fields: {
              type: 'string',
              status: 'string',
              observedGeneration: 'int64',
              lastTransitionTime: 'time',
              reason: 'string',
              message: 'string',
            },
          },
        },
      },
    },
  },
};

/** @type {Resource} */
const services = {
  group: '',
  version: 'v1',
  plural: 'services',
  kind: 'Service',
  namespaced: true,
  hasStatus: true,
  custom: false,
  returnDeleted: true,
  createOnUpdate: true,
  generation: false,
  nameErrors: dns1035LabelErrors,
  fieldSelectors: ['metadata.name', 'metadata.namespace', 'spec.clusterIP', 'spec.type'],
  // kubernetes/kubernetes#123905: before 1.31 a Service could be selected by name and namespace only
  fieldSelectorsSince: { 'spec.clusterIP': 31, 'spec.type': 31 },
  fields: (o) => ({ ...metaFields(o, true), 'spec.clusterIP': o.spec?.clusterIP ?? '', 'spec.type': o.spec?.type ?? '' }),
  decode: serviceDecode,
  prepareCreate(o) {
    o.status = { loadBalancer: {} };
    defaultService(o);
  },
  prepareUpdate(o, old) {
    o.status = clone(old.status ?? { loadBalancer: {} });
    defaultService(o);
    patchAllocated(o, old);
    dropTypeDependent(o, old);
  },
  prepareStatusUpdate: keepSpec,
  allocate: allocateService,
  validate: validateService,
  validateStatus: validateServiceStatus,
};

// ---------------------------------------------------------------------------------------------- Nodes

/** @type {Resource} */
const nodes = {
  group: '',
  version: 'v1',
  plural: 'nodes',
  kind: 'Node',
  namespaced: false,
  hasStatus: true,
  custom: false,
  returnDeleted: false,
  createOnUpdate: false,
  generation: false,
  nameErrors: dns1123SubdomainErrors,
  fieldSelectors: ['metadata.name', 'spec.unschedulable'],
  fields: (o) => ({ ...metaFields(o, false), 'spec.unschedulable': String(o.spec?.unschedulable ?? false) }),
  prepareUpdate(o, old) {
    if ('status' in old) o.status = clone(old.status);
    else delete o.status;
  },
  prepareStatusUpdate: keepSpec,
};

// ----------------------------------------------------------------------------------------- Namespaces

const IMMORTAL_NAMESPACES = ['default', 'kube-system', 'kube-public'];

/** @type {Resource & { immortal: string[] }} */
const namespaces = {
  group: '',
  version: 'v1',
  plural: 'namespaces',
  kind: 'Namespace',
  namespaced: false,
  hasStatus: true,
  custom: false,
  returnDeleted: true,
  createOnUpdate: false,
  generation: false,
  immortal: IMMORTAL_NAMESPACES,
  nameErrors: dns1123LabelErrors,
  fieldSelectors: ['metadata.name', 'status.phase'],
  fields: (o) => ({ ...metaFields(o, false), 'status.phase': o.status?.phase ?? '' }),
  prepareCreate(o) {
    o.spec = { finalizers: ['kubernetes'] };
    o.status = { phase: 'Active' };
    o.metadata.labels = { ...(o.metadata.labels ?? {}), 'kubernetes.io/metadata.name': o.metadata.name };
  },
  prepareUpdate(o, old) {
    o.spec = clone(old.spec ?? {});
    o.status = clone(old.status ?? {});
    o.metadata.labels = { ...(o.metadata.labels ?? {}), 'kubernetes.io/metadata.name': o.metadata.name };
  },
  prepareStatusUpdate: keepSpec,
};

// --------------------------------------------------------------------------------------------- Events

const eventDecode = {
  struct: 'Event',
  fields: {
    apiVersion: 'string',
    kind: 'string',
    metadata: 'any',
    involvedObject: {
      struct: 'ObjectReference',
      fields: { kind: 'string', namespace: 'string', name: 'string', uid: 'string', apiVersion: 'string', resourceVersion: 'string', fieldPath: 'string' },
    },
    reason: 'string',
    message: 'string',
    source: { struct: 'EventSource', fields: { component: 'string', host: 'string' } },
    firstTimestamp: 'time',
    lastTimestamp: 'time',
    count: 'int32',
    type: 'string',
    eventTime: 'microtime',
    series: { struct: 'EventSeries', fields: { count: 'int32', lastObservedTime: 'microtime' } },
    action: 'string',
    related: 'any',
    reportingComponent: 'string',
    reportingInstance: 'string',
  },
};

/** legacyValidateEvent of 1.28 for core/v1 Events. */
function validateEvent(/** @type {Obj} */ e) {
  /** @type {FieldError[]} */
  const errs = [];
  const ns = e.metadata?.namespace ?? '';
  const involvedNs = e.involvedObject?.namespace ?? '';
  if (!e.eventTime) {
    if (involvedNs === '') {
      if (ns !== '' && ns !== 'default') errs.push(field.invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    } else if (ns !== involvedNs) {
      errs.push(field.invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    }
  } else {
    if (involvedNs === '' && ns !== 'default' && ns !== 'kube-system') {
      errs.push(field.invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    }
    if (!e.reportingComponent) errs.push(field.required('reportingComponent'));
    for (const m of qualifiedNameErrors(e.reportingComponent ?? '')) if (e.reportingComponent) errs.push(field.invalid('reportingComponent', e.reportingComponent, m));
    if (!e.reportingInstance) errs.push(field.required('reportingInstance'));
    if ((e.reportingInstance ?? '').length > 128) errs.push(field.invalid('reportingInstance', '', 'can have at most 128 characters'));
    if (!e.action) errs.push(field.required('action'));
    if (!e.reason) errs.push(field.required('reason'));
    if ((e.message ?? '').length > 1024) errs.push(field.invalid('message', '', 'can have at most 1024 characters'));
  }
  return errs;
}

/** @type {Resource} */
const events = {
  group: '',
  version: 'v1',
  plural: 'events',
  kind: 'Event',
  namespaced: true,
  hasStatus: false,
  custom: false,
  returnDeleted: false,
  createOnUpdate: true,
  generation: false,
  nameErrors: dns1123SubdomainErrors,
  fieldSelectors: [
    'metadata.name',
    'metadata.namespace',
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  fields: (o) => ({
    ...metaFields(o, true),
    'involvedObject.kind': o.involvedObject?.kind ?? '',
    'involvedObject.namespace': o.involvedObject?.namespace ?? '',
    'involvedObject.name': o.involvedObject?.name ?? '',
    'involvedObject.uid': o.involvedObject?.uid ?? '',
    'involvedObject.apiVersion': o.involvedObject?.apiVersion ?? '',
    'involvedObject.resourceVersion': o.involvedObject?.resourceVersion ?? '',
    'involvedObject.fieldPath': o.involvedObject?.fieldPath ?? '',
    reason: o.reason ?? '',
    reportingComponent: o.reportingComponent ?? '',
    source: o.source?.component || o.reportingComponent || '',
    type: o.type ?? '',
  }),
  decode: eventDecode,
  prepareStatusUpdate: (o) => o,
  validate: validateEvent,
};

// --------------------------------------------------------------------------------------------- Leases

const leaseDecode = {
  struct: 'Lease',
  fields: {
    apiVersion: 'string',
    kind: 'string',
    metadata: 'any',
    spec: {
      struct: 'LeaseSpec',
      fields: {
        holderIdentity: 'string',
        leaseDurationSeconds: 'int32',
        acquireTime: 'microtime',
        renewTime: 'microtime',
        leaseTransitions: 'int32',
        strategy: 'string',
        preferredHolder: 'string',
      },
    },
  },
};

/** @type {Resource} */
const leases = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  kind: 'Lease',
  namespaced: true,
  hasStatus: false,
  custom: false,
  returnDeleted: false,
  createOnUpdate: true,
  generation: false,
  nameErrors: dns1123SubdomainErrors,
  fieldSelectors: ['metadata.name', 'metadata.namespace'],
  fields: (o) => metaFields(o, true),
  decode: leaseDecode,
  prepareStatusUpdate: (o) => o,
  validate(o) {
    /** @type {FieldError[]} */
    const errs = [];
    const spec = o.spec ?? {};
    if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds <= 0) {
      errs.push(field.invalid('spec.leaseDurationSeconds', spec.leaseDurationSeconds, 'must be greater than 0'));
    }
    if (spec.leaseTransitions !== undefined && spec.leaseTransitions < 0) {
      errs.push(field.invalid('spec.leaseTransitions', spec.leaseTransitions, 'must be greater than or equal to 0'));
    }
    return errs;
  },
};

// ------------------------------------------------------------------------------------- EndpointSlices

/** @type {Resource} */
const endpointslices = {
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  kind: 'EndpointSlice',
  namespaced: true,
  hasStatus: false,
  custom: false,
  returnDeleted: false,
  createOnUpdate: false,
  generation: true,
  nameErrors: dns1123SubdomainErrors,
  fieldSelectors: ['metadata.name', 'metadata.namespace'],
  fields: (o) => metaFields(o, true),
  decode: {
    struct: 'EndpointSlice',
    fields: {
      apiVersion: 'string',
      kind: 'string',
      metadata: 'any',
      addressType: 'string',
      endpoints: {
        list: {
          struct: 'Endpoint',
          fields: {
            addresses: { list: 'string' },
            conditions: { struct: 'EndpointConditions', fields: { ready: 'bool', serving: 'bool', terminating: 'bool' } },
            hostname: 'string',
            targetRef: 'any',
            deprecatedTopology: { map: 'string' },
            nodeName: 'string',
            zone: 'string',
            hints: 'any',
          },
        },
      },
      ports: {
        list: { struct: 'EndpointPort', fields: { name: 'string', protocol: 'string', port: 'int32', appProtocol: 'string' } },
      },
    },
  },
  prepareCreate(o) {
    for (const p of o.ports ?? []) p.protocol ??= 'TCP';
  },
  prepareUpdate(o) {
    for (const p of o.ports ?? []) p.protocol ??= 'TCP';
  },
  prepareStatusUpdate: (o) => o,
  validate(o) {
    /** @type {FieldError[]} */
    const errs = [];
    const types = ['FQDN', 'IPv4', 'IPv6'];
    if (!o.addressType) errs.push(field.required('addressType'));
    else if (!types.includes(o.addressType)) errs.push(field.notSupported('addressType', o.addressType, types));
    (o.endpoints ?? []).forEach((/** @type {Obj} */ ep, /** @type {number} */ i) => {
      const addrs = ep.addresses ?? [];
      if (addrs.length === 0) errs.push(field.required(`endpoints[${i}].addresses`, 'must contain at least 1 address'));
      else if (addrs.length > 100) errs.push(field.invalid(`endpoints[${i}].addresses`, addrs.length, 'must contain at most 100 addresses'));
      addrs.forEach((/** @type {string} */ a, /** @type {number} */ j) => {
        const at = `endpoints[${i}].addresses[${j}]`;
        if (o.addressType === 'IPv4' && !isIPv4(a)) errs.push(field.invalid(at, a, 'must be a valid IPv4 address'));
        if (o.addressType === 'IPv6' && !isIPv6(a)) errs.push(field.invalid(at, a, 'must be a valid IPv6 address'));
      });
    });
    return errs;
  },
};

// ----------------------------------------------------------------------------------------------- Eips

/** @type {Resource} */
const eips = {
  group: 'network.kubesphere.io',
  version: 'v1alpha2',
  plural: 'eips',
  kind: 'Eip',
  namespaced: false,
  hasStatus: true,
  custom: true,
  returnDeleted: false,
  createOnUpdate: false,
  generation: true,
  nameErrors: dns1123SubdomainErrors,
  fieldSelectors: ['metadata.name'],
  fields: (o) => metaFields(o, false),
  prepareCreate(o) {
    // a custom resource with a status subresource cannot set status on create
    delete o.status;
  },
  prepareUpdate(o, old) {
    if ('status' in old) o.status = clone(old.status);
    else delete o.status;
  },
  prepareStatusUpdate(o, old) {
    // custom resources: a status write changes status and nothing else
    const out = clone(old);
    if ('status' in o) out.status = o.status;
    else delete out.status;
    return out;
  },
  validate: (o) => validateStructural(o, EIP_SCHEMA),
  validateStatus: (o) => validateStructural(o, EIP_SCHEMA),
};

/** Every resource the stand-in serves. */
export const RESOURCES = [services, nodes, namespaces, events, leases, endpointslices, eips];

/**
 * The field selectors a server of this minor release supports for `r`.
 * @param {Resource} r
 * @param {number} minor
 */
export function fieldSelectorsAt(r, minor) {
  const since = r.fieldSelectorsSince;
  return since ? r.fieldSelectors.filter((f) => (since[f] ?? 0) <= minor) : r.fieldSelectors;
}

/** @param {string} group @param {string} version @param {string} plural */
export function findResource(group, version, plural) {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

/** @param {string} apiVersion e.g. "v1" or "coordination.k8s.io/v1" @param {string} kind */
export function resourceForKind(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return RESOURCES.find((r) => r.group === group && r.version === version && r.kind === kind);
}

/** @param {Resource} r */
export const apiVersionOf = (r) => (r.group ? `${r.group}/${r.version}` : r.version);

/** Names a resource in logs, failNext matching and the journal. */
export const resourceKey = (/** @type {Resource} */ r) => (r.group ? `${r.plural}.${r.group}` : r.plural);
