/**
 * A code (or refresh token) whose user was removed in the meantime: the token endpoint answers RFC 6749
 * `invalid_grant` (not a 500), issues nothing and changes nothing stored.
 */
import { TEST_ORIGIN as ORIGIN, Browser, obtainCode, startOAuthHarness, tokenRequest, type OAuthHarness } from '../support/oauth.js';
import { exchange, expectOAuthError, tokensOf, unchanged } from '../oauth/negative-helpers.js';

let h: OAuthHarness;

beforeAll(async () => {
  h = await startOAuthHarness();
});
afterAll(async () => {
  await h.close();
});

async function removeUser(email: string): Promise<void> {
  const user = await h.store.findUserByName(email);
  if (!user) throw new Error(`${email} has not signed in`);
  await h.store.removeUser(user.userId);
}

test('redeeming a code after its user was removed is invalid_grant, and the table stays as it was', async () => {
  const obtained = await obtainCode(h, { browser: new Browser(h.fetch, ORIGIN, { sub: 'sub-rita', email: 'rita@example.com' }) });
  await removeUser('rita@example.com');
  const res = await unchanged(h, () => exchange(h, obtained));
  const body = await expectOAuthError(res, 400, 'invalid_grant');
  expect(body.error_description).not.toContain(obtained.code);
  // Still refused the second time: the first attempt did not consume the code into something usable.
  await expectOAuthError(await unchanged(h, () => exchange(h, obtained)), 400, 'invalid_grant');
  expect(h.logs.join('\n')).not.toContain(obtained.code);
});

test('refreshing after the user was removed is invalid_grant, and the table stays as it was', async () => {
  const obtained = await obtainCode(h, { browser: new Browser(h.fetch, ORIGIN, { sub: 'sub-remy', email: 'remy@example.com' }) });
  const tokens = await tokensOf(await exchange(h, obtained));
  await removeUser('remy@example.com');
  const res = await unchanged(h, () => tokenRequest(h, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: obtained.client.client_id }));
  await expectOAuthError(res, 400, 'invalid_grant');
});
