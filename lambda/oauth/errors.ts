/**
 * OAuth errors, typed once and mapped once to RFC 6749 §5.2 responses (token/registration endpoints) or to an
 * error redirect (authorization endpoint, §4.1.2.1). Descriptions are fixed strings of ours: they never echo a
 * code, token, secret or verifier back.
 */
import { json } from '../http/json.js';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata';

export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    /** HTTP status for endpoints that answer directly. */
    readonly status = code === 'invalid_client' ? 401 : code === 'server_error' ? 500 : code === 'temporarily_unavailable' ? 503 : 400,
  ) {
    super(`${code}: ${description}`);
  }
}

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

export function oauthErrorResponse(error: OAuthError, options: { basicAuthAttempted?: boolean } = {}): Response {
  const headers: Record<string, string> = { ...NO_STORE };
  // RFC 6749 §5.2: a failed HTTP Basic client authentication answers with a Basic challenge.
  if (error.status === 401) headers['WWW-Authenticate'] = options.basicAuthAttempted ? 'Basic realm="oauth"' : 'Bearer realm="oauth"';
  return json(error.status, { error: error.code, error_description: error.description }, headers);
}

export function oauthJson(body: unknown, status = 200): Response {
  return json(status, body, NO_STORE);
}

export function methodNotAllowed(allow: string): Response {
  return json(405, { error: 'invalid_request', error_description: `Method not allowed; use ${allow}.` }, { Allow: allow });
}

/** Every OAuth endpoint (and the authorization server's metadata) on a server without an identity provider. */
export function signInNotConfigured(): Response {
  return oauthErrorResponse(new OAuthError('temporarily_unavailable', 'Sign-in is not configured on this server; use a personal MCP token instead.', 404));
}
