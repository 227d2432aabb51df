/**
 * The tools' JSON Schemas the Lambda bundle carries (computed by the bundling step) are exactly what the server
 * converts at run time, and a server seeded with them converts nothing and lists the same tools — so the two can
 * never drift apart unnoticed. (The tools/list bytes themselves are pinned by tools-list-snapshot.test.ts.)
 */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { toolSchemasDefine } from '../../infra/constructs/mcp-function-bundling.js';
import { CatalogCache } from '../../lambda/catalog/catalog.js';
import { advertisedJsonSchema } from '../../lambda/mcp/advertised-schema.js';
import { JsonSchemaCache } from '../../lambda/mcp/json-schema-cache.js';
import { bundledToolSchemas, precomputeToolSchemas, SDK_CONVERSION_OPTIONS, seedFrom, TOOL_SCHEMAS_CONSTANT } from '../../lambda/mcp/precomputed-schemas.js';
import { createMcpServer } from '../../lambda/mcp/server.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { OpenRouterClient } from '../../lambda/openrouter/client.js';
import { TOOLS } from '../../lambda/tools/index.js';
import { TOOL_NAMES } from '../support/tool-names.js';

const deps = {
  principal: { userId: 'u1', tokenId: 't1' },
  openRouter: new OpenRouterClient({ baseUrl: 'http://127.0.0.1:9/api/v1', apiKey: 'unused', title: 'test' }),
  catalog: new CatalogCache(60_000),
  logger: createLogger({ level: 'error', write: () => undefined }),
  progressIntervalMs: 0,
};

/** tools/list through a real MCP client, as the raw JSON text of the tools, with the given cache. */
async function listedTools(cache: JsonSchemaCache): Promise<string> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const server = createMcpServer(deps, cache);
  await server.connect(serverSide);
  const client = new Client({ name: 'precomputed-test', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
  await client.connect(clientSide);
  const { tools } = await client.listTools();
  await client.close();
  await server.close();
  return JSON.stringify(tools);
}

test('the precomputed schemas are, byte for byte, what the runtime conversion gives', () => {
  const precomputed = precomputeToolSchemas(TOOLS);
  expect(Object.keys(precomputed)).toEqual(TOOLS.map((t) => t.name));
  const runtime = new JsonSchemaCache(advertisedJsonSchema);
  for (const tool of TOOLS) {
    const input = runtime.wrap(tool.input)['~standard'].jsonSchema.input(SDK_CONVERSION_OPTIONS);
    const output = runtime.wrap(tool.output)['~standard'].jsonSchema.output(SDK_CONVERSION_OPTIONS);
    expect(JSON.stringify(precomputed[tool.name]!.input)).toBe(JSON.stringify(input));
    expect(JSON.stringify(precomputed[tool.name]!.output)).toBe(JSON.stringify(output));
  }
});

test('what the bundling step injects parses back to the same schemas', () => {
  const define = toolSchemasDefine();
  expect(Object.keys(define)).toEqual([TOOL_SCHEMAS_CONSTANT]);
  const injected = JSON.parse(JSON.parse(define[TOOL_SCHEMAS_CONSTANT]!) as string) as unknown;
  expect(JSON.stringify(injected)).toBe(JSON.stringify(precomputeToolSchemas(TOOLS)));
});

test('a server seeded with them converts nothing (the SDK asks for exactly these options) and lists the same tools', async () => {
  const precomputed = JSON.parse(JSON.stringify(precomputeToolSchemas(TOOLS))) as ReturnType<typeof precomputeToolSchemas>;
  const seeded = new JsonSchemaCache(advertisedJsonSchema, seedFrom(TOOLS, precomputed));
  const unseeded = new JsonSchemaCache(advertisedJsonSchema);
  const fromSeed = await listedTools(seeded);
  const converted = await listedTools(unseeded);
  expect(seeded.conversions).toBe(0);
  expect(unseeded.conversions).toBeGreaterThan(0);
  expect(fromSeed).toBe(converted);
  expect((JSON.parse(fromSeed) as { name: string }[]).map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
});

test('outside the bundle nothing is precomputed, and the cache converts at run time', async () => {
  expect(bundledToolSchemas()).toBeUndefined();
  expect(seedFrom(TOOLS, undefined).size).toBe(0);
  const cache = new JsonSchemaCache(advertisedJsonSchema, seedFrom(TOOLS, bundledToolSchemas()));
  await listedTools(cache);
  expect(cache.conversions).toBeGreaterThan(0);
});
