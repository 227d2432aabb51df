/** The `/.well-known/*` documents: protected-resource metadata (RFC 9728) and authorization-server metadata (RFC 8414). */
import { json } from '../http/json.js';
import { methodNotAllowed, signInNotConfigured } from './errors.js';
import { authorizationServerMetadata, protectedResourceMetadata, type ServerUrls } from './metadata.js';

/** The document at `path`; undefined when the path is not a discovery path. `enabled`: an identity provider is configured. */
export function discovery(path: string, method: string, urls: ServerUrls, resourceName: string, enabled: boolean): Response | undefined {
  switch (path) {
    case '/.well-known/oauth-protected-resource':
    case '/.well-known/oauth-protected-resource/mcp':
      return onlyGet(method) ?? publicJson(protectedResourceMetadata(urls, resourceName, enabled));
    case '/.well-known/oauth-authorization-server':
    case '/.well-known/openid-configuration':
      if (!enabled) return signInNotConfigured();
      return onlyGet(method) ?? publicJson(authorizationServerMetadata(urls));
    default:
      return undefined;
  }
}

function publicJson(body: unknown): Response {
  return json(200, body, { 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' });
}

function onlyGet(method: string): Response | undefined {
  return method === 'GET' || method === 'HEAD' ? undefined : methodNotAllowed('GET');
}
