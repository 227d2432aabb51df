import { OAuthError, oauthErrorResponse } from '../../lambda/oauth/errors.js';
import { authorizationServerMetadata, protectedResourceMetadata, serverUrls } from '../../lambda/oauth/metadata.js';

const STAGE_BASE = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod';

describe('discovery documents', () => {
  test('server URLs keep the stage prefix', () => {
    expect(serverUrls(STAGE_BASE)).toEqual({
      base: STAGE_BASE,
      resource: `${STAGE_BASE}/mcp`,
      resourceMetadata: `${STAGE_BASE}/.well-known/oauth-protected-resource/mcp`,
    });
  });

  test('authorization server metadata (RFC 8414): S256 only, code only, CIMD and iss supported, every endpoint under the base', () => {
    const m = authorizationServerMetadata(serverUrls(STAGE_BASE));
    expect(m.issuer).toBe(STAGE_BASE);
    expect(m.code_challenge_methods_supported).toEqual(['S256']);
    expect(m.response_types_supported).toEqual(['code']);
    expect(m.grant_types_supported).toEqual(['authorization_code', 'refresh_token']);
    expect(m.client_id_metadata_document_supported).toBe(true);
    expect(m.authorization_response_iss_parameter_supported).toBe(true);
    expect(m.token_endpoint_auth_methods_supported).toEqual(['none', 'client_secret_basic', 'client_secret_post']);
    for (const key of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint'] as const) {
      expect(m[key].startsWith(`${STAGE_BASE}/oauth/`)).toBe(true);
    }
    expect(JSON.stringify(m)).not.toMatch(/plain|implicit|password|client_credentials/);
  });

  test('protected resource metadata (RFC 9728) names this server as the authorization server only when sign-in is on', () => {
    const urls = serverUrls(STAGE_BASE);
    expect(protectedResourceMetadata(urls, 'OpenRouter MCP', true)).toMatchObject({ resource: `${STAGE_BASE}/mcp`, authorization_servers: [STAGE_BASE], scopes_supported: ['mcp'], bearer_methods_supported: ['header'] });
    expect(protectedResourceMetadata(urls, 'OpenRouter MCP', false)).not.toHaveProperty('authorization_servers');
  });
});

describe('RFC 6749 error responses', () => {
  test('status per error code; JSON body; no-store', async () => {
    const cases: [ConstructorParameters<typeof OAuthError>[0], number][] = [
      ['invalid_request', 400],
      ['invalid_grant', 400],
      ['invalid_target', 400],
      ['unsupported_grant_type', 400],
      ['invalid_client', 401],
      ['server_error', 500],
      ['temporarily_unavailable', 503],
    ];
    for (const [code, status] of cases) {
      const res = oauthErrorResponse(new OAuthError(code, 'why'));
      expect(res.status).toBe(status);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ error: code, error_description: 'why' });
    }
  });

  test('a 401 challenges with Basic when the client tried Basic, and always carries a challenge', () => {
    expect(oauthErrorResponse(new OAuthError('invalid_client', 'x'), { basicAuthAttempted: true }).headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(oauthErrorResponse(new OAuthError('invalid_client', 'x')).headers.get('www-authenticate')).toEqual(expect.any(String));
    expect(oauthErrorResponse(new OAuthError('invalid_grant', 'x')).headers.get('www-authenticate')).toBeNull();
  });
});
