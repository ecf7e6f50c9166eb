/**
 * `npm run release`: the release archives and their checksums, reproducible from a checkout.
 *
 *   dist/release/l2lb-<version>-linux-x64.tar.gz     l2lb-<version>-linux-x64/{l2lb, README.md, LICENSE, config/...}
 *   dist/release/l2lb-<version>-linux-arm64.tar.gz   the same for aarch64
 *   dist/release/SHA256SUMS                          `sha256sum -c SHA256SUMS` checks both
 *
 * Each archive holds the binary, README.md, LICENSE, config/l2lb.example.yaml and the manifests
 * (config/deploy: the Deployment, the DaemonSet, the namespace, the kustomization and the systemd unit;
 * config/rbac; config/crd) at the paths the README names, so its commands work in the unpacked folder.
 *
 * Same commit, same bytes: the binaries carry the commit's time as their build date (build/compile.ts), and
 * the archives are made with sorted entries, every mtime set to the commit's time, owner and group 0, fixed
 * modes (0755 for the binary and folders, 0644 for the rest) and `gzip -n` (no name, no time in the header).
 * Uncommitted changes to tracked files make the commit read `<hash>-dirty`: such archives are still the same
 * twice, but cannot be rebuilt from any checkout.
 *
 * Before building it writes package.json's version into the image references ({@link syncImageReferences}),
 * so the manifests and the image follow a version bump in package.json.
 *
 * Options: `--out=DIR` (default dist/release), `--targets=x64,arm64` (default both).
 */
import { $ } from 'bun';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import YAML from 'yaml';
import { type BuildFacts, buildFacts, compile } from './compile.ts';

/** The repository this script belongs to. */
export const ROOT = resolve(import.meta.dir, '..');

/** The release targets: the name in the archive and Bun's compile target. */
export const TARGETS: readonly { arch: string; target: string }[] = [
  { arch: 'x64', target: 'bun-linux-x64' },
  { arch: 'arm64', target: 'bun-linux-arm64' },
];

/** Folders whose manifests (`*.yaml`, `*.service`) go into every archive. */
const MANIFEST_DIRS = ['config/deploy', 'config/rbac', 'config/crd'];

/** The files besides the binary that every archive carries, as paths relative to the repository, sorted. */
export function archiveFiles(root = ROOT): string[] {
  const manifests = MANIFEST_DIRS.flatMap((dir) =>
    readdirSync(join(root, dir))
      .filter((name) => /\.(ya?ml|service)$/.test(name) && statSync(join(root, dir, name)).isFile())
      .map((name) => `${dir}/${name}`));
  return ['README.md', 'LICENSE', 'config/l2lb.example.yaml', ...manifests].sort();
}

/** The version in package.json. */
export function packageVersion(root = ROOT): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** One file whose image reference did not match package.json. */
export interface ImageReferenceChange {
  /** Relative to the repository. */
  file: string;
  from: string;
  to: string;
}

/**
 * Brings the image references in line with package.json's version: `newTag` of the `l2lb` image in
 * config/deploy/kustomization.yaml (the one place `kubectl apply -k` takes it from), the `image:` of the plain
 * manifests (for `kubectl apply -f`, set to the kustomization's `newName:newTag`), and the Containerfile's
 * default `ARG VERSION` (the image's version label). Writes only with `write`; returns what differed.
 */
export function syncImageReferences(root = ROOT, opts: { write: boolean } = { write: true }): ImageReferenceChange[] {
  const version = packageVersion(root);
  const changes: ImageReferenceChange[] = [];
  const edit = (file: string, fn: (text: string) => string) => {
    const path = join(root, file);
    const before = readFileSync(path, 'utf8');
    const after = fn(before);
    if (after !== before && opts.write) writeFileSync(path, after);
  };

  const kustomization = 'config/deploy/kustomization.yaml';
  const images = (YAML.parse(readFileSync(join(root, kustomization), 'utf8')) as { images?: { name: string; newName?: string; newTag?: string }[] }).images ?? [];
  const image = images.find((i) => i.name === 'l2lb');
  if (!image) throw new Error(`${kustomization}: no entry "name: l2lb" under images:`);
  const imageName = image.newName ?? image.name;
  edit(kustomization, (text) => text.replace(/^(\s*newTag:\s*)(\S+)[ \t]*$/m, (all, head: string, tag: string) => {
    if (String(tag).replace(/^["']|["']$/g, '') === version) return all;
    changes.push({ file: kustomization, from: String(tag), to: version });
    return `${head}${version}`;
  }));

  const reference = `${imageName}:${version}`;
  for (const file of ['config/deploy/l2lb.yaml', 'config/deploy/l2lb-daemonset.yaml']) {
    edit(file, (text) => text.replace(/^(\s*image:\s*)(\S+)[ \t]*$/gm, (all, head: string, ref: string) => {
      const name = ref.replace(/:[^:/]+$/, '');
      if ((name !== image.name && name !== imageName) || ref === reference) return all;
      changes.push({ file, from: ref, to: reference });
      return `${head}${reference}`;
    }));
  }

  edit('Containerfile', (text) => text.replace(/^ARG VERSION=(\S*)[ \t]*$/m, (all, old: string) => {
    if (old === version) return all;
    changes.push({ file: 'Containerfile', from: old, to: version });
    return `ARG VERSION=${version}`;
  }));
  return changes;
}

/** The archive name for `arch`, without `.tar.gz`. */
export function archiveName(version: string, arch: string): string {
  return `l2lb-${version}-linux-${arch}`;
}

/** Compiles the binary for one target and packs it with {@link archiveFiles} into `out/<name>.tar.gz`. */
async function buildArchive(root: string, out: string, version: string, t: { arch: string; target: string }, facts: BuildFacts, epoch: number): Promise<string> {
  const name = archiveName(version, t.arch);
  const stageRoot = join(out, `.stage-${t.arch}`);
  const stage = join(stageRoot, name);
  rmSync(stageRoot, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  try {
    // Always compiled as `l2lb`: Bun embeds the output file's name in the binary.
    await compile(t.target, join(stage, 'l2lb'), facts);
    for (const file of archiveFiles(root)) {
      mkdirSync(dirname(join(stage, file)), { recursive: true });
      copyFileSync(join(root, file), join(stage, file));
    }
    // Fixed modes whatever the umask and the checkout did.
    const normalize = (dir: string) => {
      chmodSync(dir, 0o755);
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) normalize(path);
        else chmodSync(path, path === join(stage, 'l2lb') ? 0o755 : 0o644);
      }
    };
    normalize(stage);
    const file = join(out, `${name}.tar.gz`);
    await $`tar --sort=name --format=gnu --mtime=@${epoch} --owner=0 --group=0 --numeric-owner -C ${stageRoot} -cf - ${name} | gzip -n > ${file}`.quiet();
    return file;
  } finally {
    rmSync(stageRoot, { recursive: true, force: true });
  }
}

/** SHA256SUMS for `files` (in `out`), in `sha256sum`'s format, sorted by name. */
function checksums(out: string, files: string[]): string {
  return files
    .map((f) => f.slice(out.length + 1))
    .sort()
    .map((name) => `${createHash('sha256').update(readFileSync(join(out, name))).digest('hex')}  ${name}\n`)
    .join('');
}

/** Builds every archive of `targets` into `out` and writes SHA256SUMS; returns the archive paths. */
export async function release(opts: { root?: string; out?: string; targets?: readonly { arch: string; target: string }[]; log?: (line: string) => void } = {}): Promise<string[]> {
  const root = opts.root ?? ROOT;
  const out = resolve(root, opts.out ?? 'dist/release');
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // compile() names src/main.ts relative to the working directory.
  process.chdir(root);
  for (const c of syncImageReferences(root, { write: true })) log(`updated ${c.file}: ${c.from} -> ${c.to} (package.json)`);
  const version = packageVersion(root);
  const facts = await buildFacts(root);
  if (facts.epoch === undefined) throw new Error('release: no commit time (not a git checkout?): set SOURCE_DATE_EPOCH to the seconds the archives should carry');
  if (facts.commit.endsWith('-dirty')) log('release: tracked files differ from the commit: these archives cannot be rebuilt from a checkout (commit reads -dirty)');
  mkdirSync(out, { recursive: true });
  for (const old of readdirSync(out)) {
    if (/^l2lb-.*\.tar\.gz$/.test(old) || old === 'SHA256SUMS') rmSync(join(out, old));
  }
  const files = await Promise.all((opts.targets ?? TARGETS).map((t) => buildArchive(root, out, version, t, facts, facts.epoch!)));
  writeFileSync(join(out, 'SHA256SUMS'), checksums(out, files));
  for (const f of files) log(`${f} (${(statSync(f).size / 2 ** 20).toFixed(1)} MiB, commit ${facts.commit}, ${facts.date})`);
  log(`${join(out, 'SHA256SUMS')}`);
  return files;
}

if (import.meta.main) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const wanted = arg('targets')?.split(',');
  const unknown = wanted?.filter((a) => !TARGETS.some((t) => t.arch === a)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`release: unknown target ${unknown.join(', ')}; expected ${TARGETS.map((t) => t.arch).join(', ')}\n`);
    process.exit(2);
  }
  await release({ out: arg('out'), targets: wanted ? TARGETS.filter((t) => wanted.includes(t.arch)) : undefined });
}
