/**
 * Everything cryptographic derives from one random server secret: an HMAC key for token hashes and an
 * AES-256-GCM key for stored OpenRouter keys, separated by HKDF `info` labels so neither can stand in for
 * the other.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export interface DerivedKeys {
  tokenHmacKey: Buffer;
  dataKey: Buffer;
  /** AES-256-GCM key for short-lived sealed values the server hands out and gets back (state, cookies). */
  sealKey: Buffer;
}

export function deriveKeys(serverSecret: Buffer): DerivedKeys {
  if (serverSecret.length < 32) throw new Error('the server secret must be at least 32 bytes');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), info, 32));
  return {
    tokenHmacKey: derive('ormcp/token-hmac/v1'),
    dataKey: derive('ormcp/openrouter-key-encryption/v1'),
    sealKey: derive('ormcp/sealed-state/v1'),
  };
}

export function newServerSecret(): Buffer {
  return randomBytes(32);
}

/** Bearer credentials share one shape, `<prefix>_<16 hex id>_<43 base64url secret>`; the prefix says what it is. */
export type TokenPrefix = 'ormcp' | 'ormcr';
const TOKEN_PATTERNS: Record<TokenPrefix, RegExp> = {
  ormcp: /^ormcp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/,
  ormcr: /^ormcr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/,
};

export interface IssuedToken {
  /** The whole bearer token: shown once, never stored. */
  token: string;
  /** Public lookup id, safe to show and log. */
  tokenId: string;
  /** The secret part, for computing the stored bound MAC (`boundCredentialMac`); never stored itself. */
  secret: string;
  /** Legacy MAC of the secret part (id and secret only): what was stored before MACs were bound to claims. */
  hash: string;
}

/** `ormcp` = an MCP access token (personal or OAuth); `ormcr` = an OAuth refresh token, never accepted on /mcp. */
export function issueToken(hmacKey: Buffer, prefix: TokenPrefix = 'ormcp'): IssuedToken {
  const tokenId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { token: `${prefix}_${tokenId}_${secret}`, tokenId, secret, hash: hashTokenSecret(hmacKey, tokenId, secret) };
}

/** Split a bearer token into its public id and secret; undefined for anything not shaped like ours. */
export function parseToken(token: string, prefix: TokenPrefix = 'ormcp'): { tokenId: string; secret: string } | undefined {
  const m = TOKEN_PATTERNS[prefix].exec(token);
  return m ? { tokenId: m[1]!, secret: m[2]! } : undefined;
}

/** The id is bound into the MAC so a hash copied onto another token id does not verify. */
export function hashTokenSecret(hmacKey: Buffer, tokenId: string, secret: string): string {
  return createHmac('sha256', hmacKey).update(`${tokenId}.${secret}`).digest('base64url');
}

/** A keyed digest for values looked up by their own value (authorization codes): the table never holds the code. */
export function lookupDigest(hmacKey: Buffer, kind: string, value: string): string {
  return createHmac('sha256', hmacKey).update(`${kind}:${value}`).digest('base64url');
}

/**
 * The legacy MAC form (`hashTokenSecret`, over the id and secret only). Items written before bound MACs existed
 * are verified with it once and then upgraded (see `boundCredentialMac`).
 */
export function verifyTokenSecret(hmacKey: Buffer, tokenId: string, secret: string, storedHash: string): boolean {
  return equalDigests(hashTokenSecret(hmacKey, tokenId, secret), storedHash);
}

/** What a stored credential grants, as its item says: every field a table write could change to move or widen it. */
export type CredentialClaims = Readonly<Record<string, string | undefined>>;

/** Bound MACs carry this prefix; a legacy MAC is bare base64url (no dot), so the two forms never collide. */
const BOUND_MAC_PREFIX = 'b1.';

/**
 * The MAC of a stored credential bound to what it grants: the secret, the credential's own id and kind of record,
 * and every claim (user, kind, grant, audience, client, expiry...). Rewriting any claim in the table, or copying
 * the MAC onto another item, makes it fail. The encoding is unambiguous (JSON of sorted pairs, absent = null), so
 * no two claim sets share an input.
 */
export function boundCredentialMac(hmacKey: Buffer, record: string, id: string, secret: string, claims: CredentialClaims): string {
  const pairs = Object.keys(claims)
    .sort()
    .map((k) => [k, claims[k] ?? null]);
  const mac = createHmac('sha256', hmacKey).update(JSON.stringify(['ormcp/bound-credential/v1', record, id, secret, pairs])).digest('base64url');
  return `${BOUND_MAC_PREFIX}${mac}`;
}

export function isBoundMac(storedMac: string): boolean {
  return storedMac.startsWith(BOUND_MAC_PREFIX);
}

export function verifyBoundCredentialMac(hmacKey: Buffer, record: string, id: string, secret: string, claims: CredentialClaims, storedMac: string): boolean {
  return equalDigests(boundCredentialMac(hmacKey, record, id, secret, claims), storedMac);
}

function equalDigests(expectedDigest: string, storedDigest: string): boolean {
  const expected = Buffer.from(expectedDigest);
  const stored = Buffer.from(storedDigest);
  return expected.length === stored.length && timingSafeEqual(expected, stored);
}

/** AES-256-GCM with the user id as associated data: a ciphertext moved to another user fails to decrypt. */
export function encryptForUser(dataKey: Buffer, userId: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(userId));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

export function decryptForUser(dataKey: Buffer, userId: string, sealed: string): string {
  const [version, iv, ciphertext, tag] = sealed.split('.');
  if (version !== 'v1' || !iv || ciphertext === undefined || !tag) throw new Error('unsupported ciphertext format');
  const authTag = Buffer.from(tag, 'base64url');
  // Insist on the full 16-byte tag: GCM would otherwise accept a truncated one.
  if (authTag.length !== 16) throw new Error('invalid authentication tag');
  const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
  decipher.setAAD(Buffer.from(userId));
  decipher.setAuthTag(authTag);
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
