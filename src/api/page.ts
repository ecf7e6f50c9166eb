/**
 * The status page (`GET /`): one self-contained document, its style and script inline, nothing fetched from
 * elsewhere (no CDN, no font), so it works on a gateway box with no internet and in a compiled binary with
 * no files beside it. It reads the same open JSON routes a `curl` would (`/v1/status`, `/v1/vips`, and in
 * Kubernetes mode `/v1/services`, `/v1/nodes`, `/v1/pools`), keeps its timeline from `/v1/history` and stays
 * live through `/v1/events` (Server-Sent Events), polling every 2 s besides (rates, and the fallback when the
 * stream breaks). Read-only: it never asks for or holds the token.
 *
 * A Content-Security-Policy allows only this page's own script and style (by hash) and requests to this
 * origin, so a Service or node name that carried markup could not run anything (the script also writes
 * every value as text, never as HTML).
 *
 * The browser script is plain ES2020 in a string (no template literals inside, so this file's own template
 * strings need no escaping); `test/e2e/page.test.ts` runs it in Chromium.
 */
import { createHash } from 'node:crypto';

const STYLE = `
:root{--bg:#f6f7f9;--fg:#1b1f24;--muted:#5b6470;--card:#fff;--line:#dde1e6;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--info:#0969da;--bar:#0969da;--chip:#eef1f4}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;--card:#161b22;--line:#30363d;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--info:#58a6ff;--bar:#58a6ff;--chip:#21262d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.75rem 1rem;border-bottom:1px solid var(--line);background:var(--card);position:sticky;top:0;z-index:1}
h1{font-size:1.15rem;margin:0}
h2{font-size:1rem;margin:0 0 .5rem}
main{padding:1rem;display:grid;gap:1rem;max-width:1400px;margin:0 auto}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem;min-width:0}
.muted{color:var(--muted)}
.chip{display:inline-block;padding:0 .45rem;border-radius:999px;background:var(--chip);font-size:.8rem;white-space:nowrap}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.info{color:var(--info)}
.dot{display:inline-block;width:.6rem;height:.6rem;border-radius:50%;background:var(--muted);margin-right:.3rem;vertical-align:middle}
.dot.live{background:var(--ok)}.dot.polling{background:var(--warn)}.dot.down{background:var(--bad)}
.wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);white-space:nowrap;vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.8rem}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.why{white-space:normal;min-width:12rem}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
.bar{height:.5rem;background:var(--chip);border-radius:4px;overflow:hidden;min-width:8rem}
.bar>i{display:block;height:100%;background:var(--bar)}
.grid2{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(320px,1fr))}
.tools{display:flex;flex-wrap:wrap;gap:.5rem;margin-bottom:.5rem}
input,select{font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.25rem .5rem}
ol#events{list-style:none;margin:0;padding:0;max-height:32rem;overflow-y:auto}
ol#events li{display:grid;grid-template-columns:6.5rem 6.5rem 1fr;gap:.5rem;padding:.3rem 0;border-bottom:1px solid var(--line)}
ol#events li .what{min-width:0;overflow-wrap:anywhere}
.empty{color:var(--muted);padding:.5rem 0}
.push{margin-left:auto}.pool{margin-bottom:.6rem}
.spark{vertical-align:middle;margin:0 .3rem;color:var(--info)}.probe{white-space:nowrap}
@media (max-width:600px){main{padding:.5rem}section{padding:.5rem}ol#events li{grid-template-columns:1fr}th,td{padding:.25rem .35rem}}
`;

const BODY = `
<header>
  <h1>l2lb</h1>
  <span id="mode" class="chip"></span>
  <span id="role" class="chip"></span>
  <span id="ready" class="chip"></span>
  <span id="version" class="muted"></span>
  <span class="muted push"><span id="live" class="dot"></span><span id="livetext">connecting</span></span>
</header>
<main>
  <section id="addresses"><h2>Addresses</h2><div class="wrap"><table><thead><tr id="addr-head"></tr></thead><tbody id="addr-body"></tbody></table></div><div id="addr-empty" class="empty" hidden>No address yet.</div></section>
  <section id="nodes" hidden><h2>Nodes</h2><div class="wrap"><table><thead><tr><th>node</th><th>candidate</th><th>probe</th><th>instance</th><th>serves</th><th>why not</th></tr></thead><tbody id="node-body"></tbody></table></div></section>
  <div class="grid2">
    <section id="replicas"><h2>Replicas</h2><div id="replica-body"></div></section>
    <section id="pools" hidden><h2>Pools</h2><div id="pool-body"></div></section>
  </div>
  <section id="timeline"><h2>Timeline</h2>
    <div class="tools"><input id="filter" type="search" placeholder="address or node" aria-label="filter by address or node"><select id="kind" aria-label="kind"><option value="">every kind</option></select></div>
    <ol id="events"></ol><div id="events-empty" class="empty" hidden>Nothing yet.</div>
  </section>
</main>
`;

const SCRIPT = `
"use strict";
var KINDS = ["address","service","vip","conflict","link","node","membership","leader","api-server","pool","agreement","config","process"];
var S = { status: null, vips: [], services: [], nodes: [], pools: [], events: [], lastId: 0, prev: {}, rates: {}, stream: "connecting", lastPoll: 0 };
function $(id) { return document.getElementById(id); }
function el(tag, attrs, kids) {
  var e = document.createElement(tag);
  if (attrs) for (var k in attrs) { if (k === "text") e.textContent = attrs[k]; else if (k === "cls") e.className = attrs[k]; else e.setAttribute(k, attrs[k]); }
  if (kids) for (var i = 0; i < kids.length; i++) if (kids[i] != null) e.appendChild(typeof kids[i] === "string" ? document.createTextNode(kids[i]) : kids[i]);
  return e;
}
function ago(iso) {
  if (!iso) return "";
  var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60 ? " " + (s % 60) + "s" : "") + " ago";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m ago";
  return Math.floor(s / 86400) + "d ago";
}
function clock(iso) { var d = new Date(iso); return d.toLocaleTimeString([], { hour12: false }); }
var STATE_CLS = { active: "ok", assigned: "ok", up: "ok", live: "ok", leader: "ok", probing: "info", waiting: "warn", kept: "warn", pending: "warn", restarting: "warn", standby: "muted", unknown: "muted", conflict: "bad", failed: "bad", down: "bad", absent: "bad", fenced: "bad" };
function chip(text, state) { return el("span", { cls: "chip " + (STATE_CLS[state || text] || ""), text: text }); }
function getJSON(path) {
  // A stopped server keeps connections open without answering: give up after 4 s and say so.
  var ctl = new AbortController(), t = setTimeout(function () { ctl.abort(); }, 4000);
  return fetch(path, { headers: { accept: "application/json" }, cache: "no-store", signal: ctl.signal })
    .then(function (r) { return r.ok ? r.json() : null; }).catch(function () { return null; })
    .then(function (v) { clearTimeout(t); return v; });
}
function setLive(state) {
  S.stream = state;
  $("live").className = "dot " + state;
  $("livetext").textContent = state === "live" ? "live" : state === "polling" ? "polling every 2 s" : state === "down" ? "l2lb not answering" : "connecting";
}

function refresh() {
  var k8s = S.status && S.status.mode === "kubernetes";
  var reqs = [getJSON("/v1/status"), getJSON("/v1/vips")];
  if (k8s) reqs.push(getJSON("/v1/services"), getJSON("/v1/nodes"), getJSON("/v1/pools"));
  return Promise.all(reqs).then(function (r) {
    if (!r[0]) { setLive("down"); return; }
    if (S.stream === "down") setLive(S.source && S.source.readyState === 1 ? "live" : "polling");
    var wasK8s = k8s;
    S.status = r[0];
    S.vips = (r[1] && r[1].vips) || [];
    if (wasK8s) { S.services = (r[2] && r[2].services) || []; S.nodes = (r[3] && r[3].nodes) || []; S.pools = (r[4] && r[4].pools) || []; }
    rates();
    render();
    if (!wasK8s && S.status.mode === "kubernetes") return refresh();
  });
}
function rates() {
  var now = Date.now();
  for (var i = 0; i < S.vips.length; i++) {
    var v = S.vips[i], p = S.prev[v.ip];
    if (p && now > p.at) S.rates[v.ip] = { rq: Math.max(0, (v.requests - p.rq) * 1000 / (now - p.at)), rp: Math.max(0, (v.replies - p.rp) * 1000 / (now - p.at)) };
    S.prev[v.ip] = { at: now, rq: v.requests || 0, rp: v.replies || 0 };
  }
}
var scheduled = 0;
function soon() { if (!scheduled) scheduled = setTimeout(function () { scheduled = 0; refresh(); }, 150); }

function render() {
  var st = S.status, k8s = st.mode === "kubernetes";
  $("mode").textContent = st.mode;
  var le = st.leaderElection, m = st.membership;
  var role = le ? (le.isLeader ? "leader" : "standby") : m ? m.role : "";
  $("role").replaceWith(Object.assign(chip(role, role), { id: "role", hidden: !role }));
  $("ready").replaceWith(Object.assign(chip(st.ready ? "ready" : "not ready", st.ready ? "up" : "down"), { id: "ready", title: (st.readyReasons || []).join("; ") }));
  $("version").textContent = "v" + st.version + " · " + st.runtime + " · up " + ago(st.startedAt).replace(" ago", "");
  document.title = "l2lb · " + (role ? role + " · " : "") + st.vips.active + "/" + st.vips.total + " active";
  renderAddresses(k8s);
  $("nodes").hidden = !k8s;
  $("pools").hidden = !k8s;
  if (k8s) { renderNodes(); renderPools(); }
  renderReplicas();
  renderTimeline();
}
function renderAddresses(k8s) {
  var head = k8s ? ["address", "state", "node", "MAC", "since", "req/s", "rep/s", "Service", "pool", "why"] : ["address", "state", "interface", "MAC", "since", "req/s", "rep/s", "conflicts", "reason"];
  var hr = $("addr-head"); hr.textContent = "";
  for (var i = 0; i < head.length; i++) hr.appendChild(el("th", { text: head[i] }));
  var body = $("addr-body"); body.textContent = "";
  var bySvc = {};
  for (var j = 0; j < S.services.length; j++) { var s = S.services[j]; for (var a = 0; a < s.addresses.length; a++) bySvc[s.addresses[a]] = s; }
  var vips = S.vips.slice().sort(function (x, y) { return x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0; });
  for (var n = 0; n < vips.length; n++) {
    var v = vips[n], r = S.rates[v.ip] || { rq: 0, rp: 0 };
    var tr = el("tr", { "data-address": v.ip });
    var cells = [el("td", { cls: "mono", text: v.ip }), el("td", null, [chip(v.state)])];
    if (k8s) {
      var svc = bySvc[v.ip], serving = svc && svc.nodes ? svc.nodes[v.ip] : null;
      cells.push(el("td", { text: (serving && serving.node) || "—" }), el("td", { cls: "mono", text: v.mac || "" }), el("td", { text: ago((serving && serving.since) || v.since) }),
        el("td", { cls: "num", text: r.rq.toFixed(1) }), el("td", { cls: "num", text: r.rp.toFixed(1) }),
        el("td", { text: svc ? svc.service : "" }), el("td", { text: (svc && svc.pool) || "" }), el("td", { cls: "why", text: (serving && serving.why) || (svc && svc.lastError) || v.reason || "" }));
    } else {
      cells.push(el("td", { text: v.interface }), el("td", { cls: "mono", text: v.mac || "" }), el("td", { text: ago(v.since) }),
        el("td", { cls: "num", text: r.rq.toFixed(1) }), el("td", { cls: "num", text: r.rp.toFixed(1) }), el("td", { cls: "num", text: String(v.conflicts) }),
        el("td", { cls: "why", text: v.conflict ? "in use by " + v.conflict.mac + " (" + ago(v.conflict.at) + ")" : (v.reason || "") }));
    }
    for (var c = 0; c < cells.length; c++) tr.appendChild(cells[c]);
    body.appendChild(tr);
  }
  $("addr-empty").hidden = vips.length > 0;
}
function fmtMs(ms) { return ms < 1 ? ms.toFixed(2) + " ms" : ms < 10 ? ms.toFixed(1) + " ms" : Math.round(ms) + " ms"; }
var SVG = "http://www.w3.org/2000/svg";
function spark(values) {
  var w = 80, h = 18, max = Math.max.apply(null, values.concat([0.001])), pts = [];
  for (var i = 0; i < values.length; i++) pts.push((i * w / (values.length - 1)).toFixed(1) + "," + (h - 1 - values[i] * (h - 2) / max).toFixed(1));
  var svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", String(w)); svg.setAttribute("height", String(h)); svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  svg.setAttribute("class", "spark"); svg.setAttribute("role", "img"); svg.setAttribute("aria-label", "probe round trips, max " + fmtMs(max));
  var line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", pts.join(" ")); line.setAttribute("fill", "none"); line.setAttribute("stroke", "currentColor"); line.setAttribute("stroke-width", "1.5");
  svg.appendChild(line);
  return svg;
}
function renderNodes() {
  var body = $("node-body"); body.textContent = "";
  for (var i = 0; i < S.nodes.length; i++) {
    var n = S.nodes[i], probes = [];
    for (var a = 0; a < n.addresses.length; a++) {
      var p = n.addresses[a];
      probes.push(el("div", { cls: "probe" }, [el("span", { cls: "mono", text: p.ip + " " }), chip(p.probe, p.probe),
        p.rttMs !== undefined ? el("span", { cls: "num", title: "round trip of the last answered probe", text: " " + fmtMs(p.rttMs) }) : null,
        p.rttsMs && p.rttsMs.length > 1 ? spark(p.rttsMs) : null,
        p.lastAnswer ? el("span", { cls: "muted", title: "last answer", text: " " + ago(p.lastAnswer) }) : p.lastChange ? el("span", { cls: "muted", text: " " + ago(p.lastChange) }) : null,
        p.misses ? el("span", { cls: "warn", text: " " + p.misses + " missed" }) : null]));
    }
    var tr = el("tr", { "data-node": n.name }, [
      el("td", { text: n.name }), el("td", null, [chip(n.candidate ? "yes" : "no", n.candidate ? "up" : "down")]), el("td", null, probes),
      el("td", null, [n.instance ? chip(n.instance + (n.agrees === false ? ", disagrees" : ""), n.agrees === false ? "down" : n.instance) : el("span", { cls: "muted", text: "—" })]),
      el("td", { cls: "mono", text: n.serving.join(" ") || "—" }), el("td", { cls: "why", text: n.why || "" })]);
    body.appendChild(tr);
  }
}
function renderPools() {
  var box = $("pool-body"); box.textContent = "";
  for (var i = 0; i < S.pools.length; i++) {
    var p = S.pools[i], size = Number(p.size), pct = size > 0 ? Math.min(100, p.used * 100 / size) : 0;
    var bar = el("div", { cls: "bar", title: p.used + " of " + p.size }); var fill = el("i"); fill.style.width = pct.toFixed(1) + "%"; bar.appendChild(fill);
    box.appendChild(el("div", { "data-pool": p.name, cls: "pool" }, [
      el("div", null, [el("strong", { text: p.name }), el("span", { cls: "muted", text: " " + p.used + " / " + p.size + " used · " + p.source }), p.usable ? null : el("span", { cls: "bad", text: " unusable" })]),
      bar, p.problem ? el("div", { cls: "warn", text: p.problem }) : null, p.skipped ? el("div", { cls: "muted", text: p.skipped }) : null]));
  }
  if (!S.pools.length) box.appendChild(el("div", { cls: "empty", text: "No pool." }));
}
function renderReplicas() {
  var box = $("replica-body"); box.textContent = "";
  var st = S.status, le = st.leaderElection, m = st.membership;
  if (le) box.appendChild(el("div", null, [el("strong", { text: "Lease " }), el("span", { text: (le.holder || "nobody") + " holds it" }), el("span", { cls: "muted", text: " · " + le.state + (le.lastRenew ? " · renewed " + ago(le.lastRenew) : "") }), le.lastError ? el("div", { cls: "bad", text: le.lastError }) : null, le.problem ? el("div", { cls: "bad", text: le.problem }) : null]));
  if (m) {
    box.appendChild(el("div", null, [el("strong", { text: "On the wire " }), el("span", { text: m.identity + " is " }), chip(m.role, m.role), el("span", { cls: "muted", text: " · term " + m.term + " · " + m.reason })]));
    var t = el("table", null, [el("thead", null, [el("tr", null, [el("th", { text: "replica" }), el("th", { text: "role" }), el("th", { text: "heard" }), el("th", { text: "MAC" })])])]);
    var tb = el("tbody");
    for (var i = 0; i < m.members.length; i++) { var x = m.members[i]; tb.appendChild(el("tr", { "data-member": x.identity }, [el("td", { text: x.identity }), el("td", null, [chip(x.role, x.role)]), el("td", { text: ago(x.lastHeard) }), el("td", { cls: "mono", text: x.mac })])); }
    t.appendChild(tb);
    if (m.members.length) box.appendChild(el("div", { cls: "wrap" }, [t])); else box.appendChild(el("div", { cls: "empty", text: "No other replica heard." }));
    if (m.warning) box.appendChild(el("div", { cls: "warn", text: m.warning }));
  }
  if (!le && !m) box.appendChild(el("div", { cls: "empty", text: "A single replica (no leader election, no membership)." }));
}
function eventWhat(e) {
  var f = e.fields || {}, bits = [e.msg];
  if (e.address) bits.push(e.address);
  if (f.from || f.to) bits.push((f.from || "—") + " → " + (f.to || "—"));
  else if (f.node) bits.push(f.node);
  if (!e.address && f.interface) bits.push(f.interface);
  var why = f.why || f.reason || f.error;
  if (why) bits.push("(" + (typeof why === "string" ? why : JSON.stringify(why)) + ")");
  return bits.join(" · ");
}
var LEVEL_CLS = { error: "bad", warn: "warn", info: "", debug: "muted" };
function renderTimeline() {
  var q = $("filter").value.trim(), kind = $("kind").value, list = $("events");
  list.textContent = "";
  var shown = 0;
  for (var i = S.events.length - 1; i >= 0 && shown < 300; i--) {
    var e = S.events[i];
    if (kind && e.kind !== kind) continue;
    if (q && e.address !== q && !(e.nodes && e.nodes.indexOf(q) >= 0) && eventWhat(e).indexOf(q) < 0) continue;
    shown++;
    list.appendChild(el("li", { "data-id": String(e.id), "data-kind": e.kind }, [el("span", { cls: "muted", title: e.at, text: clock(e.at) }), el("span", null, [chip(e.kind, e.level === "error" ? "failed" : e.level === "warn" ? "kept" : "")]), el("span", { cls: "what " + (LEVEL_CLS[e.level] || ""), text: eventWhat(e) })]));
  }
  $("events-empty").hidden = shown > 0;
}
function addEvent(e) {
  if (e.id <= S.lastId) return;
  S.lastId = e.id;
  S.events.push(e);
  if (S.events.length > 500) S.events.splice(0, S.events.length - 500);
}
function history() {
  return getJSON("/v1/history?limit=300&after=" + S.lastId).then(function (h) { if (h) for (var i = 0; i < h.events.length; i++) addEvent(h.events[i]); });
}
function connect() {
  if (!window.EventSource) { setLive("polling"); return; }
  var src = new EventSource("/v1/events?after=" + S.lastId);
  S.source = src;
  S.heard = Date.now();
  src.onopen = function () { S.heard = Date.now(); setLive("live"); };
  src.onerror = function () { if (S.stream !== "down") setLive("polling"); };
  src.addEventListener("ping", function () { S.heard = Date.now(); if (S.stream !== "live" && src.readyState === 1) setLive("live"); });
  var onEvent = function (msg) { S.heard = Date.now(); try { addEvent(JSON.parse(msg.data)); } catch (err) { return; } renderTimeline(); soon(); };
  for (var i = 0; i < KINDS.length; i++) src.addEventListener(KINDS[i], onEvent);
  src.addEventListener("gap", function () { history().then(renderTimeline); });
}
function start() {
  var sel = $("kind");
  for (var i = 0; i < KINDS.length; i++) sel.appendChild(el("option", { value: KINDS[i], text: KINDS[i] }));
  $("filter").addEventListener("input", renderTimeline);
  sel.addEventListener("change", renderTimeline);
  history().then(refresh).then(connect);
  setInterval(function () {
    // A stream open but silent past two pings is dead (a stopped server keeps the connection): start again.
    if (S.source && Date.now() - S.heard > 12000) { S.source.close(); S.source = null; setLive("polling"); setTimeout(connect, 2000); }
    // Rates and relative times move on; without the stream the timeline is polled too.
    if (S.stream !== "live") history().then(function () { if (S.status) renderTimeline(); });
    refresh();
  }, 2000);
}
start();
`;

/** The page and the hashes its Content-Security-Policy allows, built once on first use. */
let built: { html: string; csp: string } | undefined;

function hash(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}

/** The status page: HTML and the Content-Security-Policy header to serve with it. */
export function statusPage(): { html: string; csp: string } {
  built ??= {
    html: `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
      `<meta name="color-scheme" content="light dark"><link rel="icon" href="data:,"><title>l2lb</title><style>${STYLE}</style></head><body>${BODY}<script>${SCRIPT}</script></body></html>\n`,
    csp: [
      "default-src 'none'", `script-src ${hash(SCRIPT)}`, `style-src ${hash(STYLE)}`, "connect-src 'self'", "img-src 'self' data:",
      "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].join('; '),
  };
  return built;
}
