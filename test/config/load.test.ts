import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { DEFAULT_CONFIG } from '../../src/config/schema.ts';
import { configError, loadIssues, tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('defaults', () => {
  test('no file and no env gives the embedded default, every value from "default"', () => {
    const loaded = loadConfig({ env: {} });
    expect(loaded.config).toEqual(DEFAULT_CONFIG);
    expect(loaded.file).toBeUndefined();
    expect(loaded.sources.get('api.listen')).toBe('default');
    expect(new Set(loaded.sources.values())).toEqual(new Set(['default']));
  });

  test('the defaults are what the brief promises', () => {
    expect(DEFAULT_CONFIG).toEqual({
      mode: 'standalone',
      interfaces: ['auto'],
      api: { listen: '127.0.0.1:9470' },
      vips: [],
      pools: [],
      kubernetes: {
        loadBalancerClass: 'l2lb.io/layer2', claimUnclassed: false, eips: true, announce: 'node', restartGrace: 5000, watchInactivity: 30_000, maxInflight: 16,
        leaderElection: { enabled: true, namespace: 'l2lb-system', name: 'l2lb', leaseDuration: 5000, renewDeadline: 3000, retryPeriod: 1000 },
      },
      health: { probeInterval: 100, failures: 3, successes: 2, kubeProxy: { enabled: false, port: 10256, path: '/healthz', interval: 1000, timeout: 500 } },
      membership: { enabled: 'auto', interval: 100, misses: 3, priority: 100, preempt: false },
      announce: { gratuitousCount: 3, gratuitousInterval: 1000, refreshInterval: 0, confirmInterval: 5_000, replyLimit: 100, probeCount: 3, probeInterval: 100, probeWait: 200 },
      stateFile: '/var/lib/l2lb/state.json',
      log: { level: 'info', format: 'json' },
    });
  });

  test('DEFAULT_CONFIG cannot be changed by a careless caller', () => {
    expect(() => (DEFAULT_CONFIG.vips as unknown[]).push({ ip: '192.0.2.1' })).toThrow();
    expect(() => {
      (DEFAULT_CONFIG.api as { listen: string }).listen = '0.0.0.0:1';
    }).toThrow();
  });

  test('unrelated environment variables are ignored', () => {
    expect(loadConfig({ env: { PATH: '/bin', HOME: '/root', L2LBX: '1' } }).config).toEqual(DEFAULT_CONFIG);
  });
});

describe('files', () => {
  test('YAML file: values normalized, rest defaulted, sources name the file', () => {
    const file = tmp.write(
      'basic.yaml',
      [
        'interfaces: [eth0, eth1]',
        'api:',
        '  listen: "[::1]:8080"',
        'vips:',
        '  - ip: 192.0.2.10',
        '  - ip: 2001:DB8:0:0::0010',
        '    interface: eth1',
        '    mac: 02:00:5E:00:53:AA',
        'announce:',
        '  gratuitousInterval: 1.5s',
        '  probeWait: 250ms',
        '  refreshInterval: 2m',
        'log: {level: debug}',
      ].join('\n'),
    );
    const loaded = loadConfig({ file, env: {} });
    expect(loaded.file).toBe(file);
    expect(loaded.config).toEqual({
      ...DEFAULT_CONFIG,
      interfaces: ['eth0', 'eth1'],
      api: { listen: '[::1]:8080' },
      vips: [{ ip: '192.0.2.10' }, { ip: '2001:db8::10', interface: 'eth1', mac: '02:00:5e:00:53:aa' }],
      announce: { ...DEFAULT_CONFIG.announce, gratuitousInterval: 1500, probeWait: 250, refreshInterval: 120_000 },
      log: { level: 'debug', format: 'json' },
    });
    expect(loaded.sources.get('vips')).toBe(`file ${file}`);
    expect(loaded.sources.get('announce.probeWait')).toBe(`file ${file}`);
    expect(loaded.sources.get('announce.probeCount')).toBe('default');
    expect(loaded.sources.get('log.format')).toBe('default');
  });

  test('JSON file (by extension)', () => {
    const file = tmp.write('basic.json', JSON.stringify({ stateFile: '', vips: [{ ip: '198.51.100.7' }], announce: { probeCount: 0 } }));
    const loaded = loadConfig({ file, env: {} });
    expect(loaded.config.stateFile).toBe('');
    expect(loaded.config.vips).toEqual([{ ip: '198.51.100.7' }]);
    expect(loaded.config.announce.probeCount).toBe(0);
  });

  test('L2LB_CONFIG names the file; --config wins over it', () => {
    const a = tmp.write('a.yaml', 'stateFile: /a\n');
    const b = tmp.write('b.yaml', 'stateFile: /b\n');
    expect(loadConfig({ env: { L2LB_CONFIG: a } }).config.stateFile).toBe('/a');
    expect(loadConfig({ file: b, env: { L2LB_CONFIG: a } }).config.stateFile).toBe('/b');
  });

  test('an empty file and a key left empty mean defaults', () => {
    expect(loadConfig({ file: tmp.write('empty.yaml', ''), env: {} }).config).toEqual(DEFAULT_CONFIG);
    expect(loadConfig({ file: tmp.write('nulls.yaml', 'api:\nvips:\n'), env: {} }).config).toEqual(DEFAULT_CONFIG);
  });

  test('a key named __proto__ is an unknown key, not a prototype change', () => {
    const file = tmp.write('proto.json', '{"__proto__": {"mode": "kubernetes"}}');
    const issues = loadIssues({ file });
    expect(issues.map((i) => i.path)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).mode).toBeUndefined();
  });
});

describe('precedence default < file < env', () => {
  test('env overrides the file, the file the default, per key', () => {
    const file = tmp.write('prec.yaml', 'api: {listen: "127.0.0.2:1000"}\nannounce: {gratuitousCount: 5, probeCount: 7}\n');
    const loaded = loadConfig({ file, env: { L2LB_ANNOUNCE_PROBE_COUNT: '1', L2LB_LOG_FORMAT: 'text' } });
    expect(loaded.config.api.listen).toBe('127.0.0.2:1000');
    expect(loaded.config.announce.gratuitousCount).toBe(5);
    expect(loaded.config.announce.probeCount).toBe(1);
    expect(loaded.config.log).toEqual({ level: 'info', format: 'text' });
    expect(loaded.sources.get('api.listen')).toBe(`file ${file}`);
    expect(loaded.sources.get('announce.probeCount')).toBe('env L2LB_ANNOUNCE_PROBE_COUNT');
    expect(loaded.sources.get('log.format')).toBe('env L2LB_LOG_FORMAT');
    expect(loaded.sources.get('log.level')).toBe('default');
  });

  test('a list from env replaces the file list as a whole', () => {
    const file = tmp.write('lists.yaml', 'vips: [{ip: 192.0.2.1}, {ip: 192.0.2.2}]\n');
    const loaded = loadConfig({ file, env: { L2LB_VIPS: '[{"ip":"192.0.2.3"}]' } });
    expect(loaded.config.vips).toEqual([{ ip: '192.0.2.3' }]);
    expect(loaded.sources.get('vips')).toBe('env L2LB_VIPS');
  });

  test('a mapping from env merges with the file; its own key variables win over it', () => {
    const file = tmp.write('merge.yaml', 'log: {level: warn}\n');
    const loaded = loadConfig({ file, env: { L2LB_LOG: '{"format":"text","level":"debug"}', L2LB_LOG_LEVEL: 'error' } });
    expect(loaded.config.log).toEqual({ level: 'error', format: 'text' });
    expect(loaded.sources.get('log.level')).toBe('env L2LB_LOG_LEVEL');
    expect(loaded.sources.get('log.format')).toBe('env L2LB_LOG');
  });
});

describe('tokens', () => {
  test('a non-loopback listen works with a token', () => {
    const loaded = loadConfig({ env: { L2LB_API_LISTEN: '0.0.0.0:9470', L2LB_API_TOKEN: 's3cret' } });
    expect(loaded.config.api).toEqual({ listen: '0.0.0.0:9470', token: 's3cret' });
  });

  test('tokenFile is read and trimmed at load, relative to the config file', () => {
    tmp.write('token.txt', '  tok-from-file\n');
    const file = tmp.write('with-token.yaml', 'api: {listen: "192.0.2.1:9470", tokenFile: token.txt}\n');
    const loaded = loadConfig({ file, env: {} });
    expect(loaded.config.api).toEqual({ listen: '192.0.2.1:9470', token: 'tok-from-file', tokenFile: join(tmp.dir, 'token.txt') });
    expect(loaded.sources.get('api.token')).toBe(`file ${join(tmp.dir, 'token.txt')}`);
  });

  test('loopback listeners need no token: 127/8, ::1, localhost', () => {
    for (const listen of ['127.0.0.1:1', '127.8.9.10:9470', '[::1]:9470', 'localhost:9470']) {
      expect(loadConfig({ env: { L2LB_API_LISTEN: listen } }).config.api.token).toBeUndefined();
    }
  });
});

describe('errors name key, value, expectation and source', () => {
  test('bad IP in vips[1].ip from a file', () => {
    const file = tmp.write('bad-ip.yaml', 'vips:\n  - ip: 192.0.2.1\n  - ip: 192.0.2.300\n');
    const error = configError(() => loadConfig({ file, env: {} }));
    expect(error.issues).toEqual([
      expect.objectContaining({ path: 'vips[1].ip', value: '192.0.2.300', source: `file ${file}` }),
    ]);
    expect(error.issues[0]!.expected).toContain('IPv4 or IPv6 address');
    expect(error.message).toBe(
      `config: vips[1].ip = "192.0.2.300" (file ${file}): expected an IPv4 or IPv6 address, e.g. 192.0.2.10 or 2001:db8::10`,
    );
  });

  test('bad MAC', () => {
    const [issue, ...rest] = loadIssues({ env: { L2LB_VIPS: '[{"ip":"192.0.2.1","mac":"02:00:5e:00:53"}]' } });
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ path: 'vips[0].mac', value: '02:00:5e:00:53', source: 'env L2LB_VIPS' });
    expect(issue!.message).toContain('MAC address');
    const [zero] = loadIssues({ env: { L2LB_VIPS: '[{"ip":"192.0.2.1","mac":"00:00:00:00:00:00"}]' } });
    expect(zero).toMatchObject({ path: 'vips[0].mac', value: '00:00:00:00:00:00' });
  });

  test('bad port, with the format line from the brief', () => {
    for (const listen of ['127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:http', '127.0.0.1']) {
      const error = configError(() => loadConfig({ env: { L2LB_API_LISTEN: listen } }));
      expect(error.issues).toHaveLength(1);
      expect(error.message).toStartWith(`config: api.listen = ${JSON.stringify(listen)} (env L2LB_API_LISTEN): expected `);
      expect(error.message).toContain('127.0.0.1:9470');
    }
    const [v6] = loadIssues({ env: { L2LB_API_LISTEN: '::1:9470' } });
    expect(v6!.message).toContain('[::1]:9470');
    const [host] = loadIssues({ env: { L2LB_API_LISTEN: 'example.com:9470' } });
    expect(host!.message).toContain('IP address or localhost');
  });

  test('unknown keys, with a suggestion, at any depth', () => {
    const file = tmp.write('typos.yaml', 'api: {lisen: "127.0.0.1:1"}\nlisten: x\nvips: [{ip: 192.0.2.1, ipp: 1}]\nstate_file: /x\nfoo: 1\n');
    const error = configError(() => loadConfig({ file, env: {} }));
    const byPath = new Map(error.issues.map((i) => [i.path, i]));
    expect([...byPath.keys()].sort()).toEqual(['api.lisen', 'foo', 'listen', 'state_file', 'vips[0].ipp']);
    expect(byPath.get('api.lisen')!.message).toBe('unknown key api.lisen (did you mean api.listen?)');
    expect(byPath.get('listen')!.message).toBe('unknown key listen (did you mean api.listen?)');
    expect(byPath.get('state_file')!.message).toBe('unknown key state_file (did you mean stateFile?)');
    expect(byPath.get('vips[0].ipp')!.message).toBe('unknown key vips[0].ipp (did you mean vips[0].ip?)');
    expect(byPath.get('foo')!.message).toBe('unknown key foo');
    expect(error.message).toContain(`config: api.lisen = "127.0.0.1:1" (file ${file}): unknown key api.lisen (did you mean api.listen?)`);
    const [token] = loadIssues({ file: tmp.write('tokne.yaml', 'api: {tokne: hunter2}\n') });
    expect(token).toMatchObject({ path: 'api.tokne', value: '***', message: 'unknown key api.tokne (did you mean api.token?)' });
  });

  test('unknown L2LB_ variable, named with a suggestion and without its value', () => {
    const error = configError(() => loadConfig({ env: { L2LB_API_TOKN: 'very-secret', L2LB_CONFIG: '' } }));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.source).toBe('env L2LB_API_TOKN');
    expect(error.message).toBe('config: env L2LB_API_TOKN: no config key has this variable (a typo? did you mean L2LB_API_TOKEN?)');
    expect(error.message).not.toContain('very-secret');
  });

  test('an unknown mode', () => {
    const file = tmp.write('kube.yaml', 'mode: bgp\n');
    const [issue] = loadIssues({ file });
    expect(issue).toMatchObject({ path: 'mode', value: 'bgp', source: `file ${file}` });
    expect(issue!.message).toBe('expected standalone or kubernetes');
  });

  test('pools: bad address, bad interface, duplicate name', () => {
    const file = tmp.write('pools.yaml', 'pools:\n  - {name: a, address: 192.0.2.0/24}\n  - {name: a, address: 192.0.2.300}\n  - {name: c, address: 198.51.100.0/24, interface: "can_reach:nope"}\n');
    const issues = loadIssues({ file });
    expect(issues.map((i) => i.path).sort()).toEqual(['pools[1].address', 'pools[1].name', 'pools[2].interface']);
    expect(issues.find((i) => i.path === 'pools[1].address')!.message).toContain('expected an IP, a CIDR');
  });

  test('non-loopback listen without a token is an error on api.token naming the listen source', () => {
    const error = configError(() => loadConfig({ env: { L2LB_API_LISTEN: '0.0.0.0:9470' } }));
    expect(error.issues).toEqual([expect.objectContaining({ path: 'api.token', value: undefined, source: 'env L2LB_API_LISTEN' })]);
    expect(error.message).toContain('a token is required when api.listen is not a loopback address');
  });

  test('token and tokenFile together; the token is never printed', () => {
    const error = configError(() =>
      loadConfig({ env: { L2LB_API_TOKEN: 'hunter2', L2LB_API_TOKEN_FILE: '/run/secrets/t' } }),
    );
    expect(error.issues).toEqual([expect.objectContaining({ path: 'api.token', value: '***', source: 'env L2LB_API_TOKEN' })]);
    expect(error.message).toContain('not both');
    expect(error.message).not.toContain('hunter2');
  });

  test('missing and empty tokenFile name the key and the path', () => {
    const missing = join(tmp.dir, 'no-such-token');
    const [issue] = loadIssues({ env: { L2LB_API_TOKEN_FILE: missing } });
    expect(issue).toMatchObject({ path: 'api.tokenFile', value: missing, source: 'env L2LB_API_TOKEN_FILE' });
    expect(issue!.message).toContain(missing);
    const empty = tmp.write('empty-token', ' \n');
    const [emptyIssue] = loadIssues({ env: { L2LB_API_TOKEN_FILE: empty } });
    expect(emptyIssue).toMatchObject({ path: 'api.tokenFile', value: empty });
    expect(emptyIssue!.message).toBe(`the API token file ${empty} is empty`);
  });

  test('unparseable YAML gives line:column', () => {
    const file = tmp.write('broken.yaml', 'api:\n  listen: "127.0.0.1:1"\nvips: [\n  {ip: 192.0.2.1}\n  - x\n');
    const error = configError(() => loadConfig({ file, env: {} }));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.source).toMatch(new RegExp(`^file ${file}:\\d+:\\d+$`));
    expect(error.message).toStartWith(`config: file ${file}:`);
    expect(error.message).toContain('invalid YAML');
    const tabs = tmp.write('tabs.yaml', 'api:\n\tlisten: x\n');
    expect(configError(() => loadConfig({ file: tabs, env: {} })).issues[0]!.source).toBe(`file ${tabs}:2:1`);
  });

  test('unparseable JSON, unreadable file, top level not a mapping', () => {
    const json = tmp.write('broken.json', '{\n  "stateFile": "/x",\n  "vips": [,]\n}\n');
    const [jsonIssue] = loadIssues({ file: json });
    expect(jsonIssue!.message).toContain('invalid JSON');
    expect(jsonIssue!.source).toBe(`file ${json}:3:12`);
    const missing = join(tmp.dir, 'nope.yaml');
    const [missingIssue] = loadIssues({ file: missing });
    expect(missingIssue).toMatchObject({ path: '', source: `file ${missing}` });
    expect(missingIssue!.message).toContain('cannot read');
    const both = loadIssues({ file: missing, env: { L2LB_NOPE: '1' } });
    expect(both.map((i) => i.source)).toEqual([`file ${missing}`, 'env L2LB_NOPE']);
    const list = tmp.write('list.yaml', '- a\n- b\n');
    expect(loadIssues({ file: list })[0]!.message).toBe('expected a mapping of config keys at the top level');
  });

  test('duplicate VIP names both indexes, also across spellings of one address', () => {
    const file = tmp.write('dup.yaml', 'vips:\n  - ip: 2001:db8::1\n  - ip: 192.0.2.1\n  - ip: 2001:DB8:0::1\n');
    const [issue, ...rest] = loadIssues({ file });
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ path: 'vips[2].ip', source: `file ${file}` });
    expect(issue!.message).toContain('vips[0]');
    expect(issue!.message).toContain('vips[2]');
  });

  test('every problem is reported at once', () => {
    const file = tmp.write('many.yaml', 'mode: bgp\nannounce: {gratuitousCount: 101, probeInterval: soon}\nlog: {level: loud}\n');
    const issues = loadIssues({ file, env: { L2LB_INTERFACES: 'eth0,a/b', L2LB_VIPZ: '[]' } });
    expect(issues.map((i) => i.path || i.source).sort()).toEqual(
      ['announce.gratuitousCount', 'announce.probeInterval', 'env L2LB_VIPZ', 'interfaces[1]', 'log.level', 'mode'].sort(),
    );
    const interfaces = issues.find((i) => i.path === 'interfaces[1]')!;
    expect(interfaces).toMatchObject({ value: 'a/b', source: 'env L2LB_INTERFACES' });
  });

  test('ConfigError is an Error with one line per issue', () => {
    const error = configError(() => loadConfig({ env: { L2LB_LOG_LEVEL: 'loud', L2LB_LOG_FORMAT: 'xml' } }));
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message.split('\n')).toEqual([
      'config: log.level = "loud" (env L2LB_LOG_LEVEL): expected one of debug, info, warn, error',
      'config: log.format = "xml" (env L2LB_LOG_FORMAT): expected json or text',
    ]);
  });
});

describe('kubernetes.announce', () => {
  const kube = { L2LB_MODE: 'kubernetes' };

  test('self (per-node mode) takes the node name from NODE_NAME, the downward API', () => {
    const c = loadConfig({ env: { ...kube, L2LB_KUBERNETES_ANNOUNCE: 'self', NODE_NAME: 'worker-7' } });
    expect(c.config.kubernetes).toMatchObject({ announce: 'self', nodeName: 'worker-7' });
    expect(c.sources.get('kubernetes.nodeName')).toBe('env NODE_NAME');
    // The config key wins over the variable.
    expect(loadConfig({ env: { ...kube, L2LB_KUBERNETES_ANNOUNCE: 'self', L2LB_KUBERNETES_NODE_NAME: 'edge-1', NODE_NAME: 'worker-7' } }).config.kubernetes.nodeName).toBe('edge-1');
  });

  test('self without a node name, or with one that is no Node name, is refused saying what to set', () => {
    const missing = loadIssues({ env: { ...kube, L2LB_KUBERNETES_ANNOUNCE: 'self' } });
    expect(missing.map((i) => i.path)).toEqual(['kubernetes.nodeName']);
    expect(missing[0]!.message).toContain('NODE_NAME from the downward API');
    const bad = loadIssues({ env: { ...kube, L2LB_KUBERNETES_ANNOUNCE: 'self', NODE_NAME: 'Not_A_Node' } });
    expect(bad[0]!.message).toContain('"Not_A_Node" is no Node name');
  });

  test('leader keeps the answer-with-our-own-MAC behaviour; an unknown value names all three', () => {
    expect(loadConfig({ env: { ...kube, L2LB_KUBERNETES_ANNOUNCE: 'leader' } }).config.kubernetes.announce).toBe('leader');
    const issues = loadIssues({ env: { ...kube, L2LB_KUBERNETES_ANNOUNCE: 'gateway' } });
    expect(issues[0]!.path).toBe('kubernetes.announce');
    expect(issues[0]!.message).toMatch(/node .*self .*leader/);
  });
});
