/**
 * Stand-in for Cognito's OIDC endpoints: oauth2-mock-server on 127.0.0.1 in its own process (it is an ES
 * module whose checks do not survive jest's module realm). Its /authorize signs the user in at once; which
 * user is chosen per sign-in by `login_sub`, `login_email` and `login_email_verified` query parameters that the
 * test adds to the authorize URL, remembered by code until the token exchange.
 * Prints one JSON line {"issuer": "..."} when ready.
 */
import { OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(0, '127.0.0.1');
const { port } = server.address();
server.issuer.url = `http://127.0.0.1:${port}`;

const identities = new Map();
const pendingLogin = { sub: 'default-user', email: 'default@example.com', email_verified: true };

server.service.on('beforeAuthorizeRedirect', (authorizeRedirectUri, req) => {
  const q = new URL(req.url, server.issuer.url).searchParams;
  const code = authorizeRedirectUri.url.searchParams.get('code');
  identities.set(code, {
    sub: q.get('login_sub') ?? pendingLogin.sub,
    email: q.get('login_email') ?? pendingLogin.email,
    email_verified: (q.get('login_email_verified') ?? 'true') === 'true',
    nonce: q.get('nonce') ?? undefined,
    // `login_groups=a,b` → the Cognito groups claim; `login_idp_groups=[a, b]` → a federated user's mapped groups.
    groups: q.get('login_groups') ? q.get('login_groups').split(',') : undefined,
    idpGroups: q.get('login_idp_groups') ?? undefined,
  });
});

server.service.on('beforeTokenSigning', (token, req) => {
  const code = req.body?.code;
  const who = code ? identities.get(code) : undefined;
  if (!who) return;
  token.payload.sub = who.sub;
  token.payload.email = who.email;
  token.payload.email_verified = who.email_verified;
  if (who.nonce) token.payload.nonce = who.nonce;
  if (who.groups) token.payload['cognito:groups'] = who.groups;
  if (who.idpGroups !== undefined) {
    token.payload['custom:groups'] = who.idpGroups;
    token.payload.identities = [{ providerName: 'Corp', providerType: 'SAML', userId: who.sub }];
  }
});

process.stdout.write(`${JSON.stringify({ issuer: server.issuer.url })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void server.stop().then(() => process.exit(0)));
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
