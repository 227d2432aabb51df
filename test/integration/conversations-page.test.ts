/**
 * The self-service page's Conversations card, through the real handler: a signed-in user sees their stored
 * conversations (title escaped, models, turns) and deletes one with a CSRF-checked form post; a post without the CSRF
 * value, from another origin, or naming another user's conversation deletes nothing.
 */
import { TEST_ORIGIN as ORIGIN, Browser, csrfOf, startOAuthHarness, type OAuthHarness } from '../support/oauth.js';

let h: OAuthHarness;

beforeAll(async () => {
  h = await startOAuthHarness();
});
afterAll(async () => {
  await h.close();
});

async function signedIn(name: string): Promise<{ browser: Browser; userId: string }> {
  const email = `${name}@example.com`;
  const browser = new Browser(h.fetch, ORIGIN, { sub: `sub-${name}`, email });
  const dashboard = await browser.follow(`${ORIGIN}/app/login`);
  expect(dashboard.url).toBe(`${ORIGIN}/app`);
  return { browser, userId: (await h.store.findUserByName(email))!.userId };
}

async function seed(userId: string, text: string): Promise<string> {
  const store = h.conversations!;
  const id = store.newId();
  await store.append(userId, id, { turns: [{ role: 'user', content: text }, { role: 'assistant', content: 'ok' }], model: 'openai/gpt-4o', costUsd: 0.012 }, { create: true });
  return id;
}

test('the page lists the user\'s conversations (escaped) and deletes one with the CSRF-checked form', async () => {
  const { browser, userId } = await signedIn('erin');
  const id = await seed(userId, '<script>alert(1)</script> plan the trip');
  const page = await (await browser.get(`${ORIGIN}/app`)).text();
  expect(page).toContain(`data-conversation-id="${id}"`);
  expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt; plan the trip');
  expect(page).not.toContain('<script>alert(1)');
  expect(page).toContain('openai/gpt-4o');

  const csrf = csrfOf(page);
  const forged = await browser.post(`${ORIGIN}/app/conversations/delete`, { csrf: 'wrong', conversation_id: id });
  expect(forged.status).toBe(403);
  const crossSite = await browser.post(`${ORIGIN}/app/conversations/delete`, { csrf, conversation_id: id }, { Origin: 'https://evil.example' });
  expect(crossSite.status).toBe(403);
  expect(await h.conversations!.load(userId, id)).toBeDefined();

  const deleted = await browser.post(`${ORIGIN}/app/conversations/delete`, { csrf, conversation_id: id });
  expect(deleted.status).toBe(303);
  expect(deleted.headers.get('location')).toBe(`${ORIGIN}/app`);
  expect(await h.conversations!.load(userId, id)).toBeUndefined();
  expect(await (await browser.get(`${ORIGIN}/app`)).text()).toContain('No stored conversations.');
});

test('another user\'s conversation cannot be deleted from the page', async () => {
  const { browser } = await signedIn('finn');
  const victimId = await seed(h.alice.id, 'alice only');
  const csrf = csrfOf(await (await browser.get(`${ORIGIN}/app`)).text());
  const res = await browser.post(`${ORIGIN}/app/conversations/delete`, { csrf, conversation_id: victimId });
  expect(res.status).toBe(404);
  expect(await h.conversations!.load(h.alice.id, victimId)).toBeDefined();
  const malformed = await browser.post(`${ORIGIN}/app/conversations/delete`, { csrf, conversation_id: 'CONV#x' });
  expect(malformed.status).toBe(404);
});
