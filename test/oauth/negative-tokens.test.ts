/**
 * Negative cases of the OAuth façade from the code on: the token endpoint (authorization_code with PKCE, client
 * authentication), refresh rotation and reuse, the audience and grant checks on /mcp, and revocation (RFC 7009).
 * Each refusal is checked for its exact RFC 6749 error and for leaving the table exactly as it was, except where
 * the spec asks for a change (a replayed code or a reused refresh token revokes the grant): that change is asserted
 * item by item.
 */
import { TEST_ORIGIN as ORIGIN, Browser, basicAuth, obtainCode, registerClient, startOAuthHarness, tokenRequest, type OAuthHarness, type ObtainedCode, type RegisteredTestClient } from '../support/oauth.js';
import { dumpTable, tableDiff } from '../support/table.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { RESOURCE, exchange, expectOAuthError, mcpStatus, tokensOf, unchanged, type Tokens } from './negative-helpers.js';

const LOOPBACK = 'http://127.0.0.1:9999/callback';
let h: OAuthHarness;
let browser: Browser;
let pub: RegisteredTestClient;
let other: RegisteredTestClient;
let erinId: string;

beforeAll(async () => {
  h = await startOAuthHarness();
  browser = new Browser(h.fetch, ORIGIN, { sub: 'sub-erin', email: 'erin@example.com' });
  pub = (await obtainCode(h, { browser })).client;
  other = await registerClient(h, { client_name: 'Other', redirect_uris: [LOOPBACK] });
  erinId = (await h.store.findUserByName('erin@example.com'))!.userId;
});
afterAll(async () => {
  await h.close();
});

const code = (client: RegisteredTestClient = pub): Promise<ObtainedCode> => obtainCode(h, { client, browser });
const refresh = (refreshToken: string, client: RegisteredTestClient = pub, extra: Record<string, string> = {}) =>
  tokenRequest(h, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id, ...extra });
const revoke = (token: string, client: RegisteredTestClient = pub, extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
  tokenRequest(h, { token, client_id: client.client_id, ...extra }, headers, '/oauth/revoke');

async function grantIdOf(accessToken: string): Promise<string> {
  return (await h.store.verifiedTokenGrant(accessToken))!.grantId;
}

/** Asserts that exactly one thing changed in the table: the grant, which is now revoked. */
async function expectOnlyGrantRevoked(before: Record<string, unknown>[], grantId: string): Promise<void> {
  const diff = tableDiff(before, await dumpTable(h));
  expect(diff.added).toEqual([]);
  expect(diff.removed).toEqual([]);
  expect(diff.changed.map((c) => c.after.pk)).toEqual([`GRANT#${grantId}`]);
  expect(diff.changed[0]!.before.revokedAt).toBeUndefined();
  expect(diff.changed[0]!.after.revokedAt).toEqual(expect.any(String));
}

/** Both tokens of a grant are dead: the access token on /mcp, the refresh token at the token endpoint. */
async function expectDead(tokens: Tokens, client: RegisteredTestClient = pub): Promise<void> {
  expect(await mcpStatus(h, tokens.access_token)).toEqual({ status: 401, challenge: expect.stringMatching(/^Bearer .*resource_metadata="/) });
  await expectOAuthError(await unchanged(h, () => refresh(tokens.refresh_token, client)), 400, 'invalid_grant');
}

describe('authorization_code', () => {
  test('a wrong PKCE verifier is invalid_grant, and the code still works with the right one', async () => {
    const c = await code();
    const res = await unchanged(h, () => exchange(h, c, { code_verifier: `${c.verifier.slice(0, -1)}${c.verifier.endsWith('A') ? 'B' : 'A'}` }));
    await expectOAuthError(res, 400, 'invalid_grant');
    const tokens = await tokensOf(await exchange(h, c));
    expect((await mcpStatus(h, tokens.access_token)).status).toBe(200);
  });

  test.each([
    ['a well-formed unknown code', 'A'.repeat(43)],
    ['a malformed code', 'not-a-code'],
  ])('%s is invalid_grant', async (_what, value) => {
    const c = await code();
    await expectOAuthError(await unchanged(h, () => exchange(h, c, { code: value })), 400, 'invalid_grant');
  });

  test('two concurrent redemptions of one code: at most one gets tokens', async () => {
    const c = await code();
    const results = await Promise.all([exchange(h, c), exchange(h, c)]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(1);
    for (const r of results) if (r.status !== 200) await expectOAuthError(r, 400, 'invalid_grant');
    // The code was used twice, so whatever one of them got is revoked as well (whether it won a race or came first).
    const winner = results.find((r) => r.status === 200);
    if (winner) expect(await h.store.authenticate(((await winner.json()) as { access_token: string }).access_token)).toBeUndefined();
  });

  test.each([
    ['another path', 'http://127.0.0.1:9999/other'],
    ['another loopback port (exact match here)', 'http://127.0.0.1:1234/callback'],
    ['another site', 'https://evil.example/cb'],
  ])('a redirect_uri different from the authorization request (%s) is invalid_grant; the code still works', async (_what, redirectUri) => {
    const c = await code();
    await expectOAuthError(await unchanged(h, () => exchange(h, c, { redirect_uri: redirectUri })), 400, 'invalid_grant');
    await tokensOf(await exchange(h, c));
  });

  test('a code issued to another client is invalid_grant for that client, and still works for its own', async () => {
    const c = await code();
    await expectOAuthError(await unchanged(h, () => exchange(h, c, { client_id: other.client_id })), 400, 'invalid_grant');
    await tokensOf(await exchange(h, c));
  });

  test('a replayed code is invalid_grant and revokes what the first exchange issued', async () => {
    const c = await code();
    const first = await tokensOf(await exchange(h, c));
    expect((await mcpStatus(h, first.access_token)).status).toBe(200);
    const grantId = await grantIdOf(first.access_token);
    const before = await dumpTable(h);
    await expectOAuthError(await exchange(h, c), 400, 'invalid_grant');
    await expectOnlyGrantRevoked(before, grantId);
    await expectDead(first);
    // A replay by another client (who stole the code) ends the grant just the same.
    const c2 = await code();
    const second = await tokensOf(await exchange(h, c2));
    const grantId2 = await grantIdOf(second.access_token);
    const before2 = await dumpTable(h);
    await expectOAuthError(await exchange(h, c2, { client_id: other.client_id }), 400, 'invalid_grant');
    await expectOnlyGrantRevoked(before2, grantId2);
    await expectDead(second);
  });

  test('an expired code is invalid_grant (the same code unexpired works)', async () => {
    const c = await code();
    const record = { clientId: pub.client_id, userId: erinId, redirectUri: LOOPBACK, codeChallenge: (await h.oauth.getCode(c.code))!.codeChallenge, resource: RESOURCE, scope: 'mcp' };
    const expired = await h.oauth.createCode({ ...record, expiresAt: new Date(Date.now() - 1000).toISOString() });
    await expectOAuthError(await unchanged(h, () => exchange(h, { ...c, code: expired })), 400, 'invalid_grant');
    const fresh = await h.oauth.createCode({ ...record, expiresAt: new Date(Date.now() + 60_000).toISOString() });
    await tokensOf(await exchange(h, { ...c, code: fresh }));
  });

  test.each([
    ['too short', 'a'.repeat(42)],
    ['too long', 'a'.repeat(129)],
    ['with a character outside the unreserved set', `${'a'.repeat(42)}!`],
    ['with a space', `${'a'.repeat(21)} ${'a'.repeat(21)}`],
  ])('a malformed verifier (%s) is invalid_request; the code still works', async (_what, verifier) => {
    const c = await code();
    await expectOAuthError(await unchanged(h, () => exchange(h, c, { code_verifier: verifier })), 400, 'invalid_request');
    await tokensOf(await exchange(h, c));
  });

  test.each(['code', 'redirect_uri', 'code_verifier', 'grant_type'])('a request without %s is invalid_request', async (param) => {
    const c = await code();
    await expectOAuthError(await unchanged(h, () => exchange(h, c, { [param]: undefined })), 400, 'invalid_request');
    await tokensOf(await exchange(h, c));
  });

  test.each(['client_credentials', 'password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer'])(
    'grant_type %s is unsupported_grant_type',
    async (grantType) => {
      const c = await code();
      await expectOAuthError(await unchanged(h, () => exchange(h, c, { grant_type: grantType })), 400, 'unsupported_grant_type');
    },
  );

  test.each([
    ['another resource', 'https://other.example/mcp'],
    ['the server base rather than its MCP endpoint', ORIGIN],
  ])('resource = %s is invalid_target; the code still works', async (_what, resource) => {
    const c = await code();
    await expectOAuthError(await unchanged(h, () => exchange(h, c, { resource })), 400, 'invalid_target');
    await tokensOf(await exchange(h, c));
  });

  test('a parameter given twice is invalid_request', async () => {
    const c = await code();
    const body = new URLSearchParams({ grant_type: 'authorization_code', code: c.code, redirect_uri: c.redirectUri, code_verifier: c.verifier, client_id: pub.client_id });
    body.append('code', c.code);
    const res = await unchanged(h, () => h.fetch(`${ORIGIN}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body }));
    await expectOAuthError(res, 400, 'invalid_request');
    await tokensOf(await exchange(h, c));
  });

  test('a body over 16 KiB, or one declaring it, is invalid_request with 413', async () => {
    const c = await code();
    const padded = new URLSearchParams({ grant_type: 'authorization_code', code: c.code, redirect_uri: c.redirectUri, code_verifier: c.verifier, client_id: pub.client_id, pad: 'x'.repeat(17 * 1024) });
    const big = await unchanged(h, () => h.fetch(`${ORIGIN}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: padded.toString() }));
    await expectOAuthError(big, 413, 'invalid_request');
    const honest = new URLSearchParams({ grant_type: 'authorization_code', code: c.code, redirect_uri: c.redirectUri, code_verifier: c.verifier, client_id: pub.client_id }).toString();
    const declared = await unchanged(h, () =>
      h.fetch(`${ORIGIN}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(64 * 1024) }, body: honest }),
    );
    await expectOAuthError(declared, 413, 'invalid_request');
    await tokensOf(await exchange(h, c));
  });

  test('a JSON body is invalid_request', async () => {
    const c = await code();
    const res = await unchanged(h, () =>
      h.fetch(`${ORIGIN}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ grant_type: 'authorization_code', code: c.code, redirect_uri: c.redirectUri, code_verifier: c.verifier, client_id: pub.client_id }),
      }),
    );
    await expectOAuthError(res, 400, 'invalid_request');
  });

  test('an unknown client, a missing client_id, or a public client sending a secret is invalid_client (401)', async () => {
    const c = await code();
    for (const overrides of [{ client_id: 'dcr_AAAAAAAAAAAAAAAAAAAAAA' }, { client_id: undefined }, { client_secret: 'not-a-secret' }]) {
      const res = await unchanged(h, () => exchange(h, c, overrides));
      expect(res.headers.get('www-authenticate')).toEqual(expect.any(String));
      await expectOAuthError(res, 401, 'invalid_client');
    }
    await tokensOf(await exchange(h, c));
  });
});

describe('confidential clients', () => {
  let basicClient: RegisteredTestClient;
  let postClient: RegisteredTestClient;
  beforeAll(async () => {
    basicClient = await registerClient(h, { client_name: 'Basic', redirect_uris: [LOOPBACK], token_endpoint_auth_method: 'client_secret_basic' });
    postClient = await registerClient(h, { client_name: 'Post', redirect_uris: [LOOPBACK], token_endpoint_auth_method: 'client_secret_post' });
  });

  test('client_secret_basic: no secret, a wrong one, or the right one in the body is invalid_client; Basic was tried → WWW-Authenticate: Basic', async () => {
    const c = await code(basicClient);
    const secret = basicClient.client_secret!;
    const noSecret = await unchanged(h, () => exchange(h, c));
    expect(noSecret.headers.get('www-authenticate')).toEqual(expect.any(String));
    await expectOAuthError(noSecret, 401, 'invalid_client');

    const wrong = await unchanged(h, () => exchange(h, c, { client_id: undefined }, { Authorization: basicAuth(basicClient.client_id, `${secret}x`) }));
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    await expectOAuthError(wrong, 401, 'invalid_client');

    const otherId = await unchanged(h, () => exchange(h, c, { client_id: undefined }, { Authorization: basicAuth(postClient.client_id, secret) }));
    expect(otherId.headers.get('www-authenticate')).toMatch(/^Basic /);
    await expectOAuthError(otherId, 401, 'invalid_client');

    const inBody = await unchanged(h, () => exchange(h, c, { client_secret: secret }));
    await expectOAuthError(inBody, 401, 'invalid_client');

    const idMismatch = await unchanged(h, () => exchange(h, c, { client_id: other.client_id }, { Authorization: basicAuth(basicClient.client_id, secret) }));
    await expectOAuthError(idMismatch, 401, 'invalid_client');

    const both = await unchanged(h, () => exchange(h, c, { client_secret: secret }, { Authorization: basicAuth(basicClient.client_id, secret) }));
    await expectOAuthError(both, 400, 'invalid_request');

    await tokensOf(await exchange(h, c, { client_id: undefined }, { Authorization: basicAuth(basicClient.client_id, secret) }));
  });

  test('client_secret_post: a wrong secret, Basic instead, or another client’s secret is invalid_client', async () => {
    const c = await code(postClient);
    const secret = postClient.client_secret!;
    const wrong = await unchanged(h, () => exchange(h, c, { client_secret: `${secret.slice(0, -1)}${secret.endsWith('a') ? 'b' : 'a'}` }));
    expect(wrong.headers.get('www-authenticate')).not.toMatch(/^Basic/);
    await expectOAuthError(wrong, 401, 'invalid_client');
    await expectOAuthError(await unchanged(h, () => exchange(h, c, { client_id: undefined }, { Authorization: basicAuth(postClient.client_id, secret) })), 401, 'invalid_client');
    await expectOAuthError(await unchanged(h, () => exchange(h, c, { client_secret: basicClient.client_secret! })), 401, 'invalid_client');
    await tokensOf(await exchange(h, c, { client_secret: secret }));
  });

  test('a refresh by a confidential client needs its secret too', async () => {
    const c = await code(postClient);
    const tokens = await tokensOf(await exchange(h, c, { client_secret: postClient.client_secret! }));
    await expectOAuthError(await unchanged(h, () => refresh(tokens.refresh_token, postClient)), 401, 'invalid_client');
    await tokensOf(await refresh(tokens.refresh_token, postClient, { client_secret: postClient.client_secret! }));
  });
});

describe('refresh_token', () => {
  async function freshTokens(): Promise<Tokens> {
    return tokensOf(await exchange(h, await code()));
  }

  test.each([
    ['a well-formed unknown token', `ormcr_0123456789abcdef_${'A'.repeat(43)}`],
    ['garbage', 'not-a-token'],
  ])('%s is invalid_grant', async (_what, token) => {
    await expectOAuthError(await unchanged(h, () => refresh(token)), 400, 'invalid_grant');
  });

  test('a known token id with a forged secret is invalid_grant and burns nothing', async () => {
    const tokens = await freshTokens();
    const forged = `${tokens.refresh_token.slice(0, 23)}${'A'.repeat(43)}`;
    await expectOAuthError(await unchanged(h, () => refresh(forged)), 400, 'invalid_grant');
    await tokensOf(await refresh(tokens.refresh_token));
  });

  test('an access token is not a refresh token', async () => {
    const tokens = await freshTokens();
    await expectOAuthError(await unchanged(h, () => refresh(tokens.access_token)), 400, 'invalid_grant');
  });

  test("another client's token is invalid_grant and does not burn it", async () => {
    const tokens = await freshTokens();
    await expectOAuthError(await unchanged(h, () => refresh(tokens.refresh_token, other)), 400, 'invalid_grant');
    const rotated = await tokensOf(await refresh(tokens.refresh_token));
    expect((await mcpStatus(h, rotated.access_token)).status).toBe(200);
  });

  test('an expired token is invalid_grant and changes nothing', async () => {
    const tokens = await freshTokens();
    const grantId = await grantIdOf(tokens.access_token);
    const details = { grantId, clientId: pub.client_id, userId: erinId };
    const expired = await h.oauth.issueRefreshToken({ ...details, expiresAt: new Date(Date.now() - 1000).toISOString() });
    await expectOAuthError(await unchanged(h, () => refresh(expired)), 400, 'invalid_grant');
    // The same record unexpired refreshes: only the expiry stood in the way.
    const live = await h.oauth.issueRefreshToken({ ...details, expiresAt: new Date(Date.now() + 60_000).toISOString() });
    await tokensOf(await refresh(live));
  });

  test('a rotated-out token coming back is invalid_grant and revokes the grant (every token on it)', async () => {
    const tokens = await freshTokens();
    const rotated = await tokensOf(await refresh(tokens.refresh_token));
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    const grantId = await grantIdOf(rotated.access_token);
    const before = await dumpTable(h);
    await expectOAuthError(await refresh(tokens.refresh_token), 400, 'invalid_grant');
    await expectOnlyGrantRevoked(before, grantId);
    await expectDead(rotated);
    await expectDead(tokens);
  });

  test('a rotated-out token that has since expired still counts as reuse: the grant is revoked', async () => {
    const tokens = await freshTokens();
    const grantId = await grantIdOf(tokens.access_token);
    const old = await h.oauth.issueRefreshToken({ grantId, clientId: pub.client_id, userId: erinId, expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect(await h.oauth.useRefreshToken(old.split('_')[1]!)).toBe(true);
    const before = await dumpTable(h);
    await expectOAuthError(await refresh(old), 400, 'invalid_grant');
    await expectOnlyGrantRevoked(before, grantId);
    await expectDead(tokens);
  });

  test('two concurrent refreshes with one token: at most one gets tokens', async () => {
    const tokens = await freshTokens();
    const results = await Promise.all([refresh(tokens.refresh_token), refresh(tokens.refresh_token)]);
    expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
    for (const r of results) if (r.status !== 200) await expectOAuthError(r, 400, 'invalid_grant');
  });

  test('after the user revokes everything, refresh is invalid_grant and access tokens are refused', async () => {
    const tokens = await freshTokens();
    expect(await h.store.revokeAllTokens(erinId)).toBeGreaterThan(0);
    await expectDead(tokens);
  });

  test('a grant revoked on its own (e.g. from the connected-apps page) ends refresh and access', async () => {
    const tokens = await freshTokens();
    await h.store.revokeGrant(await grantIdOf(tokens.access_token));
    await expectDead(tokens);
  });

  test('without refresh_token it is invalid_request; with another resource, invalid_target', async () => {
    const tokens = await freshTokens();
    await expectOAuthError(await unchanged(h, () => tokenRequest(h, { grant_type: 'refresh_token', client_id: pub.client_id })), 400, 'invalid_request');
    await expectOAuthError(await unchanged(h, () => refresh(tokens.refresh_token, pub, { resource: 'https://other.example/mcp' })), 400, 'invalid_target');
    await tokensOf(await refresh(tokens.refresh_token, pub, { resource: RESOURCE }));
  });
});

describe('/mcp accepts OAuth access tokens only for this resource and a live grant', () => {
  async function tokenFor(audience: string): Promise<string> {
    const grant = await h.store.createGrant(erinId, { clientId: pub.client_id, clientName: 'Direct', audience, scope: 'mcp' });
    return (await h.store.issueToken(erinId, { grant, expiresAt: new Date(Date.now() + 60_000) })).token;
  }

  test('a token whose grant is for another resource is 401 (the same token for this resource works)', async () => {
    const foreign = await tokenFor('https://other.example/mcp');
    expect(await unchanged(h, () => mcpStatus(h, foreign))).toEqual({ status: 401, challenge: expect.stringMatching(/^Bearer .*resource_metadata="/) });
    expect((await mcpStatus(h, await tokenFor(RESOURCE))).status).toBe(200);
  });

  test('a refresh token used as a bearer token is 401', async () => {
    const tokens = await tokensOf(await exchange(h, await code()));
    expect(await unchanged(h, () => mcpStatus(h, tokens.refresh_token))).toEqual({ status: 401, challenge: expect.stringMatching(/^Bearer /) });
  });

  test('an access token after its grant is revoked is 401', async () => {
    const tokens = await tokensOf(await exchange(h, await code()));
    expect((await mcpStatus(h, tokens.access_token)).status).toBe(200);
    await h.store.revokeGrant(await grantIdOf(tokens.access_token));
    expect(await unchanged(h, () => mcpStatus(h, tokens.access_token))).toEqual({ status: 401, challenge: expect.stringMatching(/^Bearer /) });
  });

  test('an expired access token is 401', async () => {
    // Issued by a store whose clock is an hour behind, so the token is already expired by the real clock.
    const past = new AccountStore({ client: h.dynamo.client, tableName: h.dynamo.tableName, keyring: h.keyring, now: () => new Date(Date.now() - 3600_000) });
    const grant = await past.createGrant(erinId, { clientId: pub.client_id, clientName: 'Direct', audience: RESOURCE, scope: 'mcp' });
    const expired = (await past.issueToken(erinId, { grant, expiresAt: new Date(Date.now() - 1000) })).token;
    expect(await unchanged(h, () => mcpStatus(h, expired))).toEqual({ status: 401, challenge: expect.stringMatching(/^Bearer /) });
  });

  test("a grant cannot be used to mint a token for another user", async () => {
    const grant = await h.store.createGrant(erinId, { clientId: pub.client_id, clientName: 'Direct', audience: RESOURCE, scope: 'mcp' });
    await expect(unchanged(h, () => h.store.issueToken(h.bob.id, { grant, expiresAt: new Date(Date.now() + 60_000) }))).rejects.toThrow(/another user/);
  });
});

describe('revocation (RFC 7009)', () => {
  test.each(['refresh_token', 'access_token'] as const)('the owning client revoking its %s ends the whole grant', async (kind) => {
    const tokens = await tokensOf(await exchange(h, await code()));
    const grantId = await grantIdOf(tokens.access_token);
    const before = await dumpTable(h);
    const res = await revoke(tokens[kind]);
    expect(res.status).toBe(200);
    await expectOnlyGrantRevoked(before, grantId);
    await expectDead(tokens);
  });

  test.each(['refresh_token', 'access_token'] as const)("another client's %s is ignored (200, nothing changes, it keeps working)", async (kind) => {
    const tokens = await tokensOf(await exchange(h, await code()));
    const res = await unchanged(h, () => revoke(tokens[kind], other));
    expect(res.status).toBe(200);
    expect((await mcpStatus(h, tokens.access_token)).status).toBe(200);
    await tokensOf(await refresh(tokens.refresh_token));
  });

  test.each(['refresh_token', 'access_token'] as const)('a forged %s (a real token id, another secret) is ignored by its own client', async (kind) => {
    const tokens = await tokensOf(await exchange(h, await code()));
    const forged = `${tokens[kind].slice(0, 23)}${'A'.repeat(43)}`;
    expect(forged).not.toBe(tokens[kind]);
    expect((await unchanged(h, () => revoke(forged))).status).toBe(200);
    expect((await mcpStatus(h, tokens.access_token)).status).toBe(200);
  });

  test('an unknown token is 200 and changes nothing; a personal token is not revoked through OAuth', async () => {
    expect((await unchanged(h, () => revoke(`ormcr_0123456789abcdef_${'A'.repeat(43)}`))).status).toBe(200);
    expect((await unchanged(h, () => revoke(h.alice.token))).status).toBe(200);
    expect(await h.store.authenticate(h.alice.token)).toBeDefined();
  });

  test('no token (or an absurdly long one) is invalid_request; an unauthenticated client is invalid_client', async () => {
    await expectOAuthError(await unchanged(h, () => tokenRequest(h, { client_id: pub.client_id }, {}, '/oauth/revoke')), 400, 'invalid_request');
    await expectOAuthError(await unchanged(h, () => revoke('x'.repeat(301))), 400, 'invalid_request');
    const conf = await registerClient(h, { redirect_uris: [LOOPBACK], token_endpoint_auth_method: 'client_secret_post' });
    const tokens = await tokensOf(await exchange(h, await code(conf), { client_secret: conf.client_secret! }));
    await expectOAuthError(await unchanged(h, () => revoke(tokens.refresh_token, conf, { client_secret: 'wrong' })), 401, 'invalid_client');
    await expectOAuthError(await unchanged(h, () => revoke(tokens.refresh_token, conf)), 401, 'invalid_client');
    expect((await mcpStatus(h, tokens.access_token)).status).toBe(200);
  });
});
