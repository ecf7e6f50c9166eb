/**
 * Runs the exec credential plugin of a kubeconfig user (`users[].user.exec`, checked and resolved by
 * `kubeconfig.ts`) as client-go does, and serves its token to the HTTP layer as a token source, without
 * @kubernetes/client-node (`kubeconfig.ts` says why).
 *
 * One run: the plugin's `env` on top of the environment l2lb inherited, KUBERNETES_EXEC_INFO set to an
 * ExecCredential (`spec.interactive: false`, `spec.cluster` with `provideClusterInfo`), stdin /dev/null (l2lb
 * has no terminal). Its stdout is checked as client-go checks it: an ExecCredential of the kubeconfig's
 * apiVersion, with a `status.token` and, if any, an RFC 3339 `expirationTimestamp`.
 *
 * - A run is killed after {@link EXEC_TIMEOUT_MS} (client-go sets no bound): every request waits for the
 *   token, the Lease renewals included, so a hung plugin would otherwise hold them all.
 * - Callers that come while the plugin runs share that run: a burst of requests, or of 401s that each ask
 *   for a fresh token, starts one process, not one each.
 * - A token is reused until shortly before it expires ({@link EXEC_RENEW_BEFORE_MS}), or, without an expiry,
 *   until the server refuses it.
 * - Only a token is taken: the TLS layer uses the kubeconfig's static client certificate alone, so a plugin
 *   that returns only a certificate fails with a message.
 * - Stdout is capped and never quoted in a message (it may hold a credential); the start of stderr is.
 *
 * Failures are {@link KubeConfigError}s naming the kubeconfig, the context, the user and the command.
 */
import { spawn } from 'node:child_process';
import { KubeConfigError, errorText, isMap, shown } from './kubeconfig.ts';

/**
 * How long an exec plugin may run before it is killed and the call fails. client-go sets no bound; here a
 * hung plugin would hold every request, the Lease renewals included, so 30 s — as long as one API request
 * may take.
 */
export const EXEC_TIMEOUT_MS = 30_000;

/**
 * An exec token is renewed this long before its `expirationTimestamp` (or at half its remaining life when
 * that is shorter), so that no request leaves with a token that expires on the way.
 */
export const EXEC_RENEW_BEFORE_MS = 10_000;

/** What a plugin may print: enough for any credential, small enough to keep a broken plugin from filling memory. */
const EXEC_STDOUT_LIMIT = 1 << 20;
/** How much of a plugin's stderr is kept for the error message. */
const EXEC_STDERR_KEEP = 400;

/** An exec credential plugin of a kubeconfig user, ready to run. */
export interface ExecPlugin {
  /** The prefix of every message about it: `kubeconfig /path (context x)`. */
  where: string;
  /** The kubeconfig user it belongs to. */
  user: string;
  /** `client.authentication.k8s.io/v1` or `v1beta1`; the plugin must answer in the same. */
  apiVersion: string;
  /** As given, or resolved against the kubeconfig's directory when relative with a `/` in it. */
  command: string;
  args: string[];
  /** Added to the environment the plugin inherits. */
  env: { name: string; value: string }[];
  /** Shown when the command is not found. */
  installHint?: string;
  /** `spec.cluster` of KUBERNETES_EXEC_INFO; set when the kubeconfig says `provideClusterInfo: true`. */
  cluster?: ExecClusterInfo;
}

/** client-go's `clientauthentication/v1.Cluster`: the cluster as an exec plugin sees it. */
export interface ExecClusterInfo {
  server: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  /** Base64 of the CA's PEM, from the file or the inline data alike. */
  'certificate-authority-data'?: string;
  'disable-compression'?: boolean;
  /** The `extension` of the cluster's extension named `client.authentication.k8s.io/exec`. */
  config?: unknown;
}

/** A token from a plugin run, and when to run it again (epoch ms; Infinity: until the server refuses it). */
interface ExecToken {
  token: string;
  renewAt: number;
}

/** At most `max` characters of a plugin's output, on one line, for a message. */
function excerpt(text: string, max = 300): string {
  const line = text.trim().replace(/\s*\n\s*/g, ' | ');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * Runs `plugin` once, as client-go does: its `env` added to `env`, KUBERNETES_EXEC_INFO set to an
 * ExecCredential (`spec.interactive: false`, `spec.cluster` if asked for), stdin not a terminal (/dev/null).
 * Resolves with the token from its ExecCredential; rejects with a {@link KubeConfigError} naming the user,
 * the command, the exit code and the start of stderr.
 */
function runPlugin(plugin: ExecPlugin, env: Record<string, string | undefined>, timeoutMs: number): Promise<ExecToken> {
  const info = { apiVersion: plugin.apiVersion, kind: 'ExecCredential', spec: { interactive: false, ...(plugin.cluster ? { cluster: plugin.cluster } : {}) } };
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) childEnv[key] = value;
  for (const { name, value } of plugin.env) childEnv[name] = value;
  childEnv.KUBERNETES_EXEC_INFO = JSON.stringify(info);
  const command = `command "${plugin.command}"`;
  const failed = (what: string, stderr = '') =>
    new KubeConfigError(`${plugin.where}: credential plugin of user "${plugin.user}" failed: ${command} ${what}${stderr.trim() ? `; stderr: ${excerpt(stderr)}` : ''}`);

  return new Promise((resolveRun, rejectRun) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = (result: ExecToken | KubeConfigError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (result instanceof KubeConfigError) rejectRun(result);
      else resolveRun(result);
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(plugin.command, plugin.args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      settle(failed(`could not be started: ${errorText(error)}`));
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.length > EXEC_STDOUT_LIMIT) {
        child.kill('SIGKILL');
        settle(failed(`printed more than ${EXEC_STDOUT_LIMIT} bytes, which is no ExecCredential`, stderr));
      }
    });
    child.stderr!.on('data', (chunk: string) => {
      if (stderr.length < EXEC_STDERR_KEEP * 2) stderr += chunk;
    });
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      // Settled now, not on 'close': a child of the plugin may still hold the pipes open.
      settle(failed(`did not finish within ${timeoutMs / 1000} s and was killed`, stderr));
      child.stdout!.destroy();
      child.stderr!.destroy();
    }, timeoutMs);
    child.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'ENOENT') {
        const where = plugin.command.includes('/') ? 'does not exist' : `was not found in PATH (${childEnv.PATH ?? 'PATH is not set'})`;
        settle(failed(`${where}${plugin.installHint ? `. ${plugin.installHint.trim()}` : ''}`));
      } else {
        settle(failed(`could not be run: ${errorText(error)}`, stderr));
      }
    });
    child.on('close', (code: number | null, signal: string | null) => {
      if (code !== 0) {
        settle(failed(code === null ? `was killed by ${signal}` : `exited with code ${code}`, stderr));
        return;
      }
      try {
        settle(parseCredential(stdout, plugin.apiVersion));
      } catch (error) {
        settle(failed(`exited with code 0 but ${(error as Error).message}`, stderr));
      }
    });
  });
}

/** RFC 3339, as `metav1.Time` is written. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * The token (and its renewal time) of a plugin's stdout, checked as client-go checks it. Throws an Error
 * whose message completes "exited with code 0 but …". Never quotes stdout: it may hold a credential.
 */
function parseCredential(stdout: string, apiVersion: string, now = Date.now()): ExecToken {
  let cred: unknown;
  try {
    cred = JSON.parse(stdout);
  } catch {
    throw new Error(`printed no ExecCredential (stdout is not JSON, ${stdout.length} characters)`);
  }
  if (!isMap(cred) || cred.kind !== 'ExecCredential') throw new Error(`printed no ExecCredential (JSON of kind ${isMap(cred) ? JSON.stringify(cred.kind ?? null) : shown(cred)})`);
  if (cred.apiVersion !== apiVersion) throw new Error(`printed an ExecCredential of apiVersion ${JSON.stringify(cred.apiVersion ?? null)}, while the kubeconfig asks for "${apiVersion}"`);
  const status = cred.status;
  if (!isMap(status)) throw new Error('printed an ExecCredential without status');
  const token = status.token;
  if (typeof token !== 'string' || token === '') {
    if (status.clientCertificateData || status.clientKeyData) {
      throw new Error('returned a client certificate and no token; l2lb takes only tokens from exec plugins (a client-certificate in the kubeconfig itself works)');
    }
    throw new Error('returned no status.token');
  }
  const expiry = status.expirationTimestamp;
  if (expiry === undefined || expiry === null) return { token, renewAt: Infinity };
  const expiresAt = typeof expiry === 'string' && RFC3339.test(expiry) ? Date.parse(expiry) : NaN;
  if (!Number.isFinite(expiresAt)) throw new Error(`returned status.expirationTimestamp ${JSON.stringify(expiry)}, which is not an RFC 3339 time`);
  return { token, renewAt: expiresAt - Math.min(EXEC_RENEW_BEFORE_MS, Math.max(0, (expiresAt - now) / 2)) };
}

/** Options of {@link execTokenSource}. */
export interface ExecTokenOptions {
  /** Bound on one run of the plugin (default {@link EXEC_TIMEOUT_MS}). */
  timeoutMs?: number;
}

/**
 * A token source backed by an exec credential plugin. The token is reused until shortly before its
 * `expirationTimestamp` ({@link EXEC_RENEW_BEFORE_MS}), or, without one, until the server refuses it
 * (`fresh: true` runs the plugin again at once). Callers that come while the plugin runs wait for that
 * same run. A client certificate the plugin returns is not used — the TLS layer takes only the static
 * certificate of the kubeconfig — so a plugin that returns only a certificate fails with a message.
 * `env` is the environment the plugin inherits (the process's).
 */
export function execTokenSource(plugin: ExecPlugin, env: Record<string, string | undefined>, opts: ExecTokenOptions = {}): (opts?: { fresh?: boolean }) => Promise<string> {
  const timeoutMs = opts.timeoutMs ?? EXEC_TIMEOUT_MS;
  let cached: ExecToken | undefined;
  let running: Promise<string> | undefined;
  return (call) => {
    // Whoever comes while the plugin runs, asking fresh or not, waits for that run: its token is the newest.
    if (running) return running;
    if (call?.fresh) cached = undefined;
    if (cached && Date.now() < cached.renewAt) return Promise.resolve(cached.token);
    running = runPlugin(plugin, env, timeoutMs)
      .then((fresh) => {
        cached = fresh;
        return fresh.token;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
}
