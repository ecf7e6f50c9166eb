/**
 * The gateway-model topology for end-to-end tests (DESIGN.md, "How traffic reaches a Service"): one bridge
 * namespace joins a client (the router's role), N "nodes" that accept the Service addresses the way
 * kube-proxy does (a local route, arp_ignore=1 and arp_announce=2: they never answer ARP for them nor
 * name them in their own ARP requests) and serve their node name over HTTP and a line echo over TCP,
 * the API server stand-in in a namespace of its own, and M l2lb replicas (the compiled binary, kubernetes
 * mode, Lease election with short timings), each in its own namespace.
 *
 * Addresses (all 192.0.2.0/24): replica i at .i (i = 1..4), the stand-in at .5, the client at .9, node i at
 * .1i (i = 1..9), Service addresses 192.0.2.200-207 (an Eip pool; every node accepts the whole /29).
 * MACs: replica 02:00:00:00:01:0i, stand-in 02:00:00:00:05:05, client 02:00:00:00:09:09, node 02:00:00:00:1i:1i.
 *
 * With `kubeProxy: true` every node also runs a stand-in for kube-proxy's health endpoint
 * (`:10256/healthz`) whose status a test sets ({@link Gateway.setKubeProxy}).
 *
 * Also here: a capture of ARP frames with their Ethernet source (tcpdump in a namespace), a source of ARP
 * requests finer than arping's whole seconds, and a long-lived TCP flow from the client that sends a line
 * every few ms and records the node's echoes. Every child process that can exits when the test process
 * goes away (stdin EOF), and a new run first removes whatever namespaces (and their processes) a crashed
 * run left under the same prefix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inNetns, sh, waitFor } from './netns.ts';
import { libc } from '../../src/runtime/ffi.ts';
import { PacketSocket } from '../../src/link/packet.ts';
import { arpRequestFrame } from '../../src/wire/arp.ts';
import { parseIP } from '../../src/net/ip.ts';
import { parseMAC } from '../../src/net/mac.ts';
import { type Running, BUN, ensureBinary, startL2lb } from './l2lb.ts';
import { type KubeObject, StandIn } from './kube/standin.ts';
import type { LeaseView } from '../../src/kube/lease.ts';

/** One namespace on the bridge. */
export interface Host {
  /** Short name: `cl`, `api`, `n1`, `lb1`; the bridge port is `p-<name>` in the bridge namespace. */
  name: string;
  ns: string;
  ip: string;
  /** With `ipv6`: the host's IPv6 address, 2001:db8:: and the same last number as `ip`. */
  ip6?: string;
  mac: string;
}

/** A node: accepts the Service addresses and serves its Node name. */
export interface NodeHost extends Host {
  /** The Node object's name, also what its servers answer: `node-1`, `node-2`, ... */
  node: string;
}

/** An l2lb replica; `running` is undefined while it is stopped. */
export interface Replica extends Host {
  index: number;
  running?: Running;
}

/** Lease timings of every replica (durations as the config file takes them). */
export interface LeaseTimings {
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
}

/** Options of {@link Gateway.create}. */
export interface GatewayOptions {
  /** Namespace prefix, unique per test file: 1-8 characters of [a-z0-9]. */
  prefix: string;
  /** Number of nodes, 1-9 (default 2). */
  nodes?: number;
  /** Number of l2lb replicas, 1-4 (default 1). */
  replicas?: number;
  /** Default: leaseDuration 2s, renewDeadline 1s, retryPeriod 200ms. */
  lease?: LeaseTimings;
  /**
   * More l2lb configuration, merged over the defaults: top-level keys replace, except `kubernetes`, whose
   * keys are added to the connection settings (kubeconfig, leaderElection) rather than instead of them.
   */
  config?: Record<string, unknown>;
  /** Create the Service `default/web` at {@link GATEWAY_VIP} (default true). */
  service?: boolean;
  /**
   * Dual stack: every host also gets 2001:db8::<n>/64, nodes an IPv6 InternalIP and a local route for
   * {@link GATEWAY_POOL6} (an Eip `lan6`), and the node servers listen on both families.
   */
  ipv6?: boolean;
  /** The l2lb command line before `--config` (default: the compiled binary; `[BUN, join(ROOT, 'src/main.ts')]` runs the source). */
  command?: string[];
  /** Run a kube-proxy health endpoint stand-in on every node, answering 200 until told otherwise (default false). */
  kubeProxy?: boolean;
  /**
   * How the replicas authenticate: `cert` (default), a client certificate in the kubeconfig; `token-file`,
   * a bearer token in {@link Gateway.tokenFile} named by the kubeconfig's `tokenFile` (what a test rotates).
   */
  auth?: 'cert' | 'token-file';
  /**
   * Per-node mode (`kubernetes.announce: self`): replica i runs inside node i's namespace, with that
   * node's name; `replicas` is then the number of nodes.
   */
  perNode?: boolean;
}

/** The IPv6 pool (with `ipv6`) and its first address. */
export const GATEWAY_POOL6 = '2001:db8::200-2001:db8::207';
export const GATEWAY_VIP6 = '2001:db8::200';
const POOL6_PREFIX = '2001:db8::200/125';

/** The first Service address; the pool is 192.0.2.200-207. */
export const GATEWAY_VIP = '192.0.2.200';
/** The Eip pool (a range: as a CIDR its first address would be left out as the network address). */
export const GATEWAY_POOL = '192.0.2.200-192.0.2.207';
/** The same addresses as a prefix: routed locally on every node. */
const POOL_PREFIX = '192.0.2.200/29';
/** Port of each node's HTTP server (answers its node name). */
export const HTTP_PORT = 8080;
/** Port of each node's line echo server (answers `<node> <line>` per line). */
export const ECHO_PORT = 7000;
/** Port of kube-proxy's health endpoint (`--healthz-bind-address`), served with `kubeProxy: true`. */
export const KUBE_PROXY_PORT = 10256;

/**
 * kube-proxy's health endpoint on a node: `GET /healthz` answers the status last written to stdin as a line
 * (200 at first), anything else 404; each status taken is echoed on stdout. Exits on stdin EOF.
 */
const KUBE_PROXY_SERVER = `
let status = 200;
Bun.serve({ hostname: '0.0.0.0', port: ${KUBE_PROXY_PORT}, fetch: (req) =>
  new URL(req.url).pathname === '/healthz' ? Response.json({ lastUpdated: new Date().toISOString() }, { status }) : new Response('not found', { status: 404 }) });
let buf = '';
const dec = new TextDecoder();
for await (const chunk of Bun.stdin.stream()) {
  buf += dec.decode(chunk, { stream: true });
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) { status = Number(buf.slice(0, i)); buf = buf.slice(i + 1); process.stdout.write('status ' + status + '\\n'); }
}
process.exit(0);
`;

/**
 * Each node's servers: HTTP answering the node name, and TCP and UDP servers echoing every line / datagram
 * prefixed with the node name. Exits when its stdin closes, i.e. when the test process is gone, so nothing
 * outlives a crash.
 */
const NODE_SERVER = `
const name = process.env.NODE_NAME;
Bun.serve({ hostname: process.env.HTTP_HOST || '0.0.0.0', port: ${HTTP_PORT}, fetch: () => new Response(name) });
Bun.listen({ hostname: '0.0.0.0', port: ${ECHO_PORT}, socket: {
  open(s) { s.data = { buf: '' }; },
  data(s, d) {
    s.data.buf += d.toString();
    let i;
    while ((i = s.data.buf.indexOf('\\n')) >= 0) { s.write(name + ' ' + s.data.buf.slice(0, i) + '\\n'); s.data.buf = s.data.buf.slice(i + 1); }
  },
} });
await Bun.udpSocket({ hostname: '0.0.0.0', port: ${ECHO_PORT}, socket: { data(s, d, port, addr) { s.send(name + ' ' + d.toString().trim() + '\\n', port, addr); } } });
for await (const _ of Bun.stdin.stream()) {}
process.exit(0);
`;

/**
 * The client side of a long-lived UDP flow: a numbered datagram every PERIOD ms, one JSON line per echo.
 * Nothing in it confirms the client's neighbour entry (TCP's ACKs do). Exits on stdin EOF.
 */
const UDP_FLOW_CLIENT = `
const [host, port, period] = [process.env.FLOW_HOST, Number(process.env.FLOW_PORT), Number(process.env.FLOW_PERIOD)];
const out = (o) => process.stdout.write(JSON.stringify({ t: Date.now(), ...o }) + '\\n');
let seq = 0;
const sock = await Bun.udpSocket({ socket: { data(s, d) { out({ echo: d.toString().trim() }); } } });
out({ event: 'connected' });
setInterval(() => { sock.send(String(seq++), port, host); }, period);
for await (const _ of Bun.stdin.stream()) {}
process.exit(0);
`;

/**
 * The client side of a long-lived TCP flow: connects, sends a numbered line every PERIOD ms, and prints one
 * JSON line per event (connected, echo, error, close) with its epoch-ms time. Exits on stdin EOF.
 */
const FLOW_CLIENT = `
const [host, port, period] = [process.env.FLOW_HOST, Number(process.env.FLOW_PORT), Number(process.env.FLOW_PERIOD)];
const out = (o) => process.stdout.write(JSON.stringify({ t: Date.now(), ...o }) + '\\n');
let buf = '';
let seq = 0;
try {
  const sock = await Bun.connect({ hostname: host, port, socket: {
    data(s, d) {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\\n')) >= 0) { out({ echo: buf.slice(0, i) }); buf = buf.slice(i + 1); }
    },
    error(s, e) { out({ event: 'error', message: String(e && e.code || e) }); },
    end() { out({ event: 'end' }); },
    close(s, e) { out({ event: 'close', message: e ? String(e.code || e) : undefined }); },
  } });
  out({ event: 'connected' });
  setInterval(() => { sock.write(String(seq++) + '\\n'); }, period);
} catch (e) {
  out({ event: 'error', message: 'connect: ' + String(e && e.code || e) });
}
for await (const _ of Bun.stdin.stream()) {}
process.exit(0);
`;

function mac(a: number, b: number): string {
  const h = (n: number) => n.toString(16).padStart(2, '0');
  return `02:00:00:00:${h(a)}:${h(b)}`;
}

/** Every namespace named `<prefix>-...`: what an earlier crashed run may have left. */
function namespacesOf(prefix: string): string[] {
  return sh(['ip', 'netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
}

/** Kills the processes still inside namespace `ns` (only ours can be: the prefix is unique) and deletes it. */
function deleteNamespace(ns: string): void {
  const pids = sh(['ip', 'netns', 'pids', ns], { check: false }).stdout.split('\n').map((l) => Number(l.trim())).filter((p) => p > 1);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  sh(['ip', 'netns', 'del', ns], { check: false });
}

/** Reads a child's stdout line by line. */
async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const dec = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of stream) {
      buf += dec.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
  } catch {
    // the process went away
  }
  if (buf) onLine(buf);
}

/** A child in a namespace whose stdin stays an open pipe (our helpers exit on its EOF). */
function spawnPiped(ns: string, cmd: string[], env: Record<string, string> = {}): Bun.Subprocess<'pipe', 'pipe', 'pipe'> {
  return Bun.spawn({ cmd: ['ip', 'netns', 'exec', ns, ...cmd], env: { ...process.env, ...env }, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
}

// ------------------------------------------------------------------------------------------- ARP capture

/** One ARP frame as seen on the wire. */
export interface ArpFrame {
  /** Capture time (kernel timestamp), epoch milliseconds with fractions. */
  at: number;
  ethSrc: string;
  ethDst: string;
  op: 'request' | 'reply' | 'other';
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** Whether a frame is a gratuitous ARP (sender and target address equal). */
export function isGratuitous(f: ArpFrame): boolean {
  return f.senderIp === f.targetIp;
}

/**
 * ARP frames on one interface of one namespace, with their Ethernet source (tcpdump -xx: the ARP sender
 * hardware address alone says nothing about who sent a frame in the gateway model).
 */
export class ArpCapture {
  readonly frames: ArpFrame[] = [];
  private stderr = '';

  private constructor(private readonly proc: Bun.Subprocess<'pipe', 'pipe', 'pipe'>) {}

  /** Starts tcpdump in `ns` on `iface` and waits until it listens. */
  static async start(ns: string, iface = 'eth0'): Promise<ArpCapture> {
    const proc = spawnPiped(ns, ['tcpdump', '-i', iface, '-l', '-n', '-tt', '-xx', '--immediate-mode', 'arp']);
    const cap = new ArpCapture(proc);
    let header: number | undefined;
    let hex = '';
    void readLines(proc.stdout, (line) => {
      if (/^\s+0x[0-9a-f]+:/.test(line)) {
        if (header === undefined) return;
        hex += line.replace(/^\s+0x[0-9a-f]+:\s+/, '').replace(/\s+/g, '');
        if (hex.length >= 84) {
          const f = decodeArp(header, hex);
          if (f) cap.frames.push(f);
          header = undefined;
        }
        return;
      }
      const t = Number(line.split(' ')[0]);
      header = Number.isFinite(t) ? t * 1000 : undefined;
      hex = '';
    });
    void readLines(proc.stderr, (line) => {
      cap.stderr += `${line}\n`;
    });
    try {
      await waitFor(`tcpdump listening in ${ns}`, () => cap.stderr.includes('listening on') || proc.exitCode !== null, 5000, 20);
    } catch (err) {
      proc.kill('SIGKILL');
      throw err;
    }
    if (proc.exitCode !== null) throw new Error(`tcpdump in ${ns} exited: ${cap.stderr}`);
    return cap;
  }

  /** Frames announcing `ip` (ARP replies and gratuitous ARP: sender address `ip`) since `from` (epoch ms). */
  about(ip: string, from = 0): ArpFrame[] {
    return this.frames.filter((f) => f.senderIp === ip && f.at >= from);
  }

  /** Stops tcpdump. */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null) this.proc.kill('SIGTERM');
    await this.proc.exited;
  }
}

function decodeArp(at: number, hex: string): ArpFrame | undefined {
  const b = (i: number) => parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  const macAt = (i: number) => Array.from({ length: 6 }, (_, k) => hex.slice((i + k) * 2, (i + k) * 2 + 2)).join(':');
  const ipAt = (i: number) => [b(i), b(i + 1), b(i + 2), b(i + 3)].join('.');
  // Ethernet II carrying ARP for IPv4 over Ethernet only.
  if (hex.slice(24, 28) !== '0806' || hex.slice(28, 40) !== '000108000604') return undefined;
  const op = (b(20) << 8) | b(21);
  return {
    at, ethDst: macAt(0), ethSrc: macAt(6), op: op === 1 ? 'request' : op === 2 ? 'reply' : 'other',
    senderMac: macAt(22), senderIp: ipAt(28), targetMac: macAt(32), targetIp: ipAt(38),
  };
}

/**
 * Broadcast ARP requests for one address from a host, every `everyMs`, through a send-only packet socket
 * opened in the host's namespace: a finer sampling of what is answered for the address than iputils arping,
 * whose interval is whole seconds.
 */
export class ArpRequester {
  /** Requests sent. */
  sent = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly sock: PacketSocket;

  constructor(h: Host, target: string, everyMs = 20) {
    const lib = libc();
    const ifindex = inNetns(h.ns, () => lib.if_nametoindex(new TextEncoder().encode('eth0\0')));
    if (!ifindex) throw new Error(`no eth0 in ${h.ns}`);
    const sock = inNetns(h.ns, () => PacketSocket.open(lib, { ifindex, protocol: 0 }));
    this.sock = sock;
    const frame = arpRequestFrame(parseMAC(h.mac)!, parseIP(h.ip)!, parseIP(target)!);
    this.timer = setInterval(() => {
      sock.send(frame);
      this.sent++;
    }, everyMs);
  }

  /** Stops sending and closes the socket. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.sock.close();
  }
}

// ---------------------------------------------------------------------------------------------- TCP flow

/** What a {@link Flow} saw so far. */
export interface FlowReport {
  connected: boolean;
  /** Echo lines received. */
  echoes: number;
  /** Node names that answered, in order of first answer. */
  nodes: string[];
  /** Longest time without an echo, from the first echo to now (or the end of the flow). */
  maxGapMs: number;
  /** When that gap began (epoch ms). */
  maxGapAt: number;
  /** Errors, resets and closes, as the client saw them. */
  problems: string[];
}

/** A long-lived TCP connection from a namespace to a Service address: a line every `periodMs`, echoed by the node. */
export class Flow {
  private readonly echoes: { t: number; node: string }[] = [];
  private readonly problems: string[] = [];
  private connected = false;

  private constructor(private readonly proc: Bun.Subprocess<'pipe', 'pipe', 'pipe'>) {}

  /** Connects from `ns` to `host`:`port` (TCP, or datagrams with `udp`) and waits for the first echo. */
  static async start(ns: string, host: string, port = ECHO_PORT, periodMs = 50, proto: 'tcp' | 'udp' = 'tcp'): Promise<Flow> {
    const proc = spawnPiped(ns, [BUN, '-e', proto === 'udp' ? UDP_FLOW_CLIENT : FLOW_CLIENT], { FLOW_HOST: host, FLOW_PORT: String(port), FLOW_PERIOD: String(periodMs) });
    const flow = new Flow(proc);
    void readLines(proc.stdout, (line) => {
      let ev: { t: number; echo?: string; event?: string; message?: string };
      try {
        ev = JSON.parse(line);
      } catch {
        return;
      }
      if (ev.echo !== undefined) flow.echoes.push({ t: ev.t, node: ev.echo.split(' ')[0] ?? '' });
      else if (ev.event === 'connected') flow.connected = true;
      else flow.problems.push(`${new Date(ev.t).toISOString()} ${ev.event}${ev.message ? `: ${ev.message}` : ''}`);
    });
    try {
      await waitFor(`the first echo of a flow to ${host}:${port}`, () => flow.echoes.length > 0 || flow.problems.length > 0, 5000, 20);
    } catch (err) {
      await flow.stop();
      throw err;
    }
    if (flow.problems.length > 0) {
      await flow.stop();
      throw new Error(`flow to ${host}:${port} failed: ${flow.problems.join('; ')}`);
    }
    return flow;
  }

  /** What happened so far. */
  report(): FlowReport {
    let maxGapMs = 0;
    let maxGapAt = 0;
    const times = this.echoes.map((e) => e.t);
    if (this.proc.exitCode === null && times.length > 0) times.push(Date.now());
    for (let i = 1; i < times.length; i++) {
      if (times[i]! - times[i - 1]! > maxGapMs) {
        maxGapMs = times[i]! - times[i - 1]!;
        maxGapAt = times[i - 1]!;
      }
    }
    return {
      connected: this.connected, echoes: this.echoes.length, nodes: [...new Set(this.echoes.map((e) => e.node))],
      maxGapMs, maxGapAt, problems: [...this.problems],
    };
  }

  /** Ends the flow (the client exits) and reports. */
  async stop(): Promise<FlowReport> {
    // Echoes still in the pipe would count as a gap at the end: the caller may have blocked this event
    // loop (synchronous `curl` polls) for a few hundred ms just before.
    await Bun.sleep(250);
    const r = this.report();
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    await this.proc.exited;
    return r;
  }
}

// ------------------------------------------------------------------------------------------ the topology

/** The running topology; {@link Gateway.destroy} removes every namespace and process (safe to call twice). */
export class Gateway {
  readonly prefix: string;
  /** The bridge namespace (bridge `br0`, ports `p-<host>`). */
  readonly lan: string;
  readonly client: Host;
  /** Where the API server stand-in runs. */
  readonly apiHost: Host;
  readonly nodes: NodeHost[];
  readonly replicas: Replica[];
  /** The API server stand-in (holds Nodes, Services, EndpointSlices, Eips, the Lease). */
  api!: StandIn;
  /** Kubeconfig path every replica uses (client certificate of user `l2lb`, or the token in {@link tokenFile}). */
  kubeconfig = '';
  /** With `auth: 'token-file'`: the file holding the replicas' bearer token ('' otherwise). */
  tokenFile = '';

  private readonly lease: LeaseTimings;
  private readonly extra: Record<string, unknown>;
  private readonly command: string[] | undefined;
  private readonly servers: Bun.Subprocess<'pipe', 'pipe', 'pipe'>[] = [];
  /** The kube-proxy stand-in of each node (by node name), with `kubeProxy: true`. */
  private readonly kubeProxies = new Map<string, Bun.Subprocess<'pipe', 'pipe', 'pipe'>>();
  private readonly withKubeProxy: boolean;
  private readonly auth: 'cert' | 'token-file';
  /** Replicas run on the nodes (per-node mode). */
  readonly perNode: boolean;
  private readonly ipv6: boolean;
  private readonly dirs: string[] = [];
  private readonly others: { stop(): Promise<unknown> }[] = [];
  private destroyed = false;

  private constructor(opts: GatewayOptions) {
    if (!/^[a-z0-9]{1,8}$/.test(opts.prefix)) throw new Error(`gateway prefix must be 1-8 chars of [a-z0-9] (got ${JSON.stringify(opts.prefix)})`);
    const n = opts.nodes ?? 2;
    const m = opts.replicas ?? 1;
    // Per-node mode runs an instance on every node: up to 40 of them (192.0.2.11-50) for the soak bench.
    const maxNodes = opts.perNode ? 40 : 9;
    if (n < 1 || n > maxNodes || m < 1 || m > 4) throw new RangeError(`gateway: 1-${maxNodes} nodes and 1-4 replicas (got ${n}, ${m})`);
    const p = opts.prefix;
    this.prefix = p;
    this.lan = `${p}-lan`;
    this.client = { name: 'cl', ns: `${p}-cl`, ip: '192.0.2.9', mac: mac(9, 9) };
    this.apiHost = { name: 'api', ns: `${p}-api`, ip: '192.0.2.5', mac: mac(5, 5) };
    this.nodes = Array.from({ length: n }, (_, i) => ({
      name: `n${i + 1}`, ns: `${p}-n${i + 1}`, ip: `192.0.2.${11 + i}`, mac: mac(0x11 + i, 0x11 + i), node: `node-${i + 1}`,
    }));
    this.perNode = opts.perNode ?? false;
    this.replicas = this.perNode
      ? this.nodes.map((nd, i) => ({ name: `lb${i + 1}`, ns: nd.ns, ip: nd.ip, mac: nd.mac, index: i }))
      : Array.from({ length: m }, (_, i) => ({
        name: `lb${i + 1}`, ns: `${p}-lb${i + 1}`, ip: `192.0.2.${i + 1}`, mac: mac(1, i + 1), index: i,
      }));
    this.lease = opts.lease ?? { leaseDuration: '2s', renewDeadline: '1s', retryPeriod: '200ms' };
    this.extra = opts.config ?? {};
    this.command = opts.command;
    this.withKubeProxy = opts.kubeProxy ?? false;
    this.auth = opts.auth ?? 'cert';
    this.ipv6 = opts.ipv6 ?? false;
    if (this.ipv6) for (const h of this.hosts()) h.ip6 = `2001:db8::${h.ip.split('.')[3]}`;
  }

  /**
   * Builds the topology, starts the node servers and the stand-in, creates the Nodes, the Eip pool and
   * (unless `service: false`) the Service `default/web` at {@link GATEWAY_VIP}, then starts every replica
   * and waits until each is ready (watches listed, socket open), then runs a test's own `setup`. On any
   * failure everything is removed.
   */
  static async create(opts: GatewayOptions, setup?: (gw: Gateway) => Promise<unknown>): Promise<Gateway> {
    const gw = new Gateway(opts);
    try {
      await gw.build(opts.service ?? true);
      await setup?.(gw);
    } catch (err) {
      const diag = gw.diagnostics();
      await gw.destroy();
      throw new Error(`${(err as Error).message}\n${diag}`);
    }
    return gw;
  }

  /** Every host on the bridge. */
  hosts(): Host[] {
    return [this.client, this.apiHost, ...this.nodes, ...(this.perNode ? [] : this.replicas)];
  }

  private async build(service: boolean): Promise<void> {
    if (!this.command) ensureBinary();
    for (const ns of namespacesOf(this.prefix)) deleteNamespace(ns);
    sh(['ip', 'netns', 'add', this.lan]);
    sh(['ip', 'link', 'add', 'br0', 'type', 'bridge'], { ns: this.lan });
    sh(['ip', 'link', 'set', 'br0', 'up'], { ns: this.lan });
    for (const h of this.hosts()) {
      sh(['ip', 'netns', 'add', h.ns]);
      // No DAD (link-local addresses usable at once, for the NS probes) and IPv6 addresses kept while a
      // node's link is down (a failure test takes it down).
      if (this.ipv6) sh(['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.default.keep_addr_on_down=1'], { ns: h.ns });
      sh(['ip', 'link', 'set', 'lo', 'up'], { ns: h.ns });
      sh(['ip', 'link', 'add', `p-${h.name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns], { ns: this.lan });
      sh(['ip', 'link', 'set', `p-${h.name}`, 'master', 'br0', 'up'], { ns: this.lan });
      sh(['ip', 'link', 'set', 'eth0', 'address', h.mac, 'up'], { ns: h.ns });
      sh(['ip', 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0'], { ns: h.ns });
      if (h.ip6) sh(['ip', 'addr', 'add', `${h.ip6}/64`, 'dev', 'eth0', 'nodad'], { ns: h.ns });
    }
    for (const n of this.nodes) {
      // What kube-proxy does for a LoadBalancer address: accept it locally, never answer ARP for it
      // (arp_ignore=1), and never name it as the sender of the node's own ARP requests (arp_announce=2, as
      // kube-proxy's IPVS mode sets): else a reply from the address would announce it with the node's MAC.
      sh(['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2'], { ns: n.ns });
      sh(['ip', 'route', 'add', 'local', POOL_PREFIX, 'dev', 'lo'], { ns: n.ns });
      // IPv6: a local route is not an address, so the kernel sends no NA for it (ndisc answers assigned,
      // anycast or proxied addresses only), as with kube-proxy.
      if (this.ipv6) sh(['ip', '-6', 'route', 'add', 'local', POOL6_PREFIX, 'dev', 'lo'], { ns: n.ns });
      const proc = spawnPiped(n.ns, [BUN, '-e', NODE_SERVER], { NODE_NAME: n.node, HTTP_HOST: this.ipv6 ? '::' : '0.0.0.0' });
      this.servers.push(proc);
      if (this.withKubeProxy) {
        const kp = spawnPiped(n.ns, [BUN, '-e', KUBE_PROXY_SERVER]);
        this.servers.push(kp);
        this.kubeProxies.set(n.node, kp);
      }
    }
    this.api = await StandIn.start({ netns: this.apiHost.ns, host: this.apiHost.ip, extraSans: [`IP:${this.apiHost.ip}`] });
    await this.api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'l2lb-system' } });
    for (const n of this.nodes) {
      await this.api.create({
        apiVersion: 'v1', kind: 'Node', metadata: { name: n.node },
        status: {
          conditions: [{ type: 'Ready', status: 'True' }],
          addresses: [{ type: 'InternalIP', address: n.ip }, ...(n.ip6 ? [{ type: 'InternalIP', address: n.ip6 }] : [])],
        },
      });
    }
    if (this.ipv6) {
      await this.api.create({
        apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip',
        metadata: { name: 'lan6', annotations: { 'eip.openelb.kubesphere.io/is-default-eip': 'true' } },
        spec: { address: GATEWAY_POOL6, protocol: 'layer2' },
      });
    }
    await this.api.create({
      apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip',
      metadata: { name: 'lan', annotations: { 'eip.openelb.kubesphere.io/is-default-eip': 'true' } },
      spec: { address: GATEWAY_POOL, protocol: 'layer2' },
    });
    if (service) await this.createService('web', GATEWAY_VIP);
    // Every node server answers before anyone relies on it.
    for (const n of this.nodes) {
      await waitFor(`${n.node}'s server`, () => this.curl(n.ip) === n.node, 10_000, 50);
      if (this.withKubeProxy) await waitFor(`${n.node}'s kube-proxy health endpoint`, () => this.kubeProxyStatus(n) === 200, 10_000, 50);
    }
    const dir = mkdtempSync(join(tmpdir(), `l2lb-${this.prefix}-`));
    this.dirs.push(dir);
    this.kubeconfig = join(dir, 'kubeconfig');
    if (this.auth === 'token-file') {
      this.tokenFile = join(dir, 'token');
      this.api.writeKubeconfig(this.kubeconfig, 'token-file', { tokenFile: this.tokenFile });
    } else {
      this.api.writeKubeconfig(this.kubeconfig, 'cert');
    }
    await Promise.all(this.replicas.map((r) => this.startReplica(r.index)));
  }

  /** Creates a LoadBalancer Service (OpenELB annotation, pinned to `ip`, TCP 8080 and 7000). */
  createService(name: string, ip: string, spec: Record<string, unknown> = {}): Promise<KubeObject> {
    return this.api.create({
      apiVersion: 'v1', kind: 'Service',
      metadata: { name, namespace: 'default', annotations: { 'lb.kubesphere.io/v1alpha1': 'openelb' } },
      spec: {
        type: 'LoadBalancer', loadBalancerIP: ip,
        ports: [{ name: 'http', port: HTTP_PORT, protocol: 'TCP' }, { name: 'echo', port: ECHO_PORT, protocol: 'TCP' }],
        ...spec,
      },
    });
  }

  /**
   * An EndpointSlice of Service `default/<service>` (discovery.k8s.io/v1) with one endpoint per entry:
   * the node's address, `nodeName` and `conditions.ready`.
   */
  endpointSlice(service: string, endpoints: { node: string; ready: boolean }[], name = `${service}-1`): KubeObject {
    return {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: HTTP_PORT, protocol: 'TCP' }],
      endpoints: endpoints.map((e) => ({
        addresses: [this.node(e.node).ip], nodeName: e.node, conditions: { ready: e.ready },
      })),
    };
  }

  /**
   * (Re)starts replica `i` (index into {@link replicas}) and waits until it is ready. `config` is merged
   * over the configuration for this start only (top-level keys replace).
   */
  async startReplica(i: number, config: Record<string, unknown> = {}): Promise<Running> {
    const r = this.replicas[i]!;
    if (r.running) throw new Error(`replica ${r.name} is running`);
    const dir = mkdtempSync(join(tmpdir(), `l2lb-${this.prefix}-${r.name}-`));
    this.dirs.push(dir);
    const merged: Record<string, unknown> = {
      mode: 'kubernetes',
      interfaces: ['eth0'],
      kubernetes: { kubeconfig: this.kubeconfig, leaderElection: { ...this.lease } },
      ...this.extra,
      ...config,
    };
    // kubernetes keys given by a test are added to the connection settings, not instead of them.
    merged.kubernetes = { kubeconfig: this.kubeconfig, leaderElection: { ...this.lease }, ...(merged.kubernetes as object) };
    if (this.perNode) merged.kubernetes = { ...(merged.kubernetes as object), announce: 'self', nodeName: this.nodes[i]!.node };
    r.running = await startL2lb(r.ns, merged, { dir, ...(this.command ? { command: this.command } : {}) });
    return r.running;
  }

  /** Stops replica `i` with `signal` and returns its exit status (0 after a clean SIGTERM shutdown). */
  async stopReplica(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    const r = this.replicas[i]!;
    const running = r.running;
    if (!running) return 0;
    r.running = undefined;
    return await running.stop(signal);
  }

  /** `GET /v1/status` → leaderElection of replica `i` (undefined when stopped or not answering). */
  election(i: number): LeaseView | undefined {
    const running = this.replicas[i]!.running;
    if (!running) return undefined;
    return running.api('GET', '/v1/status').json?.leaderElection;
  }

  /** Indices of the running replicas that say they are leader. */
  leaders(): number[] {
    return this.replicas.filter((r) => this.election(r.index)?.isLeader === true).map((r) => r.index);
  }

  /** Waits until exactly one running replica is leader and returns it. */
  async leader(timeoutMs = 10_000): Promise<Replica> {
    const i = await waitFor('exactly one leader', () => {
      const l = this.leaders();
      return l.length === 1 ? l[0]! : undefined;
    }, timeoutMs, 50).catch((err) => {
      throw new Error(`${(err as Error).message}\n${this.diagnostics()}`);
    });
    return this.replicas[i]!;
  }

  /** `GET /v1/services` of replica `i`: the node serving `ip`, as that replica sees it. */
  servingNode(i: number, ip: string): string | undefined {
    const services = this.replicas[i]!.running?.api('GET', '/v1/services').json?.services as { nodes: Record<string, { node?: string } | null> }[] | undefined;
    for (const s of services ?? []) {
      const n = s.nodes?.[ip];
      if (n) return n.node;
    }
    return undefined;
  }

  /** The node host named `name` (`node-1`). */
  node(name: string): NodeHost {
    const n = this.nodes.find((x) => x.node === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** The node whose MAC is `mac`, if any. */
  nodeByMac(m: string): NodeHost | undefined {
    return this.nodes.find((x) => x.mac === m.toLowerCase());
  }

  /** The replica whose MAC is `mac`, if any. */
  replicaByMac(m: string): Replica | undefined {
    return this.replicas.find((x) => x.mac === m.toLowerCase());
  }

  /** `curl http://<ip>:8080/` from the client (1 s limit): the node name that answered, '' when none did. */
  curl(ip: string = GATEWAY_VIP): string {
    const host = ip.includes(':') ? `[${ip}]` : ip;
    const r = sh(['curl', '-s', '-m', '1', `http://${host}:${HTTP_PORT}/`], { ns: this.client.ns, check: false });
    return r.code === 0 ? r.stdout.trim() : '';
  }

  /** The client's neighbour entry for `ip`: its MAC (lower case) and state (REACHABLE, STALE, ...), if any. */
  clientNeighbourEntry(ip: string = GATEWAY_VIP): { mac?: string; state: string } | undefined {
    const r = sh(['ip', '-j', 'neigh', 'show', ip, 'dev', 'eth0'], { ns: this.client.ns });
    const entry = (JSON.parse(r.stdout) as { lladdr?: string; state?: string[] }[])[0];
    return entry && { mac: entry.lladdr?.toLowerCase(), state: entry.state?.join(',') ?? '' };
  }

  /** The client's neighbour entry for `ip` (lower-case MAC), if any. */
  clientNeighbour(ip: string = GATEWAY_VIP): string | undefined {
    const r = sh(['ip', '-j', 'neigh', 'show', ip, 'dev', 'eth0'], { ns: this.client.ns });
    const entry = (JSON.parse(r.stdout) as { lladdr?: string }[])[0];
    return entry?.lladdr?.toLowerCase();
  }

  /** What `node`'s kube-proxy health endpoint answers the client now (HTTP status, 0 when nothing answers). */
  kubeProxyStatus(node: NodeHost): number {
    const r = sh(['curl', '-s', '-m', '1', '-o', '/dev/null', '-w', '%{http_code}', `http://${node.ip}:${KUBE_PROXY_PORT}/healthz`], { ns: this.client.ns, check: false });
    return Number(r.stdout.trim()) || 0;
  }

  /** Makes `node`'s kube-proxy health endpoint answer `status` (needs `kubeProxy: true`) and waits until it does. */
  async setKubeProxy(node: NodeHost, status: number): Promise<void> {
    const proc = this.kubeProxies.get(node.node);
    if (!proc) throw new Error(`${node.node} runs no kube-proxy stand-in (create the gateway with kubeProxy: true)`);
    proc.stdin.write(`${status}\n`);
    proc.stdin.flush();
    await waitFor(`${node.node}'s kube-proxy answering ${status}`, () => this.kubeProxyStatus(node) === status, 3000, 20);
  }

  /** Takes a host's bridge port down or up (the host's eth0 loses or regains carrier): a node failure. */
  setLink(h: Host, up: boolean): void {
    sh(['ip', 'link', 'set', `p-${h.name}`, up ? 'up' : 'down'], { ns: this.lan });
  }

  /** Starts an ARP capture in `host`'s namespace (default the client); stopped by {@link destroy} too. */
  async capture(h: Host = this.client): Promise<ArpCapture> {
    const c = await ArpCapture.start(h.ns);
    this.others.push(c);
    return c;
  }

  /** Starts ARP requests for `ip` from the client every `everyMs`; stopped by {@link destroy} too. */
  arpRequests(ip: string = GATEWAY_VIP, everyMs = 20): ArpRequester {
    const a = new ArpRequester(this.client, ip, everyMs);
    this.others.push(a);
    return a;
  }

  /** Starts a long-lived TCP (or UDP) flow from the client to `ip`:7000; stopped by {@link destroy} too. */
  async flow(ip: string = GATEWAY_VIP, periodMs = 50, proto: 'tcp' | 'udp' = 'tcp'): Promise<Flow> {
    const f = await Flow.start(this.client.ns, ip, ECHO_PORT, periodMs, proto);
    this.others.push(f);
    return f;
  }

  /** Each replica's lease view, services and the tail of its log: for failure messages. */
  diagnostics(): string {
    const out: string[] = [];
    for (const r of this.replicas) {
      if (!r.running) {
        out.push(`${r.name}: stopped`);
        continue;
      }
      const st = r.running.api('GET', '/v1/status').json;
      const svcs = r.running.api('GET', '/v1/services').json;
      out.push(`${r.name} (${r.mac}): lease ${JSON.stringify(st?.leaderElection)}\n  services ${JSON.stringify(svcs?.services)}\n  log tail:\n${r.running.logs().slice(-3000)}`);
    }
    return out.join('\n');
  }

  /** Stops every process and removes every namespace and directory; safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all(this.others.map((o) => o.stop().catch(() => {})));
    await Promise.all(this.replicas.map((r) => this.stopReplica(r.index, 'SIGKILL').catch(() => 0)));
    for (const s of this.servers) if (s.exitCode === null) s.kill('SIGKILL');
    await Promise.all(this.servers.map((s) => s.exited));
    await this.api?.close().catch(() => {});
    for (const h of this.hosts()) deleteNamespace(h.ns);
    deleteNamespace(this.lan);
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}
