/**
 * The token endpoint (authorization_code with PKCE, refresh_token with rotation) and revocation (RFC 7009). Form
 * bodies in, JSON out, no cookies: any origin may call these, and failures are OAuth errors the router maps once.
 */
import * as z from 'zod';
import { hasRepeatedParameter } from '../http/form.js';
import type { Logger } from '../observability/logger.js';
import { StoreError, type AccountStore } from '../store/account-store.js';
import type { OAuthStore } from '../store/oauth-store.js';
import { isValidVerifier, verifyS256 } from '../crypto/pkce.js';
import { authenticateClient, parseBasicAuth } from './client-auth.js';
import type { ClientDirectory, OAuthClient } from './clients.js';
import { OAuthError, oauthErrorResponse, oauthJson } from './errors.js';
import type { ServerUrls } from './metadata.js';
import { readOAuthForm } from './request-body.js';

export interface TokenEndpointOptions {
  accounts: AccountStore;
  store: OAuthStore;
  clients: ClientDirectory;
  logger: Logger;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  now?: () => Date;
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

export class TokenEndpoint {
  private readonly accessTtl: number;
  private readonly refreshTtl: number;
  private readonly now: () => Date;

  constructor(private readonly o: TokenEndpointOptions) {
    this.accessTtl = o.accessTokenTtlSeconds ?? 3600;
    this.refreshTtl = o.refreshTokenTtlSeconds ?? 30 * 24 * 3600;
    this.now = o.now ?? (() => new Date());
  }

  /** POST /oauth/token */
  async token(request: Request, urls: ServerUrls): Promise<Response> {
    const form = await readOAuthForm(request);
    const parsed = TokenRequest.safeParse(Object.fromEntries(form));
    if (!parsed.success || hasRepeatedParameter(form)) {
      throw new OAuthError('invalid_request', 'Send an application/x-www-form-urlencoded body with each parameter at most once.');
    }
    const req = parsed.data;
    const basic = parseBasicAuth(request.headers.get('authorization'));
    let client: OAuthClient;
    try {
      client = await authenticateClient(this.o, req, basic);
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

  /** POST /oauth/revoke */
  async revoke(request: Request): Promise<Response> {
    const form = await readOAuthForm(request);
    const token = form.get('token');
    if (!token || token.length > 300) throw new OAuthError('invalid_request', 'token is required.');
    const client = await authenticateClient(this.o, { client_id: form.get('client_id') ?? undefined, client_secret: form.get('client_secret') ?? undefined }, parseBasicAuth(request.headers.get('authorization')));
    // Either kind of token ends its whole grant; tokens of other clients (or unknown ones) are ignored, as RFC 7009 §2.2 asks.
    const refresh = await this.o.store.getRefreshToken(token);
    const grantId = refresh?.clientId === client.clientId ? refresh.grantId : await this.grantOfAccessToken(token, client.clientId);
    if (grantId) {
      await this.o.accounts.revokeGrant(grantId).catch(() => undefined);
      this.o.logger.info('oauth grant revoked by client', { client_id: client.clientId, grant_id: grantId });
    }
    return new Response(null, { status: 200, headers: { 'Cache-Control': 'no-store' } });
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

  private async grantOfAccessToken(token: string, clientId: string): Promise<string | undefined> {
    // Not authenticate(): presenting a token here is not a use of it (no last-used stamp on a personal token).
    const info = await this.o.accounts.verifiedTokenGrant(token);
    return info?.clientId === clientId ? info.grantId : undefined;
  }
}
