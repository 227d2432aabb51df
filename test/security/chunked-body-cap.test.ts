/**
 * Attack (issue: bodies read whole before their size is checked): a chunked POST (no Content-Length) far over the
 * limit to each endpoint that reads a body. Each must answer 413 having pulled only about the limit from the
 * stream — before, the OAuth endpoints and the pages read it all (one 150 MB POST to /oauth/token took the
 * server's RSS from 111 MB to 558 MB). The assertion is on bytes consumed, not on time or memory.
 */
import { Browser, startOAuthHarness, TEST_ORIGIN, type OAuthHarness } from '../support/oauth.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** What the attacker offers: far beyond any limit. */
const OFFERED = 64 * MiB;
const CHUNK = 64 * KiB;
/** The forms' and registration's limit (http/form.ts), and the harness's MCP body limit. */
const FORM_LIMIT = 16 * KiB;
const MCP_LIMIT = 256 * KiB;
/** Read-ahead allowed past a limit: the stream's queue and the request's own buffering, a few chunks at most. */
const SLACK = 8 * CHUNK;

let h: OAuthHarness;
let session: string;

beforeAll(async () => {
  h = await startOAuthHarness({ maxBodyBytes: MCP_LIMIT });
  const browser = new Browser(h.fetch, TEST_ORIGIN, { sub: 'sub-chunky', email: 'chunky@example.com' });
  await browser.follow(`${TEST_ORIGIN}/app`);
  session = browser.cookie(TEST_ORIGIN, 'ormcp_session')!;
  expect(session).toBeDefined();
});
afterAll(async () => {
  await h?.close();
});

/** A body of `total` bytes of `fill`, produced only as it is read; `pulled()` says how much was. */
function meteredBody(fill: string): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const chunk = new TextEncoder().encode(fill.repeat(CHUNK / fill.length));
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= OFFERED) return controller.close();
      pulled += chunk.byteLength;
      controller.enqueue(chunk.slice());
    },
  });
  return { stream, pulled: () => pulled };
}

async function postChunked(path: string, headers: Record<string, string>, fill: string): Promise<{ status: number; text: string; pulled: number }> {
  const body = meteredBody(fill);
  const res = await h.fetch(`${TEST_ORIGIN}${path}`, { method: 'POST', headers, body: body.stream, duplex: 'half' } as RequestInit);
  const text = await res.text();
  return { status: res.status, text, pulled: body.pulled() };
}

test.each([
  ['/oauth/token', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'a'],
  ['/oauth/register', { 'Content-Type': 'application/json' }, ' '],
])('%s: a chunked body over the limit is 413 after reading about the limit', async (path, headers, fill) => {
  const res = await postChunked(path, headers, fill);
  expect(res.status).toBe(413);
  expect(JSON.parse(res.text)).toMatchObject({ error: 'invalid_request', error_description: `The body is larger than ${FORM_LIMIT} bytes.` });
  expect(res.pulled).toBeLessThanOrEqual(FORM_LIMIT + SLACK);
});

test('a signed-in /app form: a chunked body over the limit is a 413 page after reading about the limit', async () => {
  const res = await postChunked('/app/key', { 'Content-Type': 'application/x-www-form-urlencoded', Origin: TEST_ORIGIN, Cookie: `ormcp_session=${session}` }, 'a');
  expect(res.status).toBe(413);
  expect(res.text).toContain('Request too large');
  expect(res.pulled).toBeLessThanOrEqual(FORM_LIMIT + SLACK);
});

test('/mcp: a chunked body over the limit is 413 after reading about the limit', async () => {
  const res = await postChunked('/mcp', { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${h.alice.token}` }, ' ');
  expect(res.status).toBe(413);
  expect(res.pulled).toBeLessThanOrEqual(MCP_LIMIT + SLACK);
});
