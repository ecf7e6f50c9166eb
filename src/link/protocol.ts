/**
 * Messages between the main thread and the receive worker. The worker owns every packet socket; the main
 * thread owns the decisions (which VIPs, which MAC, when to probe and announce) and tells the worker.
 */
import type { DropReason } from '../wire/decoded.ts';
import type { IgnoreReason } from '../announce/responder.ts';
import type { ProbeChange, ProbePolicy, ProbeTarget } from '../announce/probe.ts';
import type { SharedRequester } from '../announce/requesters.ts';
import type { BeaconSpec, Heartbeat, HeartbeatDrop } from '../wire/heartbeat.ts';
import type { OptionalSocketOption, SocketFallback } from './packet.ts';
import type { EncodedTable } from './vip-table.ts';

export type { BeaconSpec };

/**
 * The dead-man switch, in shared memory: `[0]` the time (ms since the epoch) until which the worker may
 * answer and announce, `[1]` until which it may send heartbeats; -1 = no limit (membership off). The main
 * thread pushes both forward on every membership tick; when it stalls (SIGSTOP, a long GC) they run out and
 * the worker, which runs first after a SIGCONT, goes silent by itself until the main thread has decided.
 */
export const GRANT_ANSWER = 0;
export const GRANT_BEACON = 1;

/** One VIP on one link, as the worker needs it. */
export interface LinkVip {
  ip: string;
  mac: string;
  /** See `VipSlot.mode`. */
  mode: 'answer' | 'probe' | 'watch';
}

/**
 * One link as the worker receives it: the spec with its table as a change since the last update of the same
 * link, packed (`link/vip-table.ts`; absent: unchanged); a link missing from an update is gone.
 */
export type LinkUpdate = Omit<LinkSpec, 'vips'> & { table?: EncodedTable };

/** Everything the worker needs to serve one interface. `index` is absent while the interface does not exist. */
export interface LinkSpec {
  name: string;
  index?: number;
  mac?: string;
  vips: LinkVip[];
  /** Node addresses to probe for health (ARP / NS every probe interval). */
  probes?: string[];
  /** IPv6 source for probe solicitations: the interface's link-local address (else DAD form from ::). */
  src6?: string;
}

/** Main thread -> worker. */
export type ToWorker =
  /** `unavailable`: optional socket options to treat as missing (the test hook, see `receiver.ts`). */
  | { type: 'init'; seq: SharedArrayBuffer; grant: SharedArrayBuffer; unavailable?: OptionalSocketOption[] }
  | { type: 'links'; links: LinkUpdate[]; probe?: ProbePolicy; confirmIntervalMs?: number; replyLimit?: number }
  /** Frames to send, back to back in `bytes` (a buffer of its own, moved), `lengths` giving each one's size. */
  | { type: 'send'; link: string; bytes: Uint8Array; lengths: Uint16Array }
  /** Hosts the leader confirms (from its Lease): remembered as if they had asked here. */
  | { type: 'requesters'; hosts: SharedRequester[] }
  /** Heartbeats to send (undefined: none) and whose to accept; sends one at once. */
  | { type: 'beacon'; beacon?: BeaconSpec }
  | { type: 'stop' };

/** Per-VIP counters kept by the worker. */
export interface VipCounters {
  arpRequests: number;
  arpReplies: number;
  ndpRequests: number;
  ndpReplies: number;
  /** Unicast replies sent to hosts that asked, keeping their neighbour entries confirmed. */
  confirms: number;
  /** Requests not answered because their requester asked for this VIP faster than `announce.replyLimit`. */
  limited: number;
}

/** Cumulative counters since the worker started. */
export interface CounterSnapshot {
  frames: Record<string, number>;
  drops: Partial<Record<DropReason, number>>;
  ignored: Partial<Record<IgnoreReason, number>>;
  vips: Record<string, VipCounters>;
  sent: Record<string, number>;
  sendErrors: Record<string, number>;
  /** Frames the kernel dropped because the request lane's receive queue was full (PACKET_STATISTICS), by interface. */
  socketDrops: Record<string, number>;
  /** The same for the control lane (heartbeats, ARP replies, NAs), by interface: 0 unless those flood too. */
  controlDrops: Record<string, number>;
  /** Hosts remembered as having asked for a VIP, by interface (a gauge). */
  requesters: Record<string, number>;
  /** Requests whose sender was not remembered because the table was full, by interface. */
  requestersRefused: Record<string, number>;
  /** Liveness checks sent to silent requesters, by interface. */
  requesterChecks: Record<string, number>;
  /** Heartbeats sent, by interface. */
  heartbeatsSent: Record<string, number>;
  /** Heartbeat frames dropped by the worker (malformed, another deployment, authentication), by reason. */
  heartbeatDrops: Partial<Record<HeartbeatDrop, number>>;
  /** Answers and announcements not sent because the dead-man switch had run out (fenced), by interface. */
  withheld: Record<string, number>;
  /** Node probes not answered by their deadline, by interface (a miss, not yet a failure). */
  probeMisses: Record<string, number>;
}

/** Worker -> main thread. */
export type FromWorker =
  | { type: 'ready'; wakeFd: number }
  /** `fallbacks`: the optional socket options its sockets do without, and what they do instead. */
  | { type: 'link'; name: string; open: boolean; error?: string; fallbacks?: SocketFallback[] }
  | { type: 'conflict'; link: string; vip: string; mac: string; protocol: 'arp' | 'ndp'; phase: 'probe' | 'active' }
  /** Another host announced an address this replica watches. */
  | { type: 'announced'; link: string; vip: string; mac: string }
  | { type: 'send-error'; link: string; error: string }
  | { type: 'counters'; counters: CounterSnapshot }
  /** Every remembered host, when the set changed (at most once a second). */
  | { type: 'requesters'; hosts: (SharedRequester & { lastSeen: number })[] }
  | { type: 'probe'; link: string; changes: ProbeChange[]; targets: ProbeTarget[] }
  /** An authenticated heartbeat of our deployment, heard at `at` (the replay check is the main thread's). */
  | { type: 'heartbeat'; link: string; mac: string; heartbeat: Heartbeat; at: number }
  | { type: 'fatal'; error: string; permission: boolean }
  | { type: 'stopped' };

/** Counters of a worker that has counted nothing yet. */
export function emptyCounters(): CounterSnapshot {
  return { frames: {}, drops: {}, ignored: {}, vips: {}, sent: {}, sendErrors: {}, socketDrops: {}, controlDrops: {}, requesters: {}, requestersRefused: {}, requesterChecks: {}, heartbeatsSent: {}, heartbeatDrops: {}, withheld: {}, probeMisses: {} };
}

/** Per-VIP counters of a VIP nothing was counted for yet. */
export function emptyVipCounters(): VipCounters {
  return { arpRequests: 0, arpReplies: 0, ndpRequests: 0, ndpReplies: 0, confirms: 0, limited: 0 };
}
