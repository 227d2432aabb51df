/**
 * A client's authorization request while the user signs in and decides: it rides in a sealed flow cookie from
 * /oauth/authorize through the identity provider's callback to the consent decision, and ends in a redirect to the
 * client's (verified) redirect URI.
 */
import { redirect } from '../ui/html.js';
import { FLOW_COOKIES, type Cookies } from '../ui/session.js';
import type { ServerUrls } from './metadata.js';

export interface PendingAuthorization {
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

export function clientRedirect(redirectUri: string, params: Record<string, string>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

/** The user (or the identity provider) declined: access_denied to the client, and the pending request ends. */
export function deniedRedirect(pending: PendingAuthorization, urls: ServerUrls, cookies: Cookies, setCookies: string[], status: 302 | 303 = 302): Response {
  const params = { error: 'access_denied', error_description: 'The user did not authorize this client', ...(pending.state ? { state: pending.state } : {}), iss: urls.base };
  return redirect(clientRedirect(pending.redirectUri, params), [...setCookies, cookies.clearFlow(FLOW_COOKIES.authorization)], status);
}
