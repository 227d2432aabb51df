/**
 * The browser session and flow cookies: a sealed value is accepted only unaltered, unexpired, under its own cookie
 * name and purpose, and under a server secret that sealed it; the CSRF comparison accepts only the exact value.
 */
import { randomBytes } from 'node:crypto';
import { parseKeyring, newSecretString, type Keyring } from '../../lambda/crypto/keyring.js';
import { seal } from '../../lambda/crypto/sealed.js';
import { Cookies, FLOW_COOKIES, SESSION_TTL_SECONDS, csrfMatches } from '../../lambda/ui/session.js';

const keyring = parseKeyring(newSecretString());
const cookies = new Cookies(keyring, false);

/** A request carrying the name=value part of Set-Cookie headers, as a browser would send them back. */
function requestWith(...setCookies: string[]): Request {
  return new Request('http://127.0.0.1/app', { headers: { Cookie: setCookies.map((c) => c.split(';')[0]).join('; ') } });
}

function valueOf(setCookie: string): string {
  const pair = setCookie.split(';')[0]!;
  return pair.slice(pair.indexOf('=') + 1);
}

/** Flips one character of the sealed value's ciphertext part. */
function tamper(sealed: string): string {
  const parts = sealed.split('.');
  const ct = parts[3]!;
  parts[3] = (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1);
  return parts.join('.');
}

describe('session cookie', () => {
  test('round trip: the user id comes back with a per-session CSRF value', () => {
    const set = cookies.startSession('user-1');
    expect(set).toMatch(new RegExp(`^ormcp_session=[^;]+; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_TTL_SECONDS}$`));
    const session = cookies.session(requestWith(set))!;
    expect(session.userId).toBe('user-1');
    expect(session.csrf).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(cookies.session(requestWith(cookies.startSession('user-1')))!.csrf).not.toBe(session.csrf);
  });

  test('the sealed value reveals nothing of what it holds', () => {
    const set = cookies.startSession('user-with-a-recognisable-id');
    expect(set).not.toContain('user-with');
    expect(Buffer.from(valueOf(set).split('.')[3]!, 'base64url').toString('latin1')).not.toContain('user-with');
  });

  test('a tampered value is refused', () => {
    const value = valueOf(cookies.startSession('user-1'));
    expect(cookies.session(requestWith(`ormcp_session=${tamper(value)}`))).toBeUndefined();
    const parts = value.split('.');
    expect(cookies.session(requestWith(`ormcp_session=${[...parts.slice(0, 4), 'AAAAAAAAAAAAAAAAAAAAAA'].join('.')}`))).toBeUndefined();
    expect(cookies.session(requestWith(`ormcp_session=${parts.slice(0, 4).join('.')}`))).toBeUndefined();
    expect(cookies.session(requestWith('ormcp_session=garbage'))).toBeUndefined();
    expect(cookies.session(requestWith('ormcp_session='))).toBeUndefined();
  });

  test('an expired value is refused', () => {
    const past = Date.now() - (SESSION_TTL_SECONDS + 60) * 1000;
    const expired = seal(keyring, 'session', { uid: 'user-1', csrf: 'x'.repeat(32) }, SESSION_TTL_SECONDS, past);
    expect(cookies.session(requestWith(`ormcp_session=${expired}`))).toBeUndefined();
    const live = seal(keyring, 'session', { uid: 'user-1', csrf: 'x'.repeat(32) }, SESSION_TTL_SECONDS);
    expect(cookies.session(requestWith(`ormcp_session=${live}`))).toEqual({ userId: 'user-1', csrf: 'x'.repeat(32) });
  });

  test('a value sealed for another purpose is refused, even with the same shape', () => {
    for (const purpose of ['authorization', 'upstream-login', 'openrouter-connect'] as const) {
      const other = seal(keyring, purpose, { uid: 'user-1', csrf: 'x'.repeat(32) }, 600);
      expect(cookies.session(requestWith(`ormcp_session=${other}`))).toBeUndefined();
    }
  });

  test('a value sealed under another server secret is refused; an older version still in the secret is accepted', () => {
    const other = new Cookies(parseKeyring(newSecretString()), false);
    expect(cookies.session(requestWith(other.startSession('user-1')))).toBeUndefined();

    const v1 = randomBytes(48).toString('base64url');
    const before = new Cookies(parseKeyring(JSON.stringify({ current: 'v1', v1 })), false);
    const rotated = new Cookies(parseKeyring(JSON.stringify({ current: 'v2', v1, v2: randomBytes(48).toString('base64url') })), false);
    const set = before.startSession('user-1');
    expect(rotated.session(requestWith(set))?.userId).toBe('user-1');
    const dropped = new Cookies(parseKeyring(JSON.stringify({ current: 'v2', v2: randomBytes(48).toString('base64url') })), false);
    expect(dropped.session(requestWith(set))).toBeUndefined();
  });

  test('a payload of the wrong shape is refused', () => {
    for (const payload of [{ uid: 7, csrf: 'x' }, { uid: 'user-1' }, { csrf: 'x' }, {}]) {
      expect(cookies.session(requestWith(`ormcp_session=${seal(keyring, 'session', payload, 600)}`))).toBeUndefined();
    }
  });

  test('on https the cookie is __Host- prefixed and Secure, and an unprefixed one is not read', () => {
    const secure = new Cookies(keyring, true);
    const set = secure.startSession('user-1');
    expect(set).toMatch(/^__Host-ormcp_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/);
    expect(secure.session(requestWith(set))?.userId).toBe('user-1');
    // A cookie without the prefix could have been planted by a sibling subdomain or over plain http.
    expect(secure.session(requestWith(`ormcp_session=${valueOf(set)}`))).toBeUndefined();
  });

  test('signing out clears the cookie', () => {
    expect(cookies.endSession()).toBe('ormcp_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
    expect(new Cookies(keyring, true).endSession()).toBe('__Host-ormcp_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure');
  });
});

describe('flow cookies', () => {
  test('round trip under their own name, for their own lifetime', () => {
    const set = cookies.writeFlow(FLOW_COOKIES.openRouterConnect, { verifier: 'v', next: '/app' });
    expect(set).toMatch(/^ormcp_orconnect=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600$/);
    expect(cookies.readFlow(requestWith(set), FLOW_COOKIES.openRouterConnect)).toMatchObject({ verifier: 'v', next: '/app' });
  });

  test('one flow cannot be replayed as another, nor as the session, nor the session as a flow', () => {
    const login = valueOf(cookies.writeFlow(FLOW_COOKIES.upstreamLogin, { state: 's', nonce: 'n', verifier: 'v', next: '/app' }));
    // Same sealed value presented under the other cookie names: each name is read with its own purpose.
    expect(cookies.readFlow(requestWith(`ormcp_authz=${login}`), FLOW_COOKIES.authorization)).toBeUndefined();
    expect(cookies.readFlow(requestWith(`ormcp_orconnect=${login}`), FLOW_COOKIES.openRouterConnect)).toBeUndefined();
    expect(cookies.session(requestWith(`ormcp_session=${login}`))).toBeUndefined();
    const session = valueOf(cookies.startSession('user-1'));
    expect(cookies.readFlow(requestWith(`ormcp_login=${session}`), FLOW_COOKIES.upstreamLogin)).toBeUndefined();
  });

  test('tampered or expired flow values are refused', () => {
    const value = valueOf(cookies.writeFlow(FLOW_COOKIES.authorization, { clientId: 'c' }));
    expect(cookies.readFlow(requestWith(`ormcp_authz=${tamper(value)}`), FLOW_COOKIES.authorization)).toBeUndefined();
    const old = seal(keyring, 'authorization', { clientId: 'c' }, FLOW_COOKIES.authorization.ttlSeconds, Date.now() - 16 * 60 * 1000);
    expect(cookies.readFlow(requestWith(`ormcp_authz=${old}`), FLOW_COOKIES.authorization)).toBeUndefined();
  });

  test('clearing expires the cookie at once', () => {
    expect(cookies.clearFlow(FLOW_COOKIES.authorization)).toBe('ormcp_authz=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
  });
});

describe('csrfMatches', () => {
  const session = { userId: 'u', csrf: 'abcDEF123_-xyz' };
  test.each<[string, unknown, boolean]>([
    ['the exact value', 'abcDEF123_-xyz', true],
    ['one character different', 'abcDEF123_-xyZ', false],
    ['a prefix', 'abcDEF123_-xy', false],
    ['longer', 'abcDEF123_-xyz0', false],
    ['empty', '', false],
    ['missing', null, false],
    ['not a string', 42, false],
  ])('%s → %s', (_name, submitted, expected) => {
    expect(csrfMatches(session, submitted)).toBe(expected);
  });
});

// Keep the helper honest: the tamper function really changes the value.
test('tamper() changes the value', () => {
  const k: Keyring = keyring;
  const v = seal(k, 'session', { uid: 'u', csrf: 'c' }, 60);
  expect(tamper(v)).not.toBe(v);
});
