/**
 * Kubernetes mode: watches Services, Namespaces and Eips; allocates addresses (src/ipam, a pure function
 * of the whole snapshot); writes Service status, the OpenELB pool label, Eip status and Events; and hands
 * the allocated addresses to the announcer. Kubernetes objects are the only state: a restart rebuilds
 * everything from them, and an address a Service has is kept.
 */
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { DesiredVip } from '../announce/announcer.ts';
import { type AddressRequest, type Candidacy, type NodeHealth, type NodeInfo, type Segment, rendezvousScore } from '../announce/nodes.ts';
import { type InstanceSeen, type Move, type Serving, decideOwnership, describeWhy, withInstances } from '../announce/ownership.ts';
import { AgreementTracker, type NodeAgreement, type PeerDigest, compareDigests } from '../announce/agreement.ts';
import type { ProbeChange, ProbeTarget } from '../announce/probe.ts';
import type { ProxyChange, ProxyState } from './proxyhealth.ts';
import { type Pool, buildPools, poolFor } from '../ipam/pool.ts';
import { type AllocationResult, allocate, poolUsage } from '../ipam/allocate.ts';
import { formatIP, parseIP } from '../net/ip.ts';
import type { KubeClient } from './client.ts';
import { Informer } from './informer.ts';
import { type NodeIndex, indexNodes } from './node-index.ts';
import { OnDemandInformer, type Watched } from './ondemand.ts';
import { trimEip, trimEndpointSlice, trimNamespace, trimNode, trimService } from './trim.ts';
import { KubeApiError } from './http.ts';
import { type EndpointSlice, type Eip, type EipStatus, type Namespace, type Node, type Service, ANNOTATION_POOL, ANNOTATION_PREFER, ANNOTATION_SERVING, PATHS, keyOf } from './objects.ts';
import { recordedNode, servingNodes } from './serving-record.ts';
import { CONCERN_SELECTIONS, claimOf, configPool, eipPool, eipStatus, endpointNodes, hasIngress, ingressIPs, isOurs, mayConcern, needsEndpoints, nodeInfo } from './selection.ts';
import type { PoolEventReason } from './events.ts';
import { type EventSubject, EventWrite, type StatusChange, StatusWrite, type WriteSink } from './queued.ts';
import type { HostAddresses } from '../net/announceable.ts';
import { Writer } from './writer.ts';
import { backoffDelay } from './backoff.ts';
import type { KubeStats } from './stats.ts';

/** What `GET /v1/pools` shows of a pool. */
export interface PoolView {
  name: string;
  source: 'eip' | 'config';
  address: string;
  family?: 4 | 6;
  interface?: string;
  size: string;
  used: number;
  free: string;
  usable: boolean;
  problem?: string;
  /** What the pool leaves out (fixed blocks at its ends, addresses that belong to hosts), in words. */
  skipped?: string;
}

/** How the controller reaches the rest of the process. */
export interface ControllerIO {
  /** The addresses to answer for (with the node MAC in the gateway model). Called on the leader only. */
  announce(vips: DesiredVip[]): void;
  /** The addresses the leader answers for, as this standby computes them: watched, not answered. */
  watch?(vips: DesiredVip[]): void;
  /**
   * Between the steps of a long pass (10,000 Services: ~0.4 s on 2 cores): the main thread is busy, not
   * stalled, so the wire membership may renew its dead-man grant (`Membership.alive`).
   */
  alive?(): void;
  /** Node addresses to probe, per interface. */
  probes?(targets: Map<string, string[]>): void;
  /** What the wire probes know of a node address now (its round trips), for the API. */
  probeTarget?(ip: string): ProbeTarget | undefined;
  /** Each interface's own prefixes: the L2 segments nodes must be on. */
  segments?(): Map<string, Segment>;
  /** This host's own addresses and the subnets it answers on: pools skip them (`net/announceable.ts`). */
  host?(): HostAddresses;
  /** The interface an address will be announced on. */
  interfaceFor?(vip: DesiredVip): string;
  /**
   * Per-node mode: the instances heard on the wire, by wire identity (`wireIdentity(node name)`), when this
   * instance started listening, and how old a heartbeat may be and still prove its node alive.
   */
  peers?(): { seen: Map<string, InstanceSeen & PeerDigest>; startedAt: number; overdueMs: number };
  /** Per-node mode: the wire identity whose heartbeats come from `mac` (a lookup: wire events call it per address). */
  peerOfMac?(mac: string): string | undefined;
  /** Per-node mode: this host's MAC on an interface, and whether that link runs. */
  own?(iface: string): { mac?: string; up: boolean };
}

/** Which node serves an address, since when and why (`GET /v1/services`, per address). */
export interface ServingView {
  /** Absent: no node can serve it. */
  node?: string;
  since: string;
  why: string;
}

/** What `GET /v1/nodes` shows of a Node. */
export interface NodeView {
  name: string;
  ready: boolean;
  excluded: boolean;
  addresses: {
    ip: string;
    probe: string;
    mac?: string;
    lastChange?: string;
    misses?: number;
    /** When it last answered a probe, and the round trip of that probe and of the last 30 (ms). */
    lastAnswer?: string;
    rttMs?: number;
    rttsMs?: number[];
    /** The kube-proxy health check of this address, when `health.kubeProxy.enabled`. */
    kubeProxy?: { state: ProxyState | 'not checked'; result?: string; since?: string; lastCheck?: string; misses?: number };
  }[];
  candidate: boolean;
  why?: string;
  serving: string[];
  /** Per-node mode: the node's l2lb instance as this one hears it (live, restarting within the grace, absent). */
  instance?: NonNullable<NodeInfo['instance']>;
  /**
   * Per-node mode: whether the node's instance answers what this one expects of it (heartbeat digest);
   * undefined for this node and for nodes not heard or listening.
   */
  agrees?: boolean;
}

/** What `GET /v1/services` shows of a Service. */
export interface ServiceView {
  service: string;
  addresses: string[];
  pool?: string;
  /** kept: it has its address, but its request or its pool says otherwise (`lastError` says why). */
  state: 'assigned' | 'kept' | 'failed' | 'pending';
  lastError?: string;
  since: string;
}

interface Reported {
  ips: string;
  error?: string;
  since: number;
}

const DEBOUNCE_MS = 5;
/**
 * How long a peer's heartbeat digest may differ from what we expect of it before that is a disagreement:
 * its digest follows a move within a heartbeat interval, and views settle within a probe round or two.
 */
const AGREEMENT_SETTLE_MS = 1_000;
/** A pass holds the main thread at most about this long (ms) before it lets the event loop run. */
const SLICE_MS = 25;
const RETRY_MS = 250;
/** EndpointSlices stay watched this long after the last Service that needs them is gone (no relist per flap). */
const ENDPOINTS_LINGER_MS = 10 * 60_000;
/** Backoff of writes after server failures (not conflicts): from 250..500 ms up to 5..10 s. */
const WRITE_BACKOFF = { initialMs: 500, maxMs: 10_000 };

/** The Kubernetes side of l2lb. */
export class ServiceController {
  private readonly services: Informer<Service & { metadata: { name: string } }>;
  private readonly nodes?: Informer<Node>;
  /** Watched only while a Service needs them (`externalTrafficPolicy: Local`). */
  private readonly slices?: OnDemandInformer<EndpointSlice>;
  private leader = true;
  private answering = true;
  /**
   * Per-node mode: answering again after a fence. The first addresses taken are all probed, moves too:
   * while we were cut off another node may have taken them, and we missed its burst.
   */
  private rejoining = false;
  /** What the last pass chose to announce (answered or watched). */
  private computed?: DesiredVip[];
  /** Probe results by node address. */
  private readonly health = new Map<string, NodeHealth & { misses: number; at: number; lastSeen?: number }>();
  /** kube-proxy check results by node address; consulted only when `health.kubeProxy.enabled`. */
  private readonly proxy = new Map<string, { state: ProxyState; result: string; at: number; since: number; misses: number }>();
  /** Failovers caused by probes: time from the old node's last answer to the new mapping (for metrics). */
  readonly repair = { count: 0, sumMs: 0, lastMs: 0 };
  /** Which node serves each address as this instance decided it, since when, and why. */
  private serving = new Map<string, Serving>();
  private lastCandidacy = new Map<string, Candidacy>();
  /** How long the last reconcile pass took (ms, capped at 1 s): the minimum pause before the next one. */
  private lastPassMs = 0;
  /**
   * Reconcile passes timed (for metrics): every change waits for one, so at scale a pass's length is part of
   * how long a new Service waits for its address and a failed node's addresses for a new home.
   */
  readonly passes = { count: 0, sumMs: 0, lastMs: 0 };
  /** The running pass's pieces (between two turns of the event loop); made at its start. */
  private slice?: PassSlice;
  /** A config that arrived while a pass ran; taken when it ends. */
  private nextConfig?: Config;
  private eventSeq = 0;
  /** Whether addresses are mapped to nodes (both announce styles). */
  private readonly chooses: boolean;
  /** Per-node mode: the Node this instance runs on. */
  private readonly self?: string;
  /** Per-node mode: the addresses this instance answered after the last pass. */
  private answered = new Set<string>();
  /**
   * Per-node mode: addresses another instance was seen answering while we meant to (our record may be
   * stale), by address: its node, and the record it overrides. A claim holds until the record changes.
   */
  private readonly claims = new Map<string, { node: string; record: string | undefined }>();
  /** Per-node mode: whether the other instances answer what we expect of them (their heartbeat digests). */
  private readonly agreement = new AgreementTracker(AGREEMENT_SETTLE_MS);
  private agreementNow: NodeAgreement[] = [];
  /** The nodes of {@link agreementNow} that agree, for the serving record (read per address per pass). */
  private agreeing: ReadonlySet<string> = new Set();
  /** Per-node mode: each node's instance as the last pass judged it. */
  private instances = new Map<string, NonNullable<NodeInfo['instance']>>();
  /** Per-node mode: a reconcile due when a grace period ends or a heartbeat becomes overdue. */
  private wake?: { at: number; timer: ReturnType<typeof setTimeout> };
  private readonly namespaces: Informer<Namespace>;
  private readonly eips?: Informer<Eip>;
  private readonly writer: Writer;
  /** What the queued writes use of this controller (src/kube/queued.ts). */
  private readonly sink: WriteSink;
  private timer?: ReturnType<typeof setTimeout>;
  private running = false;
  private again = false;
  private stopped = false;
  private synced = false;
  private pools: Pool[] = [];
  private results = new Map<string, AllocationResult>();
  /** Which Service each allocated address is of, as of the last node choice (wire events look it up). */
  private owners = new Map<string, string>();
  private indexed?: NodeIndex;
  private readonly reported = new Map<string, Reported>();
  /** Pool problems already logged, by pool name. */
  private poolsLogged = new Map<string, { problem?: string; skipped?: string }>();
  /** Pool problems recorded as Events on their Eips (the writer's), by pool name. */
  private poolsReported = new Map<string, { problem?: string; skipped?: string }>();
  /** Writes done whose effect the watch has not shown yet: key -> resourceVersion written against + body. */
  private readonly written = new Map<string, { baseRV?: string; fingerprint: string }>();
  /** API requests made (writes), for metrics and the benchmark. */
  readonly counts = { statusWrites: 0, eipWrites: 0, events: 0, conflicts: 0, errors: 0, throttled: 0, reconciles: 0, allocations: 0, probeChanges: 0, proxyChanges: 0, failovers: 0 };
  /** Bumped by every event of what allocation reads (Services, Namespaces, Eips, Nodes): see {@link allocatedFrom}. */
  private inputEvents = 0;
  /**
   * What the last allocation read. Allocation is a pure function of the pools (config, Eips, this host's and
   * the Nodes' addresses), the Namespaces, our Services and its own last results: when none changed, a pass
   * reuses the results. Most passes at scale are started by something else (probe results, heartbeats,
   * EndpointSlices, announcements), and rebuilding 10,000 claims and allocating cost each 0.1–0.2 s and
   * ~25 MiB of garbage.
   */
  private allocatedFrom?: { events: number; config: Config; host: string };
  /** Failed writes in a row (conflicts aside) per write key: the backoff step of its next retry. */
  private readonly writeFailures = new Map<string, number>();
  /** Failovers by why the previous node lost the address (a `NotCandidate`, or 'node-removed'). */
  readonly failoversByReason: Record<string, number> = {};

  /**
   * `opts.sliceMs`: how long a pass may hold the main thread before it lets the event loop run
   * ({@link SLICE_MS} by default; tests set 0 to make every step a turn of the loop).
   */
  constructor(
    private readonly client: KubeClient,
    private config: Config,
    private readonly log: Logger,
    private readonly io: ControllerIO,
    private readonly opts: { sliceMs?: number } = {},
  ) {
    const inactivityMs = config.kubernetes.watchInactivity;
    // Every object is cut down to the fields l2lb reads as it arrives (src/kube/trim.ts).
    this.services = new Informer<Service>(client, PATHS.services, { log, name: 'services', inactivityMs, transform: trimService, select: mayConcern, listAs: CONCERN_SELECTIONS });
    this.namespaces = new Informer<Namespace>(client, PATHS.namespaces, { log, name: 'namespaces', inactivityMs, transform: trimNamespace });
    if (config.kubernetes.eips) this.eips = new Informer<Eip>(client, PATHS.eips, { log, name: 'eips', inactivityMs, transform: trimEip });
    if (config.kubernetes.announce === 'self') {
      if (config.kubernetes.nodeName === undefined) throw new Error('kubernetes.announce: self needs kubernetes.nodeName');
      this.self = config.kubernetes.nodeName;
    }
    // `leader`: every address answered by the leader with its own MAC, no node choice.
    this.chooses = config.kubernetes.announce !== 'leader';
    if (this.chooses) {
      this.nodes = new Informer<Node>(client, PATHS.nodes, { log, name: 'nodes', inactivityMs, transform: trimNode });
      const slices = new OnDemandInformer<EndpointSlice>(
        () => new Informer<EndpointSlice>(client, PATHS.endpointSlices, { log, name: 'endpointslices', inactivityMs, transform: trimEndpointSlice }),
        { name: 'endpointslices', after: this.services.synced, lingerMs: ENDPOINTS_LINGER_MS, onComplete: () => this.schedule(0) },
      );
      this.services.onChange((ev) => slices.need(keyOf(ev.object.metadata), ev.type !== 'deleted' && needsEndpoints(ev.object)));
      this.slices = slices;
    }
    this.sink = { client, log, written: this.written, counts: this.counts };
    this.writer = new Writer(config.kubernetes.maxInflight, {
      done: (w) => {
        this.io.alive?.();
        this.writeFailures.delete(w.key);
      },
      failed: (w, err) => {
        this.io.alive?.();
        this.written.delete(w.key);
        if (err instanceof KubeApiError && err.status === 409) {
          // Our copy was stale: the watch brings the news within moments, no reason to slow down.
          this.counts.conflicts++;
          this.log.warn('write failed; will reconcile again', { write: w.key, error: (err as Error).message });
          this.schedule(RETRY_MS);
          return;
        }
        // The server failed (5xx, 429, timeout, unreachable): this object's next write waits a growing,
        // jittered while, and at least as long as the server asked (Retry-After). Other objects go on: one
        // write a webhook keeps refusing must not hold up every other.
        this.counts.errors++;
        // Refused for load (429: API Priority and Fairness, max-requests-inflight): every write slows down.
        if (err instanceof KubeApiError && err.status === 429) {
          this.counts.throttled++;
          this.writer.throttle(err.retryAfterMs ?? 1_000);
        }
        const failures = (this.writeFailures.get(w.key) ?? 0) + 1;
        this.writeFailures.set(w.key, failures);
        const delay = backoffDelay(failures, WRITE_BACKOFF, err instanceof KubeApiError ? err.retryAfterMs : undefined);
        this.client.http.stats.retry('writes', delay);
        this.writer.holdOff(w.key, delay);
        this.log.warn('write failed; will reconcile again', { write: w.key, error: (err as Error).message, retryInMs: Math.round(delay) });
        this.schedule(delay);
      },
    });
    this.nodes?.onChange(() => (this.indexed = undefined));
    for (const inf of [this.services, this.namespaces, this.eips, this.nodes]) inf?.onChange(() => this.inputEvents++);
    for (const inf of this.informers()) {
      inf.onChange((ev) => {
        // Many small tasks in one turn of the event loop (a burst of watch events and write answers) can
        // hold the timers back as long as one long task: each renews the grant, as the pass's pieces do.
        this.io.alive?.();
        if (!this.takeEcho(ev)) this.schedule();
      });
    }
  }

  /**
   * Takes a reloaded config (pools, classes, timing; keys that need a restart never change here) and
   * decides again with it.
   */
  setConfig(config: Config): void {
    // A pass decides with one config from start to end: one that arrives while a pass waits (it lets the
    // event loop run at scale) is taken when it ends.
    if (this.running) {
      this.nextConfig = config;
      this.again = true;
      return;
    }
    this.config = config;
    this.schedule(0);
  }

  /** Starts the watches; allocation begins once every initial list is complete. */
  start(): void {
    for (const inf of this.informers()) inf.start();
    void Promise.all(this.informers().map((i) => i.synced)).then(() => {
      if (this.stopped) return;
      this.synced = true;
      this.log.info('kubernetes: initial lists complete', {
        services: this.services.list().length, namespaces: this.namespaces.list().length, eips: this.eips?.list().length ?? 0,
      });
      this.schedule(0);
    });
  }

  /** Stops watching and writing. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.writer.clear();
    await Promise.all(this.informers().map((i) => i.stop()));
  }

  /** Resolves when no reconcile is due and no write is queued or running (tests, benchmarks). */
  async settled(): Promise<void> {
    for (;;) {
      await this.writer.idle();
      if (!this.timer && !this.running && this.writer.size === 0) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Failed API requests and the retry loops' backoff (of every user of this connection, the Lease too). */
  /** Writes allowed in flight at once now (`kubernetes.maxInflight`, less after 429s). */
  get writeLimit(): number {
    return this.writer.limit;
  }

  get kubeStats(): KubeStats {
    return this.client.http.stats;
  }

  /** Readiness: every watch has its initial list. */
  ready(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    for (const inf of this.informers()) {
      if (!inf.hasSynced()) reasons.push(`kubernetes: ${inf.name} not listed yet${inf.lastError ? ` (${inf.lastError})` : ''}`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  /** Pools and their use, for the API. */
  poolViews(): PoolView[] {
    const usage = poolUsage(this.pools, this.results);
    return this.pools.map((p) => {
      const u = usage.get(p.spec.name);
      return {
        name: p.spec.name, source: p.spec.source, address: p.spec.address, family: p.family, interface: p.spec.interface,
        size: p.size.toString(), used: u?.used ?? 0, free: (u?.free ?? p.size).toString(), usable: p.usable, problem: p.problem,
        ...(p.skippedNote ? { skipped: p.skippedNote } : {}),
      };
    });
  }

  /** Our Services and their addresses, for the API. */
  serviceViews(): ServiceView[] {
    const out: ServiceView[] = [];
    for (const svc of this.services.list()) {
      if (!isOurs(svc, this.config.kubernetes)) continue;
      const key = keyOf(svc.metadata);
      const r = this.results.get(key);
      const rep = this.reported.get(key);
      out.push({
        service: key,
        addresses: ingressIPs(svc),
        pool: svc.metadata.labels?.[ANNOTATION_POOL],
        state: !r ? 'pending' : r.ok ? (r.kept ? 'kept' : 'assigned') : 'failed',
        lastError: r ? (r.ok ? r.kept : r.reason) : undefined,
        since: new Date(rep?.since ?? Date.now()).toISOString(),
      });
    }
    return out.sort((a, b) => a.service.localeCompare(b.service));
  }

  private informers(): Watched<any>[] {
    return [this.services, this.namespaces, ...(this.eips ? [this.eips] : []), ...(this.nodes ? [this.nodes, this.slices!] : [])];
  }

  /** The Lease: only its holder writes to the API; standbys keep computing. */
  setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    if (!leader) {
      this.writer.clear();
      this.writeFailures.clear();
    }
    this.schedule(0);
  }

  /**
   * The wire: whether this replica answers. Without membership it follows the Lease; with it, an acting
   * leader answers before it holds the Lease (and writes nothing until it does).
   */
  setServing(serving: boolean): void {
    if (serving === this.answering) return;
    this.answering = serving;
    if (this.self !== undefined) {
      // Per-node mode: after a fence what this instance served may have moved meanwhile; it starts again
      // from what the writer recorded and conflict-probes what it keeps (see selectNodes).
      this.io.announce([]);
      this.answered.clear();
      this.rejoining = serving;
      this.schedule(0);
      return;
    }
    if (!serving) this.io.announce([]);
    // Taking over: answer at once with what this standby computed last (it watched the same), then recompute.
    else if (this.computed) {
      this.io.announce(this.computed);
      this.io.watch?.([]);
    }
    this.schedule(0);
  }

  /** Takes probe results from the wire; a node going down is acted on without waiting. */
  onProbe(changes: ProbeChange[]): void {
    for (const c of changes) {
      this.health.set(c.ip, { state: c.state, mac: c.mac, misses: c.misses, at: c.at, lastSeen: c.lastSeen });
      if (c.state !== c.before) this.counts.probeChanges++;
    }
    this.schedule(0);
  }

  /** Per-node mode: the instances heard changed (one appeared, left, or changed what it answers). */
  onMembers(): void {
    this.schedule(0);
  }

  /**
   * Per-node mode: another node's instance answers an address this instance holds or probes. One that
   * only probes gives way (its record may be stale: the address moved while it was away); two that both
   * answer settle on the higher rendezvous score, which both compute alike. The claim holds until the
   * record on the Service changes; meanwhile the record is what every instance decides from.
   */
  onConflict(ev: { vip: string; mac: string; phase: 'probe' | 'active' }): void {
    if (this.self === undefined) return;
    const node = this.nodeOfMac(ev.mac);
    if (!node || node === this.self) return;
    if (ev.phase === 'active' && rendezvousScore(ev.vip, this.self) > rendezvousScore(ev.vip, node)) return;
    this.log.info('address answered by another node: giving way', { address: ev.vip, node, phase: ev.phase });
    this.claims.set(ev.vip, { node, record: this.recordOf(ev.vip) });
    this.schedule(0);
  }

  /**
   * Per-node mode: another node's instance announced an address this instance watches (its gratuitous
   * burst on taking it). Every instance on the segment sees the same burst, so all take the same claim:
   * the address stays where it went even if the record cannot follow yet (the writer's own node failed),
   * until the record changes.
   */
  onAnnounced(ev: { vip: string; mac: string }): void {
    if (this.self === undefined) return;
    const node = this.nodeOfMac(ev.mac);
    if (!node || node === this.self) return;
    const record = this.recordOf(ev.vip);
    const claim = this.claims.get(ev.vip);
    if (claim?.node === node && claim.record === record) return;
    if (record === node) {
      // The record already says so: no claim needed.
      if (claim) this.claims.delete(ev.vip);
      return;
    }
    this.claims.set(ev.vip, { node, record });
    this.log.debug('address announced by another node: following it', { address: ev.vip, node, record });
    this.schedule(0);
  }

  /** Whether `mac` sends the heartbeats of another node's instance (per-node mode). */
  isPeerMac(mac: string): boolean {
    if (this.self === undefined) return false;
    const node = this.nodeOfMac(mac);
    return node !== undefined && node !== this.self;
  }

  /** The node recorded on its Service as serving `ip` (`l2lb.io/serving-node`). */
  private recordOf(ip: string): string | undefined {
    const key = this.owners.get(ip);
    const svc = key === undefined ? undefined : this.services.get(key);
    return svc ? recordedNode(svc, ip) : undefined;
  }

  /** The node with InternalIP `ip`, if any (log lines about a probed address name its node). */
  nodeOfAddress(ip: string): string | undefined {
    return this.nodeIndex()?.byIP.get(ip);
  }

  /** The node whose instance sends heartbeats from `mac`. */
  private nodeOfMac(mac: string): string | undefined {
    const identity = this.io.peerOfMac?.(mac);
    return identity === undefined ? undefined : this.nodeIndex()?.byWire.get(identity);
  }

  /** The Nodes indexed, built on the first lookup after a Node changed (wire events come in bursts). */
  private nodeIndex(): NodeIndex | undefined {
    if (!this.nodes) return undefined;
    return (this.indexed ??= indexNodes(this.nodes.list()));
  }

  /**
   * Takes kube-proxy check results (`kube/proxyhealth.ts`, the same addresses as the probes). Only a change
   * of state needs a new choice; a new result text is only kept for the API.
   */
  onProxyHealth(changes: ProxyChange[]): void {
    let moved = false;
    for (const c of changes) {
      // Compared with what candidacy saw last, not with `before`: an address checked afresh (its node left
      // the probe list and came back) starts 'unknown' there while this map may still say 'up'.
      if (this.proxy.get(c.ip)?.state !== c.state) moved = true;
      this.proxy.set(c.ip, { state: c.state, result: c.result, at: c.at, since: c.since, misses: c.misses });
      if (c.state !== c.before) this.counts.proxyChanges++;
    }
    if (moved) this.schedule(0);
  }

  /**
   * The health candidacy is judged on: the probe results, plus each address's kube-proxy state when the
   * check is on ('unknown' until its first result, so a node is not chosen before it was checked).
   */
  private candidateHealth(): Map<string, NodeHealth> {
    if (!this.config.health.kubeProxy.enabled) return this.health;
    const out = new Map<string, NodeHealth>();
    for (const ip of new Set([...this.health.keys(), ...this.proxy.keys()])) {
      const h = this.health.get(ip);
      out.set(ip, { state: h?.state ?? 'unknown', ...(h?.mac !== undefined ? { mac: h.mac } : {}), proxy: this.proxy.get(ip)?.state ?? 'unknown' });
    }
    return out;
  }

  /** Nodes, their probe (and kube-proxy check) state and candidacy, for the API. */
  nodeViews(): NodeView[] {
    const out: NodeView[] = [];
    const checked = this.config.health.kubeProxy.enabled;
    for (const n of this.nodes?.list() ?? []) {
      const info = nodeInfo(n);
      const ips = info.internalIPs.map((ip) => {
        const h = this.health.get(ip);
        const p = this.proxy.get(ip);
        const kubeProxy = !checked ? undefined : p
          ? { state: p.state, result: p.result, since: new Date(p.since).toISOString(), lastCheck: new Date(p.at).toISOString(), misses: p.misses }
          : { state: 'not checked' as const };
        const t = this.io.probeTarget?.(ip);
        return {
          ip, probe: h?.state ?? 'not probed', mac: h?.mac, lastChange: h ? new Date(h.at).toISOString() : undefined, misses: h?.misses, kubeProxy,
          ...(t?.lastSeen !== undefined ? { lastAnswer: new Date(t.lastSeen).toISOString() } : {}),
          ...(t?.rtt !== undefined ? { rttMs: t.rtt, rttsMs: t.rtts ?? [] } : {}),
        };
      });
      const c = this.lastCandidacy.get(info.name);
      const agreement = this.agreementNow.find((a) => a.node === info.name);
      out.push({
        name: info.name, ready: info.ready, excluded: info.excluded, addresses: ips, candidate: c?.candidate ?? false, why: c?.why,
        serving: [...this.serving].filter(([, s]) => s.node === info.name).map(([ip]) => ip),
        ...(this.self !== undefined ? { instance: this.instances.get(info.name) } : {}),
        ...(agreement ? { agrees: agreement.agrees } : {}),
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Whether a watch event only shows a write of ours landing: a Service whose spec, annotations and other
   * labels are unchanged and whose addresses and pool label are what we wrote, or an Eip whose status is
   * what we wrote. Reconciling for those would cost a full pass per write (quadratic at start-up). A write
   * seen landing is forgotten: its entry only stops the same write being queued again before the watch shows
   * it, and the object's version has now moved past it (10,000 entries held for nothing otherwise).
   */
  private takeEcho(ev: { type: string; object: any; old?: any }): boolean {
    if (ev.type === 'added' || !ev.old) return false;
    const o = ev.object;
    const key = o.kind === 'Eip' || o.spec?.address !== undefined ? `eip:${o.metadata.name}` : `service:${keyOf(o.metadata)}`;
    if (ev.type === 'deleted') {
      // Gone, or no longer a Service that can concern us (our write taking our label off it, the last one).
      this.written.delete(key);
      return false;
    }
    const w = this.written.get(key);
    if (!w || !this.isEcho(o, ev.old, key, w)) return false;
    this.written.delete(key);
    return true;
  }

  private isEcho(o: any, old: any, key: string, w: { fingerprint: string }): boolean {
    if (JSON.stringify(o.spec) !== JSON.stringify(old.spec)) return false;
    const annotations = (a: Record<string, string> | undefined) => JSON.stringify(Object.entries(a ?? {}).filter(([k]) => k !== ANNOTATION_SERVING).sort());
    if (annotations(o.metadata.annotations) !== annotations(old.metadata.annotations)) return false;
    if (key.startsWith('eip:')) return sameStatus(o.status ?? {}, JSON.parse(w.fingerprint) as EipStatus);
    const labels = (l: Record<string, string> | undefined) => JSON.stringify(Object.entries(l ?? {}).filter(([k]) => k !== ANNOTATION_POOL).sort());
    if (labels(o.metadata.labels) !== labels(old.metadata.labels)) return false;
    return w.fingerprint === `${ingressIPs(o).join(',')}|${o.metadata.labels?.[ANNOTATION_POOL] ?? ''}|${o.metadata.annotations?.[ANNOTATION_SERVING] ?? ''}|${conditionText(o.status?.conditions)}`;
  }

  private schedule(delay = DEBOUNCE_MS): void {
    if (this.stopped || !this.synced) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    // A pass over a large cluster takes tens of ms: leave the event loop at least as much time between
    // passes (watches, the Lease, the API) as the last pass took.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reconcile();
    }, Math.max(delay, this.lastPassMs));
  }

  private reconcile(): void {
    this.running = true;
    const t0 = performance.now();
    this.again = false;
    this.counts.reconciles++;
    this.slice = { start: t0, busyMs: 0, longestMs: 0, longest: '' };
    this.writer.pause();
    void this.reconcileOnce().catch((err: unknown) => {
      this.log.error('reconcile failed', { error: (err as Error).message });
      this.schedule(RETRY_MS);
    }).finally(() => {
      this.running = false;
      this.writer.resume();
      const slice = this.slice!;
      this.slice = undefined;
      const now = performance.now();
      endPiece(slice, 'the end of the pass', now);
      const busyMs = slice.busyMs;
      this.passes.count++;
      this.passes.sumMs += busyMs;
      this.passes.lastMs = busyMs;
      this.lastPassMs = Math.min(1000, busyMs);
      if (busyMs >= 100) {
        this.log.debug('reconcile pass', {
          busyMs: Math.round(busyMs), wallMs: Math.round(now - t0), longestMs: Math.round(slice.longestMs), longest: slice.longest,
        });
      }
      if (this.nextConfig !== undefined) {
        this.config = this.nextConfig;
        this.nextConfig = undefined;
        this.again = true;
      }
      if (this.again) this.schedule();
    });
  }

  /**
   * Lets the event loop run when the pass has held the thread for {@link SLICE_MS}: at 10,000 Services and
   * 5,000 Nodes a pass took 0.5–0.75 s in one piece, long enough for the wire membership to take the
   * main thread for stalled and fence this replica (it stopped answering for 0.5 s on every change), and no
   * write, watch event or heartbeat moved meanwhile. Resolves false when the controller stopped meanwhile.
   * Small clusters never wait here: their passes are shorter than one slice.
   */
  private async breathe(step: string): Promise<boolean> {
    const now = performance.now();
    // reconcile() makes it; a pass called directly (test/bench/kube.ts times one) starts its own.
    const slice = (this.slice ??= { start: now, busyMs: 0, longestMs: 0, longest: '' });
    if (now - slice.start < (this.opts.sliceMs ?? SLICE_MS)) return !this.stopped;
    endPiece(slice, step, now);
    this.io.alive?.();
    await new Promise<void>((r) => setTimeout(r, 0));
    slice.start = performance.now();
    return !this.stopped;
  }

  private async reconcileOnce(): Promise<void> {
    const eips = this.eips?.list() ?? [];
    const specs = [...this.config.pools.map(configPool), ...eips.map(eipPool).filter((p) => p !== undefined)];
    const host = this.io.host?.() ?? {};
    this.pools = buildPools(specs, this.hostFacts(host));
    this.reportPools(eips);
    const all = this.services.list();
    const ours = all.filter((s) => isOurs(s, this.config.kubernetes));
    // Per Service, its key (keys[i] is ours[i]'s): no key string made again per use.
    let keys: string[] | undefined;
    const from = { events: this.inputEvents, config: this.config, host: hostKey(host) };
    const last = this.allocatedFrom;
    if (last && last.events === from.events && last.config === from.config && last.host === from.host) {
      keys = ours.map((s) => keyOf(s.metadata));
      // Cannot differ when no event came; if it ever did, allocating is the safe answer.
      if (!keys.every((k) => this.results.has(k))) keys = undefined;
    }
    if (keys === undefined) {
      const prior = this.results;
      const claims = ours.map((svc) => {
        const claim = claimOf(svc);
        // An address decided earlier whose write has not landed yet is this Service's: keep it, or a Service
        // created meanwhile could be given the same address.
        const before = prior.get(claim.key);
        if (claim.current.length === 0 && before?.ok) claim.current = before.addresses.map((a) => a.ip);
        return claim;
      });
      keys = claims.map((c) => c.key);
      const namespaces = this.namespaces.list().map((n) => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} }));
      if (!(await this.breathe('claims'))) return;
      // One piece of 0.1–0.2 s at 10,000 Services: the membership renews its grant between its loops.
      this.results = allocate(this.pools, namespaces, claims, () => this.io.alive?.());
      this.counts.allocations++;
      // What it read as the pass began: an event during the pass makes the next one allocate again.
      this.allocatedFrom = from;
      if (!(await this.breathe('allocate'))) return;
    }

    const vips: DesiredVip[] = [];
    const poolByName = new Map(this.pools.map((p) => [p.spec.name, p]));
    for (let i = 0; i < ours.length; i++) {
      const svc = ours[i]!;
      const r = this.results.get(keys[i]!)!;
      if (r.ok) {
        for (const a of r.addresses) {
          const vip: DesiredVip = { ip: a.ip, source: 'kubernetes', probe: !hasIngress(svc, a.ip) };
          // An address the Service already has is ours: no conflict probe, so a new leader announces at once.
          setInterface(vip, poolByName.get(a.pool)?.spec.interface);
          vips.push(vip);
        }
      }
    }
    if (!(await this.breathe('desired addresses'))) return;
    const announced = this.chooses ? await this.selectNodes(vips, new Map(ours.map((s, i) => [keys[i]!, s]))) : vips;
    if (announced === undefined || !(await this.breathe('node choice'))) return;
    for (let i = 0; i < ours.length; i++) {
      if ((i & 255) === 255 && !(await this.breathe('status writes'))) return;
      const svc = ours[i]!;
      const r = this.results.get(keys[i]!)!;
      const ips = r.ok ? r.addresses.map((a) => a.ip) : [];
      const pool = r.ok ? r.addresses[0]?.pool : undefined;
      this.writeService(svc, ips, pool, this.chooses ? this.servingAnnotation(svc, ips) : undefined, r.ok && r.kept ? r.kept : null);
      this.report(keys[i]!, svc, r);
    }
    if (!(await this.breathe('status writes'))) return;
    // Services that were ours (they carry our label naming one of our pools) and are not any more: the label
    // and any address of our pools come off.
    let recorded: Map<string, string[]> | undefined;
    for (const svc of all) {
      if (isOurs(svc, this.config.kubernetes)) continue;
      const label = svc.metadata.labels?.[ANNOTATION_POOL];
      if (label === undefined || !poolByName.has(label)) continue;
      const key = keyOf(svc.metadata);
      const mine = ingressIPs(svc).filter((ip) => this.inOurPools(ip));
      // The API server clears status.loadBalancer itself when the type changes: what we had is in `reported`,
      // or, when that happened while no l2lb ran, in the Eips' status (it still names the Service).
      recorded ??= usersOf(eips);
      const had = mine.length > 0 ? mine.join(', ') : this.reported.get(key)?.ips || recorded.get(key)?.join(', ');
      const keep = ingressIPs(svc).filter((ip) => !this.inOurPools(ip));
      // Said once, when the write that releases it is queued, not again on each pass until the watch shows it.
      if (this.writeService(svc, keep, undefined) && had) this.emit(svc, 'ReleaseIP', `released ${had}: the Service is no longer ours (not a LoadBalancer, or of another class)`);
      this.reported.delete(key);
    }
    // Deleted Services: forget what we reported; the Eip status below releases their addresses.
    for (const key of this.reported.keys()) {
      if (this.services.get(key) === undefined) {
        this.log.info('service deleted: address released', { service: key });
        this.reported.delete(key);
      }
    }
    if (!(await this.breathe('released'))) return;
    this.writeEips(eips);
    if (!(await this.breathe('Eip status'))) return;
    if (this.self !== undefined) {
      this.announceOwn(announced);
      return;
    }
    this.computed = announced;
    if (this.answering) {
      this.io.announce(announced);
      this.io.watch?.([]);
    } else this.io.watch?.(announced);
  }

  /**
   * Both announce styles: which node serves each address (`announce/ownership.ts` decides, this does the
   * I/O). Returns the addresses with their node's MAC; an address no node can serve is left out
   * (withdrawn, not pointed at a dead node). Also sets the node addresses to probe.
   */
  private async selectNodes(vips: DesiredVip[], svcByKey: Map<string, Service>): Promise<DesiredVip[] | undefined> {
    const eps = endpointNodes(this.slices!.list());
    const endpointsKnown = this.slices!.complete();
    const segments = this.io.segments?.() ?? new Map<string, Segment>();
    let nodes: readonly NodeInfo[] = this.nodeIndex()!.infos;
    let health = this.candidateHealth();
    const now = Date.now();
    let seen: Map<string, InstanceSeen & PeerDigest> | undefined;
    if (this.self !== undefined) {
      const peers = this.io.peers?.() ?? { seen: new Map(), startedAt: now, overdueMs: 0 };
      seen = new Map();
      // The index holds each Node's wire identity, worked out once per change of the Nodes, not per pass.
      for (const [identity, name] of this.nodeIndex()!.byWire) {
        const s = peers.seen.get(identity);
        if (s) seen.set(name, s);
      }
      const links = new Map([...segments.keys()].map((iface) => [iface, this.io.own?.(iface) ?? { up: true }]));
      const policy = { overdueMs: peers.overdueMs, graceMs: this.config.kubernetes.restartGrace, startedAt: peers.startedAt };
      const r = withInstances(nodes, health, segments, { self: this.self, seen, links, policy }, now);
      nodes = r.nodes;
      health = r.health;
      this.instances = new Map(nodes.map((n) => [n.name, n.instance!]));
      this.wakeAt(r.wakeAt ?? Infinity);
    }
    const live = new Set(nodes.filter((n) => n.instance === 'live').map((n) => n.name));
    const poolByName = new Map(this.pools.map((p) => [p.spec.name, p.spec]));
    const poolOf = new Map<string, string>();
    const owner = new Map<string, string>();
    for (const [key, r] of this.results) {
      if (!r.ok) continue;
      for (const a of r.addresses) {
        poolOf.set(a.ip, a.pool);
        owner.set(a.ip, key);
      }
    }
    this.owners = owner;
    // The shared record of every address (`l2lb.io/serving-node`), read once per pass.
    const recorded = new Map<string, string>();
    // Read into one map: a map per Service per pass was garbage at 10,000 Services.
    for (const svc of svcByKey.values()) servingNodes(svc, recorded);
    const reqs: AddressRequest[] = vips.map((v) => {
      const service = owner.get(v.ip) ?? '';
      const svc = svcByKey.get(service);
      const current = this.currentOf(v.ip, recorded.get(v.ip), live);
      // EndpointSlices are watched only while a Service needs them: until a watch started for a new need has
      // listed them, an address already served stays where it is instead of being withdrawn for want of them.
      const localOnly = svc !== undefined && needsEndpoints(svc) && (endpointsKnown || current === undefined);
      const pool = poolByName.get(poolOf.get(v.ip) ?? '');
      const strict = (svc?.metadata.annotations?.[ANNOTATION_PREFER] ?? pool?.prefer) === 'strict';
      const req: AddressRequest = {
        ip: v.ip, service, interface: this.io.interfaceFor?.(v) ?? v.interface ?? '', localOnly,
        endpointNodes: localOnly ? eps.get(service) ?? [] : undefined,
        current,
      };
      // Set, not spread from an object made for it: three throwaway objects per address per pass.
      if (pool?.nodeSelector) req.nodeSelector = pool.nodeSelector;
      if (pool?.preferredNodes) req.preferred = pool.preferredNodes;
      if (strict) req.strict = strict;
      return req;
    });
    // What is decided below reads the serving map as it is then: a pass is the only writer of it.
    if (!(await this.breathe('node requests'))) return undefined;
    const own = decideOwnership({ requests: reqs, nodes, health, segments, previous: this.serving, ...(this.self !== undefined ? { self: this.self } : {}), now });
    this.lastCandidacy = own.candidacy;
    this.io.probes?.(own.probes);
    const previous = this.serving;
    this.serving = own.serving;
    for (const m of own.moves) this.onMove(m, previous.get(m.ip), svcByKey.get(owner.get(m.ip) ?? ''), now);
    for (const f of own.firsts) this.log.info('address served by node', { address: f.ip, node: f.node });
    for (const ip of this.claims.keys()) if (!own.serving.has(ip)) this.claims.delete(ip);
    if (this.self !== undefined) {
      // An address this instance takes over from a node that lost it, while the record still names that
      // node, is its claim, as its burst is the others' (onAnnounced): it stays here until the record
      // changes, even if the record cannot follow at once (the writer's own node failed).
      for (const m of own.moves) {
        if (m.to !== this.self) continue;
        const r = recorded.get(m.ip);
        if (r !== this.self) this.claims.set(m.ip, { node: this.self, record: r });
      }
    }
    if (seen) this.checkAgreement(seen, now);
    const out: DesiredVip[] = [];
    for (const v of vips) {
      const s = own.serving.get(v.ip);
      if (s?.node && s.mac) out.push({ ...v, mac: s.mac });
    }
    return out;
  }

  /**
   * The node an address is on before this pass (its stickiness). Gateway model: what this leader chose,
   * else what the last one recorded. Per-node mode: the record alone (or a claim seen on the wire while
   * the record is unchanged), so that instances with different histories still decide alike.
   */
  private currentOf(ip: string, recorded: string | undefined, live: ReadonlySet<string>): string | undefined {
    if (this.self === undefined) return this.serving.get(ip)?.node ?? recorded;
    const claim = this.claims.get(ip);
    if (claim && (claim.record !== recorded || !live.has(claim.node))) {
      this.log.debug('claim dropped', { address: ip, node: claim.node, record: claim.record, recorded, live: live.has(claim.node) });
      this.claims.delete(ip);
    }
    else if (claim) return claim.node;
    return recorded;
  }

  /** Logs, counts and (as the writer) records an Event for an address that changed node. */
  private onMove(m: Move, before: Serving | undefined, svc: Service | undefined, now: number): void {
    const words = this.words(m.from, m.why);
    if (m.to === undefined) {
      this.log.warn('address withdrawn: no healthy node can serve it', { address: m.ip, service: svc ? keyOf(svc.metadata) : undefined, was: m.from, why: words });
      return;
    }
    this.log.warn('address moved', { address: m.ip, from: m.from, to: m.to, why: words });
    if (!svc || before?.node === undefined) return;
    this.counts.failovers++;
    this.failoversByReason[m.why] = (this.failoversByReason[m.why] ?? 0) + 1;
    const seen = m.why === 'probe-down' ? this.lastSeenOf(m.from) : undefined;
    if (seen !== undefined) {
      this.repair.count++;
      this.repair.lastMs = now - seen;
      this.repair.sumMs += this.repair.lastMs;
    }
    this.emit(svc, 'NodeChanged', `${m.ip} moved from ${m.from} to ${m.to}: ${words}`);
  }

  /**
   * Per-node mode: compares what each peer says it answers with what this instance expects of it; a
   * difference that lasts is logged once and counted, and its end is logged too.
   */
  private checkAgreement(seen: ReadonlyMap<string, PeerDigest>, now: number): void {
    const { nodes, started, ended } = this.agreement.update(now, compareDigests(this.serving, seen, this.self!));
    this.agreementNow = nodes;
    this.agreeing = new Set(nodes.filter((a) => a.agrees).map((a) => a.node));
    for (const node of started) {
      const a = nodes.find((x) => x.node === node);
      this.log.warn('instances disagree: a node answers other addresses than this instance expects of it', {
        node, expected: a?.expected, since: a?.since !== undefined ? new Date(a.since).toISOString() : undefined,
      });
    }
    for (const node of ended) this.log.info('instances agree again', { node });
    const due = this.agreement.dueAt();
    if (due !== undefined) this.wakeAt(due);
  }

  /** Per-node mode: each peer's agreement with this instance's view, and disagreements counted so far. */
  agreementView(): { nodes: NodeAgreement[]; disagreeing: string[]; disagreements: number } | undefined {
    if (this.self === undefined) return undefined;
    return { nodes: this.agreementNow, disagreeing: this.agreement.lasting(Date.now()), disagreements: this.agreement.disagreements };
  }

  /** One pass at `at` (the earliest due; Infinity: none). */
  private wakeAt(at: number): void {
    if (this.wake && this.wake.at <= at && this.wake.at > Date.now()) return;
    if (this.wake) clearTimeout(this.wake.timer);
    this.wake = undefined;
    if (!Number.isFinite(at)) return;
    const timer = setTimeout(() => {
      this.wake = undefined;
      this.schedule(0);
    }, Math.max(0, at - Date.now()));
    this.wake = { at, timer };
  }

  /**
   * Per-node mode: answer what our node owns, with our own MAC, and watch the rest (the hosts that ask
   * are remembered, so taking an address over confirms their entries at once). An address we did not
   * answer a moment ago (a start, the end of a fence) is conflict-probed first unless we take it over
   * from a node that lost it: the record we decided from may be stale, and another node may have it.
   */
  private announceOwn(all: DesiredVip[]): void {
    const own: DesiredVip[] = [];
    const others: DesiredVip[] = [];
    for (const v of all) {
      const s = this.serving.get(v.ip);
      if (!s || s.node !== this.self) {
        others.push(v);
        continue;
      }
      const { mac: _mac, ...rest } = v;
      const rejoin = !this.answered.has(v.ip) && (this.rejoining || s.reason !== 'moved');
      own.push({ ...rest, probe: v.probe === true || rejoin });
    }
    if (!this.answering) {
      this.io.announce([]);
      this.io.watch?.(all);
      return;
    }
    this.io.announce(own);
    this.io.watch?.(others);
    this.answered = new Set(own.map((v) => v.ip));
    this.rejoining = false;
  }

  /** The InternalIPs of Node `node` (none when it is gone). */
  private nodeIPs(node: string): string[] {
    const n = this.nodes?.get(node);
    return n ? nodeInfo(n).internalIPs : [];
  }

  /** The last time any address of a node answered a probe. */
  private lastSeenOf(node: string): number | undefined {
    const times = this.nodeIPs(node).map((ip) => this.health.get(ip)?.lastSeen).filter((t): t is number => t !== undefined);
    return times.length > 0 ? Math.max(...times) : undefined;
  }

  /** Words for why `node` lost an address, with what the probes and checks saw of it. */
  private words(node: string, why: string): string {
    const ips = this.nodeIPs(node);
    return describeWhy(node, why, {
      misses: Math.max(0, ...ips.map((ip) => this.health.get(ip)?.misses ?? 0)),
      proxyResult: ips.map((ip) => this.proxy.get(ip)).find((p) => p?.state === 'down')?.result,
    });
  }

  /** Words for where an address is and why. */
  private servingWords(s: Serving): string {
    switch (s.reason) {
      case 'initial': return 'initial';
      case 'kept': return 'kept';
      case 'waiting': return 'waiting for the first probe of every node';
      case 'none': return s.from ? `no candidate node (${this.words(s.from, s.why ?? '')})` : 'no candidate node';
      case 'moved': return this.words(s.from!, s.why ?? '');
    }
  }

  /**
   * The annotation recording which node serves each of `ips` (`ip=node,...`), or "" when none is served.
   * Per-node mode: a node's addresses are recorded once its heartbeats show it answers what we expect of
   * it (so `kubectl get svc -o yaml` shows what the members announce, not only what the writer thinks).
   * Until then, while no node can serve an address, and while this instance is fenced (its view is stale:
   * it was stalled or cut off), the record stays as it is: every instance decides from it, and dropping
   * or rewriting it from a stale view would move addresses for nothing. In both models an address not yet
   * decided (the first probes after a start are still out) keeps its record: a restarted gateway leader once
   * removed every record and wrote it back a few seconds later, two status writes per Service for nothing.
   */
  private servingAnnotation(svc: Service, ips: readonly string[]): string {
    // Built in a loop, the record read only where it is needed: this runs for every Service on every pass.
    let out = '';
    for (const ip of ips) {
      const s = this.serving.get(ip);
      let node = s?.node;
      if (s?.reason === 'waiting') node = recordedNode(svc, ip);
      else if (this.self !== undefined) {
        const verified = this.answering && node !== undefined && (node === this.self || this.agreeing.has(node));
        if (!verified) node = recordedNode(svc, ip);
      }
      if (node) out = out === '' ? `${ip}=${node}` : `${out},${ip}=${node}`;
    }
    return out;
  }

  /** Which node serves each address, for the API. */
  servingOf(ip: string): ServingView | undefined {
    const s = this.serving.get(ip);
    return s && { node: s.node, since: new Date(s.since).toISOString(), why: this.servingWords(s) };
  }

  /**
   * What pools must not hand out: this host's addresses and the subnets it answers on, and every Node's
   * InternalIP (announcing a node's own address would take the node off the network).
   */
  private hostFacts(host: HostAddresses): HostAddresses {
    const own = [...(host.own ?? [])];
    const ownedBy = new Map(host.ownedBy ?? []);
    for (const a of this.nodeIndex()?.hostAddresses ?? []) {
      own.push(a.ip);
      ownedBy.set(a.text, a.owner);
    }
    return { subnets: host.subnets ?? [], own, ownedBy };
  }

  /**
   * Logs a pool that cannot be used or skips addresses when that changes, and (as the writer) records it
   * as an Event on its Eip: PoolUnusable with the reason, PoolAddressesSkipped with what it leaves out,
   * PoolUsable when a problem clears. A standby logs but records nothing as reported, so the writer it may
   * become still reports.
   */
  private reportPools(eips: Eip[]): void {
    const now = new Map<string, { problem?: string; skipped?: string }>();
    for (const p of this.pools) if (p.problem || p.skippedNote) now.set(p.spec.name, { problem: p.problem, skipped: p.skippedNote });
    const changes = (seen: Map<string, { problem?: string; skipped?: string }>) => {
      const out: { name: string; problem?: string; skipped?: string; cleared?: boolean }[] = [];
      for (const [name, st] of now) {
        const before = seen.get(name);
        if (st.problem && st.problem !== before?.problem) out.push({ name, problem: st.problem });
        else if (!st.problem && st.skipped && st.skipped !== before?.skipped) out.push({ name, skipped: st.skipped });
      }
      for (const [name, before] of seen) if (before.problem && !now.get(name)?.problem) out.push({ name, cleared: true });
      return out;
    };
    for (const c of changes(this.poolsLogged)) {
      if (c.problem) this.log.warn('pool not used', { pool: c.name, problem: c.problem });
      else if (c.skipped) this.log.warn('pool skips addresses', { pool: c.name, skipped: c.skipped });
      else this.log.info('pool usable again', { pool: c.name });
    }
    this.poolsLogged = now;
    if (!this.leader) return;
    const byName = new Map(eips.map((e) => [e.metadata.name, e]));
    for (const c of changes(this.poolsReported)) {
      const eip = byName.get(c.name);
      if (!eip) continue;
      if (c.problem) this.emitOn(eip, 'PoolUnusable', `pool ${c.name} is not used: ${c.problem}`);
      else if (c.skipped) this.emitOn(eip, 'PoolAddressesSkipped', `pool ${c.name} ${c.skipped}`);
      else this.emitOn(eip, 'PoolUsable', `pool ${c.name} is used again`);
    }
    this.poolsReported = now;
  }

  private inOurPools(text: string): boolean {
    const ip = parseIP(text);
    if (!ip) return false;
    return poolFor(this.pools, ip)?.usable === true;
  }

  /**
   * Emits AssignIP / ReleaseIP / AssignIPFailed once per change of a Service's outcome. Only the writer
   * reports: an outcome recorded as reported by a standby would never be evented once it leads (its first
   * pass often runs before the Lease is won).
   */
  private report(key: string, svc: Service, r: AllocationResult): void {
    if (!this.leader) return;
    const before = this.reported.get(key);
    const error = r.ok ? r.kept : r.reason;
    // Compared before it is joined: nearly every Service on nearly every pass is unchanged.
    if (before && before.error === error && sameJoined(before.ips, r)) return;
    const ips = r.ok ? r.addresses.map((a) => a.ip).join(', ') : '';
    this.reported.set(key, { ips, error, since: Date.now() });
    // Kept against what its pool or its request says: a warning that names why and what to do, once.
    if (r.ok && r.kept && r.kept !== before?.error) {
      this.emit(svc, 'AssignIPFailed', r.kept);
      this.log.warn('address kept', { service: key, why: r.kept });
    }
    if (!r.ok) {
      this.emit(svc, 'AssignIPFailed', r.reason);
      if (before?.ips) this.emit(svc, 'ReleaseIP', `released ${before.ips}`);
      this.log.warn('address not assigned', { service: key, reason: r.reason });
      return;
    }
    const had = new Set(ingressIPs(svc));
    const gained = r.addresses.filter((a) => !had.has(a.ip));
    if (gained.length > 0) {
      this.emit(svc, 'AssignIP', `assigned ${gained.map((a) => `${a.ip} from pool ${a.pool}`).join(', ')}${r.partial ? ` (${r.partial})` : ''}`);
      this.log.info('address assigned', { service: key, addresses: gained.map((a) => a.ip), pool: gained[0]!.pool });
    }
    const lost = [...had].filter((ip) => !r.addresses.some((a) => a.ip === ip));
    if (lost.length > 0) this.emit(svc, 'ReleaseIP', `released ${lost.join(', ')}`);
  }

  private emit(svc: Service, reason: 'AssignIP' | 'ReleaseIP' | 'AssignIPFailed' | 'NodeChanged', message: string): void {
    this.queueEvent({ kind: 'Service', svc, reason }, message);
  }

  /** An Event on an Eip (the writer only). */
  private emitOn(eip: Eip, reason: PoolEventReason, message: string): void {
    this.queueEvent({ kind: 'Eip', eip, reason }, message);
  }

  private queueEvent(subject: EventSubject, message: string): void {
    if (!this.leader) return;
    this.counts.events++;
    this.writer.enqueue(new EventWrite(`event:${++this.eventSeq}`, this.sink, subject, message, Date.now()));
  }

  /**
   * Queues the write of status.loadBalancer.ingress, our pool label, annotation and condition, where they
   * differ; says whether it queued one (false: nothing differs, or the same write is already on its way).
   */
  private writeService(svc: Service, ips: string[], pool: string | undefined, serving?: string, kept?: string | null): boolean {
    if (!this.leader) return false;
    const ingressSame = sameList(ingressIPs(svc), ips);
    const labelSame = svc.metadata.labels?.[ANNOTATION_POOL] === pool;
    const current = svc.metadata.annotations?.[ANNOTATION_SERVING];
    // undefined: node selection is off and the annotation is not ours to manage; "" means none.
    const servingSame = serving === undefined || current === serving || (current === undefined && serving === '');
    // The condition saying why an address is kept against its request or pool (kept: null = none).
    const conditions = kept === undefined ? undefined : withCondition(svc.status?.conditions, kept);
    const conditionsSame = conditions === undefined;
    if (ingressSame && labelSame && servingSame && conditionsSame) return false;
    const key = `service:${keyOf(svc.metadata)}`;
    const fingerprint = `${ips.join(',')}|${pool ?? ''}|${serving ?? current ?? ''}|${conditionText(conditions ?? svc.status?.conditions)}`;
    // Already written against this very version: the watch has not shown our write yet.
    const w = this.written.get(key);
    if (w && w.baseRV === svc.metadata.resourceVersion && w.fingerprint === fingerprint) return false;
    const change: StatusChange = {};
    if (!ingressSame) change.ips = ips;
    if (!labelSame) change.pool = pool ?? null;
    if (!servingSame) change.serving = serving || null;
    if (!conditionsSame) change.conditions = conditions;
    return this.writer.enqueue(new StatusWrite(key, fingerprint, this.sink, svc, change));
  }

  private writeEips(eips: Eip[]): void {
    if (!this.leader) return;
    const usage = poolUsage(this.pools, this.results);
    const byName = new Map(this.pools.map((p) => [p.spec.name, p]));
    for (const eip of eips) {
      if (eip.spec?.protocol !== 'layer2') continue;
      const pool = byName.get(eip.metadata.name);
      const desired = eipStatus(pool?.spec.source === 'eip' ? pool : undefined, usage.get(eip.metadata.name)?.usedIPs ?? {});
      const current = eip.status ?? {};
      if (sameStatus(current, desired)) continue;
      const key = `eip:${eip.metadata.name}`;
      const fingerprint = JSON.stringify(desired);
      const w = this.written.get(key);
      if (w && w.baseRV === eip.metadata.resourceVersion && w.fingerprint === fingerprint) continue;
      // A merge patch merges maps: addresses no longer used must be removed explicitly with null.
      const used: Record<string, string | null> = { ...desired.used };
      for (const ip of Object.keys(current.used ?? {})) if (!(ip in used)) used[ip] = null;
      const body = { metadata: { resourceVersion: eip.metadata.resourceVersion }, status: { ...desired, used } };
      this.writer.enqueue({
        key, fingerprint,
        run: async () => {
          this.counts.eipWrites++;
          this.written.set(key, { baseRV: eip.metadata.resourceVersion, fingerprint });
          await this.client.patch(PATHS.eipStatus(eip.metadata.name), body, 'merge', { discard: true });
        },
      });
    }
  }
}

/** The pieces of a running pass: when the current one began, and what the ended ones held the thread (ms). */
interface PassSlice {
  start: number;
  busyMs: number;
  /** The longest piece and the step that ended it (the debug line `reconcile pass`). */
  longestMs: number;
  longest: string;
}

/** Counts the piece of `slice` that `step` ends at `now`. */
function endPiece(slice: PassSlice, step: string, now: number): void {
  const ms = now - slice.start;
  if (ms > slice.longestMs) {
    slice.longestMs = ms;
    slice.longest = step;
  }
  slice.busyMs += ms;
}

/** Service key -> the addresses the Eips' status says it uses (`status.used`: address -> keys joined by ";"). */
function usersOf(eips: Eip[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const eip of eips) {
    for (const [ip, keys] of Object.entries(eip.status?.used ?? {})) {
      for (const key of keys.split(';')) {
        const ips = out.get(key);
        if (ips) ips.push(ip);
        else out.set(key, [ip]);
      }
    }
  }
  return out;
}

/** The type of the condition l2lb writes on a Service whose address is kept against its request or pool. */
export const CONDITION_ADDRESS = 'l2lb.io/AddressRequest';

type Condition = NonNullable<NonNullable<Service['status']>['conditions']>[number];

/**
 * The Service's conditions with ours set to say `kept` (False: the request is not met, the address stays)
 * or removed (null); undefined when nothing changes.
 */
function withCondition(conditions: Condition[] | undefined, kept: string | null): Condition[] | undefined {
  const list = conditions ?? [];
  const ours = list.find((c) => c.type === CONDITION_ADDRESS);
  if (kept === null) return ours ? list.filter((c) => c !== ours) : undefined;
  if (ours && ours.status === 'False' && ours.message === kept) return undefined;
  const next: Condition = {
    type: CONDITION_ADDRESS, status: 'False', reason: 'AddressKept', message: kept,
    lastTransitionTime: ours?.status === 'False' && ours.lastTransitionTime ? ours.lastTransitionTime : new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  return [...list.filter((c) => c !== ours), next];
}

/** Our condition's message, for write fingerprints ("" when absent). */
function conditionText(conditions: Condition[] | undefined): string {
  return conditions?.find((c) => c.type === CONDITION_ADDRESS)?.message ?? '';
}

/** Sets the pool's `interface` on `vip`: a name, or `can_reach:ADDRESS` (the interface that reaches it). */
function setInterface(vip: DesiredVip, spec: string | undefined): void {
  if (!spec) return;
  if (spec.startsWith('can_reach:')) vip.near = spec.slice('can_reach:'.length);
  else vip.interface = spec;
}

/** Whether `joined` (addresses joined with ", ", as reported) is `r`'s addresses, without joining them. */
function sameJoined(joined: string, r: AllocationResult): boolean {
  if (!r.ok || r.addresses.length === 0) return joined === '';
  if (r.addresses.length === 1) return joined === r.addresses[0]!.ip;
  return joined === r.addresses.map((a) => a.ip).join(', ');
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameStatus(a: EipStatus, b: EipStatus): boolean {
  const keys: (keyof EipStatus)[] = ['occupied', 'usage', 'poolSize', 'firstIP', 'lastIP', 'ready', 'v4'];
  if (keys.some((k) => a[k] !== b[k])) return false;
  const au = a.used ?? {};
  const bu = b.used ?? {};
  const ak = Object.keys(au);
  return ak.length === Object.keys(bu).length && ak.every((k) => au[k] === bu[k]);
}

/** This host's addresses and subnets as text, to tell whether they changed since the last allocation. */
function hostKey(host: HostAddresses): string {
  let key = '';
  for (const c of host.subnets ?? []) key += `${formatIP(c.ip)}/${c.prefix} `;
  key += '|';
  for (const ip of host.own ?? []) key += `${formatIP(ip)} `;
  key += '|';
  for (const [text, owner] of host.ownedBy ?? []) key += `${text}=${owner} `;
  return key;
}
