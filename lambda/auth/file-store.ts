/**
 * The local, single-process account store behind `npm start`: users, hashed tokens and encrypted
 * OpenRouter keys in one JSON file under the data dir, written atomically. It holds the same
 * (never-plaintext) records the DynamoDB store does, so moving between them changes no security property.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  decryptForUser,
  deriveKeys,
  encryptForUser,
  issueToken,
  newServerSecret,
  parseToken,
  verifyTokenSecret,
  type DerivedKeys,
} from '../crypto/secrets.js';
import type { Authenticator, Principal } from './authenticator.js';

const StoreFile = z.object({
  version: z.literal(1),
  users: z.record(z.string(), z.object({ name: z.string(), openRouterKey: z.string(), created: z.string() })),
  tokens: z.record(
    z.string(),
    z.object({
      userId: z.string(),
      hash: z.string(),
      label: z.string(),
      created: z.string(),
      expiresAt: z.string().optional(),
      revokedAt: z.string().optional(),
    }),
  ),
});
type StoreFile = z.infer<typeof StoreFile>;

export interface TokenSummary {
  tokenId: string;
  userId: string;
  userName: string;
  label: string;
  created: string;
  expiresAt?: string;
  revokedAt?: string;
}

/** Reads the server secret from the data dir, creating it (mode 0600) on first use. */
export function loadOrCreateServerSecret(dataDir: string): Buffer {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'server-secret');
  if (existsSync(path)) return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  const secret = newServerSecret();
  writeFileSync(path, `${secret.toString('base64')}\n`, { mode: 0o600 });
  return secret;
}

export class FileStore implements Authenticator {
  private readonly path: string;
  private readonly keys: DerivedKeys;

  constructor(dataDir: string, serverSecret: Buffer, private readonly now: () => Date = () => new Date()) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.path = join(dataDir, 'accounts.json');
    this.keys = deriveKeys(serverSecret);
  }

  private load(): StoreFile {
    if (!existsSync(this.path)) return { version: 1, users: {}, tokens: {} };
    return StoreFile.parse(JSON.parse(readFileSync(this.path, 'utf8')));
  }

  private save(data: StoreFile): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data, null, 2), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
  }

  userCount(): number {
    return Object.keys(this.load().users).length;
  }

  findUserId(name: string): string | undefined {
    return Object.entries(this.load().users).find(([, u]) => u.name === name)?.[0];
  }

  /** Creates the user, or replaces the key of an existing user with that name. Returns the user id. */
  setUserKey(name: string, openRouterKey: string): string {
    const data = this.load();
    const userId = Object.entries(data.users).find(([, u]) => u.name === name)?.[0] ?? randomUUID();
    const created = data.users[userId]?.created ?? this.now().toISOString();
    data.users[userId] = { name, created, openRouterKey: encryptForUser(this.keys.dataKey, userId, openRouterKey) };
    this.save(data);
    return userId;
  }

  issueToken(userId: string, label = 'default', expiresAt?: Date): { token: string; tokenId: string } {
    const data = this.load();
    if (!data.users[userId]) throw new Error('no such user');
    const issued = issueToken(this.keys.tokenHmacKey);
    data.tokens[issued.tokenId] = {
      userId,
      hash: issued.hash,
      label,
      created: this.now().toISOString(),
      ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
    };
    this.save(data);
    return { token: issued.token, tokenId: issued.tokenId };
  }

  revokeToken(tokenId: string): boolean {
    const data = this.load();
    const token = data.tokens[tokenId];
    if (!token) return false;
    token.revokedAt ??= this.now().toISOString();
    this.save(data);
    return true;
  }

  listTokens(): TokenSummary[] {
    const data = this.load();
    return Object.entries(data.tokens).map(([tokenId, t]) => ({
      tokenId,
      userId: t.userId,
      userName: data.users[t.userId]?.name ?? '(deleted)',
      label: t.label,
      created: t.created,
      ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}),
      ...(t.revokedAt ? { revokedAt: t.revokedAt } : {}),
    }));
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const parsed = parseToken(token);
    if (!parsed) return undefined;
    const data = this.load();
    const record = data.tokens[parsed.tokenId];
    if (!record || record.revokedAt) return undefined;
    if (!verifyTokenSecret(this.keys.tokenHmacKey, parsed.tokenId, parsed.secret, record.hash)) return undefined;
    if (record.expiresAt && Date.parse(record.expiresAt) <= this.now().getTime()) return undefined;
    const user = data.users[record.userId];
    if (!user) return undefined;
    return { userId: record.userId, tokenId: parsed.tokenId, openRouterKey: decryptForUser(this.keys.dataKey, record.userId, user.openRouterKey) };
  }
}
