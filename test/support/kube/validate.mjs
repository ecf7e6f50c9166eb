// Validation the real API server performs and l2lb could trip on: object names, labels, IP addresses,
// Time/MicroTime formats, typed decoding of built-in kinds (a 400 before validation) and the structural
// schema of a custom resource (pruning of unknown fields, then a 422 for wrong types).

import { BigNum, isObject } from './json.mjs';
import { field, quote } from './status.mjs';

// ---------------------------------------------------------------------------------------------- names

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = '[a-z]([-a-z0-9]*[a-z0-9])?';
const QUALIFIED_NAME = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?';

const full = (/** @type {string} */ re) => new RegExp(`^${re}$`);

/** @param {string} v @returns {string[]} */
export function dns1123SubdomainErrors(v) {
  /** @type {string[]} */
  const errs = [];
  if (v.length > 253) errs.push('must be no more than 253 characters');
  if (!full(DNS1123_SUBDOMAIN).test(v)) {
    errs.push(
      `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN}')`,
    );
  }
  return errs;
}

/** @param {string} v @returns {string[]} */
export function dns1123LabelErrors(v) {
  /** @type {string[]} */
  const errs = [];
  if (v.length > 63) errs.push('must be no more than 63 characters');
  if (!full(DNS1123_LABEL).test(v)) {
    errs.push(
      `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${DNS1123_LABEL}')`,
    );
  }
  return errs;
}

/** @param {string} v @returns {string[]} */
export function dns1035LabelErrors(v) {
  /** @type {string[]} */
  const errs = [];
  if (v.length > 63) errs.push('must be no more than 63 characters');
  if (!full(DNS1035_LABEL).test(v)) {
    errs.push(
      `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '${DNS1035_LABEL}')`,
    );
  }
  return errs;
}

/** A qualified name (`prefix/name`), as label keys, annotation keys and finalizers must be. */
export function qualifiedNameErrors(/** @type {string} */ v) {
  /** @type {string[]} */
  const errs = [];
  const parts = v.split('/');
  let name = v;
  if (parts.length === 2) {
    const [prefix, n] = parts;
    name = n;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...dns1123SubdomainErrors(prefix).map((e) => `prefix part ${e}`));
  } else if (parts.length > 2) {
    return [
      `a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !full(QUALIFIED_NAME).test(name)) {
    errs.push(
      `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME}')`,
    );
  }
  return errs;
}

/** Label keys are qualified names. */
export const labelKeyErrors = qualifiedNameErrors;

/** @param {string} v @returns {string[]} */
export function labelValueErrors(v) {
  /** @type {string[]} */
  const errs = [];
  if (v.length > 63) errs.push('must be no more than 63 characters');
  if (!full(LABEL_VALUE).test(v)) {
    errs.push(
      `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '${LABEL_VALUE}')`,
    );
  }
  return errs;
}

// -------------------------------------------------------------------------------------------- addresses

/** IPv4 as Go's ParseIPSloppy reads it: four decimal octets, leading zeros allowed. */
export function isIPv4(/** @type {string} */ s) {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** IPv6 (also with an embedded IPv4 tail); zones are not IP addresses. */
export function isIPv6(/** @type {string} */ s) {
  if (!s.includes(':') || s.includes('%')) return false;
  let head = s;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    // an embedded IPv4 tail counts as two groups
    if (!isIPv4(tail)) return false;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return false;
  const groups = (/** @type {string} */ part) => (part === '' ? [] : part.split(':'));
  const left = groups(dbl[0]);
  const right = dbl.length === 2 ? groups(dbl[1]) : [];
  const all = [...left, ...right];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? all.length < 8 : all.length === 8;
}

/** IPv4 or IPv6, as ParseIPSloppy accepts. */
export const isIP = (/** @type {string} */ s) => isIPv4(s) || isIPv6(s);

// ------------------------------------------------------------------------------------------------ times

const TIME_LAYOUT = '2006-01-02T15:04:05Z07:00';
const MICRO_LAYOUT = '2006-01-02T15:04:05.000000Z07:00';

/**
 * Parses a timestamp the way Go's time.Parse reads metav1.Time (RFC3339; a fraction is accepted and dropped)
 * or metav1.MicroTime (exactly six fractional digits). Returns the UTC text the real server stores, or
 * throws an Error whose message is Go's.
 * @param {string} v
 * @param {boolean} micro
 * @returns {string}
 */
export function parseKubeTime(v, micro) {
  const layout = micro ? MICRO_LAYOUT : TIME_LAYOUT;
  /** @type {[string, RegExp][]} */
  const elems = [
    ['2006', /^\d{4}/],
    ['-', /^-/],
    ['01', /^\d{2}/],
    ['-', /^-/],
    ['02', /^\d{2}/],
    ['T', /^T/],
    ['15', /^\d{2}/],
    [':', /^:/],
    ['04', /^\d{2}/],
    [':', /^:/],
    ['05', /^\d{2}/],
  ];
  if (micro) elems.push(['.000000', /^\.\d{6}/]);
  else elems.push(['', /^([.,]\d+)?/]);
  elems.push(['Z07:00', /^(Z|[+-]\d{2}:\d{2})/]);
  let rest = v;
  /** @type {string[]} */
  const got = [];
  for (const [name, re] of elems) {
    const m = re.exec(rest);
    if (!m) throw new Error(`parsing time ${quote(v)} as ${quote(layout)}: cannot parse ${quote(rest)} as ${quote(name)}`);
    got.push(m[0]);
    rest = rest.slice(m[0].length);
  }
  if (rest) throw new Error(`parsing time ${quote(v)}: extra text: ${quote(rest)}`);
  const [y, , mo, , d, , h, , mi, , s, frac, tz] = got;
  const num = Number;
  if (num(mo) < 1 || num(mo) > 12) throw new Error(`parsing time ${quote(v)}: month out of range`);
  const daysIn = new Date(Date.UTC(num(y), num(mo), 0)).getUTCDate();
  if (num(d) < 1 || num(d) > daysIn) throw new Error(`parsing time ${quote(v)}: day out of range`);
  if (num(h) > 23) throw new Error(`parsing time ${quote(v)}: hour out of range`);
  if (num(mi) > 59) throw new Error(`parsing time ${quote(v)}: minute out of range`);
  if (num(s) > 59) throw new Error(`parsing time ${quote(v)}: second out of range`);
  let offsetMin = 0;
  if (tz !== 'Z') offsetMin = (tz[0] === '-' ? -1 : 1) * (num(tz.slice(1, 3)) * 60 + num(tz.slice(4, 6)));
  const ms = Date.UTC(num(y), num(mo) - 1, num(d), num(h), num(mi), num(s)) - offsetMin * 60000;
  const base = new Date(ms).toISOString().slice(0, 19);
  return micro ? `${base}.${frac.slice(1)}Z` : `${base}Z`;
}

// ------------------------------------------------------------------------ typed decoding of built-ins

/**
 * A decode schema for the parts of a built-in kind the stand-in models. Leaves: 'string' | 'bool' |
 * 'int32' | 'int64' | 'time' | 'microtime' | 'any'. {struct, fields, open?, omitEmpty?}: a Go struct (unknown
 * fields are dropped unless open; omitEmpty fields vanish when empty). {map: leaf}: map[string]T. {list: schema}: []T.
 * @typedef {string | { struct: string, fields: Record<string, any>, open?: boolean, omitEmpty?: string[] } | { map: any } | { list: any }} DecodeSchema
 */

/** Thrown for a body the real server cannot decode into the Go type (a 400). */
export class DecodeError extends Error {}

const goJsonType = (/** @type {unknown} */ v) =>
  typeof v === 'string' ? 'string' : typeof v === 'boolean' ? 'bool' : Array.isArray(v) ? 'array' : isObject(v) ? 'object' : 'number';

/**
 * Checks and normalises `value` against a decode schema in place; returns the value to keep (undefined drops
 * it). Throws DecodeError like encoding/json would.
 * @param {unknown} value
 * @param {DecodeSchema} schema
 * @param {string} path dotted path from the root, as Go prints it
 * @param {string} struct innermost Go struct name
 * @returns {unknown}
 */
export function decodeTyped(value, schema, path, struct) {
  if (value === null) return undefined;
  const where = `Go struct field ${struct}.${path}`;
  const mismatch = (/** @type {string} */ goType) => {
    const v = value;
    const shown = typeof v === 'number' || v instanceof BigNum ? `number ${v instanceof BigNum ? v.text : v}` : goJsonType(v);
    return new DecodeError(`json: cannot unmarshal ${shown} into ${where} of type ${goType}`);
  };
  if (typeof schema === 'string') {
    switch (schema) {
      case 'any':
        return value;
      case 'string':
        if (typeof value !== 'string') throw mismatch('string');
        return value;
      case 'bool':
        if (typeof value !== 'boolean') throw mismatch('bool');
        return value;
      case 'int32':
      case 'int64': {
        const [lo, hi] = schema === 'int32' ? [-(2n ** 31n), 2n ** 31n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
        if (value instanceof BigNum) {
          if (value.big < lo || value.big > hi) throw mismatch(schema);
          return value;
        }
        if (typeof value !== 'number') throw mismatch(schema);
        if (!Number.isInteger(value) || BigInt(value) < lo || BigInt(value) > hi) throw mismatch(schema);
        return value;
      }
      case 'time':
      case 'microtime':
        if (typeof value !== 'string') throw new DecodeError('json: cannot unmarshal ' + goJsonType(value) + ' into Go value of type string');
        try {
          return parseKubeTime(value, schema === 'microtime');
        } catch (err) {
          throw new DecodeError(/** @type {Error} */ (err).message);
        }
      default:
        return value;
    }
  }
  if ('map' in schema) {
    if (!isObject(value)) throw mismatch(`map[string]${typeof schema.map === 'string' ? schema.map : 'struct'}`);
    for (const k of Object.keys(value)) {
      const v = decodeTyped(value[k], schema.map, `${path}.${k}`, struct);
      if (v === undefined) delete value[k];
      else value[k] = v;
    }
    return value;
  }
  if ('list' in schema) {
    if (!Array.isArray(value)) throw mismatch(`[]${typeof schema.list === 'string' ? schema.list : 'struct'}`);
    return value.map((v) => decodeTyped(v, schema.list, path, struct)).filter((v) => v !== undefined);
  }
  if (!isObject(value)) throw mismatch(schema.struct);
  for (const k of schema.omitEmpty ?? []) {
    // Go's omitempty: an empty map or slice is not written back
    const v = value[k];
    if ((Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0)) delete value[k];
  }
  for (const k of Object.keys(value)) {
    const sub = schema.fields[k];
    if (sub === undefined) {
      if (!schema.open) delete value[k];
      continue;
    }
    // Go names the struct that holds the field: LeaseSpec.spec.leaseDurationSeconds
    const v = decodeTyped(value[k], sub, path ? `${path}.${k}` : k, schema.struct);
    if (v === undefined) delete value[k];
    else value[k] = v;
  }
  return value;
}

/** ObjectMeta as the real server decodes it: unknown fields dropped, wrong types a 400. */
export const objectMetaSchema = {
  struct: 'ObjectMeta',
  omitEmpty: ['labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields'],
  fields: {
    name: 'string',
    generateName: 'string',
    namespace: 'string',
    selfLink: 'string',
    uid: 'string',
    resourceVersion: 'string',
    generation: 'int64',
    creationTimestamp: 'time',
    deletionTimestamp: 'time',
    deletionGracePeriodSeconds: 'int64',
    labels: { map: 'string' },
    annotations: { map: 'string' },
    ownerReferences: { list: 'any' },
    finalizers: { list: 'string' },
    managedFields: { list: 'any' },
  },
};

// ------------------------------------------------------------------------------ structural schemas (CRs)

/** JSON type name as the OpenAPI validator reports it; int64-range integers are "integer". */
function schemaTypeOf(/** @type {unknown} */ v) {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (Array.isArray(v)) return 'array';
  if (v instanceof BigNum) {
    const b = v.big;
    return b >= -(2n ** 63n) && b <= 2n ** 63n - 1n ? 'integer' : 'number';
  }
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? 'integer' : 'number';
  if (v === null) return 'null';
  return 'object';
}

/**
 * Prunes unknown fields and nulls, then validates a custom resource against its structural schema, the way
 * apiextensions-apiserver does: an integer literal that does not fit int64 decodes as a float and fails
 * `type: integer`; a float that is integral and within ±(2^53-1) passes.
 * @param {Record<string, any>} obj mutated (pruned) in place
 * @param {Record<string, any>} schema openAPIV3Schema
 * @returns {import('./status.mjs').FieldError[]}
 */
export function validateStructural(obj, schema) {
  /** @type {import('./status.mjs').FieldError[]} */
  const errs = [];
  walk(obj, schema, '', errs, true);
  return errs;
}

/**
 * @param {any} value
 * @param {Record<string, any>} schema
 * @param {string} path
 * @param {import('./status.mjs').FieldError[]} errs
 * @param {boolean} root
 */
function walk(value, schema, path, errs, root) {
  const t = schemaTypeOf(value);
  const want = schema.type;
  if (want) {
    const ok = t === want || (want === 'number' && t === 'integer');
    if (!ok) {
      const label = path || '<nil>';
      errs.push(field.invalid(label, t, `${label} in body must be of type ${want}: ${quote(t)}`));
      return;
    }
  }
  if (schema.enum && !schema.enum.includes(value)) {
    errs.push(field.notSupported(path, value, schema.enum));
  }
  if (t === 'object') {
    if (schema.properties) {
      for (const k of Object.keys(value)) {
        if (root && k === 'metadata') continue;
        const sub = schema.properties[k];
        if (!sub) {
          if (!schema['x-kubernetes-preserve-unknown-fields']) delete value[k];
          continue;
        }
        if (value[k] === null && !sub.nullable) {
          delete value[k];
          continue;
        }
        walk(value[k], sub, path ? `${path}.${k}` : k, errs, false);
      }
      for (const req of schema.required ?? []) {
        if (!(req in value)) errs.push(field.required(path ? `${path}.${req}` : req));
      }
    } else if (schema.additionalProperties) {
      for (const k of Object.keys(value)) {
        if (value[k] === null && !schema.additionalProperties.nullable) {
          delete value[k];
          continue;
        }
        walk(value[k], schema.additionalProperties, `${path}[${k}]`, errs, false);
      }
    }
  } else if (t === 'array' && schema.items) {
    value.forEach((/** @type {unknown} */ v, /** @type {number} */ i) => walk(v, schema.items, `${path}[${i}]`, errs, false));
  }
}
