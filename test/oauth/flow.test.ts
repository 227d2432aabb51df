/**
 * The OAuth dance end to end, in-process: discovery → registration → authorize → sign-in at the Cognito stand-in
 * → connect OpenRouter → consent → code → tokens → /mcp, then refresh rotation and reuse detection.
 */
import { connectV2, IN_PROCESS_URL, textOf } from '../support/harness.js';
import { Browser, csrfOf, hiddenFields, pkcePair, startOAuthHarness, type OAuthHarness } from '../support/oauth.js';

const ORIGIN = 'http://127.0.0.1';
const REDIRECT = 'http://127.0.0.1:9999/callback';
let h: OAuthHarness;

beforeAll(async () => {
  h = await startOAuthHarness();
});
afterAll(async () => {
  await h.close();
});

async function register(body: Record<string, unknown>): Promise<Response> {
  return h.fetch(`${ORIGIN}/oauth/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

async function token(form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return h.fetch(`${ORIGIN}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) });
}

test('a new user goes from the bare URL to a tool call through OAuth', async () => {
  // 1. The client is refused and told where to discover the authorization server.
  const denied = await h.fetch(IN_PROCESS_URL, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });
  expect(denied.status).toBe(401);
  const challenge = denied.headers.get('www-authenticate')!;
  const prmUrl = /resource_metadata="([^"]+)"/.exec(challenge)![1]!;
  expect(challenge).toContain('scope="mcp"');
  const prm = (await (await h.fetch(prmUrl)).json()) as { resource: string; authorization_servers: string[] };
  expect(prm.resource).toBe(`${ORIGIN}/mcp`);
  const asMeta = (await (await h.fetch(`${prm.authorization_servers[0]}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
  expect(asMeta.code_challenge_methods_supported).toEqual(['S256']);

  // 2. Registration.
  const reg = await register({ client_name: 'Test Client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
  expect(reg.status).toBe(201);
  const client = (await reg.json()) as { client_id: string; client_secret?: string };
  expect(client.client_secret).toBeUndefined();

  // 3. Authorization in a browser: sign in, connect a key (new user), consent.
  const { verifier, challenge: codeChallenge } = pkcePair();
  const authorize = `${asMeta.authorization_endpoint as string}?${new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: codeChallenge, code_challenge_method: 'S256', state: 'xyz', resource: prm.resource, scope: 'mcp' })}`;
  const browser = new Browser(h.fetch, ORIGIN, { sub: 'sub-carol', email: 'carol@example.com' });
  let step = await browser.follow(authorize, REDIRECT);
  expect(step.url).toBe(`${ORIGIN}/oauth/consent`);
  let page = await step.response!.text();
  expect(page).toContain('Connect OpenRouter first');
  const carolKey = 'sk-or-v1-carol-0123456789abcdef';
  h.fake.addKey(carolKey);
  const saved = await browser.post(`${ORIGIN}/app/key`, { csrf: csrfOf(page), key: carolKey, next: '/oauth/consent' });
  expect(saved.status).toBe(303);
  step = await browser.follow(new URL(saved.headers.get('location')!, ORIGIN).toString(), REDIRECT);
  page = await step.response!.text();
  expect(page).toContain('Allow Test Client?');
  const decided = await browser.post(`${ORIGIN}/oauth/consent`, { ...hiddenFields(page, '/oauth/consent'), decision: 'approve' });
  expect(decided.status).toBe(303);
  const back = new URL(decided.headers.get('location')!);
  expect(back.origin + back.pathname).toBe(REDIRECT);
  expect(back.searchParams.get('state')).toBe('xyz');
  expect(back.searchParams.get('iss')).toBe(ORIGIN);
  const code = back.searchParams.get('code')!;

  // 4. Token exchange.
  const tokRes = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: client.client_id, resource: prm.resource });
  expect(tokRes.status).toBe(200);
  expect(tokRes.headers.get('cache-control')).toBe('no-store');
  const tokens = (await tokRes.json()) as { access_token: string; refresh_token: string; token_type: string; expires_in: number; scope: string };
  expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'mcp' });

  // 5. The access token works on /mcp with carol's own key.
  const mcp = await connectV2(tokens.access_token, { fetch: h.fetch });
  const result = await mcp.callTool({ name: 'send_chat_completion_request', arguments: { model: 'fake/echo', messages: [{ role: 'user', content: 'hello oauth' }] } });
  expect(result.isError).toBeFalsy();
  expect(textOf(result)).toContain('hello oauth');
  await mcp.close();
  expect(h.fake.calls('/chat/completions').at(-1)!.apiKey).toBe(carolKey);
  // The Cognito subject became a user named by the verified email, holding the pasted key.
  const carol = (await h.store.findUserByName('carol@example.com'))!;
  expect(await h.store.getOpenRouterKey(carol.userId)).toBe(carolKey);

  // 6. Refresh rotates; the old refresh token coming back revokes the whole grant.
  const r1 = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.client_id });
  expect(r1.status).toBe(200);
  const rotated = (await r1.json()) as { access_token: string; refresh_token: string };
  expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
  expect(await h.store.authenticate(rotated.access_token)).toBeDefined();
  const reuse = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.client_id });
  expect(reuse.status).toBe(400);
  expect(((await reuse.json()) as { error: string }).error).toBe('invalid_grant');
  expect(await h.store.authenticate(rotated.access_token)).toBeUndefined();
  expect(await h.store.authenticate(tokens.access_token)).toBeUndefined();
  const afterFamilyRevoked = await token({ grant_type: 'refresh_token', refresh_token: rotated.refresh_token, client_id: client.client_id });
  expect(afterFamilyRevoked.status).toBe(400);
});

describe('with an operator management key', () => {
  const MANAGEMENT_KEY = 'sk-or-v1-management-0123456789abcdef';
  let hm: OAuthHarness;
  beforeAll(async () => {
    hm = await startOAuthHarness({ provisionedKeyLimitUsd: 20 }, { managementKey: MANAGEMENT_KEY });
    hm.fake.managementKeys.add(MANAGEMENT_KEY);
  });
  afterAll(async () => {
    await hm.close();
  });

  test('a first sign-in gets a key with the configured limit, created automatically; a later one keeps it', async () => {
    const browser = new Browser(hm.fetch, ORIGIN, { sub: 'sub-frank', email: 'frank@example.com' });
    const step = await browser.follow(`${ORIGIN}/app/login`);
    expect(step.url).toBe(`${ORIGIN}/app`);
    expect(await step.response!.text()).toContain('data-testid="key-usage"');
    const created = hm.fake.calls('/keys');
    expect(created).toHaveLength(1);
    expect(created[0]!.apiKey).toBe(MANAGEMENT_KEY);
    expect(created[0]!.body).toMatchObject({ name: 'MCP: frank@example.com', limit: 20 });
    expect(hm.fake.violations).toEqual([]);
    const user = (await hm.store.findUserByName('frank@example.com'))!;
    const key = (await hm.store.getOpenRouterKey(user.userId))!;
    expect(key).toMatch(/^sk-or-v1-provisioned-/);
    // The management key itself never becomes a user's key, and signing in again creates nothing new.
    await new Browser(hm.fetch, ORIGIN, { sub: 'sub-frank', email: 'frank@example.com' }).follow(`${ORIGIN}/app/login`);
    expect(hm.fake.calls('/keys')).toHaveLength(1);
    expect(await hm.store.getOpenRouterKey(user.userId)).toBe(key);
  });
});
