/**
 * Who is asking for authorization: a client registered through Dynamic Client Registration (RFC 7591, stored
 * in the table) or a client identified by the URL of its metadata document (Client ID Metadata Documents).
 * Both end up as the same `OAuthClient`; redirect URIs pass the same policy either way.
 */
import * as z from 'zod';
import type { OAuthStore, RegisteredClient } from '../store/oauth-store.js';
import { metadataUrlProblem, type MetadataFetcher } from './client-metadata.js';
import { OAuthError } from './errors.js';
import { checkRedirectUri } from './redirect-uris.js';

export interface OAuthClient {
  clientId: string;
  clientName: string;
  redirectUris: string[];
  tokenEndpointAuthMethod: RegisteredClient['tokenEndpointAuthMethod'];
  /** How the client is known: registered here, or by its metadata document URL. */
  source: 'registration' | 'metadata-document';
}

const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const;
const GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;
const printable = (max: number) => z.string().trim().min(1).max(max).regex(/^[^\u0000-\u001f\u007f]*$/, 'must be printable');

/** RFC 7591 §2 client metadata as accepted here; unknown members are ignored, as the RFC allows. */
export const RegistrationRequest = z.looseObject({
  redirect_uris: z.array(z.string().max(2000)).min(1).max(10),
  client_name: printable(100).optional(),
  token_endpoint_auth_method: z.enum(AUTH_METHODS).optional(),
  grant_types: z.array(z.string()).max(5).optional(),
  response_types: z.array(z.string()).max(3).optional(),
  client_uri: z.url().max(2000).optional(),
  scope: z.string().max(500).optional(),
});

/** A metadata document: the same members, plus `client_id`, which must be the document's own URL. */
const MetadataDocument = z.looseObject({
  client_id: z.string(),
  client_name: printable(100),
  redirect_uris: z.array(z.string().max(2000)).min(1).max(10),
  token_endpoint_auth_method: z.string().optional(),
  grant_types: z.array(z.string()).max(5).optional(),
  response_types: z.array(z.string()).max(3).optional(),
});

export interface ClientDirectoryOptions {
  store: OAuthStore;
  metadata: MetadataFetcher;
  /** Redirect URIs the operator allows besides loopback and the known chat clients. */
  extraRedirectUris: readonly string[];
  metadataCacheMs?: number;
  now?: () => number;
}

export class ClientDirectory {
  private readonly cache = new Map<string, { client: OAuthClient; until: number }>();
  private readonly now: () => number;

  constructor(private readonly options: ClientDirectoryOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Validates and stores a registration; the response body follows RFC 7591 §3.2.1. */
  async register(body: unknown): Promise<Record<string, unknown>> {
    const parsed = RegistrationRequest.safeParse(body);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new OAuthError('invalid_client_metadata', `${first?.path.join('.') || 'body'}: ${first?.message ?? 'invalid'}`);
    }
    const req = parsed.data;
    this.checkRedirects(req.redirect_uris, 'invalid_redirect_uri');
    const grantTypes = req.grant_types ?? ['authorization_code'];
    if (!grantTypes.every((g) => (GRANT_TYPES as readonly string[]).includes(g)) || !grantTypes.includes('authorization_code')) {
      throw new OAuthError('invalid_client_metadata', 'grant_types may contain only authorization_code and refresh_token, and must contain authorization_code');
    }
    if (req.response_types && !(req.response_types.length === 1 && req.response_types[0] === 'code')) {
      throw new OAuthError('invalid_client_metadata', 'response_types must be ["code"]');
    }
    // RFC 7591 defaults to client_secret_basic; MCP clients nearly always ask for "none" (public, PKCE).
    const method = req.token_endpoint_auth_method ?? 'client_secret_basic';
    const { client, clientSecret } = await this.options.store.registerClient({
      clientName: req.client_name ?? 'Unnamed MCP client',
      redirectUris: req.redirect_uris,
      tokenEndpointAuthMethod: method,
      grantTypes: [...new Set([...grantTypes, 'refresh_token'])],
      ...(req.client_uri ? { clientUri: req.client_uri } : {}),
    });
    return {
      client_id: client.clientId,
      client_id_issued_at: Math.floor(Date.parse(client.createdAt) / 1000),
      ...(clientSecret ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}),
      client_name: client.clientName,
      redirect_uris: client.redirectUris,
      token_endpoint_auth_method: client.tokenEndpointAuthMethod,
      grant_types: client.grantTypes,
      response_types: ['code'],
      ...(client.clientUri ? { client_uri: client.clientUri } : {}),
    };
  }

  /** The client, or an OAuthError('invalid_client') saying why it cannot be used. */
  async resolve(clientId: string): Promise<OAuthClient> {
    if (clientId.startsWith('https://')) return this.resolveDocument(clientId);
    const registered = await this.options.store.getClient(clientId);
    if (!registered) throw new OAuthError('invalid_client', 'Unknown client_id: register the client first (or use a client ID metadata document URL).');
    return {
      clientId: registered.clientId,
      clientName: registered.clientName,
      redirectUris: registered.redirectUris,
      tokenEndpointAuthMethod: registered.tokenEndpointAuthMethod,
      source: 'registration',
    };
  }

  private async resolveDocument(clientId: string): Promise<OAuthClient> {
    const hit = this.cache.get(clientId);
    if (hit && hit.until > this.now()) return hit.client;
    const problem = metadataUrlProblem(clientId);
    if (problem) throw new OAuthError('invalid_client', `The client_id URL ${problem}.`);
    let json: unknown;
    try {
      json = await this.options.metadata.fetchJson(new URL(clientId));
    } catch (err) {
      throw new OAuthError('invalid_client', `The client metadata document could not be fetched: ${err instanceof Error && err.name === 'MetadataFetchError' ? err.message : 'fetch failed'}.`);
    }
    const doc = MetadataDocument.safeParse(json);
    if (!doc.success) throw new OAuthError('invalid_client', 'The client metadata document is invalid (client_id, client_name and redirect_uris are required).');
    if (doc.data.client_id !== clientId) throw new OAuthError('invalid_client', 'The client metadata document names a different client_id than its own URL.');
    const method = doc.data.token_endpoint_auth_method ?? 'none';
    // A document is public: it cannot carry a shared secret. private_key_jwt clients are served as public
    // clients (PKCE proves possession of the code), which is what such clients also accept.
    if (method !== 'none' && method !== 'private_key_jwt') throw new OAuthError('invalid_client', 'A client metadata document must use token_endpoint_auth_method "none".');
    this.checkRedirects(doc.data.redirect_uris, 'invalid_client');
    const client: OAuthClient = { clientId, clientName: doc.data.client_name, redirectUris: doc.data.redirect_uris, tokenEndpointAuthMethod: 'none', source: 'metadata-document' };
    if (this.cache.size >= 500) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(clientId, { client, until: this.now() + (this.options.metadataCacheMs ?? 10 * 60_000) });
    return client;
  }

  private checkRedirects(uris: readonly string[], code: 'invalid_redirect_uri' | 'invalid_client'): void {
    for (const uri of uris) {
      const check = checkRedirectUri(uri, this.options.extraRedirectUris);
      if (!check.ok) throw new OAuthError(code, `redirect URI ${JSON.stringify(uri.slice(0, 200))} ${check.reason}.`);
    }
  }
}
