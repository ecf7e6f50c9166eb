/**
 * The receive worker: owns the packet sockets of every interface, blocks in poll() and answers ARP/NDP from
 * this thread, so a reply never waits for the main thread's event loop (DESIGN: ~70 us here against ~1 ms
 * or more for a timer-driven poll). The main thread reaches it by message plus an eventfd wakeup.
 *
 * Under a flood it sheds load by rule, never by stalling:
 * - two sockets per interface, two kernel queues: the control lane (heartbeats, ARP replies, NAs: who is
 *   alive, who has an address, our node probes' answers) and the request lane (ARP requests, NS). A flood
 *   of requests overflows only the request lane; the kernel drops the excess there and counts it
 *   (`l2lb_socket_drops_total{lane="requests"}`);
 * - each pass reads the control lane first, then at most {@link REQUEST_BATCH} requests per interface,
 *   then runs its timers (heartbeats, probe rounds and deadlines, confirmations, counters) and the main
 *   thread's messages: a queue that never empties cannot hold them up;
 * - a requester asking for one address faster than `announce.replyLimit` is not answered beyond it
 *   (`announce/ratelimit.ts`), so a host in a loop or a frame replayed by a bridging loop is not echoed.
 */
import { type IP, formatIP, parseIP } from '../net/ip.ts';
import { ProbeTracker, type ProbePolicy, type ProbeSend, presenceProbeFrame } from '../announce/probe.ts';
import { formatMAC, parseMAC } from '../net/mac.ts';
import { type ResponderState, respond } from '../announce/responder.ts';
import { VipTable } from './vip-table.ts';
import { Requesters } from '../announce/requesters.ts';
import { type ConfirmLink, Confirmer } from './confirmer.ts';
import { type Libc, loadLibc } from '../runtime/ffi.ts';
import { OPTIONAL_SOCKET_OPTIONS, type OptionalSocketOption, PacketSocket, type SocketFallback } from './packet.ts';
import { ReplyLimiter, addressHash } from '../announce/ratelimit.ts';
import { Poller, Wakeup } from './poll.ts';
import { LinkError, PermissionError } from './errors.ts';
import { type FromWorker, GRANT_ANSWER, GRANT_BEACON, type LinkUpdate, type ToWorker, type VipCounters, emptyCounters, emptyVipCounters } from './protocol.ts';
import { Beacon, isHeartbeatFrame } from './beacon.ts';
import { HEARTBEAT_MAC } from '../wire/heartbeat.ts';

const ETH_P_ALL = 0x0003;
/** How often counters are posted at most; also the poll timeout, so an idle worker wakes this often. */
const COUNTER_INTERVAL_MS = 250;
const FRAME_BUFFER = 65536;
/** Socket receive buffer: ~100 ms of a 50k/s flood of small frames, so a GC pause or a preemption loses none. */
const RECEIVE_BUFFER = 4 << 20;
/** The control lane carries a few frames per node and peer per probe interval: 1 MiB is seconds of them. */
const CONTROL_BUFFER = 1 << 20;
/** Requests read per interface and pass: ~1-2 ms of work, so timers and messages wait no longer than that. */
const REQUEST_BATCH = 256;
/** Control frames read per interface and pass: all of them in practice; a bound only against a flood of replies. */
const CONTROL_BATCH = 4096;

/** A link's spec as the worker keeps it: its table lives in {@link Link.table}. */
type LinkInfo = Omit<LinkUpdate, 'vips' | 'set' | 'drop'>;

interface Link extends ConfirmLink {
  spec: LinkInfo;
  /** The VIPs of the link, patched by each update. */
  table: VipTable;
  /** The request lane; also what the link sends on and holds the multicast memberships. */
  socket?: PacketSocket;
  /** The control lane (see the module comment). */
  control?: PacketSocket;
  state?: ResponderState;
  /** `spec.src6` parsed. */
  src6?: IP;
  /** Whether the socket is open. */
  open: boolean;
  /** Multicast MACs joined, by MAC text. */
  groups: Set<string>;
  error?: string;
  /** How many socket fallbacks the main thread has been told of (see {@link linkFallbacks}). */
  fallbacksReported: number;
  /** Node health probes on this link. */
  prober?: ProbeTracker;
  /** When the last probe to each address went out (performance.now(), for round trips). */
  probeSentAt?: Map<string, number>;
  /** Misses of the probe trackers this link had before its current one. */
  probeMissBase?: number;
  /** Probe frames by target address, built once per links message (the interface MAC may change). */
  probeFrames: Map<string, { ip: IP; broadcast: Uint8Array; unicast?: Uint8Array; unicastTo?: string }>;
}

declare const self: {
  postMessage(msg: FromWorker): void;
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
  close(): void;
};

const post = (msg: FromWorker) => self.postMessage(msg);

let libc: Libc;
let wake: Wakeup;
let poller: Poller;
let seq: Int32Array | undefined;
let grant: BigInt64Array | undefined;
/** Optional socket options to treat as missing (the test hook, see `receiver.ts`). */
let unavailable: readonly OptionalSocketOption[] = [];
const beacon = new Beacon();
const HEARTBEAT_GROUP = formatMAC(HEARTBEAT_MAC);
/**
 * Past this many groups on a link the socket takes every multicast frame (PACKET_MR_ALLMULTI) instead of one
 * membership per group: the kernel keeps a socket's memberships, and the device's address list, as lists it
 * searches on every join. Measured on a veth: 1,000 joins 9 ms, 10,000 0.55 s, 30,000 5.3 s (quadratic:
 * ~1 min for the 100,000 solicited-node groups of 100,000 addresses in a /108, unanswered by NS meanwhile;
 * the scale bench's restart sample went from 0/10 to 10/10 answered). The filter still passes only ARP, NS
 * and heartbeats.
 */
const GROUP_LIMIT = 1024;
/** `Link.groups` entry for the PACKET_MR_ALLMULTI membership. */
const ALL_GROUPS = 'all';
let applied = 0;
let stopping = false;
const links = new Map<string, Link>();
let probePolicy: ProbePolicy | undefined;
let nextRound = 0;
/** When the next unanswered probe becomes a miss (Infinity: none pending). */
let deadlineAt = Infinity;
const byFd = new Map<number, { link: Link; lane: 'control' | 'requests' }>();
/** `announce.replyLimit`; replaced when it changes. */
let limiter = new ReplyLimiter({ perSecond: 0 });
const buf = new Uint8Array(FRAME_BUFFER);

const counters = emptyCounters();
let dirty = false;
let lastPost = 0;
let lastStats = 0;
let lastProbeList = 0;
/** How often the probe targets (with their round trips) are posted when nothing changed. */
const PROBE_LIST_MS = 1_000;

/** The dead-man switch (see `GRANT_ANSWER`): whether the main thread's grant for `slot` is still running. */
function granted(slot: number): boolean {
  if (!grant) return true;
  const until = Atomics.load(grant, slot);
  return until < 0n || BigInt(Date.now()) < until;
}

const confirmer = new Confirmer({
  send: (link, frame) => sendOn(link as Link, frame),
  confirmed: (vip) => {
    vipCounters(vip).confirms++;
    dirty = true;
  },
  checked: (link) => bump(counters.requesterChecks, link),
  refused: (link) => bump(counters.requestersRefused, link),
  share: (hosts) => post({ type: 'requesters', hosts }),
});

function vipCounters(key: string): VipCounters {
  return (counters.vips[key] ??= emptyVipCounters());
}

function bump<K extends string>(rec: Partial<Record<K, number>>, key: K): void {
  rec[key] = (rec[key] ?? 0) + 1;
  dirty = true;
}

function buildState(link: Link): ResponderState | undefined {
  const ifMac = link.spec.mac ? parseMAC(link.spec.mac) : undefined;
  return ifMac ? { ifMac, v4: link.table.v4, v6: link.table.v6 } : undefined;
}

function closeLink(link: Link): void {
  for (const sock of [link.socket, link.control]) {
    if (!sock) continue;
    byFd.delete(sock.fd);
    sock.close();
  }
  link.socket = undefined;
  link.control = undefined;
  link.open = false;
  link.groups.clear();
  link.fallbacksReported = 0;
}

/**
 * The optional socket options this link's sockets do without, in the order of {@link OPTIONAL_SOCKET_OPTIONS}
 * (not of discovery, which timing decides): the request lane's (it sends and holds the memberships), then
 * any other the control lane has.
 */
function linkFallbacks(link: Link): SocketFallback[] {
  const out = [...(link.socket?.fallbacks ?? [])];
  for (const f of link.control?.fallbacks ?? []) if (!out.some((o) => o.option === f.option)) out.push(f);
  return out.sort((a, b) => OPTIONAL_SOCKET_OPTIONS.indexOf(a.option) - OPTIONAL_SOCKET_OPTIONS.indexOf(b.option));
}

function reportLink(link: Link): void {
  const fallbacks = linkFallbacks(link);
  link.fallbacksReported = fallbacks.length;
  post({ type: 'link', name: link.spec.name, open: link.socket !== undefined, error: link.error, fallbacks: fallbacks.length > 0 ? fallbacks : undefined });
}

/** Reports a link again when one of its sockets fell back on something since (memberships, statistics). */
function reportNewFallbacks(link: Link): void {
  if (linkFallbacks(link).length !== link.fallbacksReported) reportLink(link);
}

/** Opens, keeps or reopens the socket of a link to match its spec, and syncs multicast memberships. */
function syncLink(link: Link, update: LinkUpdate): void {
  const before = link.socket;
  const prevIndex = link.spec.index;
  const prevState = link.state;
  const { table, ...spec } = update;
  const previous = table ? link.table.apply(table) : { v4: link.table.v4, v6: link.table.v6 };
  link.spec = spec;
  link.state = buildState(link);
  link.src6 = spec.src6 ? parseIP(spec.src6) : undefined;
  if (link.socket && prevIndex !== spec.index) closeLink(link);
  if (!link.socket && spec.index !== undefined) {
    try {
      const open = (filter: 'control' | 'requests', receiveBuffer: number) =>
        PacketSocket.open(libc, { ifindex: spec.index!, protocol: ETH_P_ALL, filter, ignoreOutgoing: true, nonBlocking: true, receiveBuffer, unavailable });
      link.control = open('control', CONTROL_BUFFER);
      byFd.set(link.control.fd, { link, lane: 'control' });
      link.socket = open('requests', RECEIVE_BUFFER);
      byFd.set(link.socket.fd, { link, lane: 'requests' });
      link.error = undefined;
    } catch (err) {
      closeLink(link);
      if (err instanceof PermissionError) throw err;
      link.error = (err as Error).message;
    }
  }
  if (spec.index === undefined) link.error = 'interface not present';
  syncGroups(link);
  link.open = link.socket !== undefined;
  if (before !== link.socket || link.error) reportLink(link);
  else reportNewFallbacks(link);
  confirmer.changed(link, prevState && { ifMac: prevState.ifMac, ...previous });
}

/**
 * Joins the multicast groups a link needs (solicited-node groups of its IPv6 VIPs, the heartbeat group); past
 * {@link GROUP_LIMIT} groups, every multicast group instead (`all`).
 */
function syncGroups(link: Link): void {
  if (!link.socket) return;
  const want = new Set<string>();
  if (link.table.groupCount + (beacon.active ? 1 : 0) > GROUP_LIMIT) want.add(ALL_GROUPS);
  else {
    if (beacon.active) want.add(HEARTBEAT_GROUP);
    for (const m of link.table.groups()) want.add(m);
  }
  const join = (m: string) => (m === ALL_GROUPS ? 'all' : parseMAC(m)!);
  for (const m of link.groups) {
    if (!want.has(m)) {
      try { link.socket.dropMembership(join(m)); } catch { /* the group goes with the socket anyway */ }
      link.groups.delete(m);
    }
  }
  for (const m of want) {
    if (link.groups.has(m)) continue;
    try {
      link.socket.addMembership(join(m));
      link.groups.add(m);
    } catch (err) {
      link.error = `multicast membership ${m}: ${(err as Error).message}`;
    }
  }
}

function applyProbes(link: Link, spec: LinkInfo): void {
  const ips = spec.probes ?? [];
  if (!probePolicy || ips.length === 0) {
    // Its misses stay counted (the metric is a counter).
    if (link.prober) link.probeMissBase = (link.probeMissBase ?? 0) + link.prober.missed;
    link.prober = undefined;
    return;
  }
  link.prober ??= new ProbeTracker(probePolicy);
  link.prober.setTargets(ips, Date.now());
  link.probeFrames.clear();
}

/** The probe for `send` on `link` (see `presenceProbeFrame`), built once per target and MAC. */
function probeFrame(link: Link, st: ResponderState, send: ProbeSend): Uint8Array | undefined {
  let f = link.probeFrames.get(send.ip);
  if (!f) {
    const ip = parseIP(send.ip);
    if (!ip) return undefined;
    f = { ip, broadcast: presenceProbeFrame(st.ifMac, ip, link.src6)! };
    link.probeFrames.set(send.ip, f);
  }
  if (send.mac === undefined) return f.broadcast;
  if (f.unicastTo !== send.mac) {
    const mac = parseMAC(send.mac);
    const unicast = mac && presenceProbeFrame(st.ifMac, f.ip, link.src6, mac);
    if (!unicast) return f.broadcast;
    f.unicast = unicast;
    f.unicastTo = send.mac;
  }
  return f.unicast;
}

/** Sends one probe round on every link and reports the misses that changed a node's state. */
function probeRound(now: number): void {
  for (const link of links.values()) {
    const st = link.state;
    if (!link.prober || !st) continue;
    const { probe, changes } = link.prober.round(now);
    for (const send of probe) {
      const frame = probeFrame(link, st, send);
      if (frame && sendOn(link, frame, 'question')) (link.probeSentAt ??= new Map()).set(send.ip, performance.now());
    }
    if (changes.length > 0) post({ type: 'probe', link: link.spec.name, changes, targets: link.prober.list() });
  }
}

/** Sends this replica's heartbeat on every open link when one is due and the main thread is alive. */
function beat(now: number): void {
  if (!beacon.active || !granted(GRANT_BEACON)) return;
  const build = beacon.take(now, granted(GRANT_ANSWER));
  if (!build) return;
  for (const link of links.values()) {
    if (!link.socket || !link.state) continue;
    if (sendOn(link, build(link.state.ifMac), 'beacon')) bump(counters.heartbeatsSent, link.spec.name);
  }
}

function hearHeartbeat(link: Link, frame: Uint8Array, now: number): void {
  const d = beacon.decode(frame);
  if (!d) return;
  if (!d.ok) {
    bump(counters.heartbeatDrops, d.reason);
    return;
  }
  post({ type: 'heartbeat', link: link.spec.name, mac: formatMAC(frame.subarray(6, 12)), heartbeat: d.value, at: now });
}

/**
 * Counts the misses of every probe whose answer is overdue on every link, reports the state changes they
 * caused, and asks the addresses that missed again at once (retries, see `retryDeadline`).
 */
function expireProbes(now: number): void {
  for (const link of links.values()) {
    if (!link.prober) continue;
    const changes = link.prober.expire(now);
    if (changes.length > 0) post({ type: 'probe', link: link.spec.name, changes, targets: link.prober.list() });
    const st = link.state;
    if (!st) continue;
    for (const send of link.prober.retry(now)) {
      const frame = probeFrame(link, st, send);
      if (frame && sendOn(link, frame, 'question')) (link.probeSentAt ??= new Map()).set(send.ip, performance.now());
    }
  }
}

/** The earliest answer due on any link (Infinity: none). */
function nextProbeDue(): number {
  let next = Infinity;
  for (const link of links.values()) if (link.prober) next = Math.min(next, link.prober.nextDue());
  return next;
}

function applyLinks(specs: LinkUpdate[]): void {
  const names = new Set(specs.map((s) => s.name));
  for (const [name, link] of links) {
    if (!names.has(name)) {
      closeLink(link);
      links.delete(name);
    }
  }
  for (const spec of specs) {
    let link = links.get(spec.name);
    if (!link) {
      link = { spec: { name: spec.name }, table: new VipTable(), name: spec.name, open: false, groups: new Set(), fallbacksReported: 0, requesters: new Requesters(), probeFrames: new Map() };
      links.set(spec.name, link);
      if (spec.index === undefined) reportLink(link);
    }
    syncLink(link, spec);
    applyProbes(link, spec);
  }
  confirmer.retry(links.values(), Date.now());
  poller.set([wake.fd, ...byFd.keys()]);
}

/**
 * Sends a frame. Answers and announcements (`answer`) go out only while the dead-man switch allows them,
 * heartbeats (`beacon`) while the main thread is alive; node probes (`question`) always, since asking
 * never points an address anywhere.
 */
function sendOn(link: Link, frame: Uint8Array, kind: 'answer' | 'question' | 'beacon' = 'answer'): boolean {
  if (kind === 'answer' && !granted(GRANT_ANSWER)) {
    bump(counters.withheld, link.spec.name);
    return false;
  }
  if (!link.socket) {
    bump(counters.sendErrors, link.spec.name);
    return false;
  }
  try {
    link.socket.send(frame);
    bump(counters.sent, link.spec.name);
    return true;
  } catch (err) {
    bump(counters.sendErrors, link.spec.name);
    post({ type: 'send-error', link: link.spec.name, error: (err as Error).message });
    return false;
  }
}

/** Reads up to `max` queued frames of one lane of a link and answers them; true when it stopped at `max`. */
function drain(link: Link, socket: PacketSocket, max: number): boolean {
  const now = Date.now();
  for (let i = 0; i < max; i++) {
    let n: number;
    try {
      n = socket.recv(buf);
    } catch (err) {
      // ENETDOWN and friends: the link went down; the socket stays bound and works again when it comes up.
      link.error = (err as Error).message;
      return false;
    }
    if (n < 0) return false;
    const frame = buf.subarray(0, n);
    if (isHeartbeatFrame(frame)) {
      hearHeartbeat(link, frame, now);
      continue;
    }
    bump(counters.frames, link.spec.name);
    const st = link.state;
    if (!st) continue;
    const out = respond(frame, st);
    switch (out.kind) {
      case 'reply': {
        confirmer.asked(link, out.slot, out.asker, now);
        const c = vipCounters(out.vip);
        if (out.protocol === 'arp') c.arpRequests++;
        else c.ndpRequests++;
        dirty = true;
        // The Ethernet source: an ARP probe has no sender address, and a MAC is what a loop replays.
        if (!limiter.allow(frame, 6, addressHash(out.vip), now)) {
          c.limited++;
          break;
        }
        if (sendOn(link, out.frame)) {
          if (out.protocol === 'arp') c.arpReplies++;
          else c.ndpReplies++;
        }
        dirty = true;
        break;
      }
      case 'conflict':
        post({ type: 'conflict', link: link.spec.name, vip: out.vip, mac: out.mac, protocol: out.protocol, phase: out.phase });
        break;
      case 'ignored':
        bump(counters.ignored, out.reason);
        if (out.slot) confirmer.asked(link, out.slot, out.asker, now);
        if (out.announced) post({ type: 'announced', link: link.spec.name, vip: out.announced.vip, mac: out.announced.mac });
        if (out.seen) {
          link.requesters.alive(out.seen.ip, out.seen.mac, now);
          if (link.prober) {
            const ip = formatIP(out.seen.ip);
            const sent = link.probeSentAt?.get(ip);
            const changes = link.prober.answer(ip, formatMAC(out.seen.mac), now, sent === undefined ? undefined : performance.now() - sent);
            if (changes.length > 0) post({ type: 'probe', link: link.spec.name, changes, targets: link.prober.list() });
          }
        }
        break;
      case 'drop':
        bump(counters.drops, out.reason);
        break;
    }
  }
  return true;
}

/** Adds the kernel's queue-overflow drops of every socket (reading them resets the kernel's count). */
function collectSocketDrops(): void {
  for (const link of links.values()) {
    for (const [sock, into] of [[link.socket, counters.socketDrops], [link.control, counters.controlDrops]] as const) {
      if (!sock) continue;
      try {
        const { drops } = sock.stats();
        if (drops > 0) {
          into[link.spec.name] = (into[link.spec.name] ?? 0) + drops;
          dirty = true;
        }
      } catch {
        // the link went away; its socket is reopened or closed by the next spec
      }
    }
    reportNewFallbacks(link);
  }
}

function postCounters(now: number): void {
  if (now - lastStats >= COUNTER_INTERVAL_MS) {
    lastStats = now;
    collectSocketDrops();
  }
  confirmer.share(links.values(), now);
  if (now - lastProbeList >= PROBE_LIST_MS) {
    lastProbeList = now;
    // Round trips change with every answer but are no state change: the targets go to the main thread
    // once a second (the API and the status page), with no changes to act on.
    for (const link of links.values()) if (link.prober) post({ type: 'probe', link: link.spec.name, changes: [], targets: link.prober.list() });
  }
  if (!dirty || now - lastPost < COUNTER_INTERVAL_MS) return;
  dirty = false;
  for (const link of links.values()) {
    counters.requesters[link.spec.name] = link.requesters.size;
    // The tracker lives as long as the link has probe targets; its count only grows meanwhile.
    if (link.prober) counters.probeMisses[link.spec.name] = (link.probeMissBase ?? 0) + link.prober.missed;
  }
  lastPost = now;
  post({ type: 'counters', counters: structuredClone(counters) });
}

/** Blocks in poll() answering frames until the main thread signals a message, then yields to deliver it. */
function pump(): void {
  if (stopping) return;
  // Messages posted before the wakeup may not have been delivered yet: keep yielding until caught up.
  if (seq && Atomics.load(seq, 0) !== applied) {
    setTimeout(pump, 0);
    return;
  }
  for (;;) {
    let timeout = COUNTER_INTERVAL_MS;
    if (probePolicy) {
      const now = Date.now();
      // Deadlines are set only by rounds and retries, so the earliest is looked up only after those (an
      // answer can only make it later: the next expiry then finds nothing and looks again).
      let dues = false;
      if (now >= deadlineAt) {
        expireProbes(now);
        dues = true;
      }
      if (now >= nextRound) {
        // Rounds keep their cadence; after a stall, start again from now rather than bursting.
        nextRound = Math.max(nextRound + probePolicy.intervalMs, now + 1);
        probeRound(now);
        dues = true;
      }
      if (dues) deadlineAt = nextProbeDue();
      const due = Math.min(nextRound, deadlineAt);
      timeout = Math.min(timeout, Math.max(0, due - Date.now()));
    }
    timeout = Math.min(timeout, confirmer.tick(links.values(), Date.now()));
    beat(Date.now());
    timeout = Math.min(timeout, beacon.dueIn(Date.now()));
    const ready = poller.wait(timeout);
    let yieldNow = false;
    // The control lanes first: a heartbeat or a probe answer never waits behind a batch of requests.
    for (const lane of ['control', 'requests'] as const) {
      for (const fd of ready) {
        const l = byFd.get(fd);
        if (l?.lane === lane) drain(l.link, lane === 'control' ? l.link.control! : l.link.socket!, lane === 'control' ? CONTROL_BATCH : REQUEST_BATCH);
      }
    }
    if (ready.includes(wake.fd)) {
      wake.drain();
      yieldNow = true;
    }
    postCounters(Date.now());
    if (yieldNow) {
      setTimeout(pump, 0);
      return;
    }
  }
}

function handle(msg: ToWorker): void {
  switch (msg.type) {
    case 'init':
      seq = new Int32Array(msg.seq);
      grant = new BigInt64Array(msg.grant);
      unavailable = msg.unavailable ?? [];
      return;
    case 'beacon':
      beacon.set(msg.beacon, Date.now());
      for (const link of links.values()) {
        syncGroups(link);
        reportNewFallbacks(link);
      }
      beat(Date.now());
      break;
    case 'links':
      probePolicy = msg.probe;
      confirmer.setInterval(msg.confirmIntervalMs ?? 0, Date.now());
      if (limiter.perSecond !== (msg.replyLimit ?? 0)) limiter = new ReplyLimiter({ perSecond: msg.replyLimit ?? 0 });
      applyLinks(msg.links);
      break;
    case 'send': {
      const link = links.get(msg.link);
      if (!link) break;
      for (let i = 0, at = 0; i < msg.lengths.length; at += msg.lengths[i++]!) sendOn(link, msg.bytes.subarray(at, at + msg.lengths[i]!));
      break;
    }
    case 'requesters':
      confirmer.adopt(links.values(), msg.hosts, Date.now());
      break;
    case 'stop':
      stopping = true;
      for (const link of links.values()) closeLink(link);
      wake.close();
      dirty = true;
      lastPost = 0;
      postCounters(Date.now());
      post({ type: 'stopped' });
      self.close();
      return;
  }
  applied++;
}

async function main(): Promise<void> {
  try {
    libc = await loadLibc();
    PacketSocket.checkAccess(libc);
    wake = Wakeup.create(libc);
    poller = new Poller(libc);
    poller.set([wake.fd]);
  } catch (err) {
    post({ type: 'fatal', error: (err as Error).message, permission: err instanceof PermissionError });
    return;
  }
  self.onmessage = (ev) => {
    try {
      handle(ev.data);
    } catch (err) {
      post({ type: 'fatal', error: (err as Error).message, permission: err instanceof PermissionError || (err instanceof LinkError && err.errno === 1) });
    }
  };
  post({ type: 'ready', wakeFd: wake.fd });
  setTimeout(pump, 0);
}

void main();
