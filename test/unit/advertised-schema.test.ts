/**
 * What tools/list advertises: every schema in the portable subset strict clients (Gemini-style function
 * declarations) accept, compact forms that still accept everything the server's zod schemas accept, and
 * validation that stays the zod schema's. (The size goal and the exact bytes are pinned on the wire by
 * test/integration/tools-list-snapshot.test.ts.)
 */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import ajv2020 from 'ajv/dist/2020.js';
import * as z from 'zod';
import { CatalogCache } from '../../lambda/catalog/catalog.js';
import { advertisedJsonSchema } from '../../lambda/mcp/advertised-schema.js';
import { JsonSchemaCache } from '../../lambda/mcp/json-schema-cache.js';
import { createMcpServer } from '../../lambda/mcp/server.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { OpenRouterClient } from '../../lambda/openrouter/client.js';
import { advertiseAs } from '../../lambda/tools/advertised.js';
import { ChatInput, CompletionInput } from '../../lambda/tools/generate.js';
import { TOOL_NAMES } from '../support/tool-names.js';

type Tool = { name: string; inputSchema: Record<string, unknown>; outputSchema?: Record<string, unknown> };

async function listTools(): Promise<Tool[]> {
  const deps = {
    principal: { userId: 'u1', tokenId: 't1' },
    openRouter: new OpenRouterClient({ baseUrl: 'http://127.0.0.1:9/api/v1', apiKey: 'unused', title: 'test' }),
    catalog: new CatalogCache(60_000),
    logger: createLogger({ level: 'error', write: () => undefined }),
    progressIntervalMs: 0,
  };
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const server = createMcpServer(deps);
  await server.connect(serverSide);
  const client = new Client({ name: 'advertised-test', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
  await client.connect(clientSide);
  try {
    return (await client.listTools()).tools as Tool[];
  } finally {
    await client.close();
    await server.close();
  }
}

/** Keywords that constrain a value (the rest only annotate): a schema with none of them accepts anything. */
const CONSTRAINING = new Set([
  'type', 'enum', 'const', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum', 'maxLength',
  'minLength', 'pattern', 'format', 'maxItems', 'minItems', 'uniqueItems', 'maxProperties', 'minProperties', 'required',
  'allOf', 'anyOf', 'oneOf', 'not', 'items', 'prefixItems', 'contains', 'properties', 'patternProperties',
  'additionalProperties', 'propertyNames', '$ref',
]);
const SUBSCHEMA = ['items', 'contains', 'not', 'propertyNames', 'additionalProperties', 'if', 'then', 'else'];
const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SUBSCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions'];

/**
 * Every construct a strict-dialect client rejects or misreads, as "path: problem" lines: a `type` array
 * (`[X, "null"]`), a schema that constrains nothing (`{}`, or only a description), a bare boolean where a schema
 * belongs (`additionalProperties: false` is the one accepted spelling), and a `$schema` dialect switch.
 */
function portabilityProblems(node: unknown, path = '', depth = 0): string[] {
  if (depth > 64) return [`${path}: nested deeper than 64`];
  if (typeof node === 'boolean') return [`${path}: bare boolean schema`];
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return [`${path}: not a schema`];
  const schema = node as Record<string, unknown>;
  const problems: string[] = [];
  if (Array.isArray(schema.type)) problems.push(`${path}: type array ${JSON.stringify(schema.type)}`);
  if (!Object.keys(schema).some((k) => CONSTRAINING.has(k))) problems.push(`${path}: constrains nothing ${JSON.stringify(schema)}`);
  if ('$schema' in schema) problems.push(`${path}: $schema`);
  for (const key of SUBSCHEMA) {
    if (!(key in schema)) continue;
    if (key === 'additionalProperties' && schema[key] === false) continue;
    problems.push(...portabilityProblems(schema[key], `${path}.${key}`, depth + 1));
  }
  for (const key of SUBSCHEMA_LISTS) {
    const list = schema[key];
    if (Array.isArray(list)) list.forEach((sub, i) => problems.push(...portabilityProblems(sub, `${path}.${key}[${i}]`, depth + 1)));
  }
  for (const key of SUBSCHEMA_MAPS) {
    const map = schema[key];
    if (typeof map === 'object' && map !== null) {
      for (const [name, sub] of Object.entries(map)) problems.push(...portabilityProblems(sub, `${path}.${key}.${name}`, depth + 1));
    }
  }
  return problems;
}

test('the portability check finds what zod writes by itself: type arrays, empty schemas and $schema', () => {
  const Raw = z.strictObject({ n: z.number().nullable(), anything: z.record(z.string(), z.unknown()) });
  const problems = portabilityProblems(Raw['~standard'].jsonSchema.input({ target: 'draft-2020-12' }));
  expect(problems).toEqual([
    ': $schema',
    '.properties.n: type array ["number","null"]',
    expect.stringMatching(/^\.properties\.anything\.additionalProperties: constrains nothing/),
  ]);
});

test('every advertised input and output schema is portable', async () => {
  const tools = await listTools();
  expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
  const problems = tools.flatMap((t) => [
    ...portabilityProblems(t.inputSchema).map((p) => `${t.name} inputSchema${p}`),
    ...(t.outputSchema ? portabilityProblems(t.outputSchema).map((p) => `${t.name} outputSchema${p}`) : [`${t.name}: no outputSchema`]),
  ]);
  expect(problems).toEqual([]);
});

const Ajv2020 = ajv2020.default;

/** A request using every nested object the compact forms stand for, valid for the zod schema. */
const FULL_CHAT = {
  models: ['openai/gpt-4o', 'anthropic/claude-sonnet-4.5'],
  messages: [
    { role: 'system', content: [{ type: 'text', text: 'Be terse.' }], name: 'sys' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'high' } },
        { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
        { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
      ],
    },
    { role: 'assistant', content: null, reasoning: 'Call it.', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: '{"ok":true}' },
  ],
  temperature: 0.2,
  seed: 7,
  stop: ['END'],
  logit_bias: { '50256': -100 },
  response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'object' }, strict: null } },
  tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' }, strict: true } }],
  tool_choice: { type: 'function', function: { name: 'f' } },
  provider: { order: ['openai'], sort: { by: 'price', partition: 'none' }, max_price: { prompt: 1, completion: '2.5' }, preferred_max_latency: { p90: 2 } },
  reasoning: { effort: 'high', summary: 'auto' },
  plugins: [{ id: 'web', max_results: 3 }, { id: 'file-parser', pdf: { engine: 'pdf-text' } }, { id: 'moderation' }],
  user: 'u-1',
};

test('the compact forms accept everything the zod schemas accept (a client may check arguments first)', async () => {
  expect(ChatInput.safeParse(FULL_CHAT).success).toBe(true);
  const completion = { model: 'x/y', prompt: 'Once', top_k: 0, repetition_penalty: 1, provider: { only: ['a'], zdr: true } };
  expect(CompletionInput.safeParse(completion).success).toBe(true);
  const tools = new Map((await listTools()).map((t) => [t.name, t]));
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const chat = ajv.compile(tools.get('send_chat_completion_request')!.inputSchema);
  expect([chat(FULL_CHAT), chat.errors]).toEqual([true, null]);
  const text = ajv.compile(tools.get('send_completion_request')!.inputSchema);
  expect([text(completion), text.errors]).toEqual([true, null]);
  // Still closed at the top level: a misspelled parameter is visible to a client, not only to the server.
  expect(chat({ ...FULL_CHAT, temprature: 1 })).toBe(false);
});

test('a compact form changes what is advertised, never what is validated', () => {
  const Inner = advertiseAs(z.strictObject({ a: z.number().int().max(3), b: z.string() }).describe('full'), { type: 'object', description: 'a (int ≤ 3), b' });
  const Outer = z.strictObject({ inner: Inner.optional(), described: Inner.describe('its own words') });
  const json = advertisedJsonSchema(Outer['~standard'], 'input', { target: 'draft-2020-12' });
  expect(json).toEqual({
    type: 'object',
    properties: { inner: { type: 'object', description: 'a (int ≤ 3), b' }, described: { type: 'object', description: 'its own words' } },
    required: ['described'],
    additionalProperties: false,
  });
  expect(Outer.safeParse({ described: { a: 3, b: 'x' } }).success).toBe(true);
  expect(Outer.safeParse({ described: { a: 4, b: 'x' } }).success).toBe(false);
  expect(Outer.safeParse({ described: { a: 1, b: 'x', c: 1 } }).success).toBe(false);
});

test('through the server: an argument the compact form allows but the zod schema forbids is still refused', async () => {
  const cache = new JsonSchemaCache(advertisedJsonSchema);
  const deps = {
    principal: { userId: 'u1', tokenId: 't1', openRouterKey: 'sk-or-v1-unused' },
    openRouter: new OpenRouterClient({ baseUrl: 'http://127.0.0.1:9/api/v1', apiKey: 'unused', title: 'test' }),
    catalog: new CatalogCache(60_000),
    logger: createLogger({ level: 'error', write: () => undefined }),
    progressIntervalMs: 0,
  };
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const server = createMcpServer(deps, cache);
  await server.connect(serverSide);
  const client = new Client({ name: 'advertised-test', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
  await client.connect(clientSide);
  try {
    // `provider` is advertised as a plain object; the strict schema still rejects a misspelled field inside it.
    const refused = await client.callTool({
      name: 'send_chat_completion_request',
      arguments: { messages: [{ role: 'user', content: 'hi' }], provider: { orderr: ['openai'] } },
    });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain('orderr');
  } finally {
    await client.close();
    await server.close();
  }
});
