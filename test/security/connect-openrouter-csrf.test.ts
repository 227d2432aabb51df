/**
 * Connect OpenRouter without state: another site must not be able to start the flow in a signed-in browser (the
 * start is a POST with the CSRF value), a callback this browser's own flow did not produce (no nonce, or another)
 * must not connect a key, and a key that is already connected is replaced only after the user confirms on our page.
 * The OpenRouter stand-in approves at once, as OpenRouter does for a browser already signed in there (for example
 * into the attacker's OpenRouter account).
 */
import { FLOW_COOKIES } from '../../lambda/ui/session.js';
import { TEST_ORIGIN as ORIGIN, Browser, csrfOf, hiddenFields, startOAuthHarness, type OAuthHarness } from '../support/oauth.js';
import { unchanged } from '../oauth/negative-helpers.js';

const EVIL = 'https://evil.example';
let h: OAuthHarness;

beforeAll(async () => {
  h = await startOAuthHarness();
});
afterAll(async () => {
  await h.close();
});

interface Victim {
  browser: Browser;
  userId: string;
  key: string;
  /** The dashboard's CSRF value. */
  csrf: string;
}

/** A user signed in at our server, with a working key pasted earlier. */
async function signedInWithKey(name: string): Promise<Victim> {
  const email = `${name}@example.com`;
  const browser = new Browser(h.fetch, ORIGIN, { sub: `sub-${name}`, email });
  const dashboard = await browser.follow(`${ORIGIN}/app/login`);
  expect(dashboard.url).toBe(`${ORIGIN}/app`);
  const csrf = csrfOf(await dashboard.response!.text());
  const key = `sk-or-v1-${name}-working-0123456789`;
  h.fake.addKey(key);
  const saved = await browser.post(`${ORIGIN}/app/key`, { csrf, key });
  expect(saved.status).toBe(303);
  const user = (await h.store.findUserByName(email))!;
  expect(await h.store.getOpenRouterKey(user.userId)).toBe(key);
  return { browser, userId: user.userId, key, csrf };
}

const exchanges = () => h.fake.calls('/auth/keys').length;
const flowCookie = (b: Browser) => b.cookie(ORIGIN, FLOW_COOKIES.openRouterConnect.name);

test('a cross-site GET of the connect URL starts nothing and replaces nothing', async () => {
  const v = await signedInWithKey('gina');
  const before = exchanges();
  // Another site links or navigates the victim here; the browser follows wherever it leads.
  const step = await unchanged(h, () => v.browser.follow(`${ORIGIN}/app/openrouter/connect?next=%2Fapp`));
  expect(step.url).toBe(`${ORIGIN}/app/openrouter/connect?next=%2Fapp`);
  expect(step.response!.status).toBe(405);
  expect(step.response!.headers.get('allow')).toBe('POST');
  expect(v.browser.visited.some((u) => u.startsWith(h.fake.authUrl))).toBe(false);
  expect(exchanges()).toBe(before);
  expect(flowCookie(v.browser)).toBeUndefined();
  expect(await h.store.getOpenRouterKey(v.userId)).toBe(v.key);
});

test.each<[string, (csrf: string) => [Record<string, string>, Record<string, string>]]>([
  ['without a CSRF value', () => [{ next: '/app' }, {}]],
  ['with a wrong CSRF value', (csrf) => [{ csrf: `${csrf.slice(0, -2)}xx`, next: '/app' }, {}]],
  ['from another origin', (csrf) => [{ csrf, next: '/app' }, { Origin: EVIL }]],
])('a POST that starts the flow %s is refused with 403 and starts nothing', async (_what, make) => {
  const v = await signedInWithKey('hal');
  const [form, headers] = make(v.csrf);
  const res = await v.browser.post(`${ORIGIN}/app/openrouter/connect`, form, headers);
  expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 403, location: null });
  expect(flowCookie(v.browser)).toBeUndefined();
});

test('a forged callback carrying a code that OpenRouter would accept is refused while the real flow is pending', async () => {
  const v = await signedInWithKey('ivy');
  const started = await v.browser.post(`${ORIGIN}/app/openrouter/connect`, { csrf: v.csrf, next: '/app' });
  expect(started.status).toBe(303);
  const toOpenRouter = new URL(started.headers.get('location')!);
  expect(`${toOpenRouter.origin}${toOpenRouter.pathname}`).toBe(h.fake.authUrl);
  const callbackUrl = new URL(toOpenRouter.searchParams.get('callback_url')!);
  expect(callbackUrl.pathname).toMatch(/^\/app\/openrouter\/callback\/[A-Za-z0-9_-]{32}$/);
  expect(flowCookie(v.browser)).toEqual(expect.any(String));

  // The strongest attacker: a code OpenRouter would exchange for this very flow (approved in their own account).
  const approved = await fetch(toOpenRouter, { redirect: 'manual' });
  const attackerCode = new URL(approved.headers.get('location')!).searchParams.get('code')!;
  const before = exchanges();
  for (const forged of [
    `${ORIGIN}/app/openrouter/callback?code=${attackerCode}`,
    `${ORIGIN}/app/openrouter/callback/${'A'.repeat(32)}?code=${attackerCode}`,
    `${ORIGIN}/app/openrouter/callback/${callbackUrl.pathname.split('/').pop()!.slice(0, -1)}?code=${attackerCode}`,
  ]) {
    const res = await unchanged(h, () => v.browser.get(forged));
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 400, location: null });
    expect(await res.text()).toContain('Nothing was changed');
  }
  expect(exchanges()).toBe(before);
  expect(await h.store.getOpenRouterKey(v.userId)).toBe(v.key);

  // The forgeries did not cancel the real attempt: it still completes (and asks before replacing).
  const step = await v.browser.follow(toOpenRouter.toString());
  expect(step.url).toBe(`${ORIGIN}/app/openrouter/confirm`);
  expect(await h.store.getOpenRouterKey(v.userId)).toBe(v.key);
});

test('the genuine callback of a user who has a key asks first: keep changes nothing, a forged confirm is refused', async () => {
  const v = await signedInWithKey('jo');
  const started = await v.browser.post(`${ORIGIN}/app/openrouter/connect`, { csrf: v.csrf, next: '/app' });
  const step = await v.browser.follow(started.headers.get('location')!, undefined);
  expect(step.url).toBe(`${ORIGIN}/app/openrouter/confirm`);
  const page = await step.response!.text();
  expect(page).toContain('Replace your OpenRouter key?');
  expect(page).toContain('You already have an OpenRouter key connected');
  expect(await h.store.getOpenRouterKey(v.userId)).toBe(v.key);
  const fields = hiddenFields(page, '/app/openrouter/confirm');

  // Another site posting the confirmation (no CSRF value, foreign Origin) is refused.
  for (const [form, headers] of [
    [{ decision: 'replace' }, {}],
    [{ ...fields, decision: 'replace' }, { Origin: EVIL }],
  ] as [Record<string, string>, Record<string, string>][]) {
    const res = await unchanged(h, () => v.browser.post(`${ORIGIN}/app/openrouter/confirm`, form, headers));
    expect(res.status).toBe(403);
  }
  const kept = await unchanged(h, () => v.browser.post(`${ORIGIN}/app/openrouter/confirm`, { ...fields, decision: 'keep' }));
  expect({ status: kept.status, location: kept.headers.get('location') }).toEqual({ status: 303, location: `${ORIGIN}/app?done=key-kept` });
  // Answered: the new key is gone from the browser and cannot be confirmed afterwards.
  const late = await unchanged(h, () => v.browser.post(`${ORIGIN}/app/openrouter/confirm`, { ...fields, decision: 'replace' }));
  expect(late.status).toBe(400);
  expect(await late.text()).toContain('Nothing to confirm');
  expect(await h.store.getOpenRouterKey(v.userId)).toBe(v.key);
});

test('confirming the replacement stores the new key; a user without a key is connected at once', async () => {
  const v = await signedInWithKey('kai');
  const started = await v.browser.post(`${ORIGIN}/app/openrouter/connect`, { csrf: v.csrf, next: '/app' });
  const step = await v.browser.follow(started.headers.get('location')!);
  const res = await v.browser.post(`${ORIGIN}/app/openrouter/confirm`, { ...hiddenFields(await step.response!.text(), '/app/openrouter/confirm'), decision: 'replace' });
  expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 303, location: `${ORIGIN}/app?done=key-connected` });
  const replaced = (await h.store.getOpenRouterKey(v.userId))!;
  expect(replaced).toMatch(/^sk-or-v1-oauth-/);

  await h.store.removeOpenRouterKey(v.userId);
  const again = await v.browser.post(`${ORIGIN}/app/openrouter/connect`, { csrf: v.csrf, next: '/app' });
  const done = await v.browser.follow(again.headers.get('location')!);
  expect(done.url).toBe(`${ORIGIN}/app?done=key-connected`);
  const connected = (await h.store.getOpenRouterKey(v.userId))!;
  expect(connected).toMatch(/^sk-or-v1-oauth-/);
  expect(connected).not.toBe(replaced);
  const logs = h.logs.join('\n');
  for (const secret of [v.key, replaced, connected]) expect(logs).not.toContain(secret);
});
