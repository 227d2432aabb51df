/**
 * The tools' advertised JSON Schemas, computed when the Lambda is bundled instead of at every cold start.
 *
 * Converting the tools' zod schemas (advertised-schema.ts) is pure and ~15 ms of a cold start's first tools/list.
 * The bundling step (infra/constructs/mcp-function-bundling.ts) runs `precomputeToolSchemas` — the same conversion
 * the server runs — and injects the answer as `__ORMCP_TOOL_SCHEMAS__` (an esbuild `define`); the server seeds its
 * per-process cache with it. Anywhere the constant is not defined (tests, `npm start`) the cache converts as before.
 * A test checks the precomputed answer equals the runtime conversion, and that the seeded server converts nothing.
 */
import type { JsonSchemaObject } from '../tools/advertised.js';
import { TOOLS } from '../tools/index.js';
import type { Tool } from '../tools/tool.js';
import { advertisedJsonSchema, type Io, type JsonSchemaOptions } from './advertised-schema.js';
import { conversionKey, type Seed } from './json-schema-cache.js';

/**
 * The options the MCP SDK converts tool schemas with (its JSON_SCHEMA_CONVERSION_TARGET). Should a new SDK ask for
 * others, the seed is simply not used (and test/unit/precomputed-schemas.test.ts fails).
 */
export const SDK_CONVERSION_OPTIONS: JsonSchemaOptions = { target: 'draft-2020-12' };

/** Tool name → the advertised JSON Schema of its input and output, for SDK_CONVERSION_OPTIONS. */
export type PrecomputedSchemas = Record<string, Record<Io, JsonSchemaObject>>;

export function precomputeToolSchemas(tools: readonly Tool[]): PrecomputedSchemas {
  const convert = (schema: Tool['input'], io: Io) => advertisedJsonSchema(schema['~standard'] as never, io, SDK_CONVERSION_OPTIONS);
  return Object.fromEntries(tools.map((t) => [t.name, { input: convert(t.input, 'input'), output: convert(t.output, 'output') }]));
}

/** The cache seed for these tools: their schema objects, keyed as the cache looks them up. */
export function seedFrom(tools: readonly Tool[], precomputed: PrecomputedSchemas | undefined): Seed {
  const seed = new Map<object, Map<string, JsonSchemaObject>>();
  if (!precomputed) return seed;
  for (const tool of tools) {
    const json = precomputed[tool.name];
    if (!json) continue;
    seed.set(tool.input, new Map([[conversionKey('input', SDK_CONVERSION_OPTIONS), json.input]]));
    seed.set(tool.output, new Map([[conversionKey('output', SDK_CONVERSION_OPTIONS), json.output]]));
  }
  return seed;
}

/** Set by the bundling step (esbuild `define`) to the JSON text of precomputeToolSchemas(TOOLS). */
declare const __ORMCP_TOOL_SCHEMAS__: string | undefined;

/** The schemas the bundle was built with, or undefined when this code is not running from the Lambda bundle. */
export function bundledToolSchemas(): PrecomputedSchemas | undefined {
  return typeof __ORMCP_TOOL_SCHEMAS__ === 'string' ? (JSON.parse(__ORMCP_TOOL_SCHEMAS__) as PrecomputedSchemas) : undefined;
}

/** The name of that constant, for the bundling step. */
export const TOOL_SCHEMAS_CONSTANT = '__ORMCP_TOOL_SCHEMAS__';

/**
 * The bundle's esbuild `define` (what infra/constructs/mcp-function-bundling.ts hands the construct): the tools'
 * advertised JSON Schemas, converted now by the server's own conversion, as a string constant that the server
 * parses instead of converting at cold start.
 */
export function toolSchemasDefine(): Record<string, string> {
  return { [TOOL_SCHEMAS_CONSTANT]: JSON.stringify(JSON.stringify(precomputeToolSchemas(TOOLS))) };
}
