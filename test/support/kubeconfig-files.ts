/**
 * Kubeconfig files for the reader's and the exec runner's tests (test/kube/kubeconfig.test.ts,
 * test/kube/exec.test.ts): PEM stand-ins, a directory per test, and the usual one-context file.
 */
import { Buffer } from 'node:buffer';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { tempDir } from './tmp.ts';

export const CA = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';
export const CERT = '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n';
export const KEY = '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n';
export const b64 = (s: string) => Buffer.from(s).toString('base64');
export const V1 = 'client.authentication.k8s.io/v1';
export const V1BETA1 = 'client.authentication.k8s.io/v1beta1';

/** Writes `text` to `dir/name` (parents made), returns the path. */
export function write(dir: string, name: string, text: string, mode?: number): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  if (mode !== undefined) chmodSync(path, mode);
  return path;
}

/** A temporary directory (removed with the others of `tempDir`) handing out a fresh subdirectory per call. */
export function places(prefix: string): () => string {
  const root = tempDir(prefix);
  let serial = 0;
  return () => {
    const dir = join(root, `t${++serial}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
}

/** `dir/name` with cluster c1 (`cluster` on top of its server), user u1 (`user`) and context ctx1. */
export function single(dir: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}, name = 'kubeconfig'): string {
  return write(dir, name, YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c1', cluster: { server: 'https://192.0.2.1:6443', ...cluster } }],
    users: [{ name: 'u1', user }],
    contexts: [{ name: 'ctx1', context: { cluster: 'c1', user: 'u1' } }],
    'current-context': 'ctx1',
  }));
}
