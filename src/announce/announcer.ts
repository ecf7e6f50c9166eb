/**
 * The announcer owns the VIP table: which VIPs exist, on which interface, with which MAC, and where each is in
 * its life (waiting for its link, probing for conflicts, announced, in conflict). It decides when to probe and
 * when to send gratuitous ARP / unsolicited NA, and tells the receive worker what to answer. All socket I/O
 * goes through the two callbacks it is given.
 */
import { type IP, compareIP, formatIP, parseIP } from '../net/ip.ts';
import { type MAC, parseMAC } from '../net/mac.ts';
import { type IPRange, cidrRange, parseCIDR, rangeContains } from '../net/range.ts';
import { arpProbeFrame, gratuitousArpFrames } from '../wire/arp.ts';
import { dadProbeFrame, unsolicitedNAFrame } from '../wire/ndp.ts';
import type { LinkSpec } from '../link/protocol.ts';
import type { InterfaceFacts } from '../link/iface.ts';
import type { Logger } from '../log.ts';
import type { Config } from '../config/schema.ts';
import { Steps } from './steps.ts';

/** A VIP as configured, set through the API, or allocated to a Kubernetes Service. */
export interface DesiredVip {
  ip: string;
  interface?: string;
  /** Without `interface`: choose the interface whose subnet holds this address (a pool's `can_reach:IP`). */
  near?: string;
  mac?: string;
  source: 'config' | 'api' | 'kubernetes';
  /** false: announce at once without the conflict probe (an address already in use by our Service, e.g. at a leader change). */
  probe?: boolean;
}

/** Where a VIP is in its life. */
export type VipState = 'waiting' | 'probing' | 'active' | 'conflict';

/** The last conflict seen for a VIP. */
export interface ConflictInfo {
  mac: string;
  protocol: 'arp' | 'ndp';
  phase: 'probe' | 'active';
  at: string;
}

/** What the API shows of one VIP. */
export interface VipStatus {
  ip: string;
  family: 4 | 6;
  interface: string;
  /** The MAC announced for the VIP; absent while the interface's MAC is unknown. */
  mac?: string;
  macSource: 'interface' | 'explicit';
  source: DesiredVip['source'];
  state: VipState;
  since: string;
  reason?: string;
  conflict?: ConflictInfo;
  conflicts: number;
  probesSent: number;
  gratuitousSent: number;
  lastAnnounced?: string;
}

/** Timing of probes and announcements: config `announce`, durations in ms. */
export type AnnounceTiming = Config['announce'];

/** How the announcer reaches the wire. */
export interface AnnouncerIO {
  /** Replaces what the receive worker answers on every link. */
  setLinks(links: LinkSpec[]): void;
  /** Sends frames out of a link. */
  send(link: string, frames: Uint8Array[]): void;
}

/** A VIP in conflict is probed again this often, so it comes up by itself once the other host is gone. */
export const CONFLICT_RETRY_MS = 10_000;
/** At most one defence (gratuitous announcement) per VIP in this window when another host claims it. */
const DEFEND_INTERVAL_MS = 10_000;

interface Vip {
  desired: DesiredVip;
  /** The generation of the last {@link Announcer.setVips} that desired it. */
  seen: number;
  ip: IP;
  link: string;
  state: VipState;
  since: number;
  reason?: string;
  conflict?: ConflictInfo;
  conflicts: number;
  probesSent: number;
  gratuitousSent: number;
  lastAnnounced?: number;
  lastDefended?: number;
  /** Index of the interface the VIP was last announced on: a flap of that link needs no new probe. */
  announcedOn?: number;
  /** The MAC last announced, to tell a change from a repeat. */
  announcedMac?: string;
  /** Its place in {@link Steps}: bumped to cancel what it waits for (probes, activation, repeats, a retry). */
  stepGen: number;
}

/** Owns the VIP table and its announcements. */
export class Announcer {
  private readonly vips = new Map<string, Vip>();
  private readonly facts = new Map<string, InterfaceFacts | undefined>();
  /** The configured interfaces' subnets, parsed once per change of facts (see {@link pickInterface}). */
  private subnets?: { name: string; range: IPRange }[];
  /** The receive worker's packet socket per link: open, or the error it could not be opened with. */
  private readonly sockets = new Map<string, { open: boolean; error?: string }>();
  /** Node addresses to probe, per interface (Kubernetes mode). */
  private probes = new Map<string, string[]>();
  /** What another replica announces, watched by this standby (see {@link setWatched}). */
  private watched: { ip: string; link: string; mac?: string }[] = [];
  private refreshTimer?: ReturnType<typeof setInterval>;
  private pushTimer?: ReturnType<typeof setTimeout>;
  /** Counts {@link setVips} calls (see {@link Vip.seen}). */
  private generation = 0;
  private readonly steps = new Steps<Vip>();
  /** VIPs whose burst starts with the next push (see `announce`). */
  private readonly firstBurst = new Set<Vip>();
  /** {@link keys} until the VIP set changes. */
  private keysCache?: readonly string[];
  /** A link down this long (ms) may have lost its VIPs to another node: they are probed again (see {@link setLossAfter}). */
  private lossAfter = Infinity;

  constructor(
    private timing: AnnounceTiming,
    /** The configured interfaces (already resolved from `auto`); VIPs may name others. */
    private readonly interfaces: string[],
    private readonly io: AnnouncerIO,
    private readonly log: Logger,
  ) {
    this.startRefresh();
  }

  /**
   * Takes new timing (a config reload): bursts and probes started from now on use it; a VIP already
   * announced is not probed or announced again for it.
   */
  setTiming(timing: AnnounceTiming): void {
    const refresh = timing.refreshInterval !== this.timing.refreshInterval;
    this.timing = timing;
    if (refresh) this.startRefresh();
    this.push();
  }

  /**
   * Per-node mode: after `ms` without the link, the other nodes have declared this one failed and may
   * answer its VIPs now. Coming back, a VIP is probed before it is answered again, so the node that took
   * it over answers the probe and keeps it; a gratuitous burst on return would pull every client back.
   */
  setLossAfter(ms: number): void {
    this.lossAfter = ms;
  }

  private startRefresh(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    if (this.timing.refreshInterval > 0) {
      this.refreshTimer = setInterval(() => this.refresh(), this.timing.refreshInterval);
      (this.refreshTimer as { unref?: () => void }).unref?.();
    }
  }

  /** Every interface the worker must serve: the configured ones plus any a VIP names. */
  links(): string[] {
    const names = new Set(this.interfaces);
    for (const v of this.vips.values()) names.add(v.link);
    return [...names];
  }

  /** Replaces the desired VIP set: new VIPs start probing, removed ones stop being answered at once. */
  setVips(desired: DesiredVip[]): void {
    this.keysCache = undefined;
    // Each VIP desired now is marked with this call's generation; the unmarked ones go. A Set of every key
    // per call was ~10,000 entries of garbage per reconcile pass at 10,000 addresses.
    const gen = ++this.generation;
    // The worker gets the whole table on a push: every reconcile pass calls this, and at 10,000 addresses a
    // push per pass of an unchanged table was most of the garbage of a start (and of the worker's CPU).
    let changed = false;
    for (const d of desired) {
      // An address already here is known by its canonical text (always so from the allocator): its parse is
      // kept, not made again on every pass.
      const known = this.vips.get(d.ip);
      const ip = known ? known.ip : parseIP(d.ip);
      if (!ip) continue;
      const text = known ? d.ip : formatIP(ip);
      // Kept as given when its address is canonical already: no copy per pass.
      const want = text === d.ip ? d : { ...d, ip: text };
      const key = want.ip;
      const link = this.interfaceFor(ip, d.interface, d.near);
      const cur = known ?? this.vips.get(key);
      if (cur) cur.seen = gen;
      if (cur && cur.link === link) {
        const oldMac = this.macOf(cur);
        cur.desired = want;
        if (this.macOf(cur) !== oldMac) {
          changed = true;
          if (cur.state === 'active') this.announce(cur, 'mac changed');
        }
        continue;
      }
      changed = true;
      if (cur) this.clearTimers(cur);
      const vip: Vip = {
        desired: want, ip, link, state: 'waiting', since: Date.now(),
        conflicts: 0, probesSent: 0, gratuitousSent: 0, stepGen: 0, seen: gen,
      };
      this.vips.set(key, vip);
      this.start(vip);
    }
    for (const [key, vip] of this.vips) {
      if (vip.seen !== gen) {
        this.clearTimers(vip);
        this.vips.delete(key);
        this.log.info('vip removed', { vip: key, interface: vip.link });
        changed = true;
      }
    }
    if (changed) this.push();
  }

  /**
   * Replaces the addresses this replica watches as a standby: not answered, but the worker remembers who
   * asks for them, so on taking over it confirms those hosts' neighbour entries at once.
   */
  setWatched(desired: DesiredVip[]): void {
    const watched = desired.flatMap((d) => {
      const ip = parseIP(d.ip);
      return ip ? [{ ip: formatIP(ip), link: this.interfaceFor(ip, d.interface, d.near), mac: d.mac }] : [];
    });
    const old = this.watched;
    if (watched.length === old.length && watched.every((w, i) => w.ip === old[i]!.ip && w.link === old[i]!.link && w.mac === old[i]!.mac)) return;
    this.watched = watched;
    this.push();
  }

  /** Replaces the node addresses the worker probes, per interface. */
  setProbes(probes: Map<string, string[]>): void {
    const same = probes.size === this.probes.size && [...probes].every(([k, v]) => this.probes.get(k)?.join() === v.join());
    if (same) return;
    this.probes = probes;
    this.push();
  }

  /** Takes new facts about an interface (absent = the interface does not exist). */
  setInterface(name: string, now: InterfaceFacts | undefined): void {
    const before = this.facts.get(name);
    const wasUsable = this.usable(name);
    this.facts.set(name, now);
    this.subnets = undefined;
    this.relink(name, wasUsable, before);
  }

  /**
   * Takes the state of the worker's socket on a link: a VIP is announced only where a socket answers for
   * it (the log never says "vip announced" for an address nobody answers).
   */
  setSocket(name: string, open: boolean, error?: string): void {
    const before = this.sockets.get(name);
    // The worker reports a link's state after every table it is given: only a change moves anything.
    if (before && before.open === open && before.error === error) return;
    const wasUsable = this.usable(name);
    this.sockets.set(name, { open, ...(error !== undefined ? { error } : {}) });
    this.relink(name, wasUsable, this.facts.get(name));
  }

  /** Moves the VIPs of a link along after its interface or socket changed. */
  private relink(name: string, wasUsable: boolean, before: InterfaceFacts | undefined): void {
    const now = this.facts.get(name);
    const isUsable = this.usable(name);
    for (const vip of this.vips.values()) {
      if (vip.link !== name) continue;
      if (!isUsable) {
        this.wait(vip, this.waitReason(name));
        continue;
      }
      if (vip.state === 'waiting') {
        // A link that only went down and up keeps its VIPs without a new probe; a new link (new index) is
        // another NIC, perhaps on another network, so its VIPs are probed again, as are VIPs that may have
        // been taken over meanwhile (setLossAfter).
        if (vip.announcedOn === now!.index && Date.now() - vip.since < this.lossAfter) this.activate(vip, 'interface up');
        else this.start(vip);
      } else if (vip.state === 'active' && (!wasUsable || before?.mac !== now!.mac)) {
        this.announce(vip, 'interface changed');
      }
    }
    this.push();
  }

  /** Takes a conflict the receive worker saw. */
  onConflict(ev: { vip: string; mac: string; protocol: 'arp' | 'ndp'; phase: 'probe' | 'active' }): void {
    const vip = this.vips.get(ev.vip);
    if (!vip) return;
    vip.conflicts++;
    vip.conflict = { mac: ev.mac, protocol: ev.protocol, phase: ev.phase, at: new Date().toISOString() };
    if (vip.state === 'probing') {
      this.clearTimers(vip);
      this.setState(vip, 'conflict', `address in use by ${ev.mac}`);
      this.log.warn('vip conflict: address in use by another host, not announcing', {
        vip: ev.vip, interface: vip.link, mac: ev.mac, protocol: ev.protocol, retryInMs: CONFLICT_RETRY_MS,
      });
      this.steps.after('retry', CONFLICT_RETRY_MS, vip, (vips) => {
        for (const v of vips) this.retry(v);
      });
      this.push();
    } else if (vip.state === 'active') {
      const now = Date.now();
      this.log.warn('vip conflict: another host claims an announced address', { vip: ev.vip, interface: vip.link, mac: ev.mac, protocol: ev.protocol });
      if (!vip.lastDefended || now - vip.lastDefended >= DEFEND_INTERVAL_MS) {
        vip.lastDefended = now;
        this.sendGratuitous(vip);
      }
    }
  }

  /**
   * The canonical addresses in the table, sorted; the same array until the set changes, so a caller that
   * digests it on every heartbeat heard (membership) can tell at once that nothing changed.
   */
  keys(): readonly string[] {
    this.keysCache ??= [...this.vips.values()].sort((a, b) => compareIP(a.ip, b.ip)).map((v) => v.desired.ip);
    return this.keysCache;
  }

  /** Status of every VIP, sorted by address. */
  list(): VipStatus[] {
    return [...this.vips.values()].sort((a, b) => compareIP(a.ip, b.ip)).map((v) => this.status(v));
  }

  /** Status of one VIP. */
  get(ip: string): VipStatus | undefined {
    const v = this.vips.get(ip);
    return v && this.status(v);
  }

  /** Cancels every timer. The worker is stopped by its owner. */
  stop(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.pushTimer) clearTimeout(this.pushTimer);
    this.steps.stop();
    this.firstBurst.clear();
  }

  private status(v: Vip): VipStatus {
    return {
      ip: v.desired.ip,
      family: v.ip.family,
      interface: v.link,
      mac: this.macOf(v),
      macSource: v.desired.mac ? 'explicit' : 'interface',
      source: v.desired.source,
      state: v.state,
      since: new Date(v.since).toISOString(),
      reason: v.reason,
      conflict: v.conflict,
      conflicts: v.conflicts,
      probesSent: v.probesSent,
      gratuitousSent: v.gratuitousSent,
      lastAnnounced: v.lastAnnounced ? new Date(v.lastAnnounced).toISOString() : undefined,
    };
  }

  /** The interface a VIP goes on: the named one, else where `near` (or the VIP) is on a subnet, else the first. */
  interfaceFor(ip: IP, named?: string, near?: string): string {
    return named ?? this.pickInterface((near !== undefined ? parseIP(near) : undefined) ?? ip);
  }

  /** The interface whose subnet holds the VIP, else the first configured one. */
  private pickInterface(ip: IP): string {
    // Asked once per VIP on every pass: parsing the subnets each time was most of a pass's garbage at 10,000.
    this.subnets ??= this.interfaces.flatMap((name) => (this.facts.get(name)?.addresses ?? []).flatMap((a) => {
      const c = a.scope === 'link' ? undefined : parseCIDR(`${a.ip}/${a.prefix}`);
      return c ? [{ name, range: cidrRange(c) }] : [];
    }));
    for (const s of this.subnets) if (rangeContains(s.range, ip)) return s.name;
    return this.interfaces[0] ?? 'lo';
  }

  /** Whether VIPs on a link can be answered: the interface is up and the worker's socket on it is open. */
  private usable(link: string): boolean {
    const f = this.facts.get(link);
    return f !== undefined && f.up && this.sockets.get(link)?.open === true;
  }

  /** Why VIPs on a link wait, in words for the API and the log. */
  private waitReason(link: string): string {
    const f = this.facts.get(link);
    if (!f) return 'interface not present';
    if (!f.up) return 'interface is down';
    const s = this.sockets.get(link);
    return s?.error ? `socket not open: ${s.error}` : 'socket not open yet';
  }

  private macOf(v: Vip): string | undefined {
    return v.desired.mac ?? this.facts.get(v.link)?.mac;
  }

  private setState(v: Vip, state: VipState, reason?: string): void {
    if (v.state !== state) v.since = Date.now();
    v.state = state;
    v.reason = reason;
  }

  private wait(v: Vip, reason: string): void {
    this.clearTimers(v);
    if (v.state !== 'waiting') this.log.info('vip waiting', { vip: v.desired.ip, interface: v.link, reason });
    this.setState(v, 'waiting', reason);
  }

  private start(v: Vip): void {
    if (!this.usable(v.link)) {
      this.wait(v, this.waitReason(v.link));
      return;
    }
    if (this.timing.probeCount === 0 || v.desired.probe === false) {
      this.activate(v);
      return;
    }
    this.clearTimers(v);
    this.setState(v, 'probing');
    const { probeCount, probeInterval, probeWait } = this.timing;
    for (let i = 0; i < probeCount; i++) this.steps.after('probe', i * probeInterval, v, (vips) => this.sendProbes(vips));
    this.steps.after('probed', (probeCount - 1) * probeInterval + probeWait, v, (vips) => {
      for (const p of vips) if (p.state === 'probing') this.activate(p);
      this.deferPush();
    });
  }

  /** One conflict probe of each VIP (ARP probe, or NS for duplicate address detection), one message per link. */
  private sendProbes(vips: Vip[]): void {
    this.sendEach(vips, (v, macBytes) => {
      const mac = this.facts.get(v.link)?.mac;
      if (v.state !== 'probing' || !mac) return undefined;
      v.probesSent++;
      return [v.ip.family === 4 ? arpProbeFrame(macBytes(mac), v.ip) : dadProbeFrame(macBytes(mac), v.ip)];
    });
  }

  /**
   * Sends each VIP's frames (`framesOf`; undefined: none), in one message per link. `macBytes` parses each
   * distinct MAC text once per call: a refresh covers every address, with a handful of distinct MACs.
   */
  private sendEach(vips: Iterable<Vip>, framesOf: (v: Vip, macBytes: (text: string) => MAC) => Uint8Array[] | undefined): void {
    const byLink = new Map<string, Uint8Array[]>();
    const parsed = new Map<string, MAC>();
    const macBytes = (text: string) => {
      let mac = parsed.get(text);
      if (!mac) parsed.set(text, (mac = parseMAC(text)!));
      return mac;
    };
    for (const v of vips) {
      const frames = framesOf(v, macBytes);
      if (!frames) continue;
      let out = byLink.get(v.link);
      if (!out) byLink.set(v.link, (out = []));
      out.push(...frames);
    }
    for (const [link, frames] of byLink) this.io.send(link, frames);
  }

  private retry(v: Vip): void {
    if (this.vips.get(v.desired.ip) !== v || v.state !== 'conflict') return;
    this.log.info('vip conflict: probing again', { vip: v.desired.ip, interface: v.link });
    this.start(v);
    this.deferPush();
  }

  private activate(v: Vip, why = 'new'): void {
    this.setState(v, 'active');
    v.announcedOn = this.facts.get(v.link)?.index;
    this.log.info('vip announced', { vip: v.desired.ip, interface: v.link, mac: this.macOf(v), why });
    this.announce(v, why);
  }

  /** Starts a gratuitous burst: one now, the rest `gratuitousInterval` apart; a new burst replaces a running one. */
  private announce(v: Vip, why: string): void {
    this.clearTimers(v);
    const mac = this.macOf(v);
    if (v.announcedMac !== undefined && mac !== v.announcedMac) this.log.info('vip mac changed', { vip: v.desired.ip, from: v.announcedMac, to: mac });
    v.announcedMac = mac;
    const { gratuitousCount, gratuitousInterval } = this.timing;
    for (let i = 0; i < gratuitousCount; i++) {
      // The first one goes out with the next push, right after the table that answers for the address:
      // a host that hears it and asks at once (or a host to be confirmed) must find the worker answering.
      if (i === 0) {
        this.firstBurst.add(v);
        this.deferPush();
      } else this.steps.after('gratuitous', i * gratuitousInterval, v, (vips) => this.sendGratuitousAll(vips));
    }
  }

  private sendGratuitous(v: Vip): void {
    this.sendGratuitousAll([v]);
  }

  /**
   * One announcement of each VIP, handed to the worker in one message per link: a start or a refresh of
   * 10,000 addresses was 10,000 messages and wakeups of the worker, one at a time.
   */
  private sendGratuitousAll(vips: Iterable<Vip>): void {
    const now = Date.now();
    this.sendEach(vips, (v, macBytes) => {
      const mac = this.macOf(v);
      if (!this.usable(v.link) || !mac || v.state !== 'active') return undefined;
      const ifMac = macBytes(this.facts.get(v.link)!.mac!);
      const announceMac = macBytes(mac);
      const frames = v.ip.family === 4 ? gratuitousArpFrames(ifMac, announceMac, v.ip) : [unsolicitedNAFrame(ifMac, announceMac, v.ip, v.ip)];
      v.gratuitousSent += frames.length;
      v.lastAnnounced = now;
      return frames;
    });
  }

  private refresh(): void {
    this.sendGratuitousAll(this.vips.values());
  }

  private clearTimers(v: Vip): void {
    this.steps.cancel(v);
    this.firstBurst.delete(v);
  }

  /**
   * Pushes once for every timer that fires in the same turn of the event loop: thousands of VIPs finishing
   * their probes together would otherwise send the whole table thousands of times (quadratic).
   */
  private deferPush(): void {
    this.pushTimer ??= setTimeout(() => this.push(), 0);
  }

  /** Tells the worker what to answer now. */
  private push(): void {
    if (this.pushTimer) clearTimeout(this.pushTimer);
    this.pushTimer = undefined;
    const specs: LinkSpec[] = [];
    for (const name of this.links()) {
      const f = this.facts.get(name);
      const spec: LinkSpec = {
        name, index: f?.index, mac: f?.mac, vips: [],
        probes: this.probes.get(name),
        src6: f?.addresses.find((a) => a.family === 6 && a.scope === 'link')?.ip,
      };
      for (const v of this.vips.values()) {
        if (v.link !== name) continue;
        const mac = this.macOf(v);
        if (!mac) continue;
        if (v.state === 'active') spec.vips.push({ ip: v.desired.ip, mac, mode: 'answer' });
        else if (v.state === 'probing') spec.vips.push({ ip: v.desired.ip, mac, mode: 'probe' });
      }
      for (const w of this.watched) {
        const mac = w.mac ?? f?.mac;
        if (w.link === name && mac && !this.vips.has(w.ip)) spec.vips.push({ ip: w.ip, mac, mode: 'watch' });
      }
      specs.push(spec);
    }
    this.io.setLinks(specs);
    this.sendGratuitousAll(this.firstBurst);
    this.firstBurst.clear();
  }
}
