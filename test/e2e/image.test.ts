/**
 * The container image, built from the Containerfile with podman and run as a user runs it: uid 65532, only
 * NET_RAW, a read-only root file system, in a network namespace (`--network ns:`), answering ARP and NS for
 * its VIPs to arping and ndisc6 in another namespace. Once more with `no-new-privileges` (what Kubernetes'
 * `allowPrivilegeEscalation: false` sets), reading where NET_RAW came from in /proc/<pid>/status:
 * - the image as built (binary with cap_net_raw+ep): exec of a file with capabilities clears the ambient set,
 *   and no_new_privs only stops an exec from GAINING capabilities beyond the permitted set it had; the
 *   runtime put NET_RAW there before the exec, so the file capability keeps working (CapAmb 0, CapEff NET_RAW);
 * - the same Containerfile with a binary without file capability (a prebuilt one not setcap'd): NET_RAW is
 *   an ambient capability (podman --cap-add for a non-root user), the path systemd's AmbientCapabilities
 *   takes too (CapAmb NET_RAW).
 *
 * Nothing is pulled: the runtime base is made from this machine's glibc (test/support/podman.ts) and the
 * binary comes from the build context (`--target prebuilt`): dist/l2lb, or L2LBTEST_IMAGE_BINARY. Everything
 * lives in a podman storage of this run's own, removed at the end.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { type Pair, arpingMacs, createPair, ndiscMacs, sh, waitFor } from '../support/netns.ts';
import { ROOT, ensureBinary } from '../support/l2lb.ts';
import { Podman, imageBuildArgs, podmanMissing } from '../support/podman.ts';
import { tempDir } from '../support/tmp.ts';

const missing = podmanMissing();
if (missing) console.warn(`SKIP e2e container image: ${missing}`);

const IMAGE = 'localhost/l2lb:e2e';
/** The same Containerfile, the binary without its file capability. */
const IMAGE_NO_FCAP = 'localhost/l2lb:e2e-no-fcap';
const VIP4 = '192.0.2.10';
const VIP6 = '2001:db8::10';
const CAP_NET_RAW = 1n << 13n;

/** The capability sets, uid and no_new_privs of a process, from /proc/<pid>/status. */
function processStatus(pid: number): { uid: number; inh: bigint; prm: bigint; eff: bigint; bnd: bigint; amb: bigint; noNewPrivs: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text);
    if (!m) throw new Error(`/proc/${pid}/status has no ${name}:\n${text}`);
    return m[1]!;
  };
  const caps = (name: string) => BigInt(`0x${field(name)}`);
  return { uid: Number(field('Uid')), inh: caps('CapInh'), prm: caps('CapPrm'), eff: caps('CapEff'), bnd: caps('CapBnd'), amb: caps('CapAmb'), noNewPrivs: Number(field('NoNewPrivs')) };
}

describe.skipIf(missing !== undefined)('container image (podman)', () => {
  let podman: Podman;
  let pair: Pair;
  let args: Record<string, string>;
  const timings: Record<string, number> = {};
  let port = 19480;

  beforeAll(() => {
    const binary = process.env.L2LBTEST_IMAGE_BINARY ?? ensureBinary();
    podman = new Podman();
    let t0 = performance.now();
    podman.importRuntimeBase(binary);
    timings.base = performance.now() - t0;

    // The build context: the Containerfile and what its prebuilt path copies; the binary once with its file
    // capability as the from-source stage sets it (setcap here, not on dist/l2lb, which other tests run),
    // once without.
    const context = tempDir('l2lb-image-ctx-');
    mkdirSync(join(context, 'config'));
    copyFileSync(join(ROOT, 'Containerfile'), join(context, 'Containerfile'));
    copyFileSync(join(ROOT, 'config/l2lb.example.yaml'), join(context, 'config/l2lb.example.yaml'));
    copyFileSync(binary, join(context, 'l2lb'));
    copyFileSync(binary, join(context, 'l2lb-no-fcap'));
    sh(['setcap', 'cap_net_raw+ep', join(context, 'l2lb')]);

    args = imageBuildArgs(ROOT);
    const build = (tag: string, file: string) => podman.run([
      'build', '--pull=never', '-t', tag, '-f', join(context, 'Containerfile'),
      '--target', 'prebuilt', '--build-arg', `BINARY=${file}`,
      ...Object.entries(args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      context,
    ]);
    t0 = performance.now();
    build(IMAGE, 'l2lb');
    timings.build = performance.now() - t0;
    t0 = performance.now();
    build(IMAGE_NO_FCAP, 'l2lb-no-fcap');
    timings.buildNoFcap = performance.now() - t0;

    pair = createPair('l2img');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    sh(['ip', 'addr', 'add', '2001:db8::2/64', 'dev', pair.ifB, 'nodad'], { ns: pair.nsB });
  }, 120_000);

  afterAll(() => {
    console.log(`image test timings (ms): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`);
    pair?.destroy();
    podman?.dispose();
  });

  /**
   * Starts the image in namespace A as a user would (uid 65532, every capability dropped but NET_RAW,
   * read-only root, no tmpfs either, a volume for the state file) and waits for /readyz.
   */
  async function start(name: string, extra: string[], image = IMAGE): Promise<{ pid: number; api: (method: string, path: string) => { status: number; text: string } }> {
    const listen = `127.0.0.1:${port++}`;
    podman.run([
      'run', '-d', '--name', name,
      '--network', `ns:/run/netns/${pair.nsA}`,
      '--user', '65532', '--cap-drop', 'ALL', '--cap-add', 'NET_RAW',
      '--read-only', '--read-only-tmpfs=false',
      '-v', `${name}-state:/var/lib/l2lb`,
      '-e', `L2LB_INTERFACES=${pair.ifA}`,
      '-e', `L2LB_API_LISTEN=${listen}`,
      '-e', `L2LB_VIPS=${JSON.stringify([{ ip: VIP4 }, { ip: VIP6 }])}`,
      '-e', 'L2LB_ANNOUNCE_PROBE_COUNT=1',
      ...extra,
      image,
    ]);
    const api = (method: string, path: string) => {
      const r = sh(['curl', '-s', '-m', '3', '-o', '-', '-w', '\n%{http_code}', '-X', method, `http://${listen}${path}`], { ns: pair.nsA, check: false });
      const nl = r.stdout.lastIndexOf('\n');
      return { status: Number(r.stdout.slice(nl + 1)) || 0, text: r.stdout.slice(0, nl) };
    };
    try {
      await waitFor(`${name} /readyz`, () => api('GET', '/readyz').status === 200, 15_000, 100);
      await waitFor(`${name} VIPs active`, () => {
        const vips = JSON.parse(api('GET', '/v1/vips').text || '{}').vips as { state: string }[] | undefined;
        return vips?.length === 2 && vips.every((v) => v.state === 'active');
      }, 10_000, 100);
    } catch (err) {
      const logs = podman.run(['logs', name], { check: false });
      throw new Error(`${(err as Error).message}\nlogs:\n${logs.stdout}${logs.stderr}`);
    }
    const pid = Number(podman.run(['inspect', '--type', 'container', '--format', '{{.State.Pid}}', name]).stdout.trim());
    return { pid, api };
  }

  const arping = (ip: string) => arpingMacs(pair.nsB, pair.ifB, ip, { waitSeconds: 2 });
  const ndisc = (ip: string) => ndiscMacs(pair.nsB, pair.ifB, ip);

  test('labels: title, version from package.json, revision from git, created, source, licence; uid 65532; no HEALTHCHECK', () => {
    const image = podman.inspect(IMAGE);
    const labels = image.Config.Labels as Record<string, string>;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string };
    expect(labels['org.opencontainers.image.title']).toBe('l2lb');
    expect(labels['org.opencontainers.image.version']).toBe(pkg.version);
    expect(labels['org.opencontainers.image.revision']).toBe(args.REVISION!);
    expect(labels['org.opencontainers.image.revision']).toMatch(/^[0-9a-f]{40}$/);
    expect(labels['org.opencontainers.image.created']).toBe(args.CREATED!);
    expect(labels['org.opencontainers.image.created']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(labels['org.opencontainers.image.source']).toBe(args.SOURCE!);
    expect(labels['org.opencontainers.image.licenses']).toBe(pkg.license);
    expect(image.Config.User).toBe('65532:65532');
    expect(image.Config.Entrypoint).toEqual(['/usr/local/bin/l2lb']);
    expect(image.Config.Healthcheck).toBeUndefined();
    expect(image.HealthCheck).toBeUndefined();
    // The Containerfile's default VERSION is the one users get without build arguments.
    expect(readFileSync(join(ROOT, 'Containerfile'), 'utf8')).toContain(`ARG VERSION=${pkg.version}\n`);
  }, 30_000);

  test('no shell or other program in the image: only the binary, glibc, passwd and the example config; the binary has cap_net_raw+ep', () => {
    const mount = podman.run(['image', 'mount', IMAGE]).stdout.trim();
    try {
      const files: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(join(mount, dir))) {
          const path = `${dir}/${name}`;
          const st = lstatSync(join(mount, path));
          if (st.isDirectory()) walk(path);
          else files.push(path);
        }
      };
      walk('');
      const programs = files.filter((f) => /\/(s?bin)\//.test(f));
      expect(programs).toEqual(['/usr/local/bin/l2lb']);
      for (const shell of ['/bin/sh', '/bin/bash', '/bin/dash', '/bin/busybox', '/usr/bin/sh']) expect(existsSync(join(mount, shell))).toBe(false);
      expect(files).toContain('/etc/l2lb/l2lb.example.yaml');
      expect(sh(['getcap', join(mount, 'usr/local/bin/l2lb')]).stdout).toContain('cap_net_raw=ep');
      const state = lstatSync(join(mount, 'var/lib/l2lb'));
      expect([state.uid, state.gid]).toEqual([65532, 65532]);
      expect(lstatSync(join(mount, 'var/lib')).uid).toBe(0);
    } finally {
      podman.run(['image', 'unmount', IMAGE], { check: false });
    }
    // And asking for one fails: there is nothing to run but l2lb.
    const r = podman.run(['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', IMAGE, '-c', 'true'], { check: false });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no such file or directory|not found/i);
  }, 30_000);

  test('size: compressed layers as a registry stores them (gzip), and uncompressed', () => {
    const out = join(podman.dir, 'saved');
    const t0 = performance.now();
    podman.run(['save', '--format', 'docker-dir', '--compress', '-o', out, IMAGE]);
    timings.save = performance.now() - t0;
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { layers: { size: number }[]; config: { size: number } };
    const compressed = manifest.layers.reduce((sum, l) => sum + l.size, manifest.config.size);
    const uncompressed = Number(podman.inspect(IMAGE).Size);
    console.log(`image size: ${(compressed / 1e6).toFixed(1)} MB compressed (${manifest.layers.map((l) => (l.size / 1e6).toFixed(2)).join(' + ')} MB layers), ${(uncompressed / 1e6).toFixed(1)} MB uncompressed, with this test's glibc-only base`);
    // The binary layer is what the image adds to its base; the base here is glibc only, as distroless' base-nossl.
    expect(compressed).toBeLessThan(60e6);
  }, 30_000);

  test('as uid 65532 with only NET_RAW on a read-only root: answers ARP and NS for its VIPs, keeps its state in the volume', async () => {
    const t0 = performance.now();
    const { pid, api } = await start('l2lb-plain', []);
    timings.startPlain = performance.now() - t0;
    expect(arping(VIP4)).toEqual([pair.macA]);
    expect(ndisc(VIP6)).toEqual([pair.macA]);
    const st = processStatus(pid);
    expect(st.uid).toBe(65532);
    expect(st.noNewPrivs).toBe(0);
    expect(st.eff).toBe(CAP_NET_RAW);
    expect(st.bnd).toBe(CAP_NET_RAW);
    // The one write l2lb makes: the state file, on the volume (the root file system is read-only).
    expect(api('PUT', '/v1/vips/192.0.2.11').status).toBe(201);
    const volume = podman.run(['volume', 'inspect', '--format', '{{.Mountpoint}}', 'l2lb-plain-state']).stdout.trim();
    await waitFor('state file written', () => existsSync(join(volume, 'state.json')) && readFileSync(join(volume, 'state.json'), 'utf8').includes('192.0.2.11'), 3000);
    // Nothing changed in the container's own file system but podman's mount points (/etc/hosts and such).
    const changed = podman.run(['diff', 'l2lb-plain']).stdout.split('\n').filter((l) => l.trim() !== '');
    expect(changed.filter((l) => !/^[AC] \/(etc|run)(\/(hosts|hostname|resolv\.conf|\.containerenv))?$/.test(l))).toEqual([]);
    podman.run(['stop', '--time', '5', 'l2lb-plain']);
    const exit = podman.run(['inspect', '--type', 'container', '--format', '{{.State.ExitCode}}', 'l2lb-plain']).stdout.trim();
    expect(exit).toBe('0'); // SIGTERM: a clean stop
  }, 60_000);

  test('with no-new-privileges (allowPrivilegeEscalation: false) the file capability still gives NET_RAW: the runtime had put it in the permitted set', async () => {
    const t0 = performance.now();
    const { pid } = await start('l2lb-nnp', ['--security-opt', 'no-new-privileges']);
    timings.startNoNewPrivs = performance.now() - t0;
    const st = processStatus(pid);
    expect(st.noNewPrivs).toBe(1);
    expect(st.uid).toBe(65532);
    // exec of a file with capabilities clears the ambient set; NET_RAW is the file's, not gained beyond
    // the permitted set the process had before the exec, so no_new_privs lets it be.
    expect(st.amb).toBe(0n);
    expect(st.prm).toBe(CAP_NET_RAW);
    expect(st.eff).toBe(CAP_NET_RAW);
    expect(arping(VIP4)).toEqual([pair.macA]);
    expect(ndisc(VIP6)).toEqual([pair.macA]);
    podman.run(['rm', '--force', '--time', '0', 'l2lb-nnp']);
  }, 60_000);

  test('the ambient path: a binary without file capability, uid 65532, no-new-privileges, gets NET_RAW as an ambient capability and answers', async () => {
    const { pid } = await start('l2lb-ambient', ['--security-opt', 'no-new-privileges'], IMAGE_NO_FCAP);
    const st = processStatus(pid);
    expect(st.noNewPrivs).toBe(1);
    expect(st.uid).toBe(65532);
    expect(st.amb).toBe(CAP_NET_RAW);
    expect(st.prm).toBe(CAP_NET_RAW);
    expect(st.eff).toBe(CAP_NET_RAW);
    expect(arping(VIP4)).toEqual([pair.macA]);
    expect(ndisc(VIP6)).toEqual([pair.macA]);
    podman.run(['rm', '--force', '--time', '0', 'l2lb-ambient']);
  }, 60_000);

  test('without NET_RAW: the image as built cannot even start (the kernel refuses to exec a file whose capabilities it cannot grant); without the file capability l2lb exits 1 naming the capability', () => {
    const run = (image: string) => podman.run([
      'run', '--rm', '--network', `ns:/run/netns/${pair.nsA}`, '--user', '65532', '--cap-drop', 'ALL', '--read-only',
      '-e', `L2LB_INTERFACES=${pair.ifA}`, '-e', 'L2LB_STATE_FILE=', image,
    ], { check: false, timeoutMs: 30_000 });
    const fcap = run(IMAGE);
    expect(fcap.code).not.toBe(0);
    expect(fcap.stderr).toContain('operation not permitted');
    const plain = run(IMAGE_NO_FCAP);
    expect(plain.code).toBe(1);
    expect(plain.stderr + plain.stdout).toContain('CAP_NET_RAW');
  }, 30_000);

  test('--version and --help in the image need no network', () => {
    const version = podman.run(['run', '--rm', '--network', 'none', '--cap-drop', 'ALL', '--cap-add', 'NET_RAW', '--read-only', IMAGE, '--version']).stdout;
    expect(version).toStartWith(`l2lb ${args.VERSION} (commit `);
    expect(version).toContain('target linux-x64');
    expect(podman.run(['run', '--rm', '--network', 'none', '--cap-drop', 'ALL', '--cap-add', 'NET_RAW', '--read-only', IMAGE, 'run', '--help']).stdout).toContain('Exit status:');
  }, 30_000);
});
