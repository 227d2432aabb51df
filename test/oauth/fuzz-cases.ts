/**
 * A deterministic request generator for the sign-in fuzz test (test/oauth/fuzz.test.ts): hostile requests to
 * registration, the token and revocation endpoints, /oauth/authorize, the identity provider's callback, the
 * consent page, the /app pages, the discovery documents and odd paths generally. The same seed always yields
 * the same requests; the client-metadata documents served for `https://` client ids are a function of the seed
 * and the URL alone, so concurrency does not change what a run sees.
 *
 * The generator holds real credentials (a live code, an access and a refresh token, a session and its CSRF value,
 * genuine flow cookies) so the fuzz reaches past the first checks, but it never completes a request that would
 * legitimately change something stored (redeem the code, rotate or revoke the grant, approve the consent, change
 * the account): each such combination is broken on purpose (see the `poison` comments). It never holds the code's
 * PKCE verifier at all. Fake credentials it makes up are planted only where nothing may echo them back.
 */
import { MetadataFetchError, type MetadataFetcher } from '../../lambda/oauth/client-metadata.js';
import { B64URL, Rng, junk, longString, plantKey, type Json, type JunkFlavour, type RequestCase } from '../support/fuzz-kit.js';

export type Category = 'register' | 'token' | 'revoke' | 'authorize' | 'callback' | 'consent' | 'app' | 'well-known' | 'odd';

export interface OAuthFuzzCase extends RequestCase {
  category: Category;
  /** Made-up credentials in this request, planted where no response or log may echo them. */
  planted: string[];
}

export interface FuzzClient {
  id: string;
  redirectUri: string;
}

export interface OAuthFuzzContext {
  origin: string;
  resource: string;
  /** The public client that owns the real grant and the live code. */
  publicClient: FuzzClient;
  basicClient: FuzzClient & { secret: string };
  postClient: FuzzClient & { secret: string };
  /** An unredeemed code of the public client (its verifier is not here on purpose). */
  liveCode: string;
  /** The real grant's tokens (public client). */
  accessToken: string;
  refreshToken: string;
  /** Personal MCP tokens of other users. */
  personalTokens: string[];
  /** Token ids of other users (revoking them from this session must fail). */
  foreignTokenIds: string[];
  /** The signed-in user's session cookie value and its CSRF value. */
  session: string;
  csrf: string;
  /** A genuine session cookie for a user id that does not exist. */
  ghostSession: string;
  /** Genuine flow cookies from one /oauth/authorize: the pending authorization and our login at the IdP. */
  authzCookie: string;
  loginCookie: string;
  /** The state of that login at the identity provider. */
  loginState: string;
}

const CATEGORY_WEIGHTS: (readonly [Category, number])[] = [
  ['register', 18],
  ['token', 20],
  ['revoke', 9],
  ['authorize', 17],
  ['callback', 7],
  ['consent', 9],
  ['app', 12],
  ['well-known', 4],
  ['odd', 4],
];

const UNRESERVED = `${B64URL}.~`;
const SESSION = 'ormcp_session';
const AUTHZ = 'ormcp_authz';
const LOGIN = 'ormcp_login';
const OR_CONNECT = 'ormcp_orconnect';
const NEW_TOKEN = 'ormcp_newtoken';
const OR_REPLACE = 'ormcp_orreplace';

type Pairs = [string, string][];

export function generateOAuthCases(seed: number, count: number, ctx: OAuthFuzzContext): OAuthFuzzCase[] {
  const rng = new Rng(seed);
  const cases: OAuthFuzzCase[] = [];
  for (let index = 0; index < count; index++) {
    const category = rng.weighted(CATEGORY_WEIGHTS);
    const g = new CaseGen(rng, ctx);
    cases.push({ index, category, ...g.build(category), planted: g.planted });
  }
  return cases;
}

type Built = Omit<OAuthFuzzCase, 'index' | 'category' | 'planted'>;

class CaseGen {
  readonly planted: string[] = [];
  constructor(
    private readonly rng: Rng,
    private readonly ctx: OAuthFuzzContext,
  ) {}

  build(category: Category): Built {
    switch (category) {
      case 'register':
        return this.register();
      case 'token':
        return this.token();
      case 'revoke':
        return this.revoke();
      case 'authorize':
        return this.authorize();
      case 'callback':
        return this.callback();
      case 'consent':
        return this.consent();
      case 'app':
        return this.app();
      case 'well-known':
        return this.wellKnown();
      case 'odd':
        return this.oddRequest();
    }
  }

  // ---- building blocks -------------------------------------------------------------------------

  /** A made-up OpenRouter key. */
  private plantKey(): string {
    return plantKey(this.rng, this.planted);
  }

  /** A made-up token in exactly the shape of ours (`ormcp_`/`ormcr_` + 16 hex + 43 base64url). */
  private plantToken(prefix = this.rng.pick(['ormcp', 'ormcr'])): string {
    const t = `${prefix}_${this.rng.hex(16)}_${this.rng.chars(43, B64URL)}`;
    this.planted.push(t);
    return t;
  }

  private huge(min = 300): string {
    return longString(this.rng, this.rng.pick([min, 2_000, 5_000, 20_000, 70_000].filter((x) => x >= min)), ['x', 'ab', 'é', '🔑', '%', '&=', 'A1-']);
  }

  /** Short hostile strings: markup, injection, control and odd Unicode, path tricks. */
  private hostile(): string {
    return this.rng.pick([
      '',
      ' ',
      '<script>alert(1)</script>',
      '"><img src=x onerror=alert(1)>',
      "'; DROP TABLE users; --",
      '{{7*7}}',
      '${process.env.SECRET}',
      '\u0000',
      '\u0001\u001b[31m',
      '\r\nSet-Cookie: x=1',
      '\u202eevil',
      '\ufeff',
      '\ud800',
      '😀'.repeat(5),
      'مرحبا',
      '../../../etc/passwd',
      '%2e%2e%2f',
      '%00',
      '%zz',
      '__proto__',
      'constructor',
      'toString',
      'null',
      'undefined',
      'true',
      '[]',
      '{}',
      '-1',
      '1e309',
    ]);
  }

  private readonly junkFlavour: JunkFlavour = {
    numbers: [0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 2, 42],
    hostile: () => this.hostile(),
    literals: ['1', 'true', 'none', 'code', 'authorization_code'],
    keys: ['a', 'redirect_uris', 'client_name', '__proto__', 'constructor'],
  };

  /** A value of a random JSON type, mostly small. */
  junk(): Json {
    return junk(this.rng, this.junkFlavour);
  }

  /** A redirect URI the policy allows (loopback, a known chat client) or one of every odd form. */
  private redirectUri(): string {
    const r = this.rng;
    if (r.chance(0.45)) {
      return r.pick([
        `http://127.0.0.1:${r.int(1, 65535)}/callback`,
        `http://localhost:${r.int(1024, 65535)}/${r.pick(['cb', 'oauth/callback', ''])}`,
        `http://[::1]:${r.int(1024, 65535)}/cb`,
        'http://127.0.0.1/cb?x=1',
        'https://claude.ai/api/mcp/auth_callback',
        'https://chatgpt.com/connector_platform_oauth_redirect',
        `https://chatgpt.com/connector/oauth/${r.chars(r.int(1, 20), B64URL)}`,
        'cursor://anysphere.cursor-mcp/oauth/callback',
        'https://vscode.dev/redirect',
        this.ctx.publicClient.redirectUri,
      ]);
    }
    return r.pick([
      'http://127.0.0.1:99999/cb',
      'http://127.0.0.1/cb#frag',
      'http://127.0.0.1/cb#',
      'http://user:pass@127.0.0.1/cb',
      'http://:@127.0.0.1/cb',
      'https://127.0.0.1/cb',
      'http://127.0.0.1.evil.example/cb',
      'http://localhost.evil.example/cb',
      'http://127.1/cb',
      'http://0x7f.0.0.1/cb',
      'http://2130706433/cb',
      'http://[::ffff:127.0.0.1]/cb',
      'http://127。0。0。1/cb',
      'http:\\\\127.0.0.1\\cb',
      'http:/127.0.0.1/cb',
      '//127.0.0.1/cb',
      '/cb',
      'cb',
      '',
      ' ',
      ' http://127.0.0.1/cb',
      'http://127.0.0.1/cb ',
      'http://127.0.0.1/\u0000',
      'http://127.0.0.1/%00',
      'http://127.0.0.1/\r\nLocation: https://evil.example',
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)//http://127.0.0.1/',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'urn:ietf:wg:oauth:2.0:oob',
      'com.example.app:/callback',
      'cursor://evil.example/oauth/callback',
      'cursor://anysphere.cursor-mcp/oauth/callback/../../x',
      'https://claude.ai/api/mcp/auth_callback?next=https://evil.example',
      'https://claude.ai/api/mcp/auth_callback/',
      'HTTPS://CLAUDE.AI/api/mcp/auth_callback',
      'https://claude.ai.evil.example/api/mcp/auth_callback',
      'https://evil.example/?https://claude.ai/api/mcp/auth_callback',
      'https://chatgpt.com/connector/oauth/../../evil',
      `https://chatgpt.com/connector/oauth/${'a'.repeat(129)}`,
      'https://chatgpt.com/connector/oauth/a b',
      `http://127.0.0.1/${'a'.repeat(2100)}`,
      `http://127.0.0.1:${r.int(1, 65535)}/${this.hostile()}`,
      'http://127.0.0.1/😀',
      'http://xn--80ak6aa92e.com/',
      'https://evil.example/callback',
    ]);
  }

  /** An `https://` client id: mostly fetchable-looking (the fake fetcher decides), else one the URL policy refuses. */
  private metadataClientId(): string {
    const r = this.rng;
    if (r.chance(0.75)) return `https://client-${r.int(0, 40)}.example.com/${r.pick(['oauth/client.json', 'metadata', 'c/1'])}`;
    return r.pick([
      'https://127.0.0.1/client.json',
      'https://[::1]/client.json',
      'https://169.254.169.254/latest/meta-data/',
      'https://example.com',
      'https://example.com/',
      'https://user:pass@example.com/client.json',
      'https://example.com/client.json#frag',
      'https://example.com/a/../client.json',
      'https://example.com/%2e%2e/client.json',
      'https://EXAMPLE.com/client.json',
      'https://example.com:443/client.json',
      'https://example.com/client.json?x=1',
      'https://exa mple.com/client.json',
      'https://localhost/client.json',
      'https://',
      'https:client.json',
      `https://example.com/${'a'.repeat(3000)}`,
      'http://example.com/client.json',
    ]);
  }

  private clientId(avoidPublic = false): string | undefined {
    const r = this.rng;
    const choices: (readonly [() => string | undefined, number])[] = [
      [() => this.ctx.basicClient.id, 10],
      [() => this.ctx.postClient.id, 10],
      [() => `dcr_${r.chars(22, B64URL)}`, 8],
      [() => this.metadataClientId(), 8],
      [() => this.hostile(), 5],
      [() => this.huge(2_001), 2],
      [() => undefined, 6],
    ];
    if (!avoidPublic) choices.push([() => this.ctx.publicClient.id, 30]);
    return r.weighted(choices)();
  }

  /** Our token shapes and near misses: real tokens, genuine ids with wrong secrets, made-up ones, junk. */
  private credential(): string {
    const r = this.rng;
    const real = r.pick([this.ctx.refreshToken, this.ctx.accessToken]);
    const [prefix, id] = real.split('_') as [string, string];
    return r.weighted<() => string>([
      [() => this.plantToken(), 15],
      [() => `${prefix}_${id}_${this.plantSecret()}`, 10],
      [() => `${prefix === 'ormcr' ? 'ormcp' : 'ormcr'}_${real.slice(6)}`, 4],
      [() => real.slice(0, -1), 3],
      [() => `${real}x`, 3],
      [() => real.toUpperCase(), 2],
      [() => ` ${real}`, 2],
      [() => `${prefix}_${id.toUpperCase()}_${r.chars(43, B64URL)}`, 3],
      [() => `${prefix}_${r.hex(15)}_${r.chars(43, B64URL)}`, 2],
      [() => `${prefix}_${r.hex(16)}_${r.chars(r.pick([0, 42, 44, 100]), B64URL)}`, 3],
      [() => `${prefix}__${r.chars(43, B64URL)}`, 1],
      [() => r.pick(this.ctx.personalTokens), 6],
      [() => this.plantKey(), 4],
      [() => r.chars(43, B64URL), 5],
      [() => this.ctx.liveCode, 3],
      [() => this.hostile(), 6],
      [() => this.huge(301), 3],
      [() => r.chars(r.int(1, 300), UNRESERVED + '%+/=!*()'), 3],
    ])();
  }

  private plantSecret(): string {
    const s = this.rng.chars(43, B64URL);
    this.planted.push(s);
    return s;
  }

  private verifier(): string {
    const r = this.rng;
    return r.weighted<() => string>([
      [() => r.chars(r.int(43, 128), UNRESERVED), 10],
      [() => r.chars(r.int(1, 42), UNRESERVED), 3],
      [() => r.chars(129, UNRESERVED), 2],
      [() => `${r.chars(42, UNRESERVED)}!`, 2],
      [() => `${r.chars(42, UNRESERVED)}é`, 1],
      [() => this.hostile(), 2],
      [() => this.huge(201), 1],
    ])();
  }

  private basic(id: string, secret: string, encode = true): string {
    const part = (s: string) => (encode ? encodeURIComponent(s) : s);
    return `Basic ${Buffer.from(`${part(id)}:${part(secret)}`).toString('base64')}`;
  }

  /** An Authorization header for the token/revocation endpoints; never one that authenticates the public client when `avoidPublic`. */
  private authorization(avoidPublic: boolean): string | undefined {
    const r = this.rng;
    const { basicClient, postClient, publicClient } = this.ctx;
    const ids = avoidPublic ? [basicClient.id, postClient.id] : [basicClient.id, postClient.id, publicClient.id];
    return r.weighted<() => string | undefined>([
      [() => undefined, 45],
      [() => this.basic(basicClient.id, basicClient.secret), 8],
      [() => this.basic(postClient.id, postClient.secret), 3],
      [() => this.basic(r.pick(ids), this.plantSecret()), 6],
      [() => this.basic(r.pick(ids), ''), 3],
      [() => `Basic ${Buffer.from(r.pick(ids)).toString('base64')}`, 2],
      [() => this.basic(`%zz${r.pick(ids)}`, '%', false), 2],
      [() => `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0xc3, 0x28, 0x00, 0x3a]).toString('base64')}`, 2],
      [() => r.pick(['Basic', 'Basic ', 'Basic !!!!', 'Basic ====', 'Basic a b', 'basic Og==', 'BASIC Og==', 'Basic Og==', 'Basic Og', 'Digest username="x"', 'Bearer', 'Negotiate YII=']), 6],
      [() => `Basic ${Buffer.from(this.huge(2_000)).toString('base64')}`, 1],
      [() => `${this.basic(basicClient.id, basicClient.secret)}, ${this.basic(postClient.id, postClient.secret)}`, 2],
      [() => `Bearer ${r.pick([...this.ctx.personalTokens, this.plantToken('ormcp')])}`, 4],
      [() => `Basic ${this.plantKey()}`, 1],
    ])();
  }

  /**
   * How a request to the token or revocation endpoint authenticates its client: mostly correctly for one of the
   * known clients (so the fuzz gets past client authentication), else any mix of ids, secrets and headers.
   * With `avoidPublic`, nothing in it can authenticate the public client.
   */
  private clientAuth(avoidPublic: boolean): { pairs: Pairs; header?: string; how: string } {
    const r = this.rng;
    const { publicClient, basicClient, postClient } = this.ctx;
    const how = r.weighted<string>([
      ['public', avoidPublic ? 0 : 30],
      ['basic', 15],
      ['post', 12],
      ['metadata document', 6],
      ['anything', 37],
    ]);
    switch (how) {
      case 'public':
        return { pairs: [['client_id', publicClient.id]], how };
      case 'basic':
        return { pairs: r.chance(0.3) ? [['client_id', basicClient.id]] : [], header: this.basic(basicClient.id, basicClient.secret), how };
      case 'post':
        return { pairs: [['client_id', postClient.id], ['client_secret', postClient.secret]], how };
      case 'metadata document':
        return { pairs: [['client_id', this.metadataClientId()]], how };
      default: {
        const pairs: Pairs = [];
        const clientId = this.clientId(avoidPublic);
        if (clientId !== undefined) pairs.push(['client_id', clientId]);
        if (r.chance(0.25)) pairs.push(['client_secret', r.pick([basicClient.secret, postClient.secret, this.plantSecret(), '', this.huge(201)])]);
        const header = this.authorization(avoidPublic);
        return { pairs, ...(header ? { header } : {}), how: `${clientId === undefined ? 'no id' : 'some id'}${header ? ` + ${header.split(' ')[0]} header` : ''}` };
      }
    }
  }

  private formBody(pairs: Pairs): string {
    const body = new URLSearchParams(pairs).toString();
    if (!this.rng.chance(0.08)) return body;
    // Hand-mangled encodings: empty names, bad percent escapes, stray separators.
    return this.rng.pick([`${body}&&=&%zz=%&a=%E0%A4%A`, `&${body}&`, `${body};x=1`, body.replace(/=/g, '%3D'), `${body}&${'a=1&'.repeat(5000)}`]);
  }

  private json(value: unknown): string {
    return JSON.stringify(value) ?? 'null';
  }

  /** Content type, body and stream flag for a parameter set that should go as a form. */
  private encodeForm(pairs: Pairs): { headers: Pairs; body: string | Uint8Array; stream?: boolean; how: string } {
    const r = this.rng;
    const how = r.weighted<string>([
      ['form', 70],
      ['json', 8],
      ['no-type', 3],
      ['text', 3],
      ['multipart', 2],
      ['charset', 3],
      ['huge', 4],
      ['bad-utf8', 3],
      ['stream', 3],
      ['lying-length', 1],
    ]);
    const form: Pairs = [['Content-Type', 'application/x-www-form-urlencoded']];
    switch (how) {
      case 'json':
        return { headers: [['Content-Type', 'application/json']], body: this.json(Object.fromEntries(pairs)), how };
      case 'no-type':
        return { headers: [], body: this.formBody(pairs), how };
      case 'text':
        return { headers: [['Content-Type', 'text/plain']], body: this.formBody(pairs), how };
      case 'multipart':
        return { headers: [['Content-Type', 'multipart/form-data; boundary=x']], body: `--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nrefresh_token\r\n--x--`, how };
      case 'charset':
        return { headers: [['Content-Type', r.pick(['application/x-www-form-urlencoded; charset=ISO-8859-1', 'APPLICATION/X-WWW-FORM-URLENCODED', 'application/x-www-form-urlencoded;;;'])]], body: this.formBody(pairs), how };
      case 'huge':
        return { headers: form, body: `${this.formBody(pairs)}&pad=${'a'.repeat(r.pick([16 * 1024, 100_000, 1_000_000]))}`, how };
      case 'bad-utf8': {
        const text = new TextEncoder().encode(this.formBody(pairs));
        const bad = Uint8Array.from([0x26, 0x78, 0x3d, 0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xc0, 0xaf]);
        const body = new Uint8Array(text.length + bad.length);
        body.set(text);
        body.set(bad, text.length);
        return { headers: form, body, how };
      }
      case 'stream':
        return { headers: form, body: this.formBody(pairs), stream: true, how };
      case 'lying-length':
        return { headers: [...form, ['Content-Length', r.pick(['1', '999999999', '-1', 'abc'])]], body: this.formBody(pairs), how };
      default:
        return { headers: form, body: this.formBody(pairs), how };
    }
  }

  /** Occasionally duplicate one parameter (first or last copy different) or add unknown ones. */
  private noise(pairs: Pairs): Pairs {
    const r = this.rng;
    const out = [...pairs];
    if (out.length && r.chance(0.12)) {
      const [k, v] = r.pick(out);
      out.splice(r.int(0, out.length), 0, [k, r.chance(0.5) ? v : this.hostile()]);
    }
    if (r.chance(0.1)) out.push([r.pick(['foo', '', '__proto__', 'constructor', 'client_assertion', 'access_token', 'scope']), this.hostile()]);
    return out;
  }

  /** Cookie header parts: a name=value list with genuine, garbage, cross-purpose or oversized values. */
  private cookieHeader(parts: Pairs): Pairs {
    const r = this.rng;
    if (!parts.length && !r.chance(0.1)) return [];
    const all = [...parts];
    if (r.chance(0.08)) all.push([r.pick([SESSION, AUTHZ, LOGIN, NEW_TOKEN, OR_CONNECT, '__Host-ormcp_session', 'x']), this.garbageSeal()]);
    if (r.chance(0.03)) all.push(['pad', 'p'.repeat(17_000)]);
    const sep = r.pick(['; ', ';', ' ; ']);
    const header = all.map(([k, v]) => (k ? `${k}=${v}` : v)).join(sep);
    return [['Cookie', header]];
  }

  /** Something shaped (or almost shaped) like one of our sealed values, but not one. */
  private garbageSeal(): string {
    const r = this.rng;
    const real = r.pick([this.ctx.session, this.ctx.authzCookie, this.ctx.loginCookie]);
    const flip = (s: string, i: number) => `${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
    return r.pick<() => string>([
      () => flip(real, r.int(5, real.length - 1)),
      () => real.slice(0, r.int(0, real.length - 1)),
      () => `${real}.x`,
      () => real.split('.').reverse().join('.'),
      () => `s1.v1.${r.chars(16, B64URL)}.${r.chars(40, B64URL)}.${r.chars(22, B64URL)}`,
      () => `s1.${r.pick(['__proto__', 'constructor', 'v999', ''])}.${r.chars(16, B64URL)}.${r.chars(40, B64URL)}.${r.chars(22, B64URL)}`,
      () => `s1.v1.${r.chars(16, B64URL)}.${r.chars(40, B64URL)}.`,
      () => `s1.v1...`,
      () => '....',
      () => `"${real}"`,
      () => this.hostile().replace(/[\u0000-\u001f;\u007f-\uffff]/g, ''),
      () => r.chars(9000, B64URL),
      () => this.plantToken('ormcp'),
    ])();
  }

  private randomPairs(): Pairs {
    return Array.from({ length: this.rng.int(0, 4) }, () => [this.rng.pick(['a', 'next', 'code', 'state', 'redirect_uri', 'x'.repeat(50)]), this.hostile()] as [string, string]);
  }

  // ---- registration ------------------------------------------------------------------------------

  private registration(): Record<string, Json> {
    const r = this.rng;
    const body: Record<string, Json> = { redirect_uris: Array.from({ length: r.int(1, 3) }, () => this.redirectUri()) };
    if (r.chance(0.8)) body.client_name = r.chance(0.7) ? `Fuzz ${r.hex(6)}` : this.hostile();
    if (r.chance(0.7)) body.token_endpoint_auth_method = r.pick(['none', 'none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'NONE', '']);
    if (r.chance(0.4)) body.grant_types = r.pick([['authorization_code'], ['authorization_code', 'refresh_token'], ['refresh_token'], ['client_credentials'], ['implicit', 'authorization_code'], [], ['authorization_code', 'authorization_code']]);
    if (r.chance(0.3)) body.response_types = r.pick([['code'], ['token'], ['code', 'code'], [], ['code id_token']]);
    if (r.chance(0.2)) body.client_uri = r.pick(['https://example.com', 'javascript:alert(1)', 'not a url', `https://example.com/${'a'.repeat(2100)}`]);
    if (r.chance(0.2)) body.scope = r.pick(['mcp', 'openid mcp admin', this.hostile()]);
    // Members we ignore: a client-chosen secret or key must not come back in the response.
    if (r.chance(0.2)) body[r.pick(['client_secret', 'api_key', 'registration_access_token', 'jwks'])] = r.chance(0.5) ? this.plantKey() : this.plantToken();
    // Then break up to three members: wrong types, huge values, deletions.
    const fields = ['redirect_uris', 'client_name', 'token_endpoint_auth_method', 'grant_types', 'response_types', 'client_uri', 'scope', 'software_statement', 'logo_uri', 'contacts'];
    for (let i = r.int(0, 3); i > 0; i--) {
      const f = r.pick(fields);
      switch (r.int(0, 5)) {
        case 0:
          delete body[f];
          break;
        case 1:
          body[f] = this.huge();
          break;
        case 2:
          body[f] = Array.from({ length: r.pick([11, 100, 3000]) }, () => this.redirectUri());
          break;
        case 3:
          body[f] = [this.junk(), this.junk()];
          break;
        default:
          body[f] = this.junk();
      }
    }
    return body;
  }

  private register(): Built {
    const r = this.rng;
    const path = '/oauth/register';
    const json: Pairs = [['Content-Type', 'application/json']];
    if (r.chance(0.04)) return { desc: 'register: preflight or odd method', method: r.pick(['OPTIONS', 'GET', 'PUT', 'DELETE', 'PATCH']), path, headers: [['Origin', 'https://evil.example']] };
    const kind = r.weighted<string>([
      ['object', 40],
      ['odd-redirects', 16],
      ['non-object', 6],
      ['malformed', 8],
      ['deep', 5],
      ['huge', 7],
      ['content-type', 8],
      ['bad-utf8', 5],
      ['proto', 3],
      ['stream', 2],
    ]);
    switch (kind) {
      case 'odd-redirects': {
        const body = { client_name: 'Odd redirects', token_endpoint_auth_method: 'none', redirect_uris: Array.from({ length: r.int(1, 4) }, () => this.redirectUri()) };
        return { desc: 'register: redirect URIs of odd forms', method: 'POST', path, headers: json, body: this.json(body) };
      }
      case 'non-object':
        return { desc: 'register: a non-object body', method: 'POST', path, headers: json, body: this.json(r.pick<Json>([null, 42, 'str', [], [this.registration()], true, '', { redirect_uris: null }])) };
      case 'malformed': {
        const text = this.json(this.registration());
        const body = r.pick([
          text.slice(0, r.int(0, text.length - 1)),
          text.replace(/}$/, ',}'),
          text.replace(/"/g, "'"),
          `\ufeff${text}`,
          `/* c */${text}`,
          `${text}${text}`,
          text.replace(/^\{/, '{"redirect_uris":["http://127.0.0.1/cb"],"redirect_uris":"dup",'),
          '{"redirect_uris":[NaN]}',
          '{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"\\ud800"}',
          '{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"\\u0000"}',
          '',
          '   ',
        ]);
        return { desc: 'register: malformed JSON', method: 'POST', path, headers: json, body };
      }
      case 'deep': {
        const depth = r.pick([100, 1_000, 3_000]);
        const body = r.chance(0.5) ? `{"redirect_uris":${'['.repeat(depth)}${']'.repeat(depth)}}` : `{"redirect_uris":["http://127.0.0.1/cb"],"x":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
        return { desc: `register: nesting ${depth} deep`, method: 'POST', path, headers: json, body };
      }
      case 'huge': {
        const body = r.pick<() => string>([
          () => this.json({ redirect_uris: ['http://127.0.0.1/cb'], client_name: 'x'.repeat(r.pick([16_000, 20_000, 1_000_000])) }),
          () => this.json({ redirect_uris: Array.from({ length: 5_000 }, (_, i) => `http://127.0.0.1:${i}/cb`) }),
          () => this.json({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', pad: 'p'.repeat(16 * 1024 - 90) }),
        ])();
        return { desc: `register: ${body.length}-character body`, method: 'POST', path, headers: json, body };
      }
      case 'content-type': {
        const type = r.pick(['text/plain', 'application/x-www-form-urlencoded', '', 'application/jsonp', 'application/json-patch+json', 'APPLICATION/JSON', 'application/json; charset=utf-16', 'multipart/form-data', 'application/xml']);
        const headers: Pairs = type ? [['Content-Type', type]] : [];
        const body = type === 'application/x-www-form-urlencoded' ? new URLSearchParams({ redirect_uris: 'http://127.0.0.1/cb', token_endpoint_auth_method: 'none' }).toString() : this.json(this.registration());
        return { desc: `register: content type "${type}"`, method: 'POST', path, headers, body };
      }
      case 'bad-utf8': {
        const enc = new TextEncoder();
        const head = enc.encode('{"redirect_uris":["http://127.0.0.1:5555/cb"],"token_endpoint_auth_method":"none","client_name":"');
        const bad = Uint8Array.from(r.pick([[0xff, 0xfe], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]]));
        const tail = enc.encode('"}');
        const body = new Uint8Array(head.length + bad.length + tail.length);
        body.set(head);
        body.set(bad, head.length);
        body.set(tail, head.length + bad.length);
        return { desc: 'register: invalid UTF-8 in client_name', method: 'POST', path, headers: json, body };
      }
      case 'proto': {
        const body = r.pick([
          '{"__proto__":{"redirect_uris":["http://127.0.0.1/cb"]}}',
          '{"redirect_uris":["http://127.0.0.1/cb"],"__proto__":{"token_endpoint_auth_method":"none","client_secret":"x"}}',
          '{"constructor":{"prototype":{"polluted":1}},"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}',
          '{"redirect_uris":{"0":"http://127.0.0.1/cb","length":1}}',
        ]);
        return { desc: 'register: prototype keys', method: 'POST', path, headers: json, body };
      }
      case 'stream':
        return { desc: 'register: streamed body', method: 'POST', path, headers: json, body: this.json(this.registration()), stream: true };
      default:
        return { desc: 'register: random metadata', method: 'POST', path, headers: [...json, ...(r.chance(0.1) ? ([['Origin', 'https://evil.example']] as Pairs) : [])], body: this.json(this.registration()) };
    }
  }

  // ---- token and revocation endpoints ------------------------------------------------------------

  private token(): Built {
    const r = this.rng;
    const path = '/oauth/token';
    if (r.chance(0.04)) return { desc: 'token: preflight or odd method', method: r.pick(['OPTIONS', 'GET', 'PUT', 'HEAD']), path, headers: [] };
    const { ctx } = this;
    const grantType = r.weighted<string | undefined>([
      ['authorization_code', 35],
      ['refresh_token', 35],
      [undefined, 4],
      ['client_credentials', 3],
      ['password', 2],
      ['implicit', 1],
      ['urn:ietf:params:oauth:grant-type:device_code', 1],
      ['urn:ietf:params:oauth:grant-type:token-exchange', 1],
      ['AUTHORIZATION_CODE', 1],
      ['refresh_token ', 1],
      ['', 2],
      [this.hostile(), 3],
      ['g'.repeat(101), 1],
    ]);
    const pairs: Pairs = [];
    if (grantType !== undefined) pairs.push(['grant_type', grantType]);
    // poison: the real refresh token never travels with anything that could authenticate the public client it
    // belongs to (that would rotate it); the live code's verifier is not known here at all.
    let avoidPublic = false;
    if (grantType === 'authorization_code' || r.chance(0.2)) {
      const code = r.weighted<() => string>([
        [() => ctx.liveCode, 45],
        [() => r.chars(43, B64URL), 15],
        [() => this.credential(), 25],
        [() => this.plantSecret(), 5],
        [() => this.hostile(), 10],
        [() => this.huge(201), 4],
      ])();
      if (r.chance(0.95)) pairs.push(['code', code]);
      if (r.chance(0.92)) pairs.push(['code_verifier', r.chance(0.6) ? r.chars(r.int(43, 128), UNRESERVED) : this.verifier()]);
      if (r.chance(0.92)) pairs.push(['redirect_uri', r.chance(0.7) ? ctx.publicClient.redirectUri : this.redirectUri()]);
    }
    if (grantType === 'refresh_token' || r.chance(0.2)) {
      const token = r.chance(0.35) ? ctx.refreshToken : this.credential();
      if (token === ctx.refreshToken) avoidPublic = true;
      if (r.chance(0.95)) pairs.push(['refresh_token', token]);
    }
    const client = this.clientAuth(avoidPublic);
    pairs.push(...client.pairs);
    if (r.chance(0.3)) pairs.push(['resource', r.pick([ctx.resource, ctx.resource, `${ctx.resource}/`, 'https://evil.example/mcp', ctx.origin, this.hostile(), this.huge(2_001)])]);
    if (r.chance(0.15)) pairs.push(['scope', r.pick(['mcp', 'mcp admin', '', this.hostile(), this.huge(501)])]);
    const all = this.noise(pairs);
    const auth = client.header;
    const enc = this.encodeForm(all);
    const headers: Pairs = [...enc.headers, ...(auth ? ([['Authorization', auth]] as Pairs) : []), ...(r.chance(0.05) ? ([['Origin', 'https://evil.example']] as Pairs) : [])];
    return {
      desc: `token: grant_type=${String(grantType).slice(0, 40)}, client ${client.how} (${enc.how}) ${all.map(([k]) => k).join(',')}`,
      method: 'POST',
      path,
      headers,
      body: enc.body,
      ...(enc.stream ? { stream: true } : {}),
    };
  }

  private revoke(): Built {
    const r = this.rng;
    const path = '/oauth/revoke';
    if (r.chance(0.05)) return { desc: 'revoke: preflight or odd method', method: r.pick(['OPTIONS', 'GET', 'DELETE']), path, headers: [] };
    const { ctx } = this;
    // poison: a real token of the grant is only ever presented by another client (RFC 7009: ignored).
    const token = r.weighted<() => string | undefined>([
      [() => ctx.refreshToken, 12],
      [() => ctx.accessToken, 12],
      [() => this.credential(), 40],
      [() => this.huge(301), 4],
      [() => '', 3],
      [() => undefined, 4],
    ])();
    const avoidPublic = token === ctx.refreshToken || token === ctx.accessToken;
    const pairs: Pairs = [];
    if (token !== undefined) pairs.push(['token', token]);
    if (r.chance(0.3)) pairs.push(['token_type_hint', r.pick(['refresh_token', 'access_token', 'id_token', this.hostile()])]);
    const client = this.clientAuth(avoidPublic);
    pairs.push(...client.pairs);
    const all = this.noise(pairs);
    const auth = client.header;
    const enc = this.encodeForm(all);
    return {
      desc: `revoke: client ${client.how} (${enc.how}) ${all.map(([k]) => k).join(',')}`,
      method: 'POST',
      path,
      headers: [...enc.headers, ...(auth ? ([['Authorization', auth]] as Pairs) : [])],
      body: enc.body,
      ...(enc.stream ? { stream: true } : {}),
    };
  }

  // ---- authorization endpoint --------------------------------------------------------------------

  private authorize(): Built {
    const r = this.rng;
    const { ctx } = this;
    const path = '/oauth/authorize';
    if (r.chance(0.04)) return { desc: 'authorize: odd method', method: r.pick(['POST', 'PUT', 'DELETE', 'OPTIONS']), path, headers: [['Content-Type', 'application/x-www-form-urlencoded']], ...(r.chance(0.5) ? { body: 'client_id=x' } : {}) };
    const client = r.weighted<() => { id?: string; redirect?: string }>([
      [() => ({ id: ctx.publicClient.id, redirect: ctx.publicClient.redirectUri }), 30],
      [() => ({ id: ctx.basicClient.id, redirect: ctx.basicClient.redirectUri }), 6],
      [() => ({ id: ctx.postClient.id, redirect: ctx.postClient.redirectUri }), 4],
      [() => ({ id: `dcr_${r.chars(22, B64URL)}` }), 6],
      [() => ({ id: this.metadataClientId(), redirect: `http://127.0.0.1:${r.pick([7777, 8888])}/callback` }), 32],
      [() => ({ id: this.hostile() }), 6],
      [() => ({ id: this.huge(2_000) }), 2],
      [() => ({}), 4],
    ])();
    const pairs: Pairs = [];
    const set = (k: string, v: string | undefined, keep = 0.92) => {
      if (v !== undefined && r.chance(keep)) pairs.push([k, v]);
    };
    set('response_type', r.weighted([['code', 85], ['token', 4], ['code id_token', 2], ['', 2], [this.hostile(), 3], ['CODE', 2]]));
    set('client_id', client.id, 0.97);
    const redirect = r.weighted<() => string | undefined>([
      [() => client.redirect, 50],
      [() => (client.redirect ? client.redirect.replace(/:\d+\//, `:${r.int(1, 65535)}/`) : undefined), 10],
      [() => (client.redirect ? `${client.redirect}/x` : undefined), 4],
      [() => (client.redirect ? `${client.redirect}?a=1` : undefined), 3],
      [() => (client.redirect ? `${client.redirect}#f` : undefined), 2],
      [() => (client.redirect ? client.redirect.replace('127.0.0.1', 'localhost') : undefined), 3],
      [() => this.redirectUri(), 20],
      [() => undefined, 8],
    ])();
    set('redirect_uri', redirect, 1);
    set('code_challenge', r.weighted([[r.chars(43, B64URL), 80], [r.chars(r.int(0, 42), B64URL), 5], [r.chars(44, B64URL), 3], [`${r.chars(42, B64URL)}=`, 3], [this.hostile(), 4], [this.huge(300), 2]]));
    set('code_challenge_method', r.weighted([['S256', 85], ['plain', 5], ['s256', 3], ['', 2], [this.hostile(), 3]]));
    set('state', r.weighted([[`st-${r.hex(8)}`, 60], [this.hostile(), 15], ['s'.repeat(r.pick([1000, 1001, 5000])), 5], ['', 5], [`a&b=c#d`, 3]]), 0.8);
    set('resource', r.weighted([[ctx.resource, 70], [`${ctx.resource}/`, 5], ['https://evil.example/mcp', 5], [ctx.origin, 3], [this.hostile(), 5]]), 0.7);
    set('scope', r.weighted([['mcp', 70], ['openid mcp', 5], ['admin', 5], [this.hostile(), 5]]), 0.6);
    const all = this.noise(pairs);
    // Duplicates of the parameters that must appear once, and oversized queries.
    if (r.chance(0.1)) all.push([r.pick(['client_id', 'redirect_uri', 'state', 'resource', 'code_challenge', 'response_type']), r.pick([client.id ?? 'x', client.redirect ?? 'y', this.hostile()])]);
    if (r.chance(0.03)) all.push(['pad', 'p'.repeat(r.pick([10_000, 100_000]))]);
    all.push(...(r.chance(0.05) ? this.randomPairs() : []));
    const cookies = this.cookieHeader(r.chance(0.3) ? [[SESSION, r.chance(0.6) ? ctx.session : r.chance(0.5) ? ctx.ghostSession : this.garbageSeal()]] : []);
    let query = new URLSearchParams(all).toString();
    if (r.chance(0.04)) query = r.pick([`${query}&%zz`, `${query}&&&`, `${query.replace(/&/g, ';')}`, `?${query}`, `${query}&client_id`]);
    return { desc: `authorize: client ${String(client.id).slice(0, 60)} ${all.map(([k]) => k).join(',')}`, method: r.chance(0.05) ? 'HEAD' : 'GET', path: `${path}?${query}`, headers: cookies };
  }

  // ---- the identity provider's callback ----------------------------------------------------------

  private callback(): Built {
    const r = this.rng;
    const { ctx } = this;
    const path = '/oauth/callback';
    if (r.chance(0.05)) return { desc: 'callback: odd method', method: r.pick(['POST', 'PUT']), path: `${path}?state=${ctx.loginState}&code=x`, headers: [] };
    const login = r.weighted<string | undefined>([
      [ctx.loginCookie, 35],
      [this.garbageSeal(), 20],
      [ctx.authzCookie, 5],
      [ctx.session, 5],
      [undefined, 20],
    ]);
    const q = new URLSearchParams();
    const state = r.weighted<string | undefined>([[ctx.loginState, 45], [r.chars(32, B64URL), 15], [this.hostile(), 10], ['', 5], [undefined, 10], [this.huge(), 3]]);
    if (state !== undefined) q.append('state', state);
    if (r.chance(0.08)) q.append('state', r.chance(0.5) ? ctx.loginState : 'other');
    if (r.chance(0.75)) q.append('code', r.weighted([[r.chars(r.int(10, 64), B64URL), 50], [this.plantSecret(), 15], ['', 10], [this.hostile(), 15], [this.huge(), 3]]));
    if (r.chance(0.4)) q.append('error', r.pick(['access_denied', 'server_error', 'login_required', '', this.hostile()]));
    if (r.chance(0.2)) q.append('error_description', this.hostile());
    if (r.chance(0.1)) q.append('iss', r.pick(['https://evil.example', ctx.origin]));
    // poison: our genuine login with its own state and a code would go to the identity provider, which
    // refuses the made-up code with a 502 page by design; such requests go without the code.
    if (login === ctx.loginCookie && q.getAll('state').includes(ctx.loginState) && q.has('code') && !q.get('error')) q.delete('code');
    const parts: Pairs = [];
    if (login !== undefined) parts.push([LOGIN, login]);
    if (r.chance(0.5)) parts.push([AUTHZ, r.chance(0.7) ? ctx.authzCookie : this.garbageSeal()]);
    if (r.chance(0.2)) parts.push([SESSION, r.chance(0.5) ? ctx.session : this.garbageSeal()]);
    const shuffled = r.chance(0.2) ? parts.reverse() : parts;
    return {
      desc: `callback: login cookie ${login === ctx.loginCookie ? 'genuine' : login === undefined ? 'absent' : 'forged'}, ${[...q.keys()].join(',')}`,
      method: 'GET',
      path: `${path}?${q}`,
      headers: this.cookieHeader(shuffled),
    };
  }

  // ---- consent -----------------------------------------------------------------------------------

  private origin(): Pairs {
    const o = this.rng.weighted<string | undefined>([
      [undefined, 45],
      [this.ctx.origin, 35],
      ['https://evil.example', 8],
      ['null', 4],
      [`${this.ctx.origin}:80`, 2],
      ['http://127.0.0.1.evil.example', 2],
      ['http://localhost', 2],
    ]);
    return o === undefined ? [] : [['Origin', o]];
  }

  private csrfValues(): string[] {
    const r = this.rng;
    const { csrf } = this.ctx;
    return r.weighted<() => string[]>([
      [() => [csrf], 40],
      [() => [this.plantSecret()], 12],
      [() => [], 10],
      [() => [''], 5],
      [() => [`${csrf} `], 3],
      [() => [csrf.slice(0, -1)], 3],
      [() => [csrf.toUpperCase()], 2],
      [() => [this.plantSecret(), csrf], 4],
      [() => [csrf, this.plantSecret()], 4],
      [() => [this.huge()], 2],
      [() => [this.hostile()], 4],
    ])();
  }

  private sessionCookie(): string | undefined {
    const { ctx } = this;
    return this.rng.weighted<string | undefined>([
      [ctx.session, 55],
      [ctx.ghostSession, 8],
      [this.garbageSeal(), 15],
      [ctx.authzCookie, 4],
      [undefined, 18],
    ]);
  }

  private consent(): Built {
    const r = this.rng;
    const { ctx } = this;
    const path = '/oauth/consent';
    const method = r.weighted([['POST', 60], ['GET', 30], ['HEAD', 3], ['PUT', 3], ['DELETE', 2], ['PATCH', 2]]);
    const session = this.sessionCookie();
    const authz = r.weighted<string | undefined>([[ctx.authzCookie, 55], [this.garbageSeal(), 15], [ctx.loginCookie, 5], [undefined, 25]]);
    const parts: Pairs = [];
    if (session !== undefined) parts.push([SESSION, session]);
    if (authz !== undefined) parts.push([AUTHZ, authz]);
    if (r.chance(0.05)) parts.push([SESSION, this.garbageSeal()]);
    const cookies = this.cookieHeader(r.chance(0.15) ? parts.reverse() : parts);
    if (method === 'GET' || method === 'HEAD') {
      return { desc: `consent ${method}: session ${this.which(session)}, authz ${this.which(authz)}`, method, path: r.chance(0.2) ? `${path}?${new URLSearchParams(this.randomPairs())}` : path, headers: cookies };
    }
    const csrf = this.csrfValues();
    // poison: with the genuine session, pending request and CSRF value, the decision is never "approve"
    // (that would issue a code); a refusal, a junk decision or none at all are all fair game.
    const allGenuine = session === ctx.session && authz === ctx.authzCookie && csrf.includes(ctx.csrf);
    const decisions = r.weighted<string[]>([
      [['approve'], 40],
      [['deny'], 20],
      [[], 10],
      [[this.hostile()], 10],
      [['deny', 'approve'], 5],
      [['approve', 'deny'], 5],
      [['APPROVE'], 3],
    ]).filter((d) => !(allGenuine && d === 'approve'));
    const pairs: Pairs = this.noise([...csrf.map((c): [string, string] => ['csrf', c]), ...decisions.map((d): [string, string] => ['decision', d])]);
    const enc = this.encodeForm(pairs);
    return {
      desc: `consent ${method}: session ${this.which(session)}, authz ${this.which(authz)}, csrf ${csrf.includes(ctx.csrf) ? 'genuine' : 'other'}, decision ${decisions.join('+') || 'none'} (${enc.how})`,
      method,
      path,
      headers: [...enc.headers, ...cookies, ...this.origin()],
      body: enc.body,
      ...(enc.stream ? { stream: true } : {}),
    };
  }

  private which(cookie: string | undefined): string {
    const { ctx } = this;
    if (cookie === undefined) return 'absent';
    if (cookie === ctx.session) return 'genuine session';
    if (cookie === ctx.ghostSession) return 'ghost session';
    if (cookie === ctx.authzCookie) return 'genuine authz';
    if (cookie === ctx.loginCookie) return 'genuine login';
    return 'forged';
  }

  // ---- /app pages --------------------------------------------------------------------------------

  private app(): Built {
    const r = this.rng;
    const { ctx } = this;
    const session = this.sessionCookie();
    const parts: Pairs = session === undefined ? [] : [[SESSION, session]];
    if (r.chance(0.15)) parts.push([r.pick([NEW_TOKEN, OR_CONNECT, OR_REPLACE]), r.chance(0.5) ? this.garbageSeal() : r.pick([ctx.session, ctx.authzCookie, ctx.loginCookie])]);
    if (r.chance(0.05)) parts.push([`__Host-${SESSION}`, r.chance(0.5) ? ctx.session : this.garbageSeal()]);
    const cookies = this.cookieHeader(parts);
    if (r.chance(0.4)) {
      const path = r.pick([
        '/',
        '/app',
        '/app/',
        '/app/login',
        `/app/openrouter/connect?${new URLSearchParams({ next: r.pick(['/oauth/consent', '/app', 'https://evil.example', '//evil.example', this.hostile()]) })}`,
        `/app/openrouter/callback?${new URLSearchParams(r.chance(0.7) ? [['code', r.chance(0.5) ? this.plantSecret() : this.hostile()]] : [])}`,
        '/app/openrouter/callback?code=' + 'c'.repeat(501),
        `/app/openrouter/callback/${new URLSearchParams([['n', r.pick([r.hex(32), '', this.hostile()])]]).toString().slice(2)}?${new URLSearchParams([['code', this.plantSecret()]])}`,
        '/app/openrouter/confirm',
        '/app/tokens/new',
        `/app?${new URLSearchParams({ done: r.pick(['key-connected', '__proto__', 'constructor', 'toString', '<script>', this.hostile()]) })}`,
        '/app/nope',
        '/app/key',
        '/app/static/app.css',
        '/app/static/app.js',
        `/app/static/${r.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '..%2fapp.css', 'app.css.map', 'APP.CSS', '', '%00', 'app.js/'])}`,
      ]);
      const method = r.weighted([['GET', 80], ['HEAD', 8], ['PUT', 4], ['DELETE', 4], ['OPTIONS', 4]]);
      return { desc: `app ${method} ${path.slice(0, 80)}: session ${this.which(session)}`, method, path, headers: [...cookies, ...(r.chance(0.1) ? this.origin() : [])] };
    }
    const csrf = this.csrfValues();
    // poison: with the genuine session and CSRF value, only actions that must refuse or change nothing stored:
    // a key OpenRouter rejects, an expiry nobody offers, tokens and apps that are not this user's, sign-out.
    const genuine = session === ctx.session && csrf.includes(ctx.csrf);
    const routes: (readonly [string, number])[] = [
      ['/app/key', 20],
      ['/app/tokens', 20],
      ['/app/tokens/revoke', 12],
      ['/app/grants/revoke', 10],
      ['/app/key/provision', 5],
      ['/app/openrouter/connect', 4],
      ['/app/openrouter/confirm', 4],
      ['/app/logout', 5],
      ['/app/nope', 4],
      ['/app', 3],
      ['/', 2],
      ['/app/login', 2],
    ];
    if (!genuine) routes.push(['/app/key/remove', 10]);
    const path = r.weighted(routes);
    const pairs: Pairs = csrf.map((c) => ['csrf', c]);
    switch (path) {
      case '/app/key':
        pairs.push(['key', r.weighted<() => string>([[() => this.plantKey(), 40], [() => ` ${this.plantKey()} `, 5], [() => 'short', 10], [() => '', 5], [() => `${this.plantKey()} x`, 5], [() => this.huge(513), 5], [() => this.hostile(), 10]])()]);
        if (r.chance(0.5)) pairs.push(['next', r.pick(['/oauth/consent', '/app', 'https://evil.example', '//evil.example', this.hostile()])]);
        break;
      case '/app/tokens':
        pairs.push(['expires', r.pick(['1d', '', '30', 'forever', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', this.hostile()])]);
        if (r.chance(0.7)) pairs.push(['label', r.pick(['fuzz', '', this.hostile(), this.huge()])]);
        break;
      case '/app/tokens/revoke':
        pairs.push(['token_id', r.pick([...ctx.foreignTokenIds, r.hex(16), r.hex(15), `${r.hex(15)}G`, this.hostile(), ''])]);
        break;
      case '/app/openrouter/confirm':
        // No key is waiting for confirmation in this run, so even "replace" with the genuine CSRF value changes nothing.
        pairs.push(['decision', r.pick(['replace', 'keep', 'REPLACE', '', this.hostile()])]);
        break;
      case '/app/grants/revoke':
        pairs.push(['grant_id', r.pick([`${r.hex(8)}-${r.hex(4)}-${r.hex(4)}-${r.hex(4)}-${r.hex(12)}`, '-'.repeat(36), r.hex(36), this.hostile(), ''])]);
        break;
      default:
        if (r.chance(0.3)) pairs.push(['next', this.hostile()]);
    }
    const enc = this.encodeForm(this.noise(pairs));
    const method = r.weighted([['POST', 90], ['PUT', 4], ['PATCH', 3], ['DELETE', 3]]);
    return {
      desc: `app ${method} ${path}: session ${this.which(session)}, csrf ${csrf.includes(ctx.csrf) ? 'genuine' : 'other'} (${enc.how})`,
      method,
      path,
      headers: [...enc.headers, ...cookies, ...this.origin()],
      body: enc.body,
      ...(enc.stream ? { stream: true } : {}),
    };
  }

  // ---- discovery and odd paths -------------------------------------------------------------------

  private wellKnown(): Built {
    const r = this.rng;
    const path = r.pick([
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource/other',
      '/.well-known/oauth-authorization-server',
      '/.well-known/oauth-authorization-server/mcp',
      '/.well-known/openid-configuration',
      '/.well-known/openid-configuration/',
      '/.well-known/',
      '/.well-known/security.txt',
      '/mcp/.well-known/oauth-protected-resource',
    ]);
    const method = r.weighted([['GET', 40], ['HEAD', 10], ['POST', 15], ['PUT', 8], ['DELETE', 8], ['PATCH', 5], ['OPTIONS', 8], ['PROPFIND', 3], ['FOO', 3]]);
    const withBody = method !== 'GET' && method !== 'HEAD' && r.chance(0.6);
    const query = r.chance(0.2) ? `?${new URLSearchParams(this.randomPairs())}` : '';
    return {
      desc: `well-known ${method} ${path}`,
      method,
      path: `${path}${query}`,
      headers: withBody ? [['Content-Type', r.pick(['application/json', 'text/plain'])]] : [],
      ...(withBody ? { body: this.json(this.junk()) } : {}),
    };
  }

  private oddRequest(): Built {
    const r = this.rng;
    const path = r.pick([
      '/oauth',
      '/oauth/',
      '/oauth/tokens',
      '/oauth/token/extra',
      '/OAUTH/TOKEN',
      '/oauth/%74oken',
      '/oauth//token',
      '//oauth/token',
      '/app/../oauth/token',
      '/oauth/./register',
      '/.%2e/oauth/token',
      '/oauth/token;x=1',
      '/oauth/token%00',
      '/app;jsessionid=1',
      '/app/static/',
      '/index.html',
      '/favicon.ico',
      '/%00',
      '/%zz',
      `/${'a'.repeat(5_000)}`,
      '/mcp/extra',
      '/app/static/%2e%2e%2fapp.css',
      '/oauth/authorize/',
      '/oauth/callback/x',
      `/oauth/${r.pick(['__proto__', 'constructor', 'toString'])}`,
      `/app/${r.pick(['__proto__', 'constructor', 'toString'])}`,
    ]);
    const method = r.weighted([['GET', 30], ['POST', 25], ['HEAD', 5], ['PUT', 8], ['DELETE', 8], ['PATCH', 6], ['OPTIONS', 8], ['PROPFIND', 3], ['M-SEARCH', 2], ['patch', 2], ['FOO', 3]]);
    const withBody = method !== 'GET' && method !== 'HEAD' && r.chance(0.6);
    const headers: Pairs = [
      ...(withBody ? ([['Content-Type', r.pick(['application/json', 'application/x-www-form-urlencoded', 'text/plain'])]] as Pairs) : []),
      ...(r.chance(0.3) ? ([[r.pick(['X-Forwarded-Host', 'X-Forwarded-Proto', 'Forwarded', 'X-Original-URL', 'X-HTTP-Method-Override']), r.pick(['evil.example', 'https', 'for=1;host=evil.example', '/oauth/token', 'DELETE'])]] as Pairs) : []),
      ...(r.chance(0.1) ? ([['X-Pad', 'h'.repeat(r.pick([8_000, 60_000]))]] as Pairs) : []),
    ];
    return { desc: `odd ${method} ${path.slice(0, 60)}`, method, path, headers, ...(withBody ? { body: r.chance(0.5) ? this.json(this.junk()) : 'grant_type=refresh_token&refresh_token=x' } : {}) };
  }
}

// ---- the client-metadata documents ---------------------------------------------------------------

/** FNV-1a: a stable 32-bit hash of a URL, so each URL gets its own seeded stream. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A metadata fetcher that never touches the network: per URL (and seed), a valid document, one broken in one
 * member, junk of any JSON type, an oversized document, a fetch error, or a throw of something odd. It records
 * every URL it is asked for.
 */
export function junkMetadataFetcher(seed: number): MetadataFetcher & { fetched: string[] } {
  const fetched: string[] = [];
  return {
    fetched,
    async fetchJson(url: URL): Promise<unknown> {
      fetched.push(url.href);
      const r = new Rng((seed ^ hash(url.href)) >>> 0);
      const g = new CaseGen(r, undefined as unknown as OAuthFuzzContext);
      if (r.chance(0.3)) await new Promise((resolve) => setTimeout(resolve, r.int(0, 20)));
      const valid = () => ({
        client_id: url.href,
        client_name: r.pick(['Doc Client', '<b>Doc</b> "Client"', 'Ünïcödé ✓', 'x'.repeat(100), ' padded ']),
        redirect_uris: r.pick([['http://127.0.0.1:7777/callback'], ['http://127.0.0.1:8888/callback', 'https://claude.ai/api/mcp/auth_callback'], ['cursor://anysphere.cursor-mcp/oauth/callback']]),
        ...(r.chance(0.5) ? { token_endpoint_auth_method: r.pick(['none', 'private_key_jwt']) } : {}),
        ...(r.chance(0.2) ? { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] } : {}),
      });
      switch (r.weighted<string>([['valid', 30], ['broken', 25], ['junk', 12], ['huge', 5], ['fetch-error', 14], ['throw', 14]])) {
        case 'valid':
          return valid();
        case 'broken': {
          const doc: Record<string, unknown> = valid();
          const field = r.pick(['client_id', 'client_name', 'redirect_uris', 'token_endpoint_auth_method', 'grant_types']);
          doc[field] = r.pick<unknown>([
            undefined,
            null,
            42,
            '',
            `${url.href}/other`,
            url.href.toUpperCase(),
            'client_secret_basic',
            '\u0000name',
            'n'.repeat(101),
            [],
            ['https://evil.example/cb'],
            ['http://127.0.0.1/cb#f'],
            Array.from({ length: 11 }, (_, i) => `http://127.0.0.1:${i + 1}/cb`),
            { 0: 'http://127.0.0.1/cb' },
            [null],
          ]);
          return doc;
        }
        case 'junk':
          return g.junk();
        case 'huge':
          return r.chance(0.5) ? { ...valid(), redirect_uris: Array.from({ length: 10_000 }, (_, i) => `http://127.0.0.1:${i}/cb`) } : { ...valid(), pad: 'p'.repeat(1_000_000) };
        case 'fetch-error':
          throw new MetadataFetchError(r.pick(['HTTP 404', 'HTTP 500', 'redirects are not followed', 'the document is not JSON', 'the fetch timed out', 'the host resolves to a non-public address']));
        default: {
          const thrown = r.pick<unknown>([new Error('socket hang up'), new TypeError('fetch failed'), 'a string', undefined, null, { code: 'ECONNRESET' }, Object.assign(new Error('x'), { name: 'MetadataFetchError' })]);
          throw thrown;
        }
      }
    },
  };
}
