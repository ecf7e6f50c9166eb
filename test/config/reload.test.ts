import { describe, expect, test } from 'bun:test';
import { configChanges } from '../../src/config/reload.ts';
import { DEFAULT_CONFIG, type Config } from '../../src/config/schema.ts';

const base = DEFAULT_CONFIG as Config;
const withChanges = (over: (c: Config) => void): Config => {
  const c = structuredClone(base) as Config;
  over(c);
  return c;
};

describe('what a reload may change', () => {
  test('nothing changed: nothing to apply', () => {
    expect(configChanges(base, structuredClone(base) as Config)).toEqual({ changed: [], needRestart: [] });
  });

  test('VIPs, pools, timing, log level and token apply without a restart, listed by key', () => {
    const next = withChanges((c) => {
      c.vips = [{ ip: '192.0.2.10' }];
      c.announce.gratuitousCount = 5;
      c.health.probeInterval = 200;
      c.log.level = 'debug';
      c.api.token = 'new-secret';
      c.kubernetes.restartGrace = 3_000;
      c.pools = [{ name: 'lan', address: '192.0.2.0/24' }];
    });
    expect(configChanges(base, next)).toEqual({
      changed: ['api.token', 'vips', 'pools', 'kubernetes.restartGrace', 'health.probeInterval', 'announce.gratuitousCount', 'log.level'],
      needRestart: [],
    });
  });

  test('sockets, listeners, files and identities need a restart, named', () => {
    const next = withChanges((c) => {
      c.interfaces = ['eth1'];
      c.api.listen = '0.0.0.0:9470';
      c.membership.interval = 200;
      c.kubernetes.leaderElection.namespace = 'other';
      c.log.format = 'text';
      c.announce.probeCount = 1;
    });
    const r = configChanges(base, next);
    expect(r.needRestart).toEqual(['interfaces', 'api.listen', 'kubernetes.leaderElection.namespace', 'membership.interval', 'log.format']);
    expect(r.changed).toContain('announce.probeCount');
  });
});
