// metav1.Status error bodies and field errors, worded like kube-apiserver 1.28 (apimachinery's
// errors.New* and field.Error), so clients that match on reason, code or message behave as in a cluster.

import { BigNum } from './json.mjs';

/** An API failure carrying the Status body to send. */
export class ApiError extends Error {
  /** @param {Record<string, any>} status a metav1.Status object */
  constructor(status) {
    super(status.message);
    this.status = status;
  }

  get code() {
    return this.status.code;
  }
}

/**
 * @param {number} code
 * @param {string} reason
 * @param {string} message
 * @param {Record<string, any>} [details]
 */
export function failure(code, reason, message, details) {
  /** @type {Record<string, any>} */
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason };
  if (details) s.details = details;
  s.code = code;
  return new ApiError(s);
}

/** @typedef {{ group: string, plural: string, kind: string }} ResInfo */

/** "services" or "eips.network.kubesphere.io": how the real server names a resource in messages. */
export function qualified(/** @type {ResInfo} */ r) {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

function resDetails(/** @type {ResInfo} */ r, /** @type {string} */ name) {
  /** @type {Record<string, any>} */
  const d = {};
  if (name) d.name = name;
  if (r.group) d.group = r.group;
  d.kind = r.plural;
  return d;
}

/** Constructors of the ApiErrors kube-apiserver answers with (apimachinery errors.New*). */
export const errors = {
  unauthorized: () => failure(401, 'Unauthorized', 'Unauthorized'),
  notFound: (/** @type {ResInfo} */ r, /** @type {string} */ name) =>
    failure(404, 'NotFound', `${qualified(r)} "${name}" not found`, resDetails(r, name)),
  noRoute: () => failure(404, 'NotFound', 'the server could not find the requested resource', {}),
  alreadyExists: (/** @type {ResInfo} */ r, /** @type {string} */ name) =>
    failure(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, resDetails(r, name)),
  conflict: (/** @type {ResInfo} */ r, /** @type {string} */ name, /** @type {string} */ why = 'the object has been modified; please apply your changes to the latest version and try again') =>
    failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, resDetails(r, name)),
  badRequest: (/** @type {string} */ message) => failure(400, 'BadRequest', message),
  methodNotAllowed: () => failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}),
  unsupportedMediaType: (/** @type {string[]} */ accepted) =>
    failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`),
  internal: (/** @type {string} */ message) =>
    failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] }),
  expired: (/** @type {string} */ message) => failure(410, 'Expired', message),
  forbidden: (/** @type {ResInfo} */ r, /** @type {string} */ name, /** @type {string} */ why, /** @type {any[]} */ causes) => {
    const d = resDetails(r, name);
    if (causes) d.causes = causes;
    return failure(403, 'Forbidden', `${qualified(r)}${name ? ` "${name}"` : ''} is forbidden: ${why}`, d);
  },
  tooManyRequests: () => failure(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 1 }),
  serviceUnavailable: () => failure(503, 'ServiceUnavailable', 'service unavailable'),
  tooLargeResourceVersion: (/** @type {number} */ rv, /** @type {number} */ current) =>
    failure(504, 'Timeout', `Timeout: Too large resource version: ${rv}, current: ${current}`, {
      causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
      retryAfterSeconds: 1,
    }),
  /** 422 for a list of field errors; kind is the Kind ("Service"), as in errors.NewInvalid. */
  invalid: (/** @type {{group: string, kind: string}} */ r, /** @type {string} */ name, /** @type {FieldError[]} */ errs) => {
    const qualifiedKind = r.group ? `${r.kind}.${r.group}` : r.kind;
    const text = errs.length === 1 ? errs[0].toString() : `[${errs.map((e) => e.toString()).join(', ')}]`;
    /** @type {Record<string, any>} */
    const d = { name };
    if (r.group) d.group = r.group;
    d.kind = r.kind;
    d.causes = errs.map((e) => ({ reason: e.reason, message: e.body(), field: e.field }));
    return failure(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${text}`, d);
  },
};

/** Go's %q for a string (close enough for ASCII and common escapes). */
export function quote(/** @type {string} */ s) {
  return JSON.stringify(s);
}

/** How field.Error prints a bad value. */
function formatValue(/** @type {unknown} */ v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof BigNum) return v.text;
  return JSON.stringify(v);
}

const TYPES = {
  invalid: ['FieldValueInvalid', 'Invalid value'],
  required: ['FieldValueRequired', 'Required value'],
  forbidden: ['FieldValueForbidden', 'Forbidden'],
  notSupported: ['FieldValueNotSupported', 'Unsupported value'],
  duplicate: ['FieldValueDuplicate', 'Duplicate value'],
  tooLong: ['FieldValueTooLong', 'Too long'],
  tooMany: ['FieldValueTooMany', 'Too many'],
};

/** One field.Error. */
export class FieldError {
  /**
   * @param {keyof typeof TYPES} type
   * @param {string} field
   * @param {unknown} value
   * @param {string} detail
   */
  constructor(type, field, value, detail) {
    this.type = type;
    this.field = field;
    this.value = value;
    this.detail = detail;
  }

  get reason() {
    return TYPES[this.type][0];
  }

  /** The message without the field path, as in a Status cause. */
  body() {
    const label = TYPES[this.type][1];
    let s;
    if (this.type === 'required' || this.type === 'forbidden' || this.type === 'tooLong' || this.type === 'tooMany') s = label;
    else s = `${label}: ${formatValue(this.value)}`;
    if (this.detail) s += `: ${this.detail}`;
    return s;
  }

  toString() {
    return `${this.field}: ${this.body()}`;
  }
}

/** Constructors of field errors (apimachinery field.Invalid, field.Required, ...). */
export const field = {
  invalid: (/** @type {string} */ f, /** @type {unknown} */ v, /** @type {string} */ d) => new FieldError('invalid', f, v, d),
  required: (/** @type {string} */ f, d = '') => new FieldError('required', f, undefined, d),
  forbidden: (/** @type {string} */ f, /** @type {string} */ d) => new FieldError('forbidden', f, undefined, d),
  notSupported: (/** @type {string} */ f, /** @type {unknown} */ v, /** @type {string[]} */ allowed) =>
    new FieldError('notSupported', f, v, `supported values: ${allowed.map(quote).join(', ')}`),
  duplicate: (/** @type {string} */ f, /** @type {unknown} */ v) => new FieldError('duplicate', f, v, ''),
  tooLong: (/** @type {string} */ f, /** @type {number} */ max) => new FieldError('tooLong', f, undefined, `must have at most ${max} bytes`),
};
