/**
 * A Kubernetes API server stand-in for tests: HTTPS with a private CA, bearer-token and client-certificate
 * authentication, and kube-apiserver 1.28's wire behaviour for the resources l2lb uses (Services, Nodes,
 * Namespaces, Events, EndpointSlices, Leases, OpenELB Eips) — status subresources, optimistic concurrency,
 * merge/JSON patches, watches with resume, 410 Expired and bookmarks, paginated lists whose continue
 * tokens expire (compaction, `continueTtlMs`), validation that l2lb could trip on — and objects shaped like
 * the real server's: `managedFields` on every object written (managed.mjs), and kubelet-sized Nodes from
 * nodes.ts.
 *
 * The server itself is `server.mjs` run under Node as a child process: under Bun, `node:https` gives a
 * request a plain Socket without getPeerCertificate() and `Bun.serve` has no peer-certificate API, so a
 * server in the test process could not tell whose client certificate it got. A child process also keeps
 * the server answering while a test blocks its own thread (spawnSync curl), and makes a SIGKILL real.
 * This class starts it, talks to its control endpoint (a Unix socket) and injects faults: dropped watches,
 * compaction, failing requests (409, 429 with Retry-After, 500/503 bursts), latency on every call, watches
 * that go silent, TLS handshakes that hang, a rotated bearer token, a SIGKILL or SIGTERM-like stop, a
 * restart on the same port with the same state.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPki, issueClientCert, type CertPair } from './pki.ts';

/**
 * A Kubernetes object: untyped JSON from the wire. Deliberately `any` (the JSON boundary, as FFI is for the
 * rest of the code base, and the contract the other test suites code against): tests read fields such as
 * `status.loadBalancer.ingress[0].ip` without casts.
 */
export type KubeObject = any;

/** Names one object. `namespace` defaults to "default" for namespaced kinds. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** One entry of the request log. */
export interface RequestRecord {
  method: string;
  path: string;
  /** The query string without '?'. */
  query: string;
  /** Token user or certificate CN; '' when unauthenticated. */
  user: string;
  status: number;
  watch: boolean;
  /** Epoch milliseconds when the request arrived. */
  at: number;
}

/** A metav1.Status body. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  code: number;
  details?: Record<string, unknown>;
}

/** An admin call the server refused; `status` is the Status the HTTP API would have answered. */
export class StandInError extends Error {
  constructor(
    message: string,
    readonly status?: Status,
  ) {
    super(message);
  }
}

/** Options of {@link StandIn.start}. */
export interface StandInOptions {
  /** Bookmarks to watches that ask for them, every this many ms; 0 (default): never, like a quiet real server. */
  bookmarkIntervalMs?: number;
  /** Watch events kept per resource (the watch cache); older resourceVersions get 410 Expired. Default 10000. */
  historySize?: number;
  /** Address to listen on (default 127.0.0.1); add it to `extraSans` when it is not loopback. */
  host?: string;
  /** Run the server inside this network namespace (`ip netns exec`); the control socket works from anywhere. */
  netns?: string;
  /** More SAN entries for the serving certificate, e.g. `IP:198.51.100.1`. */
  extraSans?: string[];
  /** Unauthenticated requests become `system:anonymous` and get 403, as with `--anonymous-auth=true`. */
  anonymous?: boolean;
  /** More bearer tokens: user name -> token. */
  tokens?: Record<string, string>;
  /** Service node port range (default 30000-32767, like a real cluster: 10,000 LB Services need allocateLoadBalancerNodePorts: false). */
  nodePortRange?: [number, number];
  /** Keep the watch history across {@link StandIn.restart}. Default false: as after a real restart, resuming a watch older than the current resourceVersion is a 410. */
  keepHistoryOnRestart?: boolean;
  /**
   * A list's continue tokens expire this long after its first page (410 Expired on the next page), as etcd
   * compaction (every 5 min by default) ends a real list's revision. Default 0: only {@link StandIn.compact}
   * expires them.
   */
  continueTtlMs?: number;
  /**
   * What a write costs, as on a real server: at most `slots` writes are committed at once, each taking `ms`
   * (etcd's commit), the rest wait in arrival order. Benchmarks compare l2lb with a bare client on this.
   */
  writeCost?: { ms: number; slots: number };
  /**
   * The Kubernetes release it behaves as (`/version` says it): `1.28` (default, the release the issues measured
   * against) or `1.31`, the first to select Services by `spec.type` and `spec.clusterIP` (before, such a
   * field selector is a 400 "field label not supported").
   */
  kubernetesVersion?: '1.28' | '1.31';
}

/** Options of the admin writes ({@link StandIn.create}, {@link StandIn.update}, {@link StandIn.patchStatus}). */
export interface WriteOptions {
  /**
   * The manager their managedFields entry names (default `kubectl-client-side-apply`, what `kubectl apply`
   * records); e.g. `kubelet` for a Node.
   */
  manager?: string;
}

const SERVER = join(import.meta.dir, 'server.mjs');
const TOKEN_USER = 'system:serviceaccount:l2lb-system:l2lb';

/** A running (or stopped) stand-in. */
export class StandIn {
  /** `https://HOST:PORT`; the same after {@link restart}. */
  readonly url: string;
  /** CA of the serving certificate (PEM). */
  readonly caPem: string;
  /** Client certificate for user `l2lb` (group system:masters), signed by the client CA. */
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
  /** Bearer token of user `system:serviceaccount:l2lb-system:l2lb` (the newest one after {@link rotateToken}). */
  get token(): string {
    return this.currentToken;
  }
  private currentToken: string;
  /** Working directory: certificates, journal, request log, control socket. Removed by {@link close}. */
  readonly dir: string;
  readonly port: number;

  private proc: ReturnType<typeof Bun.spawn> | undefined;
  private stderrText = '';
  private readonly configPath: string;

  private constructor(dir: string, port: number, host: string, pki: { caPem: string; client: CertPair }, token: string, configPath: string) {
    this.dir = dir;
    this.port = port;
    this.url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.caPem = pki.caPem;
    this.clientCertPem = pki.client.certPem;
    this.clientKeyPem = pki.client.keyPem;
    this.currentToken = token;
    this.configPath = configPath;
  }

  /** Generates certificates, starts the server and waits until it listens. */
  static async start(opts: StandInOptions = {}): Promise<StandIn> {
    if (!Bun.which('node')) throw new Error('the Kubernetes stand-in runs under Node: `node` is not on PATH');
    const dir = mkdtempSync(join(tmpdir(), 'kube-standin-'));
    try {
      const pki = createPki(dir, opts.extraSans);
      const token = randomToken();
      const tokens: Record<string, string> = { [token]: TOKEN_USER };
      for (const [user, t] of Object.entries(opts.tokens ?? {})) tokens[t] = user;
      const host = opts.host ?? '127.0.0.1';
      const config = {
        dir,
        host,
        port: 0,
        historySize: opts.historySize ?? 10000,
        bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 0,
        anonymous: opts.anonymous ?? false,
        tokens,
        nodePortRange: opts.nodePortRange,
        keepHistory: false,
        netns: opts.netns,
        keepHistoryOnRestart: opts.keepHistoryOnRestart ?? false,
        continueTtlMs: opts.continueTtlMs ?? 0,
        writeCost: opts.writeCost,
        kubernetesVersion: opts.kubernetesVersion ?? '1.28',
      };
      const configPath = join(dir, 'config.json');
      writeFileSync(configPath, JSON.stringify(config));
      const { proc, port, stderr } = await spawnServer(configPath, opts.netns);
      config.port = port;
      writeFileSync(configPath, JSON.stringify(config));
      const s = new StandIn(dir, port, host, pki, token, configPath);
      s.proc = proc;
      s.follow(stderr);
      return s;
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Whether the server process is alive (also after a `term` stop, which leaves it holding its watches). */
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** What the server wrote to stderr (for diagnostics). */
  get logs(): string {
    return this.stderrText;
  }

  private follow(stderr: ReadableStream<Uint8Array>): void {
    void (async () => {
      const dec = new TextDecoder();
      try {
        for await (const chunk of stderr) this.stderrText = (this.stderrText + dec.decode(chunk)).slice(-65536);
      } catch {
        // the process went away
      }
    })();
  }

  // ------------------------------------------------------------------------------------- credentials

  /** TLS options for Bun's `fetch(url, { tls })`: the CA, plus the client certificate for `cert`. */
  tls(auth: 'token' | 'cert' | 'none' = 'cert'): { ca: string; cert?: string; key?: string } {
    return auth === 'cert' ? { ca: this.caPem, cert: this.clientCertPem, key: this.clientKeyPem } : { ca: this.caPem };
  }

  /** `fetch` against the stand-in with the given authentication (adds the token header or client certificate). */
  fetch(path: string, init: RequestInit = {}, auth: 'token' | 'cert' | 'none' = 'cert'): Promise<Response> {
    const headers = new Headers(init.headers);
    if (auth === 'token') headers.set('Authorization', `Bearer ${this.token}`);
    return fetch(this.url + path, { ...init, headers, tls: this.tls(auth) } as RequestInit);
  }

  /** A client certificate for another user (e.g. a second l2lb replica), signed by the client CA. */
  issueClientCert(user: string, groups: string[] = []): CertPair {
    return issueClientCert(this.dir, user, groups);
  }

  /**
   * Kubeconfig YAML with embedded CA and the token, the client certificate, or (`token-file`) client-go's
   * `tokenFile`: the path of a file holding the token, which clients read again as it rotates.
   */
  kubeconfig(auth: 'token' | 'cert' | 'token-file', opts: { tokenFile?: string } = {}): string {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    if (auth === 'token-file' && !opts.tokenFile) throw new Error('kubeconfig token-file: give the tokenFile path');
    const user =
      auth === 'token'
        ? `    token: ${this.token}\n`
        : auth === 'token-file'
          ? `    tokenFile: ${opts.tokenFile}\n`
          : `    client-certificate-data: ${b64(this.clientCertPem)}\n    client-key-data: ${b64(this.clientKeyPem)}\n`;
    const userName = auth === 'cert' ? 'cert-user' : 'token-user';
    return (
      'apiVersion: v1\n' +
      'kind: Config\n' +
      'clusters:\n' +
      '- name: stand-in\n' +
      '  cluster:\n' +
      `    server: ${this.url}\n` +
      `    certificate-authority-data: ${b64(this.caPem)}\n` +
      'users:\n' +
      `- name: ${userName}\n` +
      '  user:\n' +
      user +
      'contexts:\n' +
      '- name: stand-in\n' +
      '  context:\n' +
      '    cluster: stand-in\n' +
      `    user: ${userName}\n` +
      '    namespace: default\n' +
      'current-context: stand-in\n'
    );
  }

  /** Writes {@link kubeconfig} to `path`; with `token-file`, also the current token to `opts.tokenFile`. */
  writeKubeconfig(path: string, auth: 'token' | 'cert' | 'token-file', opts: { tokenFile?: string } = {}): void {
    if (auth === 'token-file' && opts.tokenFile) writeFileSync(opts.tokenFile, `${this.token}\n`, { mode: 0o600 });
    writeFileSync(path, this.kubeconfig(auth, opts), { mode: 0o600 });
  }

  // -------------------------------------------------------------------------------- state as an admin

  private async control<T>(name: string, body: unknown = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`http://stand-in/${name}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' },
        unix: join(this.dir, 'control.sock'),
        // A fresh connection per call: Node closes an idle keep-alive connection after 5 s, and a pooled one
        // reused at that moment fails with ECONNRESET (CI saw it once, a control call ~5 s after the last).
        keepalive: false,
      } as RequestInit);
    } catch (err) {
      throw new StandInError(`stand-in control ${name}: server not reachable (${this.running ? 'running' : 'stopped'}): ${(err as Error).message}`);
    }
    const text = await res.text();
    const json = JSON.parse(text) as T & Partial<Status>;
    if (res.status !== 200) throw new StandInError(`stand-in ${name}: ${json.message ?? text}`, json.kind === 'Status' ? (json as unknown as Status) : undefined);
    return json;
  }

  /**
   * Creates an object through the same code as POST (defaults, validation, watch events, managedFields). A
   * missing namespace is created first. A `status` in `obj` is written with a status update right after,
   * since a create drops it for kinds with a status subresource.
   */
  create(obj: KubeObject, opts: WriteOptions = {}): Promise<KubeObject> {
    return this.control('create', { obj, ...opts });
  }

  /** PUT of the main resource (status changes are ignored, as on a real server); honours metadata.resourceVersion. */
  update(obj: KubeObject, opts: WriteOptions = {}): Promise<KubeObject> {
    return this.control('update', { obj, ...opts });
  }

  /** Merge-patches `status` through the status subresource. */
  patchStatus(ref: ObjectRef, status: unknown, opts: WriteOptions = {}): Promise<KubeObject> {
    return this.control('patchStatus', { ref, status, ...opts });
  }

  /** DELETE: with finalizers the object only gets a deletionTimestamp. */
  async remove(ref: ObjectRef): Promise<void> {
    await this.control('remove', { ref });
  }

  /** The stored object, or undefined. */
  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    const r = await this.control<{ obj: KubeObject | null }>('get', { ref });
    return r.obj ?? undefined;
  }

  /** Every object of a kind (in one namespace, or all), in key order, with kind and apiVersion set. */
  async list(apiVersion: string, kind: string, namespace?: string): Promise<KubeObject[]> {
    const r = await this.control<{ items: KubeObject[] }>('list', { apiVersion, kind, namespace });
    return r.items;
  }

  // -------------------------------------------------------------------------------------------- faults

  /** Resets (RST) every open watch connection. */
  async dropWatches(): Promise<void> {
    await this.control('dropWatches');
  }

  /** Forgets the watch history: resuming from any older resourceVersion now gets the 410 ERROR line. */
  async compact(): Promise<void> {
    await this.control('compact');
  }

  /**
   * The next `n` requests that match fail with `status`. `verbs`: Kubernetes verbs (get, list, watch, create,
   * update, patch, delete). `resource`: "services" (also matches services/status) or "services/status".
   * A 410 matches only list pages that carry a continue token: 410 Expired as when the list's revision was
   * compacted meanwhile (with the inconsistent continue token in the Status, as the real server sends).
   * A 429 carries `Retry-After: 1` and a Status with `details.retryAfterSeconds: 1`, as the storage layer
   * answers; with `apf` it is API Priority and Fairness's plain-text 429 (Retry-After, no Status).
   * Cleared early by {@link clearFaults}.
   */
  async failNext(n: number, opts: { status: 409 | 410 | 500 | 503 | 429; verbs?: string[]; resource?: string; apf?: boolean }): Promise<void> {
    await this.control('failNext', { n, ...opts });
  }

  /**
   * `kill`: like SIGKILL, every connection is closed at once and new ones are refused.
   * `term`: like SIGTERM, the listener closes and idle connections go, but open watches stay open and silent
   * until {@link restart} (a real server drains for up to ~60 s).
   */
  async stop(how: 'kill' | 'term'): Promise<void> {
    if (!this.running) return;
    if (how === 'term') {
      await this.control('term');
      return;
    }
    await this.killProcess();
  }

  private async killProcess(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await p.exited;
  }

  /** Starts the server again on the same port with the same certificates, state and resourceVersion counter. */
  async restart(): Promise<void> {
    await this.killProcess();
    const config = JSON.parse(readFileSync(this.configPath, 'utf8')) as { keepHistory: boolean; keepHistoryOnRestart: boolean; netns?: string };
    config.keepHistory = config.keepHistoryOnRestart;
    writeFileSync(this.configPath, JSON.stringify(config));
    const { proc, stderr } = await spawnServer(this.configPath, config.netns);
    this.proc = proc;
    this.follow(stderr);
  }

  /** The request log since start (across restarts). */
  async requests(): Promise<RequestRecord[]> {
    const path = join(this.dir, 'requests.jsonl');
    if (!existsSync(path)) return [];
    const out: RequestRecord[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as RequestRecord);
      } catch {
        // a line torn by a SIGKILL
      }
    }
    return out;
  }

  // ---------------------------------------------------------------------------------- more faults

  /**
   * Every matching request (filter as in {@link failNext}; none: every request, also /version) waits `ms`
   * before it is handled, as in API Priority and Fairness's queue: answers come late, watches send their
   * headers late, and a request whose client gave up meanwhile is dropped undone. Until {@link clearFaults}.
   */
  async latency(ms: number, opts: { verbs?: string[]; resource?: string } = {}): Promise<void> {
    await this.control('latency', { ms, ...opts });
  }

  /**
   * The watches open now stop sending anything, without closing (a stuck watch cache, a proxy that lost
   * the stream); watches opened later behave normally. {@link clearFaults} sends what they kept back, in
   * order. Returns how many were silenced.
   */
  async silenceWatches(): Promise<number> {
    return (await this.control<{ silenced: number }>('silenceWatches')).silenced;
  }

  /**
   * New TCP connections are accepted but their TLS handshake never starts (an overloaded load balancer or
   * API server); established connections keep working. {@link clearFaults} lets the held handshakes go on.
   */
  async hangHandshakes(): Promise<void> {
    await this.control('hangHandshakes');
  }

  /**
   * Ends every fault set by {@link failNext}, {@link latency}, {@link silenceWatches} and
   * {@link hangHandshakes}. Returns how many held connections were let through.
   */
  async clearFaults(): Promise<number> {
    return (await this.control<{ released: number }>('clearFaults')).released;
  }

  /**
   * A new bearer token for the same user (as the kubelet gets a new projected ServiceAccount token): from
   * now on {@link token} is the new one; the old one keeps working until {@link revokeToken}, as an
   * unexpired old token does. Survives {@link restart}.
   */
  async rotateToken(): Promise<{ previous: string; token: string }> {
    const previous = this.currentToken;
    const token = randomToken();
    await this.control('addToken', { token, user: TOKEN_USER });
    this.editConfig((c) => (c.tokens[token] = TOKEN_USER));
    this.currentToken = token;
    return { previous, token };
  }

  /** The token is refused from now on (401), as an expired projected token is. */
  async revokeToken(token: string): Promise<void> {
    await this.control('revokeToken', { token });
    this.editConfig((c) => delete c.tokens[token]);
  }

  private editConfig(edit: (config: { tokens: Record<string, string> }) => void): void {
    const config = JSON.parse(readFileSync(this.configPath, 'utf8')) as { tokens: Record<string, string> };
    edit(config);
    writeFileSync(this.configPath, JSON.stringify(config));
  }

  /** Stops the server and removes its directory. */
  async close(): Promise<void> {
    await this.killProcess();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A fresh bearer token: 48 hex digits. */
function randomToken(): string {
  return [...crypto.getRandomValues(new Uint8Array(24))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Spawns server.mjs and waits for its ready line. */
async function spawnServer(configPath: string, netns?: string): Promise<{ proc: ReturnType<typeof Bun.spawn>; port: number; stderr: ReadableStream<Uint8Array> }> {
  const cmd = [...(netns ? ['ip', 'netns', 'exec', netns] : []), 'node', SERVER, configPath];
  // stdin stays an open pipe: the server exits when it reaches EOF, i.e. when this process is gone
  const proc = Bun.spawn({ cmd, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = '';
  const deadline = setTimeout(() => proc.kill('SIGKILL'), 15000);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value);
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const ready = JSON.parse(buf.slice(0, nl)) as { ready: boolean; port: number };
        reader.releaseLock();
        return { proc, port: ready.port, stderr: proc.stderr as ReadableStream<Uint8Array> };
      }
    }
  } finally {
    clearTimeout(deadline);
  }
  await proc.exited;
  const err = await new Response(proc.stderr as ReadableStream<Uint8Array>).text();
  throw new Error(`the Kubernetes stand-in did not start (exit ${proc.exitCode}):\n${err}`);
}
