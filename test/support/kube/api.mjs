// The HTTPS request handler: authentication (client certificate or bearer token), URL routing, verbs,
// watches as chunked JSON lines, injected faults, and the request log.

import { randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { parseJson, stringify } from './json.mjs';
import { continueExpired, withType } from './ops.mjs';
import { fieldSelectorsAt, findResource, resourceKey } from './resources.mjs';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from './selectors.mjs';
import { ApiError, errors, failure, field } from './status.mjs';
import { deliver } from './store.mjs';

/** @typedef {import('node:http').IncomingMessage} Req */
/** @typedef {import('node:http').ServerResponse} Res */
/** @typedef {import('./resources.mjs').Resource} Resource */
/** @typedef {Record<string, any>} Obj */

/**
 * Which requests a fault applies to: every one when neither is set.
 * @typedef {Object} RequestFilter
 * @property {string[]} [verbs] Kubernetes verbs (get, list, watch, create, update, patch, delete)
 * @property {string} [resource] "services" (also its subresources) or "services/status"
 */

/**
 * @typedef {RequestFilter & { n: number, status: number, apf?: boolean }} Fault
 * `n` requests still to fail with `status` (409 | 410 | 429 | 500 | 503; 410: only list pages with a
 * continue token, as when its revision was compacted); `apf`: a 429 as API Priority and Fairness sends it
 * (plain text), not a Status.
 */

/** @typedef {RequestFilter & { ms: number }} Latency every matching request waits `ms` (queued) before it is handled */

/**
 * @typedef {Object} OpenWatch
 * @property {Res} res
 * @property {import('./store.mjs').Watcher} watcher
 * @property {boolean} silent drop every event (a SIGTERMed server: the stream never resumes)
 * @property {string[]} [held] lines kept back while the watch is silenced (sent when the fault clears)
 * @property {boolean} [expired] its timeoutSeconds passed while held: it ends when released
 * @property {() => void} stop
 */

/**
 * Everything the handler shares with the control endpoint.
 * @typedef {Object} ApiState
 * @property {import('./store.mjs').Store} store
 * @property {import('./ops.mjs').Ops} ops
 * @property {Map<string, string>} tokens bearer token -> user name
 * @property {boolean} anonymous answer unauthenticated requests as system:anonymous (403) instead of 401
 * @property {number} bookmarkIntervalMs 0: never send bookmarks
 * @property {Fault[]} faults
 * @property {Latency} [latency]
 * @property {{ ms: number, slots: number }} [writeCost] what a write costs (see writeSlot)
 * @property {Set<OpenWatch>} watches
 * @property {boolean} terminating after a SIGTERM-like stop: refuse everything, keep watches silent
 * @property {number} logFd request log (JSON lines)
 * @property {number} minor the Kubernetes 1.x release it behaves as (field selectors, /version)
 */

/** `/version` of the release the server behaves as. */
const versionInfo = (/** @type {number} */ minor) => ({
  major: '1',
  minor: String(minor),
  gitVersion: minor === 28 ? 'v1.28.15' : `v1.${minor}.0`,
  ...(minor === 28 ? { gitCommit: '841856557ef0f6a399096c42635d114d6f2cf7f4', buildDate: '2024-10-22T20:26:59Z', goVersion: 'go1.22.8' } : {}),
  gitTreeState: 'clean',
  compiler: 'gc',
  platform: 'linux/amd64',
});

/**
 * A 429 as API Priority and Fairness (and max-in-flight) answer it: `http.Error` in Go, plain text and a
 * Retry-After header, no Status. The more common 429 of a real cluster; the Status form comes from the
 * storage layer.
 */
class PlainTextFailure {
  code = 429;
  text = 'Too many requests, please try again later.\n';
}

/**
 * Whether a request matches a fault's filter. Requests outside the resource API (/version, /healthz) match
 * only a filter that names nothing.
 * @param {RequestFilter} f
 * @param {Resource | undefined} r
 * @param {string | null} verb
 * @param {string | undefined} sub
 */
export function matchesFilter(f, r, verb, sub) {
  if (f.verbs && f.verbs.length && (!verb || !f.verbs.includes(verb))) return false;
  if (f.resource) {
    if (!r) return false;
    const [res, fsub] = f.resource.split('/');
    if (![r.plural, resourceKey(r)].includes(res)) return false;
    if (fsub !== undefined && fsub !== sub) return false;
  }
  return true;
}

/**
 * Sends a JSON body.
 * @param {Res} res
 * @param {number} code
 * @param {unknown} body
 * @param {Record<string, string>} [headers]
 */
function send(res, code, body, headers = {}) {
  const text = stringify(body);
  res.writeHead(code, {
    'Audit-Id': randomUUID(),
    'Cache-Control': 'no-cache, private',
    'Content-Type': 'application/json',
    'X-Kubernetes-Pf-Flowschema-Uid': '8b8e7a1c-6a8a-4c4e-9d4e-000000000001',
    'X-Kubernetes-Pf-Prioritylevel-Uid': '8b8e7a1c-6a8a-4c4e-9d4e-000000000002',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** @param {Req} req @returns {Promise<string>} */
function readBody(req) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Splits an API path into resource, namespace, name and subresource.
 * @param {string} path
 * @returns {{ r: Resource, ns?: string, name?: string, sub?: string } | null}
 */
export function route(path) {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group = '';
  let version;
  let rest;
  if (parts[0] === 'api' && parts.length >= 2) {
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1];
    version = parts[2];
    rest = parts.slice(3);
  } else return null;
  if (rest.length === 0) return null;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const r = findResource(group, version, rest[2]);
    if (r && r.namespaced && rest.length <= 5) return { r, ns: rest[1], name: rest[3], sub: rest[4] };
  }
  const r = findResource(group, version, rest[0]);
  if (!r || rest.length > 3) return null;
  return { r, name: rest[1], sub: rest[2] };
}

/** Which Kubernetes verb a request is. */
function verbOf(/** @type {string} */ method, /** @type {boolean} */ named, /** @type {boolean} */ watch) {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return named ? null : 'create';
    case 'PUT':
      return named ? 'update' : null;
    case 'PATCH':
      return named ? 'patch' : null;
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return null;
  }
}

/** @type {WeakMap<object, string>} */
const certUsers = new WeakMap();

/**
 * The authenticated user: the CN of a client certificate signed by the client CA, else the bearer token's user.
 * @param {Req} req
 * @param {ApiState} st
 */
function authenticate(req, st) {
  const sock = /** @type {import('node:tls').TLSSocket} */ (req.socket);
  if (sock.authorized) {
    // getPeerCertificate() is costly and a connection's certificate never changes
    let cn = certUsers.get(sock);
    if (cn === undefined) {
      const subjectCN = sock.getPeerCertificate()?.subject?.CN;
      cn = (Array.isArray(subjectCN) ? subjectCN[0] : subjectCN) ?? '';
      certUsers.set(sock, cn);
    }
    if (cn) return cn;
  }
  const h = req.headers.authorization;
  if (h && /^bearer /i.test(h)) {
    const user = st.tokens.get(h.slice(7).trim());
    if (user) return user;
    return null;
  }
  if (h) return null;
  return st.anonymous ? 'system:anonymous' : null;
}

/**
 * Handles one HTTPS request.
 * @param {Req} req
 * @param {Res} res
 * @param {ApiState} st
 */
export async function handle(req, res, st) {
  if (st.terminating) {
    // a shutting-down server accepts nothing new; the client sees its connection go away
    req.socket.destroy();
    return;
  }
  const at = Date.now();
  const url = new URL(req.url ?? '/', 'https://stand-in');
  const method = req.method ?? 'GET';
  const q = url.searchParams;
  const isWatch = method === 'GET' && (q.get('watch') === 'true' || q.get('watch') === '1');
  const user = authenticate(req, st);
  // the log line is written before the answer goes out, so a client that reads the log after its response
  // always finds its request there
  const log = (/** @type {number} */ status) => {
    const entry = { method, path: url.pathname, query: url.search.slice(1), user: user ?? '', status, watch: isWatch, at };
    writeSync(st.logFd, JSON.stringify(entry) + '\n');
  };
  const reply = (/** @type {number} */ code, /** @type {unknown} */ body) => {
    log(code);
    send(res, code, body);
  };
  const fail = (/** @type {unknown} */ err) => {
    if (err instanceof PlainTextFailure) {
      log(err.code);
      res.writeHead(err.code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Retry-After': '1' });
      res.end(err.text);
      return;
    }
    if (err instanceof ApiError) {
      const headers = err.code === 429 ? { 'Retry-After': '1' } : undefined;
      log(err.code);
      send(res, err.code, err.status, headers);
      return;
    }
    const e = errors.internal(String(/** @type {Error} */ (err)?.stack ?? err));
    log(500);
    send(res, 500, e.status);
  };
  if (st.latency) {
    const rt = route(url.pathname);
    if (matchesFilter(st.latency, rt?.r, rt ? verbOf(method, Boolean(rt.name), isWatch) : null, rt?.sub)) {
      await new Promise((resolve) => setTimeout(resolve, st.latency.ms));
      // Like a request queued by API Priority and Fairness: a client that gave up meanwhile is dropped
      // from the queue, and nothing it asked for is done.
      if (req.socket.destroyed || res.destroyed) return;
    }
  }
  if (!user) return fail(errors.unauthorized());
  // The cost of a write on a real server (etcd's commit): at most `slots` at once, each `ms` long.
  if (st.writeCost && method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') await writeSlot(st.writeCost);

  try {
    if (url.pathname === '/healthz' || url.pathname === '/livez' || url.pathname === '/readyz') {
      log(200);
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (url.pathname === '/version') {
      return reply(200, versionInfo(st.minor));
    }
    const rt = route(url.pathname);
    if (!rt) throw errors.noRoute();
    const { r, ns, name, sub } = rt;
    if (sub && (sub !== 'status' || !r.hasStatus)) throw errors.noRoute();
    if (!r.namespaced && ns) throw errors.noRoute();
    // a namespaced kind addressed without a namespace can only be listed or watched
    if (r.namespaced && !ns && name) throw errors.noRoute();
    const verb = verbOf(method, Boolean(name), isWatch);
    if (!verb || (sub && !['get', 'update', 'patch'].includes(verb))) throw errors.methodNotAllowed();
    if (r.namespaced && !ns && verb !== 'list' && verb !== 'watch') throw errors.methodNotAllowed();

    if (user === 'system:anonymous') {
      const scope = ns ? `in the namespace "${ns}"` : 'at the cluster scope';
      throw errors.forbidden(
        r,
        name ?? '',
        `User "system:anonymous" cannot ${verb} resource "${r.plural}${sub ? '/' + sub : ''}" in API group "${r.group}" ${scope}`,
      );
    }
    injectFault(st, r, verb, sub, name ?? '', q);

    const dryRun = q.getAll('dryRun').includes('All');
    const manager = fieldManager(q, req);
    switch (verb) {
      case 'get':
        return reply(200, st.ops.get(r, ns, /** @type {string} */ (name)));
      case 'list':
        return reply(200, st.ops.list(r, ns, q));
      case 'watch':
        return startWatch(req, res, st, r, ns, name, q, log);
      case 'create': {
        const body = await jsonBody(req, r);
        return reply(201, st.ops.create(r, ns, body, { dryRun, manager }));
      }
      case 'update': {
        const body = await jsonBody(req, r);
        const out = st.ops.update(r, ns, /** @type {string} */ (name), body, { subresource: sub, dryRun, manager });
        return reply(out.created ? 201 : 200, out.obj);
      }
      case 'patch': {
        const text = await readBody(req);
        const obj = st.ops.patch(r, ns, /** @type {string} */ (name), req.headers['content-type'] ?? '', text, { subresource: sub, dryRun, manager });
        return reply(200, obj);
      }
      case 'delete': {
        const text = await readBody(req);
        /** @type {Obj} */
        let options = {};
        if (text.trim()) {
          try {
            options = /** @type {Obj} */ (parseJson(text));
          } catch (err) {
            throw errors.badRequest(`DeleteOptions in version "v1" cannot be handled as a DeleteOptions: ${/** @type {Error} */ (err).message}`);
          }
        }
        const out = st.ops.remove(r, ns, /** @type {string} */ (name), options, { dryRun });
        return reply(out.code, out.body);
      }
      case 'deletecollection': {
        const list = st.ops.list(r, ns, q);
        for (const o of list.items) st.ops.remove(r, o.metadata.namespace, o.metadata.name, {}, { dryRun });
        return reply(200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });
      }
    }
  } catch (err) {
    return fail(err);
  }
}

/**
 * The manager a write's managedFields entry names: `?fieldManager=`, else the User-Agent up to its first
 * "/" (as kube-apiserver derives it: `kubectl/v1.28.2 (linux/amd64)` is `kubectl`).
 * @param {URLSearchParams} q
 * @param {Req} req
 */
function fieldManager(q, req) {
  const given = q.get('fieldManager');
  if (given) return given;
  const ua = req.headers['user-agent'] ?? '';
  return ua.split('/')[0].slice(0, 128) || 'unknown';
}

/** Reads a POST/PUT body; only JSON is accepted. @param {Req} req @param {Resource} r */
async function jsonBody(req, r) {
  const ct = (req.headers['content-type'] ?? 'application/json').split(';')[0].trim().toLowerCase();
  const text = await readBody(req);
  if (ct !== 'application/json' && ct !== '*/*') {
    throw errors.unsupportedMediaType(r.custom ? ['application/json', 'application/yaml'] : ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
  }
  try {
    return parseJson(text);
  } catch (err) {
    const msg = /** @type {Error} */ (err).message;
    throw errors.badRequest(r.custom ? msg : `${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: ${msg}`);
  }
}

/**
 * Fails the request if a failNext rule matches it. A 410 rule matches only list pages that carry a continue
 * token (their snapshot compacted away).
 * @param {ApiState} st
 * @param {Resource} r
 * @param {string} verb
 * @param {string | undefined} sub
 * @param {string} name
 * @param {URLSearchParams} q
 */
function injectFault(st, r, verb, sub, name, q) {
  for (const f of st.faults) {
    if (f.n <= 0 || !matchesFilter(f, r, verb, sub)) continue;
    if (f.status === 410 && (verb !== 'list' || !q.get('continue'))) continue;
    f.n -= 1;
    st.faults = st.faults.filter((x) => x.n > 0);
    switch (f.status) {
      case 409:
        throw verb === 'create' ? errors.alreadyExists(r, name) : errors.conflict(r, name);
      case 429:
        throw f.apf ? new PlainTextFailure() : errors.tooManyRequests();
      case 410: {
        const cont = q.get('continue') ?? '';
        let start = '';
        try {
          start = JSON.parse(Buffer.from(cont, 'base64').toString('utf8')).start ?? '';
        } catch {
          // a token the handler will refuse anyway
        }
        throw continueExpired(start, st.store.rv);
      }
      case 503:
        throw errors.serviceUnavailable();
      default:
        throw errors.internal('fault injected by the stand-in (failNext)');
    }
  }
}

/**
 * Streams watch events as JSON lines until the timeout, the client going away, or a fault.
 * @param {Req} req
 * @param {Res} res
 * @param {ApiState} st
 * @param {Resource} r
 * @param {string | undefined} ns
 * @param {string | undefined} name
 * @param {URLSearchParams} q
 * @param {(status: number) => void} log
 */
function startWatch(req, res, st, r, ns, name, q, log) {
  const labels = parseLabelSelector(q.get('labelSelector'));
  const fields = parseFieldSelector(q.get('fieldSelector'), fieldSelectorsAt(r, st.minor), r.custom);
  if (name) fields.push({ field: 'metadata.name', op: 'eq', value: name });
  if (q.has('sendInitialEvents')) {
    throw errors.invalid({ group: 'meta.k8s.io', kind: 'ListOptions' }, '', [
      field.forbidden('sendInitialEvents', 'sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled'),
    ]);
  }
  if (q.get('resourceVersionMatch')) {
    throw errors.invalid({ group: 'meta.k8s.io', kind: 'ListOptions' }, '', [field.forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch')]);
  }
  const rvText = q.get('resourceVersion') ?? '';
  if (rvText !== '' && !/^\d+$/.test(rvText)) throw errors.badRequest(`invalid resource version "${rvText}"`);
  const fromRV = rvText === '' ? 0 : Number(rvText);
  const timeoutText = q.get('timeoutSeconds');
  // without timeoutSeconds the real server picks a random timeout between 30 and 60 minutes
  const timeoutMs = timeoutText && /^\d+$/.test(timeoutText) ? Number(timeoutText) * 1000 : (1800 + Math.random() * 1800) * 1000;
  const bookmarks = (q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1') && st.bookmarkIntervalMs > 0;

  log(200);
  res.writeHead(200, {
    'Audit-Id': randomUUID(),
    'Cache-Control': 'no-cache, private',
    'Content-Type': 'application/json',
    'Transfer-Encoding': 'chunked',
  });
  res.flushHeaders();

  const key = resourceKey(r);
  const matches = (/** @type {Obj} */ o) =>
    (!r.namespaced || !ns || o.metadata.namespace === ns) && matchLabels(labels, o.metadata.labels) && matchFields(fields, r.fields(o));
  /** @type {ReturnType<typeof setTimeout>[]} */
  const timers = [];
  /** @type {OpenWatch} */
  const open = {
    res,
    silent: false,
    watcher: {
      res: key,
      matches,
      deliver(type, o) {
        if (open.silent) return;
        const line = stringify({ type, object: withType(r, o) }) + '\n';
        if (open.held) open.held.push(line);
        else res.write(line);
      },
    },
    stop() {
      for (const t of timers) clearTimeout(t);
      timers.length = 0;
      st.store.watchers.delete(open.watcher);
      st.watches.delete(open);
    },
  };

  if (fromRV > 0 && fromRV < st.store.floor(r)) {
    const status = failure(410, 'Expired', `too old resource version: ${fromRV} (${st.store.floor(r)})`).status;
    res.end(JSON.stringify({ type: 'ERROR', object: status }) + '\n');
    return;
  }
  if (fromRV === 0) {
    for (const o of st.store.all(r)) if (matches(o)) open.watcher.deliver('ADDED', o);
  } else {
    for (const ev of st.store.since(r, fromRV)) deliver(open.watcher, ev);
  }
  st.store.watchers.add(open.watcher);
  st.watches.add(open);
  res.on('close', () => open.stop());
  req.socket.on('error', () => open.stop());

  timers.push(
    setTimeout(() => {
      if (open.silent) return;
      if (open.held) {
        open.expired = true;
        return;
      }
      open.stop();
      res.end();
    }, timeoutMs),
  );
  if (bookmarks) {
    const bookmark = () => {
      if (open.silent || open.held) return;
      /** @type {Obj} */
      const meta = { resourceVersion: String(st.store.rv) };
      if (!r.custom) meta.creationTimestamp = null;
      res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: r.kind, apiVersion: withType(r, {}).apiVersion, metadata: meta } }) + '\n');
    };
    const tick = () => {
      bookmark();
      timers.push(setTimeout(tick, st.bookmarkIntervalMs));
    };
    timers.push(setTimeout(tick, st.bookmarkIntervalMs));
    // like the real watch cache: one more bookmark 2 s before the timeout, if that comes sooner
    if (timeoutMs > 2000 && timeoutMs - 2000 < st.bookmarkIntervalMs) timers.push(setTimeout(bookmark, timeoutMs - 2000));
  }
}

/**
 * Ends the silence of a watch held by a `silenceWatches` fault: what it kept back goes out in order, and a
 * watch whose timeout passed meanwhile ends now.
 * @param {OpenWatch} open
 */
export function releaseWatch(open) {
  const lines = open.held;
  if (!lines) return;
  open.held = undefined;
  for (const line of lines) open.res.write(line);
  if (open.expired) {
    open.stop();
    open.res.end();
  }
}

/** Writes waiting for a slot of the write cost, and how many hold one. */
const writeSlots = { busy: 0, queue: /** @type {(() => void)[]} */ ([]) };

/**
 * Resolves once this write has held one of `cost.slots` for `cost.ms` ms, in arrival order: a server whose
 * storage commits `slots` writes at a time, each taking `ms`, as etcd behind kube-apiserver does.
 * @param {{ ms: number, slots: number }} cost
 */
async function writeSlot(cost) {
  if (writeSlots.busy >= cost.slots) await new Promise((resolve) => writeSlots.queue.push(() => resolve(undefined)));
  else writeSlots.busy++;
  await new Promise((resolve) => setTimeout(resolve, cost.ms));
  const next = writeSlots.queue.shift();
  if (next) next();
  else writeSlots.busy--;
}
