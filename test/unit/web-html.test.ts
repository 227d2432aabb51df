/**
 * The page template: every interpolated value is escaped, so text from users, clients or the URL cannot become
 * markup; every page carries a CSP without inline script or style; and the rendered pages show no secret except the
 * one-time token on its own page.
 */
import { Html, contentSecurityPolicy, escapeHtml, html, htmlResponse, page, redirect } from '../../lambda/ui/html.js';
import { dashboardPage, isNotice, landingPage, tokenCreatedPage, usd, type DashboardData } from '../../lambda/web/dashboard.js';
import { connectKeyPage, consentPage, errorPage, formActionSource, replaceKeyPage } from '../../lambda/ui/pages.js';
import { serverUrls } from '../../lambda/oauth/metadata.js';

const urls = serverUrls('https://mcp.example.com/prod');
const EVIL = `"><script>alert(1)</script><img src=x onerror=alert(2)>'`;
const session = { userId: 'u1', csrf: 'csrf-value-123' };

describe('escapeHtml', () => {
  test('escapes the five characters that matter in text and quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
  test('leaves everything else alone, and stringifies non-strings', () => {
    expect(escapeHtml('héllo — ünïcode 🙂 `$`')).toBe('héllo — ünïcode 🙂 `$`');
    expect(escapeHtml(42)).toBe('42');
  });
});

describe('html template', () => {
  test('escapes interpolated strings, in text and in attributes', () => {
    const out = html`<p title="${EVIL}">${EVIL}</p>`.value;
    expect(out).not.toContain('<script>');
    expect(out).not.toContain('<img');
    expect(out).toBe(`<p title="${escapeHtml(EVIL)}">${escapeHtml(EVIL)}</p>`);
  });

  test('nests Html fragments without escaping them twice', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}</p>`.value).toBe('<p><b>&lt;i&gt;</b></p>');
  });

  test('joins arrays, escaping each element', () => {
    expect(html`<ul>${['<a>', html`<li>ok</li>`]}</ul>`.value).toBe('<ul>&lt;a&gt;<li>ok</li></ul>');
  });

  test('undefined, null and false render nothing; 0 and true render as text', () => {
    expect(html`[${undefined}${null}${false}]`.value).toBe('[]');
    expect(html`[${0}${true}]`.value).toBe('[0true]');
  });

  test('only a real Html instance passes through: an object that looks like one is escaped', () => {
    const fake = { value: '<script>', toString: () => '<script>' };
    expect(html`${fake}`.value).toBe('&lt;script&gt;');
    expect(new Html('<b>').toString()).toBe('<b>');
  });
});

describe('contentSecurityPolicy', () => {
  test('no inline script or style, nothing from elsewhere, no framing, no <base> hijack', () => {
    const csp = contentSecurityPolicy();
    const directives = new Map(csp.split('; ').map((d) => [d.split(' ')[0]!, d.split(' ').slice(1).join(' ')]));
    expect(directives.get('default-src')).toBe("'none'");
    expect(directives.get('script-src')).toBe("'self'");
    expect(directives.get('style-src')).toBe("'self'");
    expect(directives.get('frame-ancestors')).toBe("'none'");
    expect(directives.get('base-uri')).toBe("'none'");
    expect(directives.get('form-action')).toBe("'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  test('form-action lists the extra destinations a form post may redirect to', () => {
    expect(contentSecurityPolicy(['https://auth.example.com', 'http://127.0.0.1:33418'])).toContain("form-action 'self' https://auth.example.com http://127.0.0.1:33418;");
  });
});

describe('formActionSource (where the consent decision may redirect)', () => {
  test.each<[string, string | undefined]>([
    ['http://127.0.0.1:33418/callback?x=1', 'http://127.0.0.1:33418'],
    ['https://claude.ai/api/mcp/auth_callback', 'https://claude.ai'],
    // App schemes have an opaque origin ("null"): the scheme is the source that lets the redirect through.
    ['cursor://anysphere.cursor-mcp/oauth/callback', 'cursor:'],
    ['com.example.app:/oauth2redirect', 'com.example.app:'],
    ['not a url', undefined],
  ])('%s → %s', (uri, expected) => {
    expect(formActionSource(uri)).toBe(expected);
  });

  test('the consent page allows its client\'s callback as a form-action destination', () => {
    const csp = consentPage(urls.base, session, { clientName: 'C', redirectHost: 'h', userName: 'u', requestId: 'r' }, ['cursor://anysphere.cursor-mcp/oauth/callback']).headers.get('content-security-policy')!;
    expect(csp).toContain("form-action 'self' cursor:;");
  });
});

describe('responses', () => {
  test('page(): the security headers, the status, and assets under the base URL', async () => {
    const res = page({ title: 'T<1>', base: urls.base, body: html`<p>hi</p>`, status: 418, formActions: ['https://idp.example.com'] });
    expect(res.status).toBe(418);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(contentSecurityPolicy(['https://idp.example.com']));
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    // Not no-referrer: that makes browsers send "Origin: null" on same-origin form posts.
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
    const body = await res.text();
    expect(body).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(body).toContain('<title>T&lt;1&gt; · OpenRouter MCP</title>');
    expect(body).toContain('<link rel="stylesheet" href="https://mcp.example.com/prod/app/static/app.css">');
    expect(body).toContain('<script src="https://mcp.example.com/prod/app/static/app.js" defer></script>');
    expect(body).not.toMatch(/<script>|<style|style="|\son[a-z]+=/i);
  });

  test('htmlResponse appends repeated headers (several cookies)', () => {
    const res = htmlResponse('x', 200, { 'Set-Cookie': ['a=1', 'b=2'] });
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  });

  test('redirect(): Location, cookies, no caching', () => {
    const res = redirect('https://x.example/next', ['a=1', 'b=2'], 303);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('https://x.example/next');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(redirect('/x').status).toBe(302);
  });
});

describe('pages render hostile text as text', () => {
  const data = (over: Partial<DashboardData> = {}): DashboardData => ({
    user: { userId: 'u1', name: EVIL, createdAt: '2026-01-01T00:00:00Z', hasKey: true, keyUpdatedAt: '2026-01-02T00:00:00Z' },
    session,
    tokens: [{ tokenId: '0123456789abcdef', userId: 'u1', label: EVIL, kind: 'personal', createdAt: '2026-01-01T00:00:00Z' }],
    grants: [{ grantId: '00000000-0000-4000-8000-000000000000', userId: 'u1', clientId: 'c', clientName: `${EVIL}</textarea>`, audience: urls.resource, scope: 'mcp', createdAt: '2026-01-01T00:00:00Z' }],
    key: { status: 'ok', info: { usage: 1.5, limit: 10, limit_remaining: 8.5 } },
    provisioningAvailable: false,
    ...over,
  });

  function assertInert(body: string): void {
    expect(body).not.toContain('<script>alert');
    expect(body).not.toContain('<img src=x');
    expect(body).not.toContain('</textarea><');
  }

  test('dashboard: user name, token label and client name', async () => {
    const body = await dashboardPage(urls, data()).text();
    assertInert(body);
    expect(body).toContain(escapeHtml(EVIL));
    expect(body).toContain('$1.50');
  });

  test('consent, connect-key and error pages', async () => {
    assertInert(await consentPage(urls.base, session, { clientName: EVIL, redirectHost: EVIL, userName: EVIL, requestId: EVIL }, ['http://127.0.0.1:1']).text());
    assertInert(await connectKeyPage(urls.base, session, '/oauth/consent', EVIL).text());
    assertInert(await replaceKeyPage(urls.base, session, { connectedAt: EVIL }).text());
    assertInert(await errorPage(urls.base, EVIL, EVIL).text());
  });

  test('an unknown notice in the URL shows nothing; a known one shows its fixed text', async () => {
    expect(isNotice('token-revoked')).toBe(true);
    for (const v of ['<b>x</b>', '__proto__', 'constructor', 'toString', '', null]) expect(isNotice(v)).toBe(false);
    const body = await dashboardPage(urls, data({ notice: 'token-revoked' })).text();
    expect(body).toContain('role="status" data-testid="notice">The token was revoked.');
  });
});

describe('no secret on any page but the one-time token page', () => {
  const token = 'ormcp_0123456789abcdef_SECRETSECRETSECRETSECRETSECRET';

  test('the dashboard carries the CSRF value only inside hidden form fields', async () => {
    const body = await dashboardPage(urls, {
      user: { userId: 'u1', name: 'dana', createdAt: '2026-01-01T00:00:00Z', hasKey: true },
      session,
      tokens: [{ tokenId: '0123456789abcdef', userId: 'u1', label: 'laptop', kind: 'personal', createdAt: '2026-01-01T00:00:00Z' }],
      grants: [],
      key: { status: 'ok', info: { usage: 0, limit: null, limit_remaining: null } },
      provisioningAvailable: true,
    }).text();
    const withoutHidden = body.replace(/<input type="hidden" name="csrf" value="csrf-value-123">/g, '');
    expect(withoutHidden).not.toContain('csrf-value-123');
    // The token id is public (it names the token in lists and logs); the token itself is nowhere.
    expect(body).toContain('0123456789abcdef');
    expect(body).not.toContain('ormcp_');
  });

  test('the token page shows the token once, in a read-only field, and is never cached', async () => {
    const res = tokenCreatedPage(urls, token, 'laptop');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.text();
    expect(body.split(token)).toHaveLength(2);
    expect(body).toContain(`<input id="new-token" readonly spellcheck="false" value="${token}">`);
  });

  test('the landing page offers sign-in only when it is configured', async () => {
    expect(await landingPage(urls, false, true).text()).toContain(`href="${urls.base}/app/login"`);
    expect(await landingPage(urls, true, true).text()).toContain('Open your account');
    const noSignIn = await landingPage(urls, false, false).text();
    expect(noSignIn).not.toContain('/app/login');
    expect(noSignIn).toContain('personal MCP token');
  });
});

describe('usd', () => {
  test.each<[number | null | undefined, string]>([
    [0, '$0.00'],
    [12.5, '$12.50'],
    [0.5, '$0.50'],
    [0.0042, '$0.0042'],
    [-0.003, '$-0.0030'],
    [null, '—'],
    [undefined, '—'],
    [Number.NaN, '—'],
  ])('%p → %s', (v, expected) => {
    expect(usd(v)).toBe(expected);
  });
});
