// metadata.managedFields as kube-apiserver 1.28 keeps them for Update operations (create, update, patch;
// server-side apply is not modelled): one entry per (manager, subresource) with the fields that manager
// set, as a FieldsV1 tree (`f:` for a field, `k:{...}` for an item of a keyed list, `v:...` for an item of
// a set, `.` for the map or item itself). A write moves the fields it changed to its manager; fields no
// longer in the object leave every entry; an entry left empty goes. A real cluster's objects carry these
// on every object, often as much JSON as the rest: a client that keeps whole objects keeps them too.

import { deepEqual, isObject } from './json.mjs';

/** @typedef {Record<string, any>} Obj */
/** A FieldsV1 tree: keys `f:name`, `k:{...}`, `v:...`, `.`; leaves are `{}`. @typedef {Record<string, any>} FieldSet */

/** Lists whose items are identified by key fields (+listType=map), by field name. */
const LIST_KEYS = /** @type {Record<string, string[]>} */ ({
  ports: ['port', 'protocol'],
  conditions: ['type'],
  addresses: ['type'],
  containers: ['name'],
  ownerReferences: ['uid'],
});
/** Lists of scalars that are sets (+listType=set). */
const SETS = new Set(['finalizers']);
/** Metadata the server owns: never in managedFields. */
const SERVER_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink']);

/** The time format of `time`: seconds, no fraction. */
const now = () => new Date().toISOString().slice(0, 19) + 'Z';

/** Whether every item of `list` carries the key fields `keys` (the first one at least). */
function keyed(/** @type {unknown[]} */ list, /** @type {string[] | undefined} */ keys) {
  return keys !== undefined && list.every((x) => isObject(x) && x[keys[0]] !== undefined);
}

/** `k:{"port":80,"protocol":"TCP"}` for an item of a keyed list. */
function itemKey(/** @type {Obj} */ item, /** @type {string[]} */ keys) {
  /** @type {Obj} */
  const k = {};
  for (const name of keys) if (item[name] !== undefined) k[name] = item[name];
  return `k:${JSON.stringify(k)}`;
}

/**
 * The field set of a value stored under field `name`: `{}` for a scalar or an atomic list, a tree for maps,
 * keyed lists and sets.
 * @param {string} name
 * @param {unknown} value
 * @param {boolean} [nested] a map below the top level (owned as a whole too: `.`)
 * @returns {FieldSet}
 */
function setOfField(name, value, nested = true) {
  if (isObject(value)) {
    /** @type {FieldSet} */
    const out = nested ? { '.': {} } : {};
    for (const [k, v] of Object.entries(value)) out[`f:${k}`] = setOfField(k, v);
    return out;
  }
  if (Array.isArray(value)) {
    const keys = LIST_KEYS[name];
    if (keyed(value, keys)) {
      /** @type {FieldSet} */
      const out = { '.': {} };
      for (const item of value) out[itemKey(item, /** @type {string[]} */ (keys))] = setOfField('', item);
      return out;
    }
    if (SETS.has(name) && value.every((x) => typeof x === 'string')) {
      /** @type {FieldSet} */
      const out = { '.': {} };
      for (const item of value) out[`v:${JSON.stringify(item)}`] = {};
      return out;
    }
  }
  return {};
}

/**
 * The fields of an object a writer sets (what goes in its entry), for the part of the object `scope` names:
 * `main` is everything but status, `status` is status and metadata (a status write may change labels and
 * annotations too).
 * @param {Obj} obj
 * @param {'main' | 'status' | 'all'} scope
 * @returns {FieldSet}
 */
export function fieldsOf(obj, scope) {
  return changedFields({}, obj, scope) ?? {};
}

/**
 * The fields of `after` that are new or different from `before`, within `scope`; null when none.
 * @param {Obj} before
 * @param {Obj} after
 * @param {'main' | 'status' | 'all'} scope
 * @returns {FieldSet | null}
 */
export function changedFields(before, after, scope) {
  /** @type {FieldSet} */
  const out = {};
  for (const [k, v] of Object.entries(after)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    if (scope === 'main' && k === 'status') continue;
    if (scope === 'status' && k !== 'status' && k !== 'metadata') continue;
    if (k === 'metadata') {
      /** @type {Obj} */
      const meta = {};
      /** @type {Obj} */
      const old = {};
      for (const [mk, mv] of Object.entries(v ?? {})) if (!SERVER_META.has(mk)) meta[mk] = mv;
      for (const [mk, mv] of Object.entries(before.metadata ?? {})) if (!SERVER_META.has(mk)) old[mk] = mv;
      const c = diff('metadata', old, meta, false);
      if (c) out['f:metadata'] = c;
      continue;
    }
    const c = diff(k, before[k], v, false);
    if (c) out[`f:${k}`] = c;
  }
  return Object.keys(out).length ? out : null;
}

/**
 * @param {string} name
 * @param {unknown} a
 * @param {unknown} b
 * @param {boolean} nested
 * @returns {FieldSet | null}
 */
function diff(name, a, b, nested = true) {
  if (b === undefined || deepEqual(a, b)) return null;
  if (isObject(b) && isObject(a)) {
    /** @type {FieldSet} */
    const out = {};
    for (const [k, v] of Object.entries(b)) {
      const c = diff(k, a[k], v);
      if (c) out[`f:${k}`] = c;
    }
    return Object.keys(out).length ? out : null;
  }
  const keys = LIST_KEYS[name];
  if (Array.isArray(a) && Array.isArray(b) && keyed(a, keys) && keyed(b, keys)) {
    const ks = /** @type {string[]} */ (keys);
    const olds = new Map(a.map((x) => [itemKey(/** @type {Obj} */ (x), ks), x]));
    /** @type {FieldSet} */
    const out = {};
    for (const item of b) {
      const k = itemKey(/** @type {Obj} */ (item), ks);
      const old = olds.get(k);
      const c = old === undefined ? setOfField('', item) : diff('', old, item);
      if (c) out[k] = c;
    }
    return Object.keys(out).length ? out : null;
  }
  return setOfField(name, b, nested);
}

/**
 * `set` with every path of `taken` removed (another manager now owns those fields).
 * @param {FieldSet} set
 * @param {FieldSet} taken
 * @returns {FieldSet}
 */
function subtract(set, taken) {
  /** @type {FieldSet} */
  const out = {};
  for (const [k, v] of Object.entries(set)) {
    const t = taken[k];
    if (t === undefined) out[k] = v;
    else if (Object.keys(t).length === 0 || Object.keys(v).length === 0) continue;
    else {
      const rest = subtract(v, t);
      if (Object.keys(rest).some((x) => x !== '.')) out[k] = rest;
    }
  }
  return out;
}

/** The union of two field sets. @param {FieldSet} a @param {FieldSet} b @returns {FieldSet} */
function union(a, b) {
  /** @type {FieldSet} */
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? union(out[k], v) : v;
  return out;
}

/**
 * `set` without the fields `obj` no longer has.
 * @param {FieldSet} set
 * @param {unknown} obj
 * @returns {FieldSet}
 */
function prune(set, obj) {
  /** @type {FieldSet} */
  const out = {};
  for (const [k, v] of Object.entries(set)) {
    if (k === '.') {
      out[k] = v;
      continue;
    }
    let child;
    if (k.startsWith('f:')) child = isObject(obj) ? obj[k.slice(2)] : undefined;
    else if (k.startsWith('k:') && Array.isArray(obj)) {
      const want = JSON.parse(k.slice(2));
      child = obj.find((x) => isObject(x) && Object.entries(want).every(([wk, wv]) => x[wk] === wv));
    } else if (k.startsWith('v:') && Array.isArray(obj)) child = obj.includes(JSON.parse(k.slice(2))) ? true : undefined;
    if (child === undefined) continue;
    if (Object.keys(v).length === 0) {
      out[k] = v;
      continue;
    }
    // a subtree whose every field went is dropped: left empty it would read as owning the whole field
    const rest = prune(v, child);
    if (Object.keys(rest).length) out[k] = rest;
  }
  return out;
}

/**
 * managedFields of an object after a write: the writer's entry (manager, operation Update, subresource)
 * gains the fields it changed, every other entry loses them, and fields the object no longer has leave
 * every entry. `old` is null for a create.
 * @param {{ apiVersion: string, hasStatus: boolean }} r
 * @param {Obj | null} old
 * @param {Obj} next
 * `withStatus`: a create whose status the strategy kept (a Node's) records it in the creator's entry.
 * @param {{ manager?: string, subresource?: string, withStatus?: boolean }} opts
 * @returns {Obj[]}
 */
export function managedAfterWrite(r, old, next, opts) {
  const manager = opts.manager || 'unknown';
  const subresource = opts.subresource === 'status' ? 'status' : undefined;
  const scope = subresource ? 'status' : r.hasStatus && !opts.withStatus ? 'main' : 'all';
  const changed = old ? changedFields(old, next, scope) : fieldsOf(next, scope);
  /** @type {Obj[]} */
  const entries = (old?.metadata?.managedFields ?? []).map((/** @type {Obj} */ e) => ({ ...e }));
  let mine = entries.find((e) => e.manager === manager && e.operation === 'Update' && e.subresource === subresource);
  if (changed && Object.keys(changed).length) {
    for (const e of entries) if (e !== mine) e.fieldsV1 = subtract(e.fieldsV1 ?? {}, changed);
    if (!mine) {
      mine = { manager, operation: 'Update', apiVersion: r.apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: {} };
      if (subresource) mine.subresource = subresource;
      entries.push(mine);
    }
    mine.fieldsV1 = union(mine.fieldsV1 ?? {}, changed);
    mine.time = now();
    mine.apiVersion = r.apiVersion;
  }
  const out = [];
  for (const e of entries) {
    e.fieldsV1 = prune(e.fieldsV1 ?? {}, next);
    if (Object.keys(e.fieldsV1).length) out.push(e);
  }
  return out;
}
