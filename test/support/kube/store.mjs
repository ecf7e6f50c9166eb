// The stand-in's "etcd + watch cache": objects per resource, one global resourceVersion counter, a bounded
// event history per resource (like kube-apiserver's watch cache), the open watches, and a journal on disk
// so the state survives a SIGKILL of the server process.

import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { clone, parseJson, stringify } from './json.mjs';
import { RESOURCES, ServiceAllocator, resourceKey } from './resources.mjs';

/** @typedef {Record<string, any>} Obj */
/** @typedef {import('./resources.mjs').Resource} Resource */
/** @typedef {'ADDED' | 'MODIFIED' | 'DELETED'} EventType */
/** @typedef {{ type: EventType, rv: number, obj: Obj, prev: Obj | null }} StoreEvent */

/**
 * One open watch: which objects it selects and where its events go.
 * @typedef {Object} Watcher
 * @property {string} res resource key
 * @property {(o: Obj) => boolean} matches
 * @property {(type: string, o: Obj) => void} deliver
 */

/** Key order of etcd: `namespace/name` for namespaced objects, `name` otherwise. */
export const objectKey = (/** @type {string | undefined} */ ns, /** @type {string} */ name) => (ns ? `${ns}/${name}` : name);

/** All objects, the resourceVersion counter, watch history, open watches and the journal. */
export class Store {
  /**
   * @param {{ journalPath: string, historySize: number, keepHistory: boolean, nodePortRange?: [number, number], continueTtlMs?: number }} opts
   */
  constructor(opts) {
    this.historySize = opts.historySize;
    /** Continue tokens expire this long after their list began (0: only compaction expires them). */
    this.continueTtlMs = opts.continueTtlMs ?? 0;
    this.rv = 0;
    /** @type {Map<string, Map<string, Obj>>} */
    this.tables = new Map(RESOURCES.map((r) => [resourceKey(r), new Map()]));
    /** @type {Map<string, { base: number, evicted: boolean, events: StoreEvent[] }>} */
    this.windows = new Map();
    /** @type {Set<Watcher>} */
    this.watchers = new Set();
    /** @type {Map<string, { items: Obj[], at: number }>} snapshots that continue tokens refer to, and when each was taken */
    this.snapshots = new Map();
    this.alloc = new ServiceAllocator(opts.nodePortRange);
    /** @type {Map<string, StoreEvent[]>} */
    const replayed = new Map();
    if (existsSync(opts.journalPath)) this.replay(readFileSync(opts.journalPath, 'utf8'), opts.keepHistory ? replayed : null);
    for (const r of RESOURCES) {
      const key = resourceKey(r);
      const events = replayed.get(key) ?? [];
      // A restarted API server rebuilds its watch cache from a fresh list: resuming older than that is a 410,
      // unless the caller asked to keep the history (keepHistory) across the restart.
      const evicted = opts.keepHistory && events.length > 0;
      this.windows.set(key, { base: opts.keepHistory ? 0 : this.rv, evicted, events: events.slice(-this.historySize) });
    }
    this.journalFd = openSync(opts.journalPath, 'a');
  }

  /** @param {string} text @param {Map<string, StoreEvent[]> | null} history */
  replay(text, history) {
    for (const line of text.split('\n')) {
      if (!line) continue;
      /** @type {any} */
      let rec;
      try {
        rec = parseJson(line);
      } catch {
        // the last line may be torn by a SIGKILL in mid-write
        continue;
      }
      const table = this.tables.get(rec.r);
      if (!table) continue;
      const key = objectKey(rec.o.metadata.namespace, rec.o.metadata.name);
      const prev = table.get(key) ?? null;
      if (rec.t === 'DELETED') table.delete(key);
      else table.set(key, rec.o);
      if (rec.r === 'services') {
        if (prev) this.alloc.track(prev, false);
        if (rec.t !== 'DELETED') this.alloc.track(rec.o, true);
      }
      this.rv = Math.max(this.rv, rec.rv);
      if (history) {
        const list = history.get(rec.r) ?? [];
        list.push({ type: rec.t, rv: rec.rv, obj: rec.o, prev });
        if (list.length > this.historySize * 2) list.splice(0, list.length - this.historySize);
        history.set(rec.r, list);
      }
    }
  }

  /** @param {Resource} r @param {string | undefined} ns @param {string} name @returns {Obj | undefined} */
  get(r, ns, name) {
    return this.tables.get(resourceKey(r))?.get(objectKey(r.namespaced ? ns : undefined, name));
  }

  /** Every object of a resource in key order (namespace, then name). @param {Resource} r */
  all(r) {
    const table = /** @type {Map<string, Obj>} */ (this.tables.get(resourceKey(r)));
    return [...table.keys()].sort().map((k) => /** @type {Obj} */ (table.get(k)));
  }

  /**
   * Writes one change: bumps the global resourceVersion, stores, journals, records history, notifies watches.
   * `obj` is the new object (for DELETED: the object as it was). Returns the stored object.
   * @param {Resource} r
   * @param {EventType} type
   * @param {Obj} obj
   * @param {Obj | null} prev
   */
  commit(r, type, obj, prev) {
    const key = resourceKey(r);
    this.rv += 1;
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(this.rv);
    const table = /** @type {Map<string, Obj>} */ (this.tables.get(key));
    const k = objectKey(stored.metadata.namespace, stored.metadata.name);
    if (type === 'DELETED') table.delete(k);
    else table.set(k, stored);
    if (r.plural === 'services' && !r.group) {
      if (prev) this.alloc.track(prev, false);
      if (type !== 'DELETED') this.alloc.track(stored, true);
    }
    writeSync(this.journalFd, stringify({ rv: this.rv, r: key, t: type, o: stored }) + '\n');
    /** @type {StoreEvent} */
    const ev = { type, rv: this.rv, obj: stored, prev };
    const win = /** @type {{ base: number, evicted: boolean, events: StoreEvent[] }} */ (this.windows.get(key));
    win.events.push(ev);
    if (win.events.length > this.historySize) {
      win.events.shift();
      win.evicted = true;
    }
    for (const w of this.watchers) if (w.res === key) deliver(w, ev);
    return stored;
  }

  /**
   * The smallest resourceVersion a watch of this resource may resume from (the "oldest - 1" of the watch cache).
   * @param {Resource} r
   */
  floor(r) {
    const win = /** @type {{ base: number, evicted: boolean, events: StoreEvent[] }} */ (this.windows.get(resourceKey(r)));
    if (!win.evicted) return win.base;
    return win.events.length ? win.events[0].rv - 1 : this.rv;
  }

  /** Events of resource r after resourceVersion `after`. @param {Resource} r @param {number} after */
  since(r, after) {
    const win = /** @type {{ events: StoreEvent[] }} */ (this.windows.get(resourceKey(r)));
    return win.events.filter((e) => e.rv > after);
  }

  /** Forgets every resource's event history: resuming from any older resourceVersion is now a 410. */
  compact() {
    for (const win of this.windows.values()) {
      win.base = this.rv;
      win.evicted = false;
      win.events = [];
    }
    this.snapshots.clear();
  }

  /**
   * Remembers a list result so a continue token can page through it consistently. A snapshot keeps the time
   * its revision was first listed: like an etcd revision, it is compacted away `continueTtlMs` after that,
   * however many lists page through it.
   * @param {string} id
   * @param {Obj[]} items
   */
  remember(id, items) {
    if (this.snapshots.has(id)) return;
    this.snapshots.set(id, { items, at: Date.now() });
    if (this.snapshots.size > 32) this.snapshots.delete(/** @type {string} */ (this.snapshots.keys().next().value));
  }

  /**
   * The snapshot a continue token of list `id` pages through, or undefined when it has expired (compacted,
   * older than `continueTtlMs`, or pushed out by newer ones).
   * @param {string} id
   * @param {number} listRV
   * @param {Resource} r
   * @returns {Obj[] | undefined}
   */
  snapshot(id, listRV, r) {
    const snap = this.snapshots.get(id);
    if (snap && this.continueTtlMs > 0 && Date.now() - snap.at > this.continueTtlMs) {
      this.snapshots.delete(id);
      return undefined;
    }
    if (snap) return snap.items;
    // nothing changed since the list began: the current state is that revision
    return listRV === this.rv ? this.all(r) : undefined;
  }

  close() {
    closeSync(this.journalFd);
  }
}

/**
 * Translates a store event for one watch the way the watch cache does: an object that starts matching the
 * selector arrives as ADDED, one that stops matching as DELETED (old content, new resourceVersion).
 * @param {Watcher} w
 * @param {StoreEvent} ev
 */
export function deliver(w, ev) {
  const cur = ev.type !== 'DELETED' && w.matches(ev.obj);
  const old = ev.prev ? w.matches(ev.prev) : false;
  if (cur && !old) w.deliver('ADDED', ev.obj);
  else if (cur && old) w.deliver('MODIFIED', ev.obj);
  else if (!cur && old) {
    const gone = clone(/** @type {Obj} */ (ev.type === 'DELETED' ? ev.obj : ev.prev));
    gone.metadata.resourceVersion = String(ev.rv);
    w.deliver('DELETED', gone);
  }
}
