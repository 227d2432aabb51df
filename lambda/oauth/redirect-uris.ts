/**
 * Which redirect URIs a client may register and use. The façade only sends codes to places it knows: native
 * clients on loopback (any port, RFC 8252 §7.3), the documented callbacks of the hosted chat clients, and
 * whatever the operator adds. Anything else is refused, so a registration cannot point codes at an attacker.
 */

/** Callbacks documented by the clients this server is made for (exact match). */
export const KNOWN_CLIENT_REDIRECT_URIS: readonly string[] = [
  // ChatGPT apps/connectors: the platform callback (used when the AS sends RFC 9207 `iss`, as this one does)
  'https://chatgpt.com/connector_platform_oauth_redirect',
  'https://platform.openai.com/apps-manage/oauth',
  // Claude.ai, Claude Desktop and the Claude mobile apps (the connector callback runs on claude.ai / claude.com)
  'https://claude.ai/api/mcp/auth_callback',
  'https://claude.com/api/mcp/auth_callback',
  // VS Code (its loopback callbacks are covered by the loopback rule)
  'https://vscode.dev/redirect',
  'https://insiders.vscode.dev/redirect',
  // Cursor (desktop uses loopback; these are its web agents and its legacy deep link)
  'https://www.cursor.com/agents/mcp/oauth/callback',
  'cursor://anysphere.cursor-mcp/oauth/callback',
];

/** ChatGPT's per-app callback, `https://chatgpt.com/connector/oauth/<callback id>`. */
const KNOWN_CLIENT_REDIRECT_PATTERNS: readonly RegExp[] = [/^https:\/\/chatgpt\.com\/connector\/oauth\/[A-Za-z0-9_-]{1,128}$/];

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

export type RedirectCheck = { ok: true } | { ok: false; reason: string };

export function parseRedirectUri(uri: string): URL | undefined {
  if (uri.length > 2000) return undefined;
  try {
    return new URL(uri);
  } catch {
    return undefined;
  }
}

export function isLoopbackRedirect(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/** Whether `uri` may be registered at all (DCR or a client metadata document). */
export function checkRedirectUri(uri: string, extraAllowed: readonly string[] = []): RedirectCheck {
  const url = parseRedirectUri(uri);
  if (!url) return { ok: false, reason: 'is not an absolute URL' };
  if (url.hash || uri.includes('#')) return { ok: false, reason: 'must not contain a fragment' };
  if (url.username || url.password) return { ok: false, reason: 'must not contain credentials' };
  if (isLoopbackRedirect(url)) return { ok: true };
  if (KNOWN_CLIENT_REDIRECT_URIS.includes(uri) || extraAllowed.includes(uri)) return { ok: true };
  if (KNOWN_CLIENT_REDIRECT_PATTERNS.some((p) => p.test(uri))) return { ok: true };
  return {
    ok: false,
    reason: 'is not an allowed callback (loopback http://127.0.0.1|localhost:<port>/..., a known chat client callback, or one the operator allowed)',
  };
}

/**
 * Whether a requested redirect URI matches a registered one: exact string comparison, except that a loopback
 * URI may use any port (native clients bind a free port at run time).
 */
export function redirectMatches(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const req = parseRedirectUri(requested);
  // The port is the only part allowed to vary: a fragment or credentials never pass (RFC 6749 §3.1.2).
  if (!req || !isLoopbackRedirect(req) || req.hash || requested.includes('#') || req.username || req.password) return false;
  return registered.some((r) => {
    const reg = parseRedirectUri(r);
    return !!reg && isLoopbackRedirect(reg) && reg.hostname === req.hostname && reg.pathname === req.pathname && reg.search === req.search;
  });
}
