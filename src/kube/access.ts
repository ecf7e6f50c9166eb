/**
 * Where the API server is and how to prove who we are: from a kubeconfig file or the pod's service account.
 *
 * The kubeconfig is read by `kubeconfig.ts` (client-go's rules) and its exec credential plugins are run by
 * `exec.ts`, not by @kubernetes/client-node: that library cost ~37 MiB of RSS and ~0.5 s of start just for
 * this. The TLS material goes to our own HTTP layer (`http.ts`), which passes it the way each runtime
 * honours it.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { execTokenSource } from './exec.ts';
import { KubeConfigError, errorText, readKubeconfig, readText } from './kubeconfig.ts';

export { KubeConfigError } from './kubeconfig.ts';

/** Everything the HTTP layer needs to reach and authenticate to one API server. */
export interface KubeAccess {
  /** Base URL, e.g. `https://10.96.0.1:443` (no trailing slash). */
  server: string;
  /** PEM of the CA that signs the server certificate; absent: the runtime's default roots. */
  caPem?: string;
  /** PEM client certificate (and its key) for TLS client authentication. */
  certPem?: string;
  keyPem?: string;
  /**
   * The current bearer token, if any; called per request, so it can rotate (it caches what it reads).
   * `fresh`: the server refused the token (401), so skip the cache where there is one.
   */
  token?: (opts?: { fresh?: boolean }) => Promise<string | undefined>;
  /** Do not verify the server certificate (kubeconfig `insecure-skip-tls-verify`). */
  insecureSkipTLSVerify?: boolean;
  /** The namespace of the context or of the service account (`default` when none is set). */
  namespace: string;
  /** Where this came from, for logs and /v1/status: `in-cluster` or `kubeconfig /path (context x)`. */
  source: string;
}

/** Options of {@link loadKubeAccess}. */
export interface LoadKubeAccessOptions {
  /** Explicit kubeconfig path (config key `kubernetes.kubeconfig`); wins over everything else. */
  kubeconfig?: string;
  /** Context to use instead of the file's `current-context`. */
  context?: string;
  /** The process environment (KUBECONFIG, KUBERNETES_SERVICE_HOST/PORT, HOME); exec credential plugins inherit it. */
  env: Record<string, string | undefined>;
  /** Service-account directory (token, ca.crt, namespace); tests point it at a fake one. */
  serviceAccountDir?: string;
  /** How long a token read from a file (service account, kubeconfig `tokenFile`) is reused before the file is read again (default 60 s). */
  tokenCacheMs?: number;
}

/** Where Kubernetes mounts the pod's service account. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Projected service-account tokens rotate (hourly by default); client-go re-reads them every minute too. */
const DEFAULT_TOKEN_CACHE_MS = 60_000;

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * A token source that re-reads `path` once the cached value is older than `ttlMs`, or at once when asked for
 * a `fresh` one (the server refused the cached token: it may have been rotated on disk already). A read
 * failure after a successful one keeps the previous token: the kubelet replaces the file atomically, so a
 * failure is transient, and the API server answering 401 says more than a missing header would.
 */
export function tokenFromFile(path: string, ttlMs = DEFAULT_TOKEN_CACHE_MS, what = 'service-account token'): NonNullable<KubeAccess['token']> {
  let cached: string | undefined;
  let readAt = -Infinity;
  return async (opts) => {
    if (!opts?.fresh && performance.now() - readAt < ttlMs) return cached;
    try {
      cached = (await readFile(path, 'utf8')).trim() || undefined;
      readAt = performance.now();
    } catch (error) {
      if (cached === undefined) throw new KubeConfigError(`cannot read ${what} ${path}: ${errorText(error)}`);
    }
    return cached;
  };
}

/** Access from the pod's service account: `KUBERNETES_SERVICE_HOST`/`_PORT` plus the mounted token and CA. */
function inCluster(env: Record<string, string | undefined>, dir: string, ttlMs: number): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  const origin = `in-cluster (${dir})`;
  const tokenPath = join(dir, 'token');
  // Read once now, so a missing or unreadable token fails at start with a clear message.
  readText(tokenPath, 'service-account token', origin);
  const caPath = join(dir, 'ca.crt');
  const caPem = readText(caPath, 'service-account CA', origin);
  const nsPath = join(dir, 'namespace');
  const namespace = isFile(nsPath) ? readText(nsPath, 'namespace', origin).trim() : '';
  return {
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    caPem,
    token: tokenFromFile(tokenPath, ttlMs),
    namespace: namespace || 'default',
    source: 'in-cluster',
  };
}

/** Access from one kubeconfig file (its current context, or `context`). */
function fromKubeconfig(path: string, context: string | undefined, ttlMs: number, env: Record<string, string | undefined>): KubeAccess {
  const kc = readKubeconfig(path, context);
  const access: KubeAccess = { server: kc.server, namespace: kc.namespace ?? 'default', source: kc.where };
  if (kc.caPem !== undefined) access.caPem = kc.caPem;
  if (kc.certPem !== undefined && kc.keyPem !== undefined) {
    access.certPem = kc.certPem;
    access.keyPem = kc.keyPem;
  }
  if (kc.insecureSkipTLSVerify) access.insecureSkipTLSVerify = true;
  const credential = kc.credential;
  if (credential?.kind === 'tokenFile') {
    // client-node read a tokenFile once at load; client-go reads it again as it rotates, and so do we.
    access.token = tokenFromFile(credential.path, ttlMs, `tokenFile of user "${kc.user}"`);
  } else if (credential?.kind === 'exec') {
    access.token = execTokenSource(credential.plugin, env);
  } else if (credential?.kind === 'token') {
    const value = credential.token;
    access.token = async () => value;
  }
  return access;
}

/**
 * Finds the API server and credentials, in this order: the explicit `kubeconfig` path, `KUBECONFIG` (its
 * first entry), the pod's service account (`KUBERNETES_SERVICE_HOST` set and a token mounted), and
 * `~/.kube/config`. Throws {@link KubeConfigError} naming the file and what is missing.
 */
export function loadKubeAccess(opts: LoadKubeAccessOptions): KubeAccess {
  const ttl = opts.tokenCacheMs ?? DEFAULT_TOKEN_CACHE_MS;
  if (opts.kubeconfig) return fromKubeconfig(absolute(opts.kubeconfig), opts.context, ttl, opts.env);
  const fromEnv = opts.env.KUBECONFIG?.split(':').find((p) => p.length > 0);
  if (fromEnv) {
    try {
      return fromKubeconfig(absolute(fromEnv), opts.context, ttl, opts.env);
    } catch (error) {
      throw error instanceof KubeConfigError ? new KubeConfigError(`${error.message} (from KUBECONFIG)`) : error;
    }
  }
  const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenPath = join(dir, 'token');
  if (opts.env.KUBERNETES_SERVICE_HOST && isFile(tokenPath)) return inCluster(opts.env, dir, ttl);
  const home = opts.env.HOME;
  const homeConfig = home ? join(home, '.kube', 'config') : undefined;
  if (homeConfig && isFile(homeConfig)) return fromKubeconfig(homeConfig, opts.context, ttl, opts.env);
  const tried = [
    'kubernetes.kubeconfig is not set',
    'KUBECONFIG is not set',
    opts.env.KUBERNETES_SERVICE_HOST ? `KUBERNETES_SERVICE_HOST is set but ${tokenPath} does not exist` : 'KUBERNETES_SERVICE_HOST is not set (not in a pod)',
    homeConfig ? `${homeConfig} does not exist` : 'HOME is not set',
  ];
  throw new KubeConfigError(`no Kubernetes configuration found: ${tried.join('; ')}`);
}

function absolute(path: string): string {
  return isAbsolute(path) ? path : join(process.cwd(), path);
}
