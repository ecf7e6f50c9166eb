/**
 * `l2lb status` without a running l2lb: the picture and the JSON from fixed API answers (taken from a real
 * standalone instance and a real two-replica gateway, trimmed) at a pinned clock, the argument rules, where
 * the API is looked for, and the command's exit statuses against a stand-in and a closed port.
 */
import { describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/error.ts';
import { resolveApi, parseApiFlag, urlOfListen } from '../../src/cli/api-address.ts';
import { readSnapshot } from '../../src/cli/api-client.ts';
import {
  type StatusSnapshot, buildReport, clockTime, formatDuration, relativeTime, renderReport,
} from '../../src/cli/status-format.ts';
import { parseStatusArgs, StatusUsageError, statusCommand } from '../../src/cli/status.ts';
import { renderTable } from '../../src/cli/table.ts';
import { tempDir } from '../support/tmp.ts';

const NOW = new Date('2026-12-07T06:05:00.000Z');
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

// ------------------------------------------------------------------------------------------- fixtures

const standalone: StatusSnapshot = {
  api: 'http://127.0.0.1:9470',
  at: '2026-12-07T06:05:00.000Z',
  status: {
    version: '0.1.0', runtime: 'bun 1.4.5', mode: 'standalone', startedAt: '2026-12-07T06:01:48.000Z', uptimeSeconds: 192,
    ready: true, readyReasons: [],
    interfaces: [{ name: 'eth0', mac: '02:00:00:00:0a:01', up: true, socketOpen: true }],
    stateFile: { path: '/var/lib/l2lb/state.json', error: null },
  },
  vips: [
    {
      ip: '192.0.2.50', requests: 1234, replies: 1230, family: 4, interface: 'eth0', mac: '02:00:00:00:0a:01', macSource: 'interface', source: 'config',
      state: 'active', since: '2026-12-07T06:01:48.000Z', conflicts: 0, probesSent: 3, gratuitousSent: 3, lastAnnounced: '2026-12-07T06:01:50.000Z',
    },
    {
      ip: '192.0.2.51', requests: 0, replies: 0, family: 4, interface: 'eth0', mac: '02:00:00:00:0a:01', macSource: 'interface', source: 'api',
      state: 'conflict', since: '2026-12-07T06:04:55.000Z', reason: 'address in use by 02:00:00:00:0b:01',
      conflict: { mac: '02:00:00:00:0b:01', protocol: 'arp', phase: 'probe', at: '2026-12-07T06:04:55.000Z' },
      conflicts: 1, probesSent: 1, gratuitousSent: 0,
    },
    {
      ip: '2001:db8::50', requests: 7, replies: 7, family: 6, interface: 'eth0', mac: '02:00:00:00:0a:01', macSource: 'interface', source: 'config',
      state: 'active', since: '2026-12-07T04:00:00.000Z', conflicts: 0, probesSent: 3, gratuitousSent: 3,
    },
  ],
  events: [
    { id: 1, at: '2026-12-07T06:01:48.000Z', level: 'info', kind: 'process', msg: 'l2lb started', fields: { version: '0.1.0' } },
    {
      id: 3, at: '2026-12-07T06:04:55.000Z', level: 'warn', kind: 'conflict', msg: 'vip conflict: address in use by another host, not announcing',
      address: '192.0.2.51', fields: { vip: '192.0.2.51', interface: 'eth0', mac: '02:00:00:00:0b:01', protocol: 'arp', retryInMs: 10000 },
    },
  ],
};

/** The leader of a gateway: node-1 failed, its address moved to node-2; one Service got no address. */
const kubeLeader: StatusSnapshot = {
  api: 'http://127.0.0.1:9470',
  at: '2026-12-07T06:05:00.000Z',
  status: {
    version: '0.1.0', runtime: 'bun 1.4.5', mode: 'kubernetes', startedAt: '2026-12-07T06:00:00.000Z', uptimeSeconds: 300,
    ready: true, readyReasons: [],
    leaderElection: { state: 'leader', isLeader: true, since: '2026-12-07T06:00:01.000Z', transitions: 0, apiReachable: true, holder: 'lb-1' },
    membership: {
      identity: 'lb-1', role: 'leader', term: 1, termHolder: 'lb-1', reason: 'holds the Lease',
      members: [{
        identity: 'lb-2', role: 'standby', term: 1, termHolder: 'lb-1', lease: false, priority: 100, interface: 'eth0',
        mac: '02:00:00:00:01:02', lastHeard: '2026-12-07T06:04:59.900Z', since: '2026-12-07T06:00:00.000Z', sameVips: true,
      }],
    },
  },
  vips: [
    {
      ip: '192.0.2.200', requests: 12, replies: 12, family: 4, interface: 'eth0', mac: '02:00:00:00:12:12', macSource: 'explicit', source: 'kubernetes',
      state: 'active', since: '2026-12-07T06:04:48.000Z', conflicts: 0, probesSent: 3, gratuitousSent: 6,
    },
    {
      ip: '192.0.2.201', requests: 3, replies: 3, family: 4, interface: 'eth0', mac: '02:00:00:00:12:12', macSource: 'explicit', source: 'kubernetes',
      state: 'active', since: '2026-12-07T06:00:02.000Z', conflicts: 0, probesSent: 3, gratuitousSent: 3,
    },
  ],
  services: [
    {
      service: 'default/web', addresses: ['192.0.2.200'], pool: 'lan', state: 'assigned', since: '2026-12-07T06:00:02.000Z',
      nodes: { '192.0.2.200': { node: 'node-2', since: '2026-12-07T06:04:48.000Z', why: 'node-1 missed 3 probes' } },
    },
    {
      service: 'default/web2', addresses: ['192.0.2.201'], pool: 'lan', state: 'assigned', since: '2026-12-07T06:00:02.000Z',
      nodes: { '192.0.2.201': { node: 'node-2', since: '2026-12-07T06:00:02.000Z', why: 'initial' } },
    },
    { service: 'shop/api', addresses: [], state: 'failed', lastError: 'pool lan is full (8/8)', since: '2026-12-07T06:03:00.000Z' },
  ],
  nodes: [
    {
      name: 'node-1', ready: true, excluded: false, candidate: false, why: 'node-1 missed 3 probes', serving: [],
      addresses: [{ ip: '192.0.2.11', probe: 'down', mac: '02:00:00:00:11:11', lastChange: '2026-12-07T06:04:48.000Z', misses: 3 }],
    },
    {
      name: 'node-2', ready: true, excluded: false, candidate: true, serving: ['192.0.2.201', '192.0.2.200'],
      addresses: [{ ip: '192.0.2.12', probe: 'up', mac: '02:00:00:00:12:12', lastChange: '2026-12-07T06:00:00.500Z', misses: 0 }],
    },
  ],
  pools: [
    { name: 'lan', source: 'eip', address: '192.0.2.200-192.0.2.207', family: 4, size: '8', used: 2, free: '6', usable: true },
    { name: 'broken', source: 'config', address: '192.0.2.300', size: '0', used: 0, free: '0', usable: false, problem: 'address "192.0.2.300" is not an IP, CIDR or range' },
  ],
  events: [
    {
      id: 12, at: '2026-12-07T06:04:48.000Z', level: 'warn', kind: 'address', msg: 'address moved', address: '192.0.2.200', nodes: ['node-1', 'node-2'],
      fields: { address: '192.0.2.200', from: 'node-1', to: 'node-2', why: 'node-1 missed 3 probes' },
    },
    {
      id: 13, at: '2026-12-06T23:59:59.000Z', level: 'info', kind: 'service', msg: 'address assigned',
      fields: { service: 'default/web2', addresses: ['192.0.2.201'], pool: 'lan' },
    },
  ],
};

/** The standby of the same gateway: it answers nothing, the leader does. */
const kubeStandby: StatusSnapshot = {
  ...kubeLeader,
  status: {
    ...kubeLeader.status,
    leaderElection: { state: 'follower', isLeader: false, since: '2026-12-07T06:00:01.000Z', transitions: 0, apiReachable: true, holder: 'lb-1' },
    membership: { ...kubeLeader.status.membership!, identity: 'lb-2', role: 'standby', reason: 'lb-1 leads term 1', members: [] },
  },
  vips: [],
};

const report = (snap: StatusSnapshot) => buildReport(snap);
const render = (snap: StatusSnapshot, color = false) => renderReport(buildReport(snap), { now: NOW, color });

/** The lines of the table that starts with a header line beginning `first`. */
function tableAfter(text: string, first: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(first));
  if (start < 0) throw new Error(`no table starting with ${first} in:\n${text}`);
  const end = lines.findIndex((l, i) => i > start && l === '');
  return lines.slice(start, end < 0 ? undefined : end);
}

/** Where each header word starts; every row must have a cell starting there (or padding for right-aligned). */
function columnStarts(header: string): number[] {
  return [...header.matchAll(/\S+/g)].map((m) => m.index!);
}

// --------------------------------------------------------------------------------------------- times

describe('times', () => {
  test('durations are compact and exact at each unit boundary', () => {
    expect([0, 59, 60, 192, 3599, 3600, 7500, 86399, 86400, 273600].map(formatDuration))
      .toEqual(['0s', '59s', '1m00s', '3m12s', '59m59s', '1h00m', '2h05m', '23h59m', '1d00h', '3d04h']);
  });

  test('relative times say "ago", "in" for a clock ahead of ours, "-" for none', () => {
    expect(relativeTime('2026-12-07T06:01:48.000Z', NOW)).toBe('3m12s ago');
    expect(relativeTime('2026-12-07T06:05:00.300Z', NOW)).toBe('0s ago');
    expect(relativeTime('2026-12-07T06:05:03.000Z', NOW)).toBe('in 3s');
    expect(relativeTime(null, NOW)).toBe('-');
    expect(relativeTime('not a time', NOW)).toBe('-');
  });

  test('event times are UTC, with the date only when it is not today', () => {
    expect(clockTime('2026-12-07T06:04:48.000Z', NOW)).toBe('06:04:48Z');
    expect(clockTime('2026-12-06T23:59:59.000Z', NOW)).toBe('2026-12-06 23:59:59Z');
  });
});

// ---------------------------------------------------------------------------------------------- table

describe('the terminal picture', () => {
  test('standalone: header, every VIP with state, interface, MAC, age and counters, the conflict\'s reason, the events', () => {
    expect(render(standalone)).toBe([
      'l2lb 0.1.0 (bun 1.4.5), standalone mode, up 3m12s, ready  http://127.0.0.1:9470 at 06:05:00Z',
      'role: single instance (no membership, no Lease)',
      '',
      'ADDRESS       STATE     INTERFACE  MAC                SINCE      REQUESTS  REPLIES  NOTE',
      '192.0.2.50    active    eth0       02:00:00:00:0a:01  3m12s ago      1234     1230',
      '192.0.2.51    conflict  eth0       02:00:00:00:0a:01  5s ago            0        0  address in use by 02:00:00:00:0b:01',
      '2001:db8::50  active    eth0       02:00:00:00:0a:01  2h05m ago         7        7',
      '',
      'Last events',
      'TIME       KIND      ADDRESS     WHAT',
      '06:01:48Z  process   -           l2lb started',
      '06:04:55Z  conflict  192.0.2.51  vip conflict: address in use by another host, not announcing',
      '',
    ].join('\n'));
  });

  test('Kubernetes leader: Service, pool, serving node and why it moved; Services without an address; nodes; pools; events', () => {
    expect(render(kubeLeader)).toBe([
      'l2lb 0.1.0 (bun 1.4.5), kubernetes mode, up 5m00s, ready  http://127.0.0.1:9470 at 06:05:00Z',
      'role: leader (lb-1), this instance leads; peers: lb-2 standby (heard 0s ago)',
      '',
      'ADDRESS      SERVICE       POOL  STATE   NODE    MAC                SINCE      REQUESTS  REPLIES  NOTE',
      '192.0.2.200  default/web   lan   active  node-2  02:00:00:00:12:12  12s ago          12       12  node-1 missed 3 probes',
      '192.0.2.201  default/web2  lan   active  node-2  02:00:00:00:12:12  4m58s ago         3        3',
      '',
      'Services without an address',
      'SERVICE   STATE   POOL  SINCE      WHY',
      'shop/api  failed  -     2m00s ago  pool lan is full (8/8)',
      '',
      'Nodes',
      'NODE    READY  CANDIDATE  PROBE                       SERVES                    WHY',
      'node-1  yes    no         192.0.2.11 down (3 missed)  -                         node-1 missed 3 probes',
      // Served addresses in address order, whatever order the API lists them in.
      'node-2  yes    yes        192.0.2.12 up               192.0.2.200, 192.0.2.201',
      '',
      'Pools',
      'POOL    RANGE                    USED  SOURCE  PROBLEM',
      'lan     192.0.2.200-192.0.2.207   2/8  eip',
      'broken  192.0.2.300               0/0  config  address "192.0.2.300" is not an IP, CIDR or range',
      '',
      'Last events',
      'TIME                  KIND     ADDRESS      WHAT',
      '06:04:48Z             address  192.0.2.200  address moved node-1 -> node-2: node-1 missed 3 probes',
      // A Service event names its addresses in a list; an event of another day shows the date.
      '2026-12-06 23:59:59Z  service  192.0.2.201  address assigned default/web2',
      '',
    ].join('\n'));
  });

  test('Kubernetes standby: the Service addresses are listed as not answered here, with the node the leader chose', () => {
    const text = render(kubeStandby);
    expect(text).toContain('role: standby (lb-2), leader lb-1');
    const rows = tableAfter(text, 'ADDRESS');
    expect(rows[1]).toMatch(/^192\.0\.2\.200 +default\/web +lan +not answered +node-2 +- +- +- +- +node-1 missed 3 probes$/);
    expect(rows[2]).toMatch(/^192\.0\.2\.201 +default\/web2 +lan +not answered +node-2 +- +- +- +-$/);
  });

  test('every column starts where its title does, whatever the widths (long IPv6 addresses, long names)', () => {
    const wide: StatusSnapshot = {
      ...standalone,
      vips: [
        ...standalone.vips,
        { ...standalone.vips[0]!, ip: '2001:db8:ffff:ffff:ffff:ffff:ffff:fff1', interface: 'enp129s0f1np1', state: 'waiting', reason: 'interface enp129s0f1np1 is down' },
      ],
    };
    for (const [snap, first] of [[wide, 'ADDRESS'], [kubeLeader, 'ADDRESS'], [kubeLeader, 'NODE '], [kubeLeader, 'TIME '], [wide, 'TIME ']] as const) {
      const [head, ...rows] = tableAfter(render(snap), first);
      const starts = columnStarts(head!);
      const rightAligned = new Set(['REQUESTS', 'REPLIES', 'USED'].map((t) => head!.indexOf(t)).filter((i) => i >= 0));
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        for (const at of starts) {
          if (at >= row.length) continue;
          // A left-aligned column's cell starts exactly there: the character before it is the gap.
          if (!rightAligned.has(at)) expect({ row, at, before: row[at - 1] ?? ' ', here: row[at] !== ' ' }).toEqual({ row, at, before: ' ', here: true });
        }
      }
    }
  });

  test('right-aligned counters end under the end of their title', () => {
    const [head, ...rows] = tableAfter(render(standalone), 'ADDRESS');
    const end = head!.indexOf('REQUESTS') + 'REQUESTS'.length;
    for (const row of rows) expect(row[end - 1]).toMatch(/\d/);
    expect(rows.map((r) => r.slice(head!.indexOf('REQUESTS'), end))).toEqual(['    1234', '       0', '       7']);
  });

  test('empty states say what is missing and how to change it', () => {
    const empty = render({ ...standalone, vips: [], events: [] });
    expect(empty).toContain('No VIPs yet: add one in the config file (vips) or with curl -X PUT http://127.0.0.1:9470/v1/vips/<address>');
    expect(empty).toContain('No events yet.');
    expect(empty).not.toContain('ADDRESS');
    const kube = render({ ...kubeLeader, vips: [], services: [], nodes: [], pools: [], events: [] });
    expect(kube).toContain('No Service addresses yet.');
    expect(kube).toContain('No nodes listed.');
    expect(kube).toContain('No pools: create an Eip or list pools in the config file.');
    expect(kube).not.toContain('Services without an address');
    // No history in the process (an older l2lb): no events section at all.
    expect(render({ ...standalone, events: undefined })).not.toContain('Last events');
    // Counters unknown (an l2lb whose /v1/vips does not count them): a dash, not a zero.
    expect(tableAfter(render({ ...standalone, vips: standalone.vips.map(({ requests: _q, replies: _r, ...v }) => v) }), 'ADDRESS')[1]).toMatch(/ago +- +-$/);
  });

  test('a NOTE column appears only when some address has a note', () => {
    const quiet = { ...standalone, vips: [standalone.vips[0]!, standalone.vips[2]!] };
    expect(tableAfter(render(quiet), 'ADDRESS')[0]).toBe('ADDRESS       STATE   INTERFACE  MAC                SINCE      REQUESTS  REPLIES');
  });

  test('problems are on their own lines: not ready, the Lease, the API server, the state file', () => {
    const text = render({
      ...kubeStandby,
      status: {
        ...kubeStandby.status, ready: false, readyReasons: ['eth0: socket not open (Operation not permitted)'],
        leaderElection: { ...kubeStandby.status.leaderElection!, apiReachable: false, lastError: 'connect ECONNREFUSED 192.0.2.5:6443', problem: 'namespace l2lb-absent does not exist' },
        stateFile: { path: '/var/lib/l2lb/state.json', error: 'cannot parse: Unexpected token' },
      },
    });
    expect(text).toContain(', not ready  ');
    expect(text).toContain('\n  not ready: eth0: socket not open (Operation not permitted)\n');
    expect(text).toContain('\n  warning: leader election: namespace l2lb-absent does not exist\n');
    expect(text).toContain('\n  warning: API server unreachable (connect ECONNREFUSED 192.0.2.5:6443)\n');
    expect(text).toContain('\n  state file: cannot parse: Unexpected token\n');
  });

  test('colour: states and warnings coloured, columns still aligned once the escapes are taken out; none when off', () => {
    const plain = render(kubeLeader);
    const coloured = render(kubeLeader, true);
    expect(plain).not.toMatch(ANSI);
    expect(coloured).toContain('\x1b[32mactive\x1b[0m');
    // node-1 is no candidate (yellow), its probe is down (red).
    expect(coloured).toContain('\x1b[33mno\x1b[0m');
    expect(coloured).toContain('\x1b[31m192.0.2.11 down (3 missed)\x1b[0m');
    expect(coloured.replace(ANSI, '')).toBe(plain);
  });

  test('renderTable leaves out an optional column nobody fills and pads on visible characters', () => {
    expect(renderTable([{ title: 'A' }, { title: 'B', optional: true }, { title: 'C' }], [[{ text: 'x', style: 'red' }, '', '→']], { color: true }).replace(ANSI, ''))
      .toBe('A  C\nx  →');
  });
});

// ----------------------------------------------------------------------------------------------- JSON

describe('the JSON report', () => {
  test('every address row has the same keys in standalone and Kubernetes mode, null where a value does not apply', () => {
    const keys = (o: object) => Object.keys(o).sort();
    const a = report(standalone).addresses;
    const k = report(kubeLeader).addresses;
    const s = report(kubeStandby).addresses;
    expect(keys(a[0]!)).toEqual(keys(k[0]!));
    expect(keys(a[0]!)).toEqual(keys(s[0]!));
    expect(keys(report(standalone))).toEqual(keys(report(kubeLeader)));
    expect(a[0]).toMatchObject({ address: '192.0.2.50', state: 'active', mac: '02:00:00:00:0a:01', interface: 'eth0', node: null, service: null, requests: 1234, replies: 1230 });
    expect(k[0]).toMatchObject({ address: '192.0.2.200', node: 'node-2', service: 'default/web', pool: 'lan', reason: 'node-1 missed 3 probes' });
    expect(s[0]).toMatchObject({ address: '192.0.2.200', state: 'not answered', mac: null, since: null, node: 'node-2' });
  });

  test('the report of a standalone instance has null Kubernetes sections; the JSON round-trips', () => {
    const r = report(standalone);
    expect(r).toMatchObject({ mode: 'standalone', unassigned: null, nodes: null, pools: null, role: { role: 'single', leader: null, peers: [], problems: [] } });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(r.events!.map((e) => e.why)).toEqual([null, null]);
    expect(report(kubeLeader).events![0]!.why).toBe('node-1 missed 3 probes');
  });

  test('addresses are in address order, IPv4 before IPv6, whatever order the API gives', () => {
    const shuffled = { ...standalone, vips: [standalone.vips[2]!, standalone.vips[1]!, standalone.vips[0]!] };
    expect(report(shuffled).addresses.map((a) => a.address)).toEqual(['192.0.2.50', '192.0.2.51', '2001:db8::50']);
  });
});

// --------------------------------------------------------------------------------------------- args

describe('arguments', () => {
  test('defaults: shown once, 10 events, no JSON', () => {
    expect(parseStatusArgs([])).toEqual({ help: false, json: false, events: 10 });
  });

  test('--watch takes an optional number of seconds (default 2)', () => {
    expect(parseStatusArgs(['--watch']).watch).toBe(2);
    expect(parseStatusArgs(['--watch', '--json'])).toMatchObject({ watch: 2, json: true });
    expect(parseStatusArgs(['--watch', '1']).watch).toBe(1);
    expect(parseStatusArgs(['-w', '0.5']).watch).toBe(0.5);
    expect(parseStatusArgs(['--watch=5']).watch).toBe(5);
    for (const bad of [['--watch', '0'], ['--watch=abc'], ['--watch', '1.'], ['--watch', '100000']]) {
      expect(() => parseStatusArgs(bad)).toThrow(StatusUsageError);
    }
  });

  test('--api takes a URL or host:port; anything else is a usage error naming it', () => {
    expect(parseStatusArgs(['--api', 'http://127.0.0.1:9470/']).api).toBe('http://127.0.0.1:9470');
    expect(parseStatusArgs(['--api=[::1]:9470']).api).toBe('http://[::1]:9470');
    expect(parseApiFlag('https://lb.example:8443/l2lb/')).toBe('https://lb.example:8443/l2lb');
    expect(() => parseStatusArgs(['--api', 'ftp://x'])).toThrow('expected an http:// or https:// URL');
    expect(() => parseStatusArgs(['--api', 'http://[nope'])).toThrow('is not a URL');
    expect(() => parseStatusArgs(['--api'])).toThrow('--api needs a URL');
  });

  test('unknown arguments, a missing value and a bad --events are refused', () => {
    expect(() => parseStatusArgs(['--frobnicate'])).toThrow('unknown argument "--frobnicate"');
    expect(() => parseStatusArgs(['extra'])).toThrow('unknown argument "extra"');
    expect(() => parseStatusArgs(['--config'])).toThrow('--config needs a path');
    expect(() => parseStatusArgs(['--json=yes'])).toThrow('unknown argument "--json=yes"');
    expect(() => parseStatusArgs(['--events', '-1'])).toThrow('--events needs a number');
    expect(() => parseStatusArgs(['--events', '501'])).toThrow('from 0 to 500');
    expect(parseStatusArgs(['--events', '0']).events).toBe(0);
  });
});

describe('where the API is', () => {
  const dir = tempDir('l2lb-status-');
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test('--api wins over everything', () => {
    expect(resolveApi({ flag: 'http://192.0.2.1:1', env: { L2LB_API_LISTEN: '127.0.0.1:2' } })).toEqual({ url: 'http://192.0.2.1:1', from: '--api' });
  });

  test('then L2LB_API_LISTEN, then the config file (--config or L2LB_CONFIG), then the default', () => {
    const cfg = file('a.yaml', 'api:\n  listen: 127.0.0.1:9555\n  tokenFile: /root-only/token\n');
    expect(resolveApi({ configFile: cfg, env: { L2LB_API_LISTEN: '127.0.0.2:9556' } })).toEqual({ url: 'http://127.0.0.2:9556', from: 'env L2LB_API_LISTEN' });
    // The token file is neither read nor needed: reads are open.
    expect(resolveApi({ configFile: cfg, env: {} })).toEqual({ url: 'http://127.0.0.1:9555', from: `file ${cfg}` });
    expect(resolveApi({ env: { L2LB_CONFIG: cfg } })).toEqual({ url: 'http://127.0.0.1:9555', from: `file ${cfg}` });
    expect(resolveApi({ configFile: file('b.yaml', 'mode: standalone\n'), env: {} })).toEqual({ url: 'http://127.0.0.1:9470', from: 'default' });
    expect(resolveApi({ env: {} })).toEqual({ url: 'http://127.0.0.1:9470', from: 'default' });
  });

  test('a wildcard listen address is reached on loopback', () => {
    expect(urlOfListen('0.0.0.0:9470')).toBe('http://127.0.0.1:9470');
    expect(urlOfListen('[::]:9470')).toBe('http://[::1]:9470');
    expect(urlOfListen('[2001:db8::1]:9470')).toBe('http://[2001:db8::1]:9470');
  });

  test('a bad api.listen or an unreadable file is a config error naming the key, the value and the source', () => {
    const cfg = file('c.yaml', 'api:\n  listen: nowhere\n');
    const err = (() => {
      try {
        resolveApi({ configFile: cfg, env: {} });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`config: api.listen = "nowhere" (file ${cfg}): expected host:port, e.g. 127.0.0.1:9470 or [::1]:9470 (host an IP address or localhost, port 1-65535)`);
    expect(() => resolveApi({ env: { L2LB_API_LISTEN: '1.2.3.4:0' } })).toThrow('(env L2LB_API_LISTEN)');
    expect(() => resolveApi({ configFile: join(dir, 'missing.yaml'), env: {} })).toThrow('cannot read');
  });
});

// ------------------------------------------------------------------------------------------ command

/** A stand-in for the admin API answering from a snapshot's parts (the URL paths the client asks). */
function standIn(snap: StatusSnapshot, opts: { status?: number } = {}) {
  const asked: string[] = [];
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const fetch = async (url: string) => {
    const path = new URL(url).pathname + new URL(url).search;
    asked.push(path);
    if (path === '/v1/status') return opts.status ? json({ error: 'x' }, opts.status) : json(snap.status);
    if (path === '/v1/vips') return json({ vips: snap.vips });
    if (path.startsWith('/v1/history')) return json({ oldest: 1, newest: 3, events: snap.events ?? [] });
    for (const key of ['services', 'nodes', 'pools'] as const) {
      if (path === `/v1/${key}`) return snap[key] ? json({ [key]: snap[key] }) : json({ error: 'not-found' }, 404);
    }
    return json({ error: 'not-found' }, 404);
  };
  return { fetch, asked };
}

function capture(isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out, err,
    io: {
      stdout: { write: (t: string, done?: () => void) => (out.push(t), done?.()), isTTY },
      stderr: { write: (t: string, done?: () => void) => (err.push(t), done?.()) },
    },
  };
}

describe('the command', () => {
  test('reads the API and prints the picture (exit 0); a snapshot read from the stand-in equals the fixture', async () => {
    const api = standIn(kubeLeader);
    const c = capture();
    const code = await statusCommand(['--api', 'http://127.0.0.1:9470'], { env: {}, ...c.io, fetch: api.fetch, now: () => NOW });
    expect(code).toBe(0);
    expect(c.out.join('')).toBe(render(kubeLeader));
    expect(api.asked).toContain('/v1/history?limit=10');
    const snap = await readSnapshot({ url: 'http://127.0.0.1:9470', from: '--api' }, { events: 10, fetch: api.fetch, now: () => NOW });
    expect(snap).toEqual(kubeLeader);
  });

  test('--json prints the report as one object', async () => {
    const c = capture(true);
    expect(await statusCommand(['--json'], { env: {}, ...c.io, fetch: standIn(standalone).fetch, now: () => NOW })).toBe(0);
    expect(JSON.parse(c.out.join(''))).toEqual(JSON.parse(JSON.stringify(report(standalone))));
    // A terminal, but JSON is for programs: no colour.
    expect(c.out.join('')).not.toMatch(ANSI);
  });

  test('colour on a terminal, none when NO_COLOR is set', async () => {
    const tty = capture(true);
    await statusCommand([], { env: {}, ...tty.io, fetch: standIn(standalone).fetch, now: () => NOW });
    expect(tty.out.join('')).toMatch(ANSI);
    const noColor = capture(true);
    await statusCommand([], { env: { NO_COLOR: '1' }, ...noColor.io, fetch: standIn(standalone).fetch, now: () => NOW });
    expect(noColor.out.join('')).not.toMatch(ANSI);
  });

  test('an unreachable API exits 1 with one line naming the address and where it came from', async () => {
    const c = capture();
    const refused = async () => {
      throw Object.assign(new Error('Unable to connect. Is the computer able to access the url?'), { code: 'ConnectionRefused' });
    };
    expect(await statusCommand([], { env: { L2LB_API_LISTEN: '127.0.0.1:9999' }, ...c.io, fetch: refused })).toBe(1);
    expect(c.out).toEqual([]);
    expect(c.err.join('')).toBe('l2lb status: cannot reach the l2lb admin API at http://127.0.0.1:9999 (api.listen from env L2LB_API_LISTEN): connection refused (is l2lb running, and listening there? see api.listen, or give --api URL)\n');
  });

  test('a server that is not l2lb (404 on /v1/status) exits 1 saying so', async () => {
    const c = capture();
    expect(await statusCommand(['--api', 'http://127.0.0.1:8080'], { env: {}, ...c.io, fetch: standIn(standalone, { status: 404 }).fetch })).toBe(1);
    expect(c.err.join('')).toBe("l2lb status: the server at http://127.0.0.1:8080 answered GET /v1/status with HTTP 404: is it l2lb's admin API?\n");
  });

  test('a real closed port (Bun\'s fetch) is told as a refused connection', async () => {
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
    const port = server.port;
    await server.stop(true);
    const c = capture();
    expect(await statusCommand(['--api', `127.0.0.1:${port}`], { env: {}, ...c.io })).toBe(1);
    expect(c.err.join('')).toBe(`l2lb status: cannot reach the l2lb admin API at http://127.0.0.1:${port}: connection refused (is l2lb running, and listening there? see api.listen, or give --api URL)\n`);
  });

  test('a server that accepts but never answers is given up after the deadline', async () => {
    const hung = (_url: string, init: { signal: AbortSignal }) => new Promise<Response>((_, reject) => {
      init.signal.addEventListener('abort', () => reject(init.signal.reason));
    });
    await expect(readSnapshot({ url: 'http://127.0.0.1:1', from: '--api' }, { events: 0, fetch: hung, timeoutMs: 50 }))
      .rejects.toThrow('cannot reach the l2lb admin API at http://127.0.0.1:1: no answer within 0.05 s');
  });

  test('bad arguments exit 2 with the reason and the usage; --help exits 0', async () => {
    const c = capture();
    expect(await statusCommand(['--watch', '0'], { env: {}, ...c.io })).toBe(2);
    expect(c.err.join('')).toContain('l2lb status: --watch "0": expected seconds between refreshes, from 0.1 to 86400');
    expect(c.err.join('')).toContain('Usage:\n  l2lb status');
    const bad = capture();
    expect(await statusCommand([], { env: { L2LB_API_LISTEN: 'nowhere' }, ...bad.io })).toBe(2);
    expect(bad.err.join('')).toContain('config: api.listen = "nowhere" (env L2LB_API_LISTEN)');
    const help = capture();
    expect(await statusCommand(['--help'], { env: {}, ...help.io })).toBe(0);
    expect(help.out.join('')).toContain('--watch [SECONDS]');
  });

  test('--watch on a terminal redraws in place; piped, frames follow each other; a failed read is shown, not an exit', async () => {
    let calls = 0;
    const api = standIn(standalone);
    // The second frame finds the API gone (a restart), the third finds it back.
    const flaky = async (url: string, init: { signal: AbortSignal }) => {
      if (url.endsWith('/v1/status')) calls++;
      if (calls === 2) throw Object.assign(new Error('refused'), { code: 'ConnectionRefused' });
      return api.fetch(url);
    };
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const tty = capture(true);
    expect(await statusCommand(['--watch', '1', '--api', '127.0.0.1:9470'], { env: { NO_COLOR: '1' }, ...tty.io, fetch: flaky, now: () => NOW, sleep, maxFrames: 3 })).toBe(0);
    expect(tty.out).toHaveLength(3);
    expect(tty.out[0]!.startsWith('\x1b[H\x1b[2J')).toBe(true);
    expect(tty.out[1]!.startsWith('\x1b[H06:05:00Z  cannot reach the l2lb admin API at http://127.0.0.1:9470: connection refused')).toBe(true);
    expect(tty.out[2]!.replace(ANSI, '')).toBe(render(standalone));
    expect(waits).toHaveLength(2);
    for (const w of waits) expect(w).toBeGreaterThan(900);

    calls = 0;
    const piped = capture(false);
    await statusCommand(['--watch', '--json'], { env: {}, ...piped.io, fetch: flaky, now: () => NOW, sleep, maxFrames: 3 });
    const lines = piped.out.join('').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0].addresses).toHaveLength(3);
    expect(lines[1]).toEqual({ api: 'http://127.0.0.1:9470', at: NOW.toISOString(), error: expect.stringContaining('connection refused') });
    expect(piped.out.join('')).not.toMatch(ANSI);
  });
});
