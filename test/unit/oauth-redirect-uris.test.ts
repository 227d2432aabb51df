import { KNOWN_CLIENT_REDIRECT_URIS, checkRedirectUri, isLoopbackRedirect, redirectMatches } from '../../lambda/oauth/redirect-uris.js';

describe('checkRedirectUri (what may be registered)', () => {
  test.each([
    'https://chatgpt.com/connector_platform_oauth_redirect',
    'https://chatgpt.com/connector/oauth/abc',
    'https://chatgpt.com/connector/oauth/AbC_123-xyz',
    'https://claude.ai/api/mcp/auth_callback',
    'https://claude.com/api/mcp/auth_callback',
    'http://127.0.0.1:33418/callback',
    'http://127.0.0.1/callback',
    'http://localhost:6274/oauth/callback',
    'http://[::1]:8080/cb',
    'http://127.0.0.1:3000/cb?client=1',
  ])('accepts %s', (uri) => {
    expect(checkRedirectUri(uri)).toEqual({ ok: true });
  });

  test('accepts every documented client callback exactly as listed', () => {
    for (const uri of KNOWN_CLIENT_REDIRECT_URIS) expect(checkRedirectUri(uri)).toEqual({ ok: true });
  });

  test.each([
    ['another site', 'https://evil.example/cb', /not an allowed callback/],
    ['a custom scheme', 'myapp://callback', /not an allowed callback/],
    ['javascript:', 'javascript:alert(1)', /not an allowed callback/],
    ['data:', 'data:text/html,hi', /not an allowed callback/],
    ['a fragment', 'http://127.0.0.1:3000/cb#x', /fragment/],
    ['an empty fragment', 'https://claude.ai/api/mcp/auth_callback#', /fragment/],
    ['credentials on loopback', 'http://u:p@127.0.0.1:3000/cb', /credentials/],
    ['a user on a known callback', 'https://u@claude.ai/api/mcp/auth_callback', /credentials/],
    ['not a URL', 'not a url', /absolute URL/],
    ['a relative path', '/cb', /absolute URL/],
    ['an over-long URI', `http://127.0.0.1/${'a'.repeat(2000)}`, /absolute URL/],
    ['https on loopback', 'https://127.0.0.1:3000/cb', /not an allowed callback/],
    ['another loopback-looking host', 'http://127.0.0.2:3000/cb', /not an allowed callback/],
    ['a look-alike host', 'http://localhost.evil.example/cb', /not an allowed callback/],
    ['a known callback over http', 'http://claude.ai/api/mcp/auth_callback', /not an allowed callback/],
    ['a known callback with a query', 'https://claude.ai/api/mcp/auth_callback?x=1', /not an allowed callback/],
    ['a known callback with a trailing slash', 'https://claude.ai/api/mcp/auth_callback/', /not an allowed callback/],
    ['a known callback with another case', 'https://CLAUDE.ai/api/mcp/auth_callback', /not an allowed callback/],
    ['a ChatGPT callback with no id', 'https://chatgpt.com/connector/oauth/', /not an allowed callback/],
    ['a ChatGPT callback with a dot segment', 'https://chatgpt.com/connector/oauth/..', /not an allowed callback/],
    ['a ChatGPT callback with extra segments', 'https://chatgpt.com/connector/oauth/a/b', /not an allowed callback/],
    ['a ChatGPT id with a newline', 'https://chatgpt.com/connector/oauth/abc\n', /not an allowed callback/],
    ['a ChatGPT id over 128 characters', `https://chatgpt.com/connector/oauth/${'a'.repeat(129)}`, /not an allowed callback/],
  ])('refuses %s', (_what, uri, reason) => {
    const check = checkRedirectUri(uri);
    expect(check.ok).toBe(false);
    expect(check.ok ? '' : check.reason).toMatch(reason);
  });

  test('the operator may allow exact extra URIs, and only those', () => {
    const extra = ['https://app.example.com/oauth/cb'];
    expect(checkRedirectUri('https://app.example.com/oauth/cb', extra)).toEqual({ ok: true });
    expect(checkRedirectUri('https://app.example.com/oauth/cb2', extra).ok).toBe(false);
    expect(checkRedirectUri('https://app.example.com/oauth/cb#x', ['https://app.example.com/oauth/cb#x']).ok).toBe(false);
  });
});

describe('redirectMatches (a requested URI against the registered ones)', () => {
  test('exact match for anything registered', () => {
    expect(redirectMatches(['https://claude.ai/api/mcp/auth_callback'], 'https://claude.ai/api/mcp/auth_callback')).toBe(true);
    expect(redirectMatches(['https://claude.ai/api/mcp/auth_callback'], 'https://claude.ai/api/mcp/auth_callback/')).toBe(false);
    expect(redirectMatches(['https://claude.ai/api/mcp/auth_callback'], 'https://claude.ai:443/api/mcp/auth_callback?x')).toBe(false);
  });

  test('loopback: any port, same host, path and query', () => {
    const reg = ['http://127.0.0.1:9999/callback'];
    expect(redirectMatches(reg, 'http://127.0.0.1:1234/callback')).toBe(true);
    expect(redirectMatches(reg, 'http://127.0.0.1/callback')).toBe(true);
    expect(redirectMatches(['http://localhost/cb'], 'http://localhost:4000/cb')).toBe(true);
    expect(redirectMatches(['http://[::1]:1/cb'], 'http://[::1]:2/cb')).toBe(true);
    expect(redirectMatches(['http://127.0.0.1:1/cb?a=1'], 'http://127.0.0.1:2/cb?a=1')).toBe(true);
  });

  test.each([
    ['another path', 'http://127.0.0.1:1234/other'],
    ['another host', 'http://localhost:9999/callback'],
    ['another query', 'http://127.0.0.1:9999/callback?a=1'],
    ['https', 'https://127.0.0.1:9999/callback'],
    ['a fragment', 'http://127.0.0.1:9999/callback#x'],
    ['a fragment on another port', 'http://127.0.0.1:1234/callback#x'],
    ['an empty fragment on another port', 'http://127.0.0.1:1234/callback#'],
    ['credentials', 'http://u:p@127.0.0.1:1234/callback'],
    ['not a URL', 'nope'],
  ])('loopback refuses %s', (_what, requested) => {
    expect(redirectMatches(['http://127.0.0.1:9999/callback'], requested)).toBe(false);
  });

  test('a non-loopback registration never gets the port freedom', () => {
    expect(redirectMatches(['https://app.example.com:8443/cb'], 'https://app.example.com:9443/cb')).toBe(false);
    expect(redirectMatches(['http://app.example.com:8080/cb'], 'http://app.example.com:9090/cb')).toBe(false);
    // An operator-allowed https URI on a loopback name is not a loopback redirect: no http on another port.
    expect(redirectMatches(['https://localhost:8443/cb'], 'http://localhost:1234/cb')).toBe(false);
  });

  test('isLoopbackRedirect: http only, the three loopback names only', () => {
    expect(isLoopbackRedirect(new URL('http://127.0.0.1:1/'))).toBe(true);
    expect(isLoopbackRedirect(new URL('http://[::1]/'))).toBe(true);
    expect(isLoopbackRedirect(new URL('http://localhost/'))).toBe(true);
    expect(isLoopbackRedirect(new URL('https://localhost/'))).toBe(false);
    expect(isLoopbackRedirect(new URL('http://127.1.0.1/'))).toBe(false);
    expect(isLoopbackRedirect(new URL('http://sub.localhost/'))).toBe(false);
  });
});
