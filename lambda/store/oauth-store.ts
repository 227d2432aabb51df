/**
 * The authorization server's own records in the single table: registered clients (DCR), authorization codes
 * and refresh tokens. Secrets are stored only as keyed digests: client secrets and refresh tokens by public
 * id + HMAC (as MCP tokens), codes under the digest of the code itself. Grants and access tokens belong to
 * the account store (they are the user's credentials; grant-store.ts); this store only references them. Both go
 * through the same Table helper.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Keyring } from '../crypto/keyring.js';
import { boundCredentialMac, issueToken, lookupDigest, parseToken, verifyBoundCredentialMac, type CredentialClaims } from '../crypto/secrets.js';
import { checkCredentialMac, upgradeLegacyMac, type StoredCredential } from './credential-mac.js';
import { TABLE, keys } from './schema.js';
import { Table, expiresAfter } from './table.js';

export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

export interface RegisteredClient {
  clientId: string;
  clientName: string;
  redirectUris: string[];
  tokenEndpointAuthMethod: ClientAuthMethod;
  grantTypes: string[];
  clientUri?: string;
  createdAt: string;
}

interface ClientItem extends RegisteredClient {
  secretHash?: string;
  keyVersion?: string;
}

export interface CodeRecord {
  clientId: string;
  userId: string;
  redirectUri: string;
  codeChallenge: string;
  resource: string;
  scope: string;
  expiresAt: string;
  redeemedAt?: string;
  grantId?: string;
}

export interface RefreshRecord {
  tokenId: string;
  grantId: string;
  clientId: string;
  userId: string;
  expiresAt: string;
  usedAt?: string;
}

/** Registrations nobody uses expire; every token exchange pushes this out again. */
const CLIENT_IDLE_SECONDS = 180 * 24 * 3600;
const KEEP_AFTER_END_SECONDS = 7 * 24 * 3600;

export interface OAuthStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  keyring: Keyring;
  now?: () => Date;
}

export class OAuthStore {
  private readonly table: Table;
  private readonly keyring: Keyring;
  private readonly now: () => Date;

  constructor(options: OAuthStoreOptions) {
    this.table = new Table({ client: options.client, tableName: options.tableName });
    this.keyring = options.keyring;
    this.now = options.now ?? (() => new Date());
  }

  // ---- clients -----------------------------------------------------------------------------------

  /** Stores a validated registration; a confidential client gets its secret back once. */
  async registerClient(details: Omit<RegisteredClient, 'clientId' | 'createdAt'>): Promise<{ client: RegisteredClient; clientSecret?: string }> {
    const clientId = `dcr_${randomBytes(16).toString('base64url')}`;
    const client: RegisteredClient = { clientId, createdAt: this.now().toISOString(), ...details };
    let clientSecret: string | undefined;
    const item: ClientItem = { ...client };
    if (details.tokenEndpointAuthMethod !== 'none') {
      clientSecret = randomBytes(32).toString('base64url');
      item.secretHash = lookupDigest(this.keyring.current.tokenHmacKey, `client-secret:${clientId}`, clientSecret);
      item.keyVersion = this.keyring.currentVersion;
    }
    await this.table.create({ ...keys.oauthClient(clientId), type: 'oauth-client', ...item, ...expiresAfter(this.now(), CLIENT_IDLE_SECONDS) });
    return { client, ...(clientSecret ? { clientSecret } : {}) };
  }

  async getClient(clientId: string): Promise<RegisteredClient | undefined> {
    const item = await this.getClientItem(clientId);
    return item ? toClient(item) : undefined;
  }

  /** Whether `secret` is the registered client's secret (constant time). */
  async verifyClientSecret(clientId: string, secret: string): Promise<boolean> {
    const item = await this.getClientItem(clientId);
    const k = item?.keyVersion ? this.keyring.get(item.keyVersion) : undefined;
    if (!item?.secretHash || !k) return false;
    const expected = Buffer.from(lookupDigest(k.tokenHmacKey, `client-secret:${clientId}`, secret));
    const stored = Buffer.from(item.secretHash);
    return expected.length === stored.length && timingSafeEqual(expected, stored);
  }

  /** Keeps a registration alive while it is used. */
  async touchClient(clientId: string): Promise<void> {
    await this.table.tryUpdate({
      key: keys.oauthClient(clientId),
      update: 'SET #ttl = :ttl',
      condition: 'attribute_exists(pk)',
      names: { '#ttl': TABLE.ttlAttribute },
      values: { ':ttl': expiresAfter(this.now(), CLIENT_IDLE_SECONDS)[TABLE.ttlAttribute] },
    });
  }

  // ---- authorization codes -----------------------------------------------------------------------

  /**
   * Stores a code's context and returns the code. Only its digest is kept, with a MAC over the code and everything
   * it will grant (user, client, redirect URI, PKCE challenge, resource, scope, expiry), so a table write cannot
   * re-home or widen it.
   */
  async createCode(record: Omit<CodeRecord, 'redeemedAt' | 'grantId'>): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    const digest = this.codeDigest(code);
    const binding = boundCredentialMac(this.keyring.current.tokenHmacKey, CODE_RECORD, digest, code, codeClaims(record));
    await this.table.create({ ...keys.authorizationCode(digest), type: 'oauth-code', ...record, binding, ...expiresAfter(Date.parse(record.expiresAt), KEEP_AFTER_END_SECONDS) });
    return code;
  }

  async getCode(code: string): Promise<CodeRecord | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(code)) return undefined;
    const digest = this.codeDigest(code);
    const item = await this.table.get(keys.authorizationCode(digest));
    if (!item) return undefined;
    const record = toCode(item);
    // A code without a binding predates bound MACs: codes live minutes, so it is refused rather than migrated.
    const binding = typeof item.binding === 'string' ? item.binding : '';
    return verifyBoundCredentialMac(this.keyring.current.tokenHmacKey, CODE_RECORD, digest, code, codeClaims(record), binding) ? record : undefined;
  }

  /** Marks the code used by `grantId`; false when it was already used (a replay). */
  async redeemCode(code: string, grantId: string): Promise<boolean> {
    return this.table.tryUpdate({
      key: keys.authorizationCode(this.codeDigest(code)),
      update: 'SET redeemedAt = :now, grantId = :g',
      condition: 'attribute_exists(pk) AND attribute_not_exists(redeemedAt)',
      values: { ':now': this.now().toISOString(), ':g': grantId },
    });
  }

  // ---- refresh tokens ----------------------------------------------------------------------------

  async issueRefreshToken(details: Omit<RefreshRecord, 'tokenId' | 'usedAt'>): Promise<string> {
    const issued = issueToken(this.keyring.current.tokenHmacKey, 'ormcr');
    await this.table.create({
      ...keys.refreshToken(issued.tokenId),
      type: 'oauth-refresh',
      tokenId: issued.tokenId,
      ...details,
      hash: boundCredentialMac(this.keyring.current.tokenHmacKey, REFRESH_RECORD, issued.tokenId, issued.secret, refreshClaims(details)),
      keyVersion: this.keyring.currentVersion,
      ...expiresAfter(Date.parse(details.expiresAt), KEEP_AFTER_END_SECONDS),
    });
    return issued.token;
  }

  /**
   * The refresh token's record when the token is genuine and its item's claims are the ones its MAC binds (whether
   * or not it was used or expired). A legacy MAC passes once and is upgraded in place (see credential-mac.ts).
   */
  async getRefreshToken(token: string): Promise<RefreshRecord | undefined> {
    const parsed = parseToken(token, 'ormcr');
    if (!parsed) return undefined;
    const item = await this.getRefreshItem(parsed.tokenId);
    const k = item ? this.keyring.get(item.keyVersion) : undefined;
    if (!item || !k) return undefined;
    const verdict = checkCredentialMac(k, refreshCredential(item, parsed.secret));
    if (verdict === 'invalid') return undefined;
    if (verdict === 'legacy' && !(await upgradeLegacyMac(this.table, keys.refreshToken(item.tokenId), 'hash', k, refreshCredential(item, parsed.secret)))) {
      // Upgraded concurrently: only the bound form counts now.
      const fresh = await this.getRefreshItem(parsed.tokenId);
      if (!fresh || fresh.keyVersion !== item.keyVersion || checkCredentialMac(k, refreshCredential(fresh, parsed.secret)) !== 'bound') return undefined;
      return toRefresh(fresh);
    }
    return toRefresh(item);
  }

  private async getRefreshItem(tokenId: string): Promise<RefreshItem | undefined> {
    return (await this.table.get(keys.refreshToken(tokenId))) as RefreshItem | undefined;
  }

  /** Marks a refresh token used (rotation); false when it already was (a reuse). */
  async useRefreshToken(tokenId: string): Promise<boolean> {
    return this.table.tryUpdate({
      key: keys.refreshToken(tokenId),
      update: 'SET usedAt = :now',
      condition: 'attribute_exists(pk) AND attribute_not_exists(usedAt)',
      values: { ':now': this.now().toISOString() },
    });
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private codeDigest(code: string): string {
    return lookupDigest(this.keyring.current.tokenHmacKey, 'authorization-code', code);
  }

  private async getClientItem(clientId: string): Promise<ClientItem | undefined> {
    if (!/^dcr_[A-Za-z0-9_-]{22}$/.test(clientId)) return undefined;
    return (await this.table.get(keys.oauthClient(clientId))) as ClientItem | undefined;
  }
}

const CODE_RECORD = 'code';
const REFRESH_RECORD = 'refresh';

interface RefreshItem extends RefreshRecord {
  /** MAC bound to refreshClaims; a legacy item holds the MAC of `tokenId.secret` only. */
  hash: string;
  keyVersion: string;
}

/** Everything a code grants, bound into its MAC. */
function codeClaims(c: Omit<CodeRecord, 'redeemedAt' | 'grantId'>): CredentialClaims {
  return { clientId: c.clientId, userId: c.userId, redirectUri: c.redirectUri, codeChallenge: c.codeChallenge, resource: c.resource, scope: c.scope, expiresAt: c.expiresAt };
}

/** Everything a refresh token grants, bound into its MAC. */
function refreshClaims(r: Omit<RefreshRecord, 'tokenId' | 'usedAt'>): CredentialClaims {
  return { grantId: r.grantId, clientId: r.clientId, userId: r.userId, expiresAt: r.expiresAt };
}

function refreshCredential(item: RefreshItem, secret: string): StoredCredential {
  return { record: REFRESH_RECORD, id: item.tokenId, secret, claims: refreshClaims(item), mac: item.hash };
}

function toRefresh(item: RefreshItem): RefreshRecord {
  return {
    tokenId: item.tokenId,
    grantId: item.grantId,
    clientId: item.clientId,
    userId: item.userId,
    expiresAt: item.expiresAt,
    ...(item.usedAt ? { usedAt: item.usedAt } : {}),
  };
}

function toClient(item: ClientItem): RegisteredClient {
  return {
    clientId: item.clientId,
    clientName: item.clientName,
    redirectUris: item.redirectUris,
    tokenEndpointAuthMethod: item.tokenEndpointAuthMethod,
    grantTypes: item.grantTypes,
    ...(item.clientUri ? { clientUri: item.clientUri } : {}),
    createdAt: item.createdAt,
  };
}

function toCode(item: Record<string, unknown>): CodeRecord {
  const c = item as unknown as CodeRecord;
  return {
    clientId: c.clientId,
    userId: c.userId,
    redirectUri: c.redirectUri,
    codeChallenge: c.codeChallenge,
    resource: c.resource,
    scope: c.scope,
    expiresAt: c.expiresAt,
    ...(c.redeemedAt ? { redeemedAt: c.redeemedAt } : {}),
    ...(c.grantId ? { grantId: c.grantId } : {}),
  };
}
