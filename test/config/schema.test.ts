import { describe, expect, test } from 'bun:test';
import * as v from 'valibot';
import { formatDuration, parseDuration } from '../../src/config/duration.ts';
import { isInterfaceName } from '../../src/config/ifname.ts';
import { formatListen, isLoopbackHost, parseListen } from '../../src/config/listen.ts';
import { ConfigSchema, DEFAULT_CONFIG, type Config } from '../../src/config/schema.ts';
import { closest, editDistance } from '../../src/config/suggest.ts';

/**
 * Validates DEFAULT_CONFIG with `patch` laid over it (mappings merged one level deep, undefined
 * deletes); returns the output, or the issue messages by dot path.
 */
function check(patch: Record<string, unknown>): { output?: Config; issues: Record<string, string> } {
  const input: Record<string, unknown> = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    const base = input[key];
    if (value === undefined) delete input[key];
    else if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof base === 'object' && base !== null) {
      input[key] = { ...base, ...value };
    } else input[key] = value;
  }
  const result = v.safeParse(ConfigSchema, input, { abortEarly: false });
  const issues: Record<string, string> = {};
  for (const issue of result.issues ?? []) issues[v.getDotPath(issue) ?? ''] = issue.message;
  return result.success ? { output: result.output, issues } : { issues };
}

describe('durations', () => {
  test('numbers are ms; strings take ms, s, m, h; result in whole ms', () => {
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('1.1s')).toBe(1100);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('0')).toBe(0);
  });

  test('anything else is refused', () => {
    for (const bad of [-1, NaN, Infinity, '', 's', '1d', '-1s', '1 m s', '1e3', true, null, {}]) {
      expect(parseDuration(bad)).toBeUndefined();
    }
  });

  test('formatDuration writes what a person would and parses back', () => {
    for (const ms of [0, 100, 1000, 1500, 60_000, 90_000, 3_600_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(120_000)).toBe('2m');
  });

  test('range checks per key; refreshInterval is 0 or at least 1s', () => {
    expect(check({ announce: { refreshInterval: '30s' } }).output?.announce.refreshInterval).toBe(30_000);
    expect(check({ announce: { refreshInterval: 0 } }).output?.announce.refreshInterval).toBe(0);
    expect(check({ announce: { refreshInterval: 999 } }).issues['announce.refreshInterval']).toContain('1s');
    expect(check({ announce: { confirmInterval: 0 } }).output?.announce.confirmInterval).toBe(0);
    expect(check({ announce: { confirmInterval: '50ms' } }).issues['announce.confirmInterval']).toContain('expected 0 (off) or a duration from 100ms to 10m');
    expect(check({ announce: { gratuitousInterval: '5ms' } }).issues['announce.gratuitousInterval']).toContain('10ms');
    expect(check({ announce: { probeWait: '2m' } }).issues['announce.probeWait']).toBeDefined();
    expect(check({ announce: { probeWait: 0 } }).output?.announce.probeWait).toBe(0);
    expect(check({ announce: { probeInterval: true } }).issues['announce.probeInterval']).toContain('"250ms"');
  });

  test('integers are integers in range', () => {
    expect(check({ announce: { gratuitousCount: 0 } }).output?.announce.gratuitousCount).toBe(0);
    expect(check({ announce: { gratuitousCount: 100 } }).output?.announce.gratuitousCount).toBe(100);
    for (const bad of [-1, 101, 1.5, '3']) {
      expect(check({ announce: { gratuitousCount: bad } }).issues['announce.gratuitousCount']).toBe('expected an integer from 0 to 100');
    }
  });
});

describe('health.kubeProxy', () => {
  const kp = (over: Record<string, unknown>) => check({ health: { ...DEFAULT_CONFIG.health, kubeProxy: { ...DEFAULT_CONFIG.health.kubeProxy, ...over } } });

  test('off by default: port 10256, /healthz, every 1s, 500ms timeout', () => {
    expect(DEFAULT_CONFIG.health.kubeProxy).toEqual({ enabled: false, port: 10256, path: '/healthz', interval: 1000, timeout: 500 });
    expect(kp({ enabled: true, interval: '200ms', timeout: '1.5s' }).output?.health.kubeProxy).toEqual({ enabled: true, port: 10256, path: '/healthz', interval: 200, timeout: 1500 });
  });

  test('a path starts with "/" and has no spaces; the port is a TCP port', () => {
    expect(kp({ path: '/livez?verbose' }).output?.health.kubeProxy.path).toBe('/livez?verbose');
    for (const bad of ['healthz', '', '/health z', 7]) expect(kp({ path: bad }).issues['health.kubeProxy.path']).toStartWith('expected a URL path like /healthz');
    for (const bad of [0, 65536, '10256']) expect(kp({ port: bad }).issues['health.kubeProxy.port']).toBe('expected an integer from 1 to 65535');
    expect(kp({ interval: '10ms' }).issues['health.kubeProxy.interval']).toContain('from 50ms to 10m');
    expect(kp({ enabled: 'yes' }).issues['health.kubeProxy.enabled']).toBe('expected true or false');
  });
});

describe('listen addresses', () => {
  test('accepted forms, canonicalized', () => {
    const canonical = (text: string) => {
      const result = parseListen(text);
      return result.ok ? formatListen(result.address) : undefined;
    };
    expect(canonical('127.0.0.1:9470')).toBe('127.0.0.1:9470');
    expect(canonical('[::1]:1')).toBe('[::1]:1');
    expect(canonical('[2001:DB8::0:1]:65535')).toBe('[2001:db8::1]:65535');
    expect(canonical('LOCALHOST:80')).toBe('localhost:80');
    expect(canonical('0.0.0.0:9470')).toBe('0.0.0.0:9470');
    expect(canonical('[::]:9470')).toBe('[::]:9470');
  });

  test('refused forms', () => {
    for (const bad of ['', ':9470', '127.0.0.1', '127.0.0.1:', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:080000', '::1:9470', '[127.0.0.1]:80', 'host:80', '[::1]', '[::1]:x']) {
      expect(parseListen(bad).ok).toBe(false);
    }
  });

  test('loopback', () => {
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.255.0.3')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    const mapped = parseListen('[::FFFF:127.0.0.1]:9470');
    expect(mapped.ok && isLoopbackHost(mapped.address.host)).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('::')).toBe(false);
    expect(isLoopbackHost('192.0.2.1')).toBe(false);
    expect(isLoopbackHost('2001:db8::1')).toBe(false);
  });
});

describe('interfaces', () => {
  test('Linux interface names', () => {
    for (const good of ['eth0', 'enp3s0f1', 'br-lan', 'veth.100', 'a', '123456789012345', 'wlan0@x']) expect(isInterfaceName(good)).toBe(true);
    for (const bad of ['', '.', '..', '1234567890123456', 'eth 0', 'eth/0', 'eth0:1', 'tab\t', 'ünïcödé-lång']) {
      expect(isInterfaceName(bad)).toBe(false);
    }
  });

  test('"auto" only alone, no duplicates, at least one', () => {
    expect(check({ interfaces: ['auto', 'eth0'] }).issues['interfaces.0']).toContain('"auto" alone');
    expect(check({ interfaces: ['eth0', 'eth1', 'eth0'] }).issues['interfaces.2']).toContain('interfaces[0]');
    expect(check({ interfaces: [] }).issues['interfaces']).toContain('at least one');
    expect(check({ interfaces: 'eth0' }).issues['interfaces']).toContain('list of interface names');
  });

  test('a VIP interface must be one of the configured interfaces (unless auto)', () => {
    const vips = [{ ip: '192.0.2.1', interface: 'eth2' }];
    expect(check({ interfaces: ['eth0', 'eth1'], vips }).issues['vips.0.interface']).toBe(
      'expected one of the configured interfaces (eth0, eth1)',
    );
    expect(check({ vips }).output?.vips).toEqual(vips);
  });
});

describe('the schema as a whole', () => {
  test('DEFAULT_CONFIG is valid and unchanged by validation', () => {
    expect(v.parse(ConfigSchema, DEFAULT_CONFIG)).toEqual(DEFAULT_CONFIG);
  });

  test('missing keys are errors at the schema level (defaults come from merging)', () => {
    expect(check({ log: undefined }).issues['log']).toBe('expected a value: this key is required');
    expect(check({ log: 'debug' }).issues['log']).toBe('expected a mapping with keys level, format');
  });

  test('VIPs: canonical IP and MAC', () => {
    const output = check({ vips: [{ ip: '2001:0DB8::0A', mac: '02:00:5E:00:53:0B' }, { ip: '203.0.113.9' }] }).output;
    expect(output?.vips).toEqual([{ ip: '2001:db8::a', mac: '02:00:5e:00:53:0b' }, { ip: '203.0.113.9' }]);
  });

  test('empty token or tokenFile is refused', () => {
    expect(check({ api: { token: '' } }).issues['api.token']).toBe('expected a non-empty token');
    expect(check({ api: { tokenFile: '' } }).issues['api.tokenFile']).toBe('expected a file path');
  });
});

describe('suggestions', () => {
  test('closest finds typos and spelling variants, not unrelated names', () => {
    expect(closest('lisen', ['listen', 'token', 'tokenFile'])).toBe('listen');
    expect(closest('token_file', ['listen', 'token', 'tokenFile'])).toBe('tokenFile');
    expect(closest('TOKENFILE', ['listen', 'token', 'tokenFile'])).toBe('tokenFile');
    expect(closest('colour', ['listen', 'token', 'tokenFile'])).toBeUndefined();
    expect(closest('tokne', ['listen', 'token', 'tokenFile'])).toBe('token');
    expect(editDistance('tokne', 'token')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
