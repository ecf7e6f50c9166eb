/**
 * Wires the parts of one l2lb process together (standalone mode): the receive worker, the announcer, the
 * interface watcher, the VIP store and the admin API, with their start/stop lifecycle.
 */
import type { Config } from './config/schema.ts';
import type { Logger } from './log.ts';
import { Announcer, type VipStatus } from './announce/announcer.ts';
import { IGNORE_REASONS } from './announce/responder.ts';
import { decodeShared, encodeShared } from './announce/requesters.ts';
import { DROP_REASONS } from './wire/decoded.ts';
import { Receiver } from './link/receiver.ts';
import { emptyVipCounters } from './link/protocol.ts';
import { type InterfaceFacts, InterfaceWatcher, defaultRouteInterface, listInterfaces, readInterfaces } from './link/iface.ts';
import { StateFileError, StateWriteError, VipStore } from './standalone/store.ts';
import type { ServiceController } from './kube/controller.ts';
import type { LeaderElector } from './kube/lease.ts';
import { ProxyHealthChecker } from './kube/proxyhealth.ts';
import type { Segment } from './announce/nodes.ts';
import { type IP, formatIP, parseIP } from './net/ip.ts';
import { type CIDR, parseCIDR } from './net/range.ts';
import { type HostAddresses, addressProblem, describeAddressProblem } from './net/announceable.ts';
import { configChanges } from './config/reload.ts';
import { formatListen, parseListen } from './config/listen.ts';
import { ApiError, createApi } from './api/app.ts';
import { MetricsText, RenderedLabels, type Labels } from './api/metrics.ts';
import { type HttpServer, runtimeName, runtimeVersion, serveHttp } from './runtime/index.ts';
import { Membership, TAKEOVER_REASONS } from './announce/membership.ts';
import { HEARTBEAT_DROPS } from './wire/heartbeat.ts';
import { defaultIdentity } from './identity.ts';
import { EVENT_KINDS, type History } from './history.ts';

/** A reload that was refused: nothing of the new config is in force. */
export class ReloadError extends Error {}

/** A startup failure with the exit status it deserves. */
export class StartError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** One running l2lb process. */
export class App {
  private receiver?: Receiver;
  private announcer?: Announcer;
  private watcher?: InterfaceWatcher;
  private watched = '';
  private server?: HttpServer;
  private store: VipStore;
  private controller?: ServiceController;
  private elector?: LeaderElector;
  /** The hosts this replica confirms, as the leader shares them on its Lease. */
  private shared?: string;
  /** The kube-proxy health checks (`health.kubeProxy.enabled`, gateway model only). */
  private proxyChecker?: ProxyHealthChecker;
  /** Replicas seeing each other on the wire (`membership.*`); undefined when off. */
  private membership?: Membership;
  private interfaces: string[] = [];
  private readonly facts = new Map<string, InterfaceFacts | undefined>();
  private readonly startedAt = Date.now();
  private fatal?: string;

  constructor(
    private config: Config,
    private readonly log: Logger,
    private readonly version: string,
    /** The event history the logger feeds (`history.ts`); absent in tests that do not need it. */
    private readonly history?: History,
  ) {
    this.store = new VipStore(config.vips, config.stateFile);
  }

  /** The port the admin API listens on. */
  get apiPort(): number {
    return this.server?.port ?? 0;
  }

  /** Starts everything; throws StartError (with an exit status) when it cannot. */
  async start(): Promise<void> {
    this.interfaces = this.resolveInterfaces();
    const vipProblems = this.vipProblems(this.config);
    if (vipProblems.length > 0) throw new StartError(vipProblems.join('\n'), 2);
    const receiver = new Receiver({
      conflict: (ev) => {
        // Per-node mode: another node's instance answering an address we answer is a disagreement between
        // instances, settled by the controller. Defending against it would flip clients back and forth.
        if (!(ev.phase === 'active' && this.controller?.isPeerMac(ev.mac))) this.announcer?.onConflict(ev);
        this.controller?.onConflict(ev);
      },
      announced: (ev) => {
        this.membership?.alive();
        this.controller?.onAnnounced(ev);
      },
      link: (name, st) => {
        if (st.open) this.log.info('link open', { interface: name });
        // Without an error the socket is only not open yet.
        else if (st.error !== undefined) this.log.warn('link not open', { interface: name, error: st.error });
        this.announcer?.setSocket(name, st.open, st.error);
      },
      // Once per option: an older kernel or an emulator, not a fault; `/v1/status` lists it per interface.
      fallback: (name, f) => this.log.warn('socket option not available: using a fallback', { interface: name, option: f.option, error: f.error, instead: f.instead }),
      sendError: (link, error) => this.log.warn('send failed', { interface: link, error }),
      // What the leader shares on its Lease (written with its next renewal; a standby never writes).
      requesters: (hosts) => {
        this.shared = encodeShared(hosts);
        this.elector?.share(this.shared);
      },
      probe: (link, changes) => {
        this.membership?.alive();
        for (const c of changes) {
          if (c.state !== c.before) this.log.info('node probe', { interface: link, node: this.controller?.nodeOfAddress(c.ip), address: c.ip, state: c.state, was: c.before, mac: c.mac, misses: c.misses });
        }
        // The worker also sends the targets once a second with no change (round trips for the API).
        if (changes.length > 0) this.controller?.onProbe(changes);
      },
      heartbeat: (link, mac, hb, at) => this.membership?.heard(link, mac, hb, at),
      fatal: (error) => {
        this.fatal = error;
        this.log.error('receive worker failed', { error });
      },
    });
    await receiver.start();
    this.receiver = receiver;
    this.announcer = new Announcer(this.config.announce, this.interfaces, {
      setLinks: (links) => {
        const h = this.config.health;
        receiver.setLinks(links, {
          probe: { intervalMs: h.probeInterval, failures: h.failures, successes: h.successes },
          confirmIntervalMs: this.config.announce.confirmInterval,
          replyLimit: this.config.announce.replyLimit,
        });
        this.watch();
      },
      send: (link, frames) => receiver.send(link, frames),
    }, this.log);

    this.watch();
    if (this.config.mode === 'kubernetes') {
      // Loaded only in this mode: standalone never needs the Kubernetes client, and with `--splitting`
      // (build/compile.ts) these modules stay unparsed chunks of the binary until imported here.
      const [{ ServiceController }, { loadKubeAccess }, { KubeHttp }, { KubeClient }, { LeaderElector }] = await Promise.all([
        import('./kube/controller.ts'), import('./kube/access.ts'), import('./kube/http.ts'), import('./kube/client.ts'), import('./kube/lease.ts'),
      ]);
      let access;
      try {
        access = loadKubeAccess({ kubeconfig: this.config.kubernetes.kubeconfig, env: { ...process.env } });
      } catch (err) {
        throw new StartError(`kubernetes: ${(err as Error).message}`, 2);
      }
      this.log.info('kubernetes: connecting', { server: access.server, via: access.source });
      const client = new KubeClient(new KubeHttp(access));
      const announcer = this.announcer;
      const checker = this.proxyCheck();
      this.controller = new ServiceController(client, this.config, this.log, {
        announce: (vips) => announcer.setVips(vips),
        watch: (vips) => announcer.setWatched(vips),
        alive: () => this.membership?.alive(),
        probes: (targets) => {
          announcer.setProbes(targets);
          // The same node addresses as the wire probes, on standbys too (warm when they take over).
          checker?.setTargets(new Set([...targets.values()].flat()));
        },
        segments: () => this.segments(),
        probeTarget: (ip) => {
          for (const targets of receiver.probes.values()) {
            const t = targets.find((x) => x.ip === ip);
            if (t) return t;
          }
          return undefined;
        },
        host: () => this.hostAddresses(this.facts.keys(), false),
        interfaceFor: (vip) => announcer.interfaceFor(parseIP(vip.ip)!, vip.interface, vip.near),
        peers: () => ({
          seen: this.membership?.seen() ?? new Map(),
          startedAt: this.membership?.startedAt ?? this.startedAt,
          // A heartbeat this recent proves a node alive even when a probe of it was lost.
          overdueMs: Math.round(this.config.membership.interval * 1.5),
        }),
        peerOfMac: (mac) => this.membership?.identityOfMac(mac),
        own: (iface) => {
          const f = this.facts.get(iface);
          return { mac: f?.mac, up: f?.running ?? false };
        },
      });
      const perNode = this.config.kubernetes.announce === 'self';
      if (perNode && this.config.membership.enabled === false) {
        throw new StartError('membership.enabled: false, but kubernetes.announce: self needs the heartbeats (each node learns from them which instances are alive); set membership.enabled to auto or true', 2);
      }
      const le = this.config.kubernetes.leaderElection;
      if (le.enabled) {
        const elector = new LeaderElector(client, {
          namespace: le.namespace, name: le.name, identity: le.identity ?? defaultIdentity(),
          leaseDurationMs: le.leaseDuration, renewDeadlineMs: le.renewDeadline, retryPeriodMs: le.retryPeriod, log: this.log,
        });
        this.elector = elector;
        elector.share(this.shared);
        elector.onShared((text) => receiver.adoptRequesters(decodeShared(text)));
        this.controller.setLeader(false);
        this.controller.setServing(false);
        if (perNode) {
          // Per-node mode: the Lease only picks the one writer; every instance answers for its own node.
          this.startPerNode(receiver);
          elector.onChange((leader, holder) => {
            this.log.info(leader ? 'writer: this instance holds the Lease and writes' : 'not the writer', { holder });
            this.controller?.setLeader(leader);
          });
          elector.start();
        }
      }
      if (perNode && !le.enabled) {
        this.controller.setServing(false);
        this.startPerNode(receiver);
      }
      if (le.enabled && !perNode) {
        const elector = this.elector!;
        // A standby keeps its watches and probes warm but neither writes nor answers.
        const membership = this.startMembership(receiver, le.identity ?? defaultIdentity(), `${le.namespace}/${le.name}`, {
          // A Lease renewed before a stall proves nothing about now: only a renewal since counts.
          lease: (since = 0) => ({ held: elector.isLeader() && elector.lastWriteAt >= since, term: elector.view().transitions }),
          role: (role) => this.controller?.setServing(role === 'leader'),
          yieldLease: () => void elector.yieldLease(),
        });
        if (membership) elector.setEligible(() => membership.role === 'leader');
        elector.onChange((leader, holder) => {
          this.log.info(leader ? (membership ? 'leader: this replica holds the Lease and writes' : 'leader: this replica answers and writes') : 'standby', { holder });
          this.controller?.setLeader(leader);
          if (membership) membership.changed();
          else this.controller?.setServing(leader);
        });
        elector.start();
      }
      this.controller.start();
    } else {
      this.store.load();
      if (this.store.error) this.log.error('state file unusable; API changes are refused until it is fixed', { error: this.store.error.message });
      this.startMembership(receiver, defaultIdentity(), 'l2lb', {
        vips: () => this.store.effective().map((v) => `${v.ip} ${v.interface ?? ''} ${v.mac ?? ''}`),
        role: () => this.applyVips(),
      });
      this.applyVips();
    }

    const listen = parseListen(this.config.api.listen);
    if (!listen.ok) throw new StartError(`api.listen: expected ${listen.expected}`, 2);
    const { host, port } = listen.address;
    const config = () => this.config;
    this.server = await serveHttp(host, port, createApi({
      // Read at every request: a reload may change it.
      get token() {
        return config().api.token;
      },
      logError: (message, fields) => this.log.error(message, fields),
      status: () => this.status(),
      ready: () => this.ready(),
      metrics: () => this.metrics(),
      vips: {
        list: () => this.announcer!.list().map((v) => this.withCounts(v)),
        get: (ip) => {
          const v = this.announcer!.get(ip);
          return v && this.withCounts(v);
        },
        ...(this.controller ? {} : {
          put: (ip: string, body: { interface?: string; mac?: string }) => this.mutate(() => this.store.put(ip, body)),
          refuse: (ip: string) => {
            const parsed = parseIP(ip)!;
            const host = this.hostAddresses();
            const problem = addressProblem(parsed, host);
            return problem && describeAddressProblem(parsed, problem, host);
          },
          delete: (ip: string) => this.mutate(() => this.store.delete(ip)),
        }),
      },
      pools: this.controller && (() => this.controller!.poolViews()),
      services: this.controller && (() => this.controller!.serviceViews().map((s) => ({
        ...s, nodes: Object.fromEntries(s.addresses.map((ip) => [ip, this.controller!.servingOf(ip) ?? null])),
      }))),
      nodes: this.controller && (() => this.controller!.nodeViews()),
      ...(this.history ? { history: this.history } : {}),
    }).fetch);
    this.log.info('l2lb started', {
      version: this.version, runtime: runtimeName, mode: this.config.mode, interfaces: this.interfaces,
      api: formatListen({ host, port: this.server.port }),
    });
  }

  /**
   * Starts membership when `membership.enabled` says so (auto: Kubernetes mode with leader election), with
   * the configured identity and deployment over the defaults given.
   */
  private startMembership(
    receiver: Receiver, identity: string, deployment: string,
    io: { lease?: (since?: number) => { held: boolean; term: number }; vips?: () => Iterable<string>; role: (role: string) => void; yieldLease?: () => void },
  ): Membership | undefined {
    const m = this.config.membership;
    const on = m.enabled === 'auto' ? this.config.mode === 'kubernetes' && this.config.kubernetes.leaderElection.enabled : m.enabled;
    if (!on) return undefined;
    const h = this.config.health;
    const gateway = this.config.mode === 'kubernetes' && this.config.kubernetes.announce === 'node';
    this.membership = new Membership({
      identity: m.identity ?? identity, deployment: m.deployment ?? deployment, key: m.key, interval: m.interval, misses: m.misses,
      priority: m.priority, preempt: m.preempt, kube: io.lease !== undefined,
      // After a stall, long enough for the probes to fail a node that died meanwhile (failures + 1 rounds).
      fenceWindow: gateway ? h.probeInterval * (h.failures + 1) + h.probeInterval : 0,
      log: this.log,
    }, {
      grant: (answer, beacon) => receiver.grantUntil(answer, beacon),
      beacon: (spec) => receiver.setBeacon(spec),
      lease: io.lease,
      vips: io.vips ?? (() => []),
      role: io.role,
      yieldLease: io.yieldLease,
    });
    this.membership.start();
    // Facts seen before membership existed; unknown interfaces count as up until the watcher says otherwise.
    this.membership.links(this.interfaces.some((n) => this.facts.get(n)?.running ?? true));
    return this.membership;
  }

  /** Per-node mode: heartbeats say which nodes' instances live; this one answers once it has listened. */
  private startPerNode(receiver: Receiver): void {
    const node = this.config.kubernetes.nodeName!;
    const le = this.config.kubernetes.leaderElection;
    const m = this.config.membership;
    const h = this.config.health;
    this.membership = new Membership({
      identity: m.identity ?? node, deployment: m.deployment ?? `${le.namespace}/${le.name}`, key: m.key, interval: m.interval,
      misses: m.misses, priority: m.priority, preempt: false, kube: false, peers: true,
      fenceWindow: h.probeInterval * (h.failures + 1) + h.probeInterval,
      log: this.log,
    }, {
      grant: (answer, beacon) => receiver.grantUntil(answer, beacon),
      beacon: (spec) => receiver.setBeacon(spec),
      // What we answer: the others check it against what they compute for our node.
      vips: () => this.announcer!.keys(),
      role: (role) => this.controller?.setServing(role === 'leader'),
      members: () => this.controller?.onMembers(),
    });
    this.membership.start();
    this.membership.links(this.interfaces.some((n) => this.facts.get(n)?.running ?? true));
    // The last heartbeat before a link loss lives interval × misses from when it was sent, up to one
    // interval before the loss: from then on the others may have taken our addresses.
    this.announcer!.setLossAfter(m.interval * Math.max(1, m.misses - 1));
  }

  /**
   * Config VIPs that belong to a host already (one of ours, or a connected subnet's network or broadcast
   * address): a bad config, refused at start (exit 2) and on reload, each naming the key. The fixed blocks
   * were refused when the config loaded.
   */
  private vipProblems(config: Config): string[] {
    const host = this.hostAddresses([...this.interfaces, ...config.vips.flatMap((v) => (v.interface ? [v.interface] : []))]);
    const problems: string[] = [];
    config.vips.forEach((v, i) => {
      const ip = parseIP(v.ip)!;
      const problem = addressProblem(ip, host);
      if (problem) problems.push(`config: vips[${i}].ip = "${v.ip}": expected an address no host on the segment has: ${describeAddressProblem(ip, problem, host)}`);
    });
    return problems;
  }

  /**
   * Applies a reloaded config (`SIGHUP`): VIPs, pools, announce and health timing, log level, API token,
   * Kubernetes classes and the restart grace — without dropping an answer or probing an unchanged VIP
   * again. A change to a key that needs a restart (`config/reload.ts`) or a VIP that a host has refuses the
   * whole reload: nothing is applied, the running config stays. Returns the keys that changed.
   */
  reload(next: Config): string[] {
    const { changed, needRestart } = configChanges(this.config, next);
    if (needRestart.length > 0) {
      throw new ReloadError(`${needRestart.join(', ')} cannot change while l2lb runs: restart it to apply ${needRestart.length > 1 ? 'them' : 'it'}; nothing of the new config was applied`);
    }
    if (changed.length === 0) {
      this.log.info('config reloaded: nothing changed');
      return [];
    }
    const problems = this.config.mode === 'standalone' ? this.vipProblems(next) : [];
    if (problems.length > 0) throw new ReloadError(`${problems.join('; ')}; nothing of the new config was applied`);
    // Said at the level in force until now: a reload to a quieter level still says it happened.
    this.log.info('config reloaded', { changed });
    this.config = next;
    this.log.setLevel(next.log.level);
    // Also pushes the table to the worker, which takes the probe policy and confirm interval with it.
    this.announcer?.setTiming(next.announce);
    if (this.controller) {
      this.controller.setConfig(next);
    } else {
      this.store.setConfigured(next.vips);
      this.applyVips();
      this.membership?.changed();
    }
    return changed;
  }

  /** Standalone: the VIPs answered when active, only watched (requesters remembered) on a standby. */
  private applyVips(): void {
    const vips = this.store.effective();
    const role = this.membership?.role ?? 'leader';
    if (role === 'leader') {
      // Taking over from another instance: the addresses are ours already, no conflict probe.
      const takeover = this.membership !== undefined && this.membership.term > 1;
      this.announcer!.setVips(takeover ? vips.map((v) => ({ ...v, probe: false })) : vips);
      this.announcer!.setWatched([]);
    } else {
      this.announcer!.setVips([]);
      this.announcer!.setWatched(vips);
    }
  }

  /** Stops answering, closes sockets and the API. */
  async stop(): Promise<void> {
    // Tell the other replicas first: the next in line acts on our last heartbeat, not a window later.
    this.membership?.stop();
    // Release the Lease first so a standby takes over within one retry period.
    await this.elector?.stop({ release: true });
    await this.controller?.stop();
    this.proxyChecker?.stop();
    this.watcher?.stop();
    this.announcer?.stop();
    await this.receiver?.stop();
    await this.server?.stop();
  }

  /** The kube-proxy health checker when the config asks for it; its results go to the controller. */
  private proxyCheck(): ProxyHealthChecker | undefined {
    const { kubeProxy: kp, failures, successes } = this.config.health;
    // With `leader` no node is chosen: there is nothing to check.
    if (!kp.enabled || this.config.kubernetes.announce === 'leader') return undefined;
    this.proxyChecker = new ProxyHealthChecker(
      { port: kp.port, path: kp.path, intervalMs: kp.interval, timeoutMs: kp.timeout, failures, successes },
      (changes) => {
        for (const c of changes) {
          if (c.state === c.before) continue;
          const fields = { address: c.ip, state: c.state, was: c.before, result: c.result, misses: c.misses };
          if (c.state === 'down') this.log.warn('kube-proxy health check', fields);
          else this.log.info('kube-proxy health check', fields);
        }
        this.controller?.onProxyHealth(changes);
      },
    );
    return this.proxyChecker;
  }

  private resolveInterfaces(): string[] {
    const out: string[] = [];
    for (const name of this.config.interfaces) {
      if (name !== 'auto') {
        out.push(name);
        continue;
      }
      const found = defaultRouteInterface();
      if (!found) throw new StartError('interfaces: "auto" found no default route; name the interface(s) in `interfaces` or L2LB_INTERFACES', 2);
      out.push(found);
    }
    return [...new Set(out)];
  }

  /** (Re)starts the interface watcher when the set of links changes. */
  private watch(): void {
    const names = this.announcer!.links();
    const key = names.join('\0');
    if (key === this.watched) return;
    this.watched = key;
    this.watcher?.stop();
    const watcher = new InterfaceWatcher(names);
    this.watcher = watcher;
    watcher.start((name, now, before) => {
      if (this.watcher !== watcher) return;
      this.facts.set(name, now);
      if (before || now) {
        this.log.info('interface', { interface: name, present: now !== undefined, up: now?.up ?? false, index: now?.index, mac: now?.mac });
      }
      this.announcer!.setInterface(name, now);
      this.membership?.links(this.interfaces.some((n) => this.facts.get(n)?.running));
    });
  }

  /**
   * This host's addresses (on every interface: a VIP equal to any of them would steal it) and the
   * subnets of the interfaces l2lb answers on (their network and broadcast addresses): the announceable
   * rule's host facts.
   */
  private hostAddresses(answeredOn: Iterable<string> = this.facts.keys(), everyInterface = true): HostAddresses {
    const own: IP[] = [];
    const subnets: CIDR[] = [];
    const ownedBy = new Map<string, string>();
    // Every interface for one check (an API call, the start); the watched ones for what runs at every pass.
    const all = everyInterface ? readInterfaces(listInterfaces()) : this.facts;
    for (const [name, f] of all) {
      for (const a of f?.addresses ?? []) {
        const ip = parseIP(a.ip);
        if (!ip) continue;
        own.push(ip);
        ownedBy.set(formatIP(ip), `configured on ${name}`);
      }
    }
    for (const name of answeredOn) {
      for (const a of all.get(name)?.addresses ?? []) {
        const c = parseCIDR(`${a.ip}/${a.prefix}`);
        if (c) subnets.push(c);
      }
    }
    return { own, subnets, ownedBy };
  }

  /** Each interface's own global prefixes: the L2 segment a node must share with us. */
  private segments(): Map<string, Segment> {
    const out = new Map<string, Segment>();
    for (const name of this.announcer?.links() ?? []) {
      const f = this.facts.get(name);
      if (!f) continue;
      out.set(name, { interface: name, prefixes: f.addresses.filter((a) => a.scope !== 'link').map((a) => `${a.ip}/${a.prefix}`) });
    }
    return out;
  }

  private mutate<T>(fn: () => T): T {
    let result: T;
    try {
      result = fn();
    } catch (err) {
      // Said to the client without paths; the log has the whole of it.
      if (err instanceof StateFileError) {
        this.log.error('state file unusable: change refused', { error: err.message });
        throw new ApiError(503, 'state-file', `the state file is unusable (${err.reason}): fix or remove it; changes are refused until then`);
      }
      if (err instanceof StateWriteError) {
        this.log.error('state file not written: change refused', { path: err.path, error: err.message });
        throw new ApiError(503, 'state-file', err.message);
      }
      throw err;
    }
    this.applyVips();
    this.membership?.changed();
    return result;
  }


  private ready(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.fatal) reasons.push(`receive worker failed: ${this.fatal}`);
    if (this.controller) reasons.push(...this.controller.ready().reasons);
    const lease = this.elector?.view().problem;
    if (lease) reasons.push(`leader election: ${lease}`);
    for (const name of this.interfaces) {
      // The watcher hears of a deleted link before the worker reports its socket closed; either is enough.
      if (this.facts.has(name) && !this.facts.get(name)) {
        reasons.push(`${name}: interface not present`);
        continue;
      }
      const st = this.receiver?.links.get(name);
      if (!st?.open) reasons.push(`${name}: socket not open${st?.error ? ` (${st.error})` : ''}`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  private status(): Record<string, unknown> {
    const vips = this.announcer!.list();
    const byState: Record<string, number> = { waiting: 0, probing: 0, active: 0, conflict: 0 };
    for (const v of vips) byState[v.state]!++;
    const r = this.ready();
    return {
      version: this.version,
      runtime: `${runtimeName} ${runtimeVersion()}`,
      mode: this.config.mode,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      ready: r.ready,
      readyReasons: r.reasons,
      interfaces: this.announcer!.links().map((name) => {
        const f = this.facts.get(name);
        const st = this.receiver?.links.get(name);
        return {
          name, configured: this.interfaces.includes(name), present: f !== undefined, index: f?.index, mac: f?.mac,
          mtu: f?.mtu, up: f?.up ?? false, socketOpen: st?.open ?? false, error: st?.error,
          // Only when there are some: optional socket options the kernel refused, and what l2lb does instead.
          ...(st?.fallbacks?.length ? { socketFallbacks: st.fallbacks } : {}),
        };
      }),
      vips: { total: vips.length, ...byState },
      stateFile: this.controller ? undefined : { path: this.config.stateFile || null, error: this.store.error?.message ?? null },
      kubernetes: this.controller ? { ...this.controller.counts } : undefined,
      leaderElection: this.elector?.view(),
      membership: this.membershipStatus(),
    };
  }

  private membershipStatus(): Record<string, unknown> | undefined {
    const m = this.membership;
    if (!m) return undefined;
    const v = m.view();
    const mismatched = this.config.mode === 'standalone' ? m.mismatched() : [];
    const agreement = this.controller?.agreementView();
    return {
      ...v,
      ...(agreement ? { agreement } : {}),
      ...(v.authenticated ? {} : { warning: 'heartbeats are not authenticated (no membership.key): any host on the segment can influence takeover' }),
      ...(mismatched.length > 0 ? { vipSetMismatch: mismatched } : {}),
      lastTakeover: m.lastTakeover ?? null,
      stalls: m.stalls,
    };
  }

  /** A VIP with the worker's counts of the requests it got and the replies it sent (the status page's rates). */
  private withCounts(v: VipStatus): VipStatus & { requests: number; replies: number } {
    const c = this.receiver?.counters.vips[v.ip];
    return { ...v, requests: (c?.arpRequests ?? 0) + (c?.ndpRequests ?? 0), replies: (c?.arpReplies ?? 0) + (c?.ndpReplies ?? 0) };
  }

  private metrics(): string {
    const c = this.receiver!.counters;
    const vips = this.announcer!.list();
    // At 10,000 VIPs a scrape is ~100,000 lines: the membership renews its grant between families.
    const m = new MetricsText(() => this.membership?.alive());
    m.family('l2lb_build_info', 'gauge', 'Build information; the value is always 1.', [[{ version: this.version, runtime: runtimeName }, 1]]);
    m.family('l2lb_up', 'gauge', 'Whether every configured interface has its socket open (ready).', [[{}, this.ready().ready ? 1 : 0]]);
    if (this.history) {
      const counts = this.history.counts();
      m.family('l2lb_history_events_total', 'counter', 'Events recorded in the history (GET /v1/history, the status page timeline), by kind.', EVENT_KINDS.map((kind): [Labels, number] => [{ kind }, counts.get(kind) ?? 0]));
      m.family('l2lb_event_streams', 'gauge', 'Open GET /v1/events streams (status pages, curl -N).', [[{}, this.history.subscribers]]);
    }
    m.family('l2lb_frames_received_total', 'counter', 'ARP and NDP frames received, by interface.', entries(c.frames, 'interface'));
    m.family('l2lb_frames_sent_total', 'counter', 'Frames sent (replies, gratuitous, probes), by interface.', entries(c.sent, 'interface'));
    m.family('l2lb_send_errors_total', 'counter', 'Frames that could not be sent, by interface.', entries(c.sendErrors, 'interface'));
    m.family('l2lb_socket_drops_total', 'counter', 'Frames the kernel dropped because a receive queue was full, by interface and lane (requests: ARP requests and NS, what a flood fills; control: heartbeats, ARP replies, NAs).', [
      ...Object.entries(c.socketDrops).map(([k, v]): [Labels, number] => [{ interface: k, lane: 'requests' }, v]),
      ...Object.entries(c.controlDrops).map(([k, v]): [Labels, number] => [{ interface: k, lane: 'control' }, v]),
    ]);
    m.family('l2lb_drops_total', 'counter', 'Malformed or invalid frames dropped, by reason.', DROP_REASONS.map((r) => [{ reason: r }, c.drops[r] ?? 0]));
    m.family('l2lb_ignored_total', 'counter', 'Well-formed frames that needed no answer, by reason.', IGNORE_REASONS.map((r) => [{ reason: r }, c.ignored[r] ?? 0]));
    // Each VIP's labels rendered once for the families below.
    const byVip = vips.map((v) => new RenderedLabels({ vip: v.ip, interface: v.interface }));
    const byVipProtocol = vips.map((v) => new RenderedLabels({ vip: v.ip, interface: v.interface, protocol: v.family === 4 ? 'arp' : 'ndp' }));
    const per = (fn: (v: VipStatus) => number) => vips.map((v, i): [RenderedLabels, number] => [byVip[i]!, fn(v)]);
    const vc = (k: string) => c.vips[k] ?? emptyVipCounters();
    m.family('l2lb_requests_total', 'counter', 'ARP requests and Neighbor Solicitations received for a VIP.', vips.map((v, i): [RenderedLabels, number] => [byVipProtocol[i]!, v.family === 4 ? vc(v.ip).arpRequests : vc(v.ip).ndpRequests]));
    m.family('l2lb_replies_total', 'counter', 'ARP replies and Neighbor Advertisements sent in answer for a VIP.', vips.map((v, i): [RenderedLabels, number] => [byVipProtocol[i]!, v.family === 4 ? vc(v.ip).arpReplies : vc(v.ip).ndpReplies]));
    m.family('l2lb_replies_limited_total', 'counter', 'Requests for a VIP not answered because their requester asked faster than announce.replyLimit.', per((v) => vc(v.ip).limited));
    m.family('l2lb_confirmations_total', 'counter', 'Unicast ARP replies / solicited NAs sent unasked to hosts that asked for a VIP (announce.confirmInterval).', per((v) => vc(v.ip).confirms));
    m.family('l2lb_requesters', 'gauge', 'Hosts remembered as having asked for a VIP, by interface.', entries(c.requesters, 'interface'));
    m.family('l2lb_requesters_refused_total', 'counter', 'Requests whose sender was not remembered because the table was full, by interface.', entries(c.requestersRefused, 'interface'));
    m.family('l2lb_requester_checks_total', 'counter', 'Liveness checks sent to requesters silent for a minute, by interface.', entries(c.requesterChecks, 'interface'));
    m.family('l2lb_gratuitous_sent_total', 'counter', 'Gratuitous ARP / unsolicited NA frames sent for a VIP.', per((v) => v.gratuitousSent));
    m.family('l2lb_probes_sent_total', 'counter', 'Conflict probes (ARP probe / DAD) sent for a VIP.', per((v) => v.probesSent));
    m.family('l2lb_conflicts_total', 'counter', 'Other hosts seen claiming a VIP.', per((v) => v.conflicts));
    m.family('l2lb_vip_state', 'gauge', 'State of each VIP (1 for its current state).', vips.flatMap((v) =>
      (['waiting', 'probing', 'active', 'conflict'] as const).map((s): [Labels, number] => [{ vip: v.ip, interface: v.interface, state: s }, v.state === s ? 1 : 0])));
    m.family('l2lb_interface_up', 'gauge', 'Whether an interface is present and up.', this.announcer!.links().map((n): [Labels, number] => [{ interface: n }, this.facts.get(n)?.up ? 1 : 0]));
    if (this.controller) {
      const k = this.controller.counts;
      m.family('l2lb_kube_writes_total', 'counter', 'Writes to the Kubernetes API, by kind.', [
        [{ kind: 'service-status' }, k.statusWrites], [{ kind: 'eip-status' }, k.eipWrites], [{ kind: 'event' }, k.events],
      ]);
      m.family('l2lb_kube_write_conflicts_total', 'counter', 'Writes refused with 409 Conflict (retried after the watch catches up).', [[{}, k.conflicts]]);
      m.family('l2lb_kube_writes_throttled_total', 'counter', 'Writes the API server refused for load (429); each halves the writes in flight for a while.', [[{}, k.throttled]]);
      const passes = this.controller.passes;
      m.family('l2lb_kube_reconcile_seconds_sum', 'counter', 'Time spent in reconcile passes (each decides every Service, node and pool again).', [[{}, passes.sumMs / 1000]]);
      m.family('l2lb_kube_reconcile_seconds_count', 'counter', 'Reconcile passes run.', [[{}, passes.count]]);
      m.family('l2lb_kube_allocations_total', 'counter', 'Reconcile passes that allocated; the others reused the last results, nothing allocation reads having changed.', [[{}, k.allocations]]);
      m.family('l2lb_kube_reconcile_last_seconds', 'gauge', 'How long the last reconcile pass took: part of every change\'s wait at scale.', [[{}, passes.lastMs / 1000]]);
      m.family('l2lb_kube_write_inflight_limit', 'gauge', 'Writes allowed in flight at once now (kubernetes.maxInflight, less after 429s).', [[{}, this.controller.writeLimit]]);
      m.family('l2lb_leader', 'gauge', 'Whether this replica holds the Lease (1 without leader election).', [[{}, this.elector ? (this.elector.isLeader() ? 1 : 0) : 1]]);
      m.family('l2lb_failovers_total', 'counter', 'Addresses moved from one node to another, by why the previous node lost it.',
        Object.entries(this.controller.failoversByReason).map(([reason, n]): [Labels, number] => [{ reason }, n]));
      m.family('l2lb_failover_repair_seconds_sum', 'counter', 'Sum over probe-driven failovers of the time from the failed node\'s last answer to the new mapping.', [[{}, this.controller.repair.sumMs / 1000]]);
      m.family('l2lb_failover_repair_seconds_count', 'counter', 'Probe-driven failovers timed.', [[{}, this.controller.repair.count]]);
      m.family('l2lb_failover_repair_last_seconds', 'gauge', 'The last probe-driven failover: failed node\'s last answer to the new mapping.', [[{}, this.controller.repair.lastMs / 1000]]);
      m.family('l2lb_probe_changes_total', 'counter', 'Node probe state changes (up/down).', [[{}, k.probeChanges]]);
      const probeStates: Record<string, number> = { up: 0, down: 0, unknown: 0 };
      for (const targets of this.receiver!.probes.values()) for (const t of targets) probeStates[t.state]!++;
      m.family('l2lb_probe_misses_total', 'counter', 'Node probes not answered by their deadline, by interface (health.failures in a row fail a node).', entries(c.probeMisses, 'interface'));
      m.family('l2lb_probe_targets', 'gauge', 'Probed node addresses by state.', Object.entries(probeStates).map(([state, n]): [Labels, number] => [{ state }, n]));
      if (this.proxyChecker) {
        const checks = this.proxyChecker.list();
        m.family('l2lb_kube_proxy_check_targets', 'gauge', 'Node addresses whose kube-proxy health endpoint is checked, by state.',
          (['up', 'down', 'unknown'] as const).map((state): [Labels, number] => [{ state }, checks.filter((t) => t.state === state).length]));
        m.family('l2lb_kube_proxy_checks_total', 'counter', 'kube-proxy health checks done, by result (ok: HTTP 200).', [
          [{ result: 'ok' }, this.proxyChecker.counts.ok], [{ result: 'failed' }, this.proxyChecker.counts.failed],
        ]);
        m.family('l2lb_kube_proxy_changes_total', 'counter', 'kube-proxy health check state changes (up/down).', [[{}, k.proxyChanges]]);
      }
      m.family('l2lb_kube_write_errors_total', 'counter', 'Writes that failed otherwise (retried).', [[{}, k.errors]]);
      const ks = this.controller.kubeStats;
      m.family('l2lb_kube_request_errors_total', 'counter', 'Failed API requests, by resource and reason (401, 403, 429, 4xx, 5xx, timeout, network).',
        [...ks.failures].flatMap(([resource, byReason]) => [...byReason].map(([reason, n]): [Labels, number] => [{ resource, reason }, n])));
      m.family('l2lb_kube_retry_delay_seconds_sum', 'counter', 'Sum of the backoff delays before retries of failed API requests, by retry loop (an informer\'s name, or writes).', [...ks.retries].map(([loop, r]): [Labels, number] => [{ loop }, r.totalDelayMs / 1000]));
      m.family('l2lb_kube_retry_delay_seconds_count', 'counter', 'Retries of failed API requests, by retry loop.', [...ks.retries].map(([loop, r]): [Labels, number] => [{ loop }, r.count]));
      m.family('l2lb_kube_retry_delay_last_seconds', 'gauge', 'The backoff delay chosen last (jittered; at least the server\'s Retry-After), by retry loop.', [...ks.retries].map(([loop, r]): [Labels, number] => [{ loop }, r.lastDelayMs / 1000]));
      m.family('l2lb_kube_watch_ends_total', 'counter', 'Watches that ended, by informer and how (closed, expired, inactive: silent past kubernetes.watchInactivity, failed).',
        [...ks.watchEnds].flatMap(([informer, byEnd]) => [...byEnd].map(([end, n]): [Labels, number] => [{ informer, end }, n])));
      const pools = this.controller.poolViews();
      m.family('l2lb_pool_addresses', 'gauge', 'Usable addresses of a pool (at most 2^53-1 shown).', pools.map((p): [Labels, number] => [{ pool: p.name }, Math.min(Number(p.size), Number.MAX_SAFE_INTEGER)]));
      m.family('l2lb_pool_used', 'gauge', 'Addresses of a pool in use.', pools.map((p): [Labels, number] => [{ pool: p.name }, p.used]));
      m.family('l2lb_pool_usable', 'gauge', 'Whether a pool is used (not disabled, valid, not overlapping an older one).', pools.map((p): [Labels, number] => [{ pool: p.name }, p.usable ? 1 : 0]));
      const svcs = this.controller.serviceViews();
      m.family('l2lb_services', 'gauge', 'Our LoadBalancer Services by state (kept: it keeps its address although its request or its pool says otherwise).',
        (['assigned', 'kept', 'failed', 'pending'] as const).map((s): [Labels, number] => [{ state: s }, svcs.filter((v) => v.state === s).length]));
      const keptBy = new Map<string, number>();
      for (const v of svcs) if (v.state === 'kept') keptBy.set(v.pool ?? '', (keptBy.get(v.pool ?? '') ?? 0) + 1);
      m.family('l2lb_services_kept', 'gauge', 'Services keeping an address from this pool although the pool (deleted, disabled, edited) or their request says otherwise: what taking the pool away would take off the network.',
        [...keptBy].map(([pool, n]): [Labels, number] => [{ pool }, n]));
    }
    if (this.membership) {
      const ms = this.membership;
      m.family('l2lb_members', 'gauge', 'Replicas alive on the segment (this one included), by role.', Object.entries(ms.counts()).map(([role, n]): [Labels, number] => [{ role }, n]));
      m.family('l2lb_takeovers_total', 'counter', 'Times this replica started answering as leader, by reason.',
        TAKEOVER_REASONS.map((r): [Labels, number] => [{ reason: r }, ms.takeovers[r] ?? 0]));
      m.family('l2lb_heartbeats_dropped_total', 'counter', 'Heartbeats dropped, by reason (they never change a decision).',
        HEARTBEAT_DROPS.map((r): [Labels, number] => [{ reason: r }, (c.heartbeatDrops[r] ?? 0) + (ms.drops[r] ?? 0)]));
      m.family('l2lb_heartbeats_sent_total', 'counter', 'Heartbeats sent, by interface.', entries(c.heartbeatsSent, 'interface'));
      m.family('l2lb_withheld_total', 'counter', 'Answers and announcements not sent because this replica was fenced (dead-man switch), by interface.', entries(c.withheld, 'interface'));
      m.family('l2lb_membership_stalls_total', 'counter', 'Times the main thread went longer than the dead-man grant (interval x misses) without renewing it, so this replica fenced itself: a SIGSTOP, a frozen host, or long work that did not renew.', [[{}, ms.stalls]]);
      const agreement = this.controller?.agreementView();
      if (agreement) {
        m.family('l2lb_instances_disagreeing', 'gauge', 'Per-node mode: instances whose heartbeats show other addresses than this one expects them to answer, for longer than views take to settle.', [[{}, agreement.disagreeing.length]]);
        m.family('l2lb_instance_disagreements_total', 'counter', 'Per-node mode: lasting disagreements seen (each counted once when it starts).', [[{}, agreement.disagreements]]);
      }
      m.family('l2lb_vip_set_mismatch', 'gauge', 'Standalone: replicas heard whose VIP set differs from ours.', [[{}, this.config.mode === 'standalone' ? ms.mismatched().length : 0]]);
    }
    m.family('l2lb_socket_open', 'gauge', 'Whether the packet socket of an interface is open.', this.announcer!.links().map((n): [Labels, number] => [{ interface: n }, this.receiver?.links.get(n)?.open ? 1 : 0]));
    return m.toString();
  }
}

function entries(rec: Record<string, number>, label: string): [Labels, number][] {
  return Object.entries(rec).map(([k, v]) => [{ [label]: k }, v]);
}
