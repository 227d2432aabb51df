/**
 * Sign-in at the identity provider (OpenID Connect, authorization code + PKCE + nonce), for both the OAuth flow and
 * the pages: the redirect there, its callback at /oauth/callback, which starts our session, and the way out.
 */
import { randomBytes } from 'node:crypto';
import { isAdmin, type AdminAccessOptions } from '../auth/admin-access.js';
import type { Logger } from '../observability/logger.js';
import type { AccountStore } from '../store/account-store.js';
import { newVerifier } from '../crypto/pkce.js';
import { redirect } from '../ui/html.js';
import { errorPage, signInNotConfiguredPage } from '../ui/pages.js';
import { FLOW_COOKIES, type Cookies } from '../ui/session.js';
import { signInNotConfigured } from './errors.js';
import type { ServerUrls } from './metadata.js';
import { deniedRedirect, type PendingAuthorization } from './pending-authorization.js';
import type { IdentityProvider } from './upstream-oidc.js';

export interface IdentitySignInOptions {
  accounts: AccountStore;
  /** Absent when no identity provider is configured: then only static tokens work and OAuth answers 404/503. */
  identity?: IdentityProvider;
  cookies: Cookies;
  logger: Logger;
  /** Runs once a user has signed in, before the flow continues (e.g. creating their OpenRouter key). */
  afterSignIn?: (userId: string) => Promise<void>;
  /** Who may open the operator page (the admin group and the mapped groups claim). */
  adminAccess?: AdminAccessOptions;
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

export class IdentitySignIn {
  constructor(private readonly o: IdentitySignInOptions) {}

  get enabled(): boolean {
    return Boolean(this.o.identity);
  }

  /** Starts a sign-in at the identity provider and comes back to `next` with a session. */
  async startLogin(urls: ServerUrls, next: ContinuePath, extraCookies: string[] = []): Promise<Response> {
    if (!this.o.identity) return signInNotConfiguredPage(urls.base);
    const login: UpstreamLogin = { state: randomBytes(24).toString('base64url'), nonce: randomBytes(24).toString('base64url'), verifier: newVerifier(), next };
    const location = await this.o.identity.authorizationUrl({ redirectUri: `${urls.base}/oauth/callback`, state: login.state, nonce: login.nonce, verifier: login.verifier });
    return redirect(location, [...extraCookies, this.o.cookies.writeFlow(FLOW_COOKIES.upstreamLogin, login)]);
  }

  /** GET /oauth/callback: the identity provider's answer; a session on success, then on to where the login was going. */
  async callback(request: Request, urls: ServerUrls): Promise<Response> {
    const q = new URL(request.url).searchParams;
    const login = this.o.cookies.readFlow<UpstreamLogin>(request, FLOW_COOKIES.upstreamLogin);
    const clearLogin = this.o.cookies.clearFlow(FLOW_COOKIES.upstreamLogin);
    if (!login || q.get('state') !== login.state) {
      return errorPage(urls.base, 'Sign-in expired', 'This sign-in attempt is unknown or took too long. Start again from your client or the home page.', 400, [clearLogin]);
    }
    if (q.get('error') || !q.get('code')) {
      // Declined or failed at the identity provider: a pending client gets access_denied, a person gets a page.
      const pending = this.o.cookies.readFlow<PendingAuthorization>(request, FLOW_COOKIES.authorization);
      if (pending && login.next === '/oauth/consent') return deniedRedirect(pending, urls, this.o.cookies, [clearLogin]);
      return errorPage(urls.base, 'Sign-in did not complete', 'The sign-in was cancelled or failed. You can try again.', 400, [clearLogin]);
    }
    if (!this.o.identity) return signInNotConfigured();
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

  /** Where to end the identity provider's session after ours (undefined when it has no such endpoint). */
  async identityLogoutUrl(returnTo: string): Promise<string | undefined> {
    return this.o.identity?.logoutUrl(returnTo).catch(() => undefined);
  }

  /** Origins of the identity provider, which pages' CSP must allow as form-post redirect targets. */
  async identityOrigins(): Promise<string[]> {
    return (await this.o.identity?.origins().catch(() => [])) ?? [];
  }
}
