/**
 * Reads a kubeconfig file as client-go does, without @kubernetes/client-node: importing that library cost
 * ~37 MiB of RSS and ~0.5 s of start under Bun, only to read this one file format. An exec credential plugin
 * is checked and resolved here (an {@link ExecPlugin}) but run by `exec.ts`.
 *
 * Read: `clusters` (`server`, `certificate-authority` / `-data`, `insecure-skip-tls-verify`, and the
 * `client.authentication.k8s.io/exec` extension for exec plugins), `users` (`client-certificate` / `-data`,
 * `client-key` / `-data`, `token`, `tokenFile` (and client-node's spelling `token-file`), `exec`), `contexts`
 * (`cluster`, `user`, `namespace`) and `current-context`. Relative paths (certificate files, `tokenFile`, an
 * exec `command` that contains a `/`) resolve against the kubeconfig's directory, as in client-go. YAML is read
 * as YAML 1.1, as client-go's parser does (`insecure-skip-tls-verify: yes` is true).
 *
 * Refused, with a message that says what to use instead: basic auth (`username` / `password`),
 * `auth-provider` (gcp, azure, oidc: removed from kubectl 1.26), impersonation (`as`, `as-groups`, `as-uid`,
 * `as-user-extra`), `proxy-url`, a `tls-server-name` other than the server URL's own host (the HTTP layer
 * checks the certificate against the URL's host and takes no other name), an exec plugin with
 * `interactiveMode: Always` (l2lb has no terminal) or an exec API version other than
 * `client.authentication.k8s.io/v1` / `v1beta1`, and what kubectl refuses too: a file and inline data for the
 * same certificate, `insecure-skip-tls-verify` together with a CA, a namespace that is not a DNS label.
 *
 * One file is read (l2lb takes the first entry of KUBECONFIG; client-go merges them all). Structural errors
 * (a list entry without a name, a cluster without a server, a field of the wrong type) fail the whole file;
 * what is refused only matters for the context in use.
 */
import { Buffer } from 'node:buffer';
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import YAML from 'yaml';
import type { ExecClusterInfo, ExecPlugin } from './exec.ts';

/** The configuration cannot be used: names the file and what is missing or wrong. */
export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

/**
 * The exec credential API versions client-go accepts (v1alpha1 was removed in Kubernetes 1.24): an exec
 * stanza with another is refused at load, before `exec.ts` would run it.
 */
export const EXEC_API_VERSIONS: readonly string[] = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** How the chosen user proves who it is, besides (or instead of) a client certificate. */
export type KubeCredential =
  | { kind: 'token'; token: string }
  /** A file read again as it rotates; it was readable at load. */
  | { kind: 'tokenFile'; path: string }
  | { kind: 'exec'; plugin: ExecPlugin };

/** The context chosen from a kubeconfig, with every file it names already read. */
export interface KubeconfigContext {
  /** The prefix of every message about it: `kubeconfig /path (context x)`. */
  where: string;
  context: string;
  cluster: string;
  /** As written, without a trailing slash. */
  server: string;
  caPem?: string;
  insecureSkipTLSVerify: boolean;
  /** Absent: the context names no user (requests are anonymous). */
  user?: string;
  certPem?: string;
  keyPem?: string;
  /**
   * `tokenFile` wins over `token` (client-go reads the file as it rotates); an exec plugin is used only when
   * the user has neither and no client certificate (client-go skips it then too).
   */
  credential?: KubeCredential;
  /** The context's namespace, if it names one. */
  namespace?: string;
}

type YamlMap = Record<string, unknown>;

/** A YAML (or JSON) mapping: not a list, not null, not a date. */
export const isMap = (value: unknown): value is YamlMap => typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);

/** One line for an error: its message, with its code in front when the message lacks it (`ENOENT: …`). */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/** Reads a UTF-8 file; a failure names the file and what it was for. */
export function readText(path: string, what: string, origin: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new KubeConfigError(`${origin}: cannot read ${what} ${path}: ${errorText(error)}`);
  }
}

/** How a YAML (or JSON) value that is not what a field wants reads in a message. */
export function shown(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isMap(value)) return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  // A number or boolean where a string belongs was unquoted in the file: YAML read it as something else.
  if (typeof value === 'number' || typeof value === 'boolean') return `${value} (YAML reads it unquoted as a ${typeof value}; quote it)`;
  return String(value);
}

/**
 * Typed access to the fields of one YAML mapping, with its place in the file for messages
 * (`clusters[0].cluster`, `(cluster "c1")`). An empty string counts as unset, as in client-go.
 */
class Fields {
  constructor(
    readonly map: YamlMap,
    readonly at: string,
    readonly origin: string,
    readonly label = '',
  ) {}

  fail(message: string): never {
    throw new KubeConfigError(`${this.origin}: ${message}${this.label}`);
  }

  str(key: string): string | undefined {
    const value = this.map[key];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') this.fail(`${this.at}.${key} must be a string, not ${shown(value)}`);
    return value;
  }

  bool(key: string): boolean | undefined {
    const value = this.map[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') this.fail(`${this.at}.${key} must be true or false, not ${shown(value)}`);
    return value;
  }

  list(key: string): unknown[] {
    const value = this.map[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(`${this.at}.${key} must be a list, not ${shown(value)}`);
    return value;
  }

  has(key: string): boolean {
    const value = this.map[key];
    return value !== undefined && value !== null && value !== '' && !(Array.isArray(value) && value.length === 0) && !(isMap(value) && Object.keys(value).length === 0);
  }
}

/** One named entry of `clusters`, `users` or `contexts`. */
interface Entry {
  name: string;
  /** `clusters[0]` */
  at: string;
  fields: Fields;
}

interface Cluster extends Entry {
  server: string;
}

/**
 * The named entries of one top-level list. `body` is the key of each entry's mapping (`cluster`, `user`,
 * `context`); a user may lack it (no credentials), the others may not.
 */
function entries(root: Fields, list: 'clusters' | 'users' | 'contexts', body: 'cluster' | 'user' | 'context'): Entry[] {
  return root.list(list).map((item, i) => {
    const at = `${list}[${i}]`;
    if (!isMap(item)) root.fail(`${at} must be a mapping with name and ${body}, not ${shown(item)}`);
    const outer: Fields = new Fields(item, at, root.origin);
    const name = outer.str('name');
    if (name === undefined) outer.fail(`${at}.name is missing`);
    const label = ` (${body} "${name}")`;
    const inner = item[body];
    if (inner === undefined || inner === null) {
      if (body !== 'user') outer.fail(`${at}.${body} is missing${label}`);
      return { name, at, fields: new Fields({}, `${at}.${body}`, root.origin, label) };
    }
    if (!isMap(inner)) outer.fail(`${at}.${body} must be a mapping, not ${shown(inner)}${label}`);
    return { name, at, fields: new Fields(inner, `${at}.${body}`, root.origin, label) };
  });
}

/** Checks the fields of every cluster, so that a broken entry fails at once whichever context is used. */
function clusters(root: Fields): Cluster[] {
  return entries(root, 'clusters', 'cluster').map((entry) => {
    const f: Fields = entry.fields;
    const server = f.str('server');
    if (server === undefined) f.fail(`${f.at}.server is missing`);
    for (const key of ['certificate-authority', 'certificate-authority-data', 'tls-server-name', 'proxy-url']) f.str(key);
    f.bool('insecure-skip-tls-verify');
    f.bool('disable-compression');
    f.list('extensions');
    return { ...entry, server };
  });
}

/** Checks the string fields of every user (what is refused is checked only for the user in use). */
function users(root: Fields): Entry[] {
  return entries(root, 'users', 'user').map((entry) => {
    const f: Fields = entry.fields;
    for (const key of ['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile', 'token-file', 'username', 'password', 'as', 'as-uid']) f.str(key);
    return entry;
  });
}

/** Checks every context: a cluster is required, the user is not (anonymous). */
function contexts(root: Fields): Entry[] {
  return entries(root, 'contexts', 'context').map((entry) => {
    const f: Fields = entry.fields;
    if (f.str('cluster') === undefined) f.fail(`${f.at}.cluster is missing`);
    f.str('user');
    f.str('namespace');
    return entry;
  });
}

/** The entry named `name`; a name given twice is refused (kubectl takes the last, client-node the first). */
function pick<T extends Entry>(list: T[], name: string, kind: string, where: string): T | undefined {
  const found = list.filter((e) => e.name === name);
  if (found.length > 1) throw new KubeConfigError(`${where}: ${kind} "${name}" is defined ${found.length} times (${found.map((e) => e.at).join(', ')}); kubectl uses the last, client-node the first: remove the others`);
  return found[0];
}

const names = (list: Entry[]): string => list.map((e) => e.name).join(', ') || 'none';

/** Resolves a path from the kubeconfig against the kubeconfig's own directory (client-go's rule). */
const resolve = (path: string, base: string): string => (isAbsolute(path) ? path : join(dirname(base), path));

/**
 * PEM given as a file or inline (base64, as client-go's JSON decoding of `[]byte` wants it). Both at once is
 * refused: kubectl refuses it too ("… are both specified"), and client-node would take the file where
 * client-go takes the data. `it` names the entry (`user "u1"`) after `where`.
 */
function pemOf(f: Fields, fileKey: string, what: string, path: string, where: string, it: string): string | undefined {
  const file = f.str(fileKey);
  const data = f.str(`${fileKey}-data`);
  if (file !== undefined && data !== undefined) throw new KubeConfigError(`${where}: ${it} sets both ${fileKey} and ${fileKey}-data; keep one`);
  if (file !== undefined) return readText(resolve(file, path), what, where);
  if (data === undefined) return undefined;
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(data)) throw new KubeConfigError(`${where}: ${it} ${fileKey}-data is not base64`);
  return Buffer.from(data, 'base64').toString('utf8');
}

/** Where to get each legacy auth-provider's token now: its exec-plugin successor. */
const AUTH_PROVIDER_SUCCESSORS: Record<string, string> = {
  gcp: 'gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin)',
  azure: 'kubelogin (github.com/Azure/kubelogin, `kubelogin convert-kubeconfig`)',
  oidc: 'kubelogin (github.com/int128/kubelogin, `kubectl oidc-login`)',
};

/** An exec stanza of the chosen user, checked as client-go checks it, with its cluster info if asked for. */
function execPlugin(exec: unknown, userName: string, cluster: Cluster, caPem: string | undefined, path: string, where: string): ExecPlugin {
  const at = `user "${userName}" exec`;
  if (!isMap(exec)) throw new KubeConfigError(`${where}: ${at} must be a mapping, not ${shown(exec)}`);
  const f: Fields = new Fields(exec, at, where);
  const apiVersion = f.str('apiVersion');
  if (apiVersion === undefined) f.fail(`${at}.apiVersion is missing (${EXEC_API_VERSIONS.join(' or ')})`);
  if (!EXEC_API_VERSIONS.includes(apiVersion)) f.fail(`${at}.apiVersion "${apiVersion}" is not supported: use ${EXEC_API_VERSIONS.join(' or ')}, as client-go does (v1alpha1 was removed in Kubernetes 1.24)`);
  const command = f.str('command');
  if (command === undefined) f.fail(`${at}.command is missing`);
  const args = f.list('args').map((arg, i) => {
    if (typeof arg !== 'string') f.fail(`${at}.args[${i}] must be a string, not ${shown(arg)}`);
    return arg;
  });
  const env = f.list('env').map((item, i) => {
    if (!isMap(item)) f.fail(`${at}.env[${i}] must be a mapping with name and value, not ${shown(item)}`);
    const e: Fields = new Fields(item, `${at}.env[${i}]`, where);
    const name = e.str('name');
    if (name === undefined) e.fail(`${at}.env[${i}].name is missing`);
    return { name, value: e.str('value') ?? '' };
  });
  // client-go requires interactiveMode with v1; a missing one is taken as IfAvailable, which without a
  // terminal (l2lb never has one) is the same as Never.
  const mode = f.str('interactiveMode');
  if (mode === 'Always') f.fail(`${at} has interactiveMode: Always, but l2lb runs without a terminal to give the plugin; use a plugin that gets its credential without asking (interactiveMode: Never or IfAvailable)`);
  if (mode !== undefined && mode !== 'Never' && mode !== 'IfAvailable') f.fail(`${at}.interactiveMode "${mode}" is not one of Never, IfAvailable, Always`);
  const plugin: ExecPlugin = { where, user: userName, apiVersion, command: command.includes('/') ? resolve(command, path) : command, args, env };
  const installHint = f.str('installHint');
  if (installHint !== undefined) plugin.installHint = installHint;
  if (f.bool('provideClusterInfo')) plugin.cluster = execClusterInfo(cluster, caPem);
  return plugin;
}

/** `spec.cluster` for KUBERNETES_EXEC_INFO, as client-go fills it (empty fields left out). */
function execClusterInfo(cluster: Cluster, caPem: string | undefined): ExecClusterInfo {
  const f: Fields = cluster.fields;
  const info: ExecClusterInfo = { server: cluster.server };
  const serverName = f.str('tls-server-name');
  if (serverName !== undefined) info['tls-server-name'] = serverName;
  if (f.bool('insecure-skip-tls-verify')) info['insecure-skip-tls-verify'] = true;
  if (caPem !== undefined) info['certificate-authority-data'] = Buffer.from(caPem, 'utf8').toString('base64');
  if (f.bool('disable-compression')) info['disable-compression'] = true;
  f.list('extensions').forEach((item, i) => {
    if (!isMap(item)) f.fail(`${f.at}.extensions[${i}] must be a mapping with name and extension, not ${shown(item)}`);
    if (item.name === 'client.authentication.k8s.io/exec' && item.extension !== undefined && item.extension !== null) info.config = item.extension;
  });
  return info;
}

/** A namespace must be a DNS-1123 label; kubectl refuses a context with another. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Reads the kubeconfig at `path` and resolves one context (`context`, else `current-context`): its cluster,
 * user and namespace, with every file they name read now (so a missing one fails at start). Throws
 * {@link KubeConfigError} naming the file, the context and what is wrong.
 */
export function readKubeconfig(path: string, context?: string): KubeconfigContext {
  const origin = `kubeconfig ${path}`;
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (error) {
    throw new KubeConfigError(`${origin}: cannot read file ${path}: ${errorText(error)}`);
  }
  // Checked before reading: reading a FIFO or a device could block the start for good.
  if (!isFile) throw new KubeConfigError(`${origin}: not a regular file`);
  const text = readText(path, 'file', origin);

  // YAML 1.1 like go-yaml (yes/no/on/off are booleans), but dates and 1:20 stay strings, as go-yaml leaves them.
  const doc = YAML.parseDocument(text, {
    version: '1.1',
    customTags: (tags) => tags.filter((t) => typeof t === 'string' || !(t.tag === 'tag:yaml.org,2002:timestamp' || t.format === 'TIME')),
  });
  const yamlError = doc.errors[0];
  if (yamlError) throw new KubeConfigError(`${origin}: not valid YAML: ${yamlError.message.split(':\n')[0]}`);
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) throw new KubeConfigError(`${origin}: the file is empty`);
  if (!isMap(data)) throw new KubeConfigError(`${origin}: not a kubeconfig (a mapping with clusters, users and contexts), but ${shown(data)}`);
  const root: Fields = new Fields(data, 'kubeconfig', origin);
  const kind = root.str('kind');
  if (kind !== undefined && kind !== 'Config') root.fail(`is a ${kind}, not a kubeconfig (kind: Config)`);
  const allClusters = clusters(root);
  const allUsers = users(root);
  const allContexts = contexts(root);

  const name = context ?? root.str('current-context');
  if (name === undefined) root.fail(`no current-context is set and no context was chosen (contexts: ${names(allContexts)})`);
  const where = `${origin} (context ${name})`;
  const ctx = pick(allContexts, name, 'context', origin);
  if (!ctx) root.fail(`context "${name}" not found (contexts: ${names(allContexts)})`);
  const clusterName = ctx.fields.str('cluster')!;
  const userName = ctx.fields.str('user');
  const namespace = ctx.fields.str('namespace');
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) throw new KubeConfigError(`${where}: namespace "${namespace}" is not a valid namespace name (a DNS-1123 label: lower-case letters, digits and '-', at most 63)`);

  const cluster = pick(allClusters, clusterName, 'cluster', where);
  if (!cluster) throw new KubeConfigError(`${where}: cluster "${clusterName}" not found (clusters: ${names(allClusters)})`);
  const result = clusterOf(cluster, path, where);
  const out: KubeconfigContext = { where, context: name, ...result };
  if (namespace !== undefined) out.namespace = namespace;
  if (userName === undefined) return out;

  const user = pick(allUsers, userName, 'user', where);
  if (!user) throw new KubeConfigError(`${where}: user "${userName}" not found (users: ${names(allUsers)})`);
  out.user = userName;
  Object.assign(out, userOf(user, cluster, result.caPem, path, where));
  return out;
}

/** The server and TLS settings of the chosen cluster. */
function clusterOf(cluster: Cluster, path: string, where: string): Pick<KubeconfigContext, 'cluster' | 'server' | 'caPem' | 'insecureSkipTLSVerify'> {
  const f: Fields = cluster.fields;
  const it = `cluster "${cluster.name}"`;
  let url: URL | undefined;
  try {
    url = new URL(cluster.server);
  } catch {
    // refused just below
  }
  if (!url || !/^https?:$/.test(url.protocol)) throw new KubeConfigError(`${where}: ${it} server "${cluster.server}" is not an http(s) URL`);
  const serverName = f.str('tls-server-name');
  if (serverName !== undefined && serverName.toLowerCase() !== url.hostname.replace(/^\[(.*)\]$/, '$1')) {
    throw new KubeConfigError(`${where}: ${it} sets tls-server-name "${serverName}", which l2lb does not support (the server certificate is checked against the host of the server URL, ${url.hostname}); use a server URL whose host the certificate names`);
  }
  const proxy = f.str('proxy-url');
  if (proxy !== undefined) throw new KubeConfigError(`${where}: ${it} sets proxy-url "${proxy}", which l2lb does not support; l2lb must reach the server directly`);
  const caPem = pemOf(f, 'certificate-authority', 'certificate-authority', path, where, it);
  const insecure = f.bool('insecure-skip-tls-verify') ?? false;
  if (insecure && caPem !== undefined) {
    // kubectl: "specifying a root certificates file with the insecure flag is not allowed"
    throw new KubeConfigError(`${where}: ${it} sets insecure-skip-tls-verify together with a certificate-authority, which kubectl refuses too; keep one`);
  }
  const out: ReturnType<typeof clusterOf> = { cluster: cluster.name, server: cluster.server.replace(/\/+$/, ''), insecureSkipTLSVerify: insecure };
  if (caPem !== undefined) out.caPem = caPem;
  return out;
}

/** The client certificate and credential of the chosen user; refuses what l2lb cannot do. */
function userOf(user: Entry, cluster: Cluster, caPem: string | undefined, path: string, where: string): Pick<KubeconfigContext, 'certPem' | 'keyPem' | 'credential'> {
  const f: Fields = user.fields;
  const it = `user "${user.name}"`;
  const provider = f.map['auth-provider'];
  if (provider !== undefined && provider !== null) {
    const providerName = isMap(provider) && typeof provider.name === 'string' ? provider.name : '?';
    const successor = AUTH_PROVIDER_SUCCESSORS[providerName];
    throw new KubeConfigError(
      `${where}: ${it} uses auth-provider "${providerName}", which l2lb does not support (kubectl dropped auth providers in 1.26); ` +
        `use an exec credential plugin${successor ? `, for ${providerName} ${successor}` : ''}, or a ServiceAccount token (token or tokenFile)`,
    );
  }
  if (f.has('username') || f.has('password')) throw new KubeConfigError(`${where}: ${it} uses basic auth (username/password), which l2lb does not support; use a token or a client certificate`);
  const impersonation = ['as', 'as-uid', 'as-groups', 'as-user-extra'].filter((k) => f.has(k));
  if (impersonation.length > 0) throw new KubeConfigError(`${where}: ${it} sets ${impersonation.join(', ')} (impersonation), which l2lb does not support; give l2lb a credential of its own`);

  const out: ReturnType<typeof userOf> = {};
  const certPem = pemOf(f, 'client-certificate', 'client certificate', path, where, it);
  const keyPem = pemOf(f, 'client-key', 'client key', path, where, it);
  if ((certPem === undefined) !== (keyPem === undefined)) {
    throw new KubeConfigError(`${where}: ${it} has a client ${certPem !== undefined ? 'certificate but no client-key' : 'key but no client-certificate'}`);
  }
  if (certPem !== undefined && keyPem !== undefined) {
    out.certPem = certPem;
    out.keyPem = keyPem;
  }
  const exec = f.map.exec;
  const plugin = exec !== undefined && exec !== null ? execPlugin(exec, user.name, cluster, caPem, path, where) : undefined;
  const tokenFile = f.str('tokenFile') ?? f.str('token-file');
  const token = f.str('token')?.trim();
  if (tokenFile !== undefined) {
    const file = resolve(tokenFile, path);
    // Read once now, so a missing or unreadable file fails at start with a clear message.
    readText(file, 'tokenFile', where);
    out.credential = { kind: 'tokenFile', path: file };
  } else if (token) {
    out.credential = { kind: 'token', token };
  } else if (plugin && certPem === undefined) {
    out.credential = { kind: 'exec', plugin };
  }
  return out;
}
