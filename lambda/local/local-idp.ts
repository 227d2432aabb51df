/**
 * The identity provider of `npm start` when no external one is configured (`ORMCP_OIDC_*`): a real OpenID
 * Connect provider (oidc-provider) on its own loopback port, which the sign-in façade uses exactly as it uses
 * Cognito in the stack — discovery, authorization code + PKCE, ID tokens verified against its JWKS. Its one
 * client is the façade; its accounts are the table's users, with passwords set by `ormcp user set-password`.
 *
 * It runs on its own port rather than under a path of the MCP server so it stays a separate origin (its cookies,
 * its CSP, its issuer) exactly like an external provider, and the MCP server's request handler is the one the
 * Lambda runs, untouched. Its signing keys and cookie keys live in the data dir (0600) and survive restarts; its
 * sessions and codes live in memory (a restart signs the browser out of it, nothing more).
 *
 * Only lambda/local/main.ts imports this module: nothing of it reaches the Lambda bundle.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Account, type KoaContextLike } from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';
import { trimTrailingSlashes } from '../http/path.js';
import { errorName } from '../observability/error-name.js';
import type { Logger } from '../observability/logger.js';
import type { AccountStore } from '../store/account-store.js';
import { STATIC_ASSETS } from '../web/static.js';
import { claimsFor, loadOrCreateIdpState } from './local-idp-state.js';
import { DEFAULT_LOGIN_LIMITS, LoginLimiter } from './login-limiter.js';
import { loginPage, logoutPage, messagePage } from './login-page.js';
import type { LocalPasswords } from './local-passwords.js';

export const LOCAL_CLIENT_ID = 'ormcp-local';
const MAX_FORM_BYTES = 16 * 1024;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

export interface LocalIdentityProvider {
  issuer: string;
  clientId: string;
  close(): Promise<void>;
}

export interface LocalIdpOptions {
  dataDir: string;
  /** The MCP server's public base URL (its /oauth/callback is the one redirect URI). */
  serverUrl: string;
  accounts: AccountStore;
  passwords: LocalPasswords;
  logger: Logger;
  /** A loopback address (default 127.0.0.1): the provider is for the browser on this machine only. */
  host?: string;
  /** Failed sign-ins per user name, and per client address (looser: on loopback every browser shares one). */
  limiters?: LoginLimiters;
}

export interface LoginLimiters {
  user: LoginLimiter;
  address: LoginLimiter;
}

export async function startLocalIdentityProvider(o: LocalIdpOptions): Promise<LocalIdentityProvider> {
  const host = o.host ?? '127.0.0.1';
  const state = loadOrCreateIdpState(o.dataDir);
  const limiters = o.limiters ?? { user: new LoginLimiter(), address: new LoginLimiter({ ...DEFAULT_LOGIN_LIMITS, maxFailures: 50 }) };
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${host}:${port}`;
  const serverUrl = trimTrailingSlashes(o.serverUrl);

  const provider = new Provider(issuer, {
    adapter: createMemoryAdapter(),
    clients: [
      {
        client_id: LOCAL_CLIENT_ID,
        token_endpoint_auth_method: 'none',
        redirect_uris: [`${serverUrl}/oauth/callback`],
        post_logout_redirect_uris: [`${serverUrl}/`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: state.jwks,
    cookies: { keys: state.cookieKeys },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username'] },
    // The façade reads the email from the ID token (it never calls userinfo), as it does with Cognito's.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    responseTypes: ['code'],
    ttl: { AuthorizationCode: 60, IdToken: 600, AccessToken: 600, Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600 },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContextLike, form: string) => respond(ctx, logoutPage(issuer, serverUrl, form)),
        postLogoutSuccessSource: (ctx: KoaContextLike) => respond(ctx, messagePage(issuer, serverUrl, 'Signed out', 'You are signed out of the local sign-in.')),
      },
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx: unknown, sub: string): Promise<Account | undefined> => {
      const user = await o.accounts.getUser(sub);
      return user ? { accountId: user.userId, claims: async () => claimsFor(user) } : undefined;
    },
    // The façade is this provider's only client and part of the same server: no consent screen here (the façade
    // asks for consent for each MCP client itself).
    loadExistingGrant: async (ctx: KoaContextLike) => {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const known = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const existing = known ? await ctx.oidc.provider.Grant.find(known) : undefined;
      if (existing) return existing;
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    renderError: (ctx: KoaContextLike, out: { error?: string; error_description?: string }) =>
      respond(ctx, messagePage(issuer, serverUrl, 'Sign-in problem', out.error_description ?? out.error ?? 'The sign-in request could not be processed. Start again from the start page.', ctx.status >= 400 ? ctx.status : 400)),
  });
  provider.on('server_error', (_ctx: unknown, err: unknown) => o.logger.error('local identity provider failed', { error: errorName(err) }));
  const oidc = provider.callback();

  const interactions = new InteractionPages({ provider, issuer, serverUrl, accounts: o.accounts, passwords: o.passwords, limiters, logger: o.logger });
  const allowedHosts = new Set([`${host}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`]);
  handle = (req, res) => {
    // Loopback only, and the Host must be ours: a page elsewhere cannot reach it through DNS rebinding.
    if (!allowedHosts.has(req.headers.host ?? '')) return void res.writeHead(421, { 'Content-Type': 'text/plain' }).end('Misdirected request');
    const path = new URL(req.url ?? '/', issuer).pathname;
    if (path === '/') return void res.writeHead(302, { Location: `${serverUrl}/` }).end();
    if (path.startsWith('/app/static/')) return serveStatic(res, path.slice('/app/static/'.length));
    if (path.startsWith('/interaction/')) return void interactions.handle(req, res, path).catch((err: unknown) => failed(res, err, o.logger, issuer, serverUrl));
    oidc(req, res);
  };

  o.logger.debug('local identity provider started', { issuer });
  return {
    issuer,
    clientId: LOCAL_CLIENT_ID,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface InteractionDeps {
  provider: Provider;
  issuer: string;
  serverUrl: string;
  accounts: AccountStore;
  passwords: LocalPasswords;
  limiters: LoginLimiters;
  logger: Logger;
}

/** The sign-in form of an interaction: GET shows it, POST …/login checks the password, POST …/abort cancels. */
class InteractionPages {
  constructor(private readonly d: InteractionDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const match = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(login|abort))?$/.exec(path);
    if (!match) return send(res, messagePage(this.d.issuer, this.d.serverUrl, 'Not found', 'There is no such page.', 404));
    const [, uid, action] = match;
    const method = req.method ?? 'GET';
    if (!action && method !== 'GET' && method !== 'HEAD') return send(res, messagePage(this.d.issuer, this.d.serverUrl, 'Method not allowed', 'Use GET.', 405));
    if (action && method !== 'POST') return send(res, messagePage(this.d.issuer, this.d.serverUrl, 'Method not allowed', 'Use POST.', 405));

    const details = await this.d.provider.interactionDetails(req, res).catch(() => undefined);
    if (!details || details.uid !== uid) {
      return send(res, messagePage(this.d.issuer, this.d.serverUrl, 'Sign-in expired', 'This sign-in took too long or was already used. Start again from the start page or your client.', 400));
    }
    if (!action) return send(res, loginPage({ base: this.d.issuer, serverUrl: this.d.serverUrl, uid: details.uid }));

    const origin = req.headers.origin;
    if (origin && origin !== this.d.issuer) {
      return send(res, messagePage(this.d.issuer, this.d.serverUrl, 'Request refused', 'This form was not submitted from the sign-in page.', 403));
    }
    if (action === 'abort') {
      return this.d.provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user cancelled the sign-in' }, { mergeWithLastSubmission: false });
    }
    const form = await readForm(req);
    if (!form) return send(res, messagePage(this.d.issuer, this.d.serverUrl, 'Request too large', 'The form sent more than the sign-in accepts.', 413));
    return this.login(req, res, details.uid, form);
  }

  private async login(req: IncomingMessage, res: ServerResponse, uid: string, form: URLSearchParams): Promise<void> {
    const name = (form.get('username') ?? '').trim();
    const password = form.get('password') ?? '';
    const again = (error: string, status: number) => send(res, loginPage({ base: this.d.issuer, serverUrl: this.d.serverUrl, uid, ...(NAME_PATTERN.test(name) ? { name } : {}), error, status }));
    const { user: perUser, address: perAddress } = this.d.limiters;
    const userKey = [name.toLowerCase()];
    const addressKey = [req.socket.remoteAddress ?? 'unknown'];
    const wait = Math.max(perUser.retryAfterMs(userKey), perAddress.retryAfterMs(addressKey));
    if (wait > 0) {
      this.d.logger.warn('local sign-in locked after failures', { retry_after_s: Math.ceil(wait / 1000) });
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
      return again(`Too many failed sign-ins. Try again in ${Math.ceil(wait / 60_000)} minute(s).`, 429);
    }
    const user = NAME_PATTERN.test(name) ? await this.d.accounts.findUserByName(name) : undefined;
    const ok = await this.d.passwords.verify(user?.userId, password);
    if (!ok || !user) {
      perUser.fail(userKey);
      perAddress.fail(addressKey);
      this.d.logger.warn('local sign-in refused', { reason: user ? 'wrong_password_or_none_set' : 'unknown_user' });
      return again('The user name or password is wrong.', 401);
    }
    perUser.succeed(userKey);
    // The façade maps IDENTITY#<issuer>#<sub> to a user; linking it here lands the user on their own account.
    await this.d.accounts.linkIdentity({ issuer: this.d.issuer, subject: user.userId }, user.userId);
    this.d.logger.info('local sign-in', { user_id: user.userId });
    await this.d.provider.interactionFinished(req, res, { login: { accountId: user.userId } }, { mergeWithLastSubmission: false });
  }
}

async function respond(ctx: KoaContextLike, response: Response): Promise<void> {
  ctx.status = response.status;
  response.headers.forEach((value, key) => ctx.set(key, value));
  ctx.body = await response.text();
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  res.writeHead(response.status, headers);
  res.end(await response.text());
}

function serveStatic(res: ServerResponse, name: string): void {
  const asset = Object.hasOwn(STATIC_ASSETS, name) ? STATIC_ASSETS[name] : undefined;
  if (!asset) return void res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found');
  res.writeHead(200, { 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' }).end(asset.body);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) return new URLSearchParams();
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function failed(res: ServerResponse, err: unknown, logger: Logger, issuer: string, serverUrl: string): void {
  logger.error('local sign-in failed', { error: errorName(err) });
  if (res.headersSent) return void res.end();
  void send(res, messagePage(issuer, serverUrl, 'Sign-in failed', 'Something went wrong during the sign-in. Start again from the start page.', 500));
}
