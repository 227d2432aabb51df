/**
 * The per-process JSON Schema cache behind tools/list: converted once per schema, shared answers that cannot be
 * changed, validation exactly as the original schema's. (That the advertised tools are byte-for-byte what they
 * were without the cache is pinned by test/integration/tools-list-snapshot.test.ts.)
 */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, type StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { CatalogCache } from '../../lambda/catalog/catalog.js';
import { advertisedJsonSchema } from '../../lambda/mcp/advertised-schema.js';
import { JsonSchemaCache } from '../../lambda/mcp/json-schema-cache.js';
import { createMcpServer } from '../../lambda/mcp/server.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { OpenRouterClient } from '../../lambda/openrouter/client.js';
import { TOOL_NAMES } from '../support/tool-names.js';

const OPTIONS = { target: 'draft-2020-12' } as const;
const Sample = z.strictObject({ name: z.string().min(2).describe('A name.'), n: z.number().int().optional() });

test('converts each schema once per io and options, and answers exactly what the schema itself converts to', () => {
  const cache = new JsonSchemaCache();
  const wrapped = cache.wrap(Sample);
  expect(cache.wrap(Sample)).toBe(wrapped);
  const input = wrapped['~standard'].jsonSchema.input(OPTIONS);
  expect(input).toEqual(Sample['~standard'].jsonSchema.input(OPTIONS));
  expect(wrapped['~standard'].jsonSchema.input(OPTIONS)).toBe(input);
  expect(wrapped['~standard'].jsonSchema.output(OPTIONS)).toEqual(Sample['~standard'].jsonSchema.output(OPTIONS));
  expect(wrapped['~standard'].jsonSchema.input({ target: 'draft-07' })).toEqual(Sample['~standard'].jsonSchema.input({ target: 'draft-07' }));
  expect(cache.conversions).toBe(3);
});

test('cached JSON Schemas are frozen all the way down, so no request can change what the next one is sent', () => {
  const input = new JsonSchemaCache().wrap(Sample)['~standard'].jsonSchema.input(OPTIONS) as { properties: { name: { minLength: number } } };
  expect([input, input.properties, input.properties.name].every(Object.isFrozen)).toBe(true);
  // (a write in strict-mode code, like the SDK's, throws; Reflect.set reports the refusal either way)
  expect(Reflect.set(input.properties.name, 'minLength', 0)).toBe(false);
  expect(input.properties.name.minLength).toBe(2);
});

test('validation is the original schema\'s: same values, same issues', async () => {
  const wrapped = new JsonSchemaCache().wrap(Sample) as StandardSchemaWithJSON<unknown, { name: string; n?: number }>;
  for (const value of [{ name: 'ok' }, { name: 'x' }, { name: 'ok', n: 1.5 }, { name: 'ok', extra: true }, null]) {
    expect(await wrapped['~standard'].validate(value)).toEqual(await Sample['~standard'].validate(value));
  }
});

test('anything that is not a Standard Schema with JSON Schema support passes through untouched', () => {
  const cache = new JsonSchemaCache();
  const rawShape = { name: z.string() };
  expect(cache.wrap(undefined)).toBeUndefined();
  expect(cache.wrap(rawShape)).toBe(rawShape);
  expect(cache.conversions).toBe(0);
});

test('every tool of a fresh server per request converts only on the first tools/list; calls still validate', async () => {
  const cache = new JsonSchemaCache(advertisedJsonSchema);
  const deps = {
    principal: { userId: 'u1', tokenId: 't1' },
    // Never called: the tool call below is refused by input validation before any upstream work.
    openRouter: new OpenRouterClient({ baseUrl: 'http://127.0.0.1:9/api/v1', apiKey: 'unused', title: 'test' }),
    catalog: new CatalogCache(60_000),
    logger: createLogger({ level: 'error', write: () => undefined }),
    progressIntervalMs: 0,
  };
  const listOnce = async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const server = createMcpServer(deps, cache);
    await server.connect(serverSide);
    const client = new Client({ name: 'cache-test', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
    await client.connect(clientSide);
    const { tools } = await client.listTools();
    const refused = await client.callTool({ name: 'get_generation', arguments: { id: 'not a generation id!' } });
    await client.close();
    await server.close();
    return { tools, refused };
  };

  const first = await listOnce();
  expect(first.tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
  const afterFirst = cache.conversions;
  // input + output per tool (the chat tool's output has conversation fields, so no two tools share one)
  expect(afterFirst).toBe(2 * TOOL_NAMES.length);
  const second = await listOnce();
  const third = await listOnce();
  expect(cache.conversions).toBe(afterFirst);
  expect(second.tools).toEqual(first.tools);
  expect(third.tools).toEqual(first.tools);
  for (const { refused } of [first, second, third]) {
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain('a generation id looks like');
  }
});
