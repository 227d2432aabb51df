/** Cookie parsing and serialising for the sign-in pages. */
import { clearCookie, cookieName, readCookie, setCookie } from '../../lambda/ui/cookies.js';

function req(cookie?: string): Request {
  return new Request('http://127.0.0.1/', cookie === undefined ? {} : { headers: { Cookie: cookie } });
}

describe('readCookie', () => {
  test('finds the named cookie among others, with or without spaces', () => {
    expect(readCookie(req('a=1; ormcp_session=xyz; b=2'), 'ormcp_session')).toBe('xyz');
    expect(readCookie(req('a=1;ormcp_session=xyz;b=2'), 'ormcp_session')).toBe('xyz');
    expect(readCookie(req('ormcp_session=xyz'), 'ormcp_session')).toBe('xyz');
  });

  test('matches the whole name only', () => {
    expect(readCookie(req('xormcp_session=evil; ormcp_session_x=evil'), 'ormcp_session')).toBeUndefined();
    expect(readCookie(req('__Host-ormcp_session=v'), 'ormcp_session')).toBeUndefined();
    expect(readCookie(req('ormcp_session=v'), '__Host-ormcp_session')).toBeUndefined();
  });

  test('keeps "=" inside the value (sealed values are base64url joined by dots, but be safe)', () => {
    expect(readCookie(req('k=a=b=c'), 'k')).toBe('a=b=c');
  });

  test('the first of two cookies with the same name wins (browsers send the longest path first)', () => {
    expect(readCookie(req('k=first; k=second'), 'k')).toBe('first');
  });

  test('absent, empty, malformed or oversized headers give nothing', () => {
    expect(readCookie(req(), 'k')).toBeUndefined();
    expect(readCookie(req(''), 'k')).toBeUndefined();
    expect(readCookie(req('garbage; k'), 'k')).toBeUndefined();
    expect(readCookie(req(`k=v; pad=${'x'.repeat(16_400)}`), 'k')).toBeUndefined();
  });
});

describe('setCookie and clearCookie', () => {
  test('plain http (loopback development): HttpOnly, SameSite=Lax, Path=/, no prefix, not Secure', () => {
    expect(setCookie('k', 'v', { secure: false, maxAgeSeconds: 60 })).toBe('k=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60');
  });

  test('https: __Host- prefix and Secure (no Domain attribute, so the prefix rules hold)', () => {
    const c = setCookie('k', 'v', { secure: true, maxAgeSeconds: 60 });
    expect(c).toBe('__Host-k=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure');
    expect(c).not.toMatch(/Domain=/i);
  });

  test('clearing sends an empty value that expires at once', () => {
    expect(clearCookie('k', false)).toBe('k=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
    expect(clearCookie('k', true)).toBe('__Host-k=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure');
  });

  test('cookieName', () => {
    expect(cookieName('k', true)).toBe('__Host-k');
    expect(cookieName('k', false)).toBe('k');
  });
});
