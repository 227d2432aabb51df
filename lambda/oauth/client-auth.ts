/**
 * Client authentication at the token and revocation endpoints, by the method the client registered: none (public
 * clients, PKCE only), client_secret_basic or client_secret_post — exactly one of them.
 */
import type { OAuthStore } from '../store/oauth-store.js';
import type { ClientDirectory, OAuthClient } from './clients.js';
import { OAuthError } from './errors.js';

export interface ClientCredentials {
  client_id?: string;
  client_secret?: string;
}

export interface BasicCredentials {
  id: string;
  secret: string;
}

export interface ClientAuthDeps {
  clients: ClientDirectory;
  store: OAuthStore;
}

export async function authenticateClient(deps: ClientAuthDeps, req: ClientCredentials, basic: BasicCredentials | undefined): Promise<OAuthClient> {
  if (basic && req.client_secret) throw new OAuthError('invalid_request', 'Use one client authentication method, not two.');
  const clientId = basic?.id ?? req.client_id;
  if (!clientId) throw new OAuthError('invalid_client', 'client_id is required.');
  if (basic && req.client_id && req.client_id !== basic.id) throw new OAuthError('invalid_client', 'client_id does not match the authenticated client.');
  const client = await deps.clients.resolve(clientId);
  const secret = basic?.secret ?? req.client_secret;
  const method = client.tokenEndpointAuthMethod;
  if (method === 'none') {
    if (secret) throw new OAuthError('invalid_client', 'This client is public: it authenticates with PKCE, not a secret.');
    return client;
  }
  const used = basic ? 'client_secret_basic' : req.client_secret ? 'client_secret_post' : 'none';
  if (used !== method || !secret || !(await deps.store.verifyClientSecret(clientId, secret))) {
    throw new OAuthError('invalid_client', `Client authentication failed (this client uses ${method}).`);
  }
  return client;
}

export function parseBasicAuth(header: string | null): BasicCredentials | undefined {
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
