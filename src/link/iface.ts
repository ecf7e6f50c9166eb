/**
 * Interface facts from the kernel, the same way under Bun and Deno.
 *
 * Link facts come from sysfs (`/sys/class/net/<name>/...`): plain files read with node:fs, which
 * both runtimes implement identically and which need nothing but read access. Addresses come from
 * an rtnetlink RTM_GETADDR dump over the libc FFI: it gives the exact prefix length and kernel scope
 * of every IPv4 and IPv6 address, also on links that are down, without depending on an `ip` binary
 * in the image. `os.networkInterfaces()` is only the fallback when FFI is unavailable: it has no
 * scope, and the runtimes disagree on links without carrier (measured: Bun follows libuv and hides
 * every address of a link that is not up and running; Deno lists them).
 *
 * Change notification uses an rtnetlink subscription when FFI is available, else sysfs polling.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { libc as loadLibc, type Libc } from '../runtime/ffi.ts';
import { dumpAddresses, NetlinkMonitor, type KernelAddress } from './netlink.ts';

/** One address of an interface. */
export interface InterfaceAddress {
  ip: string;
  prefix: number;
  family: 4 | 6;
  scope: 'link' | 'global' | 'host';
}

/** What l2lb needs to know about one interface. */
export interface InterfaceFacts {
  name: string;
  index: number;
  /** Lowercase `aa:bb:cc:dd:ee:ff` (empty for links without a hardware address). */
  mac: string;
  mtu: number;
  /** Administratively up (IFF_UP) and operstate not `down`. */
  up: boolean;
  /** IFF_UP and carrier present (and not `dormant`): frames can flow. */
  running: boolean;
  addresses: InterfaceAddress[];
}

const SYS_NET = '/sys/class/net';
const IFF_UP = 0x1;

/** Linux interface names: 1-15 bytes, no slash, no whitespace, not `.` or `..`. */
function validName(name: string): boolean {
  return /^[^/\s:\0]{1,15}$/.test(name) && name !== '.' && name !== '..';
}

function readSys(name: string, file: string): string | undefined {
  try {
    return readFileSync(`${SYS_NET}/${name}/${file}`, 'utf8').trim();
  } catch {
    return undefined; // absent, or EINVAL (e.g. `carrier` of a down link)
  }
}

/** FFI for address dumps; undefined (and remembered) where FFI is not available. */
let ffi: Libc | null | undefined;
function tryLibc(): Libc | undefined {
  if (ffi === undefined) {
    try {
      ffi = loadLibc();
    } catch {
      ffi = null;
    }
  }
  return ffi ?? undefined;
}

function ipv4Scope(ip: string): InterfaceAddress['scope'] {
  if (ip.startsWith('127.')) return 'host';
  if (ip.startsWith('169.254.')) return 'link';
  return 'global';
}

/** Addresses keyed by interface name, from netlink or, without FFI, from os.networkInterfaces(). */
function addressSnapshot(): (name: string, index: number) => InterfaceAddress[] {
  const lib = tryLibc();
  if (lib) {
    let all: KernelAddress[] | undefined;
    try {
      all = dumpAddresses(lib);
    } catch {
      all = undefined;
    }
    if (all) {
      const byIndex = new Map<number, InterfaceAddress[]>();
      for (const a of all) {
        const list = byIndex.get(a.ifindex) ?? [];
        list.push({ ip: a.ip, prefix: a.prefix, family: a.family, scope: a.scope });
        byIndex.set(a.ifindex, list);
      }
      return (_name, index) => byIndex.get(index) ?? [];
    }
  }
  const nics = os.networkInterfaces();
  return (name) => {
    const out: InterfaceAddress[] = [];
    for (const [key, list] of Object.entries(nics)) {
      // IPv4 aliases with a label show up as `eth0:1`.
      if (key !== name && !key.startsWith(`${name}:`)) continue;
      for (const a of list ?? []) {
        const prefix = Number(a.cidr?.split('/')[1] ?? NaN);
        if (!Number.isInteger(prefix)) continue;
        if (a.family === 'IPv4') out.push({ ip: a.address, prefix, family: 4, scope: ipv4Scope(a.address) });
        else {
          const scope = a.address === '::1' ? 'host' : a.address.toLowerCase().startsWith('fe80:') ? 'link' : 'global';
          out.push({ ip: a.address, prefix, family: 6, scope });
        }
      }
    }
    return out;
  };
}

function sortAddresses(list: InterfaceAddress[]): InterfaceAddress[] {
  return list.sort((a, b) => a.family - b.family || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.prefix - b.prefix));
}

function readWith(
  name: string,
  addresses: (name: string, index: number) => InterfaceAddress[],
  attempts = 3,
): InterfaceFacts | undefined {
  if (!validName(name)) return undefined;
  const index = Number(readSys(name, 'ifindex'));
  if (!Number.isInteger(index) || index <= 0) return undefined;
  const flags = Number.parseInt(readSys(name, 'flags') ?? '0', 16);
  const operstate = readSys(name, 'operstate') ?? 'unknown';
  const adminUp = (flags & IFF_UP) !== 0;
  const facts: InterfaceFacts = {
    name,
    index,
    mac: (readSys(name, 'address') ?? '').toLowerCase(),
    mtu: Number(readSys(name, 'mtu') ?? 0),
    up: adminUp && operstate !== 'down',
    // Not the kernel's IFF_RUNNING (derived from operstate): linkwatch updates operstate up to a
    // second after a carrier change, while `carrier` is the driver's state right now.
    running: adminUp && readSys(name, 'carrier') === '1' && operstate !== 'dormant',
    addresses: sortAddresses(addresses(name, index)),
  };
  // The name may have been deleted and re-created while we read: trust only a stable index.
  if (Number(readSys(name, 'ifindex')) !== index && attempts > 1) return readWith(name, addresses, attempts - 1);
  return facts;
}

/** Facts for one interface, or undefined when it does not exist (or the name is not a valid one). */
export function readInterface(name: string): InterfaceFacts | undefined {
  if (!validName(name) || !existsSync(`${SYS_NET}/${name}/ifindex`)) return undefined;
  return readWith(name, addressSnapshot());
}

/** Facts for several interfaces from one address dump (undefined entries for absent ones). */
export function readInterfaces(names: string[]): Map<string, InterfaceFacts | undefined> {
  const snapshot = addressSnapshot();
  return new Map(names.map((n) => [n, readWith(n, snapshot)]));
}

/** Names of all interfaces in this network namespace, sorted. */
export function listInterfaces(): string[] {
  let entries: string[];
  try {
    entries = readdirSync(SYS_NET);
  } catch {
    return [];
  }
  // Skip plain files such as bonding_masters.
  return entries.filter((n) => existsSync(`${SYS_NET}/${n}/ifindex`)).sort();
}

function readProc(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/**
 * The interface of the default route: the IPv4 default (destination and mask 0, RTF_UP) with the
 * lowest metric; without one, the IPv6 `::/0` route with the lowest metric (not reject routes).
 */
export function defaultRouteInterface(): string | undefined {
  let best: { name: string; metric: number } | undefined;
  for (const line of readProc('/proc/net/route').slice(1)) {
    // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const flags = Number.parseInt(f[3]!, 16);
    if (f[1] !== '00000000' || f[7] !== '00000000' || !(flags & 0x1)) continue;
    const metric = Number.parseInt(f[6]!, 10);
    if (!best || metric < best.metric) best = { name: f[0]!, metric };
  }
  if (best) return best.name;
  for (const line of readProc('/proc/net/ipv6_route')) {
    // dest plen src splen nexthop metric refcnt use flags iface (hex fields)
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    if (!/^0{32}$/.test(f[0]!) || f[1] !== '00') continue;
    const flags = Number.parseInt(f[8]!, 16);
    if (!(flags & 0x1) || flags & 0x200) continue; // RTF_UP, not RTF_REJECT
    const metric = Number.parseInt(f[5]!, 16);
    if (!best || metric < best.metric) best = { name: f[9]!, metric };
  }
  return best?.name;
}

function sameFacts(a: InterfaceFacts | undefined, b: InterfaceFacts | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Options for {@link InterfaceWatcher}. */
export interface InterfaceWatcherOptions {
  /** Full re-read interval in ms (default 1000); the only mechanism without netlink. */
  intervalMs?: number;
  /** Use an rtnetlink subscription for prompt notice (default true; falls back to polling). */
  netlink?: boolean;
  /** How often the main thread looks at the netlink socket, in ms (default 20). */
  netlinkCheckMs?: number;
}

/**
 * Follows interfaces by name: appearing, vanishing, re-creation (new index), up/down, and MAC, MTU
 * and address changes. With netlink (the default where FFI works) a change is seen within
 * `netlinkCheckMs`; the periodic full re-read stays as a safety net for lost notifications.
 * The main thread cannot block in poll(), so the netlink socket is read without waiting on a short
 * timer: one failing recv() per tick. A Worker may instead poll {@link NetlinkMonitor.fd} and call
 * {@link refresh}. Carrier changes reach sysfs and netlink through the kernel's linkwatch, up to
 * a second late. The timers keep the process alive until {@link stop}.
 */
export class InterfaceWatcher {
  private readonly names: string[];
  private readonly intervalMs: number;
  private readonly useNetlink: boolean;
  private readonly netlinkCheckMs: number;
  private readonly state = new Map<string, InterfaceFacts | undefined>();
  private onChange?: (name: string, now: InterfaceFacts | undefined, before: InterfaceFacts | undefined) => void;
  private timers: ReturnType<typeof setInterval>[] = [];
  private followUp?: ReturnType<typeof setTimeout>;
  private monitor?: NetlinkMonitor;

  /** `names` are the interfaces to follow; they need not exist yet. */
  constructor(names: string[], opts: InterfaceWatcherOptions = {}) {
    this.names = [...new Set(names)];
    this.intervalMs = opts.intervalMs ?? 1000;
    this.useNetlink = opts.netlink ?? true;
    this.netlinkCheckMs = opts.netlinkCheckMs ?? 20;
  }

  /** `netlink` when change notification is active, `poll` when only the interval re-read runs. */
  get mode(): 'netlink' | 'poll' | 'stopped' {
    if (!this.onChange) return 'stopped';
    return this.monitor ? 'netlink' : 'poll';
  }

  /** Starts watching; `onChange` is called once per name right away with its initial state. */
  start(onChange: (name: string, now: InterfaceFacts | undefined, before: InterfaceFacts | undefined) => void): void {
    if (this.onChange) throw new Error('InterfaceWatcher already started');
    this.onChange = onChange;
    if (this.useNetlink) {
      const lib = tryLibc();
      // Subscribe before the first read so no change falls between the two.
      if (lib) {
        try {
          this.monitor = NetlinkMonitor.open(lib);
        } catch {
          this.monitor = undefined;
        }
      }
    }
    const first = readInterfaces(this.names);
    for (const name of this.names) {
      const now = first.get(name);
      this.state.set(name, now);
      onChange(name, now, undefined);
    }
    this.timers.push(setInterval(() => this.refresh(), this.intervalMs));
    if (this.monitor) this.timers.push(setInterval(() => this.checkNetlink(), this.netlinkCheckMs));
  }

  /** Re-reads every watched interface now and reports what changed. */
  refresh(): void {
    if (!this.onChange) return;
    const current = readInterfaces(this.names);
    for (const name of this.names) {
      const before = this.state.get(name);
      const now = current.get(name);
      if (sameFacts(before, now)) continue;
      this.state.set(name, now);
      this.onChange(name, now, before);
    }
  }

  /** Stops all timers and the netlink subscription; no callback runs afterwards. */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.followUp) clearTimeout(this.followUp);
    this.followUp = undefined;
    this.monitor?.close();
    this.monitor = undefined;
    this.onChange = undefined;
  }

  private checkNetlink(): void {
    if (!this.monitor) return;
    let got: ReturnType<NetlinkMonitor['read']>;
    try {
      got = this.monitor.read();
    } catch {
      // The subscription broke: fall back to the interval re-read.
      this.monitor.close();
      this.monitor = undefined;
      return;
    }
    if (got.events.length === 0 && !got.overflow) return;
    this.refresh();
    // Cheap insurance against reading between a notification and the state it announces (measured
    // here: sysfs is already gone when RTM_DELLINK arrives, 20 of 20), so look once more shortly
    // after any burst of events.
    if (this.followUp) clearTimeout(this.followUp);
    this.followUp = setTimeout(() => {
      this.followUp = undefined;
      this.refresh();
    }, 100);
  }
}
