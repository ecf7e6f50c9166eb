import { describe, expect, test } from 'bun:test';
import { envName, envOverrides, envTable } from '../../src/config/env.ts';
import { loadConfig } from '../../src/config/load.ts';
import { DEFAULT_CONFIG } from '../../src/config/schema.ts';
import { configError } from './helpers.ts';

/** Every leaf path of a plain object; arrays are leaves. */
function leaves(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => leaves(child, prefix === '' ? key : `${prefix}.${key}`));
}

describe('the variable table', () => {
  test('names from the brief', () => {
    expect(envName('api.listen')).toBe('L2LB_API_LISTEN');
    expect(envName('announce.gratuitousCount')).toBe('L2LB_ANNOUNCE_GRATUITOUS_COUNT');
    expect(envName('stateFile')).toBe('L2LB_STATE_FILE');
    expect(envName('api.tokenFile')).toBe('L2LB_API_TOKEN_FILE');
  });

  test('covers every leaf of DEFAULT_CONFIG plus the optional keys, with unique names', () => {
    const table = envTable();
    const paths = table.filter((key) => key.kind !== 'object').map((key) => key.path);
    for (const leaf of leaves(DEFAULT_CONFIG)) expect(paths).toContain(leaf);
    expect(paths).toContain('api.token');
    expect(paths).toContain('api.tokenFile');
    expect(new Set(table.map((key) => key.env)).size).toBe(table.length);
  });

  test('every leaf of DEFAULT_CONFIG can be set through its variable', () => {
    // One value per leaf, different from the default, written as text the way a shell would.
    const values: Record<string, string> = {
      mode: 'kubernetes',
      interfaces: 'eth9',
      'api.listen': '127.0.0.9:9999',
      vips: '[{"ip":"203.0.113.5"}]',
      pools: '[{"name":"lan","address":"192.0.2.0/28"}]',
      'kubernetes.loadBalancerClass': 'example.com/l2',
      'kubernetes.claimUnclassed': 'true',
      'kubernetes.eips': 'false',
      'kubernetes.leaderElection.enabled': 'false',
      'kubernetes.leaderElection.namespace': 'infra',
      'kubernetes.leaderElection.name': 'lb',
      'kubernetes.leaderElection.leaseDuration': '10s',
      'kubernetes.leaderElection.renewDeadline': '6s',
      'kubernetes.leaderElection.retryPeriod': '2s',
      'health.probeInterval': '200ms',
      'health.failures': '4',
      'health.successes': '3',
      'health.kubeProxy.enabled': 'true',
      'health.kubeProxy.port': '10257',
      'health.kubeProxy.path': '/livez',
      'health.kubeProxy.interval': '2s',
      'health.kubeProxy.timeout': '250ms',
      'kubernetes.announce': 'self',
      'kubernetes.restartGrace': '3s',
      'kubernetes.watchInactivity': '5s',
      'kubernetes.maxInflight': '64',
      'announce.gratuitousCount': '9',
      'announce.gratuitousInterval': '2s',
      'announce.refreshInterval': '60000',
      'announce.confirmInterval': '2s',
      'announce.replyLimit': '20',
      'announce.probeCount': '0',
      'announce.probeInterval': '50ms',
      'announce.probeWait': '1s',
      'membership.enabled': 'true',
      'membership.interval': '50ms',
      'membership.misses': '4',
      'membership.priority': '200',
      'membership.preempt': 'true',
      stateFile: '',
      'log.level': 'debug',
      'log.format': 'text',
    };
    expect(Object.keys(values).sort()).toEqual(leaves(DEFAULT_CONFIG).sort());
    const env = Object.fromEntries(Object.entries(values).map(([path, text]) => [envName(path), text]));
    // announce: self needs the node's name; NODE_NAME is what the downward API sets.
    const loaded = loadConfig({ env: { ...env, NODE_NAME: 'node-7' } });
    expect(loaded.sources.get('kubernetes.nodeName')).toBe('env NODE_NAME');
    expect(loaded.config).toEqual({
      mode: 'kubernetes',
      interfaces: ['eth9'],
      api: { listen: '127.0.0.9:9999' },
      vips: [{ ip: '203.0.113.5' }],
      pools: [{ name: 'lan', address: '192.0.2.0/28' }],
      kubernetes: {
        loadBalancerClass: 'example.com/l2', claimUnclassed: true, eips: false, announce: 'self', nodeName: 'node-7', restartGrace: 3000, watchInactivity: 5000, maxInflight: 64,
        leaderElection: { enabled: false, namespace: 'infra', name: 'lb', leaseDuration: 10_000, renewDeadline: 6_000, retryPeriod: 2_000 },
      },
      health: { probeInterval: 200, failures: 4, successes: 3, kubeProxy: { enabled: true, port: 10257, path: '/livez', interval: 2000, timeout: 250 } },
      membership: { enabled: true, interval: 50, misses: 4, priority: 200, preempt: true },
      announce: { gratuitousCount: 9, gratuitousInterval: 2000, refreshInterval: 60_000, confirmInterval: 2_000, replyLimit: 20, probeCount: 0, probeInterval: 50, probeWait: 1000 },
      stateFile: '',
      log: { level: 'debug', format: 'text' },
    });
    for (const path of Object.keys(values)) expect(loaded.sources.get(path)).toBe(`env ${envName(path)}`);
  });
});

describe('coercion by the type of the key', () => {
  test('numbers become numbers; other text is left for the schema to judge', () => {
    expect(envOverrides({ L2LB_ANNOUNCE_GRATUITOUS_COUNT: '7' }).values).toEqual({ announce: { gratuitousCount: 7 } });
    expect(envOverrides({ L2LB_ANNOUNCE_GRATUITOUS_COUNT: 'seven' }).values).toEqual({ announce: { gratuitousCount: 'seven' } });
    expect(envOverrides({ L2LB_ANNOUNCE_PROBE_WAIT: '300' }).values).toEqual({ announce: { probeWait: 300 } });
    expect(envOverrides({ L2LB_ANNOUNCE_PROBE_WAIT: '1.5s' }).values).toEqual({ announce: { probeWait: '1.5s' } });
  });

  test('strings (and numeric-looking strings) stay strings', () => {
    expect(envOverrides({ L2LB_API_TOKEN: '12345' }).values).toEqual({ api: { token: '12345' } });
    expect(envOverrides({ L2LB_STATE_FILE: '' }).values).toEqual({ stateFile: '' });
    expect(envOverrides({ L2LB_LOG_LEVEL: 'warn' }).values).toEqual({ log: { level: 'warn' } });
  });

  test('interfaces: JSON or a comma-separated list', () => {
    expect(envOverrides({ L2LB_INTERFACES: 'eth0, eth1' }).values).toEqual({ interfaces: ['eth0', 'eth1'] });
    expect(envOverrides({ L2LB_INTERFACES: '["eth0","eth1"]' }).values).toEqual({ interfaces: ['eth0', 'eth1'] });
    expect(envOverrides({ L2LB_INTERFACES: 'auto' }).values).toEqual({ interfaces: ['auto'] });
  });

  test('vips: JSON only; invalid JSON names the variable', () => {
    expect(envOverrides({ L2LB_VIPS: '[{"ip":"192.0.2.10","mac":"02:00:5e:00:53:01"}]' }).values).toEqual({
      vips: [{ ip: '192.0.2.10', mac: '02:00:5e:00:53:01' }],
    });
    const error = configError(() => envOverrides({ L2LB_VIPS: '192.0.2.10' }));
    expect(error.issues).toEqual([expect.objectContaining({ path: 'vips', value: '192.0.2.10', source: 'env L2LB_VIPS' })]);
    expect(error.issues[0]!.message).toStartWith('expected a JSON list');
  });

  test('sources map each key path to its variable; L2LB_CONFIG is not a key', () => {
    const { sources } = envOverrides({ L2LB_CONFIG: '/etc/l2lb.yaml', L2LB_API_LISTEN: '127.0.0.1:1', L2LB_LOG: '{}' });
    expect(sources).toEqual(new Map([['api.listen', 'L2LB_API_LISTEN'], ['log', 'L2LB_LOG']]));
  });

  test('unknown L2LB_ variables are all reported together', () => {
    const error = configError(() => envOverrides({ L2LB_STATEFILE: '/x', L2LB_NOPE: '1', L2LB_LOG_LEVEL: 'info' }));
    expect(error.issues.map((issue) => issue.source).sort()).toEqual(['env L2LB_NOPE', 'env L2LB_STATEFILE']);
    expect(error.message).toContain('did you mean L2LB_STATE_FILE?');
  });

  test('a nested key (health.kubeProxy) is set alone, the rest of its mapping keeps the defaults', () => {
    expect(envName('health.kubeProxy.enabled')).toBe('L2LB_HEALTH_KUBE_PROXY_ENABLED');
    const loaded = loadConfig({ env: { L2LB_HEALTH_KUBE_PROXY_ENABLED: 'true', L2LB_HEALTH_KUBE_PROXY_INTERVAL: '200ms' } });
    expect(loaded.config.health).toEqual({
      probeInterval: 100, failures: 3, successes: 2,
      kubeProxy: { enabled: true, port: 10256, path: '/healthz', interval: 200, timeout: 500 },
    });
    expect(loaded.sources.get('health.kubeProxy.enabled')).toBe('env L2LB_HEALTH_KUBE_PROXY_ENABLED');
    expect(loaded.sources.get('health.kubeProxy.port')).toBe('default');
  });

  test('a bad nested value names the key, the value, the variable and what was expected', () => {
    const port = configError(() => loadConfig({ env: { L2LB_HEALTH_KUBE_PROXY_PORT: '70000' } }));
    expect(port.message).toBe('config: health.kubeProxy.port = 70000 (env L2LB_HEALTH_KUBE_PROXY_PORT): expected an integer from 1 to 65535');
    const timeout = configError(() => loadConfig({ env: { L2LB_HEALTH_KUBE_PROXY_TIMEOUT: 'soon' } }));
    expect(timeout.message).toBe(
      'config: health.kubeProxy.timeout = "soon" (env L2LB_HEALTH_KUBE_PROXY_TIMEOUT): expected a duration from 10ms to 1m (milliseconds or a string like "250ms", "1.5s", "2m")',
    );
  });

  test('bad values from env are reported with the variable as source', () => {
    const error = configError(() => loadConfig({ env: { L2LB_ANNOUNCE_GRATUITOUS_COUNT: 'seven' } }));
    expect(error.message).toBe(
      'config: announce.gratuitousCount = "seven" (env L2LB_ANNOUNCE_GRATUITOUS_COUNT): expected an integer from 0 to 100',
    );
  });
});
