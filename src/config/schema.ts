/**
 * The configuration schema (valibot) and the normalized {@link Config} it produces.
 *
 * Every message is a complete phrase (`expected …`) because it is shown to the user as is, after the
 * key path, value and source. Defaults live in {@link DEFAULT_CONFIG}, not in the schema: loading
 * merges default < file < env first (to know where each value came from) and validates the result.
 */
import * as v from 'valibot';
import type { LogLevel } from '../log.ts';
import { formatIP, parseIP } from '../net/ip.ts';
import { addressProblem, clipRange, describeAddressProblem } from '../net/announceable.ts';
import { formatMAC, parseMAC } from '../net/mac.ts';
import { parseRange } from '../net/range.ts';
import { parseDuration } from './duration.ts';
import { isInterfaceName } from './ifname.ts';
import { formatListen, isLoopbackHost, parseListen } from './listen.ts';

/** A virtual IP announced in standalone mode. */
export interface VipConfig {
  /** Canonical text of the address (IPv4 or IPv6). */
  ip: string;
  /** Interface to announce on; default: the configured interface whose subnet holds the address, else the first. */
  interface?: string;
  /** MAC to announce for the IP, lower-case `aa:bb:cc:dd:ee:ff`; default: the interface's own. */
  mac?: string;
}

/** An address pool declared in the config file (same fields as an OpenELB `Eip` spec). */
export interface PoolConfig {
  name: string;
  /** A single IP, a CIDR or an `a-b` range. */
  address: string;
  /** Interface name, or `can_reach:IP`: the interface of the route to IP. */
  interface?: string;
  disable?: boolean;
  priority?: number;
  namespaces?: string[];
  namespaceSelector?: Record<string, string>;
  /** The default pool for Services that name none and match no namespace-bound pool. */
  default?: boolean;
  /** Only nodes with every one of these labels serve the pool's addresses (both announce styles). */
  nodeSelector?: Record<string, string>;
  /** Ordered preference among the candidates: the first selector matching a candidate wins. */
  preferredNodes?: Record<string, string>[];
  /** `sticky` (default): an address stays on its node while it is a candidate; `strict`: it moves back to a more preferred node. */
  prefer?: 'sticky' | 'strict';
}

/** Kubernetes mode settings. */
export interface KubernetesConfig {
  /** Path of a kubeconfig; default KUBECONFIG, then in-cluster, then ~/.kube/config. */
  kubeconfig?: string;
  /** `spec.loadBalancerClass` that selects our Services (besides the OpenELB annotation). */
  loadBalancerClass: string;
  /** Also take every LoadBalancer Service that has no class and no OpenELB annotation. */
  claimUnclassed: boolean;
  /** Read pools from OpenELB `Eip` objects (the CRD must be installed). */
  eips: boolean;
  /**
   * `node` (the gateway model): the leader answers for each address with the MAC of a healthy node chosen
   * by rendezvous hashing. `self` (per-node mode): an instance on every node answers for the addresses its
   * own node owns, with its own MAC. `leader`: the leader answers every address with its own MAC and its
   * host takes all the traffic (OpenELB's own layer 2 behaviour; no Node is read or probed).
   */
  announce: 'node' | 'self' | 'leader';
  /**
   * Per-node mode (`announce: self`): the Node this instance runs on; default the `NODE_NAME` environment
   * variable (the downward API's `spec.nodeName`).
   */
  nodeName?: string;
  /** Per-node mode: ms a node whose probe still answers keeps its addresses after its instance went silent. */
  restartGrace: number;
  /**
   * ms a watch may send nothing before it is given up and resumed from its last resourceVersion: a real API
   * server sends quiet watches nothing, and a silent one (SIGTERMed server, stuck proxy) looks the same.
   */
  watchInactivity: number;
  /**
   * Writes to the API server in flight at once (status, Eip status, Events). A 429 halves it for a while;
   * successes bring it back.
   */
  maxInflight: number;
  /** Replicas elect one leader through a coordination.k8s.io/v1 Lease; only the leader writes and answers. */
  leaderElection: {
    enabled: boolean;
    namespace: string;
    name: string;
    /** Default `<hostname>_<pid>`. */
    identity?: string;
    /** ms. */
    leaseDuration: number;
    renewDeadline: number;
    retryPeriod: number;
  };
}

/** Node health from the wire (Kubernetes mode). */
export interface HealthConfig {
  /** ms between ARP / NS probes of each candidate node. */
  probeInterval: number;
  /** Consecutive missed probes (or kube-proxy checks) that fail a node. */
  failures: number;
  /** Consecutive answers (or passed kube-proxy checks) that bring a failed node back. */
  successes: number;
  /** The optional HTTP check of each node's kube-proxy (see `kube/proxyhealth.ts`). */
  kubeProxy: KubeProxyCheckConfig;
}

/** `GET http://<node>:<port><path>` must answer 200 for a node to take traffic (when enabled). */
export interface KubeProxyCheckConfig {
  enabled: boolean;
  port: number;
  /** Starts with "/". */
  path: string;
  /** ms between checks of each node address. */
  interval: number;
  /** ms a check may take. */
  timeout: number;
}

/**
 * Replicas seeing each other on the segment (`announce/membership.ts`): heartbeats every `interval`, a
 * replica gone after `misses` of them, the next in line taking over at once.
 */
export interface MembershipConfig {
  /** `auto`: on in Kubernetes mode with leader election, off in standalone mode. */
  enabled: 'auto' | boolean;
  /** ms between heartbeats. */
  interval: number;
  misses: number;
  /** Shared secret for HMAC-SHA256 on every heartbeat; after loading, also holds the contents of `keyFile`. */
  key?: string;
  keyFile?: string;
  /** Replicas with the same name form one group; default `<lease namespace>/<lease name>` (Kubernetes) or `l2lb`. */
  deployment?: string;
  /** Identity on the wire; default the Lease identity (Kubernetes) or `<hostname>_<pid>`. */
  identity?: string;
  /** Standalone: higher leads first (0-255). */
  priority: number;
  /** Standalone: a live replica of higher priority takes over from the active one. */
  preempt: boolean;
}

/** The normalized configuration: every default filled in, durations in ms, addresses canonical. */
export interface Config {
  /** `standalone` (VIPs from config and API) or `kubernetes` (addresses for LoadBalancer Services). */
  mode: 'standalone' | 'kubernetes';
  /** Interfaces to answer on; `['auto']` means the interface of the default route. */
  interfaces: string[];
  api: {
    /** `host:port` of the admin API, canonical (`[v6]:port`). */
    listen: string;
    /** Bearer token for the admin API; after loading, also holds the contents of `tokenFile`. */
    token?: string;
    /** File the token was read from (absolute when it was relative to the config file). */
    tokenFile?: string;
  };
  vips: VipConfig[];
  /** Address pools for Kubernetes mode, beside `Eip` objects. */
  pools: PoolConfig[];
  kubernetes: KubernetesConfig;
  health: HealthConfig;
  membership: MembershipConfig;
  announce: {
    /** Gratuitous ARP / unsolicited NA sent when a mapping changes. */
    gratuitousCount: number;
    /** ms between those. */
    gratuitousInterval: number;
    /** ms between periodic re-announcements; 0 = off. */
    refreshInterval: number;
    /**
     * ms between unicast replies to every host that asked for an address, keeping its neighbour entry
     * REACHABLE (see `announce/requesters.ts`); 0 = off.
     */
    confirmInterval: number;
    /**
     * Replies per second to one requester (MAC) for one address, beyond a burst of as many; 0 = no limit.
     * A host asking in a loop, or a frame a bridging loop replays, is not answered every time.
     */
    replyLimit: number;
    /** ARP/NS probes for an address before announcing it; 0 = no conflict probe. */
    probeCount: number;
    /** ms between probes. */
    probeInterval: number;
    /** ms to wait for an answer after the last probe. */
    probeWait: number;
  };
  /** Where standalone state is kept; '' = not persisted. */
  stateFile: string;
  log: { level: LogLevel; format: 'json' | 'text' };
}

/** Deep-freezes `value` so no caller can change the shared defaults by accident. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) frozen(child);
    Object.freeze(value);
  }
  return value;
}

/** The embedded default: what runs with no config file and no environment. */
export const DEFAULT_CONFIG: Config = frozen({
  mode: 'standalone',
  interfaces: ['auto'],
  api: { listen: '127.0.0.1:9470' },
  vips: [],
  pools: [],
  kubernetes: {
    loadBalancerClass: 'l2lb.io/layer2',
    claimUnclassed: false,
    eips: true,
    announce: 'node',
    restartGrace: 5_000,
    watchInactivity: 30_000,
    maxInflight: 16,
    leaderElection: { enabled: true, namespace: 'l2lb-system', name: 'l2lb', leaseDuration: 5_000, renewDeadline: 3_000, retryPeriod: 1_000 },
  },
  health: {
    probeInterval: 100,
    failures: 3,
    successes: 2,
    kubeProxy: { enabled: false, port: 10_256, path: '/healthz', interval: 1_000, timeout: 500 },
  },
  membership: { enabled: 'auto', interval: 100, misses: 3, priority: 100, preempt: false },
  announce: {
    gratuitousCount: 3,
    gratuitousInterval: 1_000,
    refreshInterval: 0,
    confirmInterval: 5_000,
    replyLimit: 100,
    probeCount: 3,
    probeInterval: 100,
    probeWait: 200,
  },
  stateFile: '/var/lib/l2lb/state.json',
  log: { level: 'info', format: 'json' },
});

/** The word for "automatic interface" in `interfaces`. */
export const AUTO_INTERFACE = 'auto';

const DURATION_FORMS = 'milliseconds or a string like "250ms", "1.5s", "2m"';

/**
 * An object schema whose type error reads `expected <description>`. A missing key gets its own
 * message: valibot reports it with the parent's message otherwise, which names the wrong thing.
 */
function mapping<const TEntries extends v.ObjectEntries>(entries: TEntries, description: string) {
  return v.object(entries, (issue) => (issue.input === undefined && issue.path ? 'expected a value: this key is required' : `expected ${description}`));
}

/** An integer in [min, max] with one message for every way of missing it. */
function integer(min: number, max: number) {
  const message = `expected an integer from ${min} to ${max}`;
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
}

/**
 * A duration normalized to whole ms, accepted as a number of ms or a string with a unit.
 * `zeroIsOff` allows 0 below `min` (for intervals where 0 disables the feature).
 */
function duration(min: number, max: number, what: string, zeroIsOff = false) {
  const message = `expected ${what} (${DURATION_FORMS})`;
  return v.pipe(
    v.union([v.number(message), v.string(message)], message),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const ms = parseDuration(dataset.value);
      if (ms === undefined || ms > max || (ms < min && !(zeroIsOff && ms === 0))) {
        addIssue({ message });
        return NEVER;
      }
      return ms;
    }),
  );
}

const interfaceName = v.pipe(
  v.string('expected an interface name'),
  v.check(isInterfaceName, 'expected an interface name: 1-15 bytes without "/", ":" or whitespace'),
);

const ipAddress = v.pipe(
  v.string('expected an IP address, e.g. 192.0.2.10 or 2001:db8::10'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const ip = parseIP(dataset.value);
    if (ip === undefined) {
      addIssue({ message: 'expected an IPv4 or IPv6 address, e.g. 192.0.2.10 or 2001:db8::10' });
      return NEVER;
    }
    return formatIP(ip);
  }),
);

/** An address that may be announced (`net/announceable.ts`; what the host has is checked at start). */
const announceableAddress = v.pipe(
  ipAddress,
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const ip = parseIP(dataset.value)!;
    const problem = addressProblem(ip);
    if (problem) addIssue({ message: `expected a unicast address: ${describeAddressProblem(ip, problem)}` });
  }),
);

const MAC_EXPECTED = 'expected a MAC address like 02:00:5e:00:53:01';

const macAddress = v.pipe(
  v.string(MAC_EXPECTED),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const mac = parseMAC(dataset.value);
    // All-zero and broadcast would poison every neighbour cache that believed them.
    if (mac === undefined || mac.every((byte) => byte === 0) || mac.every((byte) => byte === 0xff)) {
      addIssue({ message: `${MAC_EXPECTED} (not all-zero or broadcast)` });
      return NEVER;
    }
    return formatMAC(mac);
  }),
);

const listenAddress = v.pipe(
  v.string('expected host:port, e.g. 127.0.0.1:9470'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const result = parseListen(dataset.value);
    if (!result.ok) {
      addIssue({ message: `expected ${result.expected}` });
      return NEVER;
    }
    return formatListen(result.address);
  }),
);

/** A path item for an issue about `object[key]`, as valibot builds them. */
function at<T extends object>(object: T, key: keyof T & string): v.ObjectPathItem {
  return { type: 'object', origin: 'value', input: object as Record<string, unknown>, key, value: object[key] };
}

/** A path item for an issue about `array[index]`. */
function item(array: unknown[], index: number): v.ArrayPathItem {
  return { type: 'array', origin: 'value', input: array, key: index, value: array[index] };
}

const interfaces = v.pipe(
  v.array(interfaceName, 'expected a list of interface names, e.g. [eth0] or [auto]'),
  v.minLength(1, 'expected at least one interface name, or [auto]'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const names = dataset.value;
    names.forEach((name, index) => {
      if (name === AUTO_INTERFACE && names.length > 1) {
        addIssue({ message: `expected "auto" alone (it means the default route's interface), not beside other names`, path: [item(names, index)] });
      } else if (names.indexOf(name) !== index) {
        addIssue({ message: `expected each interface once: also interfaces[${names.indexOf(name)}]`, path: [item(names, index)] });
      }
    });
  }),
);

const api = v.pipe(
  mapping(
    {
      listen: listenAddress,
      token: v.optional(v.pipe(v.string('expected a string'), v.minLength(1, 'expected a non-empty token'))),
      tokenFile: v.optional(v.pipe(v.string('expected a file path'), v.minLength(1, 'expected a file path'))),
    },
    'a mapping with keys listen, token, tokenFile',
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const value = dataset.value;
    if (value.token !== undefined && value.tokenFile !== undefined) {
      addIssue({ message: 'expected either api.token or api.tokenFile, not both', path: [at(value, 'token')] });
    }
    const listen = parseListen(value.listen);
    if (listen.ok && !isLoopbackHost(listen.address.host) && value.token === undefined && value.tokenFile === undefined) {
      addIssue({
        message: 'a token is required when api.listen is not a loopback address (set api.token or api.tokenFile)',
        path: [at(value, 'token')],
      });
    }
  }),
);

const vip = mapping(
  {
    ip: announceableAddress,
    interface: v.optional(interfaceName),
    mac: v.optional(macAddress),
  },
  'a mapping with keys ip, interface, mac, e.g. {ip: 192.0.2.10}',
);

const vips = v.pipe(
  v.array(vip, 'expected a list of VIPs, e.g. [{ip: 192.0.2.10}]'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const list = dataset.value;
    const first = new Map<string, number>();
    list.forEach((entry, index) => {
      const earlier = first.get(entry.ip);
      if (earlier === undefined) {
        first.set(entry.ip, index);
        return;
      }
      addIssue({
        message: `duplicate VIP ${entry.ip}: vips[${earlier}] and vips[${index}] have the same ip`,
        path: [item(list, index), at(entry, 'ip')],
      });
    });
  }),
);

const announce = mapping(
  {
    gratuitousCount: integer(0, 100),
    gratuitousInterval: duration(10, 3_600_000, 'a duration from 10ms to 1h'),
    refreshInterval: duration(1_000, 86_400_000, '0 (off) or a duration from 1s to 24h', true),
    confirmInterval: duration(100, 600_000, '0 (off) or a duration from 100ms to 10m', true),
    replyLimit: integer(0, 1_000_000),
    probeCount: integer(0, 20),
    probeInterval: duration(1, 10_000, 'a duration from 1ms to 10s'),
    probeWait: duration(0, 60_000, 'a duration from 0 to 1m'),
  },
  'a mapping with keys gratuitousCount, gratuitousInterval, refreshInterval, confirmInterval, replyLimit, probeCount, probeInterval, probeWait',
);

const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const pool = mapping(
  {
    name: v.pipe(v.string('expected a pool name'), v.regex(K8S_NAME, 'expected a pool name: lower-case letters, digits, "-" and ".", like a Kubernetes object name')),
    address: v.pipe(
      v.string('expected an address: an IP, a CIDR or a range a-b'),
      v.check((text) => parseRange(text) !== undefined, 'expected an IP, a CIDR (192.0.2.0/24) or a range (192.0.2.10-192.0.2.20) of one family'),
      v.rawCheck(({ dataset, addIssue }) => {
        const range = dataset.typed ? parseRange(dataset.value) : undefined;
        if (!range) return; // the check above has said what is wrong
        const problem = clipRange(range).problem;
        if (problem) addIssue({ message: `expected a range of unicast addresses: ${problem}` });
      }),
    ),
    interface: v.optional(v.union([
      interfaceName,
      v.pipe(v.string(), v.check((t) => /^can_reach:/.test(t) && parseIP(t.slice('can_reach:'.length)) !== undefined)),
    ], 'expected an interface name or can_reach:IP')),
    disable: v.optional(v.boolean('expected true or false')),
    priority: v.optional(integer(-2147483648, 2147483647)),
    namespaces: v.optional(v.array(v.pipe(v.string('expected a namespace name'), v.regex(K8S_NAME, 'expected a namespace name')), 'expected a list of namespace names')),
    namespaceSelector: v.optional(v.record(v.string(), v.string(), 'expected a mapping of label: value')),
    default: v.optional(v.boolean('expected true or false')),
    nodeSelector: v.optional(v.record(v.string(), v.string(), 'expected a mapping of node label: value')),
    preferredNodes: v.optional(v.array(v.record(v.string(), v.string(), 'expected a mapping of node label: value'), 'expected a list of node label mappings, most preferred first')),
    prefer: v.optional(v.picklist(['sticky', 'strict'], 'expected sticky (stay on a node while it can serve) or strict (move back to a more preferred node)')),
  },
  'a mapping with keys name, address and optionally interface, disable, priority, namespaces, namespaceSelector, default, nodeSelector, preferredNodes, prefer',
);

const pools = v.pipe(
  v.array(pool, 'expected a list of pools, e.g. [{name: lan, address: 192.0.2.100-192.0.2.150}]'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const list = dataset.value;
    list.forEach((entry, index) => {
      const earlier = list.findIndex((p) => p.name === entry.name);
      if (earlier !== index) {
        addIssue({ message: `duplicate pool name ${entry.name}: also pools[${earlier}]`, path: [item(list, index), at(entry, 'name')] });
      }
    });
  }),
);

const kubernetes = mapping(
  {
    kubeconfig: v.optional(v.pipe(v.string('expected a file path'), v.minLength(1, 'expected a file path'))),
    loadBalancerClass: v.pipe(v.string('expected a class name'), v.minLength(1, 'expected a class name like l2lb.io/layer2')),
    claimUnclassed: v.boolean('expected true or false'),
    eips: v.boolean('expected true or false'),
    announce: v.picklist(['node', 'self', 'leader'], 'expected node (the gateway model: a healthy node\'s MAC), self (per-node mode: each node answers for its own addresses) or leader (the leader\'s own MAC for every address)'),
    nodeName: v.optional(v.pipe(v.string('expected a Node name'), v.regex(K8S_NAME, 'expected a Node name'))),
    restartGrace: duration(0, 600_000, 'a duration from 0s to 10m'),
    watchInactivity: duration(1_000, 600_000, 'a duration from 1s to 10m'),
    maxInflight: integer(1, 256),
    leaderElection: v.pipe(
      mapping(
        {
          enabled: v.boolean('expected true or false'),
          namespace: v.pipe(v.string('expected a namespace name'), v.regex(K8S_NAME, 'expected a namespace name')),
          name: v.pipe(v.string('expected a Lease name'), v.regex(K8S_NAME, 'expected a Lease name')),
          identity: v.optional(v.pipe(v.string('expected an identity'), v.minLength(1, 'expected a non-empty identity'))),
          leaseDuration: duration(1_000, 600_000, 'a duration from 1s to 10m'),
          renewDeadline: duration(500, 600_000, 'a duration from 500ms to 10m'),
          retryPeriod: duration(100, 60_000, 'a duration from 100ms to 1m'),
        },
        'a mapping with keys enabled, namespace, name, identity, leaseDuration, renewDeadline, retryPeriod',
      ),
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed) return;
        const le = dataset.value;
        if (!(le.retryPeriod < le.renewDeadline && le.renewDeadline < le.leaseDuration)) {
          addIssue({ message: `expected retryPeriod < renewDeadline < leaseDuration (${le.retryPeriod} / ${le.renewDeadline} / ${le.leaseDuration} ms)`, path: [at(le, 'renewDeadline')] });
        }
      }),
    ),
  },
  'a mapping with keys kubeconfig, loadBalancerClass, claimUnclassed, eips, announce, nodeName, restartGrace, watchInactivity, maxInflight, leaderElection',
);

const kubeProxy = mapping(
  {
    enabled: v.boolean('expected true or false'),
    port: integer(1, 65535),
    path: v.pipe(v.string('expected a URL path like /healthz'), v.regex(/^\/[\x21-\x7e]*$/, 'expected a URL path like /healthz: starting with "/", no spaces')),
    interval: duration(50, 600_000, 'a duration from 50ms to 10m'),
    timeout: duration(10, 60_000, 'a duration from 10ms to 1m'),
  },
  'a mapping with keys enabled, port, path, interval, timeout',
);

const health = mapping(
  {
    probeInterval: duration(10, 10_000, 'a duration from 10ms to 10s'),
    failures: integer(1, 100),
    successes: integer(1, 100),
    kubeProxy,
  },
  'a mapping with keys probeInterval, failures, successes, kubeProxy',
);

const membership = v.pipe(
  mapping(
    {
      enabled: v.union([v.literal('auto'), v.boolean()], 'expected auto, true or false'),
      interval: duration(10, 10_000, 'a duration from 10ms to 10s'),
      misses: integer(2, 20),
      key: v.optional(v.pipe(v.string('expected a string'), v.minLength(16, 'expected a shared secret of at least 16 characters'))),
      keyFile: v.optional(v.pipe(v.string('expected a file path'), v.minLength(1, 'expected a file path'))),
      deployment: v.optional(v.pipe(v.string('expected a name'), v.minLength(1, 'expected a non-empty name'), v.maxLength(253, 'expected a name of at most 253 characters'))),
      identity: v.optional(v.pipe(v.string('expected an identity'), v.minLength(1, 'expected a non-empty identity'), v.check((s) => new TextEncoder().encode(s).length <= 63, 'expected an identity of at most 63 bytes'))),
      priority: integer(0, 255),
      preempt: v.boolean('expected true or false'),
    },
    'a mapping with keys enabled, interval, misses, key, keyFile, deployment, identity, priority, preempt',
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const m = dataset.value;
    if (m.key !== undefined && m.keyFile !== undefined) addIssue({ message: 'expected either membership.key or membership.keyFile, not both', path: [at(m, 'key')] });
  }),
);

const log = mapping(
  {
    level: v.picklist(['debug', 'info', 'warn', 'error'], 'expected one of debug, info, warn, error'),
    format: v.picklist(['json', 'text'], 'expected json or text'),
  },
  'a mapping with keys level, format',
);

/** The schema of a whole, merged configuration (all keys present). */
export const ConfigSchema = v.pipe(
  mapping(
    {
      mode: v.picklist(['standalone', 'kubernetes'], 'expected standalone or kubernetes'),
      interfaces,
      api,
      vips,
      pools,
      kubernetes,
      health,
      membership,
      announce,
      stateFile: v.string('expected a file path, or "" to keep no state'),
      log,
    },
    'a mapping of config keys',
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const config = dataset.value;
    // A VIP on an interface we do not listen on would never be answered. With 'auto' the
    // interface is only known at start-up.
    if (config.interfaces.includes(AUTO_INTERFACE)) return;
    config.vips.forEach((entry, index) => {
      if (entry.interface !== undefined && !config.interfaces.includes(entry.interface)) {
        addIssue({
          message: `expected one of the configured interfaces (${config.interfaces.join(', ')})`,
          path: [at(config, 'vips'), item(config.vips, index), at(entry, 'interface')],
        });
      }
    });
  }),
) satisfies v.GenericSchema<unknown, Config>;
