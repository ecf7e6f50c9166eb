/**
 * Node objects as a kubelet writes them: ~12 KB of JSON each before managedFields (50 images with their
 * digests, tags and sizes, `nodeInfo`, capacity and allocatable, five conditions with heartbeat times,
 * `daemonEndpoints`, addresses, the labels and annotations a kubeadm/cloud node carries). A cluster of
 * these is what a client that keeps whole objects pays for; l2lb reads a few hundred bytes of each.
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from './standin.ts';

/** Options of {@link kubeletNode}. */
export interface KubeletNodeOptions {
  /** InternalIP(s): one per family (default: none). */
  internalIPs?: string[];
  /** The Ready condition's status (default true). */
  ready?: boolean;
  /** More labels (merged over the usual ones). */
  labels?: Record<string, string>;
  /** spec.taints. */
  taints?: { key: string; value?: string; effect: string }[];
  /** How many images `status.images` lists (default 50, the kubelet's `nodeStatusMaxImages`). */
  images?: number;
  /** Time of the heartbeats and transitions (default now). */
  at?: Date;
}

/** Deterministic hex of `n` digits from `seed`. */
function hex(seed: string, n: number): string {
  let out = '';
  for (let i = 0; out.length < n; i++) out += createHash('sha256').update(`${seed}/${i}`).digest('hex');
  return out.slice(0, n);
}

const REPOS = [
  'registry.k8s.io/kube-proxy', 'registry.k8s.io/pause', 'registry.k8s.io/coredns/coredns', 'docker.io/calico/node',
  'docker.io/calico/cni', 'quay.io/prometheus/node-exporter', 'docker.io/grafana/promtail', 'ghcr.io/fluxcd/source-controller',
  'docker.io/library/nginx', 'docker.io/library/redis', 'quay.io/jetstack/cert-manager-controller', 'docker.io/bitnami/postgresql',
  'registry.example.com/payments/api-gateway', 'registry.example.com/payments/ledger-service', 'registry.example.com/search/indexer',
];

/** The conditions a kubelet reports, Ready last, with `at` as heartbeat and transition time. */
function conditions(ready: boolean, at: string): KubeObject[] {
  const c = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: at, lastTransitionTime: at, reason, message });
  return [
    c('NetworkUnavailable', 'False', 'CalicoIsUp', 'Calico is running on this node'),
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    ready
      ? c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status. AppArmor enabled')
      : c('Ready', 'False', 'KubeletNotReady', 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady'),
  ];
}

/**
 * A Node named `name` as a kubelet (and the cloud and IPAM controllers) leave it. Create it with
 * `api.create(node, { manager: 'kubelet' })`: the stand-in writes the status after the create, as the
 * kubelet does, and both get managedFields entries.
 */
export function kubeletNode(name: string, opts: KubeletNodeOptions = {}): KubeObject {
  const at = (opts.at ?? new Date()).toISOString().slice(0, 19) + 'Z';
  const zone = `eu-west-1${'abc'[Number.parseInt(hex(name, 2), 16) % 3]}`;
  const instance = `i-0${hex(`${name}/instance`, 16)}`;
  const images = Array.from({ length: opts.images ?? 50 }, (_, i) => {
    const repo = REPOS[i % REPOS.length]!;
    const tag = `v${1 + (i % 4)}.${(i * 7) % 30}.${(i * 13) % 10}`;
    return {
      names: [`${repo}@sha256:${hex(`${repo}:${tag}`, 64)}`, `${repo}:${tag}`],
      sizeBytes: 5_000_000 + ((Number.parseInt(hex(`${repo}:${tag}/size`, 8), 16) % 400) * 1_000_000 + i * 4321),
    };
  });
  const addresses = [
    ...(opts.internalIPs ?? []).map((address) => ({ type: 'InternalIP', address })),
    { type: 'Hostname', address: name },
    { type: 'InternalDNS', address: `${name}.eu-west-1.compute.internal` },
  ];
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/instance-type': 'm5.xlarge',
        'beta.kubernetes.io/os': 'linux',
        'failure-domain.beta.kubernetes.io/region': 'eu-west-1',
        'failure-domain.beta.kubernetes.io/zone': zone,
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'node-role.kubernetes.io/worker': '',
        'node.kubernetes.io/instance-type': 'm5.xlarge',
        'topology.ebs.csi.aws.com/zone': zone,
        'topology.kubernetes.io/region': 'eu-west-1',
        'topology.kubernetes.io/zone': zone,
        ...opts.labels,
      },
      annotations: {
        'csi.volume.kubernetes.io/nodeid': JSON.stringify({ 'ebs.csi.aws.com': instance }),
        'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
        'node.alpha.kubernetes.io/ttl': '0',
        'projectcalico.org/IPv4Address': `${opts.internalIPs?.find((ip) => !ip.includes(':')) ?? '10.0.0.1'}/24`,
        'projectcalico.org/IPv4IPIPTunnelAddr': `10.244.${Number.parseInt(hex(name, 2), 16)}.0`,
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: {
      podCIDR: `10.244.${Number.parseInt(hex(`${name}/cidr`, 2), 16)}.0/24`,
      podCIDRs: [`10.244.${Number.parseInt(hex(`${name}/cidr`, 2), 16)}.0/24`],
      providerID: `aws:///${zone}/${instance}`,
      ...(opts.taints ? { taints: opts.taints } : {}),
    },
    status: {
      capacity: {
        'attachable-volumes-aws-ebs': '25', cpu: '4', 'ephemeral-storage': '101430960Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0',
        memory: '16073648Ki', pods: '110',
      },
      allocatable: {
        'attachable-volumes-aws-ebs': '25', cpu: '3920m', 'ephemeral-storage': '92403120165', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0',
        memory: '15056816Ki', pods: '110',
      },
      conditions: conditions(opts.ready ?? true, at),
      addresses,
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hex(`${name}/machine`, 32),
        systemUUID: `ec2${hex(`${name}/uuid`, 5)}-${hex(`${name}/uuid2`, 4)}-${hex(`${name}/uuid3`, 4)}-${hex(`${name}/uuid4`, 4)}-${hex(`${name}/uuid5`, 12)}`,
        bootID: `${hex(`${name}/boot`, 8)}-${hex(`${name}/boot2`, 4)}-${hex(`${name}/boot3`, 4)}-${hex(`${name}/boot4`, 4)}-${hex(`${name}/boot5`, 12)}`,
        kernelVersion: '6.1.0-18-cloud-amd64',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: 'containerd://1.7.13',
        kubeletVersion: 'v1.28.15',
        kubeProxyVersion: 'v1.28.15',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images,
    },
  };
}

/**
 * The status a kubelet posts on its heartbeat: every condition as it was, with a new `lastHeartbeatTime`.
 * Write it with `api.patchStatus(ref, kubeletHeartbeat(node), { manager: 'kubelet' })`.
 */
export function kubeletHeartbeat(node: KubeObject, at = new Date()): KubeObject {
  const stamp = at.toISOString().slice(0, 19) + 'Z';
  return { conditions: (node.status?.conditions ?? []).map((c: KubeObject) => ({ ...c, lastHeartbeatTime: stamp })) };
}
