/**
 * OAuth grants: one client's authorization by one user. The OAuth access tokens (token-store.ts) and refresh tokens
 * (oauth-store.ts) issued for a grant live and die with it.
 */
import { randomUUID } from 'node:crypto';
import { keys } from './schema.js';
import { StoreError } from './store-error.js';
import { ConditionFailedError, type Item, type Table } from './table.js';
import type { UserStore } from './user-store.js';

export interface Grant {
  grantId: string;
  userId: string;
  clientId: string;
  clientName: string;
  /** The resource (MCP URL) the grant's access tokens are bound to. */
  audience: string;
  scope: string;
  createdAt: string;
  revokedAt?: string;
}

/** A token label or a grant's client name, as shown in lists: at most this many characters. */
export const LABEL_MAX = 100;
/** A revoked grant (or an ended token) stays listable for a while, then DynamoDB's TTL deletes it. */
export const KEEP_AFTER_END_SECONDS = 30 * 24 * 3600;

export class GrantStore {
  constructor(
    private readonly table: Table,
    private readonly users: UserStore,
    private readonly now: () => Date,
  ) {}

  async createGrant(userId: string, details: { clientId: string; clientName: string; audience: string; scope: string }): Promise<Grant> {
    const grant: Grant = { grantId: randomUUID(), userId, ...details, clientName: details.clientName.slice(0, LABEL_MAX), createdAt: this.now().toISOString() };
    await this.users.requireUserItem(userId);
    await this.table.create({ ...keys.grant(grant.grantId), type: 'grant', ...grant, gsi1pk: keys.userGrantsIndex(userId), gsi1sk: `${grant.createdAt}#${grant.grantId}` });
    return grant;
  }

  async getGrant(grantId: string): Promise<Grant | undefined> {
    const item = await this.table.get(keys.grant(grantId));
    return item ? toGrant(item) : undefined;
  }

  async listGrants(userId: string): Promise<Grant[]> {
    return (await this.table.query({ partition: keys.userGrantsIndex(userId), ascending: false })).map(toGrant);
  }

  /** Ends a grant: its access tokens stop authenticating and its refresh tokens stop refreshing (idempotent). */
  async revokeGrant(grantId: string): Promise<void> {
    try {
      await this.table.markRevoked(keys.grant(grantId), this.now(), KEEP_AFTER_END_SECONDS);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new StoreError('no_such_token', 'no such grant');
      throw err;
    }
  }
}

export function toGrant(item: Item): Grant {
  const g = item as unknown as Grant;
  return {
    grantId: g.grantId,
    userId: g.userId,
    clientId: g.clientId,
    clientName: g.clientName,
    audience: g.audience,
    scope: g.scope,
    createdAt: g.createdAt,
    ...(g.revokedAt ? { revokedAt: g.revokedAt } : {}),
  };
}
