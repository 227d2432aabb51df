/**
 * The accounts facade: users (user-store.ts), their encrypted OpenRouter keys (key-store.ts), their MCP tokens and
 * authentication (token-store.ts) and their OAuth grants (grant-store.ts), all over one Table. It keeps one object
 * for the many callers (web, oauth, cli, tests) and holds what spans aggregates: revoking everything a user holds,
 * and removing a user. Nothing secret is ever stored in the clear.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Logger } from '../observability/logger.js';
import { GrantStore, type Grant } from './grant-store.js';
import { KeyStore, type KeyChange, type KeyLease, type KeyLeaseOptions } from './key-store.js';
import { Table } from './table.js';
import { TokenStore, type IssueTokenOptions, type TokenInfo } from './token-store.js';
import { UserStore, type User } from './user-store.js';

export { StoreError } from './store-error.js';
export { KeyChangeRefused, type KeyChange, type KeyChangeRefusal, type KeyLease, type KeyLeaseOptions } from './key-store.js';
export type { Grant } from './grant-store.js';
export type { IssueTokenOptions, TokenInfo } from './token-store.js';
export type { User } from './user-store.js';

export interface AccountStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  keyring: Keyring;
  logger?: Logger;
  now?: () => Date;
}

export class AccountStore implements Authenticator {
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly grants: GrantStore;
  readonly tokens: TokenStore;

  constructor(options: AccountStoreOptions) {
    const table = new Table({ client: options.client, tableName: options.tableName });
    const now = options.now ?? (() => new Date());
    this.users = new UserStore(table, now);
    this.keys = new KeyStore(table, this.users, options.keyring, now, options.logger);
    this.grants = new GrantStore(table, this.users, now);
    this.tokens = new TokenStore({ table, users: this.users, grants: this.grants, keys: this.keys, keyring: options.keyring, now, ...(options.logger ? { logger: options.logger } : {}) });
  }

  // ---- what spans aggregates ---------------------------------------------------------------------

  /** Revokes every personal token and every OAuth grant (with its access and refresh tokens) of the user. */
  async revokeAllTokens(userId: string): Promise<number> {
    const [tokens, grants] = await Promise.all([this.tokens.listTokens(userId), this.grants.listGrants(userId)]);
    const live = [...tokens.filter((t) => !t.revokedAt).map((t) => this.tokens.revokeToken(t.tokenId)), ...grants.filter((g) => !g.revokedAt).map((g) => this.grants.revokeGrant(g.grantId))];
    await Promise.all(live);
    return live.length;
  }

  /** Removes the user and revokes every token they had; nothing of theirs authenticates afterwards. */
  async removeUser(userId: string): Promise<void> {
    const user = await this.users.requireUserItem(userId);
    await this.revokeAllTokens(userId);
    await this.users.deleteUser(user);
  }

  // ---- users -------------------------------------------------------------------------------------

  createUser(name: string, userId?: string): Promise<User> {
    return this.users.createUser(name, userId);
  }
  getUser(userId: string): Promise<User | undefined> {
    return this.users.getUser(userId);
  }
  findUserByName(name: string): Promise<User | undefined> {
    return this.users.findUserByName(name);
  }
  listUsers(): Promise<User[]> {
    return this.users.listUsers();
  }
  setUserDisabled(userId: string, disabled: boolean): Promise<boolean> {
    return this.users.setUserDisabled(userId, disabled);
  }
  setUserAdmin(userId: string, admin: boolean): Promise<boolean> {
    return this.users.setUserAdmin(userId, admin);
  }
  userForIdentity(identity: { issuer: string; subject: string; email?: string; emailVerified?: boolean }): Promise<User> {
    return this.users.userForIdentity(identity);
  }
  linkIdentity(identity: { issuer: string; subject: string }, userId: string): Promise<void> {
    return this.users.linkIdentity(identity, userId);
  }

  // ---- keys --------------------------------------------------------------------------------------

  setOpenRouterKey(userId: string, openRouterKey: string): Promise<void> {
    return this.keys.setOpenRouterKey(userId, openRouterKey);
  }
  getOpenRouterKey(userId: string): Promise<string | undefined> {
    return this.keys.getOpenRouterKey(userId);
  }
  removeOpenRouterKey(userId: string): Promise<void> {
    return this.keys.removeOpenRouterKey(userId);
  }
  acquireKeyLease(userId: string, o: KeyLeaseOptions): Promise<KeyLease> {
    return this.keys.acquireKeyLease(userId, o);
  }
  commitKeyLease(userId: string, leaseId: string, change: KeyChange): Promise<void> {
    return this.keys.commitKeyLease(userId, leaseId, change);
  }
  releaseKeyLease(userId: string, leaseId: string): Promise<void> {
    return this.keys.releaseKeyLease(userId, leaseId);
  }
  allowProvisioningAgain(userId: string): Promise<boolean> {
    return this.keys.allowProvisioningAgain(userId);
  }

  // ---- tokens and authentication -----------------------------------------------------------------

  issueToken(userId: string, options?: IssueTokenOptions): Promise<{ token: string; info: TokenInfo }> {
    return this.tokens.issueToken(userId, options);
  }
  getToken(tokenId: string): Promise<TokenInfo | undefined> {
    return this.tokens.getToken(tokenId);
  }
  verifiedTokenGrant(token: string): Promise<{ grantId: string; clientId: string } | undefined> {
    return this.tokens.verifiedTokenGrant(token);
  }
  listTokens(userId: string): Promise<TokenInfo[]> {
    return this.tokens.listTokens(userId);
  }
  revokeToken(tokenId: string): Promise<TokenInfo> {
    return this.tokens.revokeToken(tokenId);
  }
  authenticate(token: string): Promise<Principal | undefined> {
    return this.tokens.authenticate(token);
  }
  /** Waits for background writes (last-used stamps); call before closing the client. */
  settle(): Promise<void> {
    return this.tokens.settle();
  }

  // ---- OAuth grants ------------------------------------------------------------------------------

  createGrant(userId: string, details: { clientId: string; clientName: string; audience: string; scope: string }): Promise<Grant> {
    return this.grants.createGrant(userId, details);
  }
  getGrant(grantId: string): Promise<Grant | undefined> {
    return this.grants.getGrant(grantId);
  }
  listGrants(userId: string): Promise<Grant[]> {
    return this.grants.listGrants(userId);
  }
  revokeGrant(grantId: string): Promise<void> {
    return this.grants.revokeGrant(grantId);
  }
}
