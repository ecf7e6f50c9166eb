/**
 * The optional kube-proxy health check of the gateway model (config `health.kubeProxy`): every `interval`
 * each node address the wire probes also probe is asked `GET http://<ip>:<port><path>`; HTTP 200 is a hit,
 * anything else (another status, a refused connection, no answer within `timeout`) a miss with a short
 * reason. `health.failures` consecutive misses mark the address down, `health.successes` consecutive hits
 * bring it back, and the first hit of an address never checked before marks it up at once (as the wire
 * probes do). A node whose kube-proxy is not up takes no traffic: its kube-proxy would drop it.
 *
 * {@link ProxyCheckTracker} is the pure counting; {@link ProxyHealthChecker} the I/O around it (main thread,
 * plain `fetch`, the same in Bun and Deno).
 */
import { parseIP } from '../net/ip.ts';
import { type ProbeState, countResult } from '../announce/probe.ts';

/** Health of one address's kube-proxy (the same states, judged by the same rule, as the wire probes). */
export type ProxyState = ProbeState;

/** Settings: config `health.kubeProxy` plus the thresholds shared with the wire probes. */
export interface ProxyCheckPolicy {
  /** TCP port of kube-proxy's health endpoint (10256). */
  port: number;
  /** Path of the endpoint ('/healthz'). */
  path: string;
  /** ms from the start of one check of an address to the start of the next. */
  intervalMs: number;
  /** ms a check may take, answer body included. */
  timeoutMs: number;
  /** Consecutive misses that mark an address down. */
  failures: number;
  /** Consecutive hits that bring a down address back. */
  successes: number;
}

/** What is known about one checked address. */
export interface ProxyCheck {
  ip: string;
  state: ProxyState;
  /** When `state` last changed (or the address was added), epoch ms. */
  since: number;
  /** The last result: 'HTTP 200' on a hit, else why it missed ('HTTP 503', 'connection refused', ...). */
  result?: string;
  /** Whether the last check was a hit. */
  ok?: boolean;
  /** When the last result came, epoch ms. */
  at?: number;
  misses: number;
  hits: number;
}

/** A change of state, or of the last result while the state stays (so a view can say what is going on). */
export interface ProxyChange {
  ip: string;
  state: ProxyState;
  before: ProxyState;
  /** The result that caused the change (see {@link ProxyCheck.result}). */
  result: string;
  ok: boolean;
  misses: number;
  /** When the result came, epoch ms. */
  at: number;
  /** When `state` last changed, epoch ms. */
  since: number;
}

/** The result text of a hit. */
export const PROXY_OK = 'HTTP 200';

/**
 * Counts check results per address against the thresholds. Pure: the caller runs the checks and passes
 * the time. Reports a change when the state changes and when the result text changes (a node going from
 * 'HTTP 503' to 'connection refused' is news for the API even while it stays down); identical results in a
 * row are not reported.
 */
export class ProxyCheckTracker {
  private readonly checks = new Map<string, ProxyCheck>();

  constructor(private readonly policy: Pick<ProxyCheckPolicy, 'failures' | 'successes'>) {}

  /** Replaces the set of addresses; new ones start 'unknown', kept ones keep their state. Returns the new ones. */
  setTargets(ips: Iterable<string>, now: number): string[] {
    const keep = new Set(ips);
    for (const ip of this.checks.keys()) if (!keep.has(ip)) this.checks.delete(ip);
    const added: string[] = [];
    for (const ip of keep) {
      if (this.checks.has(ip)) continue;
      this.checks.set(ip, { ip, state: 'unknown', since: now, misses: 0, hits: 0 });
      added.push(ip);
    }
    return added;
  }

  /** Records one result of `ip`; returns the change it makes, if any. Unknown addresses are ignored. */
  record(ip: string, ok: boolean, result: string, now: number): ProxyChange | undefined {
    const c = this.checks.get(ip);
    if (!c) return undefined;
    const resultChanged = c.result !== result;
    c.result = result;
    c.ok = ok;
    c.at = now;
    const before = countResult(c, ok, this.policy);
    if (c.state !== before) c.since = now;
    else if (!resultChanged) return undefined;
    return { ip, state: c.state, before, result, ok, misses: c.misses, at: now, since: c.since };
  }

  /** One address. */
  get(ip: string): ProxyCheck | undefined {
    const c = this.checks.get(ip);
    return c && { ...c };
  }

  /** Every address. */
  list(): ProxyCheck[] {
    return [...this.checks.values()].map((c) => ({ ...c }));
  }
}

/** The URL checked for `ip`: `http://192.0.2.11:10256/healthz`, IPv6 in brackets. */
export function proxyHealthUrl(ip: string, port: number, path: string): string {
  const host = parseIP(ip)?.family === 6 ? `[${ip}]` : ip;
  return `http://${host}:${port}${path}`;
}

/** Socket errors by what Bun puts in `code` and what Deno writes in the cause's message. */
const SOCKET_ERRORS: { code: string; text: RegExp; say: string }[] = [
  { code: 'ECONNREFUSED', text: /connection refused/i, say: 'connection refused' },
  { code: 'ECONNRESET', text: /connection reset/i, say: 'connection reset' },
  { code: 'EHOSTUNREACH', text: /no route to host|host is unreachable/i, say: 'host unreachable' },
  { code: 'ENETUNREACH', text: /network is unreachable/i, say: 'network unreachable' },
];

/**
 * A short reason for a failed request: 'timed out after 500 ms', 'connection refused', or the runtime's
 * own message when it is none of the known ones.
 */
export function describeCheckError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: unknown; code?: unknown; message?: unknown; cause?: { message?: unknown } } | undefined;
  if (e?.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  const text = `${String(e?.message ?? error)} ${String(e?.cause?.message ?? '')}`;
  for (const s of SOCKET_ERRORS) if (e?.code === s.code || s.text.test(text)) return s.say;
  const detail = typeof e?.cause?.message === 'string' ? e.cause.message : String(e?.message ?? error);
  return detail.length > 120 ? `${detail.slice(0, 117)}...` : detail;
}

/** One address's schedule: the timer of its next check, or the check running now. */
interface Slot {
  timer?: ReturnType<typeof setTimeout>;
  running?: AbortController;
}

/**
 * Runs the checks. Each address has its own schedule: a check starts `intervalMs` after the previous one
 * started, or when it ended if it took longer, so there is never more than one request per address and a
 * hanging node cannot pile requests up (it is cut off at `timeoutMs`). Changes go to `onChange` as they
 * happen. Each request opens a fresh connection (`Connection: close`): a pooled connection kube-proxy
 * closed meanwhile would otherwise read as a miss.
 */
export class ProxyHealthChecker {
  /** Results so far, for metrics. */
  readonly counts = { ok: 0, failed: 0 };
  private readonly tracker: ProxyCheckTracker;
  private readonly slots = new Map<string, Slot>();
  private stopped = false;

  constructor(
    private readonly policy: ProxyCheckPolicy,
    private readonly onChange: (changes: ProxyChange[]) => void,
  ) {
    this.tracker = new ProxyCheckTracker(policy);
  }

  /**
   * Replaces the set of addresses to check (call as often as the set may change: an unchanged set costs
   * nothing). New addresses are checked at once; removed ones are forgotten and their request cancelled.
   */
  setTargets(ips: Iterable<string>): void {
    if (this.stopped) return;
    const list = [...ips];
    const added = this.tracker.setTargets(list, Date.now());
    const keep = new Set(list);
    for (const [ip, slot] of this.slots) {
      if (keep.has(ip)) continue;
      this.cancel(slot);
      this.slots.delete(ip);
    }
    for (const ip of added) {
      const slot: Slot = {};
      this.slots.set(ip, slot);
      this.run(ip, slot);
    }
  }

  /** One address's state and last result. */
  get(ip: string): ProxyCheck | undefined {
    return this.tracker.get(ip);
  }

  /** Every address's state and last result. */
  list(): ProxyCheck[] {
    return this.tracker.list();
  }

  /** Cancels every timer and request; nothing is reported afterwards. */
  stop(): void {
    this.stopped = true;
    for (const slot of this.slots.values()) this.cancel(slot);
    this.slots.clear();
  }

  private cancel(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.running?.abort();
    slot.running = undefined;
  }

  private run(ip: string, slot: Slot): void {
    slot.timer = undefined;
    const started = Date.now();
    const ctl = new AbortController();
    slot.running = ctl;
    void this.check(ip, ctl.signal).then(({ ok, result }) => {
      // Removed or stopped meanwhile: the slot is no longer this address's.
      if (this.stopped || slot.running !== ctl || this.slots.get(ip) !== slot) return;
      slot.running = undefined;
      if (ok) this.counts.ok++;
      else this.counts.failed++;
      const change = this.tracker.record(ip, ok, result, Date.now());
      slot.timer = setTimeout(() => this.run(ip, slot), Math.max(0, started + this.policy.intervalMs - Date.now()));
      if (change) this.onChange([change]);
    });
  }

  /** One request; never rejects. */
  private async check(ip: string, cancel: AbortSignal): Promise<{ ok: boolean; result: string }> {
    const { port, path, timeoutMs } = this.policy;
    try {
      const res = await fetch(proxyHealthUrl(ip, port, path), {
        signal: AbortSignal.any([cancel, AbortSignal.timeout(timeoutMs)]),
        headers: { connection: 'close' },
        // A redirect is not kube-proxy answering: it counts as its status, and is not followed elsewhere.
        redirect: 'manual',
      });
      // The whole answer within the timeout: a server that sends headers and then hangs is not healthy.
      await res.arrayBuffer();
      return res.status === 200 ? { ok: true, result: PROXY_OK } : { ok: false, result: `HTTP ${res.status}` };
    } catch (error) {
      return { ok: false, result: describeCheckError(error, timeoutMs) };
    }
  }
}
