/**
 * The server secret with versions, so it can be rotated without invalidating anything: new tokens and
 * key writes use `current`; items remember the version they were written under and are verified or
 * decrypted with that version for as long as it stays in the secret.
 *
 * Secret value (Secrets Manager or the local data dir): {"current":"v2","v1":"<random>","v2":"<random>"}
 */
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { deriveKeys, type DerivedKeys } from './secrets.js';

const SecretJson = z
  .object({ current: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/) })
  .catchall(z.string());

export interface Keyring {
  currentVersion: string;
  current: DerivedKeys;
  get(version: string): DerivedKeys | undefined;
}

export class SecretFormatError extends Error {
  override readonly name = 'SecretFormatError';
}

export function parseKeyring(secretString: string): Keyring {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    throw new SecretFormatError('the server secret is not JSON of the form {"current":"v1","v1":"<random>"}');
  }
  const parsed = SecretJson.safeParse(json);
  if (!parsed.success) throw new SecretFormatError('the server secret needs a "current" version name');
  const { current: currentVersion, ...versions } = parsed.data;
  const derived = new Map<string, DerivedKeys>();
  for (const [version, value] of Object.entries(versions)) {
    if (Buffer.byteLength(value) < 32) throw new SecretFormatError(`secret version "${version}" is shorter than 32 bytes`);
    derived.set(version, deriveKeys(Buffer.from(value, 'utf8')));
  }
  const current = derived.get(currentVersion);
  if (!current) throw new SecretFormatError(`the current secret version "${currentVersion}" is missing`);
  return { currentVersion, current, get: (version) => derived.get(version) };
}

/** A fresh secret value for local use (Secrets Manager generates its own in the cloud). */
export function newSecretString(): string {
  return JSON.stringify({ current: 'v1', v1: randomBytes(48).toString('base64url') });
}
