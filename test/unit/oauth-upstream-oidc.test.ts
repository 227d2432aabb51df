/**
 * Our sign-in at the identity provider: the ID token must be signed by the provider's key, for our client, from
 * the configured issuer, fresh, and carry our nonce and a subject; anything else is an IdentityError. The provider
 * is an in-memory fetch (discovery, token endpoint, JWKS), so every field can be made wrong on purpose.
 */
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { IdentityError, OidcProvider } from '../../lambda/oauth/upstream-oidc.js';

const ISSUER = 'https://idp.example/pool';
const CLIENT_ID = 'app-client';
const NONCE = 'nonce-1';
let key: CryptoKey;
let otherKey: CryptoKey;
let jwks: { keys: unknown[] };

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  otherKey = (await generateKeyPair('RS256', { extractable: true })).privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] };
});

async function idToken(claims: JWTPayload = {}, options: { signWith?: CryptoKey; iatSecondsAgo?: number; expiresIn?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ nonce: NONCE, email: 'eve@example.com', email_verified: true, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer((claims.iss as string | undefined) ?? ISSUER)
    .setAudience((claims.aud as string | undefined) ?? CLIENT_ID)
    .setSubject('sub-eve')
    .setIssuedAt(now - (options.iatSecondsAgo ?? 0))
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(options.signWith ?? key);
}

interface Idp {
  fetch: typeof fetch;
  tokenRequests: URLSearchParams[];
}

function idp(answer: { token?: () => Promise<Response>; discovery?: Record<string, unknown> }): Idp {
  const tokenRequests: URLSearchParams[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url === `${ISSUER}/.well-known/openid-configuration`) {
      return Response.json({ issuer: ISSUER, authorization_endpoint: `${ISSUER}/authorize`, token_endpoint: `${ISSUER}/token`, jwks_uri: `${ISSUER}/jwks`, ...answer.discovery });
    }
    if (url === `${ISSUER}/jwks`) return Response.json(jwks);
    if (url === `${ISSUER}/token`) {
      tokenRequests.push(new URLSearchParams(String(init?.body)));
      return answer.token ? answer.token() : Response.json({ id_token: await idToken() });
    }
    return new Response('not found', { status: 404 });
  }) as typeof fetch;
  return { fetch: fetchImpl, tokenRequests };
}

function exchange(provider: Idp) {
  return new OidcProvider({ issuer: ISSUER, clientId: CLIENT_ID, fetch: provider.fetch }).exchange({ code: 'code-1', redirectUri: 'https://mcp.example/oauth/callback', verifier: 'v'.repeat(43), nonce: NONCE });
}

async function refusal(provider: Idp): Promise<string> {
  const err = await exchange(provider).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IdentityError);
  return (err as Error).message;
}

test('a good ID token gives the verified identity; the code exchange carries PKCE and our redirect URI', async () => {
  const provider = idp({});
  expect(await exchange(provider)).toEqual({ issuer: ISSUER, subject: 'sub-eve', email: 'eve@example.com', emailVerified: true, groupClaims: { federated: false } });
  expect(Object.fromEntries(provider.tokenRequests[0]!)).toEqual({
    grant_type: 'authorization_code',
    code: 'code-1',
    redirect_uri: 'https://mcp.example/oauth/callback',
    code_verifier: 'v'.repeat(43),
    client_id: CLIENT_ID,
  });
});

test.each<[string, () => Promise<string>]>([
  ['signed by another key', () => idToken({}, { signWith: otherKey })],
  ['for another client', () => idToken({ aud: 'someone-else' })],
  ['from another issuer', () => idToken({ iss: 'https://evil.example' })],
  ['too old (issued 20 minutes ago)', () => idToken({}, { iatSecondsAgo: 20 * 60 })],
  ['expired (a minute ago, though issued just now)', () => idToken({}, { expiresIn: -60 })],
  ['unsigned (alg none)', async () => {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    return `${enc({ alg: 'none' })}.${enc({ iss: ISSUER, aud: CLIENT_ID, sub: 'sub-eve', nonce: NONCE, iat: now, exp: now + 600 })}.`;
  }],
])('an ID token %s did not verify', async (_what, make) => {
  const token = await make();
  expect(await refusal(idp({ token: async () => Response.json({ id_token: token }) }))).toMatch(/did not verify/);
});

test('an ID token with another nonce, or none, is refused', async () => {
  const other = await idToken({ nonce: 'nonce-2' });
  expect(await refusal(idp({ token: async () => Response.json({ id_token: other }) }))).toMatch(/nonce/);
  const none = await idToken({ nonce: undefined });
  expect(await refusal(idp({ token: async () => Response.json({ id_token: none }) }))).toMatch(/nonce/);
});

test('an ID token without a subject is refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ nonce: NONCE }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(CLIENT_ID).setIssuedAt(now).setExpirationTime(now + 600).sign(key);
  expect(await refusal(idp({ token: async () => Response.json({ id_token: token }) }))).toMatch(/subject/);
});

test('a refused exchange or an answer without an ID token is refused', async () => {
  expect(await refusal(idp({ token: async () => Response.json({ error: 'invalid_grant' }, { status: 400 }) }))).toMatch(/refused the code exchange \(HTTP 400\)/);
  expect(await refusal(idp({ token: async () => Response.json({ access_token: 'x' }) }))).toMatch(/no ID token/);
  expect(await refusal(idp({ token: async () => new Response('<html>') }))).toMatch(/no ID token/);
});

test('a discovery document naming another issuer is refused', async () => {
  expect(await refusal(idp({ discovery: { issuer: 'https://evil.example/pool' } }))).toMatch(/issuer does not match/);
});

test('the groups claims for the operator check: Cognito groups, and the mapped claim with whether the user is federated', async () => {
  const claims = { 'cognito:groups': ['ormcp-admins', 7], 'custom:groups': '[staff, ormcp-admins]', identities: [{ providerName: 'Corp' }] };
  const provider = idp({ token: async () => Response.json({ id_token: await idToken(claims) }) });
  const exchanged = await new OidcProvider({ issuer: ISSUER, clientId: CLIENT_ID, fetch: provider.fetch, groupsClaim: 'custom:groups' }).exchange({
    code: 'code-1',
    redirectUri: 'https://mcp.example/oauth/callback',
    verifier: 'v'.repeat(43),
    nonce: NONCE,
  });
  expect(exchanged.groupClaims).toEqual({ groups: ['ormcp-admins'], federated: true, mapped: '[staff, ormcp-admins]' });
  // Without a configured claim, a custom attribute is not read at all.
  const plain = idp({ token: async () => Response.json({ id_token: await idToken({ 'custom:groups': 'ormcp-admins' }) }) });
  expect((await exchange(plain)).groupClaims).toEqual({ federated: false });
});
