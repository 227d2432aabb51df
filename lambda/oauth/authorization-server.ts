/**
 * The OAuth 2.1 authorization-server façade in front of the identity provider. MCP clients register here (DCR or
 * metadata documents), are sent through the provider's sign-in by way of this server, see a consent page for
 * *their* client (required because every client reaches the provider through our one static client id), and get
 * this server's own codes and tokens, bound to the MCP resource. Codes, refresh tokens and grants live in the
 * table; the steps in between ride in sealed, short-lived cookies.
 */
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { BodyTooLarge, readTextCapped } from '../http/body.js';
import { StoreError, type AccountStore } from '../store/account-store.js';
import type { OAuthStore } from '../store/oauth-store.js';
import type { Logger } from '../observability/logger.js';
import { FLOW_COOKIES, csrfMatches, secretMatches, type Cookies } from '../web/session.js';
import { isAdmin, type AdminAccessOptions } from '../auth/admin-access.js';
import { redirect } from '../web/html.js';
import { consentPage, connectKeyPage, errorPage, signInNotConfiguredPage } from '../web/pages.js';
import type { ClientDirectory, OAuthClient } from './clients.js';
import { OAuthError, oauthErrorResponse, oauthJson } from './errors.js';
import { MCP_SCOPE, authorizationServerMetadata, protectedResourceMetadata, type ServerUrls } from './metadata.js';
import { isValidChallenge, isValidVerifier, newVerifier, verifyS256 } from '../crypto/pkce.js';
import { parseRedirectUri, redirectMatches } from './redirect-uris.js';
import type { IdentityProvider } from './upstream-oidc.js';

export interface AuthorizationServerOptions {
  accounts: AccountStore;
  store: OAuthStore;
  clients: ClientDirectory;
  /** Absent when no identity provider is configured: then only static tokens work and OAuth answers 503. */
  identity?: IdentityProvider;
  cookies: Cookies;
  logger: Logger;
  resourceName: string;
  /** Runs once a user has signed in, before the flow continues (e.g. creating their OpenRouter key). */
  afterSignIn?: (userId: string) => Promise<void>;
  /** Origin of OpenRouter's consent page: the connect-key page's form redirects there (its CSP must allow it). */
  openRouterAuthOrigin?: string;
  /** Who may open the operator page (the admin group and the mapped groups claim). */
  adminAccess?: AdminAccessOptions;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  codeTtlSeconds?: number;
  now?: () => Date;
}

/** The client's request, carried from /oauth/authorize through sign-in to the consent decision. */
interface PendingAuthorization {
  /** Names this one request: the consent form carries it, so a decision cannot land on a request started later. */
  requestId: string;
  clientId: string;
  clientName: string;
  redirectUri: string;
  state?: string;
  codeChallenge: string;
  resource: string;
  scope: string;
}

/** Our own login at the identity provider, carried from the redirect to its callback. */
interface UpstreamLogin {
  state: string;
  nonce: string;
  verifier: string;
  next: string;
}

/** Internal pages a flow may continue to after sign-in or after connecting a key (never an outside URL). */
export const CONTINUE_PATHS = ['/app', '/oauth/consent'] as const;
export type ContinuePath = (typeof CONTINUE_PATHS)[number];
export function continuePath(value: unknown): ContinuePath {
  return (CONTINUE_PATHS as readonly unknown[]).includes(value) ? (value as ContinuePath) : '/app';
}

const TokenRequest = z.object({
  grant_type: z.string().max(100),
  code: z.string().max(200).optional(),
  redirect_uri: z.string().max(2000).optional(),
  code_verifier: z.string().max(200).optional(),
  refresh_token: z.string().max(200).optional(),
  client_id: z.string().max(2000).optional(),
  client_secret: z.string().max(200).optional(),
  resource: z.string().max(2000).optional(),
  scope: z.string().max(500).optional(),
});
type TokenRequest = z.infer<typeof TokenRequest>;

const MAX_FORM_BYTES = 16 * 1024;

export class AuthorizationServer {
  private readonly accessTtl: number;
  private readonly refreshTtl: number;
  private readonly codeTtl: number;
  private readonly now: () => Date;

  constructor(private readonly o: AuthorizationServerOptions) {
    this.accessTtl = o.accessTokenTtlSeconds ?? 3600;
    this.refreshTtl = o.refreshTokenTtlSeconds ?? 30 * 24 * 3600;
    this.codeTtl = o.codeTtlSeconds ?? 120;
    this.now = o.now ?? (() => new Date());
  }

  get enabled(): boolean {
    return Boolean(this.o.identity);
  }

  /** Routes `/.well-known/*` and `/oauth/*`; undefined when the path is not ours. */
  async handle(request: Request, path: string, urls: ServerUrls): Promise<Response | undefined> {
    const method = request.method;
    switch (path) {
      case '/.well-known/oauth-protected-resource':
      case '/.well-known/oauth-protected-resource/mcp':
        return onlyGet(method) ?? publicJson(protectedResourceMetadata(urls, this.o.resourceName, this.enabled));
      case '/.well-known/oauth-authorization-server':
      case '/.well-known/openid-configuration':
        if (!this.enabled) return notConfigured();
        return onlyGet(method) ?? publicJson(authorizationServerMetadata(urls));
    }
    if (!path.startsWith('/oauth/')) return undefined;
    if (!this.enabled && path !== '/oauth/callback') return notConfigured();
    try {
      switch (path) {
        case '/oauth/register':
          return method === 'POST' ? await this.register(request) : methodNotAllowed('POST');
        case '/oauth/authorize':
          return method === 'GET' ? await this.authorize(request, urls) : methodNotAllowed('GET');
        case '/oauth/callback':
          return method === 'GET' ? await this.callback(request, urls) : methodNotAllowed('GET');
        case '/oauth/consent':
          if (method === 'GET') return await this.showConsent(request, urls);
          return method === 'POST' ? await this.decideConsent(request, urls) : methodNotAllowed('GET, POST');
        case '/oauth/token':
          return method === 'POST' ? await this.token(request, urls) : methodNotAllowed('POST');
        case '/oauth/revoke':
          return method === 'POST' ? await this.revoke(request) : methodNotAllowed('POST');
        default:
          return undefined;
      }
    } catch (err) {
      if (err instanceof OAuthError) return oauthErrorResponse(err);
      throw err;
    }
  }

  /** Starts a sign-in at the identity provider and comes back to `next` with a session. */
  async startLogin(urls: ServerUrls, next: ContinuePath, extraCookies: string[] = []): Promise<Response> {
    if (!this.o.identity) return signInNotConfiguredPage(urls.base);
    const login: UpstreamLogin = { state: randomBytes(24).toString('base64url'), nonce: randomBytes(24).toString('base64url'), verifier: newVerifier(), next };
    const location = await this.o.identity.authorizationUrl({ redirectUri: `${urls.base}/oauth/callback`, state: login.state, nonce: login.nonce, verifier: login.verifier });
    return redirect(location, [...extraCookies, this.o.cookies.writeFlow(FLOW_COOKIES.upstreamLogin, login)]);
  }

  /** Where to end the identity provider's session after ours (undefined when it has no such endpoint). */
  async identityLogoutUrl(returnTo: string): Promise<string | undefined> {
    return this.o.identity?.logoutUrl(returnTo).catch(() => undefined);
  }

  /** Origins of the identity provider, which pages' CSP must allow as form-post redirect targets. */
  async identityOrigins(): Promise<string[]> {
    return (await this.o.identity?.origins().catch(() => [])) ?? [];
  }

  // ---- registration ------------------------------------------------------------------------------

  private async register(request: Request): Promise<Response> {
    if (!isJson(request)) throw new OAuthError('invalid_client_metadata', 'Send the client metadata as application/json.');
    const body = await readBody(request);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new OAuthError('invalid_client_metadata', 'The body is not valid JSON.');
    }
    const registered = await this.o.clients.register(json);
    this.o.logger.info('oauth client registered', { client_id: registered.client_id, auth_method: registered.token_endpoint_auth_method });
    return oauthJson(registered, 201);
  }

  // ---- authorization -----------------------------------------------------------------------------

  private async authorize(request: Request, urls: ServerUrls): Promise<Response> {
    const q = new URL(request.url).searchParams;
    const single = (name: string) => (q.getAll(name).length > 1 ? null : (q.get(name) ?? undefined));
    const clientId = single('client_id');
    const requestedRedirect = single('redirect_uri');
    if (!clientId) return errorPage(urls.base, 'This sign-in link is incomplete', 'The client did not say who it is (client_id). Start the connection again from your MCP client.');

    // Until the client and its redirect URI check out, errors are shown here: never redirect to an unverified URI.
    let client: OAuthClient;
    try {
      client = await this.o.clients.resolve(clientId);
    } catch (err) {
      if (err instanceof OAuthError) return errorPage(urls.base, 'Unknown application', err.description, 400);
      throw err;
    }
    if (requestedRedirect === null) return errorPage(urls.base, 'Invalid redirect', 'redirect_uri was given more than once.');
    const redirectUri = requestedRedirect ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
    if (!redirectUri || !redirectMatches(client.redirectUris, redirectUri)) {
      return errorPage(urls.base, 'Invalid redirect', `The redirect URI is not registered for ${client.clientName}. Nothing was sent to it.`);
    }

    const state = single('state');
    const fail = (code: string, description: string) => redirect(clientRedirect(redirectUri, { error: code, error_description: description, ...(state ? { state } : {}), iss: urls.base }));
    if (state === null || (state && state.length > 1000)) return fail('invalid_request', 'state must be given once and be at most 1000 characters');
    if (single('response_type') !== 'code') return fail('unsupported_response_type', 'response_type must be "code"');
    const challenge = single('code_challenge');
    if (!challenge || !isValidChallenge(challenge)) return fail('invalid_request', 'PKCE is required: send a code_challenge (S256)');
    if (single('code_challenge_method') !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
    const resource = single('resource');
    if (resource === null || (resource !== undefined && resource !== urls.resource)) return fail('invalid_target', `resource must be ${urls.resource}`);

    const pending: PendingAuthorization = {
      requestId: randomBytes(18).toString('base64url'),
      clientId: client.clientId,
      clientName: client.clientName,
      redirectUri,
      ...(state ? { state } : {}),
      codeChallenge: challenge,
      resource: urls.resource,
      scope: MCP_SCOPE,
    };
    const pendingCookie = this.o.cookies.writeFlow(FLOW_COOKIES.authorization, pending);
    // Signed in already: straight to the consent page, which still asks (a registered client alone proves nothing).
    if (this.o.cookies.session(request)) return redirect(`${urls.base}/oauth/consent`, [pendingCookie]);
    return this.startLogin(urls, '/oauth/consent', [pendingCookie]);
  }

  private async callback(request: Request, urls: ServerUrls): Promise<Response> {
    const q = new URL(request.url).searchParams;
    const login = this.o.cookies.readFlow<UpstreamLogin>(request, FLOW_COOKIES.upstreamLogin);
    const clearLogin = this.o.cookies.clearFlow(FLOW_COOKIES.upstreamLogin);
    if (!login || q.get('state') !== login.state) {
      return errorPage(urls.base, 'Sign-in expired', 'This sign-in attempt is unknown or took too long. Start again from your client or the home page.', 400, [clearLogin]);
    }
    if (q.get('error') || !q.get('code')) {
      // Declined or failed at the identity provider: a pending client gets access_denied, a person gets a page.
      const pending = this.o.cookies.readFlow<PendingAuthorization>(request, FLOW_COOKIES.authorization);
      if (pending && login.next === '/oauth/consent') return this.denied(pending, urls, [clearLogin]);
      return errorPage(urls.base, 'Sign-in did not complete', 'The sign-in was cancelled or failed. You can try again.', 400, [clearLogin]);
    }
    if (!this.o.identity) return notConfigured();
    let userId: string;
    let admin: boolean;
    let disabled: boolean;
    try {
      const identity = await this.o.identity.exchange({ code: q.get('code')!, redirectUri: `${urls.base}/oauth/callback`, verifier: login.verifier, nonce: login.nonce });
      const user = await this.o.accounts.userForIdentity(identity);
      userId = user.userId;
      admin = isAdmin(this.o.adminAccess ?? {}, identity.groupClaims, user);
      disabled = Boolean(user.disabledAt);
    } catch (err) {
      this.o.logger.warn('sign-in failed at the identity provider', { error: err instanceof Error ? err.message.slice(0, 200) : 'unknown' });
      return errorPage(urls.base, 'Sign-in failed', 'The identity provider did not confirm who you are. Try again in a moment.', 502, [clearLogin]);
    }
    if (disabled) return errorPage(urls.base, 'Account disabled', 'The operator has disabled your account. Ask them to enable it again.', 403, [clearLogin]);
    this.o.logger.info('user signed in', { user_id: userId });
    await this.o.afterSignIn?.(userId);
    return redirect(`${urls.base}${continuePath(login.next)}`, [clearLogin, this.o.cookies.startSession(userId, { admin })]);
  }

  private async showConsent(request: Request, urls: ServerUrls): Promise<Response> {
    const pending = this.o.cookies.readFlow<PendingAuthorization>(request, FLOW_COOKIES.authorization);
    if (!pending) return errorPage(urls.base, 'Nothing to approve', 'This authorization request expired or was already answered. Start again from your client.');
    const session = this.o.cookies.session(request);
    if (!session) return this.startLogin(urls, '/oauth/consent');
    const user = await this.o.accounts.getUser(session.userId);
    if (!user) return this.startLogin(urls, '/oauth/consent', [this.o.cookies.endSession()]);
    if (!user.hasKey) return connectKeyPage(urls.base, session, '/oauth/consent', pending.clientName, this.o.openRouterAuthOrigin ? [this.o.openRouterAuthOrigin] : []);
    return consentPage(urls.base, session, { clientName: pending.clientName, redirectHost: describeRedirect(pending.redirectUri), userName: user.name, requestId: pending.requestId }, [pending.redirectUri]);
  }

  private async decideConsent(request: Request, urls: ServerUrls): Promise<Response> {
    const session = this.o.cookies.session(request);
    const form = await readPageForm(request, urls.base);
    if (form instanceof Response) return form;
    if (!session || !csrfMatches(session, form.get('csrf')) || !sameOrigin(request, urls)) {
      return errorPage(urls.base, 'Request refused', 'This form was not submitted from this site or your session ended. Reload the page and try again.', 403);
    }
    const pending = this.o.cookies.readFlow<PendingAuthorization>(request, FLOW_COOKIES.authorization);
    if (!pending) return errorPage(urls.base, 'Nothing to approve', 'This authorization request expired or was already answered. Start again from your client.');
    // Any page can start another authorization in this browser (a top-level GET replaces the pending cookie), so
    // the answer counts only for the request this page showed; the newer one is left for its own consent page.
    if (typeof pending.requestId !== 'string' || !secretMatches(pending.requestId, form.get('request'))) {
      this.o.logger.warn('consent answer for another authorization request refused', { user_id: session.userId, client_id: pending.clientId });
      return errorPage(
        urls.base,
        'This authorization request changed',
        'Another authorization was started in this browser after this page was shown, so your answer was not sent to any application and nothing was changed. Start again from the application you want to connect.',
        409,
      );
    }
    const clearPending = this.o.cookies.clearFlow(FLOW_COOKIES.authorization);
    if (form.get('decision') !== 'approve') return this.denied(pending, urls, [clearPending], 303);
    const user = await this.o.accounts.getUser(session.userId);
    if (!user?.hasKey) return redirect(`${urls.base}/oauth/consent`, [], 303);
    const code = await this.o.store.createCode({
      clientId: pending.clientId,
      userId: session.userId,
      redirectUri: pending.redirectUri,
      codeChallenge: pending.codeChallenge,
      resource: pending.resource,
      scope: pending.scope,
      expiresAt: new Date(this.now().getTime() + this.codeTtl * 1000).toISOString(),
    });
    this.o.logger.info('authorization granted', { user_id: session.userId, client_id: pending.clientId });
    return redirect(clientRedirect(pending.redirectUri, { code, ...(pending.state ? { state: pending.state } : {}), iss: urls.base }), [clearPending], 303);
  }

  private denied(pending: PendingAuthorization, urls: ServerUrls, cookies: string[], status: 302 | 303 = 302): Response {
    const params = { error: 'access_denied', error_description: 'The user did not authorize this client', ...(pending.state ? { state: pending.state } : {}), iss: urls.base };
    return redirect(clientRedirect(pending.redirectUri, params), [...cookies, this.o.cookies.clearFlow(FLOW_COOKIES.authorization)], status);
  }

  // ---- token endpoint ----------------------------------------------------------------------------

  private async token(request: Request, urls: ServerUrls): Promise<Response> {
    const form = await readForm(request, true);
    const parsed = TokenRequest.safeParse(Object.fromEntries(form));
    if (!parsed.success || [...form.keys()].some((k) => form.getAll(k).length > 1)) {
      throw new OAuthError('invalid_request', 'Send an application/x-www-form-urlencoded body with each parameter at most once.');
    }
    const req = parsed.data;
    const basic = parseBasicAuth(request.headers.get('authorization'));
    let client: OAuthClient;
    try {
      client = await this.authenticateClient(req, basic);
    } catch (err) {
      if (err instanceof OAuthError && err.code === 'invalid_client') return oauthErrorResponse(err, { basicAuthAttempted: Boolean(basic) });
      throw err;
    }
    if (req.resource !== undefined && req.resource !== urls.resource) throw new OAuthError('invalid_target', `This server issues tokens only for ${urls.resource}.`);
    try {
      if (req.grant_type === 'authorization_code') return await this.exchangeCode(req, client);
      if (req.grant_type === 'refresh_token') return await this.refresh(req, client);
    } catch (err) {
      // The user was removed after the code or refresh token was issued: the grant is gone (RFC 6749 §5.2).
      if (err instanceof StoreError && err.code === 'no_such_user') throw new OAuthError('invalid_grant', 'The user this authorization was issued to no longer exists.');
      throw err;
    }
    throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token.');
  }

  private async exchangeCode(req: TokenRequest, client: OAuthClient): Promise<Response> {
    if (!req.code || !req.redirect_uri || !req.code_verifier) throw new OAuthError('invalid_request', 'code, redirect_uri and code_verifier are required.');
    if (!isValidVerifier(req.code_verifier)) throw new OAuthError('invalid_request', 'code_verifier must be 43–128 characters of [A-Za-z0-9-._~].');
    const code = await this.o.store.getCode(req.code);
    const invalid = () => new OAuthError('invalid_grant', 'The authorization code is invalid, expired, already used, or was issued to another client or redirect URI.');
    if (!code) throw invalid();
    if (code.redeemedAt) {
      // RFC 6749 §4.1.2 / OAuth 2.1 §4.1.3: a code used twice has leaked; end what was issued on it.
      if (code.grantId) await this.o.accounts.revokeGrant(code.grantId).catch(() => undefined);
      this.o.logger.warn('authorization code replayed; grant revoked', { client_id: client.clientId, user_id: code.userId });
      throw invalid();
    }
    if (code.clientId !== client.clientId || code.redirectUri !== req.redirect_uri) throw invalid();
    if (Date.parse(code.expiresAt) <= this.now().getTime()) throw invalid();
    if (!verifyS256(req.code_verifier, code.codeChallenge)) throw new OAuthError('invalid_grant', 'PKCE verification failed: the code_verifier does not match the code_challenge.');

    const grant = await this.o.accounts.createGrant(code.userId, { clientId: client.clientId, clientName: client.clientName, audience: code.resource, scope: code.scope });
    if (!(await this.o.store.redeemCode(req.code, grant.grantId))) {
      // Lost a race with another redemption of the same code: a replay like any other, so what the winner got
      // ends too (the code was used twice), and so does the grant this attempt created.
      const winner = (await this.o.store.getCode(req.code))?.grantId;
      await Promise.all([grant.grantId, ...(winner ? [winner] : [])].map((id) => this.o.accounts.revokeGrant(id).catch(() => undefined)));
      throw invalid();
    }
    if (client.source === 'registration') await this.o.store.touchClient(client.clientId);
    this.o.logger.info('oauth tokens issued', { user_id: code.userId, client_id: client.clientId, grant_id: grant.grantId });
    return this.issueTokens(grant.grantId, code.userId, client);
  }

  private async refresh(req: TokenRequest, client: OAuthClient): Promise<Response> {
    if (!req.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required.');
    const invalid = () => new OAuthError('invalid_grant', 'The refresh token is invalid, expired, revoked, or was issued to another client.');
    const record = await this.o.store.getRefreshToken(req.refresh_token);
    if (!record || record.clientId !== client.clientId) throw invalid();
    const grant = await this.o.accounts.getGrant(record.grantId);
    if (!grant || grant.revokedAt) throw invalid();
    const reused = async () => {
      // A rotated-out refresh token came back: someone holds a copy. End the whole grant (both copies).
      await this.o.accounts.revokeGrant(grant.grantId);
      this.o.logger.warn('refresh token reused; grant revoked', { user_id: record.userId, client_id: client.clientId, grant_id: grant.grantId });
      return invalid();
    };
    if (record.usedAt) throw await reused();
    // Expired before it was used: refused without marking it used (nothing stored changes).
    if (Date.parse(record.expiresAt) <= this.now().getTime()) throw invalid();
    if (!(await this.o.store.useRefreshToken(record.tokenId))) throw await reused();
    return this.issueTokens(grant.grantId, record.userId, client);
  }

  private async issueTokens(grantId: string, userId: string, client: OAuthClient): Promise<Response> {
    const grant = await this.o.accounts.getGrant(grantId);
    if (!grant || grant.revokedAt) throw new OAuthError('invalid_grant', 'The grant was revoked.');
    const now = this.now().getTime();
    const [access, refreshToken] = await Promise.all([
      this.o.accounts.issueToken(userId, { grant, expiresAt: new Date(now + this.accessTtl * 1000) }),
      this.o.store.issueRefreshToken({ grantId, clientId: client.clientId, userId, expiresAt: new Date(now + this.refreshTtl * 1000).toISOString() }),
    ]);
    return oauthJson({ access_token: access.token, token_type: 'Bearer', expires_in: this.accessTtl, refresh_token: refreshToken, scope: grant.scope });
  }

  /** Client authentication at the token and revocation endpoints, by the method the client registered. */
  private async authenticateClient(req: { client_id?: string; client_secret?: string }, basic: { id: string; secret: string } | undefined): Promise<OAuthClient> {
    if (basic && req.client_secret) throw new OAuthError('invalid_request', 'Use one client authentication method, not two.');
    const clientId = basic?.id ?? req.client_id;
    if (!clientId) throw new OAuthError('invalid_client', 'client_id is required.');
    if (basic && req.client_id && req.client_id !== basic.id) throw new OAuthError('invalid_client', 'client_id does not match the authenticated client.');
    const client = await this.o.clients.resolve(clientId);
    const secret = basic?.secret ?? req.client_secret;
    const method = client.tokenEndpointAuthMethod;
    if (method === 'none') {
      if (secret) throw new OAuthError('invalid_client', 'This client is public: it authenticates with PKCE, not a secret.');
      return client;
    }
    const used = basic ? 'client_secret_basic' : req.client_secret ? 'client_secret_post' : 'none';
    if (used !== method || !secret || !(await this.o.store.verifyClientSecret(clientId, secret))) {
      throw new OAuthError('invalid_client', `Client authentication failed (this client uses ${method}).`);
    }
    return client;
  }

  // ---- revocation (RFC 7009) ---------------------------------------------------------------------

  private async revoke(request: Request): Promise<Response> {
    const form = await readForm(request, true);
    const token = form.get('token');
    if (!token || token.length > 300) throw new OAuthError('invalid_request', 'token is required.');
    const client = await this.authenticateClient({ client_id: form.get('client_id') ?? undefined, client_secret: form.get('client_secret') ?? undefined }, parseBasicAuth(request.headers.get('authorization')));
    // Either kind of token ends its whole grant; tokens of other clients (or unknown ones) are ignored, as RFC 7009 §2.2 asks.
    const refresh = await this.o.store.getRefreshToken(token);
    const grantId = refresh?.clientId === client.clientId ? refresh.grantId : await this.grantOfAccessToken(token, client.clientId);
    if (grantId) {
      await this.o.accounts.revokeGrant(grantId).catch(() => undefined);
      this.o.logger.info('oauth grant revoked by client', { client_id: client.clientId, grant_id: grantId });
    }
    return new Response(null, { status: 200, headers: { 'Cache-Control': 'no-store' } });
  }

  private async grantOfAccessToken(token: string, clientId: string): Promise<string | undefined> {
    // Not authenticate(): presenting a token here is not a use of it (no last-used stamp on a personal token).
    const info = await this.o.accounts.verifiedTokenGrant(token);
    return info?.clientId === clientId ? info.grantId : undefined;
  }
}

// ---- helpers -------------------------------------------------------------------------------------

function clientRedirect(redirectUri: string, params: Record<string, string>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

/** What the consent page shows as the destination: the host (or the app scheme) codes are sent to. */
function describeRedirect(uri: string): string {
  const url = parseRedirectUri(uri);
  if (!url) return uri;
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : `${url.protocol}//${url.host}`;
}

function parseBasicAuth(header: string | null): { id: string; secret: string } | undefined {
  const m = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    return { id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')) };
  } catch {
    return undefined;
  }
}

function isJson(request: Request): boolean {
  return /^application\/json\b/i.test(request.headers.get('content-type') ?? '');
}

async function readBody(request: Request): Promise<string> {
  try {
    return await readTextCapped(request, MAX_FORM_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new OAuthError('invalid_request', err.message, 413);
    throw err;
  }
}

/** A form body; with `strict`, anything but application/x-www-form-urlencoded is an invalid_request. */
export async function readForm(request: Request, strict = false): Promise<URLSearchParams> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(request.headers.get('content-type') ?? '')) {
    if (strict) throw new OAuthError('invalid_request', 'Send the parameters as application/x-www-form-urlencoded.');
    return new URLSearchParams();
  }
  return new URLSearchParams(await readBody(request));
}

/** A form posted from one of our pages; an oversized body is answered with an error page (413), not a form. */
export async function readPageForm(request: Request, base: string): Promise<URLSearchParams | Response> {
  try {
    return await readForm(request);
  } catch (err) {
    if (err instanceof OAuthError) return errorPage(base, 'Request too large', 'This form sent more than the server accepts. Nothing was changed.', 413);
    throw err;
  }
}

/** Browsers send Origin on form posts; a post from another site is refused even before the CSRF check. */
export function sameOrigin(request: Request, urls: ServerUrls): boolean {
  const origin = request.headers.get('origin');
  return !origin || origin === new URL(urls.base).origin;
}

function publicJson(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' },
  });
}

function onlyGet(method: string): Response | undefined {
  return method === 'GET' || method === 'HEAD' ? undefined : methodNotAllowed('GET');
}

function methodNotAllowed(allow: string): Response {
  return new Response(JSON.stringify({ error: 'invalid_request', error_description: `Method not allowed; use ${allow}.` }), {
    status: 405,
    headers: { 'Content-Type': 'application/json', Allow: allow },
  });
}

function notConfigured(): Response {
  return oauthErrorResponse(new OAuthError('temporarily_unavailable', 'Sign-in is not configured on this server; use a personal MCP token instead.', 404));
}

