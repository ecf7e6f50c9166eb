// JSON Merge Patch (RFC 7386) and JSON Patch (RFC 6902), with error texts like evanphx/json-patch, which
// kube-apiserver uses.

import { clone, deepEqual, isObject } from './json.mjs';

/**
 * RFC 7386: objects merge recursively, null deletes, anything else (arrays included) replaces.
 * @param {unknown} target
 * @param {unknown} patch
 * @returns {unknown}
 */
export function mergePatch(target, patch) {
  if (!isObject(patch)) return clone(patch);
  /** @type {Record<string, unknown>} */
  const out = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** A JSON Patch failure: the real server answers 422 for an operation that does not apply. */
export class PatchError extends Error {}

/** @param {string} p */
function parsePointer(p) {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new PatchError(`invalid JSON pointer: ${JSON.stringify(p)}`);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Finds the container of the last token.
 * @param {unknown} doc
 * @param {string[]} tokens
 * @returns {any}
 */
function parentOf(doc, tokens) {
  /** @type {any} */
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) {
      const i = Number(t);
      if (!/^\d+$/.test(t) || i >= cur.length) return undefined;
      cur = cur[i];
    } else if (isObject(cur)) {
      if (!Object.prototype.hasOwnProperty.call(cur, t)) return undefined;
      cur = cur[t];
    } else return undefined;
  }
  return cur;
}

/**
 * @param {unknown} doc
 * @param {string} path
 * @returns {{found: boolean, value?: unknown}}
 */
function getAt(doc, path) {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return { found: true, value: doc };
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!/^\d+$/.test(last) || i >= parent.length) return { found: false };
    return { found: true, value: parent[i] };
  }
  if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last)) return { found: true, value: parent[last] };
  return { found: false };
}

/**
 * Applies RFC 6902 operations to a copy of doc.
 * @param {unknown} doc
 * @param {unknown} ops
 * @returns {unknown}
 */
export function jsonPatch(doc, ops) {
  if (!Array.isArray(ops)) throw new TypeError('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  /** @type {any} */
  let cur = clone(doc);
  for (const op of ops) {
    if (!isObject(op)) throw new TypeError('json: cannot unmarshal into Go value of type jsonpatch.Operation');
    const kind = op.op;
    const path = op.path;
    if (typeof path !== 'string') throw new PatchError(`${kind} operation does not apply: doc is missing path: "": missing value`);
    switch (kind) {
      case 'add':
        if (!('value' in op)) throw new PatchError('add operation does not apply: doc is missing value');
        cur = add(cur, path, clone(op.value), 'add');
        break;
      case 'remove':
        cur = remove(cur, path, 'remove').doc;
        break;
      case 'replace': {
        if (!getAt(cur, path).found) throw new PatchError(`replace operation does not apply: doc is missing key: ${path}: missing value`);
        if (!('value' in op)) throw new PatchError('replace operation does not apply: doc is missing value');
        const tokens = parsePointer(path);
        if (tokens.length === 0) {
          cur = clone(op.value);
          break;
        }
        const parent = parentOf(cur, tokens);
        const last = tokens[tokens.length - 1];
        parent[Array.isArray(parent) ? Number(last) : last] = clone(op.value);
        break;
      }
      case 'move': {
        if (typeof op.from !== 'string') throw new PatchError('move operation does not apply: doc is missing from path');
        const r = remove(cur, op.from, 'move');
        cur = add(r.doc, path, r.value, 'move');
        break;
      }
      case 'copy': {
        if (typeof op.from !== 'string') throw new PatchError('copy operation does not apply: doc is missing from path');
        const g = getAt(cur, op.from);
        if (!g.found) throw new PatchError(`copy operation does not apply: doc is missing from path: ${op.from}: missing value`);
        cur = add(cur, path, clone(g.value), 'copy');
        break;
      }
      case 'test': {
        const g = getAt(cur, path);
        const want = 'value' in op ? op.value : null;
        if (!(g.found ? deepEqual(g.value, want) : want === null)) throw new PatchError(`testing value ${path} failed: test failed`);
        break;
      }
      default:
        throw new PatchError(`Unexpected kind: ${kind}`);
    }
  }
  return cur;
}

/** @param {any} doc @param {string} path @param {unknown} value @param {string} kind */
function add(doc, path, value, kind) {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    if (last === '-') parent.push(value);
    else {
      const i = Number(last);
      if (!/^\d+$/.test(last) || i > parent.length) throw new PatchError(`${kind} operation does not apply: doc is missing path: "${path}": missing value`);
      parent.splice(i, 0, value);
    }
  } else if (isObject(parent)) parent[last] = value;
  else throw new PatchError(`${kind} operation does not apply: doc is missing path: "${path}": missing value`);
  return doc;
}

/** @param {any} doc @param {string} path @param {string} kind */
function remove(doc, path, kind) {
  const tokens = parsePointer(path);
  const g = getAt(doc, path);
  if (!g.found || tokens.length === 0) throw new PatchError(`${kind} operation does not apply: doc is missing path: "${path}": missing value`);
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete parent[last];
  return { doc, value: g.value };
}
