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
import { challengeFor, newVerifier } from '../../lambda/oauth/pkce.js';
import { OidcProvider } from '../../lambda/oauth/upstream-oidc.js';
import { startHarness, type Harness } from './harness.js';

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

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = newVerifier();
  return { verifier, challenge: challengeFor(verifier) };
}
