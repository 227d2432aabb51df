/**
 * Assertions shared by the negative OAuth suites: the exact RFC 6749 error (status, `error`, no-store), the
 * error page that must not redirect, the error redirect to a verified client, and "nothing stored changed".
 */
import { FLOW_COOKIES } from '../../lambda/ui/session.js';
import type { Harness } from '../support/harness.js';
import { TEST_ORIGIN, pkcePair, tokenRequest, type ObtainedCode, type RegisteredTestClient } from '../support/oauth.js';
import { dumpTable, tableDiff } from '../support/table.js';

export const RESOURCE = `${TEST_ORIGIN}/mcp`;

/** An RFC 6749 §5.2 error response with exactly this status and error code. */
export async function expectOAuthError(res: Response, status: number, error: string): Promise<{ error: string; error_description: string }> {
  const text = await res.text();
  let body: { error?: unknown; error_description?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // reported below as a mismatch with the raw text
  }
  expect({ status: res.status, error: body.error ?? text.slice(0, 200) }).toEqual({ status, error });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(typeof body.error_description).toBe('string');
  return body as { error: string; error_description: string };
}

/** Runs `action` and asserts the table is exactly as it was before. */
export async function unchanged<T>(h: Harness, action: () => Promise<T>): Promise<T> {
  const before = await dumpTable(h);
  const result = await action();
  expect(tableDiff(before, await dumpTable(h))).toEqual({ added: [], removed: [], changed: [] });
  return result;
}

/** An error page from /oauth/authorize: shown here, never redirected to an unverified URI, no pending flow kept. */
export async function expectErrorPage(res: Response, status = 400): Promise<string> {
  expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status, location: null });
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(res.headers.getSetCookie().filter((c) => c.startsWith(`${FLOW_COOKIES.authorization.name}=`))).toEqual([]);
  return res.text();
}

/** An RFC 6749 §4.1.2.1 error redirect to the (verified) client redirect URI, carrying state and iss, never a code. */
export function expectErrorRedirect(res: Response, redirectUri: string, error: string, state: string | null): void {
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
  expect({ error: location.searchParams.get('error'), state: location.searchParams.get('state'), iss: location.searchParams.get('iss'), code: location.searchParams.get('code') }).toEqual({
    error,
    state,
    iss: TEST_ORIGIN,
    code: null,
  });
  expect(location.searchParams.get('error_description')).toEqual(expect.any(String));
  expect(res.headers.getSetCookie().filter((c) => c.startsWith(`${FLOW_COOKIES.authorization.name}=`) && !/max-age=0/i.test(c))).toEqual([]);
}

/** An accepted authorization request: on to sign-in or consent, with the pending request in its sealed cookie. */
export function expectAccepted(res: Response): void {
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  // Either to our consent page or away to the identity provider, never to the client.
  expect(location.origin === TEST_ORIGIN ? location.pathname : 'identity provider').toMatch(/^(\/oauth\/consent|identity provider)$/);
  expect(location.searchParams.get('error')).toBeNull();
  expect(res.headers.getSetCookie().some((c) => c.startsWith(`${FLOW_COOKIES.authorization.name}=`) && !/max-age=0/i.test(c))).toBe(true);
}

/** A valid authorization request for `client`, with `overrides` (undefined removes a parameter). */
export function authorizeParams(client: RegisteredTestClient, overrides: Record<string, string | string[] | undefined> = {}): Record<string, string | string[]> {
  const { challenge } = pkcePair();
  const all: Record<string, string | string[] | undefined> = {
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0]!,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'state-1',
    resource: RESOURCE,
    scope: 'mcp',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, string | string[]] => e[1] !== undefined));
}

/** The token request that redeems `c`, with `overrides` (undefined removes a parameter). */
export function exchange(h: Harness, c: ObtainedCode, overrides: Record<string, string | undefined> = {}, headers: Record<string, string> = {}): Promise<Response> {
  const all: Record<string, string | undefined> = {
    grant_type: 'authorization_code',
    code: c.code,
    redirect_uri: c.redirectUri,
    code_verifier: c.verifier,
    client_id: c.client.client_id,
    resource: RESOURCE,
    ...overrides,
  };
  return tokenRequest(h, Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined)), headers);
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export async function tokensOf(res: Response): Promise<Tokens> {
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${text}`);
  return JSON.parse(text) as Tokens;
}

/** A tools/list on /mcp with this bearer token; the body is consumed. */
export async function mcpStatus(h: Harness, token: string): Promise<{ status: number; challenge: string | null }> {
  const res = await h.fetch(RESOURCE, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate') };
}
