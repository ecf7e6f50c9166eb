/**
 * The main thread's handle on the receive worker: starts it, hands it the links and frames to send, and
 * surfaces what it reports (socket state, conflicts, counters).
 */
import { loadLibc } from '../runtime/ffi.ts';
import { PermissionError } from './errors.ts';
import { Wakeup } from './poll.ts';
import { RECEIVE_WORKER_URL } from '../workers.ts';
import { type BeaconSpec, type CounterSnapshot, type FromWorker, GRANT_ANSWER, GRANT_BEACON, type LinkSpec, type LinkUpdate, type ToWorker, emptyCounters } from './protocol.ts';
import { type SentTable, diffTable, encodeTable } from './vip-table.ts';
import type { Heartbeat } from '../wire/heartbeat.ts';
import type { ProbeChange, ProbePolicy, ProbeTarget } from '../announce/probe.ts';
import type { SharedRequester } from '../announce/requesters.ts';
import { OPTIONAL_SOCKET_OPTIONS, type OptionalSocketOption, type SocketFallback } from './packet.ts';

/** Socket state of one link as the worker last reported it. */
export interface LinkState {
  open: boolean;
  error?: string;
  /** Optional socket options the kernel refused on this link, and what l2lb does instead. */
  fallbacks?: SocketFallback[];
}

/**
 * The test hook: `L2LBTEST_MISSING_SOCKET_OPTIONS=PACKET_IGNORE_OUTGOING,...` makes every packet socket treat
 * those optional options as missing (ENOPROTOOPT), so the fallbacks of older kernels and emulators run on a
 * current kernel. Not `L2LB_*`: the config refuses variables that name no key. Read here and nowhere else.
 */
export const MISSING_OPTIONS_ENV = 'L2LBTEST_MISSING_SOCKET_OPTIONS';

/** The options {@link MISSING_OPTIONS_ENV} names; throws on a name that is not an optional option. */
export function missingSocketOptions(env: Record<string, string | undefined>): OptionalSocketOption[] {
  const names = (env[MISSING_OPTIONS_ENV] ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '');
  for (const n of names) {
    if (!(OPTIONAL_SOCKET_OPTIONS as readonly string[]).includes(n)) {
      throw new Error(`${MISSING_OPTIONS_ENV}: ${n} is not an optional socket option (${OPTIONAL_SOCKET_OPTIONS.join(', ')})`);
    }
  }
  return names as OptionalSocketOption[];
}

/** Callbacks for what the worker reports. */
export interface ReceiverEvents {
  conflict?(ev: Extract<FromWorker, { type: 'conflict' }>): void;
  /** Another host announced an address this replica watches (per-node mode: who answers it now). */
  announced?(ev: Extract<FromWorker, { type: 'announced' }>): void;
  link?(name: string, state: LinkState): void;
  /**
   * A socket of `link` does without an optional option: once per option and error for the life of the
   * process, whichever link met it first (the status shows every link's).
   */
  fallback?(link: string, fallback: SocketFallback): void;
  sendError?(link: string, error: string): void;
  /** Node health changed (the worker probes every interval and reports changes at once). */
  probe?(link: string, changes: ProbeChange[]): void;
  /** The hosts the worker remembers as having asked for a VIP changed. */
  requesters?(hosts: (SharedRequester & { lastSeen: number })[]): void;
  /** A heartbeat of our deployment heard (decoded and authenticated by the worker). */
  heartbeat?(link: string, mac: string, heartbeat: Heartbeat, at: number): void;
  fatal?(error: string): void;
}

/** Starts and talks to the receive worker. */
export class Receiver {
  /** Latest cumulative counters from the worker. */
  counters: CounterSnapshot = emptyCounters();
  /** Latest socket state per link. */
  readonly links = new Map<string, LinkState>();
  /** Latest probe state per link. */
  readonly probes = new Map<string, ProbeTarget[]>();

  private worker?: Worker;
  /** Each link's table as the worker has it, so an update carries only what changed (`vip-table.ts`). */
  private readonly sent = new Map<string, SentTable>();
  private wake?: Wakeup;
  private readonly seq = new Int32Array(new SharedArrayBuffer(4));
  /** The dead-man switch (see GRANT_ANSWER); unlimited until membership sets it. */
  private readonly grant = new BigInt64Array(new SharedArrayBuffer(16)).fill(-1n);
  private stopped?: () => void;
  /** `option error` of every fallback already reported through `events.fallback`. */
  private readonly fallbacksSeen = new Set<string>();

  constructor(private readonly events: ReceiverEvents = {}) {}

  /** Starts the worker; resolves once it has its poller, rejects with PermissionError without CAP_NET_RAW. */
  async start(): Promise<void> {
    const unavailable = missingSocketOptions(process.env);
    const libc = await loadLibc();
    // JavaScriptCore's small heap for the worker: with its table then in objects (~7 MiB at 10,000 addresses)
    // a large heap grew to 20-23 MiB before collecting (issue 14, test/bench/RESULTS.md); its table is in
    // typed arrays now, and what it is sent still passes through its heap. Deno ignores the option.
    const worker = new Worker(RECEIVE_WORKER_URL.href, { type: 'module', smol: true });
    this.worker = worker;
    this.sent.clear();
    await new Promise<void>((resolve, reject) => {
      worker.onerror = (ev) => {
        ev.preventDefault?.();
        const msg = ev.message || String(ev);
        if (!this.wake) reject(new Error(`receive worker failed to start: ${msg}`));
        else this.events.fatal?.(msg);
      };
      worker.onmessage = (ev: MessageEvent<FromWorker>) => {
        const m = ev.data;
        if (m.type === 'ready') {
          this.wake = Wakeup.fromFd(libc, m.wakeFd);
          resolve();
        } else if (m.type === 'fatal' && !this.wake) {
          reject(m.permission ? new PermissionError(m.error) : new Error(m.error));
        } else this.onMessage(m);
      };
      worker.postMessage({ type: 'init', seq: this.seq.buffer as SharedArrayBuffer, grant: this.grant.buffer as SharedArrayBuffer, unavailable } satisfies ToWorker);
    });
  }

  /**
   * Replaces the worker's view of every link, with the probe policy when nodes are probed and the interval
   * of unicast confirmations to the hosts that asked for a VIP (0: none).
   */
  setLinks(links: LinkSpec[], opts: { probe?: ProbePolicy; confirmIntervalMs?: number; replyLimit?: number } = {}): void {
    const updates: LinkUpdate[] = [];
    const moved: ArrayBuffer[] = [];
    for (const { vips, ...spec } of links) {
      const { update, sent } = diffTable(this.sent.get(spec.name), vips);
      this.sent.set(spec.name, sent);
      const table = update && encodeTable(update);
      if (table) moved.push(table.bytes.buffer as ArrayBuffer);
      updates.push(table ? { ...spec, table } : spec);
    }
    for (const name of this.sent.keys()) if (!links.some((l) => l.name === name)) this.sent.delete(name);
    this.post({ type: 'links', links: updates, probe: opts.probe, confirmIntervalMs: opts.confirmIntervalMs, replyLimit: opts.replyLimit }, this.worker, moved);
  }

  /** Hands the worker the hosts another replica confirms, to confirm them too on taking over. */
  adoptRequesters(hosts: SharedRequester[]): void {
    this.post({ type: 'requesters', hosts });
  }

  /**
   * Sets the dead-man switch: the worker answers and announces until `answerUntil` and sends heartbeats
   * until `beaconUntil` (ms since the epoch; -1 = no limit). Shared memory, so it holds before any message.
   */
  grantUntil(answerUntil: number, beaconUntil: number): void {
    Atomics.store(this.grant, GRANT_ANSWER, BigInt(Math.floor(answerUntil)));
    Atomics.store(this.grant, GRANT_BEACON, BigInt(Math.floor(beaconUntil)));
  }

  /** What the worker sends in each heartbeat (undefined: none); one goes out at once. */
  setBeacon(beacon: BeaconSpec | undefined): void {
    this.post({ type: 'beacon', beacon });
  }

  /**
   * Sends frames out of a link (from the worker, which owns the sockets). They travel as one buffer, moved:
   * a start's burst is one frame per address, and 10,000 cloned arrays cost the worker 4 MiB until collected.
   */
  send(link: string, frames: Uint8Array[]): void {
    const lengths = Uint16Array.from(frames, (f) => f.length);
    const bytes = new Uint8Array(lengths.reduce((n, l) => n + l, 0));
    let at = 0;
    for (const f of frames) {
      bytes.set(f, at);
      at += f.length;
    }
    this.post({ type: 'send', link, bytes, lengths }, this.worker, [bytes.buffer, lengths.buffer]);
  }

  /** Stops the worker, closing its sockets; waits up to a second for it to confirm. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const done = new Promise<void>((r) => (this.stopped = r));
    this.post({ type: 'stop' }, worker);
    await Promise.race([done, new Promise((r) => setTimeout(r, 1000))]);
    worker.terminate();
  }

  /** `transfer`: buffers moved to the worker instead of copied (they are unusable here afterwards). */
  private post(msg: ToWorker, worker = this.worker, transfer: ArrayBuffer[] = []): void {
    if (!worker) return;
    worker.postMessage(msg, transfer);
    Atomics.add(this.seq, 0, 1);
    this.wake?.signal();
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'counters':
        this.counters = m.counters;
        break;
      case 'link': {
        const before = this.links.get(m.name);
        this.links.set(m.name, { open: m.open, error: m.error, fallbacks: m.fallbacks });
        // Only a change is news (the worker may report the same state again after each new table).
        if (!before || before.open !== m.open || before.error !== m.error) this.events.link?.(m.name, { open: m.open, error: m.error, fallbacks: m.fallbacks });
        for (const f of m.fallbacks ?? []) {
          const key = `${f.option} ${f.error}`;
          if (this.fallbacksSeen.has(key)) continue;
          this.fallbacksSeen.add(key);
          this.events.fallback?.(m.name, f);
        }
        break;
      }
      case 'conflict':
        this.events.conflict?.(m);
        break;
      case 'announced':
        this.events.announced?.(m);
        break;
      case 'probe':
        this.probes.set(m.link, m.targets);
        this.events.probe?.(m.link, m.changes);
        break;
      case 'requesters':
        this.events.requesters?.(m.hosts);
        break;
      case 'heartbeat':
        this.events.heartbeat?.(m.link, m.mac, m.heartbeat, m.at);
        break;
      case 'send-error':
        this.events.sendError?.(m.link, m.error);
        break;
      case 'fatal':
        this.events.fatal?.(m.error);
        break;
      case 'stopped':
        this.stopped?.();
        break;
      case 'ready':
        break;
    }
  }
}
