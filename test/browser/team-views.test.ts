/**
 * The usage page and the operator page in headless Chromium against the real handler over HTTP on loopback, with the
 * ledger on dynalite (records written through the LedgerStore). A user sees their spend against their caps, the
 * 30-day chart and spend by model, and saves their defaults; the operator page is refused to them (403, also for its
 * form posts) and works for a member of the admin group: caps set, a user disabled (their token stops working at
 * once) and enabled again, each action in the audit log. Every page is checked for CSP violations.
 */
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { startOAuthHarness, type OAuthHarness } from '../support/oauth.js';
import type { LocalServer } from '../../lambda/local/node-adapter.js';
import { dayKey } from '../../lambda/budget/windows.js';
import { Screenshots, launchChromium } from './chromium.js';

const ERIN = { sub: 'sub-erin', email: 'erin@example.com' };
const GUS = { sub: 'sub-gus', email: 'gus@example.com', groups: 'ormcp-admins' };

let h: OAuthHarness;
let server: LocalServer;
let base: string;
let browser: Browser;
let shots: Screenshots;
const problems: string[] = [];
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  [h, shots] = await Promise.all([
    startOAuthHarness({
      admin: { group: 'ormcp-admins', claim: 'custom:groups' },
      budgetDefaults: { daily: 1, weekly: 5, monthly: 20 },
      policy: { allowedModels: [], deniedModels: ['x-ai/*'], requireZdr: false, dataCollection: 'deny', maxPricePerMillion: {}, allowedPlugins: 'all' },
    }),
    Screenshots.create(),
  ]);
  server = await h.listen();
  base = server.url;
}, 30_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await h?.close();
});

afterEach(() => {
  expect(problems).toEqual([]);
});

/** A browser profile signed in as `login` (the Cognito stand-in signs in whoever its /authorize URL names). */
async function signedIn(login: { sub: string; email: string; groups?: string }): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 900 }, colorScheme: 'light', locale: 'en-US' });
  contexts.push(ctx);
  ctx.setDefaultTimeout(8_000);
  const issuer = new URL(h.cognito.issuer);
  await ctx.route(
    (url: URL) => url.origin === base && url.pathname === '/app/login',
    async (route: Route) => {
      const response = await route.fetch({ maxRedirects: 0 });
      const location = new URL(response.headers()['location'] ?? '', base);
      if (location.origin !== issuer.origin) return route.fulfill({ response });
      location.searchParams.set('login_sub', login.sub);
      location.searchParams.set('login_email', login.email);
      if (login.groups) location.searchParams.set('login_groups', login.groups);
      return route.fulfill({ response, headers: { ...response.headers(), location: location.toString() } });
    },
  );
  const page = await ctx.newPage();
  page.on('console', (msg) => {
    if (/content security policy/i.test(msg.text())) problems.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('response', (r) => {
    if (r.status() === 404 && r.request().resourceType() !== 'document') problems.push(`missing ${r.url()}`);
  });
  await page.goto(`${base}/app/login`);
  await page.waitForURL(`${base}/app`);
  return page;
}

async function userId(email: string): Promise<string> {
  const user = await h.store.findUserByName(email);
  if (!user) throw new Error(`${email} has not signed in`);
  return user.userId;
}

const daysAgo = (n: number, hour = 10) => {
  const t = new Date(Date.now() - n * 86_400_000);
  t.setUTCHours(hour, 0, 0, 0);
  return t;
};

let erin: Page;

test('the usage page: spend against the caps, a 30-day SVG chart, spend by model', async () => {
  erin = await signedIn(ERIN);
  const id = await userId(ERIN.email);
  // Today's calls at 00:00:01 UTC or later, so they fall in today whatever the hour of the run.
  const today = new Date();
  today.setUTCHours(0, 0, 1, 0);
  await h.ledger.record({ time: today, userId: id, tool: 'chat', servedModel: 'openai/gpt-4o', outcome: 'ok', costUsd: 0.25 });
  await h.ledger.record({ time: today, userId: id, tool: 'chat', servedModel: 'anthropic/claude-sonnet-4', outcome: 'ok', costUsd: 0.15 });
  for (const [n, cost] of [[3, 0.5], [9, 1.2], [17, 0.8], [28, 0.3]] as const) {
    await h.ledger.record({ time: daysAgo(n), userId: id, tool: 'chat', servedModel: 'openai/gpt-4o', outcome: 'ok', costUsd: cost });
  }
  await h.ledger.setBudgetOverride(id, { daily: 2 });

  await erin.getByRole('link', { name: 'Your usage and defaults' }).click();
  await erin.waitForURL(`${base}/app/usage`);
  await expect(erin.getByTestId('spent-daily').textContent()).resolves.toBe('$0.40');
  expect(await erin.locator('dd', { has: erin.getByTestId('spent-daily') }).textContent()).toContain('of $2.00');
  expect(await erin.locator('dd', { has: erin.getByTestId('spent-monthly') }).textContent()).toContain('of $20.00');
  const chart = erin.getByTestId('spend-chart');
  await expect(chart.locator('rect').count()).resolves.toBe(30);
  await expect(chart.locator('rect.bar:not(.empty)').count()).resolves.toBe(5);
  // The tallest bar is the $1.20 day; the bars are coloured by the stylesheet, not inline style.
  await expect(chart.locator(`rect:has(title:text-matches("^${dayKey(daysAgo(9))}"))`).getAttribute('height')).resolves.toBe(String(140 - 18 - 4));
  expect(await chart.locator('rect.bar:not(.empty)').first().evaluate((el) => getComputedStyle(el).fill)).not.toBe('rgb(0, 0, 0)');
  const models = await erin.getByTestId('models').locator('tbody tr').allTextContents();
  expect(models[0]).toContain('openai/gpt-4o');
  expect(models[0]).toContain('$3.05');
  expect(models[1]).toContain('anthropic/claude-sonnet-4');
  expect(await erin.content()).toContain('Providers that collect data are excluded');
  await shots.take(erin, 'usage', { fullPage: true });
});

test('the defaults form saves validated defaults; a bad value changes nothing', async () => {
  const id = await userId(ERIN.email);
  // A stored default the form has no field for (zero data retention) survives a save.
  await h.ledger.setDefaults(id, { provider: { zdr: true } });
  await erin.reload();
  await erin.getByLabel('Default model').fill('openai/gpt-4o-mini');
  await erin.getByLabel('Default max_tokens').fill('800');
  await erin.getByLabel('Provider order').selectOption('price');
  await erin.getByLabel('Data collection by providers').selectOption('deny');
  await erin.getByLabel('Reasoning effort').selectOption('low');
  await erin.getByRole('button', { name: 'Save defaults' }).click();
  await erin.waitForURL(`${base}/app/usage?done=saved`);
  await expect(erin.getByTestId('notice').textContent()).resolves.toContain('saved');
  const saved = { model: 'openai/gpt-4o-mini', max_tokens: 800, provider: { sort: 'price', data_collection: 'deny', zdr: true }, reasoning_effort: 'low' };
  expect(await h.ledger.getDefaults(id)).toEqual(saved);
  await expect(erin.getByLabel('Default max_tokens').inputValue()).resolves.toBe('800');

  await erin.getByLabel('Default max_tokens').fill('lots');
  const res = await Promise.all([erin.waitForResponse((r) => r.url() === `${base}/app/defaults`), erin.getByRole('button', { name: 'Save defaults' }).click()]);
  expect(res[0].status()).toBe(400);
  expect(await erin.content()).toContain('Nothing was changed');
  expect(await h.ledger.getDefaults(id)).toEqual(saved);
});

test('the operator page is refused to a user outside the admin group, its actions too', async () => {
  const res = await erin.goto(`${base}/admin`);
  expect(res!.status()).toBe(403);
  await expect(erin.locator('h1').textContent()).resolves.toBe('Not allowed');
  expect(await erin.content()).not.toContain('Operator page');
  // A forged post with the user's own valid session and CSRF value is refused all the same.
  await erin.goto(`${base}/app/usage`);
  const csrf = await erin.locator('input[name=csrf]').first().inputValue();
  const before = await h.ledger.getBudgetOverride(h.bob.id);
  for (const [path, form] of [
    ['/admin/budget', { csrf, user_id: h.bob.id, daily: 'none', weekly: '', monthly: '' }],
    ['/admin/users/disable', { csrf, user_id: h.bob.id }],
  ] as const) {
    const r = await erin.context().request.post(`${base}${path}`, { form: { ...form }, headers: { origin: base }, maxRedirects: 0 });
    expect(r.status()).toBe(403);
  }
  expect(await h.ledger.getBudgetOverride(h.bob.id)).toEqual(before);
  expect(await h.store.authenticate(h.bob.token)).toMatchObject({ userId: h.bob.id });
});

test('an admin sees every user\'s spend and caps and the policy, sets a cap, disables and enables a user; all audited', async () => {
  const gus = await signedIn(GUS);
  const gusId = await userId(GUS.email);
  const erinId = await userId(ERIN.email);
  await gus.getByRole('link', { name: 'Operator page' }).click();
  await gus.waitForURL(`${base}/admin`);
  const names = await gus.locator('tr[data-user]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-user')));
  expect(names.sort()).toEqual(['alice', 'bob', ERIN.email, GUS.email].sort());
  await expect(gus.getByTestId(`spent-${ERIN.email}-daily`).textContent()).resolves.toBe('$0.40');
  expect(await gus.getByTestId('policy').textContent()).toContain('Denied models (win over the allow list, variants included): x-ai/*.');

  // Set erin's caps: weekly 3, monthly none, daily back to the default.
  await gus.locator('summary', { hasText: `Caps of ${ERIN.email}` }).click();
  const form = gus.getByTestId(`caps-${ERIN.email}`);
  await expect(form.getByLabel('daily').inputValue()).resolves.toBe('2');
  await form.getByLabel('daily').fill('');
  await form.getByLabel('weekly').fill('3');
  await form.getByLabel('monthly').fill('none');
  await form.getByRole('button', { name: 'Save caps' }).click();
  await gus.waitForURL(`${base}/admin?done=budget-set`);
  expect(await h.ledger.getBudgetOverride(erinId)).toEqual({ weekly: 3, monthly: null });
  expect(await gus.locator('td', { has: gus.getByTestId(`spent-${ERIN.email}-weekly`) }).textContent()).toContain('of $3.00');

  // A bad cap is refused and changes nothing.
  await gus.locator('summary', { hasText: `Caps of ${ERIN.email}` }).click();
  await gus.getByTestId(`caps-${ERIN.email}`).getByLabel('daily').fill('lots');
  const [bad] = await Promise.all([gus.waitForResponse((r) => r.url() === `${base}/admin/budget`), gus.getByTestId(`caps-${ERIN.email}`).getByRole('button', { name: 'Save caps' }).click()]);
  expect(bad.status()).toBe(400);
  expect(await h.ledger.getBudgetOverride(erinId)).toEqual({ weekly: 3, monthly: null });

  // Disable bob: his token is refused at once, his data kept; then enable him again.
  await gus.goto(`${base}/admin`);
  gus.once('dialog', (d) => void d.accept());
  await gus.getByRole('button', { name: 'Disable bob' }).click();
  await gus.waitForURL(`${base}/admin?done=disabled`);
  expect(await h.store.authenticate(h.bob.token)).toBeUndefined();
  expect(await h.store.getUser(h.bob.id)).toMatchObject({ hasKey: true, disabledAt: expect.any(String) });
  await expect(gus.locator('tr[data-user="bob"]').getByTestId('disabled').isVisible()).resolves.toBe(true);
  await shots.take(gus, 'admin', { fullPage: true });
  await gus.getByRole('button', { name: 'Enable bob' }).click();
  await gus.waitForURL(`${base}/admin?done=enabled`);
  expect(await h.store.authenticate(h.bob.token)).toMatchObject({ userId: h.bob.id });

  const audit = [...(await h.ledger.listRecords(erinId)), ...(await h.ledger.listRecords(h.bob.id))].filter((r) => r.tool.startsWith('admin:'));
  expect(audit.map((r) => [r.tool, r.actor, r.detail ?? null]).sort()).toEqual(
    [
      ['admin:budget.set', gusId, 'daily=default weekly=3 monthly=none'],
      ['admin:user.disable', gusId, null],
      ['admin:user.enable', gusId, null],
    ].sort(),
  );
});
