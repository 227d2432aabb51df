/**
 * What the local identity provider keeps and tells: its signing key and cookie keys (generated once into the data
 * dir, 0600, read on every start so sessions and ID tokens survive restarts), and the ID token claims of a user.
 * Apart from local-idp.ts so this can be used (and tested) without loading oidc-provider.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import type { User } from '../store/account-store.js';

const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

const IdpState = z.object({
  version: z.literal(1),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }),
  cookieKeys: z.array(z.string().min(32)).min(1),
});
type IdpState = z.infer<typeof IdpState>;

/** Generated on the first start; an unreadable file stops the start with what to do, rather than new keys silently. */
export function loadOrCreateIdpState(dataDir: string): IdpState {
  const path = join(dataDir, 'local-idp.json');
  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
    const state: IdpState = { version: 1, jwks: { keys: [jwk] }, cookieKeys: [randomBytes(32).toString('base64url')] };
    writeFileSync(path, `${JSON.stringify(state)}\n`, { mode: 0o600, flag: 'wx' });
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    json = undefined;
  }
  const parsed = IdpState.safeParse(json);
  if (!parsed.success) throw new Error(`${path} is unreadable: delete it to have new local sign-in keys generated`);
  return parsed.data;
}

/** The ID token's claims for a local user: sub is the user id; the name doubles as email when it is one. */
export function claimsFor(user: User): Record<string, unknown> {
  return {
    sub: user.userId,
    preferred_username: user.name,
    ...(EMAIL_PATTERN.test(user.name) ? { email: user.name.toLowerCase(), email_verified: true } : {}),
  };
}

