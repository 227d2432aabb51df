/**
 * The OAuth 2.1 authorization-server façade in front of the identity provider, as a router over one handler per
 * endpoint: discovery (discovery.ts), registration (registration.ts), the browser flow through sign-in to consent
 * (authorization-flow.ts, sign-in.ts) and the token and revocation endpoints (token-endpoint.ts). MCP clients get
 * this server's own codes and tokens, bound to the MCP resource; codes, refresh tokens and grants live in the table.
 */
import type { Logger } from '../observability/logger.js';
import type { AuthorizationFlow } from './authorization-flow.js';
import type { ClientDirectory } from './clients.js';
import { discovery } from './discovery.js';
import { OAuthError, methodNotAllowed, oauthErrorResponse, signInNotConfigured } from './errors.js';
import type { ServerUrls } from './metadata.js';
import { registerClient } from './registration.js';
import type { IdentitySignIn } from './sign-in.js';
import type { TokenEndpoint } from './token-endpoint.js';

export interface AuthorizationServerOptions {
  signIn: IdentitySignIn;
  flow: AuthorizationFlow;
  tokens: TokenEndpoint;
  clients: ClientDirectory;
  logger: Logger;
  resourceName: string;
}

export class AuthorizationServer {
  constructor(private readonly o: AuthorizationServerOptions) {}

  get enabled(): boolean {
    return this.o.signIn.enabled;
  }

  /** Routes `/.well-known/*` and `/oauth/*`; undefined when the path is not ours. */
  async handle(request: Request, path: string, urls: ServerUrls): Promise<Response | undefined> {
    const method = request.method;
    const document = discovery(path, method, urls, this.o.resourceName, this.enabled);
    if (document) return document;
    if (!path.startsWith('/oauth/')) return undefined;
    if (!this.enabled && path !== '/oauth/callback') return signInNotConfigured();
    try {
      switch (path) {
        case '/oauth/register':
          return method === 'POST' ? await registerClient(request, this.o.clients, this.o.logger) : methodNotAllowed('POST');
        case '/oauth/authorize':
          return method === 'GET' ? await this.o.flow.authorize(request, urls) : methodNotAllowed('GET');
        case '/oauth/callback':
          return method === 'GET' ? await this.o.signIn.callback(request, urls) : methodNotAllowed('GET');
        case '/oauth/consent':
          if (method === 'GET') return await this.o.flow.showConsent(request, urls);
          return method === 'POST' ? await this.o.flow.decideConsent(request, urls) : methodNotAllowed('GET, POST');
        case '/oauth/token':
          return method === 'POST' ? await this.o.tokens.token(request, urls) : methodNotAllowed('POST');
        case '/oauth/revoke':
          return method === 'POST' ? await this.o.tokens.revoke(request) : methodNotAllowed('POST');
        default:
          return undefined;
      }
    } catch (err) {
      if (err instanceof OAuthError) return oauthErrorResponse(err);
      throw err;
    }
  }
}
