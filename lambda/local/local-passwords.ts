/**
 * Passwords of the local sign-in (`npm start` without an external identity provider), kept in the data dir
 * (mode 0600) next to the server secret, never in the table: they exist only for the local identity provider.
 * Each is a scrypt hash with its own salt and parameters, bound to the user id, and compared in constant time.
 * The file is re-read on every check, so `ormcp user set-password` takes effect on a running server at once.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';

/** OWASP's scrypt setting for 32 MiB of memory (N=2^15, r=8, p=3). */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 3 } as const;
const KEY_LENGTH = 32;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

const PasswordHash = z.object({
  alg: z.literal('scrypt'),
  N: z.number().int().min(2 ** 10).max(2 ** 20),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(16),
  salt: z.string().min(16).max(200),
  hash: z.string().min(16).max(200),
});
export type PasswordHash = z.infer<typeof PasswordHash>;

const PasswordFile = z.object({ version: z.literal(1), users: z.record(z.string(), PasswordHash.extend({ updatedAt: z.string() })) });
type PasswordFile = z.infer<typeof PasswordFile>;

export class PasswordError extends Error {
  override readonly name = 'PasswordError';
}

export function checkPasswordShape(password: string): void {
  if (password.length < PASSWORD_MIN) throw new PasswordError(`a password has at least ${PASSWORD_MIN} characters`);
  if (Buffer.byteLength(password) > PASSWORD_MAX) throw new PasswordError(`a password has at most ${PASSWORD_MAX} bytes`);
}

function scrypt(input: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) => scryptCb(input, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** The user id is hashed in, so a record copied to another user's entry does not verify there. */
function material(userId: string, password: string): string {
  return `${userId}\u0000${password}`;
}

export async function hashPassword(userId: string, password: string): Promise<PasswordHash> {
  checkPasswordShape(password);
  const salt = randomBytes(16);
  const hash = await scrypt(material(userId, password), salt, SCRYPT_PARAMS);
  return { alg: 'scrypt', ...SCRYPT_PARAMS, salt: salt.toString('base64url'), hash: hash.toString('base64url') };
}

export async function verifyPassword(userId: string, password: string, stored: PasswordHash): Promise<boolean> {
  if (Buffer.byteLength(password) > PASSWORD_MAX) return false;
  const expected = Buffer.from(stored.hash, 'base64url');
  const actual = await scrypt(material(userId, password), Buffer.from(stored.salt, 'base64url'), stored);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A fixed hash checked for unknown users, so a wrong name takes as long as a wrong password. */
let decoy: Promise<PasswordHash> | undefined;

export class LocalPasswords {
  private readonly path: string;

  constructor(private readonly dataDir: string) {
    this.path = join(dataDir, 'local-passwords.json');
  }

  /** True when at least one user can sign in with a password. */
  any(): boolean {
    return Object.keys(this.read().users).length > 0;
  }

  has(userId: string): boolean {
    return Object.hasOwn(this.read().users, userId);
  }

  async set(userId: string, password: string, now = new Date()): Promise<void> {
    const hashed = await hashPassword(userId, password);
    const file = this.read();
    file.users[userId] = { ...hashed, updatedAt: now.toISOString() };
    this.write(file);
  }

  /** Checks a password; an unknown user costs the same scrypt work and answers false. */
  async verify(userId: string | undefined, password: string): Promise<boolean> {
    const users = this.read().users;
    const stored = userId && Object.hasOwn(users, userId) ? users[userId] : undefined;
    if (!stored || !userId) {
      decoy ??= hashPassword('decoy', randomBytes(16).toString('base64url'));
      await verifyPassword('decoy', password, await decoy);
      return false;
    }
    return verifyPassword(userId, password, stored);
  }

  private read(): PasswordFile {
    if (!existsSync(this.path)) return { version: 1, users: {} };
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      json = undefined;
    }
    const parsed = PasswordFile.safeParse(json);
    if (!parsed.success) throw new PasswordError(`${this.path} is not a password file this version understands: restore it, or delete it and set the passwords again`);
    return parsed.data;
  }

  /** Written to a temporary file and renamed, so a running server never reads half a file. */
  private write(file: PasswordFile): void {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const temp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(temp, this.path);
  }
}
