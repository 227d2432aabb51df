/**
 * The local sign-in of `npm start` (no ORMCP_OIDC_* set) in headless Chromium: /app sends the browser to the local
 * identity provider's sign-in page (our look, strict CSP, labelled fields), a wrong password is refused there, the
 * right one lands on the dashboard of the existing user, and signing out ends the provider's session too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { spawnCli } from '../cli/support.js';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { startNpmStart, type NpmStart } from '../support/npm-start.js';
import { PageProblems, Screenshots, launchChromium } from './chromium.js';

const PASSWORD = 'a local password for chromium';
const dataDir = mkdtempSync(join(tmpdir(), 'ormcp-local-browser-'));
const fake = new FakeOpenRouter();
let server: NpmStart;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let shots: Screenshots;
// Every document, the provider's pages included, comes with the strict policy.
const problems = new PageProblems();

beforeAll(async () => {
  browser = await launchChromium();
  await fake.start();
  [server, shots] = await Promise.all([
    startNpmStart({ ORMCP_DATA_DIR: dataDir, OPENROUTER_BASE_URL: fake.baseUrl, ORMCP_OPENROUTER_AUTH_URL: fake.authUrl }, 'Sign in at'),
    Screenshots.create(),
  ]);
  const set = await spawnCli(['user', 'set-password', 'local', '--data-dir', dataDir], { stdin: `${PASSWORD}\n` });
  if (set.code !== 0) throw new Error(`set-password failed: ${set.stderr}`);
  context = await browser.newContext({ viewport: { width: 1000, height: 760 }, colorScheme: 'light', locale: 'en-US' });
  context.setDefaultTimeout(8_000);
  page = await context.newPage();
  problems.watch(page);
}, 60_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await server?.stop();
  await fake.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

afterEach(async () => {
  expect(await page.content()).not.toContain(PASSWORD);
  problems.expectNone();
});

test('/app sends the browser to the local sign-in page, in the look of our pages', async () => {
  await page.goto(`${server.url}/app`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  const here = new URL(page.url());
  expect(here.origin).not.toBe(server.url);
  expect(here.pathname).toMatch(/^\/interaction\//);
  // The shared stylesheet applied (served by the provider from its own origin, allowed by its CSP).
  expect(await page.locator('.card').first().evaluate((el) => getComputedStyle(el).borderRadius)).toBe('10px');
  await expect(page.getByLabel('User name').getAttribute('autocomplete')).resolves.toBe('username');
  await expect(page.getByLabel('Password').getAttribute('type')).resolves.toBe('password');
  await page.getByLabel('User name').fill('local');
  await shots.take(page, 'local-sign-in');
});

test('a wrong password is refused on the page, which says so to screen readers', async () => {
  await page.getByLabel('User name').fill('local');
  await page.getByLabel('Password').fill('not the right password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert').textContent()).resolves.toBe('The user name or password is wrong.');
  await expect(page.getByLabel('User name').inputValue()).resolves.toBe('local');
  expect((await context.cookies(server.url)).find((c) => c.name === 'ormcp_session')).toBeUndefined();
});

test('the right password lands on the dashboard of the existing local user', async () => {
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${server.url}/app`);
  await expect(page.getByTestId('user-name').textContent()).resolves.toBe('local');
  await expect(page.getByTestId('key-status').textContent()).resolves.toContain('No key connected');
  const users = JSON.parse((await spawnCli(['user', 'list', '--json', '--data-dir', dataDir])).stdout) as { name: string }[];
  expect(users.map((u) => u.name)).toEqual(['local']);
});

test('signing out ends the local provider session too: /app asks for the password again', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign out of the local sign-in?' }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/app`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);
});
