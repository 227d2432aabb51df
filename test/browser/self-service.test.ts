/**
 * The self-service pages in headless Chromium against the real handler over HTTP on loopback: sign in at the Cognito
 * stand-in, copy the MCP URL, connect a key (pasted, then through OpenRouter's PKCE flow, confirming the
 * replacement), see its usage, create a personal token, use it from a real MCP client, revoke it, approve an OAuth
 * client on the consent page and disconnect it, remove the key, sign out; and a new user arriving from an MCP client,
 * who connects OpenRouter inside the authorization and then denies it.
 * Every page is checked for CSP violations and for secrets that must not be on it.
 */
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { connectV2, textOf } from '../support/harness.js';
import { pkcePair, startOAuthHarness, type OAuthHarness } from '../support/oauth.js';
import type { LocalServer } from '../../lambda/local/node-adapter.js';
import { PageProblems, Screenshots, launchChromium } from './chromium.js';

const LOGIN = { sub: 'sub-dana', email: 'dana@example.com' };
const PASTED_KEY = 'sk-or-v1-dana-pasted-0123456789abcdef';

let h: OAuthHarness;
let server: LocalServer;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let shots: Screenshots;
// Every page of ours, errors included, comes with the strict policy.
const problems = new PageProblems((url) => url.startsWith(base));
/** Secrets that may appear on no page at all (the one-time token page is checked separately). */
const neverShown: string[] = [];

beforeAll(async () => {
  // The browser first: without Chromium the suite fails right here, before anything needs closing.
  browser = await launchChromium();
  [h, shots] = await Promise.all([startOAuthHarness(), Screenshots.create()]);
  server = await h.listen();
  base = server.url;
  neverShown.push(PASTED_KEY, ...h.secrets());
  ({ context, page } = await openBrowserContext(LOGIN));
}, 30_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await h?.close();
});

afterEach(async () => {
  if (!page) return;
  // Whatever page a step ends on holds no secret, and the browser reported no CSP violation or script error.
  const text = await page.content();
  for (const s of neverShown) expect(text).not.toContain(s);
  problems.expectNone();
});

/**
 * A fresh browser profile for one person. The Cognito stand-in signs in whoever its /authorize URL names; Chromium
 * follows redirects inside its network stack, where routes do not see them, so the responses of ours that start a
 * sign-in (the redirect to /authorize) get the identity added to their Location.
 */
async function openBrowserContext(login: { sub: string; email: string }): Promise<{ context: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 760 }, colorScheme: 'light', locale: 'en-US' });
  ctx.setDefaultTimeout(8_000);
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const issuer = new URL(h.cognito.issuer);
  const startsSignIn = (url: URL) => url.origin === base && (url.pathname === '/app/login' || url.pathname === '/oauth/authorize');
  await ctx.route(startsSignIn, async (route: Route) => {
    const response = await route.fetch({ maxRedirects: 0 });
    const location = new URL(response.headers()['location'] ?? '', base);
    if (location.origin !== issuer.origin || location.pathname !== '/authorize') return route.fulfill({ response });
    location.searchParams.set('login_sub', login.sub);
    location.searchParams.set('login_email', login.email);
    return route.fulfill({ response, headers: { ...response.headers(), location: location.toString() } });
  });
  const p = await ctx.newPage();
  problems.watch(p);
  return { context: ctx, page: p };
}

async function dana() {
  const user = await h.store.findUserByName(LOGIN.email);
  if (!user) throw new Error('dana has not signed in');
  return user;
}

test('the start page shows the MCP URL, with headers that forbid inline script and framing', async () => {
  const res = await page.goto(`${base}/`);
  expect(res!.status()).toBe(200);
  const csp = res!.headers()['content-security-policy']!;
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');
  expect(res!.headers()['x-frame-options']).toBe('DENY');
  await expect(page.locator('#mcp-url').inputValue()).resolves.toBe(`${base}/mcp`);
  // The stylesheet really applied (it is served from this origin, so the CSP allows it).
  expect(await page.locator('.card').first().evaluate((el) => getComputedStyle(el).borderRadius)).toBe('10px');
  await shots.take(page, 'landing');
});

test('signing in goes through the identity provider and lands on the dashboard', async () => {
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/app`);
  await expect(page.getByTestId('user-name').textContent()).resolves.toBe(LOGIN.email);
  await expect(page.getByTestId('key-status').textContent()).resolves.toContain('No key connected');
  const cookies = await context.cookies(base);
  const session = cookies.find((c) => c.name === 'ormcp_session')!;
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
});

test('the copy button copies the MCP URL and says so to screen readers too', async () => {
  await page.locator('button[data-copy="mcp-url"]').click();
  await page.locator('button[data-copy="mcp-url"]', { hasText: 'Copied' }).waitFor();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${base}/mcp`);
  await expect(page.getByRole('status').last().textContent()).resolves.toBe('Copied MCP server URL to the clipboard.');
});

test('a key OpenRouter rejects shows an error and changes nothing', async () => {
  await page.getByLabel('Or paste an OpenRouter API key').fill('sk-or-v1-not-a-real-key-0000000000');
  const [res] = await Promise.all([page.waitForResponse((r) => r.url() === `${base}/app/key`), page.getByRole('button', { name: 'Save key' }).click()]);
  // The browser's own Origin header on the post is this site (a no-referrer policy would make it "null").
  expect(await res.request().headerValue('origin')).toBe(base);
  expect(res.status()).toBe(400);
  await expect(page.getByRole('alert').textContent()).resolves.toContain('OpenRouter rejected this key');
  await expect(page.getByRole('alert').textContent()).resolves.toContain('Nothing was changed');
  expect((await dana()).hasKey).toBe(false);
  await page.goto(`${base}/app`);
  await expect(page.getByTestId('key-status').textContent()).resolves.toContain('No key connected');
});

test('a pasted key is checked at OpenRouter, stored, and its usage shown', async () => {
  h.fake.addKey(PASTED_KEY, { usage: 3.25, limit: 10 });
  await page.getByLabel('Or paste an OpenRouter API key').fill(PASTED_KEY);
  await page.getByRole('button', { name: 'Save key' }).click();
  await page.waitForURL(`${base}/app?done=key-connected`);
  await expect(page.getByTestId('notice').textContent()).resolves.toBe('Your OpenRouter key is connected.');
  await expect(page.getByTestId('key-status').textContent()).resolves.toMatch(/^Connected/);
  await expect(page.getByTestId('key-usage').textContent()).resolves.toBe('$3.25');
  expect(await h.store.getOpenRouterKey((await dana()).userId)).toBe(PASTED_KEY);
  expect(h.fake.calls('/key').at(-1)!.apiKey).toBe(PASTED_KEY);
});

test('"Connect OpenRouter" replaces the key through OpenRouter\'s PKCE flow, after asking', async () => {
  await page.getByText('Replace the key').click();
  await page.getByRole('button', { name: 'Connect OpenRouter' }).click();
  // The browser went to OpenRouter's consent page with an S256 challenge, and came back to our callback with the
  // flow's nonce in its path.
  await page.waitForURL(`${base}/app/openrouter/confirm`);
  const auth = h.fake.calls('/auth').at(-1)!;
  expect(auth.query.get('code_challenge_method')).toBe('S256');
  expect(auth.query.get('callback_url')).toMatch(new RegExp(`^${base}/app/openrouter/callback/[A-Za-z0-9_-]{32}$`));
  expect(h.fake.calls('/auth/keys').at(-1)!.body).toMatchObject({ code_verifier: expect.any(String), code_challenge_method: 'S256' });
  // A key is connected already: nothing is replaced until the user says so on our page.
  await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Replace your OpenRouter key?');
  await expect(page.getByTestId('replace-key-status').textContent()).resolves.toContain('You already have an OpenRouter key connected');
  expect(await h.store.getOpenRouterKey((await dana()).userId)).toBe(PASTED_KEY);
  await page.getByRole('button', { name: 'Replace my key' }).click();
  await page.waitForURL(`${base}/app?done=key-connected`);
  const stored = (await h.store.getOpenRouterKey((await dana()).userId))!;
  expect(stored).toMatch(/^sk-or-v1-oauth-/);
  neverShown.push(stored);
  await expect(page.getByTestId('key-status').textContent()).resolves.toMatch(/^Connected/);
  await expect(page.getByTestId('key-usage').textContent()).resolves.toBe('$0.00');
  expect(h.fake.violations).toEqual([]);
});

let accessToken = '';

test('an MCP client asks for access: the consent page, Allow, and the client gets a code that works', async () => {
  const redirectUri = 'http://127.0.0.1:33418/callback';
  const client_id = await registerClient('Example Desktop Client', redirectUri);
  // Stands in for the client's loopback listener (nothing listens on that port).
  let received: URL | undefined;
  await page.route(`${redirectUri}**`, (route) => {
    received = new URL(route.request().url());
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'You can close this window.' });
  });
  const { verifier, challenge } = pkcePair();
  await page.goto(authorizeUrl(client_id, redirectUri, challenge, 'st-1'));
  await page.waitForURL(`${base}/oauth/consent`);
  await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Allow Example Desktop Client?');
  await shots.take(page, 'consent');
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${redirectUri}**`);
  expect(received!.searchParams.get('state')).toBe('st-1');
  expect(received!.searchParams.get('iss')).toBe(base);

  const tokenRes = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: received!.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: verifier, client_id }),
  });
  expect(tokenRes.status).toBe(200);
  const tokens = (await tokenRes.json()) as { access_token: string; refresh_token: string };
  accessToken = tokens.access_token;
  neverShown.push(tokens.access_token, tokens.refresh_token);
  const client = await connectV2(accessToken, { url: `${base}/mcp` });
  expect((await client.listTools()).tools.length).toBeGreaterThan(2);
  await client.close();
  await page.goto(`${base}/app`);
  await expect(page.locator('[data-grant-id]').textContent()).resolves.toContain('Example Desktop Client');
});

test('a personal token is shown once, works from an MCP client, and stops working once revoked', async () => {
  await page.getByLabel('Label').fill('laptop');
  await page.getByLabel('Expires').selectOption('30d');
  const [created] = await Promise.all([page.waitForResponse((r) => r.url() === `${base}/app/tokens/new`), page.getByRole('button', { name: 'Create token' }).click()]);
  // Post/redirect/get: the one-time page is a GET, never cached; reloading it shows nothing and creates nothing.
  expect(created.headers()['cache-control']).toBe('no-store');
  expect(created.request().method()).toBe('GET');
  await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Your new MCP token');
  const token = await page.locator('#new-token').inputValue();
  expect(token.length).toBeGreaterThan(30);
  await shots.take(page, 'token-created');
  await page.locator('button[data-copy="new-token"]').click();
  await page.locator('button[data-copy="new-token"]', { hasText: 'Copied' }).waitFor();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
  neverShown.push(token);

  // Reloading the one-time page neither shows the token again nor creates another one: it leads back to the account.
  const tokensBefore = (await h.store.listTokens((await dana()).userId)).length;
  await page.reload();
  await page.waitForURL(`${base}/app`);
  expect(await page.content()).not.toContain(token);
  expect(await h.store.listTokens((await dana()).userId)).toHaveLength(tokensBefore);
  const row = page.locator('tr', { hasText: 'laptop' });
  await expect(row.count()).resolves.toBe(1);

  // A real MCP client over HTTP, with the token pasted from the page: the call runs on dana's OpenRouter key.
  const client = await connectV2(token, { url: `${base}/mcp` });
  const result = await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'fake/echo', messages: [{ role: 'user', content: 'from the browser test' }] } });
  expect(result.isError).toBeFalsy();
  expect(textOf(result)).toContain('from the browser test');
  expect(h.fake.calls('/chat/completions').at(-1)!.apiKey).toBe(await h.store.getOpenRouterKey((await dana()).userId));

  // Some spending on the key, as OpenRouter would report it after a while (for the usage figures and the screenshot).
  h.fake.addKey((await h.store.getOpenRouterKey((await dana()).userId))!, { usage: 4.82, limit: 25 });
  await page.reload();
  await expect(row.locator('td').nth(4).textContent()).resolves.not.toBe('—'); // last used
  await expect(page.locator('.usage').textContent()).resolves.toBe('Used$4.82Limit$25.00Remaining$20.18');
  await shots.take(page, 'dashboard', { fullPage: true });

  await row.getByRole('button', { name: 'Revoke token laptop' }).click();
  await page.waitForURL(`${base}/app?done=token-revoked`);
  await expect(page.getByTestId('notice').textContent()).resolves.toContain('The token was revoked');
  await expect(page.getByTestId('no-tokens').isVisible()).resolves.toBe(true);

  // The same client, next call: refused with 401.
  await expect(client.callTool({ name: 'retrieve_available_models', arguments: {} })).rejects.toMatchObject({ data: { status: 401 } });
  await client.close();
  expect((await rawToolsList(token)).status).toBe(401);
});

test('disconnecting the application ends its access token', async () => {
  expect((await rawToolsList(accessToken)).status).toBe(200);
  await page.getByRole('button', { name: 'Disconnect Example Desktop Client' }).click();
  await page.waitForURL(`${base}/app?done=app-disconnected`);
  await expect(page.locator('[data-grant-id]').count()).resolves.toBe(0);
  expect((await rawToolsList(accessToken)).status).toBe(401);
});

test('a client with an app-scheme callback (Cursor\'s deep link) gets its code after Allow', async () => {
  // Chrome applies the consent page's form-action to the redirect that follows the post, so the CSP must name the
  // callback's scheme; otherwise Allow is blocked and goes nowhere.
  const redirectUri = 'cursor://anysphere.cursor-mcp/oauth/callback';
  const clientId = await registerClient('Cursor', redirectUri);
  // Dana's session in a profile without request routing (routing changes how Chromium reports redirects).
  const ctx = await browser.newContext();
  try {
    ctx.setDefaultTimeout(8_000);
    await ctx.addCookies(await context.cookies(base));
    const p = await ctx.newPage();
    const violations: string[] = [];
    p.on('console', (msg) => {
      if (/content security policy/i.test(msg.text())) violations.push(msg.text());
    });
    await p.goto(authorizeUrl(clientId, redirectUri, pkcePair().challenge, 'st-3'));
    await p.waitForURL(`${base}/oauth/consent`);
    // The browser follows the redirect to the deep link and hands it to the operating system, which has no handler
    // here: the navigation ends as an aborted request for the deep link, which is what is observable.
    const [deepLink] = await Promise.all([p.waitForEvent('requestfailed', (r) => r.url().startsWith('cursor:')), p.getByRole('button', { name: 'Allow' }).click()]);
    const url = new URL(deepLink.url());
    expect(url.searchParams.get('state')).toBe('st-3');
    expect(url.searchParams.get('code')).toBeTruthy();
    expect(violations).toEqual([]);
  } finally {
    await ctx.close();
  }
});

test('keyboard and labels: every field has a label, every button a name, and Enter on a focused copy button copies', async () => {
  await page.goto(`${base}/app`);
  // From a fresh page, Tab reaches the MCP URL's copy button within a few steps, and Enter activates it.
  let reached = false;
  for (let i = 0; i < 8 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.getAttribute('data-copy') === 'mcp-url');
  }
  expect(reached).toBe(true);
  await page.keyboard.press('Enter');
  await page.locator('button[data-copy="mcp-url"]', { hasText: 'Copied' }).waitFor();
  // A visible focus ring on the focused control (the stylesheet's :focus-visible outline).
  expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).toBe('solid');

  await page.getByText('Replace the key').click();
  const problems = await page.evaluate(() => {
    const out: string[] = [];
    if (document.documentElement.lang !== 'en') out.push('html has no lang');
    if (document.querySelectorAll('h1').length !== 1) out.push('not exactly one h1');
    for (const el of document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>('input:not([type=hidden]), select, textarea')) {
      if (!el.labels?.length && !el.getAttribute('aria-label')) out.push(`unlabelled ${el.tagName} ${el.id || el.name}`);
    }
    for (const el of document.querySelectorAll<HTMLElement>('button, a, th')) {
      if (!(el.textContent ?? '').trim() && !el.getAttribute('aria-label')) out.push(`nameless ${el.tagName}`);
    }
    return out;
  });
  expect(problems).toEqual([]);
});

test('error pages say what happened and that nothing changed', async () => {
  const user = await dana();
  await page.goto(`${base}/app`);
  const csrf = (await page.locator('input[name="csrf"]').first().getAttribute('value'))!;
  const key = await h.store.getOpenRouterKey(user.userId);
  const expectPage = async (title: string) => {
    await expect(page.getByRole('alert').locator('h1').textContent()).resolves.toBe(title);
    expect(await page.title()).toBe(`${title} · OpenRouter MCP`);
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Nothing was changed');
    await expect(page.getByRole('link', { name: 'Back to the start page' }).isVisible()).resolves.toBe(true);
  };
  // Back from OpenRouter without a connection attempt of ours (an old tab, a forged link).
  let res = (await page.goto(`${base}/app/openrouter/callback?code=or_code_forged`))!;
  expect(res.status()).toBe(400);
  await expectPage('OpenRouter connection expired');
  // Back from OpenRouter without a code (the user cancelled there).
  const started = await page.request.post(`${base}/app/openrouter/connect`, { form: { csrf, next: '/app' }, maxRedirects: 0 });
  expect(started.status()).toBe(303);
  res = (await page.goto(new URL(started.headers().location!).searchParams.get('callback_url')!))!;
  expect(res.status()).toBe(400);
  await expectPage('OpenRouter did not connect');
  expect((await context.cookies(base)).some((c) => c.name === 'ormcp_orconnect')).toBe(false);
  // A form posted from elsewhere (no CSRF value, foreign Origin).
  const forged = await page.request.post(`${base}/app/key/remove`, { form: { csrf: 'guess' }, headers: { Origin: 'https://evil.example' }, maxRedirects: 0 });
  expect(forged.status()).toBe(403);
  expect(await forged.text()).toContain('Request refused');
  res = (await page.goto(`${base}/app/nothing-here`))!;
  expect(res.status()).toBe(404);
  await expect(page.getByRole('alert').locator('h1').textContent()).resolves.toBe('Not found');
  expect(await h.store.getOpenRouterKey(user.userId)).toBe(key);
  await page.goto(`${base}/app`);
});

test('removing the key asks first; dismissing changes nothing', async () => {
  const user = await dana();
  const key = await h.store.getOpenRouterKey(user.userId);
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    void d.dismiss();
  });
  await page.getByRole('button', { name: 'Remove key' }).click();
  expect(asked).toContain('Remove your OpenRouter key?');
  expect(page.url()).toBe(`${base}/app`);
  expect(await h.store.getOpenRouterKey(user.userId)).toBe(key);

  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Remove key' }).click();
  await page.waitForURL(`${base}/app?done=key-removed`);
  await expect(page.getByTestId('key-status').textContent()).resolves.toContain('No key connected');
  expect((await dana()).hasKey).toBe(false);
});

test('a new user arriving from an MCP client signs in, connects OpenRouter first, and can still deny', async () => {
  const erin = { sub: 'sub-erin', email: 'erin@example.com' };
  const { context: ctx, page: p } = await openBrowserContext(erin);
  try {
    const redirectUri = 'http://127.0.0.1:33419/callback';
    const clientId = await registerClient('Another Client', redirectUri);
    let received: URL | undefined;
    await p.route(`${redirectUri}**`, (route) => {
      received = new URL(route.request().url());
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'You can close this window.' });
    });
    await p.goto(authorizeUrl(clientId, redirectUri, pkcePair().challenge, 'st-2'));
    await p.waitForURL(`${base}/oauth/consent`);
    await expect(p.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Connect OpenRouter first');
    await p.getByRole('button', { name: 'Connect OpenRouter' }).click();
    // Back from OpenRouter to the same consent URL, now asking the question.
    await p.getByRole('heading', { name: 'Allow Another Client?' }).waitFor();
    const user = (await h.store.findUserByName(erin.email))!;
    const key = (await h.store.getOpenRouterKey(user.userId))!;
    expect(key).toMatch(/^sk-or-v1-oauth-/);
    expect(await p.content()).not.toContain(key);

    await p.getByRole('button', { name: 'Deny' }).click();
    await p.waitForURL(`${redirectUri}**`);
    expect(received!.searchParams.get('error')).toBe('access_denied');
    expect(received!.searchParams.get('state')).toBe('st-2');
    expect(received!.searchParams.has('code')).toBe(false);
    expect(await h.store.listGrants(user.userId)).toEqual([]);
  } finally {
    await ctx.close();
  }
});

test('signing out ends the session', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${base}/`);
  expect((await context.cookies(base)).find((c) => c.name === 'ormcp_session')).toBeUndefined();
  await expect(page.getByRole('link', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
  // The dashboard now sends the browser to sign in again rather than showing anything.
  const res = await page.request.get(`${base}/app`, { maxRedirects: 0 });
  expect(res.status()).toBe(302);
  expect(res.headers().location).toContain(new URL(h.cognito.issuer).origin);
  expect(shots.taken).toHaveLength(4);
});

async function registerClient(name: string, redirectUri: string): Promise<string> {
  const reg = await fetch(`${base}/oauth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_name: name, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' }),
  });
  expect(reg.status).toBe(201);
  return ((await reg.json()) as { client_id: string }).client_id;
}

function authorizeUrl(clientId: string, redirectUri: string, challenge: string, state: string): string {
  const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', state, resource: `${base}/mcp` });
  return `${base}/oauth/authorize?${q}`;
}

function rawToolsList(token: string): Promise<Response> {
  return fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
  });
}
