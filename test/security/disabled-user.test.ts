/**
 * A user the operator disabled: their personal token and their OAuth access token are refused at once (401), their
 * browser session ends, and signing in again is refused; their data stays, and enabling them restores the same tokens.
 */
import { TEST_ORIGIN as ORIGIN, Browser, obtainCode, startOAuthHarness, tokenRequest, type OAuthHarness } from '../support/oauth.js';
import { exchange, expectOAuthError, mcpStatus, tokensOf, unchanged } from '../oauth/negative-helpers.js';

let h: OAuthHarness;

beforeAll(async () => {
  h = await startOAuthHarness();
});
afterAll(async () => {
  await h.close();
});

test('disabling refuses the personal token, the OAuth access token, the session and a new sign-in; enabling restores them', async () => {
  const browser = new Browser(h.fetch, ORIGIN, { sub: 'sub-dora', email: 'dora@example.com' });
  const obtained = await obtainCode(h, { browser });
  const oauthTokens = await tokensOf(await exchange(h, obtained));
  const dora = (await h.store.findUserByName('dora@example.com'))!;
  const personal = (await h.store.issueToken(dora.userId, { label: 'laptop' })).token;
  expect((await mcpStatus(h, oauthTokens.access_token)).status).toBe(200);
  expect((await mcpStatus(h, personal)).status).toBe(200);
  expect((await browser.get(`${ORIGIN}/app`)).status).toBe(200);

  expect(await h.store.setUserDisabled(dora.userId, true)).toBe(true);
  expect((await mcpStatus(h, oauthTokens.access_token)).status).toBe(401);
  expect((await mcpStatus(h, personal)).status).toBe(401);
  expect((await mcpStatus(h, h.alice.token)).status).toBe(200);
  // The page ends the session instead of showing the account.
  const page = await browser.get(`${ORIGIN}/app`);
  expect(page.status).toBe(302);
  expect(page.headers.get('set-cookie')).toMatch(/ormcp_session=;/);
  // Signing in again is refused.
  const again = await browser.follow(`${ORIGIN}/app/login`);
  expect(again.response?.status).toBe(403);
  expect(await again.response?.text()).toContain('disabled your account');
  // Nothing was removed.
  expect(await h.store.getUser(dora.userId)).toMatchObject({ name: 'dora@example.com', disabledAt: expect.any(String) });
  expect((await h.store.listTokens(dora.userId)).filter((t) => !t.revokedAt)).toHaveLength(1);
  expect((await h.store.listGrants(dora.userId)).filter((g) => !g.revokedAt)).toHaveLength(1);

  expect(await h.store.setUserDisabled(dora.userId, false)).toBe(true);
  expect((await mcpStatus(h, oauthTokens.access_token)).status).toBe(200);
  expect((await mcpStatus(h, personal)).status).toBe(200);
});

test('a disabled user gets no new tokens from a refresh token or a code, and the refused request changes nothing', async () => {
  const browser = new Browser(h.fetch, ORIGIN, { sub: 'sub-ezra', email: 'ezra@example.com' });
  const first = await obtainCode(h, { browser });
  const tokens = await tokensOf(await exchange(h, first));
  const pending = await obtainCode(h, { browser }); // a code issued just before the operator disables the user
  const ezra = (await h.store.findUserByName('ezra@example.com'))!;
  expect(await h.store.setUserDisabled(ezra.userId, true)).toBe(true);

  const refresh = () => tokenRequest(h, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: first.client.client_id });
  const refused = await expectOAuthError(await unchanged(h, refresh), 400, 'invalid_grant');
  expect(refused.error_description).toContain('disabled');
  await expectOAuthError(await unchanged(h, () => exchange(h, pending)), 400, 'invalid_grant');

  // Enabled again, the same refresh token still works: the refusal used nothing up.
  expect(await h.store.setUserDisabled(ezra.userId, false)).toBe(true);
  const renewed = await tokensOf(await refresh());
  expect((await mcpStatus(h, renewed.access_token)).status).toBe(200);
});
