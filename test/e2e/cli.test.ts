/**
 * The compiled binary's command line: version, check-config, config errors (exit 2 naming the key), and
 * startup without CAP_NET_RAW (exit 1 naming the capability, no stack trace).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Pair, createPair, requireRoot } from '../support/netns.ts';
import { ROOT, ensureBinary } from '../support/l2lb.ts';
import { tempDir } from '../support/tmp.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
let bin: string;
const dir = tempDir('l2lb-cli-');

function run(args: string[], env: Record<string, string> = {}, prefix: string[] = []) {
  // A clean environment: no L2LB_* from the caller leaks in.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('L2LB_'))) as Record<string, string>;
  const r = Bun.spawnSync([...prefix, bin, ...args], { env: { ...base, ...env }, stdout: 'pipe', stderr: 'pipe', timeout: 15000 });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

beforeAll(() => {
  bin = ensureBinary();
});

describe('l2lb command line (compiled binary)', () => {
  test('--version prints the package version', () => {
    const r = run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith(`l2lb ${pkg.version} (commit `);
  });

  test('--help exits 0 and an unknown argument exits 2 with usage', () => {
    expect(run(['--help']).code).toBe(0);
    const r = run(['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown argument "--frobnicate"');
  });

  test('check-config prints the effective config with the token masked', () => {
    const r = run(['check-config'], { L2LB_API_TOKEN: 'hunter2-secret', L2LB_ANNOUNCE_GRATUITOUS_COUNT: '5' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('gratuitousCount: 5');
    expect(r.stdout).toContain('L2LB_ANNOUNCE_GRATUITOUS_COUNT');
    expect(r.stdout).toContain('***');
    expect(r.stdout).not.toContain('hunter2-secret');
  });

  test('a bad environment value exits 2 naming the key, the value, the variable and what was expected', () => {
    for (const cmd of [['check-config'], ['run']]) {
      const r = run(cmd, { L2LB_API_LISTEN: 'nowhere' });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('api.listen');
      expect(r.stderr).toContain('"nowhere"');
      expect(r.stderr).toContain('L2LB_API_LISTEN');
      expect(r.stderr).toContain('expected');
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  test('a bad file value exits 2 naming the key path and the file', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'vips:\n  - ip: 192.0.2.10\n  - ip: 192.0.2.300\n');
    const r = run(['--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('vips[1].ip');
    expect(r.stderr).toContain('192.0.2.300');
    expect(r.stderr).toContain(file);
  });

  test('a non-loopback API address without a token is refused (exit 2)', () => {
    const r = run(['run'], { L2LB_API_LISTEN: '0.0.0.0:9470' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('api.token');
  });
});

const root = requireRoot('e2e cli privileges');
describe.skipIf(!root)('privileges', () => {
  let pair: Pair;
  beforeAll(() => {
    pair = createPair('l2cli');
  });
  afterAll(() => pair?.destroy());

  test('without CAP_NET_RAW the binary exits 1 with a message naming the capability, not a stack trace', () => {
    const env = { L2LB_INTERFACES: pair.ifA, L2LB_API_LISTEN: '127.0.0.1:19399', L2LB_STATE_FILE: '' };
    // capsh hands what follows `--` to the shell: $0 is the binary, "$@" its arguments.
    const r = run(['run'], env, ['ip', 'netns', 'exec', pair.nsA, 'capsh', '--drop=cap_net_raw', '--', '-c', 'exec "$0" "$@"']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CAP_NET_RAW');
    expect(r.stderr).toContain('AmbientCapabilities=CAP_NET_RAW');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
