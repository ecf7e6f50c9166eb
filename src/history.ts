/**
 * The event history behind the status page's timeline and `GET /v1/history` / `GET /v1/events`: one bounded
 * ring of what happened (an address moved and why, a takeover, a conflict, a link going down, a pool running
 * full, the API server unreachable), newest last, each with a sequence number a stream can resume from.
 *
 * Every part already says these things in its log, so the ring is fed by the logger (`LoggerOptions.tap`),
 * at every level whatever the configured one: a record whose message is listed in {@link kindOf} becomes an
 * event. One path, no second call beside each log line to forget; a message added to a part that should be on
 * the timeline is added to the table below (a test checks the table against the sources).
 */
import { type LogFields, type LogLevel, safePlain } from './log.ts';

/** What an event is about: the timeline filters and colours by it. */
export type EventKind =
  | 'address' // an address changed node, was withdrawn, given way
  | 'service' // an address assigned, kept, refused, released
  | 'vip' // announced, removed, waiting, MAC changed
  | 'conflict'
  | 'link'
  | 'node' // probe and kube-proxy check state changes
  | 'membership' // takeover, standby, fenced
  | 'leader' // the Lease
  | 'api-server'
  | 'pool'
  | 'agreement' // per-node instances disagree / agree again
  | 'config'
  | 'process';

/** Every kind, for pre-registered metrics and the page's filters. */
export const EVENT_KINDS: readonly EventKind[] = Object.freeze([
  'address', 'service', 'vip', 'conflict', 'link', 'node', 'membership', 'leader', 'api-server', 'pool', 'agreement', 'config', 'process',
] as const);

/** One event of the history. */
export interface HistoryEvent {
  /** Sequence number, from 1, never reused while the process lives. */
  id: number;
  /** ISO 8601. */
  at: string;
  level: LogLevel;
  kind: EventKind;
  /** The log message. */
  msg: string;
  /** The address it is about, when it is about one (`address` or `vip` field). */
  address?: string;
  /** The nodes it names (`node`, `from`, `to`, `was`). */
  nodes?: string[];
  /** The record's other fields, JSON-safe. */
  fields: LogFields;
}

/** Exact messages that are events. */
const EXACT: Readonly<Record<string, EventKind>> = {
  'address moved': 'address',
  'address withdrawn: no healthy node can serve it': 'address',
  'address served by node': 'address',
  'address answered by another node: giving way': 'address',
  'address assigned': 'service',
  'address kept': 'service',
  'address not assigned': 'service',
  'service deleted: address released': 'service',
  'vip announced': 'vip',
  'vip removed': 'vip',
  'vip waiting': 'vip',
  'vip mac changed': 'vip',
  'link open': 'link',
  'link not open': 'link',
  'socket option not available: using a fallback': 'link',
  'send failed': 'link',
  'node probe': 'node',
  'kube-proxy health check': 'node',
  'became leader': 'leader',
  'stopped leading': 'leader',
  'new leader observed': 'leader',
  'another replica holds the Lease: stepping down': 'leader',
  'released the Lease': 'leader',
  'Lease not renewed within renewDeadline: still leading until another holder is seen': 'leader',
  'Lease renewed again': 'leader',
  'Lease created: the problem is gone': 'leader',
  'connected again': 'api-server',
  'Lease request failed, retrying': 'api-server',
  'resourceVersion expired, relisting': 'api-server',
  'pool not used': 'pool',
  'pool skips addresses': 'pool',
  'pool usable again': 'pool',
  'instances disagree: a node answers other addresses than this instance expects of it': 'agreement',
  'instances agree again': 'agreement',
  'config reloaded': 'config',
  'config reload refused: the running config stays in force': 'config',
  'l2lb started': 'process',
  'stopping': 'process',
};

/** Message prefixes that are events (messages built from a value). */
const PREFIXES: readonly (readonly [string, EventKind])[] = [
  ['vip conflict', 'conflict'],
  ['membership: ', 'membership'],
  ['API server ', 'api-server'],
];

/** The kind of event a log message is, or undefined when it is not one. */
export function kindOf(msg: string): EventKind | undefined {
  if (Object.hasOwn(EXACT, msg)) return EXACT[msg];
  for (const [prefix, kind] of PREFIXES) if (msg.startsWith(prefix)) return kind;
  return undefined;
}

/** What {@link History.list} can filter on. */
export interface HistoryFilter {
  /** Events after this id. */
  after?: number;
  address?: string;
  node?: string;
  kind?: EventKind;
  /** At most this many, the newest. */
  limit?: number;
}

/** Fields that name a node; `was` only in address messages (elsewhere it holds a former state or role). */
const NODE_FIELDS = ['node', 'from', 'to', 'holder'] as const;

/** The bounded ring. */
export class History {
  readonly #capacity: number;
  readonly #events: HistoryEvent[] = [];
  readonly #listeners = new Set<(ev: HistoryEvent) => void>();
  readonly #counts = new Map<EventKind, number>();
  #next = 1;

  /** `capacity`: events kept (the oldest go first). */
  constructor(capacity = 500) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
  }

  /** Takes a log record (the logger's tap); keeps it when its message is an event. */
  record(level: LogLevel, msg: string, fields: LogFields, at: Date = new Date()): HistoryEvent | undefined {
    const kind = kindOf(msg);
    if (!kind) return undefined;
    const address = typeof fields.address === 'string' ? fields.address : typeof fields.vip === 'string' ? fields.vip : undefined;
    const named = msg.startsWith('address') ? [...NODE_FIELDS, 'was'] : NODE_FIELDS;
    const nodes = [...new Set(named.map((k) => fields[k]).filter((n): n is string => typeof n === 'string' && n !== ''))];
    const ev: HistoryEvent = {
      id: this.#next++, at: at.toISOString(), level, kind, msg,
      ...(address ? { address } : {}), ...(nodes.length > 0 ? { nodes } : {}),
      fields: safePlain(fields) as LogFields,
    };
    this.#events.push(ev);
    if (this.#events.length > this.#capacity) this.#events.shift();
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    for (const fn of this.#listeners) {
      try {
        fn(ev);
      } catch {
        // A listener (a stream whose client went away) must not stop the others or the logger.
      }
    }
    return ev;
  }

  /** Events matching `filter`, oldest first. */
  list(filter: HistoryFilter = {}): HistoryEvent[] {
    const out = this.#events.filter((e) =>
      (filter.after === undefined || e.id > filter.after) &&
      (filter.kind === undefined || e.kind === filter.kind) &&
      (filter.address === undefined || e.address === filter.address) &&
      (filter.node === undefined || (e.nodes?.includes(filter.node) ?? false)));
    return filter.limit !== undefined && out.length > filter.limit ? out.slice(out.length - filter.limit) : out;
  }

  /** The id of the oldest event still kept (0 when none): a stream resuming before it has missed some. */
  get oldest(): number {
    return this.#events[0]?.id ?? 0;
  }

  /** The id of the newest event (0 when none). */
  get newest(): number {
    return this.#next - 1;
  }

  /** Events recorded since start, by kind. */
  counts(): ReadonlyMap<EventKind, number> {
    return this.#counts;
  }

  /** Calls `fn` with every new event; returns the unsubscribe function. */
  subscribe(fn: (ev: HistoryEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Live subscribers (open streams). */
  get subscribers(): number {
    return this.#listeners.size;
  }
}
