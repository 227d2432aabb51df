/**
 * Seeded fuzzing of the sign-in surface, in-process: registration, the token and revocation endpoints,
 * /oauth/authorize (with https client ids served by a junk-document fetcher that never touches the network), the
 * identity provider's callback, the consent page, every /app page, the discovery documents, and odd methods and
 * paths (see fuzz-cases.ts for what is sent). Every response must settle, never be a 5xx, be well formed (OAuth
 * endpoint errors are RFC 6749/7591 JSON; browser routes answer with HTML pages under the strict CSP; redirects
 * have a Location that goes only to us, the identity provider, OpenRouter or an allowed client callback, and never
 * carry a code), and leak no secret in a body, a header or a log line. No unhandled rejection, and the table unchanged except for the
 * clients the run registered.
 *
 * FUZZ_SEED (default below) and FUZZ_COUNT (default 3000) choose the run; FUZZ_CASE=3,17 replays single cases of
 * it; FUZZ_VERBOSE=1 prints the status distribution.
 */
import { checkRedirectUri } from '../../lambda/oauth/redirect-uris.js';
import { metadataUrlProblem } from '../../lambda/oauth/client-metadata.js';
import { seal } from '../../lambda/crypto/sealed.js';
import { FLOW_COOKIES, SESSION_TTL_SECONDS } from '../../lambda/ui/session.js';
import { watchUnhandledRejections } from '../support/faults.js';
import { bodyInit, caseFailure, casesOf, count, fuzzRun, headerText, isAnswered, redactor, rejectionText, report, runPool, secretsIn, secretsInLogs, sendBounded, tally, unanswered, type Outcome, type Secret, type Sent } from '../support/fuzz-kit.js';
import { TEST_ORIGIN as ORIGIN, authorizeUrl, csrfOf, obtainCode, registerClient, startOAuthHarness, type OAuthHarness } from '../support/oauth.js';
import { isObject } from '../support/json-bodies.js';
import { diffLines, dumpTable, tableDiff } from '../support/table.js';
import { RESOURCE, authorizeParams, exchange, tokensOf } from './negative-helpers.js';
import { generateOAuthCases, junkMetadataFetcher, type OAuthFuzzCase, type OAuthFuzzContext } from './fuzz-cases.js';

const RUN = fuzzRun(process.env, { seed: 0x0a07_2026, count: 3000, testFile: 'test/oauth/fuzz.test.ts' });
const { seed: SEED, count: COUNT, repro: REPRO } = RUN;
const CONCURRENCY = 12;
const HANG_MS = 10_000;

/** RFC 6749 §5.2 (token), RFC 7009 §2.2.1 (revocation), RFC 7591 §3.2.2 (registration) error codes. */
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'unsupported_token_type',
  'temporarily_unavailable',
  'invalid_redirect_uri',
  'invalid_client_metadata',
  'invalid_software_statement',
  'unapproved_software_statement',
]);
const OAUTH_API = new Set(['/oauth/token', '/oauth/register', '/oauth/revoke']);
const BROWSER_ROUTES = new Set(['/oauth/authorize', '/oauth/callback', '/oauth/consent']);

const fetcher = junkMetadataFetcher(SEED);
let h: OAuthHarness;
let ctx: OAuthFuzzContext;
let secrets: Secret[];
/** Where a redirect may send the browser besides a client callback: us, the identity provider, OpenRouter. */
let trustedOrigins: Set<string>;

beforeAll(async () => {
  h = await startOAuthHarness({}, { metadataFetcher: fetcher });
  // A signed-in user with a key, a public client holding a real grant (tokens) and a live code.
  const first = await obtainCode(h, { login: { sub: 'sub-fuzz', email: 'fuzz@example.com' } });
  const tokens = await tokensOf(await exchange(h, first));
  const live = await obtainCode(h, { client: first.client, browser: first.browser });
  const basic = await registerClient(h, { client_name: 'Fuzz Basic', redirect_uris: ['http://127.0.0.1:7001/cb'], token_endpoint_auth_method: 'client_secret_basic' });
  const post = await registerClient(h, { client_name: 'Fuzz Post', redirect_uris: ['http://127.0.0.1:7002/cb'], token_endpoint_auth_method: 'client_secret_post' });
  const session = first.browser.cookie(ORIGIN, 'ormcp_session')!;
  const dashboard = await first.browser.get(`${ORIGIN}/app`);
  const csrf = csrfOf(await dashboard.text());
  // Genuine flow cookies from an authorization request made without a session: the pending request and our login.
  const started = await h.fetch(authorizeUrl(authorizeParams(first.client)), { redirect: 'manual' });
  const cookie = (name: string) => started.headers.getSetCookie().find((c) => c.startsWith(`${name}=`))!.split(';')[0]!.slice(name.length + 1);
  const idp = new URL(started.headers.get('location')!);
  trustedOrigins = new Set([ORIGIN, idp.origin, new URL(h.fake.authUrl).origin]);
  ctx = {
    origin: ORIGIN,
    resource: RESOURCE,
    publicClient: { id: first.client.client_id, redirectUri: first.redirectUri },
    basicClient: { id: basic.client_id, secret: basic.client_secret!, redirectUri: basic.redirect_uris[0]! },
    postClient: { id: post.client_id, secret: post.client_secret!, redirectUri: post.redirect_uris[0]! },
    liveCode: live.code,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    personalTokens: [h.alice.token, h.bob.token],
    foreignTokenIds: [h.alice.tokenId, h.bob.tokenId],
    session,
    csrf,
    ghostSession: seal(h.keyring, 'session', { uid: 'no-such-user', csrf: 'ghost-csrf' }, SESSION_TTL_SECONDS),
    authzCookie: cookie(FLOW_COOKIES.authorization.name),
    loginCookie: cookie(FLOW_COOKIES.upstreamLogin.name),
    loginState: idp.searchParams.get('state')!,
  };
  const keyMaterial = (name: string, key: Buffer) => [
    { label: `the server's ${name} (base64url)`, value: key.toString('base64url') },
    { label: `the server's ${name} (hex)`, value: key.toString('hex') },
  ];
  secrets = [
    { label: "alice's MCP token", value: h.alice.token },
    { label: "bob's MCP token", value: h.bob.token },
    { label: "alice's OpenRouter key", value: h.alice.openRouterKey },
    { label: "bob's OpenRouter key", value: h.bob.openRouterKey },
    { label: 'the basic client secret', value: ctx.basicClient.secret },
    { label: 'the post client secret', value: ctx.postClient.secret },
    { label: 'the OAuth access token', value: ctx.accessToken },
    { label: 'the OAuth refresh token', value: ctx.refreshToken },
    { label: 'the redeemed code', value: first.code },
    { label: 'the live code', value: ctx.liveCode },
    { label: "the redeemed code's verifier", value: first.verifier },
    { label: "the live code's verifier", value: live.verifier },
    { label: 'the session cookie', value: ctx.session },
    { label: 'the pending-authorization cookie', value: ctx.authzCookie },
    { label: 'the login cookie', value: ctx.loginCookie },
    ...keyMaterial('token HMAC key', h.keyring.current.tokenHmacKey),
    ...keyMaterial('data key', h.keyring.current.dataKey),
    ...keyMaterial('seal key', h.keyring.current.sealKey),
  ];
  expect(h.secrets().every((s) => secrets.some((x) => x.value === s))).toBe(true);
}, 60_000);
afterAll(async () => {
  await h?.close();
});

/** One request, bounded: a hang or a throw is reported, never awaited forever. */
async function send(c: OAuthFuzzCase): Promise<Sent | { unsendable: string }> {
  const init: RequestInit & { duplex?: 'half' } = { method: c.method, headers: c.headers, redirect: 'manual', ...bodyInit(c.body, c.stream, 4 * 1024) };
  // A request fetch itself refuses to build is the generator's fault, not the server's.
  try {
    new Request(`${ORIGIN}${c.path}`, { ...init, body: null, duplex: undefined } as RequestInit);
  } catch (err) {
    return { unsendable: err instanceof Error ? err.message : String(err) };
  }
  return sendBounded(h.fetch, `${ORIGIN}${c.path}`, init, HANG_MS);
}

/** The path as the server routes it. */
function routeOf(path: string): string {
  return new URL(`${ORIGIN}${path}`).pathname.replace(/\/+$/, '') || '/';
}

/** Problems with one response, beyond the leak checks; `registered` collects clients a 201 created. */
function check(c: OAuthFuzzCase, r: Outcome, registered: { clientId: string; secret?: string }[]): string[] {
  const problems: string[] = [];
  const route = routeOf(c.path);
  const oauthApi = OAUTH_API.has(route);
  const ct = (r.headers.get('content-type') ?? '').toLowerCase();
  if (r.status >= 500) problems.push(`HTTP ${r.status}`);
  if (r.status < 200 || r.status >= 600) problems.push(`odd HTTP status ${r.status}`);
  if (r.status === 405 && !r.headers.get('allow')) problems.push('405 without an Allow header');

  if (r.status >= 300 && r.status < 400) {
    if (r.status !== 302 && r.status !== 303) problems.push(`redirect with HTTP ${r.status}`);
    if (r.text.length) problems.push('redirect with a body');
    const location = r.headers.get('location');
    if (!location) return [...problems, 'redirect without a Location'];
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      return [...problems, `Location is not an absolute URL: ${location.slice(0, 200)}`];
    }
    if (!trustedOrigins.has(url.origin)) {
      // Off to a client: only to a callback the policy allows, with our issuer, and never with a code (no
      // request in this run is allowed to approve anything).
      const callback = location.split('?')[0]!;
      if (!checkRedirectUri(callback).ok) problems.push(`redirect to a URL no client may register: ${location.slice(0, 200)}`);
      if (url.searchParams.has('code')) problems.push(`redirect to a client carrying a code: ${location.slice(0, 200)}`);
      if (url.searchParams.get('iss') !== ORIGIN || !url.searchParams.get('error')) problems.push(`client redirect without error and iss: ${location.slice(0, 200)}`);
    }
    return problems;
  }

  if (oauthApi && c.method === 'POST') {
    if (route === '/oauth/token' && r.status === 200) problems.push(`the token endpoint issued tokens: ${r.text.slice(0, 100)}`);
    if (route === '/oauth/revoke' && r.status === 200 && r.text.length) problems.push('revocation answered 200 with a body');
    if (r.status >= 400 && r.headers.get('cache-control') !== 'no-store') problems.push('OAuth error without Cache-Control: no-store');
    if (r.status === 401 && !r.headers.get('www-authenticate')) problems.push('401 without WWW-Authenticate');
  }
  if (r.status === 204 || (route === '/oauth/revoke' && r.status === 200)) {
    if (r.text.length) problems.push(`HTTP ${r.status} with a body`);
    return problems;
  }

  // What a browser navigates to answers with a page (a 405 from the OAuth routes aside, which is JSON like theirs).
  const page = route === '/' || route === '/app' || (route.startsWith('/app/') && !route.startsWith('/app/static/')) || BROWSER_ROUTES.has(route);
  if (page && r.status !== 405 && !ct.startsWith('text/html')) problems.push(`a browser route answered HTTP ${r.status} with Content-Type "${ct}", not a page`);

  if (ct.startsWith('application/json')) {
    let json: unknown;
    try {
      json = JSON.parse(r.text);
    } catch {
      return [...problems, 'JSON body does not parse'];
    }
    if (r.status >= 400) {
      if (!isObject(json) || typeof json.error !== 'string' || typeof json.error_description !== 'string') problems.push(`error body is not {error, error_description}: ${r.text.slice(0, 200)}`);
      else if (oauthApi && !OAUTH_ERRORS.has(json.error)) problems.push(`error code "${json.error}" is not an RFC 6749/7009/7591 code`);
    } else if (!isObject(json)) {
      problems.push('JSON success body is not an object');
    } else if (route === '/oauth/register') {
      if (r.status !== 201 || typeof json.client_id !== 'string' || !/^dcr_/.test(json.client_id) || !Array.isArray(json.redirect_uris)) {
        problems.push(`registration success is not a 201 with client_id and redirect_uris: ${r.text.slice(0, 200)}`);
      } else {
        const confidential = json.token_endpoint_auth_method !== 'none';
        if (confidential !== (typeof json.client_secret === 'string')) problems.push('a client secret where none belongs (or none where one does)');
        for (const uri of json.redirect_uris) if (typeof uri !== 'string' || !checkRedirectUri(uri).ok) problems.push(`registered a redirect URI the policy refuses: ${String(uri).slice(0, 200)}`);
        registered.push({ clientId: json.client_id, ...(typeof json.client_secret === 'string' ? { secret: json.client_secret } : {}) });
      }
    }
  } else if (ct.startsWith('text/html')) {
    const csp = r.headers.get('content-security-policy') ?? '';
    const strict = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"].every((d) => csp.includes(d)) && !/unsafe|\*/.test(csp);
    if (!strict) problems.push(`page without the strict CSP: "${csp}"`);
    if (r.headers.get('x-content-type-options') !== 'nosniff') problems.push('page without X-Content-Type-Options: nosniff');
    if (r.headers.get('cache-control') !== 'no-store') problems.push('page without Cache-Control: no-store');
    if (!r.text.startsWith('<!doctype html>')) problems.push('HTML body is not a page');
  } else if (route.startsWith('/app/static/') && r.status === 200 && /^text\/(css|javascript)/.test(ct) && r.text.length) {
    // the stylesheet and the script
  } else if (route.startsWith('/app/static/') && r.status === 404 && ct.startsWith('text/plain')) {
    // an unknown asset
  } else {
    problems.push(`HTTP ${r.status} with a body of Content-Type "${ct}" (${r.text.length} chars)`);
  }
  return problems;
}

const isClient = (item: Record<string, unknown>) => String(item.pk).startsWith('OAUTHCLIENT#');

describe('regressions the fuzz found', () => {
  const post = (path: string, form: Record<string, string>) =>
    h.fetch(`${ORIGIN}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN, Cookie: `ormcp_session=${ctx.session}; ormcp_authz=${ctx.authzCookie}` }, body: new URLSearchParams(form) });

  test('a signed-in form post over the body limit is a 413 page (not a 500, not JSON) and changes nothing', async () => {
    const before = await dumpTable(h);
    for (const [path, form] of [
      ['/oauth/consent', { csrf: ctx.csrf, decision: 'approve', pad: 'p'.repeat(20_000) }],
      ['/app/tokens', { csrf: ctx.csrf, expires: '30d', label: 'x'.repeat(20_000) }],
      ['/app/key', { csrf: ctx.csrf, key: `sk-or-v1-${'a'.repeat(20_000)}` }],
      ['/app/key/remove', { csrf: ctx.csrf, pad: 'p'.repeat(20_000) }],
    ] as const) {
      const res = await post(path, form);
      expect({ path, status: res.status, type: res.headers.get('content-type') }).toEqual({ path, status: 413, type: 'text/html; charset=utf-8' });
      expect(await res.text()).toContain('Request too large');
    }
    expect(tableDiff(before, await dumpTable(h))).toEqual({ added: [], removed: [], changed: [] });
  });

  test.each(['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty'])('/app/static/%s is not an asset (404), not an empty 200', async (name) => {
    const res = await h.fetch(`${ORIGIN}/app/static/${name}`);
    expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status: 404, type: 'text/plain; charset=utf-8' });
  });

  test.each(['toString', 'constructor', '__proto__'])('a token expiry of "%s" is refused as an invalid expiry', async (expires) => {
    const before = await dumpTable(h);
    const res = await post('/app/tokens', { csrf: ctx.csrf, expires, label: 'fuzz' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Invalid expiry');
    expect(tableDiff(before, await dumpTable(h))).toEqual({ added: [], removed: [], changed: [] });
  });
});

test(`fuzz: ${COUNT} sign-in requests, seed ${SEED}`, async () => {
  const rejections = watchUnhandledRejections();
  try {
    const before = await dumpTable(h);
    const redact = redactor(secrets);
    const all = generateOAuthCases(SEED, COUNT, ctx);
    const cases = casesOf(RUN, all);
    const failures: string[] = [];
    const statuses = new Map<string, number>();
    const byCategory = new Map<string, number>();
    const registered: { clientId: string; secret?: string }[] = [];
    const errorCodes = new Map<string, number>();
    const started = performance.now();
    await runPool(cases, CONCURRENCY, async (c) => {
      const r = await send(c);
      let problems: string[];
      if ('unsendable' in r) problems = [`the generator built a request fetch refuses: ${r.unsendable}`];
      else if (!isAnswered(r)) problems = [unanswered(r, HANG_MS)];
      else {
        count(statuses, `${r.status}`);
        count(byCategory, `${c.category} ${r.status}`);
        problems = check(c, r, registered);
        const code = /^\{"error":"([a-z_]+)"/.exec(r.text)?.[1];
        if (code) count(errorCodes, `${routeOf(c.path)} ${code}`);
        problems.push(...secretsIn(r, secrets));
        const headers = headerText(r.headers);
        for (const p of c.planted) if (r.text.includes(p) || headers.includes(p)) problems.push(`response echoes a credential the request carried: ${p.slice(0, 12)}…`);
        if (problems.length) problems.push(`got HTTP ${r.status} ${r.headers.get('content-type') ?? ''} ${r.headers.get('location') ?? ''}: ${r.text.replace(/\s+/g, ' ').slice(0, 300)}`);
      }
      if (problems.length) failures.push(caseFailure(c, problems, redact, { pathChars: 160, bodyChars: 200 }));
    });
    const elapsed = performance.now() - started;

    // Logs: no secret of ours, no client secret the run was given, no credential a request made up.
    const logSecrets = [...secrets, ...registered.filter((x) => x.secret).map((x) => ({ label: `the secret of registered client ${x.clientId}`, value: x.secret! }))];
    const planted = new Set(cases.flatMap((c) => c.planted));
    failures.push(...secretsInLogs(h.logs, logSecrets));
    h.logs.forEach((line, i) => {
      for (const p of planted) if (line.includes(p)) failures.push(`log line ${i} contains a credential a request carried: ${redact(line).slice(0, 300)}`);
    });

    // The metadata fetcher was only ever asked for URLs the policy allows.
    for (const url of fetcher.fetched) {
      const problem = metadataUrlProblem(url);
      if (problem) failures.push(`the metadata fetcher was asked for ${url.slice(0, 120)}, which ${problem}`);
    }
    for (const v of h.fake.violations) failures.push(`upstream request violates the OpenRouter spec: ${v.path} ${v.errors.join('; ').slice(0, 300)}`);

    // The table: every item as it was, except the clients registered by a 201 this run saw.
    const after = await dumpTable(h);
    const diff = tableDiff(before.filter((i) => !isClient(i)), after.filter((i) => !isClient(i)));
    failures.push(...diffLines(diff, redact));
    const clientDiff = tableDiff(before.filter(isClient), after.filter(isClient));
    for (const item of [...clientDiff.removed, ...clientDiff.changed.map((x) => x.after)]) failures.push(`existing client item removed or changed: ${String(item.pk)}`);
    const added = clientDiff.added.map((i) => String(i.clientId)).sort();
    const seen = registered.map((x) => x.clientId).sort();
    if (JSON.stringify(added) !== JSON.stringify(seen)) failures.push(`clients in the table (${added.length}) are not the ones registrations answered 201 for (${seen.length})`);

    // Still serving: the discovery document and a real sign-in page.
    const meta = await h.fetch(`${ORIGIN}/.well-known/oauth-authorization-server`);
    if (meta.status !== 200) failures.push(`server unhealthy after the run: discovery answered ${meta.status}`);

    // Late rejections surface after a turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    for (const reason of rejections.seen) failures.push(`unhandled rejection: ${redact(rejectionText(reason))}`);

    if (process.env.FUZZ_VERBOSE) {
      const fmt = (m: Map<string, number>) => tally(m, (a, b) => a.localeCompare(b, 'en', { numeric: true }));
      console.log(
        `oauth fuzz seed ${SEED}: ${cases.length} requests in ${(elapsed / 1000).toFixed(1)} s\n  status: ${fmt(statuses)}\n  by category: ${fmt(byCategory)}\n  JSON errors: ${fmt(errorCodes)}\n  clients registered: ${registered.length}, metadata fetches: ${fetcher.fetched.length}, log lines: ${h.logs.length}, failures: ${failures.length}`,
      );
    }
    const header = `oauth fuzz seed ${SEED}: ${failures.length} problem(s) in ${cases.length} requests. Reproduce: ${REPRO} (FUZZ_CASE=<#> replays one case)`;
    expect(report(header, failures)).toBe('no problems');
  } finally {
    rejections.stop();
  }
}, Math.max(120_000, COUNT * 30));
