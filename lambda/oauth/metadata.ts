/**
 * Discovery documents. The MCP endpoint is the protected resource (RFC 9728); this same server is its
 * authorization server (RFC 8414). Both are built from the public base URL, which includes API Gateway's stage
 * path when there is one, so every URL in them is reachable as written.
 */
export const MCP_SCOPE = 'mcp';
export const MCP_PATH = '/mcp';

export interface ServerUrls {
  /** Public base URL, no trailing slash (e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/prod`). */
  base: string;
  /** The protected resource: `<base>/mcp`. */
  resource: string;
  /** Where the resource's metadata lives (the URL put into `WWW-Authenticate`). */
  resourceMetadata: string;
}

export function serverUrls(base: string): ServerUrls {
  return { base, resource: `${base}${MCP_PATH}`, resourceMetadata: `${base}/.well-known/oauth-protected-resource${MCP_PATH}` };
}

export function protectedResourceMetadata(urls: ServerUrls, resourceName: string, oauthEnabled: boolean) {
  return {
    resource: urls.resource,
    ...(oauthEnabled ? { authorization_servers: [urls.base] } : {}),
    scopes_supported: [MCP_SCOPE],
    bearer_methods_supported: ['header'],
    resource_name: resourceName,
    resource_documentation: `${urls.base}/`,
  };
}

export function authorizationServerMetadata(urls: ServerUrls) {
  const { base } = urls;
  const clientAuth = ['none', 'client_secret_basic', 'client_secret_post'];
  return {
    issuer: base,
    authorization_endpoint: `${base}/oauth/authorize`,
    token_endpoint: `${base}/oauth/token`,
    registration_endpoint: `${base}/oauth/register`,
    revocation_endpoint: `${base}/oauth/revoke`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: clientAuth,
    revocation_endpoint_auth_methods_supported: clientAuth,
    code_challenge_methods_supported: ['S256'],
    scopes_supported: [MCP_SCOPE],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
    service_documentation: `${base}/`,
  };
}
