/**
 * MCP tokens (personal tokens and OAuth access tokens) and authentication. A token is stored as a MAC bound to its
 * claims (by public token id), never in the clear, tagged with the secret version that wrote it.
 *
 * Authentication reads the token, its user (for the OpenRouter key) and, for an OAuth access token, its grant. The
 * user and grant ids are on the token item, so the first check of a token in a process that did not issue it takes two
 * round trips; the ids are then remembered (they are MAC-bound and never change for a token), and every later check reads all three
 * items in ONE BatchGet. Only which items to read is remembered, never what they say: revocation, a removed user or
 * a replaced key is seen on the very next uncached check.
 */
import type { Authenticator, Principal } from '../auth/authenticator.js';
import type { Keyring } from '../crypto/keyring.js';
import { boundCredentialMac, issueToken, parseToken, type CredentialClaims, type DerivedKeys } from '../crypto/secrets.js';
import type { Logger } from '../observability/logger.js';
import { checkCredentialMac, upgradeLegacyMac, type StoredCredential } from './credential-mac.js';
import { KEEP_AFTER_END_SECONDS, LABEL_MAX, toGrant, type Grant, type GrantStore } from './grant-store.js';
import type { KeyStore } from './key-store.js';
import { keys } from './schema.js';
import { StoreError } from './store-error.js';
import { ConditionFailedError, expiresAfter, type Item, type ItemKey, type Table } from './table.js';
import type { UserItem, UserStore } from './user-store.js';

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

export interface IssueTokenOptions {
  label?: string;
  expiresAt?: Date;
  /** An OAuth access token of `grant`, bound to the grant's audience; not listed among personal tokens. */
  grant?: Grant;
}

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

/** Which user (and grant) a verified token belongs to: MAC-bound claims, so they never change for a token id. */
interface TokenBinding {
  userId: string;
  grantId?: string;
}

/** lastUsedAt is written at most this often per token, so verification stays a read. */
const LAST_USED_GRANULARITY_MS = 15 * 60_000;
/** Bounds the remembered bindings (a few dozen bytes each); the oldest is forgotten first. */
const MAX_BINDINGS = 10_000;
const TOKEN_RECORD = 'token';

export interface TokenStoreParts {
  table: Table;
  users: UserStore;
  grants: GrantStore;
  keys: KeyStore;
  keyring: Keyring;
  now: () => Date;
  logger?: Logger;
}

export class TokenStore implements Authenticator {
  private readonly pending = new Set<Promise<void>>();
  private readonly bindings = new Map<string, TokenBinding>();

  constructor(private readonly p: TokenStoreParts) {}

  /** Issues a token: the returned `token` is the only copy of the secret and is never stored. */
  async issueToken(userId: string, options: IssueTokenOptions = {}): Promise<{ token: string; info: TokenInfo }> {
    const { grant } = options;
    const now = this.p.now();
    const label = (options.label ?? (grant ? `OAuth: ${grant.clientName}`.slice(0, LABEL_MAX) : 'default')).trim();
    if (!label || label.length > LABEL_MAX || /[\u0000-\u001f]/.test(label)) throw new StoreError('invalid_input', `a token label is 1–${LABEL_MAX} printable characters`);
    if (options.expiresAt && !(options.expiresAt.getTime() > now.getTime())) throw new StoreError('invalid_input', 'the expiry must be a valid time in the future');
    if (grant && grant.userId !== userId) throw new StoreError('invalid_input', 'the grant belongs to another user');
    const issued = issueToken(this.p.keyring.current.tokenHmacKey);
    const createdAt = now.toISOString();
    const fields: Omit<TokenItem, 'hash'> = {
      tokenId: issued.tokenId,
      userId,
      keyVersion: this.p.keyring.currentVersion,
      label,
      kind: grant ? 'oauth' : 'personal',
      createdAt,
      ...(options.expiresAt ? { expiresAt: options.expiresAt.toISOString() } : {}),
      ...(grant ? { audience: grant.audience, grantId: grant.grantId, clientId: grant.clientId } : {}),
    };
    const item: TokenItem = { ...fields, hash: boundCredentialMac(this.p.keyring.current.tokenHmacKey, TOKEN_RECORD, issued.tokenId, issued.secret, tokenClaims(fields)) };
    // A token written for a user removed at the same moment never authenticates: authenticate() needs the user.
    await this.p.users.requireUserItem(userId);
    await this.p.table.create({
      ...keys.token(issued.tokenId),
      type: 'token',
      ...item,
      // OAuth access tokens are many and short-lived; the user sees (and revokes) their grant instead.
      ...(grant ? {} : { gsi1pk: keys.userTokensIndex(userId), gsi1sk: `${createdAt}#${issued.tokenId}` }),
      ...(options.expiresAt ? expiresAfter(options.expiresAt, KEEP_AFTER_END_SECONDS) : {}),
    });
    // Its first check here (an OAuth client's next call, or the token `npm start` prints) is then one round trip too.
    this.remember(item);
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
    const k = item ? this.p.keyring.get(item.keyVersion) : undefined;
    if (!parsed || !item?.grantId || !item.clientId || !k || !(await this.verifyTokenMac(item, parsed.secret, k))) return undefined;
    return { grantId: item.grantId, clientId: item.clientId };
  }

  async listTokens(userId: string): Promise<TokenInfo[]> {
    const items = await this.p.table.query({ partition: keys.userTokensIndex(userId), ascending: false });
    return items.map((i) => toTokenInfo(i as unknown as TokenItem));
  }

  /** Revokes a token (idempotent: revoking twice keeps the first revocation time). */
  async revokeToken(tokenId: string): Promise<TokenInfo> {
    try {
      return toTokenInfo((await this.p.table.markRevoked(keys.token(tokenId), this.p.now(), KEEP_AFTER_END_SECONDS)) as unknown as TokenItem);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new StoreError('no_such_token', `no token with id ${tokenId}`);
      throw err;
    }
  }

  // ---- authentication ----------------------------------------------------------------------------

  async authenticate(token: string): Promise<Principal | undefined> {
    const parsed = parseToken(token);
    if (!parsed) return undefined;
    const known = this.bindings.get(parsed.tokenId);
    const read = await this.readForAuthentication(parsed.tokenId, known);
    const item = read.token;
    if (!item || item.revokedAt) return undefined;
    const keysForToken = this.p.keyring.get(item.keyVersion);
    if (!keysForToken) {
      this.p.logger?.warn('token written under a secret version no longer in the secret', { token_id: item.tokenId, key_version: item.keyVersion });
      return undefined;
    }
    if (!(await this.verifyTokenMac(item, parsed.secret, keysForToken))) return undefined;
    const now = this.p.now();
    if (item.expiresAt && Date.parse(item.expiresAt) <= now.getTime()) return undefined;
    let { user, grant } = read;
    if (!known || known.userId !== item.userId || known.grantId !== item.grantId) {
      // The first check of this token here (or a binding that no longer matches): read its user and grant now.
      [user, grant] = await Promise.all([this.p.users.getUserItem(item.userId), item.grantId ? this.p.grants.getGrant(item.grantId) : undefined]);
      this.remember(item);
    }
    // A disabled user's tokens (personal and OAuth) stop working at once; their data is kept.
    if (!user || user.disabledAt) return undefined;
    // The token's own claims are MAC-bound; a grant rewritten to another user or client must not vouch for it.
    if (item.grantId && (!grant || grant.revokedAt || grant.userId !== item.userId || grant.clientId !== item.clientId)) return undefined;
    this.touch(item, now);
    const openRouterKey = this.p.keys.decryptKey(user);
    return {
      userId: user.userId,
      tokenId: item.tokenId,
      ...(openRouterKey ? { openRouterKey } : {}),
      ...(item.expiresAt ? { expiresAt: item.expiresAt } : {}),
      ...(item.audience ? { audience: item.audience } : {}),
      // Checked against the grant above, so the ledger can name the client a call came through.
      ...(item.grantId && item.clientId ? { clientId: item.clientId } : {}),
    };
  }

  /** The token item, and when its binding is known, its user and grant items read in the same round trip. */
  private async readForAuthentication(tokenId: string, known: TokenBinding | undefined): Promise<{ token?: TokenItem; user?: UserItem; grant?: Grant }> {
    if (!known) return { token: await this.getTokenItem(tokenId) };
    const tokenKey = keys.token(tokenId);
    const userKey = keys.user(known.userId);
    const grantKey = known.grantId ? keys.grant(known.grantId) : undefined;
    const items = await this.p.table.batchGet([tokenKey, userKey, ...(grantKey ? [grantKey] : [])]);
    const find = (k: ItemKey): Item | undefined => items.find((i) => i.pk === k.pk && i.sk === k.sk);
    const grant = grantKey ? find(grantKey) : undefined;
    return { token: find(tokenKey) as TokenItem | undefined, user: find(userKey) as UserItem | undefined, ...(grant ? { grant: toGrant(grant) } : {}) };
  }

  /** Remembers a token's binding, once verified or issued here (bounded; the oldest is forgotten first). */
  private remember(item: TokenItem): void {
    this.bindings.delete(item.tokenId);
    if (this.bindings.size >= MAX_BINDINGS) this.bindings.delete(this.bindings.keys().next().value!);
    this.bindings.set(item.tokenId, { userId: item.userId, ...(item.grantId ? { grantId: item.grantId } : {}) });
  }

  /**
   * Whether the presented secret and the item's claims match the item's MAC. A legacy MAC (id and secret only)
   * passes once and is upgraded in place to the bound form; when a concurrent request upgraded it first, the
   * fresh item is checked in its bound form (never the legacy one again).
   */
  private async verifyTokenMac(item: TokenItem, secret: string, k: DerivedKeys): Promise<boolean> {
    const verdict = checkCredentialMac(k, tokenCredential(item, secret));
    if (verdict !== 'legacy') return verdict === 'bound';
    if (await upgradeLegacyMac(this.p.table, keys.token(item.tokenId), 'hash', k, tokenCredential(item, secret))) return true;
    const fresh = await this.getTokenItem(item.tokenId);
    return Boolean(fresh && fresh.keyVersion === item.keyVersion && checkCredentialMac(k, tokenCredential(fresh, secret)) === 'bound');
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
    const write = this.p.table
      .update({
        key: keys.token(item.tokenId),
        update: 'SET lastUsedAt = :now',
        condition: 'attribute_exists(pk) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :cutoff)',
        values: { ':now': now.toISOString(), ':cutoff': cutoff },
      })
      .then(() => undefined, () => undefined)
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  private async getTokenItem(tokenId: string): Promise<TokenItem | undefined> {
    return (await this.p.table.get(keys.token(tokenId))) as TokenItem | undefined;
  }
}

/** Everything a token item says it grants: bound into its MAC, so a table write cannot move or widen it. */
function tokenClaims(item: Omit<TokenItem, 'hash'>): CredentialClaims {
  return { userId: item.userId, kind: item.kind, grantId: item.grantId, audience: item.audience, clientId: item.clientId, expiresAt: item.expiresAt };
}

function tokenCredential(item: TokenItem, secret: string): StoredCredential {
  return { record: TOKEN_RECORD, id: item.tokenId, secret, claims: tokenClaims(item), mac: item.hash };
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
