/**
 * The shape of the configuration, read from the valibot schema itself so the key table (env names,
 * unknown-key detection, printing) can never drift from what the schema accepts.
 */
import type { GenericSchema } from 'valibot';

/** How a key's value is written when it is not a mapping of further keys. */
export type KeyKind = 'object' | 'list' | 'scalar';

/** One key of the configuration. */
export interface ConfigKey {
  /** `api.listen`, `announce.gratuitousCount`. */
  path: string;
  /** The path split at dots. */
  segments: string[];
  /** `object` for mappings of further keys, `list` for arrays, `scalar` otherwise. */
  kind: KeyKind;
  /** The schema accepts a number (possibly among other things), so numeric text means a number. */
  acceptsNumber: boolean;
  /** The schema accepts a boolean, so `true` / `false` mean booleans. */
  acceptsBoolean: boolean;
  /** A list of plain strings, which may also be written comma-separated. */
  stringList: boolean;
}

/** The fields of a valibot schema object this module reads; all optional because kinds differ. */
interface SchemaShape {
  type: string;
  wrapped?: SchemaShape;
  entries?: Record<string, SchemaShape>;
  item?: SchemaShape;
  options?: readonly unknown[];
}

/** The schema under optional/nullable wrappers (a pipe already carries its root's fields). */
function unwrap(schema: unknown): SchemaShape {
  let shape = schema as SchemaShape;
  while (shape.wrapped) shape = shape.wrapped;
  return shape;
}

/** The keys of an object schema, or undefined for anything else. */
export function objectEntries(schema: unknown): Readonly<Record<string, unknown>> | undefined {
  return unwrap(schema).entries;
}

/** The item schema of an array schema, or undefined for anything else. */
export function arrayItem(schema: unknown): unknown {
  return unwrap(schema).item;
}

function accepts(type: string): (schema: unknown) => boolean {
  const check = (schema: unknown): boolean => {
    const shape = unwrap(schema);
    if (shape.type === type) return true;
    return shape.type === 'union' && (shape.options ?? []).some(check);
  };
  return check;
}
const acceptsNumber = accepts('number');
const acceptsBoolean = accepts('boolean');

/**
 * Every key of an object schema, depth first, mappings before their children; lists are leaves
 * (their items are not separately addressable).
 */
export function configKeys(schema: GenericSchema, prefix: string[] = []): ConfigKey[] {
  const keys: ConfigKey[] = [];
  for (const [name, child] of Object.entries(objectEntries(schema) ?? {})) {
    const segments = [...prefix, name];
    const shape = unwrap(child);
    const kind: KeyKind = shape.entries ? 'object' : shape.item ? 'list' : 'scalar';
    keys.push({
      path: segments.join('.'),
      segments,
      kind,
      acceptsNumber: acceptsNumber(child),
      acceptsBoolean: acceptsBoolean(child),
      stringList: kind === 'list' && unwrap(shape.item).type === 'string',
    });
    if (kind === 'object') keys.push(...configKeys(child as GenericSchema, segments));
  }
  return keys;
}

/** A key present in the input that the schema does not know. */
export interface UnknownKey {
  /** Full path of the unknown key: `api.lisen`, `vips[1].ipp`. */
  path: string;
  /** Path of the mapping holding it ('' for the top level). */
  parent: string;
  /** The key as written. */
  key: string;
  /** The keys that mapping does accept. */
  known: string[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every key in `value` that `schema` has no entry for, at any depth (including inside list items).
 * Values of the wrong type are skipped: the schema reports those.
 */
export function unknownKeys(schema: unknown, value: unknown, path = ''): UnknownKey[] {
  const entries = objectEntries(schema);
  if (entries && isPlainObject(value)) {
    const found: UnknownKey[] = [];
    const known = Object.keys(entries);
    for (const key of Object.keys(value)) {
      const child = path === '' ? key : `${path}.${key}`;
      if (Object.hasOwn(entries, key)) found.push(...unknownKeys(entries[key], value[key], child));
      else found.push({ path: child, parent: path, key, known });
    }
    return found;
  }
  const item = arrayItem(schema);
  if (item !== undefined && Array.isArray(value)) {
    return value.flatMap((element, index) => unknownKeys(item, element, `${path}[${index}]`));
  }
  return [];
}
