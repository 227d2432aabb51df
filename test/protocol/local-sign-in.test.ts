/**
 * `npm start` with no identity provider configured runs its own (oidc-provider on loopback). Against the real
 * local server started as `npm start` starts it: a password set with the CLI, then a headless SDK v2 client with
 * the OAuth provider goes from the bare URL through discovery, dynamic registration, the local sign-in (this test
 * plays the browser: follows redirects, posts the login form, pastes an OpenRouter key, allows the client) to a
 * tool call — landing on the existing user, not a new one. Wrong passwords are refused and change nothing; the
 * password and its hash never appear in a response or a log line.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli } from '../cli/support.js';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { textOf } from '../support/harness.js';
import { startNpmStart, type NpmStart } from '../support/npm-start.js';
import { beginAuthorization, HeadlessProvider } from '../support/oauth-client-provider.js';
import { Browser, csrfOf, hiddenFields } from '../support/oauth.js';

const REDIRECT = 'http://127.0.0.1:45455/oauth/callback';
const PASSWORD = 'correct horse battery staple';
const PASTED_KEY = 'sk-or-v1-local-sign-in-pasted';

const fake = new FakeOpenRouter([PASTED_KEY]);
const dataDir = mkdtempSync(join(tmpdir(), 'ormcp-local-idp-'));
let server: NpmStart;
let url: string;
/** Every body the "browser" received, to prove no secret ever came back. */
const bodies: string[] = [];

function cli(args: string[], stdin?: string) {
  return spawnCli([...args, '--data-dir', dataDir], stdin === undefined ? {} : { stdin });
}

beforeAll(async () => {
  await fake.start();
  // No ORMCP_OIDC_* at all: startNpmStart removes any from the environment.
  server = await startNpmStart({ ORMCP_DATA_DIR: dataDir, OPENROUTER_BASE_URL: fake.baseUrl, ORMCP_OPENROUTER_AUTH_URL: fake.authUrl }, 'Sign in at');
  url = server.url;
}, 40_000);

afterAll(async () => {
  await server?.stop();
  await fake.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Follows the client's authorization URL to the local provider's sign-in page; returns the page and its form URL. */
async function openSignIn(browser: Browser, authUrl: string): Promise<{ page: string; action: string; origin: string }> {
  const step = await browser.follow(authUrl);
  const page = await step.response!.text();
  bodies.push(page);
  expect(step.response!.status).toBe(200);
  const origin = new URL(step.url).origin;
  expect(origin).not.toBe(url); // a provider of its own, on its own loopback port
  const action = /<form method="post" action="([^"]+\/login)"/.exec(page)![1]!;
  return { page, action, origin };
}

async function startAuthorization(): Promise<{ provider: HeadlessProvider; first: StreamableHTTPClientTransport; mcpUrl: URL }> {
  const provider = new HeadlessProvider(REDIRECT, 'Local sign-in test client');
  const { first, mcpUrl } = await beginAuthorization(url, provider, 'local-sign-in');
  return { provider, first, mcpUrl };
}

async function text(res: Response): Promise<string> {
  const body = await res.text();
  bodies.push(body);
  return body;
}

test('the first run says how to sign in locally', () => {
  expect(server.stdout()).toContain(`Sign in at ${url}/app`);
  expect(server.stdout()).toContain('npx ormcp user set-password local');
  // Discovery answers out of the box: no ORMCP_OIDC_* was set.
  return fetch(`${url}/.well-known/oauth-authorization-server`).then(async (res) => {
    expect(res.status).toBe(200);
    expect((await res.json()) as { registration_endpoint: string }).toMatchObject({ registration_endpoint: `${url}/oauth/register` });
  });
});

test('ormcp user set-password stores a scrypt hash in the data dir (0600), never printed', async () => {
  const set = await cli(['user', 'set-password', 'local'], `${PASSWORD}\n`);
  expect(set.code).toBe(0);
  expect(set.stdout).toContain('Created user "local"');
  const file = join(dataDir, 'local-passwords.json');
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const stored = readFileSync(file, 'utf8');
  expect(stored).toContain('"alg": "scrypt"');
  expect(stored).not.toContain(PASSWORD);
  const hash = (Object.values((JSON.parse(stored) as { users: Record<string, { hash: string }> }).users)[0]!).hash;
  expect(set.stdout + set.stderr).not.toContain(hash);

  // Too short: refused, nothing stored changes.
  const short = await cli(['user', 'set-password', 'local'], 'short\n');
  expect(short.code).toBe(1);
  expect(short.stderr).toContain('at least 8 characters');
  expect(readFileSync(file, 'utf8')).toBe(stored);
});

test('a wrong password is refused at the local sign-in and changes nothing', async () => {
  const before = { users: (await cli(['user', 'list', '--json'])).stdout, passwords: readFileSync(join(dataDir, 'local-passwords.json'), 'utf8') };
  const { provider } = await startAuthorization();
  const browser = new Browser(fetch, url);
  const { action, origin } = await openSignIn(browser, provider.authorizationUrl!.toString());
  for (const attempt of [{ username: 'local', password: 'not the password' }, { username: 'nobody', password: PASSWORD }]) {
    const res = await browser.post(action, attempt, { Origin: origin });
    expect(res.status).toBe(401);
    const page = await text(res);
    expect(page).toContain('The user name or password is wrong.');
    expect(res.headers.get('location')).toBeNull();
  }
  // A form posted from another site is refused before the password is even looked at.
  const forged = await browser.post(action, { username: 'local', password: PASSWORD }, { Origin: 'http://evil.example' });
  expect(forged.status).toBe(403);
  expect(browser.cookie(url, 'ormcp_session')).toBeUndefined();
  expect((await cli(['user', 'list', '--json'])).stdout).toBe(before.users);
  expect(readFileSync(join(dataDir, 'local-passwords.json'), 'utf8')).toBe(before.passwords);
});

test('the SDK client goes from the bare URL through the local sign-in to a tool call, as the existing user', async () => {
  const { provider, first, mcpUrl } = await startAuthorization();
  const browser = new Browser(fetch, url);
  const { page: login, action, origin } = await openSignIn(browser, provider.authorizationUrl!.toString());
  expect(login).toContain('<label for="password">Password</label>');

  const signedIn = await browser.post(action, { username: 'local', password: PASSWORD }, { Origin: origin });
  expect(signedIn.status).toBe(303);
  let step = await browser.follow(action, REDIRECT, signedIn);
  let page = await text(step.response!);
  expect(page).toContain('Connect OpenRouter first');

  // Paste a key (checked against the fake OpenRouter's /key), then allow the client.
  const saved = await browser.post(`${url}/app/key`, { csrf: csrfOf(page), next: '/oauth/consent', key: PASTED_KEY });
  expect(saved.status).toBe(303);
  step = await browser.follow(new URL(saved.headers.get('location')!, url).toString(), REDIRECT);
  page = await text(step.response!);
  expect(page).toContain('Allow Local sign-in test client?');
  expect(page).toContain('<strong>local</strong>');
  const decided = await browser.post(`${url}/oauth/consent`, { ...hiddenFields(page, '/oauth/consent'), decision: 'approve' });
  const callback = new URL(decided.headers.get('location')!);
  expect(callback.origin + callback.pathname).toBe(REDIRECT);

  await first.finishAuth(callback.searchParams);
  expect(provider.saved?.access_token).toMatch(/^ormcp_/);
  const client = new Client({ name: 'local-sign-in', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
  const result = await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'fake/echo', messages: [{ role: 'user', content: 'signed in locally' }] } });
  await client.close();
  expect(result.isError).toBeFalsy();
  expect(textOf(result)).toContain('signed in locally');
  expect(fake.calls('/chat/completions').at(-1)!.apiKey).toBe(PASTED_KEY);

  // The sign-in landed on the user the CLI created: still one user, now with the key.
  const users = JSON.parse((await cli(['user', 'list', '--json'])).stdout) as { name: string; hasKey: boolean }[];
  expect(users).toEqual([expect.objectContaining({ name: 'local', hasKey: true })]);
});

test('Cancel at the local sign-in sends the client access_denied, with nothing issued', async () => {
  const { provider } = await startAuthorization();
  const browser = new Browser(fetch, url);
  const { page, action, origin } = await openSignIn(browser, provider.authorizationUrl!.toString());
  const abort = /<form method="post" action="([^"]+\/abort)"/.exec(page)![1]!;
  expect(abort).toBe(action.replace(/\/login$/, '/abort'));
  const cancelled = await browser.post(abort, {}, { Origin: origin });
  const step = await browser.follow(abort, REDIRECT, cancelled);
  const back = new URL(step.url);
  expect(back.origin + back.pathname).toBe(REDIRECT);
  expect(back.searchParams.get('error')).toBe('access_denied');
  expect(back.searchParams.get('code')).toBeNull();
  expect(browser.cookie(url, 'ormcp_session')).toBeUndefined();
});

test('repeated wrong passwords lock the user out for a while, even with the right one afterwards', async () => {
  expect((await cli(['user', 'set-password', 'bob'], `${PASSWORD}\n`)).code).toBe(0);
  const { provider } = await startAuthorization();
  const browser = new Browser(fetch, url);
  const { action, origin } = await openSignIn(browser, provider.authorizationUrl!.toString());
  for (let i = 0; i < 5; i++) expect((await browser.post(action, { username: 'bob', password: `wrong-${i}-password` }, { Origin: origin })).status).toBe(401);
  const locked = await browser.post(action, { username: 'bob', password: PASSWORD }, { Origin: origin });
  expect(locked.status).toBe(429);
  expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(await text(locked)).toContain('Too many failed sign-ins');
});

test('neither the password nor its hash appears in any response or log line', () => {
  const stored = JSON.parse(readFileSync(join(dataDir, 'local-passwords.json'), 'utf8')) as { users: Record<string, { hash: string; salt: string }> };
  const secrets = [PASSWORD, ...Object.values(stored.users).flatMap((u) => [u.hash, u.salt])];
  const seen = [server.stdout(), server.logs(), ...bodies].join('\n');
  expect(bodies.length).toBeGreaterThan(5);
  for (const s of secrets) expect(seen).not.toContain(s);
});
