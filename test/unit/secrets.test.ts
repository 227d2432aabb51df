import {
  boundCredentialMac,
  decryptForUser,
  deriveKeys,
  encryptForUser,
  hashTokenSecret,
  issueToken,
  newServerSecret,
  parseToken,
  verifyBoundCredentialMac,
  verifyTokenSecret,
} from '../../lambda/crypto/secrets.js';

const SECRET_A = Buffer.alloc(32, 0xa1);
const SECRET_B = Buffer.alloc(32, 0xb2);
const keysA = deriveKeys(SECRET_A);
const keysB = deriveKeys(SECRET_B);

describe('deriveKeys', () => {
  test('rejects server secrets shorter than 32 bytes', () => {
    expect(() => deriveKeys(Buffer.alloc(31))).toThrow(/at least 32 bytes/);
    expect(() => deriveKeys(Buffer.alloc(0))).toThrow(/at least 32 bytes/);
    expect(() => deriveKeys(Buffer.alloc(32))).not.toThrow();
    expect(() => deriveKeys(Buffer.alloc(64))).not.toThrow();
  });

  test('gives 32-byte keys that differ per purpose and per secret, deterministically', () => {
    expect(keysA.tokenHmacKey).toHaveLength(32);
    expect(keysA.dataKey).toHaveLength(32);
    expect(keysA.tokenHmacKey.equals(keysA.dataKey)).toBe(false);
    expect(keysA.tokenHmacKey.equals(keysB.tokenHmacKey)).toBe(false);
    expect(keysA.dataKey.equals(keysB.dataKey)).toBe(false);
    const again = deriveKeys(Buffer.from(SECRET_A));
    expect(again.tokenHmacKey.equals(keysA.tokenHmacKey)).toBe(true);
    expect(again.dataKey.equals(keysA.dataKey)).toBe(true);
    // Neither derived key is the raw secret.
    expect(keysA.dataKey.equals(SECRET_A)).toBe(false);
  });

  test('newServerSecret is 32 random bytes usable with deriveKeys', () => {
    const s1 = newServerSecret();
    const s2 = newServerSecret();
    expect(s1).toHaveLength(32);
    expect(s1.equals(s2)).toBe(false);
    expect(() => deriveKeys(s1)).not.toThrow();
  });
});

describe('tokens', () => {
  test('issueToken format is ormcp_<16 hex>_<43 base64url> and the parts agree', () => {
    const t = issueToken(keysA.tokenHmacKey);
    expect(t.token).toMatch(/^ormcp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(t.tokenId).toMatch(/^[0-9a-f]{16}$/);
    expect(t.token.startsWith(`ormcp_${t.tokenId}_`)).toBe(true);
    expect(t.hash).not.toContain(t.token.slice(-43));
  });

  test('issued tokens are unique', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => issueToken(keysA.tokenHmacKey).token));
    expect(tokens.size).toBe(50);
  });

  test('parseToken accepts an issued token and returns its id and secret', () => {
    const t = issueToken(keysA.tokenHmacKey);
    const parsed = parseToken(t.token);
    expect(parsed).toEqual({ tokenId: t.tokenId, secret: t.token.slice(`ormcp_${t.tokenId}_`.length) });
    expect(parsed!.secret).toHaveLength(43);
  });

  test('parseToken accepts a secret that itself contains "_" and "-"', () => {
    const token = `ormcp_0123456789abcdef_${'_-'.repeat(21)}A`;
    expect(parseToken(token)).toEqual({ tokenId: '0123456789abcdef', secret: `${'_-'.repeat(21)}A` });
  });

  test('parseToken rejects variants', () => {
    const id = '0123456789abcdef';
    const secret = 'A'.repeat(43);
    expect(parseToken(`ormcp_${id}_${secret}`)).toBeDefined(); // control
    const bad = [
      `ormc_${id}_${secret}`, // wrong prefix
      `ORMCP_${id}_${secret}`, // prefix case
      `sk-or-v1-${id}_${secret}`, // someone else's key
      `ormcp_${id.slice(1)}_${secret}`, // 15-char id
      `ormcp_${id}0_${secret}`, // 17-char id
      `ormcp_0123456789ABCDEF_${secret}`, // uppercase hex
      `ormcp_0123456789abcdeg_${secret}`, // non-hex id
      `ormcp_${id}_${secret.slice(1)}`, // 42-char secret
      `ormcp_${id}_${secret}A`, // 44-char secret
      `ormcp_${id}_${secret.slice(1)}=`, // padding
      `ormcp_${id}_${secret.slice(1)}+`, // standard base64 char
      `ormcp_${id}-${secret}`, // wrong separator
      `ormcp_${id}${secret}`, // no separator
      ` ormcp_${id}_${secret}`, // leading space
      `ormcp_${id}_${secret} `, // trailing space
      `ormcp_${id}_${secret}\n`, // trailing newline
      `Bearer ormcp_${id}_${secret}`, // header value, not token
      `ormcp_${id}_${secret.slice(0, 20)} ${secret.slice(20, 42)}`, // inner whitespace
      '',
    ];
    for (const token of bad) expect([token, parseToken(token)]).toEqual([token, undefined]);
  });

  test('verifyTokenSecret accepts the right secret', () => {
    const t = issueToken(keysA.tokenHmacKey);
    const { tokenId, secret } = parseToken(t.token)!;
    expect(verifyTokenSecret(keysA.tokenHmacKey, tokenId, secret, t.hash)).toBe(true);
  });

  test('verifyTokenSecret rejects a wrong secret', () => {
    const t = issueToken(keysA.tokenHmacKey);
    const { tokenId, secret } = parseToken(t.token)!;
    const flipped = (secret[0] === 'A' ? 'B' : 'A') + secret.slice(1);
    expect(verifyTokenSecret(keysA.tokenHmacKey, tokenId, flipped, t.hash)).toBe(false);
    expect(verifyTokenSecret(keysA.tokenHmacKey, tokenId, '', t.hash)).toBe(false);
  });

  test('verifyTokenSecret rejects a hash made under a different server secret', () => {
    const t = issueToken(keysB.tokenHmacKey);
    const { tokenId, secret } = parseToken(t.token)!;
    expect(verifyTokenSecret(keysA.tokenHmacKey, tokenId, secret, t.hash)).toBe(false);
  });

  test('verifyTokenSecret rejects a hash moved to another token id', () => {
    const t = issueToken(keysA.tokenHmacKey);
    const { secret } = parseToken(t.token)!;
    const otherId = t.tokenId === 'ffffffffffffffff' ? '0000000000000000' : 'ffffffffffffffff';
    expect(verifyTokenSecret(keysA.tokenHmacKey, otherId, secret, t.hash)).toBe(false);
    // …and the id really is bound into the MAC.
    expect(hashTokenSecret(keysA.tokenHmacKey, otherId, secret)).not.toBe(t.hash);
  });

  test('verifyTokenSecret rejects empty or truncated stored hashes without throwing', () => {
    const t = issueToken(keysA.tokenHmacKey);
    const { tokenId, secret } = parseToken(t.token)!;
    expect(verifyTokenSecret(keysA.tokenHmacKey, tokenId, secret, '')).toBe(false);
    expect(verifyTokenSecret(keysA.tokenHmacKey, tokenId, secret, t.hash.slice(0, -1))).toBe(false);
    expect(verifyTokenSecret(keysA.tokenHmacKey, tokenId, secret, `${t.hash}x`)).toBe(false);
  });
});

describe('encryptForUser / decryptForUser', () => {
  const KEY = 'sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

  test('round-trips, including non-ASCII text', () => {
    const sealed = encryptForUser(keysA.dataKey, 'user-1', KEY);
    expect(decryptForUser(keysA.dataKey, 'user-1', sealed)).toBe(KEY);
    const text = 'clé 🔑 ключ';
    expect(decryptForUser(keysA.dataKey, 'user-1', encryptForUser(keysA.dataKey, 'user-1', text))).toBe(text);
  });

  test('the sealed form is v1.<iv>.<ciphertext>.<tag> and does not contain the plaintext', () => {
    const sealed = encryptForUser(keysA.dataKey, 'user-1', KEY);
    const parts = sealed.split('.');
    expect(parts).toHaveLength(4);
    expect(parts[0]).toBe('v1');
    expect(Buffer.from(parts[1]!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(Buffer.byteLength(KEY));
    expect(Buffer.from(parts[3]!, 'base64url')).toHaveLength(16);
    expect(sealed).not.toContain(KEY);
    expect(sealed).not.toContain('0123456789abcdef');
  });

  test('the ciphertext differs each time (fresh IV)', () => {
    const a = encryptForUser(keysA.dataKey, 'user-1', KEY);
    const b = encryptForUser(keysA.dataKey, 'user-1', KEY);
    expect(a).not.toBe(b);
    expect(a.split('.')[1]).not.toBe(b.split('.')[1]);
  });

  test('decrypting as another user (AAD) throws', () => {
    const sealed = encryptForUser(keysA.dataKey, 'user-1', KEY);
    expect(() => decryptForUser(keysA.dataKey, 'user-2', sealed)).toThrow();
  });

  test('decrypting with another data key throws', () => {
    const sealed = encryptForUser(keysA.dataKey, 'user-1', KEY);
    expect(() => decryptForUser(keysB.dataKey, 'user-1', sealed)).toThrow();
  });

  test('a tampered ciphertext, IV or tag throws', () => {
    const sealed = encryptForUser(keysA.dataKey, 'user-1', KEY);
    const [v, iv, ct, tag] = sealed.split('.') as [string, string, string, string];
    const flip = (b64: string) => {
      const buf = Buffer.from(b64, 'base64url');
      buf[0] = buf[0]! ^ 0x01;
      return buf.toString('base64url');
    };
    expect(() => decryptForUser(keysA.dataKey, 'user-1', [v, iv, flip(ct), tag].join('.'))).toThrow();
    expect(() => decryptForUser(keysA.dataKey, 'user-1', [v, flip(iv), ct, tag].join('.'))).toThrow();
    expect(() => decryptForUser(keysA.dataKey, 'user-1', [v, iv, ct, flip(tag)].join('.'))).toThrow();
  });

  test('an unsupported version or a malformed sealed value throws', () => {
    const sealed = encryptForUser(keysA.dataKey, 'user-1', KEY);
    expect(() => decryptForUser(keysA.dataKey, 'user-1', sealed.replace(/^v1\./, 'v2.'))).toThrow(/unsupported ciphertext format/);
    expect(() => decryptForUser(keysA.dataKey, 'user-1', sealed.split('.').slice(0, 3).join('.'))).toThrow(/unsupported/);
    expect(() => decryptForUser(keysA.dataKey, 'user-1', '')).toThrow(/unsupported/);
    expect(() => decryptForUser(keysA.dataKey, 'user-1', KEY)).toThrow(/unsupported/);
  });

  // KNOWN BUG (lambda/crypto/secrets.ts): encryptForUser(key, user, '') produces "v1.<iv>..<tag>" (empty
  // ciphertext segment), which decryptForUser rejects as "unsupported ciphertext format" because of the
  // `!ciphertext` check, so the empty string does not round-trip.
  test('the empty string round-trips', () => {
    expect(decryptForUser(keysA.dataKey, 'user-1', encryptForUser(keysA.dataKey, 'user-1', ''))).toBe('');
  });

  // KNOWN WEAKNESS (lambda/crypto/secrets.ts, decryptForUser): createDecipheriv is called without
  // { authTagLength: 16 }, so Node accepts a GCM tag truncated to as little as 4 bytes; a stored value
  // with a shortened tag still decrypts. Node >= 23 warns about this (DEP0182).
  test('a truncated authentication tag is rejected', () => {
    const [v, iv, ct, tag] = encryptForUser(keysA.dataKey, 'user-1', KEY).split('.') as [string, string, string, string];
    const short = Buffer.from(tag, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => decryptForUser(keysA.dataKey, 'user-1', [v, iv, ct, short].join('.'))).toThrow();
  });
});

describe('boundCredentialMac', () => {
  const t = issueToken(keysA.tokenHmacKey);
  const claims = { userId: 'u-1', kind: 'oauth', grantId: 'g-1', audience: 'https://a.example/mcp', clientId: 'c-1', expiresAt: undefined };
  const mac = boundCredentialMac(keysA.tokenHmacKey, 'token', t.tokenId, t.secret, claims);

  test('verifies the same secret and claims, in any key order', () => {
    const reordered = { expiresAt: undefined, clientId: 'c-1', audience: 'https://a.example/mcp', grantId: 'g-1', kind: 'oauth', userId: 'u-1' };
    expect(verifyBoundCredentialMac(keysA.tokenHmacKey, 'token', t.tokenId, t.secret, reordered, mac)).toBe(true);
  });

  test.each([
    ['another user', { ...claims, userId: 'u-2' }],
    ['another grant', { ...claims, grantId: 'g-2' }],
    ['another audience', { ...claims, audience: 'https://b.example/mcp' }],
    ['another kind', { ...claims, kind: 'personal' }],
    ['an expiry added', { ...claims, expiresAt: '2030-01-01T00:00:00.000Z' }],
    ['a claim dropped', { userId: 'u-1', kind: 'oauth', grantId: 'g-1', audience: 'https://a.example/mcp' }],
    ['a value moved between claims', { ...claims, grantId: 'c-1', clientId: 'g-1' }],
  ])('fails for %s', (_label, changed) => {
    expect(verifyBoundCredentialMac(keysA.tokenHmacKey, 'token', t.tokenId, t.secret, changed, mac)).toBe(false);
  });

  test('fails for another record kind, id, secret or key, and never equals the legacy MAC', () => {
    expect(verifyBoundCredentialMac(keysA.tokenHmacKey, 'refresh', t.tokenId, t.secret, claims, mac)).toBe(false);
    expect(verifyBoundCredentialMac(keysA.tokenHmacKey, 'token', '0000000000000000', t.secret, claims, mac)).toBe(false);
    expect(verifyBoundCredentialMac(keysA.tokenHmacKey, 'token', t.tokenId, `${t.secret.slice(0, -1)}${t.secret.endsWith('A') ? 'B' : 'A'}`, claims, mac)).toBe(false);
    expect(verifyBoundCredentialMac(keysB.tokenHmacKey, 'token', t.tokenId, t.secret, claims, mac)).toBe(false);
    expect(mac).not.toBe(t.hash);
    expect(verifyTokenSecret(keysA.tokenHmacKey, t.tokenId, t.secret, mac)).toBe(false);
  });
});
