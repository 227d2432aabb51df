/**
 * Users, their encrypted OpenRouter keys and their MCP tokens in the single DynamoDB table. Nothing
 * secret is ever stored in the clear: tokens as HMACs (by public token id), keys as AES-256-GCM
 * ciphertext bound to the user id, each tagged with the secret version that wrote it.
 */
import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import type { Keyring } from '../crypto/keyring.js';
import { boundCredentialMac, decryptForUser, encryptForUser, issueToken, parseToken, type CredentialClaims, type DerivedKeys } from '../crypto/secrets.js';
import type { Logger } from '../observability/logger.js';
import { checkCredentialMac, upgradeLegacyMac, type StoredCredential } from './credential-mac.js';
import { TABLE, keys } from './schema.js';

export interface User {
  userId: string;
  name: string;
  createdAt: string;
  hasKey: boolean;
  keyUpdatedAt?: string;
  /** A key was created for the user with the management key, and the operator has not allowed another since. */
  provisionUsed?: boolean;
  /** Set by the operator: the user's tokens and grants are refused; their data is kept. */
  disabledAt?: string;
  /** Local mode: the operator marked the user as an admin (`ormcp user admin`); the stack uses a Cognito group. */
  admin?: boolean;
}

export interface TokenInfo {
  tokenId: string;
  userId: string;
  label: string;
  kind: 'personal' | 'oauth';
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
  lastUsedAt?: string;
}

/** One client's authorization by one user: the OAuth access and refresh tokens issued for it live and die with it. */
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

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: 'user_exists' | 'no_such_user' | 'no_such_token' | 'invalid_input',
    message: string,
  ) {
    super(message);
  }
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const LABEL_MAX = 100;
/** Expired or revoked tokens stay listable for a while, then DynamoDB's TTL deletes them. */
const KEEP_AFTER_END_SECONDS = 30 * 24 * 3600;
/** lastUsedAt is written at most this often per token, so verification stays a read. */
const LAST_USED_GRANULARITY_MS = 15 * 60_000;
/** A name reservation without a profile older than this is left over from an interrupted create. */
const STALE_CLAIM_MS = 5 * 60_000;

/** The stored token: the listable fields plus what verification needs (never listed). */
interface TokenItem extends TokenInfo {
  /** The MAC bound to the token's claims (tokenClaims); a legacy item holds the MAC of `tokenId.secret` only. */
  hash: string;
  keyVersion: string;
  /** OAuth access tokens: the resource they are for, and the grant whose revocation ends them. */
  audience?: string;
  grantId?: string;
  clientId?: string;
}

export interface IssueTokenOptions {
  label?: string;
  expiresAt?: Date;
  /** An OAuth access token of `grant`, bound to the grant's audience; not listed among personal tokens. */
  grant?: Grant;
}

interface UserItem {
  userId: string;
  name: string;
  createdAt: string;
  keyCiphertext?: string;
  keyVersion?: string;
  keyUpdatedAt?: string;
  /** OpenRouter's hash of the key we created for this user that is still live at OpenRouter (not a secret, never shown). */
  provisionedKeyHash?: string;
  provisionUsed?: boolean;
  /** The per-user provisioning rate limit: a fixed window's start (epoch ms) and the starts counted in it. */
  provisionWindowStart?: number;
  provisionWindowCount?: number;
  /** Who may change the key right now (a provisioning or a replacement in progress), and until when (epoch ms). */
  keyLease?: string;
  keyLeaseUntil?: number;
  disabledAt?: string;
  admin?: boolean;
}

/** Why a key change could not start; nothing was written. */
export type KeyChangeRefusal = 'busy' | 'provision_used' | 'own_key' | 'rate_limited';

export class KeyChangeRefused extends Error {
  override readonly name = 'KeyChangeRefused';
  constructor(readonly reason: KeyChangeRefusal) {
    super(`key change refused: ${reason}`);
  }
}

export interface KeyLeaseOptions {
  /** How long the lease holds if its holder dies: longer than the OpenRouter calls it covers. */
  leaseMs: number;
  /** Taken to create a key with the management key: the once-only rule and the rate limit apply. */
  provision?: { allowAgain: boolean; maxPerWindow: number; windowMs: number };
}

/** A held lease on the user's key, and the state it was taken over. */
export interface KeyLease {
  leaseId: string;
  provisionedKeyHash?: string;
}

/** What a lease's holder stores: a key (with its hash when we created it), or no key. */
export type KeyChange = { key: string; provisionedKeyHash?: string } | { key: undefined };

export interface AccountStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  keyring: Keyring;
  logger?: Logger;
  now?: () => Date;
}

export class AccountStore implements Authenticator {
  private readonly db: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly keyring: Keyring;
  private readonly now: () => Date;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: AccountStoreOptions) {
    this.db = options.client;
    this.table = options.tableName;
    this.keyring = options.keyring;
    this.now = options.now ?? (() => new Date());
  }

  // ---- users -------------------------------------------------------------------------------------

  /**
   * Creates a user; with `userId` (e.g. a Cognito subject) the id is given, otherwise generated.
   * The name is claimed first (conditional put), then the profile written. No transactions: the embedded
   * DynamoDB (dynalite) lacks them, so each step is a single-item conditional write that is safe to retry.
   */
  async createUser(name: string, userId: string = randomUUID()): Promise<User> {
    if (!NAME_PATTERN.test(name)) throw new StoreError('invalid_input', 'a user name is 1–128 characters: letters, digits and . _ @ + -');
    const createdAt = this.now().toISOString();
    await this.claimName(name, userId);
    const item: UserItem & Record<string, unknown> = { ...keys.user(userId), type: 'user', userId, name, createdAt, gsi1pk: keys.usersIndex(), gsi1sk: name };
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (err) {
      // Give the name back: it must not stay pointing at someone else's id.
      await this.db
        .send(new DeleteCommand({ TableName: this.table, Key: keys.userName(name), ConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId } }))
        .catch(() => undefined);
      if (isConditionFailure(err)) throw new StoreError('user_exists', `a user with id ${userId} already exists`);
      throw err;
    }
    return { userId, name, createdAt, hasKey: false };
  }

  /**
   * Reserves a user name. A reservation whose holder never wrote a profile (a create interrupted between its
   * two writes) is taken over, but only once it is older than STALE_CLAIM_MS, so a create still in flight
   * is never overtaken by a concurrent one.
   */
  private async claimName(name: string, userId: string): Promise<void> {
    const claimedAt = this.now().toISOString();
    const claim = { ...keys.userName(name), type: 'username', userId, claimedAt };
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: claim, ConditionExpression: 'attribute_not_exists(pk)' }));
      return;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    const existing = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.userName(name), ConsistentRead: true }));
    const holder = existing.Item?.userId as string | undefined;
    if (holder === userId) return; // our own claim: a retried create with the same id
    // A claim without a time predates claim times; treat it as old.
    const heldSince = Date.parse(String(existing.Item?.claimedAt ?? '1970-01-01T00:00:00Z'));
    const stale = this.now().getTime() - heldSince > STALE_CLAIM_MS;
    if (!holder || !stale || (await this.getUserItem(holder))) throw new StoreError('user_exists', `a user named "${name}" already exists`);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: claim,
          ConditionExpression: 'userId = :holder',
          ExpressionAttributeValues: { ':holder': holder },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) throw new StoreError('user_exists', `a user named "${name}" already exists`);
      throw err;
    }
  }

  async getUser(userId: string): Promise<User | undefined> {
    const item = await this.getUserItem(userId);
    return item ? toUser(item) : undefined;
  }

  async findUserByName(name: string): Promise<User | undefined> {
    const res = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.userName(name), ConsistentRead: true }));
    const userId = res.Item?.userId as string | undefined;
    return userId ? this.getUser(userId) : undefined;
  }

  async listUsers(): Promise<User[]> {
    const items = await this.queryIndex(keys.usersIndex(), true);
    return items.map((i) => toUser(i as unknown as UserItem));
  }

  /** Disables (its tokens and grants stop authenticating) or re-enables a user; returns whether anything changed. */
  async setUserDisabled(userId: string, disabled: boolean): Promise<boolean> {
    return this.setUserFlag(userId, 'disabledAt', disabled ? this.now().toISOString() : undefined);
  }

  /** Marks a user as an admin of this server (local mode), or not; returns whether anything changed. */
  async setUserAdmin(userId: string, admin: boolean): Promise<boolean> {
    return this.setUserFlag(userId, 'admin', admin ? true : undefined);
  }

  private async setUserFlag(userId: string, name: 'disabledAt' | 'admin', value: string | true | undefined): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.user(userId),
          ...(value === undefined
            ? { UpdateExpression: 'REMOVE #f', ConditionExpression: 'attribute_exists(pk) AND attribute_exists(#f)' }
            : { UpdateExpression: 'SET #f = :v', ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#f)', ExpressionAttributeValues: { ':v': value } }),
          ExpressionAttributeNames: { '#f': name },
        }),
      );
      return true;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      if (!(await this.getUserItem(userId))) throw new StoreError('no_such_user', 'no such user');
      return false;
    }
  }

  /** Stores (or replaces) the user's OpenRouter key, encrypted under the current secret version. */
  async setOpenRouterKey(userId: string, openRouterKey: string): Promise<void> {
    if (!/^\S{8,512}$/.test(openRouterKey)) throw new StoreError('invalid_input', 'that does not look like an OpenRouter API key');
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.user(userId),
          UpdateExpression: 'SET keyCiphertext = :c, keyVersion = :v, keyUpdatedAt = :t',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':c': encryptForUser(this.keyring.current.dataKey, userId, openRouterKey), ':v': this.keyring.currentVersion, ':t': this.now().toISOString() },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) throw new StoreError('no_such_user', 'no such user');
      throw err;
    }
  }

  /** The user's decrypted key, for a server-side call made on the user's behalf (never shown to anyone). */
  async getOpenRouterKey(userId: string): Promise<string | undefined> {
    const user = await this.getUserItem(userId);
    return user ? this.decryptKey(user) : undefined;
  }

  async removeOpenRouterKey(userId: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({ TableName: this.table, Key: keys.user(userId), UpdateExpression: 'REMOVE keyCiphertext, keyVersion, keyUpdatedAt', ConditionExpression: 'attribute_exists(pk)' }),
    ).catch((err: unknown) => {
      if (isConditionFailure(err)) throw new StoreError('no_such_user', 'no such user');
      throw err;
    });
  }

  // ---- key changes under a lease (used when keys are created with the management key) ---------------

  /**
   * Takes the user's key lease with one conditional write, so two presses (or a press and a paste) never both
   * reach OpenRouter: the write succeeds only if no live lease exists. With `provision`, the once-only rule, the
   * user's own key and the rate limit are part of the same condition, and the start is counted in the same write.
   */
  async acquireKeyLease(userId: string, o: KeyLeaseOptions): Promise<KeyLease> {
    const item = await this.getUserItem(userId);
    if (!item) throw new StoreError('no_such_user', 'no such user');
    const now = this.now().getTime();
    const refused = keyLeaseRefusal(item, now, o);
    if (refused) throw new KeyChangeRefused(refused);
    const leaseId = randomUUID();
    const conditions = ['attribute_exists(pk)', '(attribute_not_exists(keyLease) OR keyLeaseUntil < :now)'];
    const set = ['keyLease = :l', 'keyLeaseUntil = :u'];
    const values: Record<string, unknown> = { ':l': leaseId, ':u': now + o.leaseMs, ':now': now };
    if (o.provision) {
      if (!o.provision.allowAgain) conditions.push('attribute_not_exists(provisionUsed)');
      conditions.push('(attribute_not_exists(keyCiphertext) OR attribute_exists(provisionedKeyHash))');
      // The window read above must still be the stored one: a concurrent start fails this write instead of double-counting.
      if (item.provisionWindowStart === undefined) {
        conditions.push('attribute_not_exists(provisionWindowStart)');
      } else {
        conditions.push('provisionWindowStart = :start');
        values[':start'] = item.provisionWindowStart;
      }
      if (windowOpen(item, now, o.provision.windowMs)) {
        conditions.push('provisionWindowCount < :max');
        set.push('provisionWindowCount = provisionWindowCount + :one');
        Object.assign(values, { ':max': o.provision.maxPerWindow, ':one': 1 });
      } else {
        set.push('provisionWindowStart = :now', 'provisionWindowCount = :one');
        values[':one'] = 1;
      }
    }
    try {
      await this.db.send(
        new UpdateCommand({ TableName: this.table, Key: keys.user(userId), UpdateExpression: `SET ${set.join(', ')}`, ConditionExpression: conditions.join(' AND '), ExpressionAttributeValues: values }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // Someone changed the item between the read and the write: say what stands in the way now.
      const current = await this.getUserItem(userId);
      if (!current) throw new StoreError('no_such_user', 'no such user');
      throw new KeyChangeRefused(keyLeaseRefusal(current, now, o) ?? 'busy');
    }
    return { leaseId, ...(item.provisionedKeyHash ? { provisionedKeyHash: item.provisionedKeyHash } : {}) };
  }

  /**
   * Stores the lease holder's change and ends the lease, only while the lease is still its own. The holder calls
   * this after OpenRouter deleted the previous created key, so the stored hash is replaced or cleared.
   */
  async commitKeyLease(userId: string, leaseId: string, change: KeyChange): Promise<void> {
    if (change.key !== undefined && !/^\S{8,512}$/.test(change.key)) throw new StoreError('invalid_input', 'that does not look like an OpenRouter API key');
    const values: Record<string, unknown> = { ':l': leaseId };
    const set: string[] = [];
    const remove = ['keyLease', 'keyLeaseUntil'];
    if (change.key === undefined) {
      remove.push('keyCiphertext', 'keyVersion', 'keyUpdatedAt', 'provisionedKeyHash');
    } else {
      set.push('keyCiphertext = :c', 'keyVersion = :v', 'keyUpdatedAt = :t');
      Object.assign(values, { ':c': encryptForUser(this.keyring.current.dataKey, userId, change.key), ':v': this.keyring.currentVersion, ':t': this.now().toISOString() });
      if (change.provisionedKeyHash) {
        set.push('provisionedKeyHash = :h', 'provisionUsed = :used');
        Object.assign(values, { ':h': change.provisionedKeyHash, ':used': true });
      } else {
        remove.push('provisionedKeyHash');
      }
    }
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.user(userId),
          UpdateExpression: `${set.length ? `SET ${set.join(', ')} ` : ''}REMOVE ${remove.join(', ')}`,
          ConditionExpression: 'keyLease = :l',
          ExpressionAttributeValues: values,
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) throw new KeyChangeRefused('busy');
      throw err;
    }
  }

  /** Ends a lease without changing the key (idempotent; a lease taken over meanwhile is left alone). */
  async releaseKeyLease(userId: string, leaseId: string): Promise<void> {
    await this.db
      .send(new UpdateCommand({ TableName: this.table, Key: keys.user(userId), UpdateExpression: 'REMOVE keyLease, keyLeaseUntil', ConditionExpression: 'keyLease = :l', ExpressionAttributeValues: { ':l': leaseId } }))
      .catch((err: unknown) => {
        if (!isConditionFailure(err)) throw err;
      });
  }

  /** Lets the user have a key created once more (the operator's `user reset-key`); false when that was already allowed. */
  async allowProvisioningAgain(userId: string): Promise<boolean> {
    try {
      const res = await this.db.send(
        new UpdateCommand({ TableName: this.table, Key: keys.user(userId), UpdateExpression: 'REMOVE provisionUsed', ConditionExpression: 'attribute_exists(pk)', ReturnValues: 'UPDATED_OLD' }),
      );
      return Boolean(res.Attributes?.provisionUsed);
    } catch (err) {
      if (isConditionFailure(err)) throw new StoreError('no_such_user', 'no such user');
      throw err;
    }
  }

  /** Removes the user and revokes every token they had; nothing of theirs authenticates afterwards. */
  async removeUser(userId: string): Promise<void> {
    const user = await this.getUserItem(userId);
    if (!user) throw new StoreError('no_such_user', 'no such user');
    await this.revokeAllTokens(userId);
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: keys.user(userId) }));
    await this.db
      .send(new DeleteCommand({ TableName: this.table, Key: keys.userName(user.name), ConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId } }))
      .catch((err: unknown) => {
        if (!isConditionFailure(err)) throw err;
      });
  }

  // ---- tokens ------------------------------------------------------------------------------------

  /** Issues a token: the returned `token` is the only copy of the secret and is never stored. */
  async issueToken(userId: string, options: IssueTokenOptions = {}): Promise<{ token: string; info: TokenInfo }> {
    const { grant } = options;
    const label = (options.label ?? (grant ? `OAuth: ${grant.clientName}`.slice(0, LABEL_MAX) : 'default')).trim();
    if (!label || label.length > LABEL_MAX || /[\u0000-\u001f]/.test(label)) throw new StoreError('invalid_input', `a token label is 1–${LABEL_MAX} printable characters`);
    if (options.expiresAt && !(options.expiresAt.getTime() > this.now().getTime())) throw new StoreError('invalid_input', 'the expiry must be a valid time in the future');
    if (grant && grant.userId !== userId) throw new StoreError('invalid_input', 'the grant belongs to another user');
    const issued = issueToken(this.keyring.current.tokenHmacKey);
    const createdAt = this.now().toISOString();
    const fields: Omit<TokenItem, 'hash'> = {
      tokenId: issued.tokenId,
      userId,
      keyVersion: this.keyring.currentVersion,
      label,
      kind: grant ? 'oauth' : 'personal',
      createdAt,
      ...(options.expiresAt ? { expiresAt: options.expiresAt.toISOString() } : {}),
      ...(grant ? { audience: grant.audience, grantId: grant.grantId, clientId: grant.clientId } : {}),
    };
    const item: TokenItem = { ...fields, hash: boundCredentialMac(this.keyring.current.tokenHmacKey, TOKEN_RECORD, issued.tokenId, issued.secret, tokenClaims(fields)) };
    // A token written for a user removed at the same moment never authenticates: authenticate() needs the user.
    if (!(await this.getUserItem(userId))) throw new StoreError('no_such_user', 'no such user');
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...keys.token(issued.tokenId),
          type: 'token',
          ...item,
          // OAuth access tokens are many and short-lived; the user sees (and revokes) their grant instead.
          ...(grant ? {} : { gsi1pk: keys.userTokensIndex(userId), gsi1sk: `${createdAt}#${issued.tokenId}` }),
          ...(options.expiresAt ? { [TABLE.ttlAttribute]: Math.floor(options.expiresAt.getTime() / 1000) + KEEP_AFTER_END_SECONDS } : {}),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { token: issued.token, info: toTokenInfo(item) };
  }

  async getToken(tokenId: string): Promise<TokenInfo | undefined> {
    const item = await this.getTokenItem(tokenId);
    return item ? toTokenInfo(item) : undefined;
  }

  /**
   * For an OAuth access token presented back (revocation): its grant and client when the token is genuine. Unlike
   * authenticate() it stamps nothing (no last-used time; only a legacy MAC is upgraded, as on any verification) and also
   * answers for an expired token.
   */
  async verifiedTokenGrant(token: string): Promise<{ grantId: string; clientId: string } | undefined> {
    const parsed = parseToken(token);
    const item = parsed ? await this.getTokenItem(parsed.tokenId) : undefined;
    const k = item ? this.keyring.get(item.keyVersion) : undefined;
    if (!parsed || !item?.grantId || !item.clientId || !k || !(await this.verifyTokenMac(item, parsed.secret, k))) return undefined;
    return { grantId: item.grantId, clientId: item.clientId };
  }

  async listTokens(userId: string): Promise<TokenInfo[]> {
    const items = await this.queryIndex(keys.userTokensIndex(userId), false);
    return items.map((i) => toTokenInfo(i as unknown as TokenItem));
  }

  /** Revokes a token (idempotent: revoking twice keeps the first revocation time). */
  async revokeToken(tokenId: string): Promise<TokenInfo> {
    const item = await this.markRevoked(keys.token(tokenId), `no token with id ${tokenId}`);
    return toTokenInfo(item as unknown as TokenItem);
  }

  /** Stamps `revokedAt` once (and when TTL may delete the item); returns the item as it now is. */
  private async markRevoked(key: Record<string, string>, notFound: string): Promise<Record<string, unknown>> {
    const now = this.now();
    try {
      const res = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :now), #ttl = if_not_exists(#ttl, :ttl)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#ttl': TABLE.ttlAttribute },
          ExpressionAttributeValues: { ':now': now.toISOString(), ':ttl': Math.floor(now.getTime() / 1000) + KEEP_AFTER_END_SECONDS },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return res.Attributes ?? {};
    } catch (err) {
      if (isConditionFailure(err)) throw new StoreError('no_such_token', notFound);
      throw err;
    }
  }

  /** Revokes every personal token and every OAuth grant (with its access and refresh tokens) of the user. */
  async revokeAllTokens(userId: string): Promise<number> {
    const [tokens, grants] = await Promise.all([this.listTokens(userId), this.listGrants(userId)]);
    const live = [...tokens.filter((t) => !t.revokedAt).map((t) => this.revokeToken(t.tokenId)), ...grants.filter((g) => !g.revokedAt).map((g) => this.revokeGrant(g.grantId))];
    await Promise.all(live);
    return live.length;
  }

  // ---- OAuth grants ------------------------------------------------------------------------------

  async createGrant(userId: string, details: { clientId: string; clientName: string; audience: string; scope: string }): Promise<Grant> {
    const grant: Grant = { grantId: randomUUID(), userId, ...details, clientName: details.clientName.slice(0, LABEL_MAX), createdAt: this.now().toISOString() };
    if (!(await this.getUserItem(userId))) throw new StoreError('no_such_user', 'no such user');
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...keys.grant(grant.grantId), type: 'grant', ...grant, gsi1pk: keys.userGrantsIndex(userId), gsi1sk: `${grant.createdAt}#${grant.grantId}` },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return grant;
  }

  async getGrant(grantId: string): Promise<Grant | undefined> {
    const res = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.grant(grantId), ConsistentRead: true }));
    return res.Item ? toGrant(res.Item) : undefined;
  }

  async listGrants(userId: string): Promise<Grant[]> {
    return (await this.queryIndex(keys.userGrantsIndex(userId), false)).map(toGrant);
  }

  /** Ends a grant: its access tokens stop authenticating and its refresh tokens stop refreshing (idempotent). */
  async revokeGrant(grantId: string): Promise<void> {
    await this.markRevoked(keys.grant(grantId), 'no such grant');
  }

  // ---- sign-in identities ------------------------------------------------------------------------

  /**
   * The user behind an identity-provider subject, created on first sign-in. The first sign-in with a verified
   * email adopts an existing user of that name that has no identity yet (so an operator can create users with the
   * CLI before they sign in); otherwise the email (or the subject) becomes the new user's name.
   */
  async userForIdentity(identity: { issuer: string; subject: string; email?: string; emailVerified?: boolean }): Promise<User> {
    const key = keys.identity(identity.issuer, identity.subject);
    const existing = await this.db.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
    const linked = existing.Item?.userId as string | undefined;
    if (linked) {
      const user = await this.getUser(linked);
      if (user) return user;
    }
    const email = identity.email?.toLowerCase();
    const nameCandidate = email && NAME_PATTERN.test(email) ? email : undefined;
    let user: User | undefined;
    if (nameCandidate && identity.emailVerified) {
      const named = await this.findUserByName(nameCandidate);
      if (named && !(await this.hasIdentity(named.userId))) user = named;
    }
    if (!user) {
      const name = nameCandidate && !(await this.findUserByName(nameCandidate)) ? nameCandidate : `user-${identity.subject.replace(/[^A-Za-z0-9._@+-]/g, '').slice(0, 40) || randomUUID()}`;
      user = await this.createUser(name);
    }
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...key, type: 'identity', userId: user.userId, issuer: identity.issuer, subject: identity.subject, linkedAt: this.now().toISOString() },
      }),
    );
    await this.db.send(
      new UpdateCommand({ TableName: this.table, Key: keys.user(user.userId), UpdateExpression: 'SET identityLinked = :t', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: { ':t': true } }),
    );
    return user;
  }

  /**
   * Links an identity to an existing user, for an identity provider that vouches for this table's own users (the
   * local sign-in of `npm start`), so their first sign-in lands on their account instead of creating one. An
   * identity already linked to another user is never moved.
   */
  async linkIdentity(identity: { issuer: string; subject: string }, userId: string): Promise<void> {
    if (!(await this.getUserItem(userId))) throw new StoreError('no_such_user', 'no such user');
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...keys.identity(identity.issuer, identity.subject), type: 'identity', userId, issuer: identity.issuer, subject: identity.subject, linkedAt: this.now().toISOString() },
          ConditionExpression: 'attribute_not_exists(pk) OR userId = :u',
          ExpressionAttributeValues: { ':u': userId },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) throw new StoreError('user_exists', 'this identity belongs to another user');
      throw err;
    }
    await this.db.send(
      new UpdateCommand({ TableName: this.table, Key: keys.user(userId), UpdateExpression: 'SET identityLinked = :t', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: { ':t': true } }),
    );
  }

  private async hasIdentity(userId: string): Promise<boolean> {
    const item = (await this.getUserItem(userId)) as (UserItem & { identityLinked?: boolean }) | undefined;
    return Boolean(item?.identityLinked);
  }

  // ---- authentication ----------------------------------------------------------------------------

  async authenticate(token: string): Promise<Principal | undefined> {
    const parsed = parseToken(token);
    if (!parsed) return undefined;
    const item = await this.getTokenItem(parsed.tokenId);
    if (!item || item.revokedAt) return undefined;
    const keysForToken = this.keyring.get(item.keyVersion);
    if (!keysForToken) {
      this.options.logger?.warn('token written under a secret version no longer in the secret', { token_id: item.tokenId, key_version: item.keyVersion });
      return undefined;
    }
    if (!(await this.verifyTokenMac(item, parsed.secret, keysForToken))) return undefined;
    const now = this.now();
    if (item.expiresAt && Date.parse(item.expiresAt) <= now.getTime()) return undefined;
    const [user, grant] = await Promise.all([this.getUserItem(item.userId), item.grantId ? this.getGrant(item.grantId) : undefined]);
    if (!user || user.disabledAt) return undefined;
    // The token's own claims are MAC-bound; a grant rewritten to another user or client must not vouch for it.
    if (item.grantId && (!grant || grant.revokedAt || grant.userId !== item.userId || grant.clientId !== item.clientId)) return undefined;
    this.touch(item, now);
    const openRouterKey = this.decryptKey(user);
    return {
      userId: user.userId,
      tokenId: item.tokenId,
      ...(openRouterKey ? { openRouterKey } : {}),
      ...(item.expiresAt ? { expiresAt: item.expiresAt } : {}),
      ...(item.audience ? { audience: item.audience } : {}),
    };
  }

  /**
   * Whether the presented secret and the item's claims match the item's MAC. A legacy MAC (id and secret only)
   * passes once and is upgraded in place to the bound form; when a concurrent request upgraded it first, the
   * fresh item is checked in its bound form (never the legacy one again).
   */
  private async verifyTokenMac(item: TokenItem, secret: string, k: DerivedKeys): Promise<boolean> {
    const verdict = checkCredentialMac(k, tokenCredential(item, secret));
    if (verdict !== 'legacy') return verdict === 'bound';
    if (await upgradeLegacyMac(this.db, this.table, keys.token(item.tokenId), 'hash', k, tokenCredential(item, secret))) return true;
    const fresh = await this.getTokenItem(item.tokenId);
    return Boolean(fresh && fresh.keyVersion === item.keyVersion && checkCredentialMac(k, tokenCredential(fresh, secret)) === 'bound');
  }

  /** The user's key, or undefined when none is stored or it cannot be decrypted (then the user must set it again). */
  private decryptKey(user: UserItem): string | undefined {
    if (!user.keyCiphertext) return undefined;
    const k = this.keyring.get(user.keyVersion ?? '');
    try {
      if (!k) throw new Error('unknown secret version');
      return decryptForUser(k.dataKey, user.userId, user.keyCiphertext);
    } catch {
      this.options.logger?.error('stored OpenRouter key cannot be decrypted; the user must set it again', { user_id: user.userId, key_version: user.keyVersion });
      return undefined;
    }
  }

  /** Waits for background writes (last-used stamps); call before closing the client. */
  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** Records last use at most every LAST_USED_GRANULARITY_MS; never delays or fails authentication. */
  private touch(item: TokenItem, now: Date): void {
    if (item.kind === 'oauth') return; // short-lived and never listed: no one reads their last use
    if (item.lastUsedAt && now.getTime() - Date.parse(item.lastUsedAt) < LAST_USED_GRANULARITY_MS) return;
    const cutoff = new Date(now.getTime() - LAST_USED_GRANULARITY_MS).toISOString();
    const write = this.db
      .send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.token(item.tokenId),
          UpdateExpression: 'SET lastUsedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :cutoff)',
          ExpressionAttributeValues: { ':now': now.toISOString(), ':cutoff': cutoff },
        }),
      )
      .then(() => undefined, () => undefined)
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  // ---- item access -------------------------------------------------------------------------------

  private async getTokenItem(tokenId: string): Promise<TokenItem | undefined> {
    const res = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.token(tokenId), ConsistentRead: true }));
    return res.Item as TokenItem | undefined;
  }

  private async getUserItem(userId: string): Promise<UserItem | undefined> {
    const res = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.user(userId), ConsistentRead: true }));
    return res.Item as UserItem | undefined;
  }

  private async queryIndex(partition: string, ascending: boolean): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: TABLE.index.name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': TABLE.index.partitionKey },
          ExpressionAttributeValues: { ':pk': partition },
          ScanIndexForward: ascending,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...((res.Items ?? []) as Record<string, unknown>[]));
      start = res.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

const TOKEN_RECORD = 'token';

/** Everything a token item says it grants: bound into its MAC, so a table write cannot move or widen it. */
function tokenClaims(item: Omit<TokenItem, 'hash'>): CredentialClaims {
  return { userId: item.userId, kind: item.kind, grantId: item.grantId, audience: item.audience, clientId: item.clientId, expiresAt: item.expiresAt };
}

function tokenCredential(item: TokenItem, secret: string): StoredCredential {
  return { record: TOKEN_RECORD, id: item.tokenId, secret, claims: tokenClaims(item), mac: item.hash };
}

function toUser(item: UserItem): User {
  return {
    userId: item.userId,
    name: item.name,
    createdAt: item.createdAt,
    hasKey: Boolean(item.keyCiphertext),
    ...(item.keyUpdatedAt ? { keyUpdatedAt: item.keyUpdatedAt } : {}),
    ...(item.provisionUsed ? { provisionUsed: true } : {}),
    ...(item.disabledAt ? { disabledAt: item.disabledAt } : {}),
    ...(item.admin ? { admin: true } : {}),
  };
}

/** Why a key lease cannot be taken over this state, if it cannot. */
function keyLeaseRefusal(item: UserItem, now: number, o: KeyLeaseOptions): KeyChangeRefusal | undefined {
  if (item.keyLease && (item.keyLeaseUntil ?? 0) >= now) return 'busy';
  if (!o.provision) return undefined;
  if (item.provisionUsed && !o.provision.allowAgain) return 'provision_used';
  // A key the user brought is theirs to remove; creating one must not silently replace it.
  if (item.keyCiphertext && !item.provisionedKeyHash) return 'own_key';
  if (windowOpen(item, now, o.provision.windowMs) && (item.provisionWindowCount ?? 0) >= o.provision.maxPerWindow) return 'rate_limited';
  return undefined;
}

function windowOpen(item: UserItem, now: number, windowMs: number): boolean {
  return item.provisionWindowStart !== undefined && now - item.provisionWindowStart < windowMs && item.provisionWindowCount !== undefined;
}

/** The listable view of a token: never the hash. */
function toTokenInfo(item: TokenItem): TokenInfo {
  return {
    tokenId: item.tokenId,
    userId: item.userId,
    label: item.label,
    kind: item.kind,
    createdAt: item.createdAt,
    ...(item.expiresAt ? { expiresAt: item.expiresAt } : {}),
    ...(item.revokedAt ? { revokedAt: item.revokedAt } : {}),
    ...(item.lastUsedAt ? { lastUsedAt: item.lastUsedAt } : {}),
  };
}

function toGrant(item: Record<string, unknown>): Grant {
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

export function isConditionFailure(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === 'ConditionalCheckFailedException';
}
