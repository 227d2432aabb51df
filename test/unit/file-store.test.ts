import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore, loadOrCreateServerSecret } from '../../lambda/auth/file-store.js';
import { parseToken } from '../../lambda/crypto/secrets.js';

const OR_KEY = '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';
const OR_KEY_2 = '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';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ormcp-file-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const SECRET = Buffer.alloc(32, 7);
const OTHER_SECRET = Buffer.alloc(32, 8);

describe('loadOrCreateServerSecret', () => {
  test('creates a 32-byte secret once (mode 0600) and reuses it', () => {
    const dataDir = join(dir, 'nested', 'data');
    const first = loadOrCreateServerSecret(dataDir);
    expect(first).toHaveLength(32);
    const path = join(dataDir, 'server-secret');
    expect(existsSync(path)).toBe(true);
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);
    const before = readFileSync(path, 'utf8');
    const second = loadOrCreateServerSecret(dataDir);
    expect(second.equals(first)).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  test('reads an existing base64 secret (with surrounding whitespace)', () => {
    const secret = Buffer.alloc(32, 0x42);
    writeFileSync(join(dir, 'server-secret'), `  ${secret.toString('base64')}\n\n`);
    expect(loadOrCreateServerSecret(dir).equals(secret)).toBe(true);
  });

  test('different data dirs get different secrets', () => {
    expect(loadOrCreateServerSecret(join(dir, 'a')).equals(loadOrCreateServerSecret(join(dir, 'b')))).toBe(false);
  });
});

describe('FileStore', () => {
  test('rejects a short server secret', () => {
    expect(() => new FileStore(dir, Buffer.alloc(16))).toThrow();
  });

  test('an empty store has no users and no tokens', () => {
    const store = new FileStore(dir, SECRET);
    expect(store.userCount()).toBe(0);
    expect(store.listTokens()).toEqual([]);
    expect(store.findUserId('nobody')).toBeUndefined();
  });

  test('setUserKey creates a user, and replacing the key keeps the same user id', async () => {
    const store = new FileStore(dir, SECRET);
    const id = store.setUserKey('alice', OR_KEY);
    expect(store.userCount()).toBe(1);
    expect(store.findUserId('alice')).toBe(id);
    const { token } = store.issueToken(id);
    expect((await store.authenticate(token))?.openRouterKey).toBe(OR_KEY);

    expect(store.setUserKey('alice', OR_KEY_2)).toBe(id);
    expect(store.userCount()).toBe(1);
    // Tokens issued before the key change now resolve to the new key.
    expect((await store.authenticate(token))?.openRouterKey).toBe(OR_KEY_2);

    const bob = store.setUserKey('bob', OR_KEY);
    expect(bob).not.toBe(id);
    expect(store.userCount()).toBe(2);
  });

  test('replacing the key keeps the original created time', () => {
    let t = new Date('2025-01-01T00:00:00Z');
    const store = new FileStore(dir, SECRET, () => t);
    const id = store.setUserKey('alice', OR_KEY);
    t = new Date('2025-06-01T00:00:00Z');
    store.setUserKey('alice', OR_KEY_2);
    const file = JSON.parse(readFileSync(join(dir, 'accounts.json'), 'utf8'));
    expect(file.users[id].created).toBe('2025-01-01T00:00:00.000Z');
  });

  test('issueToken + authenticate gives the principal with the decrypted key', async () => {
    const store = new FileStore(dir, SECRET);
    const userId = store.setUserKey('alice', OR_KEY);
    const { token, tokenId } = store.issueToken(userId, 'laptop');
    expect(parseToken(token)?.tokenId).toBe(tokenId);
    expect(await store.authenticate(token)).toEqual({ userId, tokenId, openRouterKey: OR_KEY });
  });

  test('each user gets their own key through their own token', async () => {
    const store = new FileStore(dir, SECRET);
    const alice = store.setUserKey('alice', OR_KEY);
    const bob = store.setUserKey('bob', OR_KEY_2);
    const ta = store.issueToken(alice).token;
    const tb = store.issueToken(bob).token;
    expect(await store.authenticate(ta)).toMatchObject({ userId: alice, openRouterKey: OR_KEY });
    expect(await store.authenticate(tb)).toMatchObject({ userId: bob, openRouterKey: OR_KEY_2 });
  });

  test('issueToken for an unknown user throws', () => {
    const store = new FileStore(dir, SECRET);
    expect(() => store.issueToken('no-such-user')).toThrow(/no such user/);
  });

  test('a wrong secret part, unknown token id or malformed token → undefined', async () => {
    const store = new FileStore(dir, SECRET);
    const { token, tokenId } = store.issueToken(store.setUserKey('alice', OR_KEY));
    const secret = parseToken(token)!.secret;
    const wrongSecret = `ormcp_${tokenId}_${(secret[0] === 'A' ? 'B' : 'A') + secret.slice(1)}`;
    const unknownId = `ormcp_${tokenId === '0000000000000000' ? '1111111111111111' : '0000000000000000'}_${secret}`;
    expect(await store.authenticate(wrongSecret)).toBeUndefined();
    expect(await store.authenticate(unknownId)).toBeUndefined();
    expect(await store.authenticate(`${token}x`)).toBeUndefined();
    expect(await store.authenticate('not-a-token')).toBeUndefined();
    expect(await store.authenticate('')).toBeUndefined();
    expect(await store.authenticate(OR_KEY)).toBeUndefined();
    expect(await store.authenticate(token)).toBeDefined(); // control
  });

  test('revokeToken makes the token fail, and returns false for unknown ids', async () => {
    const store = new FileStore(dir, SECRET);
    const userId = store.setUserKey('alice', OR_KEY);
    const keep = store.issueToken(userId, 'keep');
    const drop = store.issueToken(userId, 'drop');
    expect(store.revokeToken(drop.tokenId)).toBe(true);
    expect(await store.authenticate(drop.token)).toBeUndefined();
    expect(await store.authenticate(keep.token)).toBeDefined();
    expect(store.revokeToken('0123456789abcdef')).toBe(false);
    expect(store.revokeToken('')).toBe(false);
    // Revoking again is harmless and the token stays revoked.
    expect(store.revokeToken(drop.tokenId)).toBe(true);
    expect(await store.authenticate(drop.token)).toBeUndefined();
    expect(store.listTokens().find((t) => t.tokenId === drop.tokenId)?.revokedAt).toBeDefined();
    expect(store.listTokens().find((t) => t.tokenId === keep.tokenId)?.revokedAt).toBeUndefined();
  });

  test('an expired token → undefined; before expiry it works', async () => {
    let t = new Date('2025-01-01T00:00:00Z');
    const store = new FileStore(dir, SECRET, () => t);
    const userId = store.setUserKey('alice', OR_KEY);
    const { token } = store.issueToken(userId, 'short', new Date('2025-01-01T01:00:00Z'));
    const forever = store.issueToken(userId, 'forever').token;
    t = new Date('2025-01-01T00:59:59.999Z');
    expect(await store.authenticate(token)).toBeDefined();
    t = new Date('2025-01-01T01:00:00Z');
    expect(await store.authenticate(token)).toBeUndefined();
    t = new Date('2030-01-01T00:00:00Z');
    expect(await store.authenticate(token)).toBeUndefined();
    expect(await store.authenticate(forever)).toBeDefined();
  });

  test('a store opened with a different server secret cannot authenticate existing tokens', async () => {
    const store = new FileStore(dir, SECRET);
    const { token } = store.issueToken(store.setUserKey('alice', OR_KEY));
    expect(await new FileStore(dir, SECRET).authenticate(token)).toBeDefined(); // same secret, new instance
    expect(await new FileStore(dir, OTHER_SECRET).authenticate(token)).toBeUndefined();
  });

  test('accounts.json holds neither the plaintext token nor the OpenRouter key', () => {
    const store = new FileStore(dir, SECRET);
    const { token } = store.issueToken(store.setUserKey('alice', OR_KEY));
    const raw = readFileSync(join(dir, 'accounts.json'), 'utf8');
    expect(raw).not.toContain(token);
    expect(raw).not.toContain(parseToken(token)!.secret);
    expect(raw).not.toContain(OR_KEY);
    expect(raw).not.toContain('aaaabbbbcccc');
    expect(raw).not.toContain('sk-or-');
    if (process.platform !== 'win32') expect(statSync(join(dir, 'accounts.json')).mode & 0o777).toBe(0o600);
    // Written atomically: no temp files left behind.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('listTokens reports metadata but never the token or its hash', () => {
    const t = new Date('2025-02-03T04:05:06Z');
    const store = new FileStore(dir, SECRET, () => t);
    const userId = store.setUserKey('alice', OR_KEY);
    const { token, tokenId } = store.issueToken(userId, 'ci', new Date('2026-01-01T00:00:00Z'));
    const list = store.listTokens();
    expect(list).toEqual([
      { tokenId, userId, userName: 'alice', label: 'ci', created: '2025-02-03T04:05:06.000Z', expiresAt: '2026-01-01T00:00:00.000Z' },
    ]);
    const hash = JSON.parse(readFileSync(join(dir, 'accounts.json'), 'utf8')).tokens[tokenId].hash as string;
    const serialized = JSON.stringify(list);
    expect(serialized).not.toContain(token);
    expect(serialized).not.toContain(parseToken(token)!.secret);
    expect(serialized).not.toContain(hash);
    expect(Object.keys(list[0]!)).not.toContain('hash');
  });

  test('the default token label is "default"', () => {
    const store = new FileStore(dir, SECRET);
    store.issueToken(store.setUserKey('alice', OR_KEY));
    expect(store.listTokens()[0]?.label).toBe('default');
  });

  test('a hash moved onto another token id in the file does not authenticate', async () => {
    const store = new FileStore(dir, SECRET);
    const userId = store.setUserKey('alice', OR_KEY);
    const a = store.issueToken(userId, 'a');
    const b = store.issueToken(userId, 'b');
    const path = join(dir, 'accounts.json');
    const file = JSON.parse(readFileSync(path, 'utf8'));
    file.tokens[b.tokenId].hash = file.tokens[a.tokenId].hash;
    writeFileSync(path, JSON.stringify(file));
    // b's id with a's secret: the hash matches a's secret but the MAC binds a's id.
    const forged = `ormcp_${b.tokenId}_${parseToken(a.token)!.secret}`;
    expect(await store.authenticate(forged)).toBeUndefined();
  });
});
