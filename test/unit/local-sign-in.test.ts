/** Pure parts of the local sign-in: password hashing, the failed-login limiter, the provider's state. */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimsFor, loadOrCreateIdpState } from '../../lambda/local/local-idp-state.js';
import { hashPassword, verifyPassword } from '../../lambda/local/local-passwords.js';
import { LoginLimiter } from '../../lambda/local/login-limiter.js';

describe('password hashes', () => {
  test('scrypt with its own salt and parameters; verifies only the right password for the right user', async () => {
    const a = await hashPassword('user-a', 'correct horse battery');
    const b = await hashPassword('user-a', 'correct horse battery');
    expect(a).toMatchObject({ alg: 'scrypt', N: 2 ** 15, r: 8, p: 3 });
    expect(a.salt).not.toBe(b.salt);
    expect(a.hash).not.toBe(b.hash);
    await expect(verifyPassword('user-a', 'correct horse battery', a)).resolves.toBe(true);
    await expect(verifyPassword('user-a', 'correct horse batterY', a)).resolves.toBe(false);
    // Bound to the user id: the same record under another user does not verify.
    await expect(verifyPassword('user-b', 'correct horse battery', a)).resolves.toBe(false);
  });

  test('too short or too long is refused before hashing', async () => {
    await expect(hashPassword('u', 'short')).rejects.toThrow('at least 8 characters');
    await expect(hashPassword('u', 'x'.repeat(1025))).rejects.toThrow('at most 1024 bytes');
  });
});

describe('failed-login limiter', () => {
  test('locks a key after the allowed failures until its window ends; success clears it; keys are independent', () => {
    let now = 0;
    const limiter = new LoginLimiter({ maxFailures: 3, windowMs: 60_000, maxKeys: 100 }, () => now);
    for (let i = 0; i < 2; i++) limiter.fail(['alice']);
    expect(limiter.retryAfterMs(['alice'])).toBe(0);
    limiter.fail(['alice']);
    expect(limiter.retryAfterMs(['alice'])).toBe(60_000);
    expect(limiter.retryAfterMs(['bob'])).toBe(0);
    now = 59_999;
    expect(limiter.retryAfterMs(['alice'])).toBe(1);
    now = 60_000;
    expect(limiter.retryAfterMs(['alice'])).toBe(0);
    limiter.fail(['bob']);
    limiter.succeed(['bob']);
    for (let i = 0; i < 2; i++) limiter.fail(['bob']);
    expect(limiter.retryAfterMs(['bob'])).toBe(0);
  });

  test('remembers a bounded number of keys', () => {
    const limiter = new LoginLimiter({ maxFailures: 1, windowMs: 60_000, maxKeys: 10 }, () => 0);
    for (let i = 0; i < 1000; i++) limiter.fail([`k${i}`]);
    expect(limiter.retryAfterMs(['k999'])).toBe(60_000);
    expect(limiter.retryAfterMs(['k0'])).toBe(0);
  });
});

describe('local identity provider state', () => {
  test('signing key and cookie keys are created once (0600) and read back unchanged on the next start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ormcp-idp-state-'));
    try {
      const first = loadOrCreateIdpState(dir);
      expect(statSync(join(dir, 'local-idp.json')).mode & 0o777).toBe(0o600);
      expect(first.jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      expect(first.jwks.keys[0]!.d).toBeDefined();
      expect(loadOrCreateIdpState(dir)).toEqual(first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ID token claims: the user id as subject; the name as a verified email only when it is one', () => {
    const at = '2030-01-01T00:00:00.000Z';
    expect(claimsFor({ userId: 'u-1', name: 'local', createdAt: at, hasKey: false })).toEqual({ sub: 'u-1', preferred_username: 'local' });
    expect(claimsFor({ userId: 'u-2', name: 'Ann@Example.com', createdAt: at, hasKey: true })).toEqual({ sub: 'u-2', preferred_username: 'Ann@Example.com', email: 'ann@example.com', email_verified: true });
  });
});
