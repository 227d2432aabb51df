/**
 * Our own sign-in at the identity provider (Cognito's managed login in the stack, any OIDC provider in
 * principle): discovery, the authorization redirect with PKCE and a nonce, the server-side code exchange, and
 * ID-token verification against the provider's JWKS. Only the verified subject and email leave this module;
 * the provider's tokens are dropped at once and never reach a client or OpenRouter.
 */
import { createRemoteJWKSet, customFetch, jwtVerify, type JWTVerifyGetKey } from 'jose';
import * as z from 'zod';
import { challengeFor } from '../crypto/pkce.js';
import { trimTrailingSlashes } from '../http/path.js';

export interface UpstreamIdentity {
  issuer: string;
  subject: string;
  email?: string;
  emailVerified?: boolean;
  /** For the operator check (auth/admin-access.ts): the groups claims of the verified ID token. */
  groupClaims?: { groups?: string[]; federated?: boolean; mapped?: string };
}

export interface IdentityProvider {
  authorizationUrl(params: { redirectUri: string; state: string; nonce: string; verifier: string }): Promise<string>;
  /** Exchanges the code and returns the verified identity; throws IdentityError on anything unexpected. */
  exchange(params: { code: string; redirectUri: string; verifier: string; nonce: string }): Promise<UpstreamIdentity>;
  /** Where to send the browser to end the provider's own session, if it has such an endpoint. */
  logoutUrl(returnTo: string): Promise<string | undefined>;
  /** Origins the browser is sent to (for the pages' CSP `form-action`). */
  origins(): Promise<string[]>;
}

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

const Discovery = z.object({
  issuer: z.string(),
  authorization_endpoint: z.url(),
  token_endpoint: z.url(),
  jwks_uri: z.url(),
  end_session_endpoint: z.url().optional(),
});
type Discovery = z.infer<typeof Discovery>;

const TokenResponse = z.object({ id_token: z.string().min(1) });

export interface OidcProviderOptions {
  issuer: string;
  /** The claim carrying a federated user's IdP groups (`ORMCP_ADMIN_CLAIM`, e.g. `custom:groups`). */
  groupsClaim?: string;
  clientId: string;
  /** Absent for a public client (PKCE only), which is what the stack creates. */
  clientSecret?: string;
  /** Cognito's `/logout` needs its own parameters; otherwise `end_session_endpoint` from discovery is used. */
  cognitoLogoutUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class OidcProvider implements IdentityProvider {
  private discovery?: Promise<{ doc: Discovery; jwks: JWTVerifyGetKey }>;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: OidcProviderOptions) {
    this.fetch = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 8_000;
  }

  async authorizationUrl(params: { redirectUri: string; state: string; nonce: string; verifier: string }): Promise<string> {
    const { doc } = await this.discover();
    const url = new URL(doc.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: this.options.clientId,
      redirect_uri: params.redirectUri,
      scope: 'openid email profile',
      state: params.state,
      nonce: params.nonce,
      code_challenge: challengeFor(params.verifier),
      code_challenge_method: 'S256',
    }).toString();
    return url.toString();
  }

  async exchange(params: { code: string; redirectUri: string; verifier: string; nonce: string }): Promise<UpstreamIdentity> {
    const { doc, jwks } = await this.discover();
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.code,
      redirect_uri: params.redirectUri,
      code_verifier: params.verifier,
      client_id: this.options.clientId,
    });
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
    if (this.options.clientSecret) {
      const basic = `${encodeURIComponent(this.options.clientId)}:${encodeURIComponent(this.options.clientSecret)}`;
      headers.Authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
    }
    const res = await this.fetch(doc.token_endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.timeoutMs) }).catch(() => {
      throw new IdentityError('the identity provider did not answer the code exchange');
    });
    if (!res.ok) throw new IdentityError(`the identity provider refused the code exchange (HTTP ${res.status})`);
    const parsed = TokenResponse.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new IdentityError('the identity provider returned no ID token');
    try {
      const { payload } = await jwtVerify(parsed.data.id_token, jwks, { issuer: doc.issuer, audience: this.options.clientId, maxTokenAge: '10m' });
      if (payload.nonce !== params.nonce) throw new IdentityError('the ID token nonce does not match');
      if (typeof payload.sub !== 'string' || !payload.sub) throw new IdentityError('the ID token has no subject');
      return {
        issuer: doc.issuer,
        subject: payload.sub,
        ...(typeof payload.email === 'string' ? { email: payload.email } : {}),
        ...(payload.email_verified !== undefined ? { emailVerified: payload.email_verified === true || payload.email_verified === 'true' } : {}),
        groupClaims: groupClaims(payload, this.options.groupsClaim),
      };
    } catch (err) {
      if (err instanceof IdentityError) throw err;
      throw new IdentityError('the ID token did not verify');
    }
  }

  async logoutUrl(returnTo: string): Promise<string | undefined> {
    if (this.options.cognitoLogoutUrl) {
      const url = new URL(this.options.cognitoLogoutUrl);
      url.search = new URLSearchParams({ client_id: this.options.clientId, logout_uri: returnTo }).toString();
      return url.toString();
    }
    const { doc } = await this.discover().catch(() => ({ doc: undefined }));
    if (!doc?.end_session_endpoint) return undefined;
    const url = new URL(doc.end_session_endpoint);
    url.search = new URLSearchParams({ client_id: this.options.clientId, post_logout_redirect_uri: returnTo }).toString();
    return url.toString();
  }

  async origins(): Promise<string[]> {
    const { doc } = await this.discover();
    return [...new Set([new URL(doc.authorization_endpoint).origin, ...(this.options.cognitoLogoutUrl ? [new URL(this.options.cognitoLogoutUrl).origin] : [])])];
  }

  /** Discovery once per process; a failure is not remembered, so the next sign-in tries again. */
  private discover(): Promise<{ doc: Discovery; jwks: JWTVerifyGetKey }> {
    this.discovery ??= this.load().catch((err: unknown) => {
      this.discovery = undefined;
      throw err;
    });
    return this.discovery;
  }

  private async load(): Promise<{ doc: Discovery; jwks: JWTVerifyGetKey }> {
    const issuer = trimTrailingSlashes(this.options.issuer);
    const res = await this.fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(this.timeoutMs) }).catch(() => {
      throw new IdentityError('the identity provider is unreachable');
    });
    if (!res.ok) throw new IdentityError(`the identity provider's discovery failed (HTTP ${res.status})`);
    const doc = Discovery.safeParse(await res.json().catch(() => undefined));
    if (!doc.success) throw new IdentityError("the identity provider's discovery document is invalid");
    if (trimTrailingSlashes(doc.data.issuer) !== issuer) throw new IdentityError("the identity provider's issuer does not match the configuration");
    const jwks = createRemoteJWKSet(new URL(doc.data.jwks_uri), { timeoutDuration: this.timeoutMs, [customFetch]: this.fetch });
    return { doc: doc.data, jwks };
  }
}

/** The provider named by the configuration, or undefined when sign-in is not configured. */
export function identityProviderFor(oidc: { issuer: string; clientId: string; clientSecret?: string; logoutUrl?: string; groupsClaim?: string } | undefined, fetchImpl?: typeof fetch): IdentityProvider | undefined {
  if (!oidc) return undefined;
  return new OidcProvider({
    issuer: oidc.issuer,
    clientId: oidc.clientId,
    ...(oidc.clientSecret ? { clientSecret: oidc.clientSecret } : {}),
    ...(oidc.logoutUrl ? { cognitoLogoutUrl: oidc.logoutUrl } : {}),
    ...(oidc.groupsClaim ? { groupsClaim: oidc.groupsClaim } : {}),
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}

function groupClaims(payload: Record<string, unknown>, mappedClaim: string | undefined): NonNullable<UpstreamIdentity['groupClaims']> {
  const groups = payload['cognito:groups'];
  const mapped = mappedClaim ? payload[mappedClaim] : undefined;
  return {
    ...(Array.isArray(groups) ? { groups: groups.filter((g): g is string => typeof g === 'string').slice(0, 100) } : {}),
    federated: payload.identities !== undefined,
    ...(typeof mapped === 'string' ? { mapped: mapped.slice(0, 4096) } : {}),
  };
}
