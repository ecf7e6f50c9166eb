/**
 * Podman for the image test, as it works on CI's machines (Debian 12, podman 4.3, as root, no registry):
 * runc as the runtime (crun fails with "cgroups in hybrid mode not supported"), no default ulimits (they fail
 * with `setrlimit RLIMIT_NOFILE: Operation not permitted`), cgroupfs, events to a file. None of this belongs
 * in the Containerfile: a user's podman or docker needs none of it.
 *
 * Every {@link Podman} keeps its images, containers and volumes in a storage of its own under a temp
 * folder, so a run never sees a previous run's leftovers or anybody else's images, and {@link Podman.dispose}
 * removes all of it. Base images are made here, not pulled: {@link Podman.importRuntimeBase} tars up the
 * glibc files a binary needs (from `ldd`) and a passwd with uid 65532 and imports them under the name the
 * Containerfile uses.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type ShResult, isRoot, sh } from './netns.ts';

/** Why the image test cannot run here (not root, podman or runc missing), or undefined when it can. */
export function podmanMissing(): string | undefined {
  if (!isRoot) return 'needs root (podman as root, network namespaces)';
  for (const [tool, pkg] of [['podman', 'podman'], ['runc', 'runc']] as const) {
    if (sh(['sh', '-c', `command -v ${tool} || test -x /usr/sbin/${tool}`], { check: false }).code !== 0) {
      return `${tool} is not installed (apt-get install ${pkg})`;
    }
  }
  return undefined;
}

const CONTAINERS_CONF = `[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
`;

/** The libraries `ldd` names for `binary` (the dynamic loader included), as absolute paths. */
export function sharedLibraries(binary: string): string[] {
  const out = sh(['ldd', binary]).stdout;
  const paths = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) paths.add(m[1]!);
  }
  return [...paths].sort();
}

/** A podman with a storage of its own; see the module comment. */
export class Podman {
  readonly dir: string;
  private readonly base: string[];
  private readonly env: Record<string, string>;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'l2lb-podman-'));
    const conf = join(this.dir, 'containers.conf');
    writeFileSync(conf, CONTAINERS_CONF);
    this.env = { ...(process.env as Record<string, string>), CONTAINERS_CONF: conf };
    this.base = [
      'podman',
      '--root', join(this.dir, 'storage'),
      '--runroot', join(this.dir, 'run'),
      '--tmpdir', join(this.dir, 'tmp'),
      '--storage-driver', 'overlay',
      '--runtime', existsSync('/usr/sbin/runc') ? '/usr/sbin/runc' : 'runc',
      '--cgroup-manager', 'cgroupfs',
      '--events-backend', 'file',
    ];
  }

  /** Runs `podman ARGS`; with `check` (the default) a non-zero exit throws with stderr. */
  run(args: string[], opts: { check?: boolean; timeoutMs?: number } = {}): ShResult {
    const r = Bun.spawnSync({ cmd: [...this.base, ...args], env: this.env, stdout: 'pipe', stderr: 'pipe', timeout: opts.timeoutMs ?? 120_000 });
    const out = { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    if ((opts.check ?? true) && out.code !== 0) {
      throw new Error(`podman ${args.join(' ')} failed (exit ${out.code}):\n${out.stderr.trim()}`);
    }
    return out;
  }

  /**
   * Makes the runtime base image the Containerfile names (`gcr.io/distroless/base-nossl-debian12:nonroot`, or
   * `name`) from this machine's glibc: only the files `ldd binary` lists (so the test also shows the binary
   * needs nothing else), /etc/passwd and /etc/group with root and nonroot (65532), /home/nonroot, /var/lib
   * and /tmp, as distroless has them. No shell, no package manager.
   */
  importRuntimeBase(binary: string, name = 'gcr.io/distroless/base-nossl-debian12:nonroot'): void {
    const rootfs = join(this.dir, 'rootfs');
    rmSync(rootfs, { recursive: true, force: true });
    for (const file of sharedLibraries(binary)) {
      mkdirSync(dirname(join(rootfs, file)), { recursive: true });
      copyFileSync(file, join(rootfs, file)); // follows symlinks: the loader path is one on Debian
    }
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n');
    writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnonroot:x:65532:\n');
    mkdirSync(join(rootfs, 'home/nonroot'), { recursive: true });
    chownSync(join(rootfs, 'home/nonroot'), 65532, 65532);
    mkdirSync(join(rootfs, 'var/lib'), { recursive: true });
    mkdirSync(join(rootfs, 'tmp'));
    chmodSync(join(rootfs, 'tmp'), 0o1777);
    const tar = join(this.dir, 'rootfs.tar');
    sh(['tar', '--numeric-owner', '-C', rootfs, '-cf', tar, '.']);
    this.run(['import', tar, name]);
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(tar, { force: true });
  }

  /** `podman inspect` of one image or container, parsed. */
  inspect(what: string, type: 'image' | 'container' = 'image'): any {
    return (JSON.parse(this.run(['inspect', '--type', type, what]).stdout) as unknown[])[0];
  }

  /** Removes every container, image and volume of this storage and the storage itself. */
  dispose(): void {
    this.run(['rm', '--all', '--force', '--time', '0'], { check: false });
    this.run(['volume', 'rm', '--all', '--force'], { check: false });
    this.run(['rmi', '--all', '--force'], { check: false });
    // Anything still mounted under the storage (a container killed mid-way) would stop rm -r.
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(this.dir));
    for (const m of mounts.sort().reverse()) sh(['umount', '-l', m], { check: false });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The `org.opencontainers.image.*` values the test builds with: package.json's version and git's commit. */
export function imageBuildArgs(root: string): Record<string, string> {
  const git = (...args: string[]) => {
    const r = sh(['git', '-C', root, ...args], { check: false });
    return r.code === 0 ? r.stdout.trim() : '';
  };
  const epoch = Number(git('log', '-1', '--format=%ct'));
  return {
    VERSION: (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
    REVISION: git('rev-parse', 'HEAD') || 'unknown',
    CREATED: epoch > 0 ? new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z') : '',
    SOURCE: git('remote', 'get-url', 'origin') || 'unknown',
  };
}
