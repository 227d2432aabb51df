/**
 * Each user's OpenRouter key, stored on their profile item as AES-256-GCM ciphertext bound to the user id and tagged
 * with the secret version that wrote it; and the lease under which a key is created with the management key or
 * replaced, so two presses never both reach OpenRouter.
 */
import { randomUUID } from 'node:crypto';
import type { Keyring } from '../crypto/keyring.js';
import { decryptForUser, encryptForUser } from '../crypto/secrets.js';
import type { Logger } from '../observability/logger.js';
import { keys } from './schema.js';
import { StoreError } from './store-error.js';
import { ConditionFailedError, type Table } from './table.js';
import { noSuchUser, type UserItem, type UserStore } from './user-store.js';

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

const KEY_PATTERN = /^\S{8,512}$/;

export class KeyStore {
  constructor(
    private readonly table: Table,
    private readonly users: UserStore,
    private readonly keyring: Keyring,
    private readonly now: () => Date,
    private readonly logger?: Logger,
  ) {}

  /** Stores (or replaces) the user's OpenRouter key, encrypted under the current secret version. */
  async setOpenRouterKey(userId: string, openRouterKey: string): Promise<void> {
    if (!KEY_PATTERN.test(openRouterKey)) throw new StoreError('invalid_input', 'that does not look like an OpenRouter API key');
    await this.updateUser({
      key: keys.user(userId),
      update: 'SET keyCiphertext = :c, keyVersion = :v, keyUpdatedAt = :t',
      condition: 'attribute_exists(pk)',
      values: { ':c': this.encrypt(userId, openRouterKey), ':v': this.keyring.currentVersion, ':t': this.now().toISOString() },
    });
  }

  /** The user's decrypted key, for a server-side call made on the user's behalf (never shown to anyone). */
  async getOpenRouterKey(userId: string): Promise<string | undefined> {
    const user = await this.users.getUserItem(userId);
    return user ? this.decryptKey(user) : undefined;
  }

  async removeOpenRouterKey(userId: string): Promise<void> {
    await this.updateUser({ key: keys.user(userId), update: 'REMOVE keyCiphertext, keyVersion, keyUpdatedAt', condition: 'attribute_exists(pk)' });
  }

  /** The user's key, or undefined when none is stored or it cannot be decrypted (then the user must set it again). */
  decryptKey(user: UserItem): string | undefined {
    if (!user.keyCiphertext) return undefined;
    const k = this.keyring.get(user.keyVersion ?? '');
    try {
      if (!k) throw new Error('unknown secret version');
      return decryptForUser(k.dataKey, user.userId, user.keyCiphertext);
    } catch {
      this.logger?.error('stored OpenRouter key cannot be decrypted; the user must set it again', { user_id: user.userId, key_version: user.keyVersion });
      return undefined;
    }
  }

  // ---- key changes under a lease (used when keys are created with the management key) ---------------

  /**
   * Takes the user's key lease with one conditional write, so two presses (or a press and a paste) never both
   * reach OpenRouter: the write succeeds only if no live lease exists. With `provision`, the once-only rule, the
   * user's own key and the rate limit are part of the same condition, and the start is counted in the same write.
   */
  async acquireKeyLease(userId: string, o: KeyLeaseOptions): Promise<KeyLease> {
    const item = await this.users.requireUserItem(userId);
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
    if (!(await this.table.tryUpdate({ key: keys.user(userId), update: `SET ${set.join(', ')}`, condition: conditions.join(' AND '), values }))) {
      // Someone changed the item between the read and the write: say what stands in the way now.
      const current = await this.users.requireUserItem(userId);
      throw new KeyChangeRefused(keyLeaseRefusal(current, now, o) ?? 'busy');
    }
    return { leaseId, ...(item.provisionedKeyHash ? { provisionedKeyHash: item.provisionedKeyHash } : {}) };
  }

  /**
   * Stores the lease holder's change and ends the lease, only while the lease is still its own. The holder calls
   * this after OpenRouter deleted the previous created key, so the stored hash is replaced or cleared.
   */
  async commitKeyLease(userId: string, leaseId: string, change: KeyChange): Promise<void> {
    if (change.key !== undefined && !KEY_PATTERN.test(change.key)) throw new StoreError('invalid_input', 'that does not look like an OpenRouter API key');
    const values: Record<string, unknown> = { ':l': leaseId };
    const set: string[] = [];
    const remove = ['keyLease', 'keyLeaseUntil'];
    if (change.key === undefined) {
      remove.push('keyCiphertext', 'keyVersion', 'keyUpdatedAt', 'provisionedKeyHash');
    } else {
      set.push('keyCiphertext = :c', 'keyVersion = :v', 'keyUpdatedAt = :t');
      Object.assign(values, { ':c': this.encrypt(userId, change.key), ':v': this.keyring.currentVersion, ':t': this.now().toISOString() });
      if (change.provisionedKeyHash) {
        set.push('provisionedKeyHash = :h', 'provisionUsed = :used');
        Object.assign(values, { ':h': change.provisionedKeyHash, ':used': true });
      } else {
        remove.push('provisionedKeyHash');
      }
    }
    const update = `${set.length ? `SET ${set.join(', ')} ` : ''}REMOVE ${remove.join(', ')}`;
    if (!(await this.table.tryUpdate({ key: keys.user(userId), update, condition: 'keyLease = :l', values }))) throw new KeyChangeRefused('busy');
  }

  /** Ends a lease without changing the key (idempotent; a lease taken over meanwhile is left alone). */
  async releaseKeyLease(userId: string, leaseId: string): Promise<void> {
    await this.table.tryUpdate({ key: keys.user(userId), update: 'REMOVE keyLease, keyLeaseUntil', condition: 'keyLease = :l', values: { ':l': leaseId } });
  }

  /** Lets the user have a key created once more (the operator's `user reset-key`); false when that was already allowed. */
  async allowProvisioningAgain(userId: string): Promise<boolean> {
    const old = await this.updateUser({ key: keys.user(userId), update: 'REMOVE provisionUsed', condition: 'attribute_exists(pk)', returns: 'UPDATED_OLD' });
    return Boolean(old?.provisionUsed);
  }

  private encrypt(userId: string, key: string): string {
    return encryptForUser(this.keyring.current.dataKey, userId, key);
  }

  /** An update of an existing profile: a missing user is StoreError no_such_user. */
  private async updateUser(u: Parameters<Table['update']>[0]): Promise<Record<string, unknown> | undefined> {
    try {
      return await this.table.update(u);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw noSuchUser();
      throw err;
    }
  }
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
