/**
 * The JSON Schema a tool advertises: zod's conversion, with the compact forms declarations registered
 * (tools/advertised.ts) in place of their full expansion, rewritten into the portable subset every client accepts.
 *
 * Portable means what strict dialects (the OpenAPI subset behind Gemini function declarations) can read: one
 * `type` per schema (zod writes nullable fields as `type: [X, "null"]`; here they become `anyOf` branches), no
 * schema that constrains nothing (`{}`), and no `$schema` (MCP's default dialect is 2020-12 already).
 */
import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import { advertisedFor, type JsonSchemaObject } from '../tools/advertised.js';

type Props = StandardSchemaWithJSON['~standard'];
export type JsonSchemaOptions = Parameters<Props['jsonSchema']['input']>[0];
export type Io = 'input' | 'output';

/**
 * zod's `override` hook: a node with a registered compact form is replaced by it, whatever it expanded to. So is a
 * clone made from one by `.describe()` (zod's parent chain), keeping its own description: a clone accepts no more
 * than its parent, so the parent's compact form still accepts all it does.
 */
function useAdvertised(ctx: { zodSchema: unknown; jsonSchema: JsonSchemaObject }): void {
  const own = advertisedFor(ctx.zodSchema);
  const compact = own ?? inheritedCompactForm(ctx.zodSchema);
  if (!compact) return;
  const description = ctx.jsonSchema.description;
  for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
  Object.assign(ctx.jsonSchema, structuredClone(compact));
  if (!own && description !== undefined) ctx.jsonSchema.description = description;
}

const MAX_PARENT_CHAIN = 32;

function inheritedCompactForm(schema: unknown): JsonSchemaObject | undefined {
  let parent = parentOf(schema);
  for (let i = 0; parent !== undefined && i < MAX_PARENT_CHAIN; i++, parent = parentOf(parent)) {
    const compact = advertisedFor(parent);
    if (compact) return compact;
  }
  return undefined;
}

function parentOf(schema: unknown): unknown {
  return (schema as { _zod?: { parent?: unknown } } | null)?._zod?.parent;
}

export function advertisedJsonSchema(std: Props, io: Io, options: JsonSchemaOptions): JsonSchemaObject {
  // `libraryOptions` reaches zod's own toJSONSchema options (Standard JSON Schema's vendor pass-through).
  const json = std.jsonSchema[io]({ ...options, libraryOptions: { override: useAdvertised } }) as JsonSchemaObject;
  const { $schema: _dialect, ...rest } = json;
  return portable(rest, io);
}

const ANNOTATIONS = new Set(['description', 'title', 'default', 'examples']);
/** Maps whose values are schemas keyed by a name (a property called "type" is not the `type` keyword). */
const SCHEMA_MAPS = new Set(['properties', '$defs', 'patternProperties']);

/**
 * A copy of `node` in the portable subset, without bytes that say nothing: every `type` array split into
 * single-type `anyOf` branches; the ±2^53-1 bounds zod adds to every `.int()` dropped; and in an output schema
 * no `additionalProperties: false` (the server only ever sends the declared fields).
 */
export function portable(node: JsonSchemaObject, io: Io): JsonSchemaObject {
  const out: JsonSchemaObject = {};
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) === Number.MAX_SAFE_INTEGER) continue;
    if (key === 'additionalProperties' && value === false && io === 'output') continue;
    if (ANNOTATIONS.has(key) || key === 'enum' || key === 'const' || key === 'required') out[key] = value;
    else if (SCHEMA_MAPS.has(key) && isObject(value)) out[key] = mapValues(value, (v) => subschema(v, io));
    else out[key] = Array.isArray(value) ? value.map((v) => subschema(v, io)) : subschema(value, io);
  }
  if (Array.isArray(out.type)) {
    const { type, ...others } = out;
    return { ...others, anyOf: (type as string[]).map((t) => ({ type: t })) };
  }
  return out;
}

function subschema(value: unknown, io: Io): unknown {
  return isObject(value) ? portable(value, io) : value;
}

function isObject(value: unknown): value is JsonSchemaObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mapValues(map: JsonSchemaObject, f: (v: unknown) => unknown): JsonSchemaObject {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, f(v)]));
}
