/**
 * Discovery behind API Gateway: the Lambda sees `/…` without the stage, while every URL it hands out must carry the
 * stage (`https://<api>.execute-api.<region>.amazonaws.com/prod/…`), or the custom domain mapped at the root.
 * Requests go through the real streaming adapter with API Gateway-shaped events.
 */
import { createStreamingHandler } from '../../lambda/aws/stream-adapter.js';
import { fakeHttpResponseStream, RecordingStream, restEvent } from '../support/lambda-runtime.js';
import { startOAuthHarness, type OAuthHarness } from '../support/oauth.js';

const HOST = 'abc123.execute-api.eu-west-1.amazonaws.com';

async function viaGateway(h: OAuthHarness, path: string, headers: [string, string][] = [], method = 'GET', body: string | null = null) {
  const handler = createStreamingHandler(h.app.fetch, { HttpResponseStream: fakeHttpResponseStream() });
  const stream = new RecordingStream();
  await handler(restEvent({ method, path, headers: [['Host', HOST], ['X-Forwarded-Proto', 'https'], ...headers], body }), stream);
  const { prelude, body: text } = stream.parse();
  return { status: prelude!.statusCode, headers: prelude!.headers ?? {}, cookies: prelude!.multiValueHeaders?.['set-cookie'] ?? [], text };
}

describe.each([
  ['the execute-api URL with the stage', `https://${HOST}/prod`],
  ['a custom domain mapped at the root', 'https://mcp.example.com'],
])('behind %s', (_name, base) => {
  let h: OAuthHarness;
  beforeAll(async () => {
    h = await startOAuthHarness({ publicUrl: base });
  });
  afterAll(async () => {
    await h.close();
  });

  test('the 401 points at the protected-resource metadata under the base URL', async () => {
    const res = await viaGateway(h, '/mcp', [['Content-Type', 'application/json'], ['Accept', 'application/json, text/event-stream']], 'POST', '{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain(`resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`);
  });

  test.each(['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp'])('%s names the resource and this issuer', async (path) => {
    const res = await viaGateway(h, path);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ resource: `${base}/mcp`, authorization_servers: [base], scopes_supported: ['mcp'] });
  });

  test.each(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'])('%s has every endpoint under the base URL', async (path) => {
    const res = await viaGateway(h, path);
    const meta = JSON.parse(res.text) as Record<string, unknown>;
    expect(meta).toMatchObject({
      issuer: base,
      authorization_endpoint: `${base}/oauth/authorize`,
      token_endpoint: `${base}/oauth/token`,
      registration_endpoint: `${base}/oauth/register`,
      code_challenge_methods_supported: ['S256'],
      client_id_metadata_document_supported: true,
    });
  });

  test('sign-in sends Cognito our callback under the base URL, with a __Host- Secure cookie', async () => {
    const res = await viaGateway(h, '/app/login');
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location!);
    expect(location.searchParams.get('redirect_uri')).toBe(`${base}/oauth/callback`);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(res.cookies).toHaveLength(1);
    expect(res.cookies[0]).toMatch(/^__Host-ormcp_login=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/);
  });

  test('pages link their assets under the base URL', async () => {
    const res = await viaGateway(h, '/');
    expect(res.status).toBe(200);
    expect(res.text).toContain(`href="${base}/app/static/app.css"`);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
  });
});
