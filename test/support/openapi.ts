/**
 * Holds HTTP answers to the admin API's OpenAPI document (`src/api/openapi.ts`), for the unit tests (an app
 * over fake parts) and the end-to-end tests (the compiled binary) alike.
 *
 * The JSON Schema 2020-12 validator is the Ajv that `@seriousme/openapi-schema-validator` validates documents
 * with, loaded through that package (with its formats), so the tests add no dependency. Ajv runs in strict
 * mode: a keyword the converter made up, or a bad pattern, fails the compile.
 *
 * Answers are checked strictly: an object schema that does not say which other keys it allows is read as
 * allowing none, so a field the API sends and the document does not name fails the check. The published
 * document stays open to new fields; the tests are not.
 */
import { createRequire } from 'node:module';
import { sh } from './netns.ts';

/**
 * The document, or any part of it: JSON read by key. Deliberately `any`, like `KubeObject` in the stand-in:
 * the tests walk it by the names the OpenAPI specification gives, and the validator holds its shape.
 */
export type Doc = any;

interface AjvError {
  instancePath: string;
  message?: string;
  params?: unknown;
}
type ValidateFn = ((data: unknown) => boolean) & { errors?: AjvError[] | null };
interface Ajv {
  compile(schema: object): ValidateFn;
  addSchema(schema: object, key?: string): Ajv;
}

const requireFromValidator = createRequire(import.meta.resolve('@seriousme/openapi-schema-validator'));
const Ajv2020 = requireFromValidator('ajv/dist/2020.js').default as new (opts: object) => Ajv;
const addFormats = requireFromValidator('ajv-formats').default as (ajv: Ajv) => void;

const BASE = 'urn:l2lb:openapi-schemas';
/** The HTTP methods an OpenAPI path item can hold. */
export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** `#/components/schemas/X` -> the same schema in the standalone schema set. */
function rebase(schema: unknown, strict: boolean): unknown {
  if (Array.isArray(schema)) return schema.map((s) => rebase(s, strict));
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(schema)) {
    if (k === '$ref' && typeof val === 'string' && val.startsWith('#/components/schemas/')) out[k] = `${BASE}#/$defs/${val.slice('#/components/schemas/'.length)}`;
    // Property names are data, not schemas: keep their keys, rebase their values.
    else if (k === 'properties' || k === '$defs' || k === 'patternProperties') out[k] = Object.fromEntries(Object.entries(val as object).map(([p, s]) => [p, rebase(s, strict)]));
    else out[k] = rebase(val, strict);
  }
  if (strict && out.type === 'object' && out.properties !== undefined && !('additionalProperties' in out)) out.additionalProperties = false;
  return out;
}

/** Compiles the schemas of `doc`; `strict`: closed objects (see the header). */
export function schemaChecker(doc: Doc, strict = true) {
  const ajv = new Ajv2020({ strict: true, strictTypes: true, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: BASE, $defs: rebase(doc.components?.schemas ?? {}, strict) as object });
  const cache = new Map<unknown, ValidateFn>();
  const compiled = (schema: object) => {
    let fn = cache.get(schema);
    if (!fn) {
      fn = ajv.compile(rebase(schema, strict) as object);
      cache.set(schema, fn);
    }
    return fn;
  };
  return {
    /** Compiles one schema of the document (throws when it is not valid 2020-12 in strict mode). */
    compile: compiled,
    /** Problems of `value` against `schema`, as lines; empty when it fits. */
    problems(schema: object, value: unknown): string[] {
      const fn = compiled(schema);
      return fn(value) ? [] : (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    },
  };
}

/** Every schema object the document holds (components, parameters, bodies, responses, headers), with where. */
export function allSchemas(doc: Doc): [string, object][] {
  const out: [string, object][] = [];
  for (const [name, s] of Object.entries(doc.components?.schemas ?? {})) out.push([`components.schemas.${name}`, s as object]);
  const visit = (node: unknown, where: string) => {
    if (node === null || typeof node !== 'object') return;
    for (const [k, val] of Object.entries(node)) {
      if (k === 'schema' && val && typeof val === 'object') out.push([`${where}.schema`, val as object]);
      else visit(val, `${where}.${k}`);
    }
  };
  visit(doc.paths, 'paths');
  visit(doc.components?.responses, 'components.responses');
  return out;
}

/** The documented path template (`/v1/vips/{ip}`) that a request path matches. */
export function templateOf(doc: Doc, path: string): string | undefined {
  for (const template of Object.keys(doc.paths)) {
    const re = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (re.test(path)) return template;
  }
  return undefined;
}

/** Follows a `$ref` to `#/components/...`. */
export function deref<T = Doc>(doc: Doc, node: T): T {
  const r = (node as { $ref?: string } | undefined)?.$ref;
  if (!r) return node;
  return r.slice(2).split('/').reduce((o: Doc, k: string) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc) as T;
}

/** The media type without parameters, lower case. */
export const mediaType = (t: string) => t.split(';')[0]!.trim().toLowerCase();

/** An answer as the checker needs it. */
export interface Answer {
  status: number;
  headers: { get(name: string): string | null };
  /** The body as text (empty for none). */
  text: string;
}

/**
 * What is wrong with an answer to `method path` by the document: the path and method documented, its query
 * parameters documented and of their type, the status documented for that operation, the content type one it names, the JSON body valid by its schema, required
 * headers present and valid. Empty when nothing is.
 */
export function answerProblems(doc: Doc, check: ReturnType<typeof schemaChecker>, method: string, path: string, answer: Answer): string[] {
  const where = `${method} ${path} -> ${answer.status}`;
  const template = templateOf(doc, path.split('?')[0]!);
  if (!template) return [`${where}: the path is not documented`];
  const op = doc.paths[template][method.toLowerCase()];
  if (!op) return [`${where}: the method is not documented for ${template}`];
  const problems: string[] = [];
  // The request too: every query parameter it sends is one the operation takes, of the documented type.
  const params: Doc[] = [...(doc.paths[template].parameters ?? []), ...(op.parameters ?? [])];
  for (const [name, value] of new URLSearchParams(path.includes('?') ? path.slice(path.indexOf('?') + 1) : '')) {
    const p = params.find((x) => x.in === 'query' && x.name === name);
    if (!p) problems.push(`${where}: query parameter ${name} is not documented`);
    else {
      // A value outside the documented type must be refused with 400; any other answer to it is a problem.
      const wrong = check.problems(p.schema, p.schema.type === 'integer' && /^\d+$/.test(value) ? Number(value) : value);
      if (wrong.length > 0 && answer.status !== 400) problems.push(...wrong.map((x) => `${where}: query parameter ${name}: ${x}`));
    }
  }
  const response = deref(doc, op.responses[String(answer.status)]);
  if (!response) return [...problems, `${where}: status ${answer.status} is not documented for ${method} ${template}`];
  for (const [name, h] of Object.entries((response.headers ?? {}) as Record<string, Doc>)) {
    const value = answer.headers.get(name);
    if (value === null) {
      if (h.required) problems.push(`${where}: header ${name} is missing`);
      continue;
    }
    problems.push(...check.problems(h.schema, value).map((p) => `${where}: header ${name}: ${p}`));
  }
  if (!response.content) {
    if (answer.text !== '') problems.push(`${where}: a body where the document says none`);
    return problems;
  }
  const type = answer.headers.get('content-type') ?? '';
  const key = Object.keys(response.content).find((k) => k.toLowerCase() === type.toLowerCase()) ??
    Object.keys(response.content).find((k) => mediaType(k) === mediaType(type));
  if (!key) return [...problems, `${where}: content type ${JSON.stringify(type)} is not one of ${Object.keys(response.content).join(', ')}`];
  if (mediaType(key) !== 'application/json') return problems;
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return [...problems, `${where}: the body is not JSON: ${answer.text.slice(0, 100)}`];
  }
  problems.push(...check.problems(response.content[key].schema, body).map((p) => `${where}: ${p}`));
  return problems;
}

/**
 * `curl -i` of `url` from inside namespace `ns`, as an {@link Answer}: how the e2e tests hold the compiled
 * binary's real answers to its own document.
 */
export function curlAnswer(ns: string, url: string): Answer {
  const r = sh(['curl', '-s', '-i', '-m', '5', url], { ns });
  const split = r.stdout.indexOf('\r\n\r\n');
  const head = r.stdout.slice(0, split).split('\r\n');
  const headers = new Map(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const));
  return { status: Number(head[0]!.split(' ')[1]), headers: { get: (n) => headers.get(n.toLowerCase()) ?? null }, text: r.stdout.slice(split + 4) };
}
