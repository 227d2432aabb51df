/**
 * The exact tools/list answer, in both protocol eras, pinned as a snapshot: a change to how tool schemas are
 * converted to JSON Schema (or cached between requests) must not change one byte of what clients see. A deliberate
 * change to a tool's schema updates the snapshot (`npx jest test/integration/tools-list-snapshot -u`) and shows up
 * in review as a diff of the advertised schema.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { connectV2, startHarness, type Harness } from '../support/harness.js';
import { rpcMessages } from '../support/json-bodies.js';
import { TOOL_NAMES } from '../support/tool-names.js';

let h: Harness;
let modern: Client;

beforeAll(async () => {
  h = await startHarness();
  modern = await connectV2(h.alice.token, { fetch: h.fetch });
});

afterAll(async () => {
  await modern?.close();
  await h?.close();
});

/** A 2025-era stateless tools/list, as raw JSON-RPC: the wire answer, with nothing a client library normalises. */
async function rawToolsList(token: string): Promise<{ tools: unknown[] }> {
  const res = await h.fetch('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2025-11-25',
      Authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
  expect(res.status).toBe(200);
  const messages = rpcMessages(res.headers.get('content-type'), await res.text()) as { id?: unknown; result?: { tools: unknown[] } }[];
  const answer = messages.find((m) => m.id === 1);
  expect(answer?.result?.tools).toHaveLength(TOOL_NAMES.length);
  return answer!.result!;
}

test('2025-era tools/list (raw JSON-RPC) is unchanged, key order included', async () => {
  const result = await rawToolsList(h.alice.token);
  // The readable snapshot sorts keys; the digest of the serialised answer pins their order too.
  expect(result).toMatchSnapshot();
  expect(createHash('sha256').update(JSON.stringify(result)).digest('hex')).toMatchSnapshot();
});

// 12 KB for the six text tools; conversations (two tools and `conversation_id`), generate_image with chat's image
// output, and compare_models add about 5 KB, kept that small by their compact advertised schemas (README, Tools).
test('the whole tools/list answer is at most 17 KB of compact JSON (every client puts it in the model\'s context)', async () => {
  const bytes = Buffer.byteLength(JSON.stringify(await rawToolsList(h.alice.token)));
  expect(bytes).toBeLessThanOrEqual(17 * 1024);
});

test('the 2026-era client (v2, auto) is advertised exactly the same tools', async () => {
  expect(modern.getNegotiatedProtocolVersion()).toBe('2026-07-28');
  const { tools } = await modern.listTools();
  // The client library re-parses the answer (key order is its own), so this compares values.
  expect(tools).toEqual((await rawToolsList(h.alice.token)).tools);
});

test('repeated requests and other users get the identical answer', async () => {
  const first = JSON.stringify(await rawToolsList(h.alice.token));
  for (const token of [h.alice.token, h.bob.token, h.alice.token]) expect(JSON.stringify(await rawToolsList(token))).toBe(first);
  const modernFirst = JSON.stringify(await modern.listTools());
  expect(JSON.stringify(await modern.listTools())).toBe(modernFirst);
});
