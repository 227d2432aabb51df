/**
 * Validates request bodies against OpenRouter's official OpenAPI spec (../shared/openrouter/openapi.yaml,
 * beside the repository). The spec leaves most objects open; we close them (unevaluatedProperties: false)
 * so an invented or mis-cased field name fails validation instead of slipping through.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ajv2020 from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { isObject } from './json-bodies.js';

export const SPEC_PATH = process.env.OPENROUTER_OPENAPI_SPEC ?? resolve(__dirname, '../../../shared/openrouter/openapi.yaml');
const SPEC_ID = 'https://openrouter.test/openapi.json';

type Json = Record<string, unknown>;


/** Close every object schema that lists properties, except direct allOf members (their parent is closed instead). */
export function closeSchemas(node: unknown, insideAllOf = false): void {
  if (Array.isArray(node)) {
    node.forEach((n) => closeSchemas(n, insideAllOf));
    return;
  }
  if (!isObject(node)) return;
  const describesObject = isObject(node.properties) || Array.isArray(node.allOf);
  if (describesObject && !insideAllOf && !('additionalProperties' in node) && !('unevaluatedProperties' in node)) {
    node.unevaluatedProperties = false;
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === 'example' || key === 'examples' || key === 'default' || key === 'enum' || key === 'const') continue;
    if (key === 'properties' && isObject(value)) {
      for (const prop of Object.values(value)) closeSchemas(prop);
    } else {
      closeSchemas(value, key === 'allOf');
    }
  }
}

const Ajv2020 = ajv2020.default;
let compiled: { ajv: InstanceType<typeof Ajv2020>; validators: Map<string, ValidateFunction> } | undefined;

function load() {
  if (compiled) return compiled;
  const spec = parse(readFileSync(SPEC_PATH, 'utf8')) as { components: { schemas: Json }; paths: Json };
  closeSchemas(spec.components.schemas);
  closeSchemas(spec.paths);
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: SPEC_ID, components: spec.components, paths: spec.paths });
  compiled = { ajv, validators: new Map() };
  return compiled;
}

export function schemaValidator(name: string): ValidateFunction {
  const c = load();
  const cached = c.validators.get(name);
  if (cached) return cached;
  const fn = c.ajv.getSchema(`${SPEC_ID}#/components/schemas/${name}`);
  if (!fn) throw new Error(`no schema ${name} in the OpenAPI spec`);
  c.validators.set(name, fn);
  return fn;
}

/** Errors for the JSON body of one operation (`POST /auth/keys`), whose schema the spec writes inline. */
export function validateOperationBody(path: string, method: 'post' | 'patch', body: unknown): string[] {
  const c = load();
  const pointer = `${SPEC_ID}#/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}/${method}/requestBody/content/application~1json/schema`;
  const v = c.ajv.getSchema(pointer);
  if (!v) throw new Error(`no request body schema for ${method.toUpperCase()} ${path} in the OpenAPI spec`);
  if (v(body)) return [];
  return (v.errors ?? []).slice(0, 10).map((e: { instancePath: string; message?: string; params: unknown }) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** Errors for a request body against a named component schema; empty when valid. */
export function validateAgainst(name: string, body: unknown): string[] {
  const v = schemaValidator(name);
  if (v(body)) return [];
  return (v.errors ?? []).slice(0, 10).map((e: { instancePath: string; message?: string; params: unknown }) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/**
 * The legacy `POST /completions` route is not in the spec. OpenRouter documents it as the chat request
 * with `prompt` in place of `messages`, so we check it against ChatRequest's own property schemas.
 */
export function validateCompletionRequest(body: unknown): string[] {
  if (!isObject(body)) return ['body is not an object'];
  const errors: string[] = [];
  if (typeof body.prompt !== 'string' || !body.prompt) errors.push('/prompt is required and must be a non-empty string');
  const { prompt: _prompt, ...rest } = body;
  const asChat = { ...rest, messages: [{ role: 'user', content: 'x' }] };
  errors.push(...validateAgainst('ChatRequest', asChat));
  return errors;
}
