import { describe, expect, test } from 'bun:test';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_KINDS, History, kindOf } from '../src/history.ts';
import { createLogger } from '../src/log.ts';

/** Every .ts file under src/. */
function sources(dir = join(import.meta.dir, '../src')): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out += sources(path);
    else if (name.endsWith('.ts') && name !== 'history.ts') out += readFileSync(path, 'utf8');
  }
  return out;
}

describe('kindOf: which log messages are timeline events', () => {
  test('the moments an operator asks about are events; routine chatter is not', () => {
    expect(kindOf('address moved')).toBe('address');
    expect(kindOf('membership: takeover, this replica answers')).toBe('membership');
    expect(kindOf('vip conflict: address in use by another host, not announcing')).toBe('conflict');
    expect(kindOf('API server unreachable: still leading with the last known state until another holder is seen')).toBe('api-server');
    expect(kindOf('link not open')).toBe('link');
    expect(kindOf('pool not used')).toBe('pool');
    expect(kindOf('claim dropped')).toBeUndefined();
    expect(kindOf('kubernetes: initial lists complete')).toBeUndefined();
  });

  test('every message of the table is still logged somewhere in src/ (a renamed message would drop off the timeline silently)', () => {
    const src = sources();
    const table = readFileSync(join(import.meta.dir, '../src/history.ts'), 'utf8');
    const exact = [...table.slice(table.indexOf('const EXACT'), table.indexOf('const PREFIXES')).matchAll(/^ {2}'([^']+)': '[a-z-]+',$/gm)].map((m) => m[1]!);
    expect(exact.length).toBeGreaterThan(30);
    const missing = exact.filter((msg) => !src.includes(`'${msg}'`));
    expect(missing).toEqual([]);
  });
});

describe('History', () => {
  test('keeps the newest `capacity` events with increasing ids; oldest and newest say what a resume can get', () => {
    const h = new History(3);
    expect([h.oldest, h.newest]).toEqual([0, 0]);
    for (let i = 0; i < 5; i++) h.record('info', 'vip announced', { vip: `192.0.2.${i}` });
    expect(h.record('debug', 'claim dropped', {})).toBeUndefined();
    expect(h.list().map((e) => [e.id, e.address])).toEqual([[3, '192.0.2.2'], [4, '192.0.2.3'], [5, '192.0.2.4']]);
    expect([h.oldest, h.newest]).toEqual([3, 5]);
    expect(h.list({ after: 4 }).map((e) => e.id)).toEqual([5]);
    expect(h.list({ limit: 2 }).map((e) => e.id)).toEqual([4, 5]);
    expect(h.counts().get('vip')).toBe(5);
  });

  test('filters by address, node (any of node/from/to/was) and kind', () => {
    const h = new History();
    h.record('warn', 'address moved', { address: '192.0.2.10', from: 'node-1', to: 'node-2', why: 'node-1 missed 3 probes' });
    h.record('info', 'vip announced', { vip: '192.0.2.11', interface: 'eth0' });
    h.record('info', 'node probe', { node: 'node-3', state: 'down' });
    expect(h.list({ node: 'node-2' }).map((e) => e.msg)).toEqual(['address moved']);
    expect(h.list({ node: 'node-3' }).map((e) => e.kind)).toEqual(['node']);
    expect(h.list({ address: '192.0.2.11' }).map((e) => e.kind)).toEqual(['vip']);
    expect(h.list({ kind: 'address' })[0]).toMatchObject({ address: '192.0.2.10', nodes: ['node-1', 'node-2'], fields: { why: 'node-1 missed 3 probes' } });
  });

  test('fields are stored JSON-safe (bigint, Error, cycles) and a throwing listener harms nobody', () => {
    const h = new History();
    const seen: number[] = [];
    h.subscribe(() => {
      throw new Error('a stream that went away');
    });
    const off = h.subscribe((e) => seen.push(e.id));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const ev = h.record('error', 'link not open', { interface: 'eth0', error: new Error('ENETDOWN'), size: 2n ** 70n, cyclic })!;
    expect(JSON.parse(JSON.stringify(ev.fields))).toEqual({ interface: 'eth0', error: { message: 'ENETDOWN', name: 'Error' }, size: '1180591620717411303424', cyclic: { a: 1, self: '[Circular]' } });
    off();
    h.record('info', 'link open', { interface: 'eth0' });
    expect(seen).toEqual([1]);
    expect(h.subscribers).toBe(1);
    expect(EVENT_KINDS).toContain(ev.kind);
  });

  test('fed by the logger at every level, whatever the log level, and the log line is written even if the tap throws', () => {
    const h = new History();
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', format: 'json', tap: (l, m, f, t) => h.record(l, m, f, t) }, (line) => lines.push(line));
    log.child({ component: 'announcer' }).info('vip announced', { vip: '192.0.2.10' });
    expect(lines).toEqual([]); // below the log level
    expect(h.list()).toEqual([expect.objectContaining({ msg: 'vip announced', level: 'info', fields: { component: 'announcer', vip: '192.0.2.10' } })]);
    const broken = createLogger({ level: 'info', format: 'json', tap: () => { throw new Error('tap'); } }, (line) => lines.push(line));
    broken.warn('address moved', { address: '192.0.2.10' });
    expect(lines.length).toBe(1);
  });
});
