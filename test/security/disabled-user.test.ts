/**
 * A user the operator disabled: their personal token and their OAuth access token are refused at once (401), their
 * browser session ends, and signing in again is refused; their data stays, and enabling them restores the same tokens.
 */
import { TEST_ORIGIN as ORIGIN, Browser, obtainCode, startOAuthHarness, type OAuthHarness } from '../support/oauth.js';
import { exchange, mcpStatus, tokensOf } from '../oauth/negative-helpers.js';

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
