/**
 * What a user downloads and a packager installs (issue 10, items 2 and 6): `npm run release` makes the same
 * bytes twice, the archives hold what the README says with fixed owners, modes and times, the binary tells
 * its version, commit, build date, runtime and target, every command has its --help with the exit statuses,
 * and a running l2lb writes no file but its state file.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { archiveFiles, archiveName, packageVersion, release } from '../build/release.ts';
import { buildFacts } from '../build/compile.ts';
import { ROOT } from './support/l2lb.ts';
import { type Pair, createPair, isRoot, sh, spawnIn, waitFor } from './support/netns.ts';
import { tempDir } from './support/tmp.ts';

const version = packageVersion();
const outA = tempDir('l2lb-release-a-');
const outB = tempDir('l2lb-release-b-');
const unpacked = tempDir('l2lb-release-x-');
const quiet = () => {};
let facts: Awaited<ReturnType<typeof buildFacts>>;
const timings: Record<string, number> = {};

/** `tar -tv` of an archive: mode, owner/group, size, date, time, name per entry. */
function listing(archive: string): { mode: string; owner: string; mtime: string; name: string }[] {
  return sh(['tar', '--numeric-owner', '--utc', '--full-time', '-tvzf', archive]).stdout.trim().split('\n').map((line) => {
    const [mode, owner, , date, time, name] = line.split(/\s+/);
    return { mode: mode!, owner: owner!, mtime: `${date}T${time}Z`, name: name! };
  });
}

beforeAll(async () => {
  facts = await buildFacts(ROOT);
  let t0 = performance.now();
  await release({ out: outA, log: quiet });
  timings.releaseA = performance.now() - t0;
  t0 = performance.now();
  await release({ out: outB, log: quiet });
  timings.releaseB = performance.now() - t0;
  sh(['tar', '-xzf', join(outA, `${archiveName(version, 'x64')}.tar.gz`), '-C', unpacked]);
}, 180_000);

afterAll(() => {
  console.log(`release timings (ms): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`);
});

describe('release archives (npm run release)', () => {
  test('package.json runs build/release.ts as `npm run release`', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.release).toBe('bun build/release.ts');
  });

  test('two runs give the same bytes: the same SHA256SUMS, and sha256sum -c accepts it', () => {
    const sums = readFileSync(join(outA, 'SHA256SUMS'), 'utf8');
    console.log(`SHA256SUMS (commit ${facts.commit}):\n${sums}`);
    if (sums !== readFileSync(join(outB, 'SHA256SUMS'), 'utf8')) {
      // Say which members differ (a source file edited between the two runs also shows up here).
      for (const arch of ['x64', 'arm64']) {
        const name = `${archiveName(version, arch)}.tar.gz`;
        const [a, b] = [outA, outB].map((out) => { const d = tempDir('l2lb-release-cmp-'); sh(['tar', '-xzf', join(out, name), '-C', d]); return d; });
        console.log(`${name}: ${sh(['diff', '-rq', a!, b!], { check: false }).stdout || 'same members; the tar or gzip bytes differ'}`);
      }
    }
    expect(sums).toBe(readFileSync(join(outB, 'SHA256SUMS'), 'utf8'));
    expect(sums.trim().split('\n').map((l) => l.split('  ')[1])).toEqual([
      `${archiveName(version, 'arm64')}.tar.gz`,
      `${archiveName(version, 'x64')}.tar.gz`,
    ]);
    expect(readdirSync(outA).sort()).toEqual(['SHA256SUMS', `${archiveName(version, 'arm64')}.tar.gz`, `${archiveName(version, 'x64')}.tar.gz`]);
    // sha256sum -c reads the names relative to the working directory.
    const r = Bun.spawnSync(['sha256sum', '-c', 'SHA256SUMS'], { cwd: outA, stdout: 'pipe', stderr: 'pipe' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain(`${archiveName(version, 'x64')}.tar.gz: OK`);
  }, 30_000);

  test('each archive: one folder with the binary, README, LICENSE, example config, systemd unit and manifests; owner 0, fixed modes, the commit time, sorted', () => {
    const commitTime = new Date(facts.epoch! * 1000).toISOString().replace(/\.000Z$/, 'Z');
    for (const arch of ['x64', 'arm64']) {
      const name = archiveName(version, arch);
      const entries = listing(join(outA, `${name}.tar.gz`));
      const files = entries.filter((e) => !e.mode.startsWith('d')).map((e) => e.name);
      expect(files.sort()).toEqual([`${name}/l2lb`, ...archiveFiles().map((f) => `${name}/${f}`)].sort());
      for (const want of ['README.md', 'LICENSE', 'config/l2lb.example.yaml', 'config/deploy/l2lb.service', 'config/deploy/l2lb.yaml', 'config/deploy/l2lb-daemonset.yaml', 'config/deploy/namespace.yaml', 'config/deploy/kustomization.yaml', 'config/rbac/l2lb.yaml', 'config/crd/eips.network.kubesphere.io.yaml']) {
        expect(files).toContain(`${name}/${want}`);
      }
      expect(entries.map((e) => e.name)).toEqual([...entries.map((e) => e.name)].sort());
      for (const e of entries) {
        const mode = e.mode.startsWith('d') ? 'drwxr-xr-x' : e.name === `${name}/l2lb` ? '-rwxr-xr-x' : '-rw-r--r--';
        expect(e).toEqual({ name: e.name, mode, owner: '0/0', mtime: commitTime });
      }
    }
  }, 30_000);

  test('the gzip header carries no name and no time (gzip -n)', () => {
    const head = readFileSync(join(outA, `${archiveName(version, 'x64')}.tar.gz`)).subarray(0, 10);
    expect([head[0], head[1]]).toEqual([0x1f, 0x8b]);
    expect(head[3]! & 0x08).toBe(0); // FNAME not set
    expect(head.readUInt32LE(4)).toBe(0); // MTIME 0
  }, 30_000);

  test('the LICENSE is the Apache License 2.0, as package.json says', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(pkg.license).toBe('Apache-2.0');
    const text = readFileSync(join(unpacked, archiveName(version, 'x64'), 'LICENSE'), 'utf8');
    expect(text).toContain('Apache License');
    expect(text).toContain('Version 2.0, January 2004');
  });

  test('the x64 binary says its version, commit, build date (the commit time), runtime and target', () => {
    const r = Bun.spawnSync([join(unpacked, archiveName(version, 'x64'), 'l2lb'), '--version'], { stdout: 'pipe', stderr: 'pipe' });
    expect(r.exitCode).toBe(0);
    const bun = JSON.parse(readFileSync(join(ROOT, 'node_modules/bun/package.json'), 'utf8')) as { version: string };
    expect(r.stdout.toString()).toBe(`l2lb ${version} (commit ${facts.commit}, built ${facts.date}, bun ${bun.version}, target linux-x64)\n`);
    expect(facts.commit).toMatch(/^[0-9a-f]{12}(-dirty)?$/);
  }, 30_000);

  test('the arm64 binary is an aarch64 ELF built for linux-arm64 (run under qemu elsewhere)', () => {
    const dir = tempDir('l2lb-release-arm-');
    sh(['tar', '-xzf', join(outA, `${archiveName(version, 'arm64')}.tar.gz`), '-C', dir]);
    const binary = readFileSync(join(dir, archiveName(version, 'arm64'), 'l2lb'));
    expect([...binary.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    expect(binary.readUInt16LE(18)).toBe(183); // EM_AARCH64
    expect(binary.includes('"linux-arm64"') || binary.includes("'linux-arm64'") || binary.includes('linux-arm64')).toBe(true);
    expect(binary.includes(facts.commit)).toBe(true);
  }, 30_000);

  test('run from source, --version says so: commit unknown, target source', () => {
    const r = Bun.spawnSync([process.execPath, join(ROOT, 'src/main.ts'), '--version'], { stdout: 'pipe', stderr: 'pipe' });
    expect(r.stdout.toString()).toMatch(new RegExp(`^l2lb ${version.replace(/\./g, '\\.')} \\(commit unknown, built unknown, bun \\S+, target source\\)\\n$`));
  }, 30_000);

  test("README: the download-and-run path names this release's files, and its first command is still the build from source", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const firstCommand = /```sh\n([^\n]+)\n/.exec(readme)![1];
    expect(firstCommand).toBe('npm ci && npm run build && sudo ./dist/l2lb');
    const missing = ['curl -LO', 'sha256sum -c', 'tar -x', 'setcap cap_net_raw+ep', `${archiveName(version, 'x64')}.tar.gz`, 'SHA256SUMS'].filter((want) => !readme.includes(want));
    expect(missing).toEqual([]);
  });
});

describe('--help for every command, and the exit statuses', () => {
  const binary = () => join(unpacked, archiveName(version, 'x64'), 'l2lb');
  const run = (args: string[]) => {
    const r = Bun.spawnSync([binary(), ...args], { stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '' } });
    return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };

  test('l2lb --help, run --help, check-config --help, status --help: exit 0, the usage of that command and what each exit status means', () => {
    const main = run(['--help']);
    expect(main.code).toBe(0);
    for (const cmd of ['[run]', 'check-config', 'status', '--version', '[COMMAND] --help']) expect(main.stdout).toContain(`l2lb ${cmd}`);
    for (const [args, usage] of [[['run', '--help'], 'l2lb [run] [--config PATH]'], [['check-config', '--help'], 'l2lb check-config [--config PATH] [--json]'], [['--help', 'check-config'], 'l2lb check-config'], [['status', '--help'], 'l2lb status [--api URL]'], [['-h', 'run'], 'l2lb [run]']] as const) {
      const r = run([...args]);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
      expect(r.stdout).toContain(usage);
      expect(r.stdout).toContain('Exit status:');
    }
    for (const text of [main.stdout, run(['run', '--help']).stdout, run(['check-config', '--help']).stdout]) {
      expect(text).toMatch(/^ {2}0 {2}/m);
      expect(text).toMatch(/^ {2}1 {2}runtime failure/m);
      expect(text).toMatch(/^ {2}2 {2}bad config or usage/m);
    }
  }, 30_000);

  test('a bad argument exits 2 with the reason and the usage on stderr; the README lists the exit statuses', () => {
    const r = run(['run', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown argument "--no-such-flag"');
    expect(r.stdout).toBe('');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect([/\| *`0` *\|/, /\| *`1` *\| *runtime failure/i, /\| *`2` *\| *bad config or usage/i].filter((re) => !re.test(readme)).map(String)).toEqual([]);
  }, 30_000);
});

const strace = Bun.which('strace');
if (!isRoot || !strace) console.warn(`SKIP release: files written by a running l2lb: ${!isRoot ? 'needs root (network namespaces)' : 'strace is not installed'}`);
describe.skipIf(!isRoot || !strace)('what a running l2lb writes', () => {
  let pair: Pair;
  beforeAll(() => {
    pair = createPair('l2wr');
  });
  afterAll(() => pair?.destroy());

  test('no file but its state file (written beside it and renamed into place); logs go to stderr only', async () => {
    const dir = tempDir('l2lb-writes-');
    const state = join(dir, 'state', 'state.json');
    const trace = join(dir, 'trace');
    const port = 19497;
    const proc = spawnIn(pair.nsA, [
      strace!, '-f', '-qq', '-o', trace,
      '-e', 'trace=open,openat,openat2,creat,rename,renameat,renameat2,mkdir,mkdirat,unlink,unlinkat,rmdir,truncate,link,linkat,symlink,symlinkat,chmod,fchmodat,chown,fchownat,lchown,utimensat,mknod,mknodat',
      join(unpacked, archiveName(version, 'x64'), 'l2lb'), 'run',
    ], { env: { L2LB_INTERFACES: pair.ifA, L2LB_API_LISTEN: `127.0.0.1:${port}`, L2LB_STATE_FILE: state, L2LB_VIPS: '[{"ip":"192.0.2.10"}]' } });
    const api = (method: string, path: string) => Number(sh(['curl', '-s', '-m', '3', '-o', '/dev/null', '-w', '%{http_code}', '-X', method, `http://127.0.0.1:${port}${path}`], { ns: pair.nsA, check: false }).stdout);
    try {
      await waitFor('l2lb ready under strace', () => api('GET', '/readyz') === 200, 20_000, 100);
    } catch (err) {
      proc.kill('SIGKILL');
      throw new Error(`${(err as Error).message}; /readyz ${api('GET', '/readyz')}, exit ${proc.exitCode}\n${await new Response(proc.stderr as ReadableStream).text()}`);
    }
    expect(api('PUT', '/v1/vips/192.0.2.11')).toBe(201);
    expect(api('DELETE', '/v1/vips/192.0.2.10')).toBeLessThan(300);
    // SIGTERM to l2lb itself (strace's child; strace would only detach), strace exits with its status.
    const tracee = Number(readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    expect(tracee).toBeGreaterThan(0);
    process.kill(tracee, 'SIGTERM');
    expect(await proc.exited).toBe(0);
    const stdout = await new Response(proc.stdout as ReadableStream).text();
    const stderr = await new Response(proc.stderr as ReadableStream).text();
    expect(stdout).toBe('');
    expect(stderr).toContain('l2lb started');

    const lines = readFileSync(trace, 'utf8').split('\n').filter((l) => l.trim() !== '');
    const writes = lines.filter((l) => {
      if (/ = -1 E/.test(l)) return false; // failed: wrote nothing
      if (/\bopen(at2?)?\(/.test(l)) return /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(l);
      return true; // every other traced call changes the file system
    });
    const paths = writes.flatMap((l) => [...l.matchAll(/"([^"]*)"/g)].map((m) => m[1]!));
    const stateDir = join(dir, 'state');
    const allowed = (p: string) => p === state || p.startsWith(`${state}.tmp`) || p === stateDir;
    expect(paths.filter((p) => !allowed(p))).toEqual([]);
    expect(paths).toContain(state); // it did write its state (rename into place)
  }, 60_000);
});
