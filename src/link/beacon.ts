/**
 * The receive worker's half of membership: it sends this replica's heartbeat on every open link each
 * interval and decodes the heartbeats it hears. Sending lives in the worker, not on a main-thread timer, so
 * a busy event loop does not make a live replica look dead; the dead-man switch (`protocol.ts` GRANT_*)
 * makes sure a stalled main thread does look dead.
 */
import { type DecodedHeartbeat, ETHERTYPE_HEARTBEAT, decodeHeartbeat, encodeHeartbeat } from '../wire/heartbeat.ts';
import { ETHERNET_HEADER_LENGTH } from '../wire/ethernet.ts';
import type { BeaconSpec } from './protocol.ts';
import { FLAG_FENCED, FLAG_LEADER, FLAG_LEASE } from '../wire/heartbeat.ts';

/** Whether an Ethernet frame carries a heartbeat (by EtherType; the filter passes only untagged frames). */
export function isHeartbeatFrame(frame: Uint8Array): boolean {
  return frame.length >= ETHERNET_HEADER_LENGTH && ((frame[12]! << 8) | frame[13]!) === ETHERTYPE_HEARTBEAT;
}

/** Heartbeat sending cadence and decoding for one worker. */
export class Beacon {
  #spec: BeaconSpec | undefined;
  #sequence = 0;
  #next = 0;

  /** Replaces what is sent and accepted; `undefined` stops sending. The next beat is due at once. */
  set(spec: BeaconSpec | undefined, now: number): void {
    this.#spec = spec;
    this.#next = now;
  }

  get active(): boolean {
    return this.#spec !== undefined;
  }

  /** ms until the next beat is due (Infinity when nothing is sent). */
  dueIn(now: number): number {
    return this.#spec ? Math.max(0, this.#next - now) : Infinity;
  }

  /**
   * When a beat is due at `now`, advances the cadence and returns a builder of the frame for one link's
   * MAC (each frame gets its own sequence number: a receiver on two links must not see a replay).
   * `mayAnswer` false (the answer grant ran out) turns a leader's claim into a fenced one: after a SIGCONT
   * the worker runs before the main thread has decided anything, and its last spec still says "leader".
   */
  take(now: number, mayAnswer = true): ((src: Uint8Array) => Uint8Array) | undefined {
    const spec = this.#spec;
    if (!spec || now < this.#next) return undefined;
    // A leaving replica's 1 ms lifetime is no reason to send every millisecond.
    const interval = Math.max(10, spec.heartbeat.interval);
    // Keep the cadence; after a stall start again from now instead of sending a burst.
    this.#next = Math.max(this.#next + interval, now + 1);
    if (this.#next > now + interval) this.#next = now + interval;
    let flags = spec.heartbeat.flags;
    if (!mayAnswer && flags & FLAG_LEADER) flags = (flags & ~(FLAG_LEADER | FLAG_LEASE)) | FLAG_FENCED;
    return (src) => {
      this.#sequence = (this.#sequence + 1) >>> 0;
      return encodeHeartbeat(src, { ...spec.heartbeat, flags, sequence: this.#sequence }, spec.key);
    };
  }

  /** Decodes a heartbeat frame heard; undefined when membership is off (the frame is not ours to judge). */
  decode(frame: Uint8Array): DecodedHeartbeat | undefined {
    const spec = this.#spec;
    if (!spec) return undefined;
    return decodeHeartbeat(frame.subarray(ETHERNET_HEADER_LENGTH), spec.heartbeat.deployment, spec.key);
  }
}
