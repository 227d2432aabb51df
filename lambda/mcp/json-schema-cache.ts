/**
 * Tool schemas are converted to JSON Schema once per process, not once per request.
 *
 * The server is stateless: every request builds a fresh McpServer, and the SDK converts each tool's zod schemas to
 * JSON Schema (`schema['~standard'].jsonSchema.input|output(options)`) every time it answers tools/list — about
 * half of a warm tools/list's CPU. The conversion is a pure function of the schema object and the options, and our
 * tool schemas are module-level constants that never change after import, so the answer can be kept per
 * (schema object, io, options).
 *
 * `wrap` returns a Standard Schema that validates with the original schema (same `validate`, same issues) and
 * answers `jsonSchema.input/output` from the cache. Cached JSON Schemas are deep-frozen because they are shared by
 * every later response: the SDK itself shares them the same way for `fromJsonSchema()` schemas and only ever
 * copies (`{ type: 'object', ...schema }`, the legacy output wrap), so a write would be a bug — and would throw
 * instead of leaking one request's change into the next.
 *
 * What a schema converts to is the cache's `convert` function: the server passes the advertised conversion
 * (advertised-schema.ts: compact forms, portable subset); by default it is the schema's own. A `seed` holds answers
 * computed before the process started (the Lambda bundle's, precomputed-schemas.ts); a key it lacks is converted.
 */
import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type { Io, JsonSchemaOptions } from './advertised-schema.js';

type Props = StandardSchemaWithJSON['~standard'];
/** How a schema becomes JSON Schema; by default the schema's own conversion. */
export type Convert = (std: Props, io: Io, options: JsonSchemaOptions) => Record<string, unknown>;

const OWN_CONVERSION: Convert = (std, io, options) => std.jsonSchema[io](options);

/** Ready answers per schema object, by conversionKey. */
export type Seed = ReadonlyMap<object, ReadonlyMap<string, Record<string, unknown>>>;

/** What a conversion depends on besides the schema: the direction and the options the SDK passes. */
export function conversionKey(io: Io, options: JsonSchemaOptions): string {
  return `${io} ${JSON.stringify(options)}`;
}

export class JsonSchemaCache {
  private readonly wrappers = new WeakMap<object, StandardSchemaWithJSON>();
  /** How many conversions actually ran (cache misses): 2 per schema and io at most. */
  conversions = 0;

  constructor(
    private readonly convertSchema: Convert = OWN_CONVERSION,
    private readonly seed: Seed = new Map(),
  ) {}

  /** The cached counterpart of a Standard Schema; anything else (undefined, a raw zod shape) passes through. */
  wrap<T>(schema: T): T {
    if (!isStandardSchemaWithJson(schema)) return schema;
    const known = this.wrappers.get(schema);
    if (known) return known as T;
    const original = schema['~standard'];
    const converted = new Map<string, unknown>([...(this.seed.get(schema) ?? [])].map(([key, json]) => [key, deepFreeze(json)]));
    const convert = (io: Io) => (options: JsonSchemaOptions) => {
      const key = conversionKey(io, options);
      let json = converted.get(key);
      if (json === undefined) {
        this.conversions++;
        json = deepFreeze(this.convertSchema(original, io, options));
        converted.set(key, json);
      }
      return json as Record<string, unknown>;
    };
    const wrapper: StandardSchemaWithJSON = {
      '~standard': {
        version: original.version,
        vendor: original.vendor,
        validate: original.validate,
        ...(original.types ? { types: original.types } : {}),
        jsonSchema: { input: convert('input'), output: convert('output') },
      },
    };
    this.wrappers.set(schema, wrapper);
    return wrapper as T;
  }
}

function isStandardSchemaWithJson(value: unknown): value is StandardSchemaWithJSON {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null || !('~standard' in value)) return false;
  const std = (value as StandardSchemaWithJSON)['~standard'];
  return typeof std?.validate === 'function' && typeof std.jsonSchema?.input === 'function' && typeof std.jsonSchema.output === 'function';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
