/**
 * The operator page over HTTP: refused (403) to a signed-in user who is not an admin, for the page and its form
 * posts, without changing anything; a user the operator marks (`ormcp user admin`, the local server's way) gets it
 * from their next sign-in, and losing the mark takes it away again at the next sign-in.
 */
import { TEST_ORIGIN as ORIGIN, Browser, csrfOf, startOAuthHarness, type OAuthHarness } from '../support/oauth.js';

let h: OAuthHarness;

beforeAll(async () => {
  h = await startOAuthHarness({ admin: { group: 'ormcp-admins' } });
});
afterAll(async () => {
  await h.close();
});

async function signIn(browser: Browser): Promise<void> {
  const landed = await browser.follow(`${ORIGIN}/app/login`);
  expect(landed.response?.status).toBe(200);
}

test('a marked user gets /admin from their next sign-in; others get 403 and change nothing', async () => {
  const browser = new Browser(h.fetch, ORIGIN, { sub: 'sub-otto', email: 'otto@example.com' });
  await signIn(browser);
  const otto = (await h.store.findUserByName('otto@example.com'))!;
  const csrf = csrfOf(await (await browser.get(`${ORIGIN}/app`)).text());

  expect((await browser.get(`${ORIGIN}/admin`)).status).toBe(403);
  expect((await browser.post(`${ORIGIN}/admin/users/disable`, { csrf, user_id: h.bob.id })).status).toBe(403);
  expect((await browser.post(`${ORIGIN}/admin/budget`, { csrf, user_id: h.bob.id, daily: 'none', weekly: '', monthly: '' })).status).toBe(403);
  expect(await h.store.getUser(h.bob.id)).not.toHaveProperty('disabledAt');
  expect(await h.ledger.getBudgetOverride(h.bob.id)).toEqual({});

  // Marked: the session from before still says no; the next sign-in says yes.
  await h.store.setUserAdmin(otto.userId, true);
  expect((await browser.get(`${ORIGIN}/admin`)).status).toBe(403);
  await signIn(browser);
  const page = await browser.get(`${ORIGIN}/admin`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('data-user="bob"');

  // A form post without this session's CSRF value is refused even for an admin.
  expect((await browser.post(`${ORIGIN}/admin/users/disable`, { csrf: 'x'.repeat(32), user_id: h.bob.id })).status).toBe(403);
  expect(await h.store.getUser(h.bob.id)).not.toHaveProperty('disabledAt');

  await h.store.setUserAdmin(otto.userId, false);
  await signIn(browser);
  expect((await browser.get(`${ORIGIN}/admin`)).status).toBe(403);
});
