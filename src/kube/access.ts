/**
 * Where the API server is and how to prove who we are: from a kubeconfig file or the pod's service account.
 *
 * @kubernetes/client-node only parses the kubeconfig (and runs exec / auth-provider plugins); the TLS material
 * is handed to our own HTTP layer (`http.ts`), because Bun silently drops the TLS options client-node gives
 * its HTTP stack (DESIGN: facts).
 */
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';

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
  /** The process environment (KUBECONFIG, KUBERNETES_SERVICE_HOST/PORT, HOME). */
  env: Record<string, string | undefined>;
  /** Service-account directory (token, ca.crt, namespace); tests point it at a fake one. */
  serviceAccountDir?: string;
  /** How long a token read from a file (service account, kubeconfig `tokenFile`) is reused before the file is read again (default 60 s). */
  tokenCacheMs?: number;
}

/** The configuration cannot be used: names the file and what is missing or wrong. */
export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

/** Where Kubernetes mounts the pod's service account. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Projected service-account tokens rotate (hourly by default); client-go re-reads them every minute too. */
const DEFAULT_TOKEN_CACHE_MS = 60_000;

function message(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Reads a UTF-8 file; a failure names the file and what it was for. */
function readText(path: string, what: string, origin: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new KubeConfigError(`${origin}: cannot read ${what} ${path}: ${message(error)}`);
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
      if (cached === undefined) throw new KubeConfigError(`cannot read ${what} ${path}: ${message(error)}`);
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

/** Data given inline (base64) or as a file (relative to the kubeconfig, which client-node already resolved). */
function pem(file: string | undefined | null, data: string | undefined | null, what: string, origin: string): string | undefined {
  if (file) return readText(file, what, origin);
  if (data) return Buffer.from(data, 'base64').toString('utf8');
  return undefined;
}

/**
 * client-go's `tokenFile` of a kubeconfig user (also client-node's spelling `token-file`), resolved against
 * the kubeconfig's directory. client-node reads that file once at load; client-go reads it again as it
 * rotates, and so do we.
 */
function tokenFileOf(path: string, userName: string): string | undefined {
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // client-node parsed it already; nothing more to learn here
  }
  const users = (doc as { users?: unknown } | null)?.users;
  if (!Array.isArray(users)) return undefined;
  const entry = users.find((u) => (u as { name?: unknown } | null)?.name === userName) as { user?: Record<string, unknown> } | undefined;
  const file = entry?.user?.tokenFile ?? entry?.user?.['token-file'];
  if (typeof file !== 'string' || file === '') return undefined;
  return isAbsolute(file) ? file : join(dirname(path), file);
}

/** Access from one kubeconfig file (its current context, or `context`). */
function fromKubeconfig(path: string, context: string | undefined, ttlMs: number): KubeAccess {
  const origin = `kubeconfig ${path}`;
  if (!isFile(path)) {
    readText(path, 'file', origin); // throws with the reason (ENOENT, EACCES, a directory…)
    throw new KubeConfigError(`${origin}: not a regular file`);
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (error) {
    throw new KubeConfigError(`${origin}: ${message(error)}`);
  }
  const contextName = context ?? kc.getCurrentContext();
  if (!contextName) throw new KubeConfigError(`${origin}: no current-context is set and no context was chosen`);
  const ctx = kc.getContextObject(contextName);
  if (!ctx) {
    const known = kc.getContexts().map((c) => c.name);
    throw new KubeConfigError(`${origin}: context "${contextName}" not found (contexts: ${known.join(', ') || 'none'})`);
  }
  kc.setCurrentContext(contextName);
  const where = `${origin} (context ${contextName})`;
  const cluster = kc.getCluster(ctx.cluster);
  if (!cluster) throw new KubeConfigError(`${where}: cluster "${ctx.cluster}" not found`);
  const user = ctx.user ? kc.getUser(ctx.user) : null;
  if (ctx.user && !user) throw new KubeConfigError(`${where}: user "${ctx.user}" not found`);
  if (user?.username) throw new KubeConfigError(`${where}: user "${user.name}" uses basic auth (username/password), which l2lb does not support; use a token or a client certificate`);

  const certPem = pem(user?.certFile, user?.certData, 'client certificate', where);
  const keyPem = pem(user?.keyFile, user?.keyData, 'client key', where);
  if ((certPem === undefined) !== (keyPem === undefined)) {
    throw new KubeConfigError(`${where}: user "${user?.name}" has a client ${certPem ? 'certificate but no client-key' : 'key but no client-certificate'}`);
  }
  if (!/^https?:\/\//.test(cluster.server)) throw new KubeConfigError(`${where}: cluster "${cluster.name}" server "${cluster.server}" is not an http(s) URL`);

  let token: KubeAccess['token'];
  const tokenFile = user ? tokenFileOf(path, user.name) : undefined;
  if (tokenFile) {
    // Read once now, so a missing or unreadable file fails at start with a clear message.
    readText(tokenFile, 'tokenFile', where);
    token = tokenFromFile(tokenFile, ttlMs, `tokenFile of user "${user?.name}"`);
  } else if (user?.exec || user?.authProvider) {
    // Exec and auth-provider plugins (incl. tokenFile) cache and refresh on their own (60 s for a token
    // file, the credential's expiry for exec); ask them per request. A client certificate from an exec
    // plugin is not used: only static certificates reach the TLS layer.
    token = async () => {
      const opts: { headers?: Record<string, string> } = {};
      try {
        await kc.applyToHTTPSOptions(opts);
      } catch (error) {
        throw new KubeConfigError(`${where}: credential plugin of user "${user.name}" failed: ${message(error)}`);
      }
      const header = opts.headers?.Authorization ?? opts.headers?.authorization;
      return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    };
  } else if (user?.token) {
    const value = user.token.trim();
    token = async () => value;
  }
  const access: KubeAccess = {
    server: cluster.server.replace(/\/+$/, ''),
    namespace: ctx.namespace || 'default',
    source: where,
  };
  const caPem = pem(cluster.caFile, cluster.caData, 'certificate-authority', where);
  if (caPem !== undefined) access.caPem = caPem;
  if (certPem !== undefined && keyPem !== undefined) {
    access.certPem = certPem;
    access.keyPem = keyPem;
  }
  if (token) access.token = token;
  if (cluster.skipTLSVerify) access.insecureSkipTLSVerify = true;
  return access;
}

/**
 * Finds the API server and credentials, in this order: the explicit `kubeconfig` path, `KUBECONFIG` (its
 * first entry), the pod's service account (`KUBERNETES_SERVICE_HOST` set and a token mounted), and
 * `~/.kube/config`. Throws {@link KubeConfigError} naming the file and what is missing.
 */
export function loadKubeAccess(opts: LoadKubeAccessOptions): KubeAccess {
  const ttl = opts.tokenCacheMs ?? DEFAULT_TOKEN_CACHE_MS;
  if (opts.kubeconfig) return fromKubeconfig(absolute(opts.kubeconfig), opts.context, ttl);
  const fromEnv = opts.env.KUBECONFIG?.split(':').find((p) => p.length > 0);
  if (fromEnv) {
    try {
      return fromKubeconfig(absolute(fromEnv), opts.context, ttl);
    } catch (error) {
      throw error instanceof KubeConfigError ? new KubeConfigError(`${error.message} (from KUBECONFIG)`) : error;
    }
  }
  const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenPath = join(dir, 'token');
  if (opts.env.KUBERNETES_SERVICE_HOST && isFile(tokenPath)) return inCluster(opts.env, dir, ttl);
  const home = opts.env.HOME;
  const homeConfig = home ? join(home, '.kube', 'config') : undefined;
  if (homeConfig && isFile(homeConfig)) return fromKubeconfig(homeConfig, opts.context, ttl);
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
