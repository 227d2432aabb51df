/**
 * A real OAuth-capable MCP client (the SDK v2 client's OAuthClientProvider) with no pre-shared credentials goes
 * from the bare URL to a tool call over real HTTP: 401 → protected-resource metadata → authorization-server
 * metadata → dynamic registration → authorize (the "browser" step: sign-in at the Cognito stand-in, connect
 * OpenRouter through its OAuth PKCE page, consent) → code → token → tools/call. Then it lives on refresh.
 */
import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
} from '@modelcontextprotocol/client';
import type { LocalServer } from '../../lambda/local/node-adapter.js';
import { textOf } from '../support/harness.js';
import { Browser, csrfOf, startOAuthHarness, type OAuthHarness } from '../support/oauth.js';

const REDIRECT = 'http://127.0.0.1:45454/oauth/callback';

/** Everything a desktop client would keep on disk, kept in memory; the browser step is recorded, not opened. */
class HeadlessProvider implements OAuthClientProvider {
  info?: StoredOAuthClientInformation;
  saved?: StoredOAuthTokens;
  verifier = '';
  discovery?: OAuthDiscoveryState;
  authorizationUrl?: URL;
  readonly clientMetadataUrl = undefined;

  get redirectUrl(): string {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'Headless MCP test client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: StoredOAuthClientInformation) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: StoredOAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
}

let h: OAuthHarness;
let server: LocalServer;

beforeAll(async () => {
  h = await startOAuthHarness();
  server = await h.listen();
});
afterAll(async () => {
  await h.close();
});

test('the SDK client completes discovery → registration → authorize → sign-in → token, then calls a tool', async () => {
  const mcpUrl = new URL(`${server.url}/mcp`);
  const provider = new HeadlessProvider();
  const client = new Client({ name: 'headless-oauth', version: '1.0.0' });
  const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
  await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.info?.client_id).toMatch(/^dcr_/);
  const authUrl = provider.authorizationUrl!;
  expect(authUrl.toString().startsWith(`${server.url}/oauth/authorize?`)).toBe(true);
  expect(authUrl.searchParams.get('resource')).toBe(mcpUrl.toString());
  expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');

  // The person at the browser: signs in (a first-time user), connects OpenRouter, allows the client.
  const browser = new Browser(fetch, server.url, { sub: 'sub-dana', email: 'dana@example.com' });
  let step = await browser.follow(authUrl.toString(), REDIRECT);
  let page = await step.response!.text();
  expect(page).toContain('Connect OpenRouter first');
  step = await browser.follow(`${server.url}/app/openrouter/connect?next=/oauth/consent`, REDIRECT);
  page = await step.response!.text();
  expect(page).toContain('Allow Headless MCP test client?');
  const decided = await browser.post(`${server.url}/oauth/consent`, { csrf: csrfOf(page), decision: 'approve' });
  const callback = new URL(decided.headers.get('location')!);
  expect(callback.origin + callback.pathname).toBe(REDIRECT);

  await first.finishAuth(callback.searchParams);
  expect(provider.saved?.access_token).toMatch(/^ormcp_/);
  expect(provider.saved?.refresh_token).toMatch(/^ormcr_/);

  const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
  await client.connect(transport);
  const result = await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'fake/echo', messages: [{ role: 'user', content: 'through oauth' }] } });
  expect(result.isError).toBeFalsy();
  expect(textOf(result)).toContain('through oauth');
  // The key OpenRouter's OAuth page handed over is the one the call used.
  expect(h.fake.calls('/chat/completions').at(-1)!.apiKey).toMatch(/^sk-or-v1-oauth-/);
  await client.close();

  // An expired or revoked access token: the client refreshes on its own and carries on.
  const grant = (await h.store.authenticate(provider.saved!.access_token))!;
  await h.store.revokeToken(grant.tokenId);
  const again = new Client({ name: 'headless-oauth', version: '1.0.0' });
  await again.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
  const listed = await again.listTools();
  expect(listed.tools.length).toBeGreaterThanOrEqual(6);
  await again.close();
});
