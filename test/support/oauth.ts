/**
 * OAuth test support: the Cognito stand-in (oauth2-mock-server in a child process), a harness with sign-in
 * switched on, and a small cookie-keeping "browser" that follows redirects between this server (in-process or
 * over HTTP), the identity provider and the fake OpenRouter, filling in forms the way a person would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import type { AppConfig } from '../../lambda/app/config.js';
import type { MetadataFetcher } from '../../lambda/oauth/client-metadata.js';
import { challengeFor, newVerifier } from '../../lambda/crypto/pkce.js';
import { OidcProvider } from '../../lambda/oauth/upstream-oidc.js';
import { startHarness, type Harness } from './harness.js';
import { MetadataFetchError } from '../../lambda/oauth/client-metadata.js';

export const TEST_OIDC_CLIENT_ID = 'ormcp-test-app-client';

export interface MockCognito {
  issuer: string;
  close(): Promise<void>;
}

export async function startMockCognito(): Promise<MockCognito> {
  const child: ChildProcess = spawn(process.execPath, [resolve(__dirname, 'mock-cognito.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolveLine, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolveLine);
    child.once('exit', (code) => reject(new Error(`mock Cognito exited with ${code}`)));
  });
  const { issuer } = JSON.parse(line) as { issuer: string };
  return {
    issuer,
    close: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.stdin!.end();
      }),
  };
}

export interface OAuthHarness extends Harness {
  cognito: MockCognito;
}

export async function startOAuthHarness(overrides: Partial<AppConfig> = {}, options: { metadataFetcher?: MetadataFetcher; managementKey?: string } = {}): Promise<OAuthHarness> {
  const cognito = await startMockCognito();
  const identity = new OidcProvider({ issuer: cognito.issuer, clientId: TEST_OIDC_CLIENT_ID });
  const h = await startHarness(overrides, {
    signIn: {
      identity,
      ...(options.metadataFetcher ? { metadataFetcher: options.metadataFetcher } : {}),
      ...(options.managementKey ? { managementKey: async () => options.managementKey! } : {}),
    },
  });
  const close = h.close.bind(h);
  return Object.assign(h, { cognito, close: async () => Promise.all([close(), cognito.close()]).then(() => undefined) });
}

export interface Login {
  sub: string;
  email: string;
  emailVerified?: boolean;
}

/** A person at a browser: keeps cookies per origin, follows redirects, submits forms. */
export class Browser {
  private readonly jar = new Map<string, Map<string, string>>();
  /** Every URL visited, in order. */
  readonly visited: string[] = [];

  constructor(
    /** Serves requests to the server under test (in-process fetch or real HTTP). */
    private readonly serverFetch: typeof fetch,
    private readonly serverOrigin: string,
    private readonly login?: Login,
  ) {}

  async get(url: string): Promise<Response> {
    return this.send(url, { method: 'GET' });
  }

  async post(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.send(url, { method: 'POST', body: new URLSearchParams(form), headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: this.serverOrigin, ...headers } });
  }

  /** Follows redirects from `url` until a page (non-redirect) or a URL starting with `stopAt` is reached. */
  async follow(url: string, stopAt?: string, first?: Response): Promise<{ url: string; response?: Response }> {
    let current = url;
    let res = first;
    for (let hops = 0; hops < 20; hops++) {
      if (stopAt && current.startsWith(stopAt)) return { url: current };
      res ??= await this.get(current);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { url: current, response: res };
      current = this.withLogin(new URL(location, current).toString());
      res = undefined;
    }
    throw new Error('too many redirects');
  }

  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(origin)?.get(name);
  }

  private withLogin(url: string): string {
    // The identity provider stand-in signs in whoever the test says: pass the identity along on its /authorize.
    if (!this.login || !url.includes('/authorize?') || new URL(url).origin === this.serverOrigin) return url;
    const u = new URL(url);
    u.searchParams.set('login_sub', this.login.sub);
    u.searchParams.set('login_email', this.login.email);
    u.searchParams.set('login_email_verified', String(this.login.emailVerified ?? true));
    return u.toString();
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    this.visited.push(url);
    const origin = new URL(url).origin;
    const jar = this.jar.get(origin) ?? new Map<string, string>();
    this.jar.set(origin, jar);
    const headers = new Headers(init.headers);
    if (jar.size) headers.set('Cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const doFetch = origin === this.serverOrigin ? this.serverFetch : fetch;
    const res = await doFetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (!value || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }
}

/** The hidden CSRF value in a page's forms. */
export function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF field on the page');
  return m[1]!;
}

/**
 * The hidden fields of the page's form that posts to `action` (a path on this server), as the browser would send
 * them: e.g. the consent form's CSRF value and the id of the request it shows.
 */
export function hiddenFields(html: string, action: string): Record<string, string> {
  const form = new RegExp(`<form [^>]*action="[^"]*${action.replace(/[/.]/g, '\\$&')}"[^>]*>([\\s\\S]*?)</form>`).exec(html);
  if (!form) throw new Error(`no form posting to ${action} on the page`);
  const fields: Record<string, string> = {};
  for (const m of form[1]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]!] = m[2]!;
  return fields;
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = newVerifier();
  return { verifier, challenge: challengeFor(verifier) };
}

// ---- shared steps for OAuth tests ----------------------------------------------------------------

export const TEST_ORIGIN = 'http://127.0.0.1';

export interface RegisteredTestClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  token_endpoint_auth_method: string;
}

/** POST /oauth/register with a JSON body (or raw text, with its content type). */
export function registerRequest(h: Harness, body: unknown, contentType = 'application/json'): Promise<Response> {
  return h.fetch(`${TEST_ORIGIN}/oauth/register`, { method: 'POST', headers: { 'Content-Type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** Registers a client that must be accepted (a public one unless the body says otherwise). */
export async function registerClient(h: Harness, body: Record<string, unknown>): Promise<RegisteredTestClient> {
  const res = await registerRequest(h, { client_name: 'Test Client', token_endpoint_auth_method: 'none', ...body });
  if (res.status !== 201) throw new Error(`registration refused: ${res.status} ${await res.text()}`);
  return (await res.json()) as RegisteredTestClient;
}

/** POST /oauth/token (or /oauth/revoke) with a form body. */
export function tokenRequest(h: Harness, form: Record<string, string>, headers: Record<string, string> = {}, path = '/oauth/token'): Promise<Response> {
  return h.fetch(`${TEST_ORIGIN}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) });
}

/** RFC 6749 §2.3.1 Basic credentials (each part form-urlencoded first). */
export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export function authorizeUrl(params: Record<string, string | string[]>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  return `${TEST_ORIGIN}/oauth/authorize?${q}`;
}

export interface ObtainedCode {
  client: RegisteredTestClient;
  code: string;
  verifier: string;
  redirectUri: string;
  state: string;
  browser: Browser;
}

/**
 * register (unless a client is given) → authorize → sign in (unless the browser has a session) → paste a key
 * (when the user has none) → approve; returns the code delivered to the redirect URI.
 */
export async function obtainCode(
  h: Harness,
  options: { client?: RegisteredTestClient; redirectUri?: string; browser?: Browser; login?: Login; extra?: Record<string, string> } = {},
): Promise<ObtainedCode> {
  const redirectUri = options.redirectUri ?? options.client?.redirect_uris[0] ?? 'http://127.0.0.1:9999/callback';
  const client = options.client ?? (await registerClient(h, { redirect_uris: [redirectUri] }));
  const browser = options.browser ?? new Browser(h.fetch, TEST_ORIGIN, options.login ?? { sub: 'sub-dave', email: 'dave@example.com' });
  const { verifier, challenge } = pkcePair();
  const state = `st-${Math.random().toString(36).slice(2)}`;
  const url = authorizeUrl({ response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', state, resource: `${TEST_ORIGIN}/mcp`, scope: 'mcp', ...options.extra });
  let step = await browser.follow(url, redirectUri);
  let page = step.response ? await step.response.text() : '';
  if (page.includes('Connect OpenRouter first')) {
    const key = `sk-or-v1-test-${Math.random().toString(36).slice(2)}-0123456789`;
    h.fake.addKey(key);
    const saved = await browser.post(`${TEST_ORIGIN}/app/key`, { csrf: csrfOf(page), key, next: '/oauth/consent' });
    step = await browser.follow(new URL(saved.headers.get('location')!, TEST_ORIGIN).toString(), redirectUri);
    page = step.response ? await step.response.text() : '';
  }
  if (step.url !== `${TEST_ORIGIN}/oauth/consent` || !page.includes('name="decision"')) throw new Error(`expected the consent page, got ${step.url}: ${page.slice(0, 300)}`);
  const decided = await browser.post(`${TEST_ORIGIN}/oauth/consent`, { ...hiddenFields(page, '/oauth/consent'), decision: 'approve' });
  const back = new URL(decided.headers.get('location') ?? 'about:blank');
  const code = back.searchParams.get('code');
  if (decided.status !== 303 || !code || `${back.origin}${back.pathname}` !== `${new URL(redirectUri).origin}${new URL(redirectUri).pathname}`) {
    throw new Error(`consent did not deliver a code: ${decided.status} ${back}`);
  }
  return { client, code, verifier, redirectUri, state, browser };
}

/** A client-metadata fetcher serving documents from a map (unknown URLs: HTTP 404), recording every URL asked for. */
export function mapMetadataFetcher(): MetadataFetcher & { documents: Map<string, unknown>; fetched: string[] } {
  const documents = new Map<string, unknown>();
  const fetched: string[] = [];
  return {
    documents,
    fetched,
    async fetchJson(url: URL) {
      fetched.push(url.href);
      if (!documents.has(url.href)) throw new MetadataFetchError('HTTP 404');
      return documents.get(url.href);
    },
  };
}
