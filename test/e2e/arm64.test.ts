/**
 * The arm64 binary, run as a user would on an arm64 box, here under qemu-user (Debian `qemu-user`, with the
 * arm64 glibc of `libc6-arm64-cross` as the sysroot): `--version`, `check-config`, and the standalone
 * responder end to end over a veth pair — ARP from arping and NS from ndisc6 in another namespace, a VIP
 * added through the admin API.
 *
 * What qemu-user 7.2 lacks (checked): it translates no SOL_PACKET option (setsockopt PACKET_IGNORE_OUTGOING
 * and PACKET_ADD_MEMBERSHIP fail with ENOPROTOOPT, getsockopt PACKET_STATISTICS with EOPNOTSUPP). Workers,
 * bun:ffi into the sysroot's libc.so.6, eventfd, poll, netlink, AF_PACKET, SO_ATTACH_FILTER and
 * SO_RCVBUFFORCE all work. l2lb used to refuse the socket; it now runs on the fallbacks (README "Older
 * kernels and emulators"), which this test shows working.
 *
 * The binary: L2LBTEST_ARM64_BINARY, else dist/l2lb-arm64, cross-compiled here when it is missing or older
 * than the sources (Bun fetches the aarch64 runtime from the npm registry once, into its cache).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Pair, arpingMacs, createPair, ndiscMacs, isRoot, sh, waitFor } from '../support/netns.ts';
import { BUN, ROOT, type Running, startL2lb } from '../support/l2lb.ts';
import { metricSum } from '../support/metrics.ts';
import { tempDir } from '../support/tmp.ts';
import pkg from '../../package.json' with { type: 'json' };

const SYSROOT = '/usr/aarch64-linux-gnu';
const LOADER = `${SYSROOT}/lib/ld-linux-aarch64.so.1`;
const QEMU = Bun.which('qemu-aarch64');
const FALLBACK_MSG = 'socket option not available: using a fallback';

const missing = !isRoot ? 'needs root (network namespaces)'
  : !QEMU ? 'qemu-aarch64 not found (apt-get install qemu-user)'
  : !existsSync(LOADER) ? `${LOADER} not found (apt-get install libc6-arm64-cross)`
  : undefined;
if (missing) console.warn(`SKIP e2e arm64: ${missing}`);

/** The newest modification time of the files the binary is built from. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(ROOT, 'src'));
  for (const f of ['package.json', 'build/compile.ts']) newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
  return newest;
}

/** The arm64 binary to run, cross-compiled first when needed. */
function arm64Binary(): string {
  const given = process.env.L2LBTEST_ARM64_BINARY;
  if (given) {
    if (!existsSync(given)) throw new Error(`L2LBTEST_ARM64_BINARY: no file at ${given}`);
    return given;
  }
  const out = join(ROOT, 'dist/l2lb-arm64');
  if (!existsSync(out) || statSync(out).mtimeMs < newestSource()) {
    const r = Bun.spawnSync({ cmd: [BUN, 'build/compile.ts', '--target=bun-linux-arm64', `--outfile=${out}`], cwd: ROOT, stdout: 'pipe', stderr: 'pipe' });
    if (r.exitCode !== 0) throw new Error(`cross-compiling ${out} failed (exit ${r.exitCode}):\n${r.stderr.toString()}${r.stdout.toString()}`);
  }
  return out;
}

describe.skipIf(missing !== undefined)('the arm64 binary under qemu-aarch64', () => {
  let binary: string;
  let qemu: string[];
  let pair: Pair;
  let l2: Running | undefined;

  /** Runs the binary under qemu (outside any namespace: these commands touch no network). */
  const exec = (args: string[]) => {
    const r = Bun.spawnSync({ cmd: [...qemu, ...args], stdout: 'pipe', stderr: 'pipe', env: process.env });
    return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };

  const arping = (ip: string, count = 2) => arpingMacs(pair.nsB, pair.ifB, ip, { count });
  const ndisc = (ip: string) => ndiscMacs(pair.nsB, pair.ifB, ip);

  beforeAll(() => {
    binary = arm64Binary();
    qemu = [QEMU!, '-L', SYSROOT, binary];
    pair = createPair('l2a64');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    sh(['ip', 'addr', 'add', '2001:db8::2/64', 'dev', pair.ifB, 'nodad'], { ns: pair.nsB });
  }, 120000);

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('the binary is an aarch64 ELF whose interpreter is /lib/ld-linux-aarch64.so.1', () => {
    const head = readFileSync(binary).subarray(0, 4096);
    expect(Array.from(head.subarray(0, 4))).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    expect(new DataView(head.buffer, head.byteOffset).getUint16(18, true)).toBe(183); // EM_AARCH64
    expect(head.toString('latin1')).toContain('/lib/ld-linux-aarch64.so.1\0');
  });

  test('--version prints the version of package.json (and the arm64 target, where the build says which)', () => {
    const r = exec(['--version']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toStartWith(`l2lb ${pkg.version}`);
    if (r.stdout.includes('target ')) expect(r.stdout).toContain('target linux-arm64');
  }, 30000);

  test('check-config prints the effective config of a valid file (exit 0) and names the bad key of another (exit 2)', () => {
    const dir = tempDir('l2lb-arm64-');
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ interfaces: ['eth9'], vips: [{ ip: '192.0.2.10' }, { ip: '2001:db8::10' }], api: { token: 'secret-token' } }));
    const ok = exec(['check-config', '--config', good, '--json']);
    expect(ok.code).toBe(0);
    const cfg = JSON.parse(ok.stdout);
    expect(cfg).toMatchObject({ mode: 'standalone', interfaces: ['eth9'], vips: [{ ip: '192.0.2.10' }, { ip: '2001:db8::10' }] });
    expect(ok.stdout).not.toContain('secret-token');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ vips: [{ ip: '300.1.1.1' }] }));
    const no = exec(['check-config', '--config', bad]);
    expect(no.code).toBe(2);
    expect(no.stderr).toContain('vips[0].ip = "300.1.1.1"');
  }, 30000);

  test('standalone end to end: answers ARP and NS over the veth pair, a VIP added through the API too, and never hears itself', async () => {
    l2 = await startL2lb(pair.nsA, {
      interfaces: [pair.ifA],
      vips: [{ ip: '192.0.2.10', interface: pair.ifA }, { ip: '2001:db8::10', interface: pair.ifA }],
      announce: { gratuitousCount: 3, gratuitousInterval: '100ms', probeCount: 2, probeInterval: '50ms', probeWait: '100ms' },
    }, { command: qemu });
    const running = l2;
    await waitFor('VIPs active', () => {
      const r = running.api('GET', '/v1/vips');
      return r.json?.vips?.length === 2 && r.json.vips.every((v: { state: string }) => v.state === 'active');
    }, 10000);
    // "active" is the main thread's word; under emulation the worker may take some 100 ms more to get the
    // new table (natively microseconds), so the first answer is awaited, then every request is answered.
    await waitFor('the first ARP answer', () => arping('192.0.2.10', 1).length > 0, 5000, 0);
    expect(arping('192.0.2.10')).toEqual([pair.macA, pair.macA]);
    expect(ndisc('2001:db8::10')).toEqual([pair.macA]);

    expect(running.api('PUT', '/v1/vips/192.0.2.40', { interface: pair.ifA }).status).toBe(201);
    expect(running.api('PUT', '/v1/vips/2001:db8::40', { interface: pair.ifA }).status).toBe(201);
    await waitFor('API VIPs active', () => ['192.0.2.40', '2001:db8::40'].every((ip) => running.api('GET', `/v1/vips/${ip}`).json?.state === 'active'), 5000);
    await waitFor('the first answer for the API VIP', () => arping('192.0.2.40', 1).length > 0, 5000, 0);
    expect(arping('192.0.2.40', 1)).toEqual([pair.macA]);
    expect(ndisc('2001:db8::40')).toEqual([pair.macA]);

    const status = running.api('GET', '/v1/status').json;
    expect(status).toMatchObject({ ready: true, mode: 'standalone' });
    const iface = status.interfaces[0];
    expect(iface).toMatchObject({ name: pair.ifA, socketOpen: true });
    expect(iface.error).toBeUndefined();
    // What the emulator lacks is said once each in the log and listed in the status.
    const options: string[] = (iface.socketFallbacks ?? []).map((f: { option: string }) => f.option);
    const qemuVersion = Bun.spawnSync({ cmd: [QEMU!, '--version'], stdout: 'pipe' }).stdout.toString();
    if (/version 7\.2\./.test(qemuVersion)) expect(options).toEqual(['PACKET_IGNORE_OUTGOING', 'PACKET_ADD_MEMBERSHIP', 'PACKET_STATISTICS']); // the order of OPTIONAL_SOCKET_OPTIONS
    const logged = running.logs().split('\n').filter((l) => l.includes(FALLBACK_MSG)).map((l) => JSON.parse(l).option);
    expect(logged.sort()).toEqual([...options].sort());

    // Its own probes and bursts (4 VIPs, 3 gratuitous frames each at least) never came back in.
    // The worker posts its counters every 250 ms: wait for B's last request to be in them.
    const m = await waitFor('counters posted', () => {
      const text = running.api('GET', '/metrics').text;
      return metricSum(text, 'l2lb_replies_total', { vip: '2001:db8::40' }) >= 1 && text;
    }, 2000);
    expect(metricSum(m, 'l2lb_frames_sent_total', { interface: pair.ifA })).toBeGreaterThanOrEqual(4 * 3);
    expect(metricSum(m, 'l2lb_ignored_total', { reason: 'own-frame' })).toBe(0);
    expect(metricSum(m, 'l2lb_conflicts_total')).toBe(0);
    expect(metricSum(m, 'l2lb_replies_total', { vip: '192.0.2.10', protocol: 'arp' })).toBeGreaterThanOrEqual(3);
    expect(metricSum(m, 'l2lb_replies_total', { vip: '192.0.2.40' })).toBeGreaterThanOrEqual(2);

    expect(await running.stop('SIGTERM')).toBe(0);
    l2 = undefined;
    expect(running.logs()).toContain('"msg":"stopping"');
  }, 45000);
});
