// API semantics on top of the store: get/list/create/update/patch/delete with kube-apiserver 1.28's rules
// (decode, admission of namespaces, strategies, validation, optimistic concurrency, finalizers, no-op
// updates that write nothing, a namespace controller that empties deleted namespaces).

import { randomUUID } from 'node:crypto';
import { clone, deepEqual, isObject, parseJson } from './json.mjs';
import { PatchError, jsonPatch, mergePatch } from './patch.mjs';
import { RESOURCES, apiVersionOf, fieldSelectorsAt, findResource } from './resources.mjs';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from './selectors.mjs';
import { errors, failure, field } from './status.mjs';
import { managedAfterWrite } from './managed.mjs';
import { objectKey } from './store.mjs';
import { DecodeError, decodeTyped, labelKeyErrors, labelValueErrors, objectMetaSchema, qualifiedNameErrors, dns1123LabelErrors } from './validate.mjs';

/** @typedef {Record<string, any>} Obj */
/** @typedef {import('./resources.mjs').Resource} Resource */
/** @typedef {import('./store.mjs').Store} Store */

const now = () => new Date().toISOString().slice(0, 19) + 'Z';
const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Status "Success" body of a DELETE for kinds that do not return the object. */
function deleteSuccess(/** @type {Resource} */ r, /** @type {Obj} */ o) {
  /** @type {Obj} */
  const details = { name: o.metadata.name };
  if (r.group) details.group = r.group;
  details.kind = r.plural;
  details.uid = o.metadata.uid;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}

/**
 * The 410 of a list whose continue token's revision was compacted: a Status with, in its metadata, the
 * "inconsistent continue" token the real server offers (the rest of the list at the current revision).
 * @param {string} start
 * @param {number} rv
 */
export function continueExpired(start, rv) {
  const err = errors.expired(
    'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
  );
  err.status.metadata = { continue: Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64') };
  return err;
}

/** With kind and apiVersion, as a GET or a watch event carries them. */
export function withType(/** @type {Resource} */ r, /** @type {Obj} */ o) {
  return { apiVersion: apiVersionOf(r), kind: r.kind, ...o };
}

/** The API verbs over one store. */
export class Ops {
  /** @param {Store} store @param {number} [minor] the Kubernetes 1.x release it behaves as */
  constructor(store, minor = 28) {
    this.store = store;
    this.minor = minor;
    /** @type {Set<string>} namespaces the namespace controller is emptying */
    this.finalizing = new Set();
    /** @type {Set<ReturnType<typeof setTimeout>>} */
    this.timers = new Set();
    for (const ns of store.all(/** @type {Resource} */ (findResource('', 'v1', 'namespaces')))) {
      if (ns.metadata.deletionTimestamp) this.scheduleNamespaceCleanup(ns.metadata.name);
    }
  }

  get ctx() {
    return { alloc: this.store.alloc };
  }

  /** Creates the namespaces and the `kubernetes` Service every cluster has. */
  bootstrap() {
    const nsRes = /** @type {Resource} */ (findResource('', 'v1', 'namespaces'));
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      if (!this.store.get(nsRes, undefined, name)) this.create(nsRes, undefined, { metadata: { name } }, { manager: 'kube-apiserver' });
    }
    const svc = /** @type {Resource} */ (findResource('', 'v1', 'services'));
    if (!this.store.get(svc, 'default', 'kubernetes')) {
      this.create(svc, 'default', {
        metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
        spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] },
      }, { manager: 'kube-apiserver' });
    }
  }

  stop() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ----------------------------------------------------------------------------------------- decoding

  /**
   * Turns a request body into an object of resource r the way the real decoder does (400 on failure).
   * @param {Resource} r
   * @param {unknown} body
   * @param {boolean} fromPatch a patched object that does not decode is a 422, not a 400
   * @returns {Obj}
   */
  decode(r, body, fromPatch = false) {
    const fail = (/** @type {string} */ msg) => {
      if (fromPatch) {
        // errors.NewInvalid(schema.GroupKind{}, "", ...): the message really starts with ` "" is invalid`
        return errors.invalid({ group: '', kind: '' }, '', [field.invalid('patch', JSON.stringify(body), msg)]);
      }
      if (r.custom) return errors.badRequest(msg);
      return errors.badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: ${msg}`);
    };
    if (!isObject(body)) {
      const t = Array.isArray(body) ? 'array' : body === null ? 'null' : typeof body;
      throw fail(`json: cannot unmarshal ${t} into Go value of type ${r.custom ? 'map[string]interface {}' : `v1.${r.kind}`}`);
    }
    const o = clone(body);
    const apiVersion = apiVersionOf(r);
    if (o.apiVersion !== undefined && o.apiVersion !== '' && o.apiVersion !== apiVersion) {
      throw errors.badRequest(`the API version in the data (${o.apiVersion}) does not match the expected API version (${apiVersion})`);
    }
    if (o.kind !== undefined && o.kind !== '' && o.kind !== r.kind) {
      throw errors.badRequest(`the kind in the data (${o.kind}) does not match the expected kind (${r.kind})`);
    }
    o.apiVersion = apiVersion;
    o.kind = r.kind;
    try {
      o.metadata = decodeTyped(o.metadata ?? {}, objectMetaSchema, 'metadata', r.kind) ?? {};
      if (r.decode) decodeTyped(o, r.decode, '', r.kind);
    } catch (err) {
      if (err instanceof DecodeError) throw fail(err.message);
      throw err;
    }
    return o;
  }

  // ------------------------------------------------------------------------------------------- reads

  /** @param {Resource} r @param {string | undefined} ns @param {string} name */
  get(r, ns, name) {
    const o = this.store.get(r, ns, name);
    if (!o) throw errors.notFound(r, name);
    return withType(r, clone(o));
  }

  /**
   * A list as the real server answers it, with selectors, pagination and resourceVersion semantics.
   * @param {Resource} r
   * @param {string | undefined} ns
   * @param {URLSearchParams} q
   */
  list(r, ns, q) {
    const labels = parseLabelSelector(q.get('labelSelector'));
    const fields = parseFieldSelector(q.get('fieldSelector'), fieldSelectorsAt(r, this.minor), r.custom);
    const limitText = q.get('limit');
    let limit = limitText ? Number(limitText) : 0;
    if (!Number.isInteger(limit) || limit < 0) limit = 0;
    const rvText = q.get('resourceVersion') ?? '';
    const cont = q.get('continue') ?? '';
    const match = q.get('resourceVersionMatch') ?? '';
    if (match) {
      // ValidateListOptions: all of its complaints in one 422
      const at = 'resourceVersionMatch';
      const errs = [];
      if (!rvText) errs.push(field.forbidden(at, 'resourceVersionMatch is forbidden unless resourceVersion is provided'));
      if (cont) errs.push(field.forbidden(at, 'resourceVersionMatch is forbidden when continue is provided'));
      if (match !== 'Exact' && match !== 'NotOlderThan') errs.push(field.notSupported(at, match, ['Exact', 'NotOlderThan', '']));
      if (match === 'Exact' && rvText === '0') errs.push(field.forbidden(at, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
      if (errs.length > 0) throw errors.invalid({ group: 'meta.k8s.io', kind: 'ListOptions' }, '', errs);
    }
    if (cont && rvText) throw errors.badRequest('specifying resource version is not allowed when using continue');
    /** @type {Obj[]} */
    let items;
    let listRV = this.store.rv;
    let start = '';
    if (cont) {
      let token;
      try {
        token = JSON.parse(Buffer.from(cont, 'base64').toString('utf8'));
      } catch {
        throw errors.badRequest('continue key is not valid: illegal base64 data at input byte 0');
      }
      if (!token || token.v !== 'meta.k8s.io/v1' || typeof token.rv !== 'number') throw errors.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      const snap = this.store.snapshot(`${r.plural}.${r.group}@${token.rv}`, token.rv, r);
      if (!snap) throw continueExpired(token.start, this.store.rv);
      items = snap;
      listRV = token.rv;
      start = token.start;
    } else {
      if (rvText && rvText !== '0') {
        const want = Number(rvText);
        if (!/^\d+$/.test(rvText)) throw errors.badRequest(`invalid resource version "${rvText}"`);
        if (want > this.store.rv) throw errors.tooLargeResourceVersion(want, this.store.rv);
      }
      // resourceVersion=0 is served from the watch cache, which ignores limit
      if (rvText === '0') limit = 0;
      if (match === 'Exact') {
        // etcd's state at that revision: a list taken at it (or the present, when nothing changed since);
        // anything else counts as compacted
        const want = Number(rvText);
        const snap = this.store.snapshot(`${r.plural}.${r.group}@${want}`, want, r);
        if (!snap) throw errors.expired('The resourceVersion for the provided list is too old.');
        items = snap;
        listRV = want;
      } else {
        items = this.store.all(r);
        // every list's revision stays readable (continue tokens, resourceVersionMatch=Exact) until compacted
        this.store.remember(`${r.plural}.${r.group}@${listRV}`, items);
      }
    }
    const matches = (/** @type {Obj} */ o) =>
      (!r.namespaced || !ns || o.metadata.namespace === ns) && matchLabels(labels, o.metadata.labels) && matchFields(fields, r.fields(o));
    /** @type {Obj[]} */
    const out = [];
    let i = 0;
    if (start) {
      // items are in key order: a binary search, so each page costs its size, not its position (a linear
      // scan made a 100,000-object list quadratic: 32 s where a real server takes a few)
      const startKey = start.replace(/\u0000$/, '');
      let lo = 0;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (objectKey(items[mid].metadata.namespace, items[mid].metadata.name) <= startKey) lo = mid + 1;
        else hi = mid;
      }
      i = lo;
    }
    let more = false;
    for (; i < items.length; i++) {
      if (!matches(items[i])) continue;
      if (limit && out.length === limit) {
        more = true;
        break;
      }
      out.push(items[i]);
    }
    /** @type {Obj} */
    const meta = { resourceVersion: String(listRV) };
    if (more) {
      const last = out[out.length - 1];
      const lastKey = objectKey(last.metadata.namespace, last.metadata.name);
      meta.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: listRV, start: lastKey + '\u0000' })).toString('base64');
      if (labels.length === 0 && fields.length === 0) {
        let rest = items.length - i;
        if (r.namespaced && ns) {
          rest = 0;
          for (let j = i; j < items.length; j++) if (matches(items[j])) rest++;
        }
        meta.remainingItemCount = rest;
      }
    }
    // typed lists of built-in kinds carry items without kind/apiVersion; unstructured (CR) lists keep them
    const listed = out.map((o) => {
      const c = clone(o);
      if (r.custom) return c;
      delete c.kind;
      delete c.apiVersion;
      return c;
    });
    return { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: meta, items: listed };
  }

  // ------------------------------------------------------------------------------------------ writes

  /** NamespaceLifecycle admission: the namespace must exist and not be terminating. */
  admitNamespace(/** @type {Resource} */ r, /** @type {string} */ ns, /** @type {string} */ name) {
    if (!r.namespaced) return;
    const nsRes = /** @type {Resource} */ (findResource('', 'v1', 'namespaces'));
    const n = this.store.get(nsRes, undefined, ns);
    if (!n) throw errors.notFound(nsRes, ns);
    if (n.metadata.deletionTimestamp) {
      throw errors.forbidden(r, name, `unable to create new content in namespace ${ns} because it is being terminated`, [
        { reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' },
      ]);
    }
  }

  /** ValidateObjectMeta (+ update rules when `old` is given). */
  validateMeta(/** @type {Resource} */ r, /** @type {Obj} */ o, /** @type {Obj | null} */ old) {
    const errs = [];
    const m = o.metadata;
    if (!m.name) errs.push(field.required('metadata.name', 'name or generateName is required'));
    else for (const e of r.nameErrors(m.name)) errs.push(field.invalid('metadata.name', m.name, e));
    if (r.namespaced) {
      if (!m.namespace) errs.push(field.required('metadata.namespace'));
      else for (const e of dns1123LabelErrors(m.namespace)) errs.push(field.invalid('metadata.namespace', m.namespace, e));
    }
    for (const [k, v] of Object.entries(m.labels ?? {})) {
      for (const e of labelKeyErrors(k)) errs.push(field.invalid('metadata.labels', k, e));
      for (const e of labelValueErrors(String(v))) errs.push(field.invalid('metadata.labels', v, e));
    }
    let annSize = 0;
    for (const [k, v] of Object.entries(m.annotations ?? {})) {
      for (const e of qualifiedNameErrors(k.toLowerCase())) errs.push(field.invalid('metadata.annotations', k, e));
      annSize += k.length + String(v).length;
    }
    if (annSize > 262144) errs.push(field.tooLong('metadata.annotations', 262144));
    (m.finalizers ?? []).forEach((/** @type {string} */ f) => {
      for (const e of qualifiedNameErrors(f)) errs.push(field.invalid('metadata.finalizers', f, e));
    });
    if (old) {
      const om = old.metadata;
      if (om.deletionTimestamp) {
        const added = (m.finalizers ?? []).filter((/** @type {string} */ f) => !(om.finalizers ?? []).includes(f));
        if (added.length) errs.push(field.forbidden('metadata.finalizers', 'no new finalizers can be added if the object is being deleted, found new finalizers []string{' + added.map((/** @type {string} */ f) => JSON.stringify(f)).join(', ') + '}'));
      }
    }
    return errs;
  }

  /**
   * POST: create.
   * @param {Resource} r
   * @param {string | undefined} ns namespace from the URL
   * @param {unknown} body
   * @param {{ dryRun?: boolean, manager?: string }} [opts]
   */
  create(r, ns, body, opts = {}) {
    const o = this.decode(r, body);
    const m = o.metadata;
    if (r.namespaced) {
      if (m.namespace && ns && m.namespace !== ns) throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      m.namespace = m.namespace || ns;
    } else delete m.namespace;
    if (m.resourceVersion) throw errors.internal('resourceVersion should not be set on objects to be created');
    if (!m.name && m.generateName) {
      let suffix = '';
      for (let i = 0; i < 5; i++) suffix += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
      m.name = m.generateName.slice(0, 58) + suffix;
    }
    if (m.name && r.namespaced && m.namespace) this.admitNamespace(r, m.namespace, m.name);
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.managedFields;
    delete m.selfLink;
    const sentStatus = clone(o.status);
    r.prepareCreate?.(o, this.ctx);
    m.uid = randomUUID();
    m.creationTimestamp = now();
    if (r.generation) m.generation = 1;
    else delete m.generation;
    const errs = [...this.validateMeta(r, o, null), ...(r.validate?.(o, null, this.ctx) ?? [])];
    if (errs.length) throw errors.invalid(r, m.name ?? '', errs);
    if (this.store.get(r, m.namespace, m.name)) throw errors.alreadyExists(r, m.name);
    try {
      r.allocate?.(o, null, this.ctx);
    } catch (err) {
      throw errors.internal(/** @type {Error} */ (err).message);
    }
    // Fields the strategy resets on create (a Service's status) are nobody's; a status it keeps (a Node's) is the creator's.
    const withStatus = sentStatus !== undefined && deepEqual(sentStatus, o.status);
    m.managedFields = managedAfterWrite({ apiVersion: apiVersionOf(r), hasStatus: r.hasStatus }, null, o, { manager: opts.manager, withStatus });
    if (opts.dryRun) return withType(r, o);
    return withType(r, clone(this.store.commit(r, 'ADDED', o, null)));
  }

  /**
   * PUT: replace (the main resource or, with subresource "status", only what the status strategy lets through).
   * @param {Resource} r
   * @param {string | undefined} ns
   * @param {string} name
   * @param {unknown} body
   * @param {{ subresource?: string, dryRun?: boolean, fromPatch?: boolean, manager?: string }} [opts]
   * @returns {{ obj: Obj, created: boolean }}
   */
  update(r, ns, name, body, opts = {}) {
    const o = this.decode(r, body, opts.fromPatch);
    const m = o.metadata;
    if ((m.name ?? '') !== name) throw errors.badRequest(`the name of the object (${m.name ?? ''}) does not match the name on the URL (${name})`);
    if (r.namespaced) {
      if (m.namespace && m.namespace !== ns) throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      m.namespace = ns;
    } else delete m.namespace;
    const old = this.store.get(r, ns, name);
    if (!old) {
      if (r.createOnUpdate && !opts.subresource && !opts.fromPatch) {
        delete m.resourceVersion;
        return { obj: this.create(r, ns, o, opts), created: true };
      }
      throw errors.notFound(r, name);
    }
    return { obj: this.replace(r, old, o, opts), created: false };
  }

  /**
   * The common tail of update and patch: preconditions, strategy, validation, commit.
   * @param {Resource} r
   * @param {Obj} old
   * @param {Obj} o decoded new object
   * @param {{ subresource?: string, dryRun?: boolean, manager?: string }} opts
   */
  replace(r, old, o, opts) {
    const m = o.metadata;
    const om = old.metadata;
    if (m.resourceVersion && m.resourceVersion !== om.resourceVersion) throw errors.conflict(r, om.name);
    if (m.uid && m.uid !== om.uid) {
      throw errors.invalid(r, om.name, [field.invalid('metadata.uid', m.uid, 'field is immutable')]);
    }
    m.uid = om.uid;
    m.creationTimestamp = om.creationTimestamp;
    if (om.deletionTimestamp) m.deletionTimestamp = om.deletionTimestamp;
    else delete m.deletionTimestamp;
    if (om.deletionGracePeriodSeconds !== undefined) m.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
    else delete m.deletionGracePeriodSeconds;
    if (om.generation !== undefined) m.generation = om.generation;
    else delete m.generation;
    delete m.managedFields;
    m.resourceVersion = om.resourceVersion;
    /** @type {Obj} */
    let next = o;
    /** @type {import('./status.mjs').FieldError[]} */
    let errs;
    if (opts.subresource === 'status') {
      next = r.prepareStatusUpdate(o, old);
      errs = [...this.validateMeta(r, next, old), ...(r.validateStatus?.(next, old) ?? [])];
    } else {
      r.prepareUpdate?.(o, old, this.ctx);
      if (r.generation) {
        const strip = (/** @type {Obj} */ x) => {
          const { metadata, status, ...rest } = x;
          void metadata;
          void status;
          return rest;
        };
        if (!deepEqual(strip(o), strip(withType(r, old)))) m.generation = (om.generation ?? 0) + 1;
      }
      errs = [...this.validateMeta(r, o, old), ...(r.validate?.(o, old, this.ctx) ?? [])];
    }
    if (errs.length) throw errors.invalid(r, om.name, errs);
    if (!opts.subresource) {
      try {
        r.allocate?.(next, old, this.ctx);
      } catch (err) {
        throw errors.internal(/** @type {Error} */ (err).message);
      }
    }
    // a write that changes nothing is not written: no new resourceVersion, no watch event
    if (om.managedFields) next.metadata.managedFields = om.managedFields;
    else delete next.metadata.managedFields;
    if (deepEqual(next, withType(r, old))) return withType(r, clone(old));
    next.metadata.managedFields = managedAfterWrite({ apiVersion: apiVersionOf(r), hasStatus: r.hasStatus }, withType(r, old), next, {
      manager: opts.manager,
      subresource: opts.subresource,
    });
    if (opts.dryRun) return next;
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      return withType(r, clone(this.store.commit(r, 'DELETED', next, old)));
    }
    return withType(r, clone(this.store.commit(r, 'MODIFIED', next, old)));
  }

  /**
   * PATCH with one of the three patch types the real server accepts (server-side apply is not modelled).
   * @param {Resource} r
   * @param {string | undefined} ns
   * @param {string} name
   * @param {string} contentType
   * @param {string} text
   * @param {{ subresource?: string, dryRun?: boolean, manager?: string }} [opts]
   */
  patch(r, ns, name, contentType, text, opts = {}) {
    const type = contentType.split(';')[0].trim().toLowerCase();
    const accepted = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
    if (!r.custom) accepted.push('application/strategic-merge-patch+json');
    if (!accepted.includes(type)) throw errors.unsupportedMediaType(accepted);
    if (type === 'application/apply-patch+yaml') throw errors.unsupportedMediaType(accepted.filter((t) => t !== type));
    const old = this.store.get(r, ns, name);
    if (!old) throw errors.notFound(r, name);
    /** @type {unknown} */
    let patchDoc;
    try {
      patchDoc = parseJson(text);
    } catch (err) {
      throw errors.badRequest(`error decoding patch: ${/** @type {Error} */ (err).message}`);
    }
    const current = withType(r, clone(old));
    /** @type {unknown} */
    let patched;
    if (type === 'application/json-patch+json') {
      try {
        patched = jsonPatch(current, patchDoc);
      } catch (err) {
        if (err instanceof PatchError) {
          throw failure(422, 'Invalid', 'the server rejected our request due to an error in our request', {
            causes: [{ reason: 'UnexpectedServerResponse', message: err.message }],
          });
        }
        throw errors.badRequest(/** @type {Error} */ (err).message);
      }
    } else {
      if (!isObject(patchDoc)) throw errors.badRequest('json: cannot unmarshal into Go value of type map[string]interface {}');
      patched = mergePatch(current, patchDoc);
    }
    if (!isObject(patched)) throw errors.badRequest('the patched object is not an object');
    const o = this.decode(r, patched, true);
    if (o.metadata.name !== name) throw errors.badRequest(`the name of the object (${o.metadata.name ?? ''}) does not match the name on the URL (${name})`);
    if (r.namespaced) o.metadata.namespace = ns;
    return this.replace(r, old, o, opts);
  }

  /**
   * DELETE: finalizers postpone removal (deletionTimestamp set), otherwise the object goes at once.
   * @param {Resource} r
   * @param {string | undefined} ns
   * @param {string} name
   * @param {Obj} options DeleteOptions
   * @param {{ dryRun?: boolean }} [opts]
   */
  remove(r, ns, name, options = {}, opts = {}) {
    const old = this.store.get(r, ns, name);
    if (!old) throw errors.notFound(r, name);
    const isNs = r.plural === 'namespaces' && !r.group;
    if (isNs && ['default', 'kube-system', 'kube-public'].includes(name)) {
      throw errors.forbidden(r, name, 'this namespace may not be deleted');
    }
    const pre = isObject(options.preconditions) ? options.preconditions : {};
    if (pre.uid && pre.uid !== old.metadata.uid) {
      throw errors.conflict(r, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw errors.conflict(r, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
    }
    if (old.metadata.deletionTimestamp) return { body: withType(r, clone(old)), code: 200 };
    if (isNs) {
      const next = clone(old);
      next.metadata.deletionTimestamp = now();
      next.status = { ...(next.status ?? {}), phase: 'Terminating' };
      if (opts.dryRun) return { body: withType(r, next), code: 200 };
      const stored = this.store.commit(r, 'MODIFIED', next, old);
      this.scheduleNamespaceCleanup(name);
      return { body: withType(r, clone(stored)), code: 200 };
    }
    if ((old.metadata.finalizers ?? []).length > 0) {
      const next = clone(old);
      next.metadata.deletionTimestamp = now();
      next.metadata.deletionGracePeriodSeconds = 0;
      if (opts.dryRun) return { body: withType(r, next), code: 200 };
      return { body: withType(r, clone(this.store.commit(r, 'MODIFIED', next, old))), code: 200 };
    }
    if (!opts.dryRun) this.store.commit(r, 'DELETED', old, old);
    return { body: r.returnDeleted ? withType(r, clone(old)) : deleteSuccess(r, old), code: 200 };
  }

  /** The namespace controller: deletes a terminating namespace's content, then the namespace. */
  scheduleNamespaceCleanup(/** @type {string} */ name) {
    if (this.finalizing.has(name)) return;
    this.finalizing.add(name);
    const run = () => {
      const nsRes = /** @type {Resource} */ (findResource('', 'v1', 'namespaces'));
      const ns = this.store.get(nsRes, undefined, name);
      if (!ns) {
        this.finalizing.delete(name);
        return;
      }
      let remaining = 0;
      for (const r of RESOURCES) {
        if (!r.namespaced) continue;
        for (const o of this.store.all(r)) {
          if (o.metadata.namespace !== name) continue;
          remaining++;
          try {
            if (!o.metadata.deletionTimestamp) this.remove(r, name, o.metadata.name);
          } catch {
            // gone in the meantime
          }
          if (!this.store.get(r, name, o.metadata.name)) remaining--;
        }
      }
      if (remaining === 0) {
        this.finalizing.delete(name);
        this.store.commit(nsRes, 'DELETED', ns, ns);
        return;
      }
      const t = setTimeout(() => {
        this.timers.delete(t);
        run();
      }, 200);
      this.timers.add(t);
    };
    const t = setTimeout(() => {
      this.timers.delete(t);
      run();
    }, 20);
    this.timers.add(t);
  }
}
