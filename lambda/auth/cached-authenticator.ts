/**
 * Remembers verified tokens for a short TTL so a warm Lambda (or the local server) answers repeat calls without
 * a DynamoDB read. Staleness: a revoked token (or a replaced OpenRouter key) takes effect within `ttlMs` on an
 * instance that has it cached. Failures are never cached, so a newly issued token works at once; an entry
 * never outlives the token's own expiry.
 */
import { createHash } from 'node:crypto';
import type { Authenticator, Principal } from './authenticator.js';

/**
 * The local server's (`npm start`) token cache: short, so `ormcp token revoke` (a write to the same table from
 * another process) takes effect within 5 s, yet a client's burst of calls checks its token once.
 */
export const LOCAL_AUTH_CACHE_MS = 5_000;

export class CachedAuthenticator implements Authenticator {
  private readonly entries = new Map<string, { principal: Principal; expires: number }>();

  constructor(
    private readonly inner: Authenticator,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(token: string): Promise<Principal | undefined> {
    // Keyed by a digest so the raw token is not kept as a map key.
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = this.entries.get(key);
    if (hit && hit.expires > this.now()) return hit.principal;
    if (hit) this.entries.delete(key);
    const principal = await this.inner.authenticate(token);
    if (principal && this.ttlMs > 0) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      const tokenExpiry = principal.expiresAt ? Date.parse(principal.expiresAt) : Infinity;
      this.entries.set(key, { principal, expires: Math.min(this.now() + this.ttlMs, tokenExpiry) });
    }
    return principal;
  }
}
