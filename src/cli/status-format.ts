/**
 * What `l2lb status` shows, from what the admin API answered: one report with stable keys (`--json`) and the
 * terminal picture of it (a header, the addresses, in Kubernetes mode the Services without an address, the
 * nodes and the pools, then the last events). Pure: the snapshot and the clock come in, text goes out, so
 * every line a user reads is tested with fixed data.
 */
import type { VipStatus } from '../announce/announcer.ts';
import type { MemberView } from '../announce/membership.ts';
import type { HistoryEvent } from '../history.ts';
import type { NodeView, PoolView, ServiceView } from '../kube/controller.ts';
import type { LeaseView } from '../kube/lease.ts';
import { compareIP, parseIP } from '../net/ip.ts';
import { type Cell, type Style, paint, renderTable } from './table.ts';

/** The parts of `GET /v1/status` the CLI reads (absent keys: an older or differently configured process). */
export interface ApiStatus {
  version?: string;
  runtime?: string;
  mode?: string;
  startedAt?: string;
  uptimeSeconds?: number;
  ready?: boolean;
  readyReasons?: string[];
  interfaces?: { name: string; mac?: string; up?: boolean; socketOpen?: boolean; error?: string }[];
  stateFile?: { path: string | null; error: string | null };
  leaderElection?: LeaseView;
  membership?: {
    identity: string;
    role: string;
    term: number;
    termHolder: string;
    reason: string;
    members: MemberView[];
    warning?: string;
  };
}

/** A Service as `GET /v1/services` shows it: with the node serving each of its addresses. */
export interface ApiService extends ServiceView {
  nodes?: Record<string, { node?: string; since: string; why: string } | null>;
}

/** Everything read from the admin API at one moment. */
export interface StatusSnapshot {
  /** The API's base URL, as the user should see it. */
  api: string;
  /** When it was read (ISO 8601). */
  at: string;
  status: ApiStatus;
  /** With the requests and replies `/v1/vips` counts (absent from an l2lb older than those counts). */
  vips: (VipStatus & { requests?: number; replies?: number })[];
  /** Kubernetes mode only. */
  services?: ApiService[];
  nodes?: NodeView[];
  pools?: PoolView[];
  /** Newest last; absent when the process keeps no history. */
  events?: HistoryEvent[];
}

/** One address: a VIP this instance answers for, or (Kubernetes) a Service address it does not. */
export interface AddressRow {
  address: string;
  /** The VIP's state, or `not answered` for a Service address this instance does not answer. */
  state: VipStatus['state'] | 'not answered';
  /** Why it is waiting or in conflict, why its Service's request is not met, why it is on its node. */
  reason: string | null;
  interface: string | null;
  mac: string | null;
  macSource: VipStatus['macSource'] | null;
  source: VipStatus['source'] | null;
  service: string | null;
  pool: string | null;
  /** The node whose MAC answers for it (gateway model). */
  node: string | null;
  since: string | null;
  requests: number | null;
  replies: number | null;
  conflicts: number | null;
  probesSent: number | null;
  gratuitousSent: number | null;
  lastAnnounced: string | null;
  conflict: VipStatus['conflict'] | null;
}

/** A Service that has no address (pending or failed), with the reason. */
export interface UnassignedRow {
  service: string;
  state: ServiceView['state'];
  pool: string | null;
  reason: string | null;
  since: string;
}

/** A Node as the leader sees it. */
export interface NodeRow {
  name: string;
  ready: boolean;
  excluded: boolean;
  candidate: boolean;
  why: string | null;
  addresses: { ip: string; probe: string; mac: string | null; misses: number | null; kubeProxy: string | null }[];
  serving: string[];
  /** Per-node mode: the node's own l2lb instance. */
  instance: string | null;
}

/** A pool and how full it is. */
export interface PoolRow {
  name: string;
  source: PoolView['source'];
  address: string;
  interface: string | null;
  size: string;
  used: number;
  free: string;
  usable: boolean;
  problem: string | null;
  skipped: string | null;
}

/** One event of the history. */
export interface EventRow {
  id: number;
  at: string;
  level: string;
  kind: string;
  msg: string;
  address: string | null;
  /** The reason the record gives (`why`, `reason`, `problem` or `error`). */
  why: string | null;
  fields: Record<string, unknown>;
}

/** Who answers: this instance's role and who leads. */
export interface RoleReport {
  /** `single` (no membership, no Lease), or `leader` / `standby` / `fenced` / `follower`. */
  role: string;
  /** This instance's identity on the Lease or the wire, when it has one. */
  identity: string | null;
  /** Who leads: the Lease holder, else the membership term's holder. */
  leader: string | null;
  /** The replicas heard on the wire. */
  peers: { identity: string; role: string; lastHeard: string }[];
  /** Things that need a look: a Lease problem, the API server unreachable, unauthenticated heartbeats. */
  problems: string[];
}

/** What `l2lb status --json` prints: every key always present (null when it does not apply). */
export interface StatusReport {
  api: string;
  at: string;
  version: string | null;
  runtime: string | null;
  mode: string | null;
  startedAt: string | null;
  uptimeSeconds: number | null;
  ready: boolean | null;
  readyReasons: string[];
  stateFileError: string | null;
  role: RoleReport;
  addresses: AddressRow[];
  /** Kubernetes mode; null otherwise. */
  unassigned: UnassignedRow[] | null;
  nodes: NodeRow[] | null;
  pools: PoolRow[] | null;
  /** Newest last; null when the process keeps no history. */
  events: EventRow[] | null;
}

const WHY_FIELDS = ['why', 'reason', 'problem', 'error'] as const;

function byAddress(a: string, b: string): number {
  const x = parseIP(a);
  const y = parseIP(b);
  return x && y ? compareIP(x, y) : a.localeCompare(b);
}

function roleOf(s: ApiStatus): RoleReport {
  const le = s.leaderElection;
  const m = s.membership;
  const problems: string[] = [];
  if (le?.problem) problems.push(`leader election: ${le.problem}`);
  if (le && !le.apiReachable) problems.push(`API server unreachable${le.lastError ? ` (${le.lastError})` : ''}`);
  if (m?.warning) problems.push(m.warning);
  const role = m?.role ?? (le ? (le.isLeader ? 'leader' : le.state) : 'single');
  return {
    role,
    identity: m?.identity ?? null,
    leader: le?.holder ?? (m ? m.termHolder || null : null),
    peers: (m?.members ?? []).map((p) => ({ identity: p.identity, role: p.role, lastHeard: p.lastHeard })),
    problems,
  };
}

/** The first reason-like field of an event's record. */
function whyOf(fields: Record<string, unknown>): string | null {
  for (const k of WHY_FIELDS) {
    const v = fields[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  return null;
}

/** The report of one snapshot: what `--json` prints and the table is drawn from. */
export function buildReport(snap: StatusSnapshot): StatusReport {
  const s = snap.status;
  const kube = snap.services !== undefined || snap.nodes !== undefined || snap.pools !== undefined;
  const serviceOf = new Map<string, ApiService>();
  for (const svc of snap.services ?? []) for (const ip of svc.addresses) serviceOf.set(ip, svc);
  const servingNode = (ip: string) => {
    const fromService = serviceOf.get(ip)?.nodes?.[ip];
    if (fromService) return fromService;
    const node = snap.nodes?.find((n) => n.serving.includes(ip));
    return node ? { node: node.name, why: 'initial' } : undefined;
  };
  // Where the node was chosen for a reason worth telling (a move, no candidate), it is the address's note.
  const servingWhy = (ip: string) => {
    const why = servingNode(ip)?.why;
    return why && why !== 'initial' && why !== 'kept' ? why : null;
  };

  const addresses: AddressRow[] = snap.vips.map((v) => {
    const svc = serviceOf.get(v.ip);
    return {
      address: v.ip, state: v.state,
      reason: v.reason ?? (svc?.state === 'kept' ? svc.lastError : undefined) ?? servingWhy(v.ip),
      interface: v.interface, mac: v.mac ?? null, macSource: v.macSource, source: v.source,
      service: svc?.service ?? null, pool: svc?.pool ?? null, node: servingNode(v.ip)?.node ?? null,
      since: v.since, requests: v.requests ?? null, replies: v.replies ?? null,
      conflicts: v.conflicts, probesSent: v.probesSent, gratuitousSent: v.gratuitousSent,
      lastAnnounced: v.lastAnnounced ?? null, conflict: v.conflict ?? null,
    };
  });
  const answered = new Set(snap.vips.map((v) => v.ip));
  // A standby (or, per node, another node's instance) answers these: shown, so the picture is the cluster's.
  for (const [ip, svc] of serviceOf) {
    if (answered.has(ip)) continue;
    const serving = servingNode(ip);
    addresses.push({
      address: ip, state: 'not answered', reason: svc.lastError ?? servingWhy(ip),
      interface: null, mac: null, macSource: null, source: 'kubernetes',
      service: svc.service, pool: svc.pool ?? null, node: serving?.node ?? null, since: null,
      requests: null, replies: null, conflicts: null, probesSent: null, gratuitousSent: null, lastAnnounced: null, conflict: null,
    });
  }
  addresses.sort((a, b) => byAddress(a.address, b.address));

  return {
    api: snap.api,
    at: snap.at,
    version: s.version ?? null,
    runtime: s.runtime ?? null,
    mode: s.mode ?? null,
    startedAt: s.startedAt ?? null,
    uptimeSeconds: s.uptimeSeconds ?? null,
    ready: s.ready ?? null,
    readyReasons: s.readyReasons ?? [],
    stateFileError: s.stateFile?.error ?? null,
    role: roleOf(s),
    addresses,
    unassigned: !kube ? null : (snap.services ?? []).filter((svc) => svc.addresses.length === 0).map((svc) => ({
      service: svc.service, state: svc.state, pool: svc.pool ?? null, reason: svc.lastError ?? null, since: svc.since,
    })),
    nodes: !kube ? null : (snap.nodes ?? []).map((n) => ({
      name: n.name, ready: n.ready, excluded: n.excluded, candidate: n.candidate, why: n.why ?? null,
      addresses: n.addresses.map((a) => ({
        ip: a.ip, probe: a.probe, mac: a.mac ?? null, misses: a.misses ?? null,
        kubeProxy: a.kubeProxy ? a.kubeProxy.state + (a.kubeProxy.result ? ` (${a.kubeProxy.result})` : '') : null,
      })),
      serving: [...n.serving].sort(byAddress),
      instance: n.instance ?? null,
    })),
    pools: !kube ? null : (snap.pools ?? []).map((p) => ({
      name: p.name, source: p.source, address: p.address, interface: p.interface ?? null, size: p.size, used: p.used,
      free: p.free, usable: p.usable, problem: p.problem ?? null, skipped: p.skipped ?? null,
    })),
    events: snap.events === undefined ? null : snap.events.map((e) => ({
      id: e.id, at: e.at, level: e.level, kind: e.kind, msg: e.msg, address: e.address ?? null,
      why: whyOf(e.fields ?? {}), fields: e.fields ?? {},
    })),
  };
}

/** A duration in whole seconds, compactly: `4s`, `3m12s`, `2h05m`, `3d04h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/**
 * How long ago `iso` was, seen at `now`: `3m12s ago`; `in 2s` when it lies ahead (the other host's clock
 * runs ahead of ours); `-` when there is no time.
 */
export function relativeTime(iso: string | null | undefined, now: Date): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  const diff = (now.getTime() - t) / 1000;
  // Half a second ahead is the two clocks' rounding, not a clock running ahead.
  return diff < -0.5 ? `in ${formatDuration(-diff)}` : `${formatDuration(diff)} ago`;
}

/** A time of day in UTC (as the log's `time` field), with the date when it is not `now`'s day. */
export function clockTime(iso: string, now: Date): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const text = t.toISOString();
  return text.slice(0, 10) === now.toISOString().slice(0, 10) ? `${text.slice(11, 19)}Z` : `${text.slice(0, 10)} ${text.slice(11, 19)}Z`;
}

const STATE_STYLE: Record<string, Style> = {
  active: 'green', probing: 'yellow', waiting: 'yellow', conflict: 'red', 'not answered': 'dim',
  up: 'green', down: 'red', unknown: 'yellow',
};

const LEVEL_STYLE: Record<string, Style> = { warn: 'yellow', error: 'red' };

function styled(text: string, style: Style | undefined): Cell {
  return style ? { text, style } : text;
}

function count(n: number | null): string {
  return n === null ? '-' : String(n);
}

/** Options of {@link renderReport}. */
export interface RenderOptions {
  /** The clock the relative times are computed from. */
  now: Date;
  /** ANSI colours (a terminal, and NO_COLOR unset). */
  color: boolean;
}

function header(r: StatusReport, o: RenderOptions): string[] {
  const c = o.color;
  const what = [
    `l2lb ${r.version ?? '?'}${r.runtime ? ` (${r.runtime})` : ''}`,
    `${r.mode ?? 'unknown'} mode`,
    ...(r.uptimeSeconds !== null ? [`up ${formatDuration(r.uptimeSeconds)}`] : []),
    r.ready === null ? 'readiness unknown' : r.ready ? paint('ready', 'green', c) : paint('not ready', 'red', c),
  ];
  const lines = [`${what.join(', ')}  ${paint(`${r.api} at ${clockTime(r.at, o.now)}`, 'dim', c)}`];
  for (const reason of r.readyReasons) lines.push(`  ${paint('not ready:', 'red', c)} ${reason}`);
  const role = r.role;
  let roleLine: string;
  if (role.role === 'single') roleLine = 'role: single instance (no membership, no Lease)';
  else {
    const who = role.leader === null ? 'no leader seen' : role.leader === role.identity ? 'this instance leads' : `leader ${role.leader}`;
    roleLine = `role: ${paint(role.role, role.role === 'leader' ? 'green' : role.role === 'fenced' ? 'red' : undefined, c)}${role.identity ? ` (${role.identity})` : ''}, ${who}`;
    if (role.peers.length > 0) roleLine += `; peers: ${role.peers.map((p) => `${p.identity} ${p.role} (heard ${relativeTime(p.lastHeard, o.now)})`).join(', ')}`;
  }
  lines.push(roleLine);
  for (const p of role.problems) lines.push(`  ${paint('warning:', 'yellow', c)} ${p}`);
  if (r.stateFileError) lines.push(`  ${paint('state file:', 'red', c)} ${r.stateFileError}`);
  return lines;
}

function addressTable(r: StatusReport, o: RenderOptions): string {
  if (r.addresses.length === 0) {
    return r.mode === 'kubernetes'
      ? 'No Service addresses yet.'
      : `No VIPs yet: add one in the config file (vips) or with curl -X PUT ${r.api}/v1/vips/<address>`;
  }
  const kube = r.mode === 'kubernetes';
  // Kubernetes: the node says where traffic goes; the interface only when there is more than one.
  const showInterface = !kube || new Set(r.addresses.map((a) => a.interface).filter((i) => i !== null)).size > 1;
  const columns = [
    { title: 'ADDRESS' },
    ...(kube ? [{ title: 'SERVICE' }, { title: 'POOL' }] : []),
    { title: 'STATE' },
    ...(kube ? [{ title: 'NODE' }] : []),
    ...(showInterface ? [{ title: 'INTERFACE' }] : []),
    { title: 'MAC' },
    { title: 'SINCE' },
    { title: 'REQUESTS', align: 'right' as const },
    { title: 'REPLIES', align: 'right' as const },
    { title: 'NOTE', optional: true },
  ];
  const rows = r.addresses.map((a): Cell[] => [
    a.address,
    ...(kube ? [a.service ?? '-', a.pool ?? '-'] : []),
    styled(a.state, STATE_STYLE[a.state]),
    ...(kube ? [a.node ?? '-'] : []),
    ...(showInterface ? [a.interface ?? '-'] : []),
    a.mac ?? '-',
    relativeTime(a.since, o.now),
    count(a.requests),
    count(a.replies),
    a.reason ?? '',
  ]);
  return renderTable(columns, rows, { color: o.color });
}

function unassignedTable(rows: UnassignedRow[], o: RenderOptions): string {
  return renderTable(
    [{ title: 'SERVICE' }, { title: 'STATE' }, { title: 'POOL' }, { title: 'SINCE' }, { title: 'WHY', optional: true }],
    rows.map((u) => [u.service, styled(u.state, u.state === 'failed' ? 'red' : 'yellow'), u.pool ?? '-', relativeTime(u.since, o.now), u.reason ?? '']),
    { color: o.color },
  );
}

function nodeTable(nodes: NodeRow[], o: RenderOptions): string {
  if (nodes.length === 0) return 'No nodes listed.';
  const perNode = nodes.some((n) => n.instance !== null);
  const probe = (a: NodeRow['addresses'][number]) =>
    `${a.ip} ${a.probe}${a.misses ? ` (${a.misses} missed)` : ''}${a.kubeProxy ? `, kube-proxy ${a.kubeProxy}` : ''}`;
  return renderTable(
    [
      { title: 'NODE' }, { title: 'READY' }, { title: 'CANDIDATE' }, { title: 'PROBE' },
      ...(perNode ? [{ title: 'INSTANCE' }] : []), { title: 'SERVES' }, { title: 'WHY', optional: true },
    ],
    nodes.map((n): Cell[] => {
      const states = new Set(n.addresses.map((a) => a.probe));
      const probeStyle = states.has('down') ? 'red' : states.size === 1 && states.has('up') ? 'green' : 'yellow';
      return [
        n.name,
        styled(n.ready ? 'yes' : 'no', n.ready ? undefined : 'red'),
        styled(n.candidate ? 'yes' : 'no', n.candidate ? undefined : 'yellow'),
        n.addresses.length === 0 ? 'no address' : styled(n.addresses.map(probe).join(', '), probeStyle),
        ...(perNode ? [n.instance ?? '-'] : []),
        n.serving.length === 0 ? '-' : n.serving.join(', '),
        [n.excluded ? 'excluded from load balancers' : '', n.why ?? ''].filter(Boolean).join('; '),
      ];
    }),
    { color: o.color },
  );
}

function poolTable(pools: PoolRow[], o: RenderOptions): string {
  if (pools.length === 0) return 'No pools: create an Eip or list pools in the config file.';
  return renderTable(
    [{ title: 'POOL' }, { title: 'RANGE' }, { title: 'USED', align: 'right' }, { title: 'SOURCE' }, { title: 'PROBLEM', optional: true }],
    pools.map((p): Cell[] => [
      p.name,
      p.address,
      styled(`${p.used}/${p.size}`, p.free === '0' ? 'yellow' : undefined),
      p.source,
      // `skipped` already reads "skips ..." (ipam/pool.ts).
      styled([p.problem ?? (p.usable ? '' : 'not usable'), p.skipped ?? ''].filter(Boolean).join('; '), p.usable ? undefined : 'red'),
    ]),
    { color: o.color },
  );
}

/** A Service event names its addresses in a list (`address assigned`), not in `address`. */
function addressesOf(e: EventRow): string | undefined {
  const list = e.fields.addresses;
  return Array.isArray(list) && list.length > 0 && list.every((a) => typeof a === 'string') ? list.join(', ') : undefined;
}

/** What an event says, with the nodes of a move and the reason: `address moved node-1 -> node-2: ...`. */
function eventText(e: EventRow): string {
  const f = e.fields;
  let text = e.msg;
  if (typeof f.from === 'string' && typeof f.to === 'string') text += ` ${f.from} -> ${f.to}`;
  else if (e.kind === 'node' && typeof f.was === 'string' && typeof f.state === 'string') text += ` ${f.was} -> ${f.state}`;
  else if (e.kind === 'address' && typeof f.node === 'string') text += ` ${f.node}`;
  else if (e.kind === 'service' && typeof f.service === 'string') text += ` ${f.service}`;
  return e.why ? `${text}: ${e.why}` : text;
}

function eventTable(events: EventRow[], o: RenderOptions): string {
  if (events.length === 0) return 'No events yet.';
  return renderTable(
    [{ title: 'TIME' }, { title: 'KIND' }, { title: 'ADDRESS' }, { title: 'WHAT' }],
    events.map((e): Cell[] => [clockTime(e.at, o.now), e.kind, e.address ?? addressesOf(e) ?? '-', styled(eventText(e), LEVEL_STYLE[e.level])]),
    { color: o.color },
  );
}

/** The terminal picture of a report, ending with a newline. */
export function renderReport(r: StatusReport, o: RenderOptions): string {
  const title = (text: string) => paint(text, 'bold', o.color);
  const parts = [header(r, o).join('\n'), addressTable(r, o)];
  if (r.unassigned && r.unassigned.length > 0) parts.push(`${title('Services without an address')}\n${unassignedTable(r.unassigned, o)}`);
  if (r.nodes) parts.push(`${title('Nodes')}\n${nodeTable(r.nodes, o)}`);
  if (r.pools) parts.push(`${title('Pools')}\n${poolTable(r.pools, o)}`);
  if (r.events) parts.push(`${title(`Last events`)}\n${eventTable(r.events, o)}`);
  return `${parts.join('\n\n')}\n`;
}
