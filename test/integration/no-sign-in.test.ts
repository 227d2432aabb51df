/**
 * A server with no identity provider (no ORMCP_OIDC_*, outside `npm start`): /app answers an HTML page that says
 * what to configure — never raw JSON — whether the sign-in routes are wired without a provider or not at all.
 */
import { startHarness, type Harness } from '../support/harness.js';

const cases: [string, () => Promise<Harness>][] = [
  ['sign-in routes without an identity provider', () => startHarness({}, { signIn: {} })],
  ['no sign-in routes at all', () => startHarness()],
];

describe.each(cases)('%s', (_name, start) => {
  let h: Harness;
  beforeAll(async () => {
    h = await start();
  });
  afterAll(() => h.close());

  test.each(['/app', '/app/login', '/app/tokens/new'])('GET %s is an HTML page naming the settings', async (path) => {
    const res = await h.fetch(`http://127.0.0.1${path}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const body = await res.text();
    expect(body).toContain('Sign-in is not configured');
    expect(body).toContain('ORMCP_OIDC_ISSUER');
    expect(body).toContain('ORMCP_OIDC_CLIENT_ID');
  });
});
