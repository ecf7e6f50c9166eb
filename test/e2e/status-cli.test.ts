/**
 * `l2lb status` against a running compiled binary, as an operator runs it on the box: inside the namespace
 * of the running process, with `--api`, with the same `--config` the process runs with, as `--json`, with
 * `--watch`, against nothing, and with a bad flag; and from the source under Bun and Deno.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { join } from 'node:path';
import { type Pair, createPair, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, BUN, DENO, ROOT, ensureBinary, startL2lb } from '../support/l2lb.ts';
import { tempDir } from '../support/tmp.ts';

setDefaultTimeout(60_000);
const root = requireRoot('e2e status command');
let pair: Pair;
let l2: Running;
let bin: string;
// At file level: the config file must outlive every test (a directory made in beforeAll goes sooner).
const dir = tempDir('l2lb-status-e2e-');

interface Vip {
  ip: string;
  state: string;
  mac: string;
  interface: string;
  since: string;
}

/** Runs a command inside namespace A with no L2LB_* from the caller's environment. */
function runIn(cmd: string[], env: Record<string, string> = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('L2LB_'))) as Record<string, string>;
  const r = Bun.spawnSync(['ip', 'netns', 'exec', pair.nsA, ...cmd], { env: { ...base, ...env }, stdout: 'pipe', stderr: 'pipe', timeout: 20_000 });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const api = () => `http://127.0.0.1:${l2.port}`;

/** The row of `address` in the address table of a picture. */
function rowOf(text: string, address: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(`${address} `));
}

describe.skipIf(!root)('l2lb status (compiled binary)', () => {
  beforeAll(async () => {
    bin = ensureBinary();
    pair = createPair('l2st');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    // B has .51 already: l2lb's probe finds the conflict.
    sh(['ip', 'addr', 'add', '192.0.2.51/24', 'dev', pair.ifB], { ns: pair.nsB });
    l2 = await startL2lb(pair.nsA, {
      interfaces: [pair.ifA],
      vips: [{ ip: '192.0.2.50' }, { ip: '192.0.2.51' }, { ip: '2001:db8::50' }, { ip: '192.0.2.52', mac: '02:00:5e:00:53:01' }],
      announce: { probeCount: 1, probeInterval: '50ms', probeWait: '100ms', gratuitousCount: 1 },
    }, { dir });
    await waitFor('VIPs settled', () => {
      const vips = l2.api('GET', '/v1/vips').json?.vips as Vip[] | undefined;
      return vips?.length === 4 && vips.every((v) => v.state === (v.ip === '192.0.2.51' ? 'conflict' : 'active')) || undefined;
    }, 5_000);
    // Requests for .50, so its counters are not zero.
    sh(['arping', '-c', '3', '-w', '3', '-I', pair.ifB, '192.0.2.50'], { ns: pair.nsB });
  });

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('the table shows every VIP with its state, MAC and counters, and the conflict with the other host\'s MAC', () => {
    const r = runIn([bin, 'status', '--api', api()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const text = r.stdout;
    expect(text.split('\n')[0]).toStartWith('l2lb ');
    expect(text.split('\n')[0]).toContain('standalone mode');
    expect(text).not.toMatch(/\x1b\[/);
    const vips = l2.api('GET', '/v1/vips').json.vips as Vip[];
    for (const v of vips) {
      const row = rowOf(text, v.ip);
      expect(row).toBeDefined();
      const cells = row!.split(/\s{2,}/);
      expect(cells.slice(0, 4)).toEqual([v.ip, v.state, pair.ifA, v.mac]);
      expect(cells[4]).toMatch(/^\d+s ago$/);
    }
    expect(rowOf(text, '192.0.2.52')).toContain('02:00:5e:00:53:01');
    expect(rowOf(text, '192.0.2.51')).toEndWith(`address in use by ${pair.macB}`);
    // arping sent 3 requests and got 3 replies: the counts /v1/vips carries.
    expect(rowOf(text, '192.0.2.50')!.split(/\s{2,}/).slice(5, 7).map(Number)).toEqual([3, 3]);
    expect(text).toContain('Last events');
    expect(text).toMatch(/\n\d\d:\d\d:\d\dZ +conflict +192\.0\.2\.51 +vip conflict/);
  });

  test('--json parses and its addresses match /v1/vips', () => {
    const r = runIn([bin, 'status', '--json', '--api', api()]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const vips = l2.api('GET', '/v1/vips').json.vips as Vip[];
    expect(report.mode).toBe('standalone');
    expect(report.api).toBe(api());
    expect(report.addresses.map((a: { address: string; state: string; mac: string; interface: string; since: string }) =>
      ({ ip: a.address, state: a.state, mac: a.mac, interface: a.interface, since: a.since })))
      .toEqual(vips.map((v) => ({ ip: v.ip, state: v.state, mac: v.mac, interface: v.interface, since: v.since })));
    expect(report.addresses.find((a: { address: string }) => a.address === '192.0.2.50')).toMatchObject({ requests: 3, replies: 3 });
    expect(report.events.some((e: { kind: string; address: string }) => e.kind === 'conflict' && e.address === '192.0.2.51')).toBe(true);
  });

  test('without --api it finds the API through the same --config the process runs with, or L2LB_API_LISTEN', () => {
    const file = join(l2.dir, 'l2lb.json');
    const r = runIn([bin, 'status', '--config', file]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toContain(api());
    expect(rowOf(r.stdout, '192.0.2.50')).toContain('active');
    const e = runIn([bin, 'status', '--json'], { L2LB_API_LISTEN: `127.0.0.1:${l2.port}` });
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout).addresses).toHaveLength(4);
  });

  test('an unreachable API exits 1 with one line naming the address tried', () => {
    const r = runIn([bin, 'status', '--api', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('l2lb status: cannot reach the l2lb admin API at http://127.0.0.1:9: connection refused (is l2lb running, and listening there? see api.listen, or give --api URL)\n');
    // Found through the environment, the message says so.
    const env = runIn([bin, 'status'], { L2LB_API_LISTEN: '127.0.0.1:9' });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain('at http://127.0.0.1:9 (api.listen from env L2LB_API_LISTEN): connection refused');
  });

  test('a bad flag exits 2 with the reason and the usage', () => {
    const r = runIn([bin, 'status', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith('l2lb status: unknown argument "--frobnicate"\n');
    expect(r.stderr).toContain('l2lb status [--api URL]');
    const w = runIn([bin, 'status', '--watch', '0', '--api', api()]);
    expect(w.code).toBe(2);
    expect(w.stderr).toContain('--watch "0"');
  });

  test('--watch 1 prints a new frame every second until it is stopped', async () => {
    const proc = Bun.spawn(['ip', 'netns', 'exec', pair.nsA, bin, 'status', '--watch', '1', '--events', '0', '--api', api()], { stdout: 'pipe', stderr: 'pipe' });
    let out = '';
    const reading = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of proc.stdout) out += dec.decode(chunk, { stream: true });
    })();
    const frames = () => out.split('\n').filter((l) => l.startsWith('l2lb ')).length;
    try {
      await waitFor('two frames', () => frames() >= 2 || undefined, 3_000, 50);
    } finally {
      proc.kill('SIGINT');
      await proc.exited;
      await reading;
    }
    // Piped: no screen clearing, one picture after the other, each with every VIP.
    expect(out).not.toMatch(/\x1b\[/);
    expect(out.split('\n').filter((l) => l.startsWith('192.0.2.50 ')).length).toBe(frames());
  });

  test('the source runs the same command under Bun and Deno', () => {
    const expected = (l2.api('GET', '/v1/vips').json.vips as Vip[]).map((v) => v.ip);
    for (const cmd of [[BUN, join(ROOT, 'src/main.ts')], [DENO, 'run', '-A', join(ROOT, 'src/main.ts')]]) {
      const r = runIn([...cmd, 'status', '--json', '--api', api()]);
      expect({ cmd: cmd[0], code: r.code, stderr: r.stderr }).toEqual({ cmd: cmd[0], code: 0, stderr: '' });
      expect(JSON.parse(r.stdout).addresses.map((a: { address: string }) => a.address)).toEqual(expected);
      const t = runIn([...cmd, 'status', '--api', api()]);
      expect(t.code).toBe(0);
      expect(rowOf(t.stdout, '2001:db8::50')).toContain('active');
    }
  });
});
