#!/usr/bin/env node
// The Kubernetes API server stand-in, run under Node (not Bun): Bun's node:https hands the request a plain
// Socket without getPeerCertificate(), so a server under Bun cannot tell who a client certificate belongs to.
//
//   node server.mjs CONFIG.json
//
// CONFIG: { dir, host, port, historySize, bookmarkIntervalMs, keepHistory, anonymous, tokens: {token: user},
// nodePortRange, continueTtlMs }. `dir` holds server.crt/server.key/client-ca.crt, the journal (state that survives a SIGKILL),
// requests.jsonl (the request log) and control.sock, a plain-HTTP control endpoint on a Unix socket (it works
// from any network namespace). When listening, one line `{"ready":true,"port":N}` goes to stdout.

import { existsSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { handle, releaseWatch } from './api.mjs';
import { parseJson, stringify } from './json.mjs';
import { Ops, withType } from './ops.mjs';
import { resourceForKind } from './resources.mjs';
import { ApiError, errors } from './status.mjs';
import { Store } from './store.mjs';

/** @typedef {Record<string, any>} Obj */

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const dir = config.dir;
const journalPath = join(dir, 'journal.jsonl');
const fresh = !existsSync(journalPath);
const store = new Store({
  journalPath,
  historySize: config.historySize ?? 10000,
  keepHistory: Boolean(config.keepHistory),
  nodePortRange: config.nodePortRange,
  continueTtlMs: config.continueTtlMs ?? 0,
});
const minor = Number(String(config.kubernetesVersion ?? '1.28').split('.')[1]);
const ops = new Ops(store, minor);
if (fresh) ops.bootstrap();

/** @type {import('./api.mjs').ApiState} */
const st = {
  store,
  ops,
  tokens: new Map(Object.entries(config.tokens ?? {})),
  anonymous: Boolean(config.anonymous),
  bookmarkIntervalMs: config.bookmarkIntervalMs ?? 0,
  faults: [],
  watches: new Set(),
  terminating: false,
  logFd: openSync(join(dir, 'requests.jsonl'), 'a'),
  writeCost: config.writeCost,
  minor,
};

const server = https.createServer(
  {
    key: readFileSync(join(dir, 'server.key')),
    cert: readFileSync(join(dir, 'server.crt')),
    ca: readFileSync(join(dir, 'client-ca.crt')),
    // the certificate is checked per request (a token is the alternative), as kube-apiserver does
    requestCert: true,
    rejectUnauthorized: false,
  },
  (req, res) => {
    handle(req, res, st).catch((err) => {
      process.stderr.write(`stand-in: ${err?.stack ?? err}\n`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  },
);
server.keepAliveTimeout = 65_000;
server.headersTimeout = 70_000;
server.on('clientError', (_err, socket) => socket.destroy());

/** TCP connections accepted while handshakes hang: their ClientHello waits unread in the kernel. */
/** @type {Set<net.Socket>} */
const heldSockets = new Set();
let hangHandshakes = false;

// The listener is plain TCP in front of the HTTPS server, so a fault can accept a connection and never
// start its TLS handshake (an overloaded load balancer or API server). pauseOnConnect leaves the
// ClientHello unread until the socket is handed to the HTTPS server.
const front = net.createServer({ pauseOnConnect: true }, (socket) => {
  if (hangHandshakes) {
    heldSockets.add(socket);
    return;
  }
  server.emit('connection', socket);
});

/** Hands held connections to the HTTPS server: their handshakes go on (or fail, if the client gave up). */
function releaseHandshakes() {
  hangHandshakes = false;
  for (const socket of heldSockets) if (!socket.destroyed) server.emit('connection', socket);
  heldSockets.clear();
}

// ------------------------------------------------------------------------------------------ control

/** @param {{ apiVersion: string, kind: string }} ref */
function resourceOf(ref) {
  const r = resourceForKind(ref.apiVersion ?? '', ref.kind ?? '');
  if (!r) throw errors.badRequest(`the stand-in does not serve ${ref.apiVersion} ${ref.kind}`);
  return r;
}

/** Admin writes land in namespaces that may not exist yet: create them, as a cluster admin would have. */
function ensureNamespace(/** @type {string | undefined} */ ns) {
  if (!ns) return;
  const nsRes = /** @type {import('./resources.mjs').Resource} */ (resourceForKind('v1', 'Namespace'));
  if (!store.get(nsRes, undefined, ns)) ops.create(nsRes, undefined, { metadata: { name: ns } });
}

/** The managedFields manager of admin writes that name none: what `kubectl apply` records. */
const ADMIN_MANAGER = 'kubectl-client-side-apply';

/** @type {Record<string, (body: Obj) => unknown>} */
const control = {
  ping: () => ({ rv: store.rv }),
  create(body) {
    const obj = body.obj;
    const r = resourceOf(obj);
    const ns = r.namespaced ? obj.metadata?.namespace ?? 'default' : undefined;
    ensureNamespace(ns);
    const manager = body.manager ?? ADMIN_MANAGER;
    const created = ops.create(r, ns, obj, { manager });
    // a status given to create is dropped by the server; as an admin helper, write it right after
    if (obj.status !== undefined && r.hasStatus && stringify(created.status) !== stringify(obj.status)) {
      return ops.patch(r, ns, created.metadata.name, 'application/merge-patch+json', stringify({ status: obj.status }), { subresource: 'status', manager });
    }
    return created;
  },
  update(body) {
    const obj = body.obj;
    const r = resourceOf(obj);
    const ns = r.namespaced ? obj.metadata?.namespace ?? 'default' : undefined;
    return ops.update(r, ns, obj.metadata?.name, obj, { manager: body.manager ?? ADMIN_MANAGER }).obj;
  },
  patchStatus(body) {
    const r = resourceOf(body.ref);
    const ns = r.namespaced ? body.ref.namespace ?? 'default' : undefined;
    return ops.patch(r, ns, body.ref.name, 'application/merge-patch+json', stringify({ status: body.status }), { subresource: 'status', manager: body.manager ?? ADMIN_MANAGER });
  },
  remove(body) {
    const r = resourceOf(body.ref);
    const ns = r.namespaced ? body.ref.namespace ?? 'default' : undefined;
    ops.remove(r, ns, body.ref.name);
    return {};
  },
  get(body) {
    const r = resourceOf(body.ref);
    const o = store.get(r, r.namespaced ? body.ref.namespace ?? 'default' : undefined, body.ref.name);
    return { obj: o ? withType(r, o) : null };
  },
  list(body) {
    const r = resourceOf(body);
    return { items: store.all(r).filter((o) => !body.namespace || o.metadata.namespace === body.namespace).map((o) => withType(r, o)) };
  },
  dropWatches() {
    const n = st.watches.size;
    for (const w of [...st.watches]) {
      w.stop();
      const sock = /** @type {any} */ (w.res.socket);
      if (!sock) continue;
      // an RST, as when a load balancer or a dying node drops the connection; resetAndDestroy() needs the
      // TCP socket under the TLS one
      try {
        (sock._parent ?? sock).resetAndDestroy();
      } catch {
        // no TCP handle to reset: a plain close still ends the stream
      }
      sock.destroy();
    }
    return { dropped: n };
  },
  compact() {
    store.compact();
    return { rv: store.rv };
  },
  failNext(body) {
    st.faults.push({ n: body.n, status: body.status, verbs: body.verbs, resource: body.resource, apf: Boolean(body.apf) });
    return {};
  },
  latency(body) {
    st.latency = { ms: body.ms, verbs: body.verbs, resource: body.resource };
    return {};
  },
  silenceWatches() {
    let n = 0;
    for (const w of st.watches) {
      if (w.silent || w.held) continue;
      w.held = [];
      n++;
    }
    return { silenced: n };
  },
  hangHandshakes() {
    hangHandshakes = true;
    return {};
  },
  clearFaults() {
    st.faults = [];
    st.latency = undefined;
    for (const w of [...st.watches]) releaseWatch(w);
    const held = heldSockets.size;
    releaseHandshakes();
    return { released: held };
  },
  addToken(body) {
    st.tokens.set(body.token, body.user);
    return {};
  },
  revokeToken(body) {
    st.tokens.delete(body.token);
    return {};
  },
  term() {
    // SIGTERM-like: stop accepting, close idle connections, leave open watches open and silent
    st.terminating = true;
    for (const w of st.watches) w.silent = true;
    front.close();
    for (const socket of heldSockets) socket.destroy();
    heldSockets.clear();
    server.close();
    server.closeIdleConnections();
    return {};
  },
};

const controlPath = join(dir, 'control.sock');
if (existsSync(controlPath)) unlinkSync(controlPath);
const controlServer = http.createServer((req, res) => {
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const name = (req.url ?? '/').slice(1);
    const fn = control[name];
    let code = 200;
    /** @type {unknown} */
    let out;
    try {
      if (!fn) throw errors.noRoute();
      const text = Buffer.concat(chunks).toString('utf8');
      out = fn(text ? /** @type {Obj} */ (parseJson(text)) : {});
    } catch (err) {
      if (err instanceof ApiError) {
        code = err.code;
        out = err.status;
      } else {
        code = 500;
        out = { message: String(/** @type {Error} */ (err)?.stack ?? err) };
      }
    }
    const text = stringify(out ?? {});
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  });
});

controlServer.listen(controlPath, () => {
  front.listen(config.port ?? 0, config.host ?? '127.0.0.1', () => {
    const addr = /** @type {import('node:net').AddressInfo} */ (front.address());
    process.stdout.write(JSON.stringify({ ready: true, port: addr.port, rv: store.rv }) + '\n');
  });
});
// a plain SIGTERM (not the stop('term') fault) just ends the process, letting --cpu-prof and friends write out
process.on('SIGTERM', () => process.exit(0));
// stdin is a pipe from the test process: when that process dies without close(), do not linger
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
front.on('error', (err) => {
  process.stderr.write(`stand-in: listen failed: ${err.message}\n`);
  process.exit(3);
});
