/**
 * The self-service pages: sign in (oauth/sign-in.ts, the step the OAuth flow uses too), connect, replace or remove the
 * OpenRouter key (pasted and checked against OpenRouter's `/key`, or through OpenRouter's own OAuth PKCE flow,
 * or created with the operator's management key), personal MCP tokens (shown once), connected applications
 * (OAuth grants), and sign-out. Every state change is a POST carrying the session's CSRF value from this origin.
 */
import { randomBytes } from 'node:crypto';
import { sameOrigin } from '../http/origin.js';
import type { ServerUrls } from '../oauth/metadata.js';
import { continuePath, type ContinuePath, type IdentitySignIn } from '../oauth/sign-in.js';
import { newVerifier } from '../crypto/pkce.js';
import type { Logger } from '../observability/logger.js';
import { KeyExchangeError, exchangeOpenRouterCode, openRouterAuthorizeUrl, type OpenRouterAuthOptions } from '../openrouter/auth-keys.js';
import { OpenRouterClient } from '../openrouter/client.js';
import { UpstreamError } from '../openrouter/errors.js';
import type { KeyInfo } from '../openrouter/schemas.js';
import { StoreError, type AccountStore } from '../store/account-store.js';
import { redirect } from '../ui/html.js';
import { dashboardPage, isNotice, landingPage, tokenCreatedPage, type DashboardData, type Notice } from './dashboard.js';
import { readPageForm } from '../ui/page-form.js';
import { errorPage, replaceKeyPage } from '../ui/pages.js';
import { PROVISION_RATE, type KeyChangeFailure, type KeyChangeOutcome, type KeyProvisioner } from './provisioning.js';
import { FLOW_COOKIES, csrfMatches, secretMatches, type Cookies, type Session } from '../ui/session.js';
import { STATIC_ASSETS } from './static.js';
import { TeamViews, type TeamViewOptions } from './team-views.js';
import { DELETE_CONVERSATION_PATH, conversationsFor, conversationsSection, deleteConversationFromPage } from './conversations-section.js';
import type { ConversationStore } from '../store/conversation-store.js';

export interface WebAppOptions {
  accounts: AccountStore;
  /** Sign-in at the identity provider (the same one the OAuth flow uses). */
  auth: IdentitySignIn;
  cookies: Cookies;
  logger: Logger;
  openRouter: OpenRouterAuthOptions;
  /** Creates keys with the operator's management key, when that is configured. */
  provisioning?: KeyProvisioner;
  /** The usage page, the defaults form and the operator page (with the usage ledger). */
  team?: TeamViewOptions;
  /** Stored conversations, listed with a delete button (none: storage is off). */
  conversations?: ConversationStore | undefined;
  now?: () => Date;
}

interface NewToken {
  token: string;
  label: string;
  uid: string;
}

/** The Connect OpenRouter flow, between our form post and OpenRouter's redirect back to the callback. */
interface OpenRouterConnect {
  verifier: string;
  /** Also the last segment of the callback URL: a callback that does not carry it was not sent by this flow. */
  nonce: string;
  uid: string;
  next: string;
}

/** A key OpenRouter handed over while the user already had one, until they confirm the replacement. */
interface PendingReplacement {
  key: string;
  uid: string;
  next: string;
}

const OPENROUTER_CALLBACK = '/app/openrouter/callback';

const EXPIRY_CHOICES: Record<string, number | undefined> = { '7d': 7, '30d': 30, '90d': 90, '365d': 365, never: undefined };

export class WebApp {
  private readonly team: TeamViews | undefined;

  constructor(private readonly o: WebAppOptions) {
    this.team = o.team && new TeamViews({ ...o.team, accounts: o.accounts, logger: o.logger, ...(o.now ? { now: o.now } : {}) });
  }

  /** Routes `/`, `/app/*` and (with the team views) `/admin/*`; undefined when the path is not ours. */
  async handle(request: Request, path: string, urls: ServerUrls): Promise<Response | undefined> {
    const method = request.method;
    const get = method === 'GET' || method === 'HEAD';
    if (path === '/') return get ? landingPage(urls, this.o.cookies.session(request) !== undefined, this.o.auth.enabled) : notAllowed(urls, 'GET');
    if (path.startsWith('/app/static/')) return get ? serveStatic(path.slice('/app/static/'.length)) : notAllowed(urls, 'GET');
    const admin = path === '/admin' || path.startsWith('/admin/');
    if (path !== '/app' && !path.startsWith('/app/') && !(admin && this.team)) return undefined;

    if (path === '/app/login') return get ? this.o.auth.startLogin(urls, '/app') : notAllowed(urls, 'GET');
    const session = this.o.cookies.session(request);
    if (!session) return get ? this.o.auth.startLogin(urls, '/app') : errorPage(urls.base, 'Signed out', 'Your session ended. Sign in again and retry.', 401);
    const signedIn = await this.o.accounts.getUser(session.userId);
    if (!signedIn || signedIn.disabledAt) return redirect(`${urls.base}/`, [this.o.cookies.endSession()]);
    if (admin && this.team) return this.team.admin(request, session, path, urls);

    if (get) {
      if (path === OPENROUTER_CALLBACK || path.startsWith(`${OPENROUTER_CALLBACK}/`)) return this.finishOpenRouterConnect(request, session, urls, path.slice(OPENROUTER_CALLBACK.length + 1));
      switch (path) {
        case '/app':
          return this.dashboard(session, urls, new URL(request.url).searchParams.get('done'));
        case '/app/openrouter/connect':
          return notAllowed(urls, 'POST');
        case '/app/openrouter/confirm':
          return this.showReplaceKey(request, session, urls);
        case '/app/tokens/new':
          return this.showNewToken(request, session, urls);
        case '/app/usage':
          if (this.team) return this.team.usage(session, urls, new URL(request.url).searchParams.get('done') === 'saved');
          return errorPage(urls.base, 'Not found', 'There is no such page.', 404);
        default:
          return errorPage(urls.base, 'Not found', 'There is no such page.', 404);
      }
    }
    if (method !== 'POST') return notAllowed(urls, 'GET, POST');
    const form = await readPageForm(request, urls.base);
    if (form instanceof Response) return form;
    if (!csrfMatches(session, form.get('csrf')) || !sameOrigin(request, urls.base)) {
      return errorPage(urls.base, 'Request refused', 'This form was not submitted from this site or your session changed. Reload the page and try again.', 403);
    }
    switch (path) {
      case '/app/key':
        return this.saveKey(session, form, urls);
      case '/app/key/remove':
        return this.removeKey(session, urls);
      case '/app/key/provision':
        return this.provisionKey(session, form, urls);
      case '/app/openrouter/connect':
        return this.startOpenRouterConnect(session, form, urls);
      case '/app/openrouter/confirm':
        return this.confirmReplaceKey(request, session, form, urls);
      case '/app/tokens':
        return this.createToken(session, form, urls);
      case '/app/tokens/revoke':
        return this.revokeToken(session, form, urls);
      case '/app/grants/revoke':
        return this.revokeGrant(session, form, urls);
      case DELETE_CONVERSATION_PATH:
        return deleteConversationFromPage(this.o.conversations, session, form, urls, this.o.logger);
      case '/app/logout':
        return this.logout(urls);
      case '/app/defaults':
        if (this.team) return this.team.saveDefaults(session, form, urls);
        return errorPage(urls.base, 'Not found', 'There is no such action.', 404);
      default:
        return errorPage(urls.base, 'Not found', 'There is no such action.', 404);
    }
  }

  private async dashboard(session: Session, urls: ServerUrls, done: string | null): Promise<Response> {
    const user = (await this.o.accounts.getUser(session.userId))!;
    const [tokens, grants, key, conversations] = await Promise.all([
      this.o.accounts.listTokens(user.userId),
      this.o.accounts.listGrants(user.userId),
      user.hasKey ? this.keyUsage(user.userId) : Promise.resolve(undefined),
      conversationsFor(this.o.conversations, user.userId),
    ]);
    const data: DashboardData = {
      user,
      session,
      tokens: tokens.filter((t) => !t.revokedAt),
      grants: grants.filter((g) => !g.revokedAt),
      key,
      provisioningAvailable: Boolean(this.o.provisioning?.mayProvision(user)),
      teamViews: Boolean(this.team),
      ...(isNotice(done) ? { notice: done } : {}),
      formActions: [...(await this.o.auth.identityOrigins()), new URL(this.o.openRouter.authUrl).origin],
      conversations: conversationsSection(urls.base, session, conversations),
    };
    return dashboardPage(urls, data);
  }

  /** The key's usage and limit for the dashboard; a failure shows as "unavailable", never as an error page. */
  private async keyUsage(userId: string): Promise<DashboardData['key']> {
    const apiKey = await this.o.accounts.getOpenRouterKey(userId);
    if (!apiKey) return { status: 'unreadable' };
    try {
      const info: KeyInfo = await this.client(apiKey).key();
      return { status: 'ok', info: info.data };
    } catch (err) {
      return { status: err instanceof UpstreamError && err.status === 401 ? 'rejected' : 'unavailable' };
    }
  }

  private async saveKey(session: Session, form: URLSearchParams, urls: ServerUrls): Promise<Response> {
    const next = continuePath(form.get('next'));
    const key = (form.get('key') ?? '').trim();
    if (!/^\S{8,512}$/.test(key)) return errorPage(urls.base, 'That is not an OpenRouter key', 'Paste the whole key (it starts with sk-or-). Nothing was changed.', 400);
    // Checked against OpenRouter before it replaces anything: a typo must not disconnect a working key.
    try {
      await this.client(key).key();
    } catch (err) {
      const rejected = err instanceof UpstreamError && (err.status === 401 || err.status === 403);
      return errorPage(
        urls.base,
        rejected ? 'OpenRouter rejected this key' : 'OpenRouter could not check the key',
        rejected ? 'The key is unknown, disabled or expired at OpenRouter. Nothing was changed.' : 'OpenRouter did not answer. Nothing was changed; try again in a moment.',
        rejected ? 400 : 502,
      );
    }
    const stored = await this.storeOwnKey(session.userId, key);
    if (!stored.ok) return keyChangeFailedPage(urls, stored.reason);
    this.o.logger.info('openrouter key connected', { user_id: session.userId, method: 'paste' });
    return redirect(afterAction(urls, next, 'key-connected'), [], 303);
  }

  /** A key the user brought replaces theirs; one this server created for them is deleted at OpenRouter first. */
  private async storeOwnKey(userId: string, key: string): Promise<KeyChangeOutcome> {
    if (this.o.provisioning) return this.o.provisioning.replace(userId, key);
    await this.o.accounts.setOpenRouterKey(userId, key);
    return { ok: true };
  }

  private async removeKey(session: Session, urls: ServerUrls): Promise<Response> {
    if (this.o.provisioning) {
      const removed = await this.o.provisioning.remove(session.userId);
      if (!removed.ok) return keyChangeFailedPage(urls, removed.reason);
    } else {
      await this.o.accounts.removeOpenRouterKey(session.userId);
    }
    this.o.logger.info('openrouter key removed', { user_id: session.userId });
    return redirect(afterAction(urls, '/app', 'key-removed'), [], 303);
  }

  private async provisionKey(session: Session, form: URLSearchParams, urls: ServerUrls): Promise<Response> {
    if (!this.o.provisioning) return errorPage(urls.base, 'Not available', 'This server does not create OpenRouter keys; connect your own.', 404);
    const created = await this.o.provisioning.provision(session.userId);
    if (!created.ok) return keyChangeFailedPage(urls, created.reason);
    return redirect(afterAction(urls, continuePath(form.get('next')), 'key-connected'), [], 303);
  }

  private startOpenRouterConnect(session: Session, form: URLSearchParams, urls: ServerUrls): Response {
    const flow: OpenRouterConnect = { verifier: newVerifier(), nonce: randomBytes(24).toString('base64url'), uid: session.userId, next: continuePath(form.get('next')) };
    // The nonce rides in the callback's path, not its query, so it survives however OpenRouter adds `code` to the URL.
    const location = openRouterAuthorizeUrl(this.o.openRouter, `${urls.base}${OPENROUTER_CALLBACK}/${flow.nonce}`, flow.verifier);
    return redirect(location, [this.o.cookies.writeFlow(FLOW_COOKIES.openRouterConnect, flow)], 303);
  }

  private async finishOpenRouterConnect(request: Request, session: Session, urls: ServerUrls, nonce: string): Promise<Response> {
    const flow = this.o.cookies.readFlow<OpenRouterConnect>(request, FLOW_COOKIES.openRouterConnect);
    const clear = this.o.cookies.clearFlow(FLOW_COOKIES.openRouterConnect);
    const code = new URL(request.url).searchParams.get('code');
    // A callback this browser's own flow did not produce (a forged link, another user's flow, an old tab) is
    // refused without touching the flow in progress, so it can neither connect a key nor cancel the real attempt.
    if (!flow || typeof flow.nonce !== 'string' || flow.uid !== session.userId || !secretMatches(flow.nonce, nonce)) {
      return errorPage(urls.base, 'OpenRouter connection expired', 'This connection attempt is unknown or took too long. Nothing was changed; start again.', 400, flow ? [] : [clear]);
    }
    if (!code || code.length > 500) {
      return errorPage(urls.base, 'OpenRouter did not connect', 'OpenRouter sent you back without a key: the request was cancelled or refused. Nothing was changed; you can try again or paste a key.', 400, [clear]);
    }
    let key: string;
    try {
      key = await exchangeOpenRouterCode(this.o.openRouter, code, flow.verifier);
    } catch (err) {
      this.o.logger.warn('openrouter key exchange failed', { user_id: session.userId, error: err instanceof KeyExchangeError ? err.message : 'unknown' });
      return errorPage(urls.base, 'OpenRouter did not connect', 'OpenRouter did not hand over a key. Nothing was changed; try again.', 502, [clear]);
    }
    const next = continuePath(flow.next);
    const user = await this.o.accounts.getUser(session.userId);
    if (user?.hasKey) {
      // A working key is never swapped out by a redirect alone: the user confirms on our page first.
      const pending: PendingReplacement = { key, uid: session.userId, next };
      return redirect(`${urls.base}/app/openrouter/confirm`, [clear, this.o.cookies.writeFlow(FLOW_COOKIES.openRouterReplace, pending)]);
    }
    const stored = await this.storeOwnKey(session.userId, key);
    if (!stored.ok) return keyChangeFailedPage(urls, stored.reason, [clear]);
    this.o.logger.info('openrouter key connected', { user_id: session.userId, method: 'openrouter_oauth' });
    return redirect(afterAction(urls, next, 'key-connected'), [clear]);
  }

  private async showReplaceKey(request: Request, session: Session, urls: ServerUrls): Promise<Response> {
    const pending = this.o.cookies.readFlow<PendingReplacement>(request, FLOW_COOKIES.openRouterReplace);
    if (!pending || pending.uid !== session.userId) return redirect(`${urls.base}/app`, [this.o.cookies.clearFlow(FLOW_COOKIES.openRouterReplace)]);
    const user = await this.o.accounts.getUser(session.userId);
    return replaceKeyPage(urls.base, session, { ...(user?.keyUpdatedAt ? { connectedAt: user.keyUpdatedAt } : {}) });
  }

  private async confirmReplaceKey(request: Request, session: Session, form: URLSearchParams, urls: ServerUrls): Promise<Response> {
    const pending = this.o.cookies.readFlow<PendingReplacement>(request, FLOW_COOKIES.openRouterReplace);
    const clear = this.o.cookies.clearFlow(FLOW_COOKIES.openRouterReplace);
    if (!pending || pending.uid !== session.userId || typeof pending.key !== 'string') {
      return errorPage(urls.base, 'Nothing to confirm', 'This key replacement expired or was already answered. Nothing was changed; connect OpenRouter again if you want a new key.', 400, [clear]);
    }
    const decision = form.get('decision');
    if (decision === 'keep') {
      this.o.logger.info('openrouter key replacement declined', { user_id: session.userId });
      return redirect(afterAction(urls, '/app', 'key-kept'), [clear], 303);
    }
    if (decision !== 'replace') return errorPage(urls.base, 'Choose an answer', 'Choose "Replace my key" or "Keep my current key". Nothing was changed.', 400);
    const stored = await this.storeOwnKey(session.userId, pending.key);
    if (!stored.ok) return keyChangeFailedPage(urls, stored.reason, [clear]);
    this.o.logger.info('openrouter key connected', { user_id: session.userId, method: 'openrouter_oauth', replaced: true });
    return redirect(afterAction(urls, continuePath(pending.next), 'key-connected'), [clear], 303);
  }

  private async createToken(session: Session, form: URLSearchParams, urls: ServerUrls): Promise<Response> {
    const label = (form.get('label') ?? '').trim() || 'web';
    const choice = form.get('expires') ?? '90d';
    if (!Object.hasOwn(EXPIRY_CHOICES, choice)) return errorPage(urls.base, 'Invalid expiry', 'Choose one of the offered expiry periods.', 400);
    const days = EXPIRY_CHOICES[choice];
    const now = this.o.now?.() ?? new Date();
    try {
      const { token, info } = await this.o.accounts.issueToken(session.userId, {
        label,
        ...(days ? { expiresAt: new Date(now.getTime() + days * 86_400_000) } : {}),
      });
      this.o.logger.info('token issued', { user_id: session.userId, token_id: info.tokenId, via: 'web' });
      // Post/redirect/get: reloading the page that shows the token must not create another one.
      const fresh: NewToken = { token, label: info.label, uid: session.userId };
      return redirect(`${urls.base}/app/tokens/new`, [this.o.cookies.writeFlow(FLOW_COOKIES.newToken, fresh)], 303);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'invalid_input') return errorPage(urls.base, 'Invalid token label', err.message, 400);
      throw err;
    }
  }

  /** Shows a just-created token once: the sealed cookie carrying it is cleared by the same response. */
  private showNewToken(request: Request, session: Session, urls: ServerUrls): Response {
    const fresh = this.o.cookies.readFlow<NewToken>(request, FLOW_COOKIES.newToken);
    const clear = this.o.cookies.clearFlow(FLOW_COOKIES.newToken);
    if (!fresh || fresh.uid !== session.userId) return redirect(`${urls.base}/app`, [clear]);
    return tokenCreatedPage(urls, fresh.token, fresh.label, [clear]);
  }

  private async revokeToken(session: Session, form: URLSearchParams, urls: ServerUrls): Promise<Response> {
    const tokenId = form.get('token_id') ?? '';
    const token = /^[0-9a-f]{16}$/.test(tokenId) ? await this.o.accounts.getToken(tokenId) : undefined;
    // Someone else's token id reads exactly like an unknown one.
    if (!token || token.userId !== session.userId) return errorPage(urls.base, 'No such token', 'That token does not exist or is not yours. Nothing was changed.', 404);
    await this.o.accounts.revokeToken(tokenId);
    this.o.logger.info('token revoked', { user_id: session.userId, token_id: tokenId, via: 'web' });
    return redirect(afterAction(urls, '/app', 'token-revoked'), [], 303);
  }

  private async revokeGrant(session: Session, form: URLSearchParams, urls: ServerUrls): Promise<Response> {
    const grantId = form.get('grant_id') ?? '';
    const grant = /^[0-9a-f-]{36}$/.test(grantId) ? await this.o.accounts.getGrant(grantId) : undefined;
    if (!grant || grant.userId !== session.userId) return errorPage(urls.base, 'No such application', 'That connection does not exist or is not yours. Nothing was changed.', 404);
    await this.o.accounts.revokeGrant(grantId);
    this.o.logger.info('oauth grant revoked', { user_id: session.userId, grant_id: grantId, via: 'web' });
    return redirect(afterAction(urls, '/app', 'app-disconnected'), [], 303);
  }

  private async logout(urls: ServerUrls): Promise<Response> {
    const home = `${urls.base}/`;
    const upstream = await this.o.auth.identityLogoutUrl(home);
    return redirect(upstream ?? home, [this.o.cookies.endSession()], 303);
  }

  private client(apiKey: string): OpenRouterClient {
    return new OpenRouterClient({ baseUrl: this.o.openRouter.baseUrl, apiKey, ...(this.o.openRouter.fetch ? { fetch: this.o.openRouter.fetch } : {}), readBudgetMs: 8_000 });
  }
}

/** Where an action lands: the dashboard says what just happened (a fixed message, never text from the URL). */
function afterAction(urls: ServerUrls, next: ContinuePath, notice: Notice): string {
  return next === '/app' ? `${urls.base}/app?done=${notice}` : `${urls.base}${next}`;
}

/** The one mapping from a refused or failed key change to the page that says why (nothing was changed in each case). */
function keyChangeFailedPage(urls: ServerUrls, reason: KeyChangeFailure, cookies: string[] = []): Response {
  const pages: Record<KeyChangeFailure, [string, string, number]> = {
    busy: ['Your key is being changed', 'Another change to your OpenRouter key is in progress. Nothing was changed; reload the page in a moment.', 409],
    provision_used: [
      'No further key can be created',
      'This server already created an OpenRouter key for you once. Nothing was changed. Connect your own key, or ask the operator to allow another one.',
      403,
    ],
    own_key: ['You already have a key', 'Your OpenRouter key is one you connected yourself. Nothing was changed; remove it first if you want this server to create one.', 409],
    rate_limited: ['Too many keys created', `A key can be created for you at most ${PROVISION_RATE.maxPerWindow} times an hour. Nothing was changed; try again later.`, 429],
    delete_failed: [
      'Your old key could not be deleted',
      'OpenRouter did not delete the key this server created for you, so nothing was changed and no other key was stored. Try again in a moment.',
      502,
    ],
    create_failed: ['No key was created', 'OpenRouter did not create a key. Try again later or connect your own key.', 502],
    guardrail_failed: [
      'No key was created',
      "OpenRouter did not put the new key under the operator's policy guardrail, so it was deleted again and nothing was stored. Try again later or connect your own key.",
      502,
    ],
    no_such_user: ['Signed out', 'Your account no longer exists. Nothing was changed.', 404],
  };
  const [title, message, status] = pages[reason];
  return errorPage(urls.base, title, message, status, cookies);
}

function serveStatic(name: string): Response {
  // Own names only: `constructor`, `toString`, … are on every object's prototype.
  const asset = Object.hasOwn(STATIC_ASSETS, name) ? STATIC_ASSETS[name] : undefined;
  if (!asset) return new Response('Not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  return new Response(asset.body, {
    status: 200,
    headers: { 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' },
  });
}

function notAllowed(urls: ServerUrls, allow: string): Response {
  const res = errorPage(urls.base, 'Method not allowed', `Use ${allow}.`, 405);
  res.headers.set('Allow', allow);
  return res;
}
