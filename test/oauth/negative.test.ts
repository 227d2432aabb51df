/**
 * Negative cases of the OAuth façade up to the code: registration (DCR and client ID metadata documents), the
 * redirect URI policy, /oauth/authorize and the consent decision. Each refusal is checked for its exact RFC 6749 /
 * RFC 7591 error and for leaving the table exactly as it was. Token, refresh, /mcp and revocation cases are in
 * negative-tokens.test.ts.
 */
import { TEST_ORIGIN as ORIGIN, Browser, authorizeUrl, csrfOf, hiddenFields, mapMetadataFetcher, obtainCode, registerClient, registerRequest, startOAuthHarness, type OAuthHarness, type RegisteredTestClient } from '../support/oauth.js';
import { dumpTable, tableDiff } from '../support/table.js';
import { continuePath } from '../../lambda/oauth/sign-in.js';
import { RESOURCE, authorizeParams, exchange, expectAccepted, expectErrorPage, expectErrorRedirect, expectOAuthError, mcpStatus, tokensOf, unchanged } from './negative-helpers.js';

const LOOPBACK = 'http://127.0.0.1:9999/callback';
const metadata = mapMetadataFetcher();
let h: OAuthHarness;
/** dave, signed in, with an OpenRouter key: authorizations go straight to the consent page. */
let browser: Browser;
let pub: RegisteredTestClient;

beforeAll(async () => {
  h = await startOAuthHarness({}, { metadataFetcher: metadata });
  browser = new Browser(h.fetch, ORIGIN, { sub: 'sub-dave', email: 'dave@example.com' });
  pub = (await obtainCode(h, { browser })).client;
});
afterAll(async () => {
  await h.close();
});

/** GET /oauth/authorize as dave's browser (signed in) without following the redirect. */
function authorize(params: Record<string, string | string[]>, as: Browser = browser): Promise<Response> {
  return as.get(authorizeUrl(params));
}

describe('dynamic client registration (RFC 7591)', () => {
  test.each([
    ['another site', 'https://evil.example/cb'],
    ['a custom scheme not on the list', 'myapp://oauth/callback'],
    ['a known custom scheme with another path', 'cursor://anysphere.cursor-mcp/oauth/other'],
    ['a fragment', 'http://127.0.0.1:3000/cb#frag'],
    ['an empty fragment', 'http://127.0.0.1:3000/cb#'],
    ['credentials', 'http://user:pass@127.0.0.1:3000/cb'],
    ['a user name only', 'https://user@claude.ai/api/mcp/auth_callback'],
    ['not a URL', 'not a url'],
    ['a relative reference', '/oauth/callback'],
    ['a look-alike host', 'https://chatgpt.com.evil.example/connector_platform_oauth_redirect'],
    ['http instead of https', 'http://chatgpt.com/connector_platform_oauth_redirect'],
    ['a known callback with a query', 'https://claude.ai/api/mcp/auth_callback?next=https://evil.example'],
    ['a known callback on another port', 'https://claude.ai:8443/api/mcp/auth_callback'],
    ['a ChatGPT per-app callback with extra segments', 'https://chatgpt.com/connector/oauth/abc/../../evil'],
    ['https on loopback', 'https://127.0.0.1:3000/cb'],
    ['a loopback look-alike', 'http://127.0.0.1.evil.example:3000/cb'],
  ])('refuses a redirect URI with %s', async (_what, uri) => {
    const res = await unchanged(h, () => registerRequest(h, { client_name: 'X', redirect_uris: [uri], token_endpoint_auth_method: 'none' }));
    await expectOAuthError(res, 400, 'invalid_redirect_uri');
  });

  test('one bad redirect URI among good ones refuses the whole registration', async () => {
    const res = await unchanged(h, () => registerRequest(h, { redirect_uris: [LOOPBACK, 'https://evil.example/cb'], token_endpoint_auth_method: 'none' }));
    await expectOAuthError(res, 400, 'invalid_redirect_uri');
  });

  test.each([
    ['malformed JSON', '{"redirect_uris": [', 'application/json'],
    ['a JSON array', JSON.stringify([{ redirect_uris: [LOOPBACK] }]), 'application/json'],
    ['JSON null', 'null', 'application/json'],
    ['a text/plain body', JSON.stringify({ redirect_uris: [LOOPBACK] }), 'text/plain'],
    ['a form body', `redirect_uris=${encodeURIComponent(LOOPBACK)}`, 'application/x-www-form-urlencoded'],
    ['no redirect_uris', JSON.stringify({ client_name: 'X' }), 'application/json'],
    ['empty redirect_uris', JSON.stringify({ redirect_uris: [] }), 'application/json'],
    ['a redirect URI that is not a string', JSON.stringify({ redirect_uris: [42] }), 'application/json'],
    ['grant type client_credentials', JSON.stringify({ redirect_uris: [LOOPBACK], grant_types: ['client_credentials'] }), 'application/json'],
    ['grant type implicit alongside code', JSON.stringify({ redirect_uris: [LOOPBACK], grant_types: ['authorization_code', 'implicit'] }), 'application/json'],
    ['refresh_token without authorization_code', JSON.stringify({ redirect_uris: [LOOPBACK], grant_types: ['refresh_token'] }), 'application/json'],
    ['response type token', JSON.stringify({ redirect_uris: [LOOPBACK], response_types: ['token'] }), 'application/json'],
    ['response types code and token', JSON.stringify({ redirect_uris: [LOOPBACK], response_types: ['code', 'token'] }), 'application/json'],
    ['an unsupported auth method', JSON.stringify({ redirect_uris: [LOOPBACK], token_endpoint_auth_method: 'private_key_jwt' }), 'application/json'],
    ['a client name with control characters', JSON.stringify({ redirect_uris: [LOOPBACK], client_name: 'Evil\u0007App' }), 'application/json'],
    ['a client_uri that is not a URL', JSON.stringify({ redirect_uris: [LOOPBACK], client_uri: 'not a url' }), 'application/json'],
    ['more than 10 redirect URIs', JSON.stringify({ redirect_uris: Array.from({ length: 11 }, (_, i) => `http://127.0.0.1:${3000 + i}/cb`) }), 'application/json'],
  ])('refuses %s with invalid_client_metadata', async (_what, body, contentType) => {
    const res = await unchanged(h, () => registerRequest(h, body, contentType));
    await expectOAuthError(res, 400, 'invalid_client_metadata');
  });

  test('a confidential registration gets a secret once; only its digest is stored', async () => {
    const client = await registerClient(h, { redirect_uris: [LOOPBACK], token_endpoint_auth_method: 'client_secret_basic' });
    expect(client.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(await dumpTable(h))).not.toContain(client.client_secret);
  });
});

describe('redirect URIs: the documented chat-client callbacks and loopback work, exactly', () => {
  test.each([
    ['ChatGPT (platform callback)', 'https://chatgpt.com/connector_platform_oauth_redirect'],
    ['ChatGPT (per-app callback)', 'https://chatgpt.com/connector/oauth/AbC_123-xyz'],
    ['Claude.ai', 'https://claude.ai/api/mcp/auth_callback'],
    ['Claude (claude.com)', 'https://claude.com/api/mcp/auth_callback'],
    ['loopback 127.0.0.1', 'http://127.0.0.1:33418/callback'],
    ['loopback localhost', 'http://localhost:6274/oauth/callback'],
    ['loopback [::1]', 'http://[::1]:8080/cb'],
  ])('%s: registered, authorized, code delivered there and redeemed', async (_who, uri) => {
    const client = await registerClient(h, { client_name: 'Chat client', redirect_uris: [uri] });
    expect(client.redirect_uris).toEqual([uri]);
    expect((await h.oauth.getClient(client.client_id))?.redirectUris).toEqual([uri]);
    const c = await obtainCode(h, { client, browser });
    expect(c.redirectUri).toBe(uri);
    const tokens = await tokensOf(await exchange(h, c));
    expect((await mcpStatus(h, tokens.access_token)).status).toBe(200);
  });

  test.each([
    ['127.0.0.1', 'http://127.0.0.1:9999/callback', 'http://127.0.0.1:51234/callback'],
    ['localhost', 'http://localhost:3000/cb', 'http://localhost:4000/cb'],
    ['a port-less registration', 'http://127.0.0.1/cb', 'http://127.0.0.1:5555/cb'],
  ])('loopback (%s) may use another port than registered; the code is bound to the URI used', async (_host, registered, used) => {
    const client = await registerClient(h, { redirect_uris: [registered] });
    const c = await obtainCode(h, { client, browser, redirectUri: used });
    const wrongPort = await unchanged(h, () => exchange(h, c, { redirect_uri: registered }));
    await expectOAuthError(wrongPort, 400, 'invalid_grant');
    await tokensOf(await exchange(h, c));
  });

  test.each([
    ['loopback, another path', 'http://127.0.0.1:9999/callback', 'http://127.0.0.1:9999/other'],
    ['loopback, another path and port', 'http://127.0.0.1:9999/callback', 'http://127.0.0.1:5000/other'],
    ['loopback, another host', 'http://127.0.0.1:9999/callback', 'http://localhost:9999/callback'],
    ['loopback, an added query', 'http://127.0.0.1:9999/callback', 'http://127.0.0.1:9999/callback?x=1'],
    ['loopback, https', 'http://127.0.0.1:9999/callback', 'https://127.0.0.1:9999/callback'],
    ['loopback, a fragment', 'http://127.0.0.1:9999/callback', 'http://127.0.0.1:9999/callback#x'],
    ['loopback, another port and a fragment', 'http://127.0.0.1:9999/callback', 'http://127.0.0.1:5000/callback#x'],
    ['loopback, credentials', 'http://127.0.0.1:9999/callback', 'http://user:pw@127.0.0.1:9999/callback'],
    ['Claude, another port', 'https://claude.ai/api/mcp/auth_callback', 'https://claude.ai:8443/api/mcp/auth_callback'],
    ['Claude, the other host', 'https://claude.ai/api/mcp/auth_callback', 'https://claude.com/api/mcp/auth_callback'],
    ['ChatGPT, another app id', 'https://chatgpt.com/connector/oauth/app-one', 'https://chatgpt.com/connector/oauth/app-two'],
    ['another site', 'https://claude.ai/api/mcp/auth_callback', 'https://evil.example/cb'],
  ])('authorize refuses a redirect URI not registered (%s): error page, no redirect', async (_what, registered, used) => {
    const client = await registerClient(h, { redirect_uris: [registered] });
    const res = await unchanged(h, () => authorize(authorizeParams(client, { redirect_uri: used })));
    await expectErrorPage(res);
  });
});

describe('/oauth/authorize', () => {
  let twoRedirects: RegisteredTestClient;
  beforeAll(async () => {
    twoRedirects = await registerClient(h, { redirect_uris: [LOOPBACK, 'http://127.0.0.1:9999/other'] });
  });

  test('accepts the valid request these cases start from', async () => {
    expectAccepted(await authorize(authorizeParams(pub)));
    // Signed out too: on to the identity provider's sign-in.
    const signedOut = await h.fetch(authorizeUrl(authorizeParams(pub)));
    expectAccepted(signedOut);
    expect(signedOut.headers.get('location')!.startsWith(h.cognito.issuer)).toBe(true);
  });

  test.each<[string, (c: RegisteredTestClient) => Record<string, string | string[] | undefined>]>([
    ['an unknown (well-formed) client', () => ({ client_id: 'dcr_AAAAAAAAAAAAAAAAAAAAAA' })],
    ['a malformed client_id', () => ({ client_id: 'nope' })],
    ['no client_id', () => ({ client_id: undefined })],
    ['client_id given twice', (c) => ({ client_id: [c.client_id, c.client_id] })],
    ['a redirect URI not registered', () => ({ redirect_uri: 'https://evil.example/cb' })],
    ['no redirect URI while two are registered', () => ({ redirect_uri: undefined, client_id: twoRedirects.client_id })],
    ['redirect_uri given twice', () => ({ redirect_uri: [LOOPBACK, LOOPBACK] })],
  ])('shows an error page, without redirecting, for %s', async (_what, overrides) => {
    const res = await unchanged(h, () => authorize(authorizeParams(pub, overrides(pub))));
    await expectErrorPage(res);
  });

  test.each([
    ['no PKCE challenge', { code_challenge: undefined }, 'invalid_request'],
    ['no challenge method (plain by default)', { code_challenge_method: undefined }, 'invalid_request'],
    ['plain PKCE', { code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }, 'invalid_request'],
    ['a malformed challenge', { code_challenge: 'too-short' }, 'invalid_request'],
    ['code_challenge twice', { code_challenge: ['a'.repeat(43), 'b'.repeat(43)] }, 'invalid_request'],
    ['code_challenge_method twice', { code_challenge_method: ['S256', 'S256'] }, 'invalid_request'],
    ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
    ['response_type code id_token', { response_type: 'code id_token' }, 'unsupported_response_type'],
    ['no response_type', { response_type: undefined }, 'unsupported_response_type'],
    ['response_type twice', { response_type: ['code', 'code'] }, 'unsupported_response_type'],
    ['another resource', { resource: 'https://other.example/mcp' }, 'invalid_target'],
    ['this server as resource, not its MCP endpoint', { resource: ORIGIN }, 'invalid_target'],
    ['resource twice', { resource: [RESOURCE, RESOURCE] }, 'invalid_target'],
  ])('redirects %s back to the client with the error', async (_what, overrides, error) => {
    const res = await unchanged(h, () => authorize(authorizeParams(pub, overrides)));
    expectErrorRedirect(res, LOOPBACK, error, 'state-1');
  });

  test('redirects state given twice back as invalid_request (with no state: which one would it be?)', async () => {
    const res = await unchanged(h, () => authorize(authorizeParams(pub, { state: ['a', 'b'] })));
    expectErrorRedirect(res, LOOPBACK, 'invalid_request', null);
  });

  test('redirects a state over 1000 characters back as invalid_request (echoed, as RFC 6749 §4.1.2.1 requires)', async () => {
    const state = 'x'.repeat(1001);
    const res = await unchanged(h, () => authorize(authorizeParams(pub, { state })));
    expectErrorRedirect(res, LOOPBACK, 'invalid_request', state);
  });
});

describe('the consent decision', () => {
  /** dave at the consent page for `pub`, with the pending request in his cookies. */
  async function atConsent(): Promise<{ csrf: string; request: string }> {
    const step = await browser.follow(authorizeUrl(authorizeParams(pub)), LOOPBACK);
    expect(step.url).toBe(`${ORIGIN}/oauth/consent`);
    const { csrf, request } = hiddenFields(await step.response!.text(), '/oauth/consent');
    return { csrf: csrf!, request: request! };
  }

  test.each<[string, (csrf: string) => [Record<string, string>, Record<string, string>]]>([
    ['without a CSRF value', () => [{ decision: 'approve' }, {}]],
    ['with a wrong CSRF value', (csrf) => [{ decision: 'approve', csrf: `${csrf.slice(0, -2)}xx` }, {}]],
    ['with a CSRF value of another length', (csrf) => [{ decision: 'approve', csrf: `${csrf}x` }, {}]],
    ['from another origin', (csrf) => [{ decision: 'approve', csrf }, { Origin: 'https://evil.example' }]],
    ['from a null origin', (csrf) => [{ decision: 'approve', csrf }, { Origin: 'null' }]],
  ])('a POST %s is refused with 403 and issues nothing; the real approval still works', async (_what, make) => {
    const { csrf, request } = await atConsent();
    const [form, headers] = make(csrf);
    const res = await unchanged(h, () => browser.post(`${ORIGIN}/oauth/consent`, { ...form, request }, headers));
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 403, location: null });
    const approved = await browser.post(`${ORIGIN}/oauth/consent`, { decision: 'approve', csrf, request });
    expect(approved.status).toBe(303);
    expect(new URL(approved.headers.get('location')!).searchParams.get('code')).toEqual(expect.any(String));
  });

  test.each<[string, (request: string) => Record<string, string>]>([
    ['without the request id', () => ({})],
    ['with an empty request id', () => ({ request: '' })],
    ['with another request id', (request) => ({ request: `${request.slice(0, -2)}xx` })],
    ['with a request id that only contains the real one', (request) => ({ request: `${request},${request}` })],
  ])('a decision %s is refused with 409 and sends nothing anywhere; the real approval still works', async (_what, make) => {
    const { csrf, request } = await atConsent();
    for (const decision of ['approve', 'deny']) {
      const res = await unchanged(h, () => browser.post(`${ORIGIN}/oauth/consent`, { decision, csrf, ...make(request) }));
      expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 409, location: null });
      expect(await res.text()).toContain('This authorization request changed');
    }
    const approved = await browser.post(`${ORIGIN}/oauth/consent`, { decision: 'approve', csrf, request });
    expect(approved.status).toBe(303);
    expect(new URL(approved.headers.get('location')!).searchParams.get('code')).toEqual(expect.any(String));
  });

  test('a POST without a session is refused with 403', async () => {
    const { csrf, request } = await atConsent();
    const stranger = new Browser(h.fetch, ORIGIN);
    const res = await unchanged(h, () => stranger.post(`${ORIGIN}/oauth/consent`, { decision: 'approve', csrf, request }));
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 403, location: null });
  });

  test('deny sends access_denied (with state and iss) to the client and stores nothing', async () => {
    const { csrf, request } = await atConsent();
    const res = await unchanged(h, () => browser.post(`${ORIGIN}/oauth/consent`, { decision: 'deny', csrf, request }));
    expect(res.status).toBe(303);
    const back = new URL(res.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(LOOPBACK);
    expect(Object.fromEntries(back.searchParams)).toEqual({ error: 'access_denied', error_description: expect.any(String), state: 'state-1', iss: ORIGIN });
    // The pending request is gone: approving now has nothing to approve.
    const again = await unchanged(h, () => browser.post(`${ORIGIN}/oauth/consent`, { decision: 'approve', csrf, request }));
    expect({ status: again.status, location: again.headers.get('location') }).toEqual({ status: 400, location: null });
    expect(await again.text()).toContain('Nothing to approve');
  });
});

describe('sign-in at the identity provider (/oauth/callback)', () => {
  /** A signed-out browser sent to the identity provider for `pub`: its login cookie is set; returns our state there. */
  async function startSignIn(): Promise<{ b: Browser; upstreamState: string }> {
    const b = new Browser(h.fetch, ORIGIN, { sub: 'sub-dave', email: 'dave@example.com' });
    const res = await b.get(authorizeUrl(authorizeParams(pub)));
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).toBe(new URL(h.cognito.issuer).origin);
    return { b, upstreamState: location.searchParams.get('state')! };
  }
  const sessionCookies = (res: Response) => res.headers.getSetCookie().filter((c) => c.startsWith('ormcp_session=') && !/max-age=0/i.test(c));

  test('a callback with a state that is not ours is refused and signs no one in', async () => {
    const { b, upstreamState } = await startSignIn();
    const res = await unchanged(h, () => b.get(`${ORIGIN}/oauth/callback?${new URLSearchParams({ code: 'whatever', state: `${upstreamState}x` })}`));
    await expectErrorPage(res);
    expect(sessionCookies(res)).toEqual([]);
  });

  test('a callback without our login cookie is refused and signs no one in', async () => {
    const { upstreamState } = await startSignIn();
    const res = await unchanged(h, () => new Browser(h.fetch, ORIGIN).get(`${ORIGIN}/oauth/callback?${new URLSearchParams({ code: 'whatever', state: upstreamState })}`));
    await expectErrorPage(res);
    expect(sessionCookies(res)).toEqual([]);
  });

  test('a sign-in declined at the identity provider sends access_denied to the client', async () => {
    const { b, upstreamState } = await startSignIn();
    const res = await unchanged(h, () => b.get(`${ORIGIN}/oauth/callback?${new URLSearchParams({ error: 'access_denied', state: upstreamState })}`));
    expect(sessionCookies(res)).toEqual([]);
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(LOOPBACK);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('state-1');
    expect(back.searchParams.has('code')).toBe(false);
  });

  test('a code the identity provider does not accept signs no one in (502 page)', async () => {
    const { b, upstreamState } = await startSignIn();
    const res = await unchanged(h, () => b.get(`${ORIGIN}/oauth/callback?${new URLSearchParams({ code: 'forged-code', state: upstreamState })}`));
    expect(res.headers.get('location')).toBeNull();
    expect(sessionCookies(res)).toEqual([]);
    expect(res.status).toBe(502);
  });

  test('after sign-in, only our own pages are continued to', () => {
    expect(continuePath('/oauth/consent')).toBe('/oauth/consent');
    for (const next of ['https://evil.example/', '//evil.example', '/app/../oauth/token', '/\\evil.example', undefined, 42]) expect(continuePath(next)).toBe('/app');
  });

  test('a user without an OpenRouter key cannot approve: no consent form is shown, and a forged decision issues no code', async () => {
    const nokey = new Browser(h.fetch, ORIGIN, { sub: 'sub-nokey', email: 'nokey@example.com' });
    const step = await nokey.follow(authorizeUrl(authorizeParams(pub)), LOOPBACK);
    const page = await step.response!.text();
    expect(page).toContain('Connect OpenRouter first');
    expect(page).not.toContain('name="decision"');
    const res = await unchanged(h, () => nokey.post(`${ORIGIN}/oauth/consent`, { csrf: csrfOf(page), decision: 'approve' }));
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 409, location: null });
  });
});

describe('client ID metadata documents', () => {
  const docUrl = (name: string) => `https://apps.example/${name}/client.json`;
  const documentFor = (clientId: string, extra: Record<string, unknown> = {}) => ({
    client_id: clientId,
    client_name: 'Doc App',
    redirect_uris: ['http://127.0.0.1:7777/cb'],
    token_endpoint_auth_method: 'none',
    ...extra,
  });
  const asClient = (clientId: string, redirect = 'http://127.0.0.1:7777/cb'): RegisteredTestClient => ({ client_id: clientId, redirect_uris: [redirect], token_endpoint_auth_method: 'none' });

  test('a document client goes through to tokens and /mcp, and nothing is registered for it', async () => {
    const id = docUrl('ok');
    metadata.documents.set(id, documentFor(id));
    const before = await dumpTable(h);
    const c = await obtainCode(h, { client: asClient(id), browser });
    const tokens = await tokensOf(await exchange(h, c));
    expect((await mcpStatus(h, tokens.access_token)).status).toBe(200);
    expect(metadata.fetched).toContain(id);
    const diff = tableDiff(before, await dumpTable(h));
    expect(diff.added.map((i) => i.type).sort()).toEqual(['grant', 'oauth-code', 'oauth-refresh', 'token']);
    expect(diff.added.find((i) => i.type === 'grant')).toMatchObject({ clientId: id, clientName: 'Doc App', audience: RESOURCE });
  });

  test.each<[string, string, (clientId: string) => unknown]>([
    ['names another client_id', 'mismatch', () => documentFor(docUrl('someone-else'))],
    ['lists a redirect URI that is not allowed', 'evil-redirect', (i) => documentFor(i, { redirect_uris: ['https://evil.example/cb'] })],
    ['lists a fragment redirect', 'fragment-redirect', (i) => documentFor(i, { redirect_uris: ['http://127.0.0.1:7777/cb#x'] })],
    ['uses client_secret_basic', 'secret-basic', (i) => documentFor(i, { token_endpoint_auth_method: 'client_secret_basic' })],
    ['uses client_secret_post', 'secret-post', (i) => documentFor(i, { token_endpoint_auth_method: 'client_secret_post' })],
    ['has no client_name', 'no-name', (i) => ({ client_id: i, redirect_uris: ['http://127.0.0.1:7777/cb'] })],
    ['is not an object', 'string', () => 'just a string'],
  ])('a document that %s is refused (error page at authorize, invalid_client at the token endpoint)', async (_what, name, doc) => {
    const clientId = docUrl(name);
    metadata.documents.set(clientId, doc(clientId));
    const res = await unchanged(h, () => authorize(authorizeParams(asClient(clientId))));
    await expectErrorPage(res);
    const token = await unchanged(h, () => exchange(h, { client: asClient(clientId), code: 'a'.repeat(43), verifier: 'v'.repeat(43), redirectUri: 'http://127.0.0.1:7777/cb', state: '', browser }));
    await expectOAuthError(token, 401, 'invalid_client');
  });

  test('a document that cannot be fetched is refused', async () => {
    const res = await unchanged(h, () => authorize(authorizeParams(asClient(docUrl('missing')))));
    expect(await expectErrorPage(res)).toContain('HTTP 404');
  });

  test.each([
    ['http', 'http://apps.example/plain/client.json'],
    ['an IPv4 literal', 'https://203.0.113.7/client.json'],
    ['an IPv6 literal', 'https://[2001:db8::1]/client.json'],
    ['a fragment', 'https://apps.example/frag/client.json#x'],
    ['an empty fragment', 'https://apps.example/frag2/client.json#'],
    ['credentials', 'https://user:pw@apps.example/creds/client.json'],
    ['no path', 'https://apps.example/'],
    ['dot segments', 'https://apps.example/a/../dots/client.json'],
    ['a non-normalized host', 'https://APPS.example/upper/client.json'],
  ])('a client_id URL with %s is refused without being fetched', async (_what, clientId) => {
    // The document would be valid: only the URL check stands between it and a fetch.
    metadata.documents.set(clientId, documentFor(clientId));
    const fetchedBefore = metadata.fetched.length;
    const res = await unchanged(h, () => authorize(authorizeParams(asClient(clientId))));
    await expectErrorPage(res);
    expect(metadata.fetched.slice(fetchedBefore)).toEqual([]);
  });

  test('a document client cannot authenticate with a secret at the token endpoint', async () => {
    const clientId = docUrl('with-secret');
    metadata.documents.set(clientId, documentFor(clientId));
    const c = await obtainCode(h, { client: asClient(clientId), browser });
    const res = await unchanged(h, () => exchange(h, c, { client_secret: 'guessed' }));
    await expectOAuthError(res, 401, 'invalid_client');
    await tokensOf(await exchange(h, c));
  });
});
