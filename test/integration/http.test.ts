/** The HTTP surface of the one handler: routing, methods, size, origin and authentication guards. */
import { AccountStore } from '../../lambda/store/account-store.js';
import { startHarness, type Harness } from '../support/harness.js';
import { rpcMessages } from '../support/json-bodies.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ maxBodyBytes: 64 * 1024 });
});
afterAll(async () => {
  await h.close();
});

const URL_MCP = 'http://127.0.0.1/mcp';
const MCP_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const listTools = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

function post(body: string, headers: Record<string, string> = {}) {
  return h.fetch(URL_MCP, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body });
}

/** Parse a JSON or single-event SSE response body into its JSON-RPC message. */
async function message(res: Response): Promise<{ result?: Record<string, unknown>; error?: { code: number; message: string } }> {
  return rpcMessages(res.headers.get('content-type'), await res.text()).at(-1) as { result?: Record<string, unknown>; error?: { code: number; message: string } };
}

describe('routing and methods', () => {
  test.each(['GET', 'DELETE', 'PUT', 'PATCH'])('%s /mcp is 405 with Allow: POST', async (method) => {
    const res = await h.fetch(URL_MCP, { method, headers: { Authorization: `Bearer ${h.alice.token}` } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  test('unknown paths are 404 with a hint', async () => {
    const res = await h.fetch('http://127.0.0.1/nope', { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });

  test('the root page names the MCP endpoint', async () => {
    const res = await h.fetch('http://127.0.0.1/');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('/mcp');
  });

  test('a trailing slash reaches the same endpoint', async () => {
    const res = await h.fetch('http://127.0.0.1/mcp/', { method: 'POST', headers: { ...MCP_HEADERS, Authorization: `Bearer ${h.alice.token}` }, body: listTools });
    expect(res.status).toBe(200);
  });

  test('a million slashes before a last segment are routed in linear time (a backtracking trim took minutes)', async () => {
    // /\/+$/ tried from every slash of the run and failed at the "x" each time: quadratic in the run's length.
    const res = await h.fetch(`http://127.0.0.1/${'/'.repeat(1_000_000)}x`, { method: 'POST', headers: MCP_HEADERS, body: listTools });
    expect(res.status).toBe(404);
    const slashes = await h.fetch(`http://127.0.0.1/mcp${'/'.repeat(1_000_000)}`, { method: 'POST', headers: { ...MCP_HEADERS, Authorization: `Bearer ${h.alice.token}` }, body: listTools });
    expect(slashes.status).toBe(200);
  });
});

describe('authentication', () => {
  test('no Authorization header: 401 with a Bearer challenge (no error code) pointing at the resource metadata', async () => {
    const res = await post(listTools);
    expect(res.status).toBe(401);
    // RFC 6750: no error code without credentials; RFC 9728: where to find out how to get a token.
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="openrouter-mcp", resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp", scope="mcp"');
    expect(await res.json()).toMatchObject({ error: 'invalid_token' });
  });

  test.each([
    ['a random string', 'Bearer not-a-token'],
    ['a well-formed but unknown token', `Bearer ormcp_0123456789abcdef_${'A'.repeat(43)}`],
    ['a known id with a wrong secret', 'WRONG_SECRET'],
    ['the wrong scheme', 'Basic dXNlcjpwYXNz'],
    ['an empty bearer', 'Bearer '],
    ['an overlong token', `Bearer ${'x'.repeat(5000)}`],
  ])('%s: 401 invalid_token', async (_name, header) => {
    const value = header === 'WRONG_SECRET' ? `Bearer ormcp_${h.alice.tokenId}_${'B'.repeat(43)}` : header;
    const res = await post(listTools, { Authorization: value });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
  });

  test('a revoked token stops working at once; other tokens keep working', async () => {
    const { token, info } = await h.store.issueToken(h.alice.id, { label: 'to revoke' });
    expect((await post(listTools, { Authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await h.store.revokeToken(info.tokenId)).revokedAt).toBeDefined();
    expect((await post(listTools, { Authorization: `Bearer ${token}` })).status).toBe(401);
    expect((await post(listTools, { Authorization: `Bearer ${h.alice.token}` })).status).toBe(200);
  });

  test('an expired token is refused', async () => {
    let now = new Date();
    const clocked = new AccountStore({ client: h.dynamo.client, tableName: h.dynamo.tableName, keyring: h.keyring, now: () => now });
    const { token } = await clocked.issueToken(h.alice.id, { label: 'expiring', expiresAt: new Date(now.getTime() + 60_000) });
    expect(await clocked.authenticate(token)).toBeDefined();
    now = new Date(now.getTime() + 61_000);
    expect(await clocked.authenticate(token)).toBeUndefined();
    // and through the handler, whose store has the real clock, the token still works until it expires
    expect((await post(listTools, { Authorization: `Bearer ${token}` })).status).toBe(200);
  });

  test('the scheme is case-insensitive', async () => {
    expect((await post(listTools, { Authorization: `bearer ${h.alice.token}` })).status).toBe(200);
  });
});

describe('guards', () => {
  test('a body over the limit is 413 before authentication or parsing', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'x'.repeat(70 * 1024) } });
    const res = await post(big, { Authorization: `Bearer ${h.alice.token}` });
    expect(res.status).toBe(413);
  });

  test('a chunked body over the limit (no Content-Length) is 413 too', async () => {
    const payload = new TextEncoder().encode(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'y'.repeat(70 * 1024) } }));
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(payload);
        c.close();
      },
    });
    const res = await h.fetch(URL_MCP, {
      method: 'POST',
      headers: { ...MCP_HEADERS, Authorization: `Bearer ${h.alice.token}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  test('a foreign Origin is 403; localhost origins are allowed with CORS headers', async () => {
    const bad = await post(listTools, { Authorization: `Bearer ${h.alice.token}`, Origin: 'https://evil.example' });
    expect(bad.status).toBe(403);
    const good = await post(listTools, { Authorization: `Bearer ${h.alice.token}`, Origin: 'http://localhost:6274' });
    expect(good.status).toBe(200);
    expect(good.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
  });

  test('the opaque "null" Origin is refused', async () => {
    const res = await post(listTools, { Authorization: `Bearer ${h.alice.token}`, Origin: 'null' });
    expect(res.status).toBe(403);
  });

  test('CORS preflight from an allowed origin answers 204 and allows Authorization', async () => {
    const res = await h.fetch(URL_MCP, { method: 'OPTIONS', headers: { Origin: 'http://localhost:6274', 'Access-Control-Request-Method': 'POST' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')).toContain('Authorization');
  });

  test('malformed JSON is a JSON-RPC parse error, not a 5xx', async () => {
    const res = await post('{"jsonrpc":', { Authorization: `Bearer ${h.alice.token}` });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect((await message(res)).error?.code).toBe(-32700);
  });

  test('a wrong Content-Type is refused with 4xx', async () => {
    const res = await post(listTools, { Authorization: `Bearer ${h.alice.token}`, 'Content-Type': 'text/plain' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

describe('keep-alive', () => {
  test.each([
    ['2025-11-25', {}],
    ['2026-07-28', { 'Mcp-Method': 'tools/call', 'Mcp-Name': 'send_chat_completion_request' }],
  ])('a slow generation without a progress token still sends bytes while it waits (%s)', async (version, extra) => {
    const k = await startHarness({ sseKeepAliveMs: 100 });
    try {
      const meta = version === '2026-07-28'
        ? { _meta: { 'io.modelcontextprotocol/protocolVersion': version, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } }
        : {};
      const res = await k.fetch(URL_MCP, {
        method: 'POST',
        headers: { ...MCP_HEADERS, Authorization: `Bearer ${k.alice.token}`, 'Mcp-Protocol-Version': version, ...extra },
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'send_chat_completion_request', arguments: { model: 'fake/slow', messages: [{ role: 'user', content: 'x' }] }, ...meta } }),
      });
      const body = await res.text();
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      // SSE comment frames (": …") arrived between the events while the fake upstream was slow.
      expect(body.split('\n').some((line) => line.startsWith(':'))).toBe(true);
      expect(body).toContain('one two three four five six');
    } finally {
      await k.close();
    }
  });
});

describe('both protocol eras on one endpoint', () => {
  test('2025-era initialize works statelessly and advertises tools', async () => {
    const res = await post(initialize, { Authorization: `Bearer ${h.alice.token}` });
    expect(res.status).toBe(200);
    const msg = await message(res);
    expect(msg.result).toMatchObject({ protocolVersion: '2025-11-25', serverInfo: { name: 'openrouter-mcp' }, capabilities: { tools: {} } });
    expect(res.headers.get('mcp-session-id')).toBeNull();
  });

  test('2026-07-28 server/discover works on the same endpoint', async () => {
    const discover = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'server/discover',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } },
    });
    const res = await post(discover, { Authorization: `Bearer ${h.alice.token}`, 'Mcp-Protocol-Version': '2026-07-28', 'Mcp-Method': 'server/discover' });
    const msg = await message(res);
    expect(msg.error).toBeUndefined();
    expect(JSON.stringify(msg.result)).toContain('2026-07-28');
  });
});
