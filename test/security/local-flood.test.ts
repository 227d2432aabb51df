/**
 * Attack (issue: one token can crash `npm start`): one token holder sends 50 tools/call requests of ~3.9 MB each
 * at once to the local server, started as `npm start` starts it (its node flags and heap size). Before admission
 * control, 20 such bodies exhausted the heap and the process died. Now the excess is turned away with 503 and
 * Retry-After before its body is read, and afterwards the server answers a normal request.
 */
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { startNpmStartServer, type LoadServer } from '../load/server.js';

const OPENROUTER_KEY = 'sk-or-v1-flood-test-key-000000000000';
const BODIES = 50;
const BODY_BYTES = 3.9 * 1024 * 1024;

let fake: FakeOpenRouter;
let server: LoadServer;

beforeAll(async () => {
  fake = new FakeOpenRouter([OPENROUTER_KEY]);
  await fake.start();
  // Admitted calls stay in flight while the rest of the burst arrives.
  fake.responseDelayMs = 1_000;
  server = await startNpmStartServer(fake.baseUrl, OPENROUTER_KEY);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await fake?.stop();
});

function post(body: string): Promise<Response> {
  return fetch(server.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${server.token}` },
    body,
  });
}

function bigCall(id: number): string {
  const padding = 'x'.repeat(BODY_BYTES);
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'send_chat_completion_request', arguments: { model: 'fake/echo', max_tokens: 8, messages: [{ role: 'user', content: padding }] } },
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('50 concurrent 3.9 MB tools/call bodies: the excess gets 503 + Retry-After, the server stays up and answers', async () => {
  const outcomes = await Promise.all(
    Array.from({ length: BODIES }, async (_, i) => {
      try {
        const res = await post(bigCall(i + 1));
        const text = await res.text();
        return { status: res.status, retryAfter: res.headers.get('retry-after'), text };
      } catch (err) {
        return { status: 0, retryAfter: null, text: String((err as Error).cause ?? err) };
      }
    }),
  );
  const statuses = outcomes.map((o) => o.status);
  // Every answer is a real HTTP answer: admitted (200) or turned away (503 with Retry-After) — no dropped connection.
  expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
  expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
  expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
  for (const o of outcomes.filter((x) => x.status === 503)) {
    expect(o.retryAfter).toMatch(/^\d+$/);
    expect(JSON.parse(o.text)).toMatchObject({ jsonrpc: '2.0', error: { code: -32000, message: expect.stringMatching(/busy.*retry/i) } });
  }
  // The admitted calls really reached the (fake) upstream and came back as tool results.
  expect(outcomes.find((o) => o.status === 200)?.text).toContain('"result"');

  expect(alive(server.pid)).toBe(true);
  const res = await post(JSON.stringify({ jsonrpc: '2.0', id: 999, method: 'tools/list' }));
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('send_chat_completion_request');
  expect(alive(server.pid)).toBe(true);
}, 120_000);
