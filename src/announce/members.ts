/**
 * The replicas heard on the segment: one entry per sender identity, fed with decoded heartbeats
 * (`wire/heartbeat.ts`), with the replay window on (epoch, sequence) and expiry after the sender's own
 * `misses` intervals. Pure: time comes in as arguments, so the rules are tested without sockets.
 */
import type { Heartbeat, HeartbeatDrop } from '../wire/heartbeat.ts';

/** Sequences accepted out of order behind the newest one (IPsec's default window, RFC 4303 3.4.3). */
export const REPLAY_WINDOW = 64;

/** One replica as last heard. */
export interface Member {
  identity: string;
  /** The interface and source MAC its last heartbeat came from. */
  iface: string;
  mac: string;
  /** The newest heartbeat accepted from it. */
  last: Heartbeat;
  /** When it was first and last heard (ms, the caller's clock). */
  since: number;
  heard: number;
}

/** Why a member left the table, for the takeover reason and the log. */
export interface Departure {
  member: Member;
  /** e.g. "l2lb-7d9f missed 3 heartbeats". */
  reason: string;
}

interface Window {
  epoch: number;
  top: number;
  /** Bit i set: sequence top - i was seen (i < REPLAY_WINDOW). */
  seen: bigint;
}

const WINDOW_MASK = (1n << BigInt(REPLAY_WINDOW)) - 1n;

/** The members table of one deployment, as one replica sees it. */
export class Members {
  readonly #self: string;
  readonly #members = new Map<string, Member>();
  readonly #windows = new Map<string, Window>();

  /** `self` is this replica's identity: its own frames, looped back, are dropped. */
  constructor(self: string) {
    this.#self = self;
  }

  /**
   * Takes an authenticated, decoded heartbeat heard at `now` on `iface` from `mac`. Returns the drop reason
   * when it is our own or a replay; the table is unchanged then. A newer epoch (the sender restarted)
   * resets its window; an older one is a replay.
   */
  accept(hb: Heartbeat, iface: string, mac: string, now: number): HeartbeatDrop | undefined {
    if (hb.identity === this.#self) return 'hb-self';
    const w = this.#windows.get(hb.identity);
    if (w && !fresh(w, hb.epoch, hb.sequence)) return 'hb-replayed';
    if (!w || hb.epoch > w.epoch) this.#windows.set(hb.identity, { epoch: hb.epoch, top: hb.sequence, seen: 1n });
    const known = this.#members.get(hb.identity);
    const newest = !known || hb.epoch > known.last.epoch || (hb.epoch === known.last.epoch && hb.sequence > known.last.sequence);
    if (known) {
      known.heard = now;
      if (newest) Object.assign(known, { last: hb, iface, mac });
    } else {
      this.#members.set(hb.identity, { identity: hb.identity, iface, mac, last: hb, since: now, heard: now });
    }
    return undefined;
  }

  /** Removes and returns the members not heard for their own `misses` intervals by `now`. */
  expire(now: number): Departure[] {
    const gone: Departure[] = [];
    for (const m of this.#members.values()) {
      if (now < deadline(m)) continue;
      this.#members.delete(m.identity);
      gone.push({ member: m, reason: `${m.identity} missed ${m.last.misses} heartbeats` });
    }
    return gone;
  }

  /** The members alive at `now`, by identity. */
  live(now: number): Member[] {
    return [...this.#members.values()].filter((m) => now < deadline(m)).sort((a, b) => (a.identity < b.identity ? -1 : 1));
  }

  /** When the next member expires if nothing more is heard (Infinity: none). */
  nextExpiry(): number {
    let next = Infinity;
    for (const m of this.#members.values()) next = Math.min(next, deadline(m));
    return next;
  }
}

function deadline(m: Member): number {
  return m.heard + m.last.interval * m.last.misses;
}

/** Checks (epoch, sequence) against the window and records it when fresh. */
function fresh(w: Window, epoch: number, seq: number): boolean {
  if (epoch < w.epoch) return false;
  if (epoch > w.epoch) return true;
  if (seq > w.top) {
    const shift = BigInt(seq - w.top);
    w.seen = shift >= BigInt(REPLAY_WINDOW) ? 1n : ((w.seen << shift) | 1n) & WINDOW_MASK;
    w.top = seq;
    return true;
  }
  const back = w.top - seq;
  if (back >= REPLAY_WINDOW) return false;
  const bit = 1n << BigInt(back);
  if (w.seen & bit) return false;
  w.seen |= bit;
  return true;
}
