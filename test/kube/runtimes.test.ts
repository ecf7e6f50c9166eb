/**
 * The Kubernetes client outside `bun test`: the same source under Deno, and a `bun build --compile` binary
 * (where Bun's dropping of TLS options would bite), each with a client-certificate kubeconfig against the
 * stand-in and an environment without NODE_EXTRA_CA_CERTS.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StandIn } from '../support/kube/standin.ts';

const ROOT = join(import.meta.dir, '..', '..');
const BIN = join(ROOT, 'node_modules', '.bin');
const PROBE = join(ROOT, 'test', 'kube', 'probe.ts');
const COLLECTION = '/api/v1/namespaces/runtimes/services';
let api: StandIn;
let dir: string;
let kubeconfig: string;

/** PATH and HOME only: no NODE_EXTRA_CA_CERTS, SSL_CERT_FILE or DENO_CERT that could make TLS work by accident. */
const cleanEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir });

function run(cmd: string[]): { ok: boolean; names?: string[]; resourceVersion?: string; error?: string; watch?: { end: string; ms: number } } {
  const r = Bun.spawnSync(cmd, { env: cleanEnv(), cwd: ROOT });
  const out = r.stdout.toString().trim();
  if (!out) throw new Error(`${cmd[0]} printed nothing (exit ${r.exitCode}): ${r.stderr.toString()}`);
  return JSON.parse(out.split('\n').at(-1)!);
}

async function lastUser(): Promise<string | undefined> {
  return (await api.requests()).filter((r) => r.path === COLLECTION).at(-1)?.user;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'l2lb-kube-runtimes-'));
  api = await StandIn.start();
  for (const name of ['alpha', 'beta']) {
    await api.create({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'runtimes' }, spec: { type: 'ClusterIP', ports: [{ port: 80 }] } });
  }
  kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, 'cert');
});
afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('under Deno: KubeHttp/KubeClient list with a client certificate; a quiet watch ends as inactive', async () => {
  const r = run([join(BIN, 'deno'), 'run', '-A', PROBE, kubeconfig, COLLECTION, '500']);
  expect(r).toMatchObject({ ok: true, names: ['alpha', 'beta'], watch: { end: 'inactive' } });
  expect(r.resourceVersion).toMatch(/^\d+$/);
  // Deno's stock client-node Watch dies silently on a quiet connection; ours gives up after inactivityMs.
  expect(r.watch!.ms).toBeGreaterThanOrEqual(480);
  expect(r.watch!.ms).toBeLessThan(5000);
  expect(await lastUser()).toBe('l2lb');
}, 60_000);

test('compiled binary: list with a client certificate', async () => {
  const binary = join(dir, 'kube-probe');
  const build = Bun.spawnSync([join(BIN, 'bun'), 'build', '--compile', PROBE, '--outfile', binary], { cwd: ROOT });
  expect(build.exitCode, build.stderr.toString()).toBe(0);
  try {
    const r = run([binary, kubeconfig, COLLECTION]);
    expect(r).toMatchObject({ ok: true, names: ['alpha', 'beta'] });
  expect(r.resourceVersion).toMatch(/^\d+$/);
    expect(await lastUser()).toBe('l2lb');
  } finally {
    rmSync(binary, { force: true });
  }
}, 120_000);
