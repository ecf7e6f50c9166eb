// Label and field selectors with apimachinery's grammar: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`,
// `a notin (x)`, `a>1`, `a<1` for labels; `f=v`, `f==v`, `f!=v` for fields.

import { errors } from './status.mjs';
import { labelKeyErrors, labelValueErrors } from './validate.mjs';

/** @typedef {{ key: string, op: 'eq'|'neq'|'in'|'notin'|'exists'|'notexists'|'gt'|'lt', values: string[] }} LabelRequirement */
/** @typedef {{ field: string, op: 'eq'|'neq', value: string }} FieldRequirement */

/**
 * Tokenises a label selector into identifiers and operators.
 * @param {string} s
 */
function tokenize(s) {
  /** @type {{t: string, v: string}[]} */
  const out = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      out.push({ t: c, v: c });
      i++;
      continue;
    }
    if (c === '!' && s[i + 1] === '=') {
      out.push({ t: '!=', v: '!=' });
      i += 2;
      continue;
    }
    if (c === '=' && s[i + 1] === '=') {
      out.push({ t: '==', v: '==' });
      i += 2;
      continue;
    }
    if (c === '=' || c === '!' || c === '<' || c === '>') {
      out.push({ t: c, v: c });
      i++;
      continue;
    }
    let j = i;
    while (j < s.length && !' \t\n(),=!<>'.includes(s[j])) j++;
    const word = s.slice(i, j);
    out.push({ t: word === 'in' || word === 'notin' ? word : 'id', v: word });
    i = j;
  }
  return out;
}

/**
 * Parses a label selector; an empty string selects everything. Throws a 400 ApiError on bad syntax.
 * @param {string | null | undefined} text
 * @returns {LabelRequirement[]}
 */
export function parseLabelSelector(text) {
  if (!text) return [];
  const toks = tokenize(text);
  /** @type {LabelRequirement[]} */
  const reqs = [];
  let p = 0;
  const bad = (/** @type {string} */ msg) => errors.badRequest(`unable to parse requirement: ${msg}`);
  const peek = () => toks[p];
  const expectValue = () => {
    const t = toks[p++];
    if (!t || t.t !== 'id') throw bad(`found '${t ? t.v : ''}', expected: identifier`);
    return t.v;
  };
  while (p < toks.length) {
    let negate = false;
    if (peek().t === '!') {
      negate = true;
      p++;
    }
    const keyTok = toks[p++];
    if (!keyTok || keyTok.t !== 'id') throw bad(`found '${keyTok ? keyTok.v : ''}', expected: identifier`);
    const key = keyTok.v;
    const keyErrs = labelKeyErrors(key);
    if (keyErrs.length) throw bad(`<nil>: Invalid value: "${key}": ${keyErrs.join('; ')}`);
    const op = peek();
    if (negate) {
      if (op && op.t !== ',') throw bad(`found '${op.v}', expected: ','`);
      reqs.push({ key, op: 'notexists', values: [] });
    } else if (!op || op.t === ',') {
      reqs.push({ key, op: 'exists', values: [] });
    } else if (op.t === '=' || op.t === '==' || op.t === '!=') {
      p++;
      // an empty value is allowed: `a=` selects labels with the empty value
      let value = '';
      if (peek() && peek().t === 'id') value = expectValue();
      const valErrs = labelValueErrors(value);
      if (valErrs.length) throw bad(`<nil>: Invalid value: "${value}": ${valErrs.join('; ')}`);
      reqs.push({ key, op: op.t === '!=' ? 'neq' : 'eq', values: [value] });
    } else if (op.t === 'in' || op.t === 'notin') {
      p++;
      const open = toks[p++];
      if (!open || open.t !== '(') throw bad(`found '${open ? open.v : ''}', expected: '('`);
      /** @type {string[]} */
      const values = [];
      for (;;) {
        const t = peek();
        if (!t) throw bad(`found '', expected: ')'`);
        if (t.t === ')') {
          p++;
          break;
        }
        if (t.t === ',') {
          p++;
          continue;
        }
        values.push(expectValue());
      }
      if (op.t === 'in' && values.length === 0) throw bad('for \'in\', \'notin\' operators, values set can\'t be empty');
      reqs.push({ key, op: op.t === 'in' ? 'in' : 'notin', values });
    } else if (op.t === '>' || op.t === '<') {
      p++;
      const v = expectValue();
      if (!/^-?\d+$/.test(v)) throw bad(`for 'Gt', 'Lt' operators, the value must be an integer`);
      reqs.push({ key, op: op.t === '>' ? 'gt' : 'lt', values: [v] });
    } else {
      throw bad(`found '${op.v}', expected: in, notin, =, ==, !=, gt, lt`);
    }
    const sep = toks[p];
    if (sep) {
      if (sep.t !== ',') throw bad(`found '${sep.v}', expected: ',' or 'end of string'`);
      p++;
    }
  }
  return reqs;
}

/**
 * @param {LabelRequirement[]} reqs
 * @param {Record<string, string> | undefined} labels
 */
export function matchLabels(reqs, labels) {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'eq':
        if (!has || v !== r.values[0]) return false;
        break;
      case 'neq':
        if (has && v === r.values[0]) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(v)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(v)) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case 'notexists':
        if (has) return false;
        break;
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(v)) return false;
        const a = BigInt(v);
        const b = BigInt(r.values[0]);
        if (r.op === 'gt' ? !(a > b) : !(a < b)) return false;
        break;
      }
    }
  }
  return true;
}

/** Splits on unescaped `sep`. */
function splitEscaped(/** @type {string} */ s, /** @type {string} */ sep) {
  /** @type {string[]} */
  const parts = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) {
      cur += s[i] + s[i + 1];
      i++;
    } else if (s[i] === sep) {
      parts.push(cur);
      cur = '';
    } else cur += s[i];
  }
  parts.push(cur);
  return parts;
}

const unescape = (/** @type {string} */ s) => s.replace(/\\(.)/g, '$1');

/**
 * Parses a field selector and checks every field against the resource's selectable fields.
 * @param {string | null | undefined} text
 * @param {string[]} supported field labels this resource can be selected by
 * @param {boolean} custom custom resources word the unsupported-field error differently
 * @returns {FieldRequirement[]}
 */
export function parseFieldSelector(text, supported, custom) {
  if (!text) return [];
  /** @type {FieldRequirement[]} */
  const reqs = [];
  for (const part of splitEscaped(text, ',')) {
    if (part === '') continue;
    const m = /^(.*?)(!=|==|=)(.*)$/s.exec(part);
    if (!m) throw errors.badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const fieldName = m[1].trim();
    if (!supported.includes(fieldName)) {
      throw errors.badRequest(
        custom
          ? `"${fieldName}" is not a known field selector: only "metadata.name", "metadata.namespace"`
          : `field label not supported: ${fieldName}`,
      );
    }
    reqs.push({ field: fieldName, op: m[2] === '!=' ? 'neq' : 'eq', value: unescape(m[3]) });
  }
  return reqs;
}

/**
 * @param {FieldRequirement[]} reqs
 * @param {Record<string, string>} fields the object's selectable field values
 */
export function matchFields(reqs, fields) {
  for (const r of reqs) {
    const v = fields[r.field] ?? '';
    if (r.op === 'eq' ? v !== r.value : v === r.value) return false;
  }
  return true;
}
