/**
 * The Conversations card in headless Chromium against the real handler over HTTP on loopback: a signed-in user's
 * conversations started from a real MCP client are listed, Delete asks first (dismissing changes nothing), and
 * accepting removes the conversation, which the MCP client can then no longer continue. No CSP violation or script
 * error on the way.
 */
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import type { LocalServer } from '../../lambda/local/node-adapter.js';
import { connectV2 } from '../support/harness.js';
import { startOAuthHarness, type OAuthHarness } from '../support/oauth.js';
import { launchChromium } from './chromium.js';

const LOGIN = { sub: 'sub-quinn', email: 'quinn@example.com' };

let h: OAuthHarness;
let server: LocalServer;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  h = await startOAuthHarness();
  server = await h.listen();
  base = server.url;
  context = await browser.newContext({ viewport: { width: 1000, height: 760 }, locale: 'en-US' });
  context.setDefaultTimeout(8_000);
  // The Cognito stand-in signs in whoever its /authorize URL names (see self-service.test.ts).
  const issuer = new URL(h.cognito.issuer);
  await context.route((url: URL) => url.origin === base && url.pathname === '/app/login', async (route: Route) => {
    const response = await route.fetch({ maxRedirects: 0 });
    const location = new URL(response.headers()['location'] ?? '', base);
    if (location.origin !== issuer.origin) return route.fulfill({ response });
    location.searchParams.set('login_sub', LOGIN.sub);
    location.searchParams.set('login_email', LOGIN.email);
    return route.fulfill({ response, headers: { ...response.headers(), location: location.toString() } });
  });
  page = await context.newPage();
  page.on('console', (msg) => {
    if (/content security policy/i.test(msg.text())) problems.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
}, 30_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await h?.close();
});

afterEach(() => {
  expect(problems).toEqual([]);
});

test('conversations from an MCP client are listed; Delete asks first, then removes the conversation', async () => {
  await page.goto(`${base}/app/login`);
  await page.waitForURL(`${base}/app`);
  await page.getByText('No stored conversations.').waitFor();

  // Quinn connects a key and chats from a real MCP client with a personal token.
  const user = (await h.store.findUserByName(LOGIN.email))!;
  const key = 'sk-or-v1-quinn-0123456789abcdef0123';
  h.fake.addKey(key);
  await h.store.setOpenRouterKey(user.userId, key);
  const { token } = await h.store.issueToken(user.userId, { label: 'test' });
  const client = await connectV2(token, { url: `${base}/mcp` });
  const first = (await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Plan a trip to Lisbon' }] } })) as { structuredContent: { conversation_id: string } };
  const id = first.structuredContent.conversation_id;

  await page.reload();
  const row = page.locator(`tr[data-conversation-id="${id}"]`);
  await expect(row.textContent()).resolves.toContain('Plan a trip to Lisbon');
  await expect(row.textContent()).resolves.toContain('openai/gpt-4o');

  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    void d.dismiss();
  });
  await row.getByRole('button', { name: 'Delete conversation Plan a trip to Lisbon' }).click();
  expect(asked).toContain('Delete this conversation?');
  expect(await h.conversations!.load(user.userId, id)).toBeDefined();

  page.once('dialog', (d) => void d.accept());
  await row.getByRole('button', { name: 'Delete conversation Plan a trip to Lisbon' }).click();
  await page.getByText('No stored conversations.').waitFor();
  expect(await h.conversations!.load(user.userId, id)).toBeUndefined();

  const again = (await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'fake/echo', conversation_id: id, messages: [{ role: 'user', content: 'and?' }] } })) as { isError?: boolean };
  expect(again.isError).toBe(true);
  await client.close();
});
