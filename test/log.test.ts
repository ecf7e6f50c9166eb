import { describe, expect, test } from 'bun:test';
import { createLogger, type LogLevel } from '../src/log.ts';

const TIME = new Date('2026-11-27T09:00:00.000Z');

function capture(level: LogLevel, format: 'json' | 'text') {
  const lines: string[] = [];
  const log = createLogger({ level, format, now: () => TIME }, (line) => lines.push(line));
  return { log, lines };
}

describe('json', () => {
  test('one parseable object per line: level, time, msg, then fields', () => {
    const { log, lines } = capture('debug', 'json');
    log.info('vip announced', { ip: '192.0.2.10', count: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe('{"level":"info","time":"2026-11-27T09:00:00.000Z","msg":"vip announced","ip":"192.0.2.10","count":3}');
  });

  test('Error as {message, name}, bigint as string, cycles and odd values survive', () => {
    const { log, lines } = capture('debug', 'json');
    const cycle: Record<string, unknown> = { name: 'loop' };
    cycle.self = cycle;
    const shared = { a: 1 };
    log.error('failed', { err: new TypeError('boom'), big: 2n ** 64n, cycle, pair: [shared, shared], when: TIME, nested: { e: new Error('x') } });
    const record = JSON.parse(lines[0]!);
    expect(record.err).toEqual({ message: 'boom', name: 'TypeError' });
    expect(record.big).toBe('18446744073709551616');
    expect(record.cycle).toEqual({ name: 'loop', self: '[Circular]' });
    expect(record.pair).toEqual([{ a: 1 }, { a: 1 }]);
    expect(record.when).toBe('2026-11-27T09:00:00.000Z');
    expect(record.nested.e).toEqual({ message: 'x', name: 'Error' });
  });

  test('system errors keep their code', () => {
    const { log, lines } = capture('info', 'json');
    log.error('open failed', { err: Object.assign(new Error('permission denied'), { code: 'EPERM' }) });
    expect(JSON.parse(lines[0]!).err).toEqual({ message: 'permission denied', name: 'Error', code: 'EPERM' });
  });

  test('fields cannot overwrite level, time or msg', () => {
    const { log, lines } = capture('info', 'json');
    log.info('real', { msg: 'fake', level: 'error' });
    const record = JSON.parse(lines[0]!);
    expect(record).toMatchObject({ level: 'info', msg: 'real', 'fields.msg': 'fake', 'fields.level': 'error' });
  });

  test('a throwing getter does not take the caller down', () => {
    const { log, lines } = capture('info', 'json');
    const evil = {
      get x(): never {
        throw new Error('nope');
      },
    };
    expect(() => log.info('still logged', { evil })).not.toThrow();
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'still logged', evil: '[unserializable: nope]' });
  });
});

describe('levels', () => {
  test('records below the level are dropped', () => {
    const { log, lines } = capture('warn', 'json');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines.map((line) => JSON.parse(line).level)).toEqual(['warn', 'error']);
  });

  test('debug lets everything through, error only errors', () => {
    const all = capture('debug', 'json');
    for (const level of ['debug', 'info', 'warn', 'error'] as const) all.log[level](level);
    expect(all.lines).toHaveLength(4);
    const errors = capture('error', 'json');
    for (const level of ['debug', 'info', 'warn', 'error'] as const) errors.log[level](level);
    expect(errors.lines).toHaveLength(1);
  });
});

describe('text', () => {
  test('time, padded level, message, key=value with quoting when needed', () => {
    const { log, lines } = capture('debug', 'text');
    log.info('vip announced', { ip: '192.0.2.10', reason: 'quoted value', n: 3, ok: true, empty: '' });
    log.debug('x');
    log.error('y', { err: new Error('bad thing') });
    expect(lines).toEqual([
      '2026-11-27T09:00:00.000Z INFO  vip announced ip=192.0.2.10 reason="quoted value" n=3 ok=true empty=""',
      '2026-11-27T09:00:00.000Z DEBUG x',
      '2026-11-27T09:00:00.000Z ERROR y err="Error: bad thing"',
    ]);
  });

  test('one line per record even with newlines; objects as JSON', () => {
    const { log, lines } = capture('info', 'text');
    log.warn('two\nlines', { obj: { a: 1 }, list: ['x'] });
    expect(lines).toEqual(['2026-11-27T09:00:00.000Z WARN  two\\nlines obj="{\\"a\\":1}" list="[\\"x\\"]"']);
  });
});

describe('child loggers', () => {
  test('carry their fields; call fields win; the parent is unchanged', () => {
    const { log, lines } = capture('info', 'json');
    const child = log.child({ iface: 'eth0', component: 'responder' });
    const grandchild = child.child({ ip: '192.0.2.10' });
    grandchild.info('reply', { component: 'override' });
    log.info('plain');
    expect(JSON.parse(lines[0]!)).toEqual({
      level: 'info',
      time: '2026-11-27T09:00:00.000Z',
      msg: 'reply',
      iface: 'eth0',
      component: 'override',
      ip: '192.0.2.10',
    });
    expect(JSON.parse(lines[1]!)).toEqual({ level: 'info', time: '2026-11-27T09:00:00.000Z', msg: 'plain' });
  });

  test('the real clock is used when none is given', () => {
    const lines: string[] = [];
    const before = Date.now();
    createLogger({ level: 'info', format: 'json' }, (line) => lines.push(line)).info('now');
    const time = Date.parse(JSON.parse(lines[0]!).time);
    expect(time).toBeGreaterThanOrEqual(before - 1);
    expect(time).toBeLessThanOrEqual(Date.now() + 1);
  });
});

test('by default, records go to stderr and nothing to stdout', () => {
  const script = `import { createLogger } from ${JSON.stringify(new URL('../src/log.ts', import.meta.url).pathname)};
createLogger({ level: 'info', format: 'json' }).info('to stderr', { n: 1 });`;
  const run = Bun.spawnSync([process.execPath, '--eval', script]);
  expect(run.exitCode).toBe(0);
  expect(run.stdout.toString()).toBe('');
  expect(JSON.parse(run.stderr.toString())).toMatchObject({ level: 'info', msg: 'to stderr', n: 1 });
});
