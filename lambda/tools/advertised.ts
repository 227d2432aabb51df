/**
 * What a tool parameter advertises in tools/list, when that is less than what the server validates.
 *
 * Every client puts tools/list into the model's context on every conversation, so a fully expanded JSON Schema of
 * each nested OpenRouter object (messages, provider routing, plugins…) costs thousands of tokens for constraints
 * the server enforces anyway. A declaration can therefore name a compact JSON Schema to advertise in its place:
 * the zod schema stays the one source of truth for validation (strict objects, bounds, enums), and the compact
 * form sits beside it, saying in one line which fields exist. The compact form must accept everything the zod
 * schema accepts (a client may check arguments against it before sending).
 */
import type * as z from 'zod';

export type JsonSchemaObject = { [key: string]: unknown };

const ADVERTISED = new WeakMap<object, JsonSchemaObject>();

/** Registers `json` as the advertised JSON Schema of `schema`; returns `schema` itself, so it wraps a declaration. */
export function advertiseAs<T extends z.ZodType>(schema: T, json: JsonSchemaObject): T {
  ADVERTISED.set(schema, json);
  return schema;
}

/** The compact JSON Schema registered for this exact schema object, if any. */
export function advertisedFor(schema: unknown): JsonSchemaObject | undefined {
  return typeof schema === 'object' && schema !== null ? ADVERTISED.get(schema) : undefined;
}
