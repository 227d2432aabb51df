/**
 * A real OAuth-capable MCP client (the SDK v2 client's OAuthClientProvider) with no pre-shared credentials goes
 * from the bare URL to a tool call over real HTTP: 401 → protected-resource metadata → authorization-server
 * metadata → dynamic registration → authorize (the "browser" step: sign-in at the Cognito stand-in, connect
 * OpenRouter through its OAuth PKCE page, consent) → code → token → tools/call. Then it lives on refresh.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalServer } from '../../lambda/local/node-adapter.js';
import { textOf } from '../support/harness.js';
import { startNpmStart, type NpmStart } from '../support/npm-start.js';
import { beginAuthorization, HeadlessProvider } from '../support/oauth-client-provider.js';
import { Browser, csrfOf, hiddenFields, startOAuthHarness, TEST_OIDC_CLIENT_ID, type OAuthHarness } from '../support/oauth.js';

const REDIRECT = 'http://127.0.0.1:45454/oauth/callback';

let h: OAuthHarness;
let server: LocalServer;

beforeAll(async () => {
  h = await startOAuthHarness();
  server = await h.listen();
});
afterAll(async () => {
  await h.close();
});

/** Bare URL → 401 → discovery → DCR → authorize → browser step → token; returns the connected provider. */
async function authorizeThroughBrowser(serverUrl: string, who: { sub: string; email: string }): Promise<{ provider: HeadlessProvider; mcpUrl: URL }> {
  const provider = new HeadlessProvider(REDIRECT, 'Headless MCP test client');
  const { first, mcpUrl, authUrl } = await beginAuthorization(serverUrl, provider, 'headless-oauth');
  expect(authUrl.searchParams.get('resource')).toBe(mcpUrl.toString());
  expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');

  // The person at the browser: signs in (a first-time user), connects OpenRouter, allows the client.
  const browser = new Browser(fetch, serverUrl, who);
  let step = await browser.follow(authUrl.toString(), REDIRECT);
  let page = await step.response!.text();
  expect(page).toContain('Connect OpenRouter first');
  const connect = await browser.post(`${serverUrl}/app/openrouter/connect`, { csrf: csrfOf(page), next: '/oauth/consent' });
  step = await browser.follow(`${serverUrl}/app/openrouter/connect`, REDIRECT, connect);
  page = await step.response!.text();
  expect(page).toContain('Allow Headless MCP test client?');
  const decided = await browser.post(`${serverUrl}/oauth/consent`, { ...hiddenFields(page, '/oauth/consent'), decision: 'approve' });
  const callback = new URL(decided.headers.get('location')!);
  expect(callback.origin + callback.pathname).toBe(REDIRECT);

  await first.finishAuth(callback.searchParams);
  expect(provider.saved?.access_token).toMatch(/^ormcp_/);
  expect(provider.saved?.refresh_token).toMatch(/^ormcr_/);
  return { provider, mcpUrl };
}

async function callEcho(mcpUrl: URL, provider: HeadlessProvider, text: string): Promise<string> {
  const client = new Client({ name: 'headless-oauth', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
  const result = await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'fake/echo', messages: [{ role: 'user', content: text }] } });
  await client.close();
  expect(result.isError).toBeFalsy();
  return textOf(result);
}

test('the SDK client completes discovery → registration → authorize → sign-in → token, then calls a tool', async () => {
  const { provider, mcpUrl } = await authorizeThroughBrowser(server.url, { sub: 'sub-dana', email: 'dana@example.com' });
  expect(await callEcho(mcpUrl, provider, 'through oauth')).toContain('through oauth');
  // The key OpenRouter's OAuth page handed over is the one the call used.
  expect(h.fake.calls('/chat/completions').at(-1)!.apiKey).toMatch(/^sk-or-v1-oauth-/);

  // A revoked (or expired) access token: the client refreshes on its own and carries on.
  const principal = (await h.store.authenticate(provider.saved!.access_token))!;
  await h.store.revokeToken(principal.tokenId);
  const before = provider.saved!.refresh_token;
  expect(await callEcho(mcpUrl, provider, 'after refresh')).toContain('after refresh');
  expect(provider.saved!.refresh_token).not.toBe(before);
});

describe('against `npm start`', () => {
  let npmStart: NpmStart;
  const dataDir = mkdtempSync(join(tmpdir(), 'ormcp-oauth-'));

  beforeAll(async () => {
    npmStart = await startNpmStart({
      ORMCP_DATA_DIR: dataDir,
      OPENROUTER_BASE_URL: h.fake.baseUrl,
      ORMCP_OPENROUTER_AUTH_URL: h.fake.authUrl,
      ORMCP_OIDC_ISSUER: h.cognito.issuer,
      ORMCP_OIDC_CLIENT_ID: TEST_OIDC_CLIENT_ID,
    });
  }, 40_000);

  afterAll(async () => {
    await npmStart?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a client with no credentials gets from the bare URL to a tool call', async () => {
    const { provider, mcpUrl } = await authorizeThroughBrowser(npmStart.url, { sub: 'sub-erin', email: 'erin@example.com' });
    expect(await callEcho(mcpUrl, provider, 'npm start oauth')).toContain('npm start oauth');
  });
});
