/**
 * The browser half of OAuth: /oauth/authorize checks the client and its redirect URI, sends the user through
 * sign-in, and /oauth/consent asks them about *this* client (required because every client reaches the identity
 * provider through our one static client id) before a code goes to the client. The request rides in a sealed flow
 * cookie; the decision is a same-origin form post carrying the session's CSRF value.
 */
import { randomBytes } from 'node:crypto';
import { sameOrigin } from '../http/origin.js';
import type { Logger } from '../observability/logger.js';
import type { AccountStore } from '../store/account-store.js';
import type { OAuthStore } from '../store/oauth-store.js';
import { isValidChallenge } from '../crypto/pkce.js';
import { redirect } from '../ui/html.js';
import { readPageForm } from '../ui/page-form.js';
import { consentPage, connectKeyPage, errorPage } from '../ui/pages.js';
import { FLOW_COOKIES, csrfMatches, secretMatches, type Cookies } from '../ui/session.js';
import type { ClientDirectory, OAuthClient } from './clients.js';
import { OAuthError } from './errors.js';
import { MCP_SCOPE, type ServerUrls } from './metadata.js';
import { clientRedirect, deniedRedirect, type PendingAuthorization } from './pending-authorization.js';
import { parseRedirectUri, redirectMatches } from './redirect-uris.js';
import type { IdentitySignIn } from './sign-in.js';

export interface AuthorizationFlowOptions {
  accounts: AccountStore;
  store: OAuthStore;
  clients: ClientDirectory;
  signIn: IdentitySignIn;
  cookies: Cookies;
  logger: Logger;
  /** Origin of OpenRouter's consent page: the connect-key page's form redirects there (its CSP must allow it). */
  openRouterAuthOrigin?: string;
  codeTtlSeconds?: number;
  now?: () => Date;
}

export class AuthorizationFlow {
  private readonly codeTtl: number;
  private readonly now: () => Date;

  constructor(private readonly o: AuthorizationFlowOptions) {
    this.codeTtl = o.codeTtlSeconds ?? 120;
    this.now = o.now ?? (() => new Date());
  }

  /** GET /oauth/authorize */
  async authorize(request: Request, urls: ServerUrls): Promise<Response> {
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
    return this.o.signIn.startLogin(urls, '/oauth/consent', [pendingCookie]);
  }

  /** GET /oauth/consent */
  async showConsent(request: Request, urls: ServerUrls): Promise<Response> {
    const pending = this.o.cookies.readFlow<PendingAuthorization>(request, FLOW_COOKIES.authorization);
    if (!pending) return errorPage(urls.base, 'Nothing to approve', 'This authorization request expired or was already answered. Start again from your client.');
    const session = this.o.cookies.session(request);
    if (!session) return this.o.signIn.startLogin(urls, '/oauth/consent');
    const user = await this.o.accounts.getUser(session.userId);
    if (!user) return this.o.signIn.startLogin(urls, '/oauth/consent', [this.o.cookies.endSession()]);
    if (!user.hasKey) return connectKeyPage(urls.base, session, '/oauth/consent', pending.clientName, this.o.openRouterAuthOrigin ? [this.o.openRouterAuthOrigin] : []);
    return consentPage(urls.base, session, { clientName: pending.clientName, redirectHost: describeRedirect(pending.redirectUri), userName: user.name, requestId: pending.requestId }, [pending.redirectUri]);
  }

  /** POST /oauth/consent */
  async decideConsent(request: Request, urls: ServerUrls): Promise<Response> {
    const session = this.o.cookies.session(request);
    const form = await readPageForm(request, urls.base);
    if (form instanceof Response) return form;
    if (!session || !csrfMatches(session, form.get('csrf')) || !sameOrigin(request, urls.base)) {
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
    if (form.get('decision') !== 'approve') return deniedRedirect(pending, urls, this.o.cookies, [clearPending], 303);
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
}

/** What the consent page shows as the destination: the host (or the app scheme) codes are sent to. */
function describeRedirect(uri: string): string {
  const url = parseRedirectUri(uri);
  if (!url) return uri;
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : `${url.protocol}//${url.host}`;
}
