/**
 * Images out, through the real handler and real MCP clients in both protocol eras, against the fake OpenRouter:
 * generate_image sends a spec-valid `POST /images`, returns the image as an MCP image block and as a link that
 * `npm start`'s files route serves (right bytes, pinned headers; unknown and expired links 404); a chat model's
 * images come back the same way; an image over the inline cap is left out of the blocks with a notice; bytes that
 * are not a raster image (an SVG posing as a PNG) are neither stored nor shown. generate_image runs inside team
 * control: one ledger record with the fake's cost, a model the operator denies refused with nothing sent, and under
 * a budget cap refused as an unknown price (per-image prices are not in the catalog, so the cost cannot be bounded).
 */
import type { Client } from '@modelcontextprotocol/client';
import { OPEN_POLICY } from '../../lambda/policy/policy.js';
import { MAX_INLINE_BASE64_CHARS } from '../../lambda/tools/image-output.js';
import { tinyPng } from '../support/fake-openrouter.js';
import { connectV2, startHarness, textOf, type Harness } from '../support/harness.js';

let h: Harness;
let modern: Client;
let legacy: Client;

type Block = { type: string; text?: string; data?: string; mimeType?: string };
type ToolResult = { content: Block[]; structuredContent?: Record<string, any>; isError?: boolean };

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<ToolResult> {
  return (await client.callTool({ name, arguments: args })) as ToolResult;
}

beforeAll(async () => {
  // Nothing else in this file names a black-forest-labs model: the policy only bites in the team-control tests.
  h = await startHarness({ policy: { ...OPEN_POLICY, deniedModels: ['black-forest-labs/*'] } });
  modern = await connectV2(h.alice.token, { fetch: h.fetch });
  legacy = await connectV2(h.alice.token, { fetch: h.fetch, mode: 'legacy' });
});

afterAll(async () => {
  await modern?.close();
  await legacy?.close();
  await h?.close();
});

afterEach(() => {
  expect(h.fake.violations).toEqual([]);
});

describe.each([
  ['2026-era', () => modern],
  ['2025-era', () => legacy],
])('generate_image (%s client)', (_era, client) => {
  test('returns the image as a block and as a working link, with cost', async () => {
    const before = h.fake.calls('/images').length;
    const result = await call(client(), 'generate_image', { model: 'google/gemini-2.5-flash-image', prompt: 'a red panda astronaut', aspect_ratio: '16:9' });
    expect(result.isError).toBeFalsy();
    const sent = h.fake.calls('/images').slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.apiKey).toBe(h.alice.openRouterKey);
    expect(sent[0]!.body).toEqual({ model: 'google/gemini-2.5-flash-image', prompt: 'a red panda astronaut', aspect_ratio: '16:9' });

    const images = result.content.filter((b) => b.type === 'image');
    expect(images).toEqual([{ type: 'image', data: tinyPng().toString('base64'), mimeType: 'image/png' }]);
    const s = result.structuredContent!;
    expect(s.usage).toEqual({ prompt_tokens: 9, completion_tokens: 1290, total_tokens: 1299, cost: 0.039 });
    expect(s.images).toHaveLength(1);
    expect(s.images[0]).toMatchObject({ mime_type: 'image/png', bytes: tinyPng().length, inline: true });
    expect(Date.parse(s.images[0].expires_at)).toBeGreaterThan(Date.now());
    expect(textOf(result)).toContain(s.images[0].url);
    expect(textOf(result)).toContain('$0.039');

    const res = await h.fetch(s.images[0].url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(tinyPng())).toBe(true);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toBe('inline');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });
});

describe('generate_image details', () => {
  test('reference images go upstream as the spec\'s input_references; n images come back', async () => {
    const ref = `data:image/png;base64,${tinyPng().toString('base64')}`;
    const result = await call(modern, 'generate_image', { model: 'google/gemini-2.5-flash-image', prompt: 'make it blue', input_images: [ref, 'https://example.com/cat.png'], n: 2 });
    expect(result.isError).toBeFalsy();
    expect(h.fake.calls('/images').at(-1)!.body).toMatchObject({ n: 2, input_references: [{ type: 'image_url', image_url: { url: ref } }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] });
    expect(result.content.filter((b) => b.type === 'image')).toHaveLength(2);
    expect(result.structuredContent!.images).toHaveLength(2);
    expect(new Set(result.structuredContent!.images.map((i: { url: string }) => i.url)).size).toBe(2);
  });

  test('bad reference images are refused before anything is sent upstream', async () => {
    const before = h.fake.requests.length;
    for (const input_images of [['http://example.com/a.png'], ['data:image/svg+xml;base64,PHN2Zz4='], Array.from({ length: 5 }, () => 'https://example.com/a.png')]) {
      const result = await call(modern, 'generate_image', { model: 'google/gemini-2.5-flash-image', prompt: 'x', input_images });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/input_images/);
    }
    expect(h.fake.requests.length).toBe(before);
  });

  test('an image over the inline cap is left out of the blocks with a notice; its link still serves it', async () => {
    const result = await call(modern, 'generate_image', { model: 'fake/big-image', prompt: 'noise' });
    expect(result.isError).toBeFalsy();
    expect(result.content.filter((b) => b.type === 'image')).toEqual([]);
    const s = result.structuredContent!;
    expect(s.images[0].inline).toBe(false);
    expect(s.images[0].bytes * (4 / 3)).toBeGreaterThan(MAX_INLINE_BASE64_CHARS);
    expect(s.notice).toMatch(/over the 1\.5 MB inline limit.*open its link/);
    expect(textOf(result)).toContain('inline limit');
    const res = await h.fetch(s.images[0].url);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(s.images[0].bytes);
  });

  test('an SVG labelled as a PNG is neither stored nor shown', async () => {
    const result = await call(modern, 'generate_image', { model: 'fake/svg-image', prompt: 'x' });
    expect(result.isError).toBe(true);
    expect(result.content.filter((b) => b.type === 'image')).toEqual([]);
    expect(result.structuredContent!.images).toEqual([]);
    expect(textOf(result)).toContain('not a PNG, JPEG, WebP or GIF');
  });

  test('an upstream error is an actionable isError result', async () => {
    const result = await call(modern, 'generate_image', { model: 'fake/error-402', prompt: 'x' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/credit/i);
  });
});

describe('the files route', () => {
  test('unknown, malformed and expired links are 404; other methods 405', async () => {
    expect((await h.fetch(`http://127.0.0.1/files/${'A'.repeat(43)}`)).status).toBe(404);
    expect((await h.fetch('http://127.0.0.1/files/..%2F..%2Fetc%2Fpasswd')).status).toBe(404);
    expect((await h.fetch('http://127.0.0.1/files/short')).status).toBe(404);
    const stored = await h.images.put('u', tinyPng(), 'image/png');
    expect((await h.fetch(stored.url, { method: 'DELETE' })).status).toBe(405);
    expect((await h.fetch(stored.url, { method: 'HEAD' })).status).toBe(200);
    h.imageClock.skewMs = 25 * 3600_000;
    try {
      expect((await h.fetch(stored.url)).status).toBe(404);
    } finally {
      h.imageClock.skewMs = 0;
    }
  });

  test('served over real HTTP as well', async () => {
    const server = await h.listen();
    const stored = await h.images.put('u', tinyPng(), 'image/png');
    const res = await fetch(`${server.url}${new URL(stored.url).pathname}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).equals(tinyPng())).toBe(true);
  });
});

describe.each([
  ['2026-era', () => modern],
  ['2025-era', () => legacy],
])('chat image output (%s client)', (_era, client) => {
  test('modalities ["image","text"] returns the model\'s images as blocks and links, not streamed', async () => {
    const result = (await client().callTool(
      { name: 'send_chat_completion_request', arguments: { model: 'google/gemini-2.5-flash-image', modalities: ['image', 'text'], messages: [{ role: 'user', content: 'draw a cat' }] } },
      { onprogress: () => undefined },
    )) as ToolResult;
    expect(result.isError).toBeFalsy();
    const sent = h.fake.calls('/chat/completions').at(-1)!.body!;
    expect(sent.modalities).toEqual(['image', 'text']);
    expect(sent.stream).toBeUndefined();
    expect(result.content.filter((b) => b.type === 'image')).toEqual([{ type: 'image', data: tinyPng().toString('base64'), mimeType: 'image/png' }]);
    const s = result.structuredContent!;
    expect(s.content).toBe('Echo: draw a cat');
    expect(s.id).toMatch(/^gen-/);
    expect(s.images[0]).toMatchObject({ mime_type: 'image/png', inline: true });
    const res = await h.fetch(s.images[0].url);
    expect(Buffer.from(await res.arrayBuffer()).equals(tinyPng())).toBe(true);
  });
});

test('a text-only chat result has no images field', async () => {
  const result = await call(modern, 'send_chat_completion_request', { model: 'fake/echo', messages: [{ role: 'user', content: 'hi' }] });
  expect(result.structuredContent!.images).toBeUndefined();
  expect(result.content.every((b) => b.type === 'text')).toBe(true);
});

describe('generate_image inside team control', () => {
  /** A fresh user (an empty ledger), optionally with a daily cap, and a connected client. */
  async function newUser(caps?: { daily?: number }): Promise<{ id: string; client: Client; key: string }> {
    const u = await h.newUser(caps ? { caps } : {});
    const client = await connectV2(u.token, { fetch: h.fetch });
    users.push(client);
    return { id: u.id, client, key: u.openRouterKey };
  }
  const users: Client[] = [];
  afterAll(async () => void (await Promise.all(users.map((c) => c.close()))));
  const sentBy = (key: string) => h.fake.calls('/images').filter((r) => r.apiKey === key);

  test('one ledger record per call, with the cost the fake reported', async () => {
    const u = await newUser();
    const result = await call(u.client, 'generate_image', { model: 'google/gemini-2.5-flash-image', prompt: 'a lighthouse at dusk' });
    expect(result.isError).toBeFalsy();
    const usage = result.structuredContent!.usage as { cost: number; prompt_tokens: number; completion_tokens: number };
    expect(usage.cost).toBeGreaterThan(0);
    const records = await h.records(u.id);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      tool: 'generate_image',
      outcome: 'ok',
      requestedModel: 'google/gemini-2.5-flash-image',
      servedModel: 'google/gemini-2.5-flash-image',
      costUsd: usage.cost,
      costSource: 'reported',
      tokensIn: usage.prompt_tokens,
      tokensOut: usage.completion_tokens,
    });
    expect((await h.usage(u.id)).usage.daily.spentUsd).toBeCloseTo(usage.cost, 12);
  });

  test('a model the operator denies is refused, nothing is sent upstream, and the refusal is recorded', async () => {
    const u = await newUser();
    const result = await call(u.client, 'generate_image', { model: 'black-forest-labs/flux.2-pro', prompt: 'a lighthouse at dusk' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('black-forest-labs/*');
    expect(textOf(result)).toContain('Nothing was sent to OpenRouter');
    expect(sentBy(u.key)).toHaveLength(0);
    const records = await h.records(u.id);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ tool: 'generate_image', outcome: 'refused', reason: 'policy:model_denied', requestedModel: 'black-forest-labs/flux.2-pro' });
    expect(records[0]!.costUsd).toBeUndefined();
  });

  test('under a budget cap it is refused as an unknown price: an image model\'s cost cannot be bounded from the catalog', async () => {
    const u = await newUser({ daily: 5 });
    const result = await call(u.client, 'generate_image', { model: 'google/gemini-2.5-flash-image', prompt: 'a lighthouse at dusk' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('cannot be bounded');
    expect(sentBy(u.key)).toHaveLength(0);
    const records = await h.records(u.id);
    expect(records).toEqual([expect.objectContaining({ tool: 'generate_image', outcome: 'refused', reason: 'budget:unknown_price' })]);
    const snapshot = await h.usage(u.id);
    expect(snapshot.usage.daily.spentUsd).toBe(0);
    expect(snapshot.usage.daily.reservedUsd).toBe(0);
  });
});
