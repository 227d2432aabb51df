/**
 * Sealed values: small JSON payloads the server hands to a browser or another party and later gets back
 * (OAuth state, the pending authorization, the sign-in session). They are AES-256-GCM encrypted, so nothing
 * inside is readable or forgeable; bound to a purpose (as associated data), so a value sealed for one use is
 * refused for any other; and they carry their own expiry. Sealing needs no table write, which keeps the
 * sign-in redirects free of DynamoDB round trips.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Keyring } from './keyring.js';

export type SealPurpose = 'session' | 'authorization' | 'upstream-login' | 'openrouter-connect' | 'openrouter-replace' | 'new-token';

const FORMAT = 's1';

export function seal(keyring: Keyring, purpose: SealPurpose, payload: object, ttlSeconds: number, now = Date.now()): string {
  const body = JSON.stringify({ ...payload, exp: Math.floor(now / 1000) + ttlSeconds });
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyring.current.sealKey, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(`${FORMAT}.${keyring.currentVersion}.${purpose}`));
  const ciphertext = Buffer.concat([cipher.update(body, 'utf8'), cipher.final()]);
  return [FORMAT, keyring.currentVersion, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** The payload, or undefined when the value is malformed, forged, sealed for another purpose, or expired. */
export function unseal<T extends object>(keyring: Keyring, purpose: SealPurpose, sealed: string | undefined, now = Date.now()): T | undefined {
  if (!sealed || sealed.length > 8192) return undefined;
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== FORMAT) return undefined;
  const [, version, iv, ciphertext, tag] = parts as [string, string, string, string, string];
  const keys = keyring.get(version);
  if (!keys) return undefined;
  try {
    const authTag = Buffer.from(tag, 'base64url');
    if (authTag.length !== 16) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', keys.sealKey, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(`${FORMAT}.${version}.${purpose}`));
    decipher.setAuthTag(authTag);
    const body = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    const payload = JSON.parse(body) as T & { exp?: unknown };
    if (typeof payload.exp !== 'number' || payload.exp * 1000 <= now) return undefined;
    return payload;
  } catch {
    return undefined;
  }
}
