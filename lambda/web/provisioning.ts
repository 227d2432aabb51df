/**
 * Per-user OpenRouter keys created with the operator's management key: on a user's first sign-in (so a team member
 * never has to find or paste a key) and on request from the page. Each key carries the configured credit limit, so
 * one user cannot spend the operator's whole balance, and a user holds at most one such key at any time: its hash
 * is stored with the user, and replacing or removing it deletes it at OpenRouter before anything else changes.
 * Every change runs under the user's key lease (one conditional write), so concurrent presses never both mint.
 * Where the operator policy has rules a guardrail can carry, a new key is put under the policy guardrail before it
 * is stored; a key that could not be is deleted again, so no key of ours is live at OpenRouter without the policy.
 */
import { errorName } from '../observability/error-name.js';
import type { Logger } from '../observability/logger.js';
import { GuardrailError, type PolicyGuardrail } from '../openrouter/guardrails.js';
import { KeyExchangeError, createProvisionedKey, deleteProvisionedKey, type OpenRouterAuthOptions } from '../openrouter/auth-keys.js';
import { KeyChangeRefused, type AccountStore, type KeyChange, type KeyChangeRefusal, type KeyLeaseOptions, type User } from '../store/account-store.js';

export interface KeyProvisionerOptions {
  accounts: AccountStore;
  openRouter: OpenRouterAuthOptions;
  managementKey: () => Promise<string>;
  limitUsd?: number;
  /** May a user who already had a key created get another without the operator's `user reset-key`? Default no. */
  allowReprovision?: boolean;
  /** The operator policy's guardrail, when the policy has rules one can carry; every created key is assigned to it. */
  guardrail?: PolicyGuardrail;
  logger: Logger;
}

/** Key creations per user per hour, across all instances (counted in the user's item). */
export const PROVISION_RATE = { maxPerWindow: 3, windowMs: 3_600_000 } as const;
/**
 * Covers a delete and a create at OpenRouter (15 s timeout each) plus the store writes; frees a dead holder's lease.
 * A slow guardrail step can outlast it: the commit is then refused and the new key deleted, so nothing leaks.
 */
const LEASE_MS = 60_000;

export type KeyChangeFailure = KeyChangeRefusal | 'no_such_user' | 'delete_failed' | 'create_failed' | 'guardrail_failed';
export type KeyChangeOutcome = { ok: true } | { ok: false; reason: KeyChangeFailure };

const ok: KeyChangeOutcome = { ok: true };
const failed = (reason: KeyChangeFailure): KeyChangeOutcome => ({ ok: false, reason });

export class KeyProvisioner {
  constructor(private readonly o: KeyProvisionerOptions) {}

  /** Whether the page should offer to create a key for this user. */
  mayProvision(user: User): boolean {
    return !user.provisionUsed || Boolean(this.o.allowReprovision);
  }

  /** Creates and stores a key for the user; a key we created before is deleted at OpenRouter first. */
  async provision(userId: string): Promise<KeyChangeOutcome> {
    const user = await this.o.accounts.getUser(userId);
    if (!user) return failed('no_such_user');
    return this.underLease(userId, { leaseMs: LEASE_MS, provision: { allowAgain: Boolean(this.o.allowReprovision), ...PROVISION_RATE } }, async (lease, managementKey) => {
      let created;
      try {
        created = await createProvisionedKey(this.o.openRouter, managementKey, {
          name: `MCP: ${user.name}`,
          ...(this.o.limitUsd !== undefined ? { limitUsd: this.o.limitUsd } : {}),
        });
      } catch (err) {
        this.o.logger.warn('openrouter key provisioning failed', { user_id: userId, error: errorText(err) });
        // The previous key is already gone at OpenRouter: keeping its ciphertext would only fail later.
        if (lease.deletedPrevious) await this.o.accounts.commitKeyLease(userId, lease.leaseId, { key: undefined });
        return failed('create_failed');
      }
      if (!(await this.guard(userId, managementKey, created.hash))) {
        // Without the guardrail the key would escape the policy wherever it is used: take it back, store nothing.
        await this.deleteAtOpenRouter(userId, managementKey, created.hash);
        if (lease.deletedPrevious) await this.o.accounts.commitKeyLease(userId, lease.leaseId, { key: undefined });
        return failed('guardrail_failed');
      }
      try {
        await this.o.accounts.commitKeyLease(userId, lease.leaseId, { key: created.key, provisionedKeyHash: created.hash });
      } catch (err) {
        // Not stored, so nobody could ever delete it: take it back at once.
        await this.deleteAtOpenRouter(userId, managementKey, created.hash);
        throw err;
      }
      this.o.logger.info('openrouter key connected', { user_id: userId, method: 'provisioned' });
      return ok;
    });
  }

  /** After sign-in: a user without a key gets one, unless they already had one created; a user with a key keeps theirs. */
  async provisionIfMissing(userId: string): Promise<void> {
    const user = await this.o.accounts.getUser(userId);
    if (!user || user.hasKey || !this.mayProvision(user)) return;
    const outcome = await this.provision(userId);
    if (!outcome.ok) this.o.logger.info('no openrouter key created at sign-in', { user_id: userId, reason: outcome.reason });
  }

  /** Stores a key the user brought (pasted or from OpenRouter's OAuth), deleting the key we created first. */
  replace(userId: string, key: string): Promise<KeyChangeOutcome> {
    return this.change(userId, { key });
  }

  /** Removes the user's key, deleting it at OpenRouter first when we created it. */
  remove(userId: string): Promise<KeyChangeOutcome> {
    return this.change(userId, { key: undefined });
  }

  private change(userId: string, change: KeyChange): Promise<KeyChangeOutcome> {
    return this.underLease(userId, { leaseMs: LEASE_MS }, async (lease) => {
      await this.o.accounts.commitKeyLease(userId, lease.leaseId, change);
      return ok;
    });
  }

  /**
   * Takes the lease, deletes the key we created before (if any) and runs `then`; a refused lease or a failed delete
   * ends here with nothing changed. The lease is released however `then` ends (a no-op after its commit).
   */
  private async underLease(
    userId: string,
    options: KeyLeaseOptions,
    then: (lease: { leaseId: string; deletedPrevious: boolean }, managementKey: string) => Promise<KeyChangeOutcome>,
  ): Promise<KeyChangeOutcome> {
    let lease;
    try {
      lease = await this.o.accounts.acquireKeyLease(userId, options);
    } catch (err) {
      if (err instanceof KeyChangeRefused) return failed(err.reason);
      throw err;
    }
    try {
      // Only OpenRouter calls need the management key: a paste over a key the user brought works without it.
      let managementKey = '';
      if (lease.provisionedKeyHash || options.provision) {
        try {
          managementKey = await this.o.managementKey();
        } catch (err) {
          this.o.logger.error('the openrouter management key is unavailable', { user_id: userId, error: errorName(err) });
          return failed(lease.provisionedKeyHash ? 'delete_failed' : 'create_failed');
        }
      }
      if (lease.provisionedKeyHash && !(await this.deleteAtOpenRouter(userId, managementKey, lease.provisionedKeyHash))) return failed('delete_failed');
      return await then({ leaseId: lease.leaseId, deletedPrevious: Boolean(lease.provisionedKeyHash) }, managementKey);
    } catch (err) {
      // The lease ran out and another change took over: ours stored nothing.
      if (err instanceof KeyChangeRefused) return failed(err.reason);
      throw err;
    } finally {
      await this.o.accounts.releaseKeyLease(userId, lease.leaseId);
    }
  }

  /** Puts a new key under the policy guardrail (if there is one); false when that failed. */
  private async guard(userId: string, managementKey: string, hash: string): Promise<boolean> {
    if (!this.o.guardrail) return true;
    try {
      await this.o.guardrail.assign(managementKey, hash);
      return true;
    } catch (err) {
      this.o.logger.warn('openrouter policy guardrail assignment failed', { user_id: userId, error: err instanceof GuardrailError ? err.message : 'unknown' });
      return false;
    }
  }

  private async deleteAtOpenRouter(userId: string, managementKey: string, hash: string): Promise<boolean> {
    try {
      await deleteProvisionedKey(this.o.openRouter, managementKey, hash);
      this.o.logger.info('openrouter key deleted', { user_id: userId, method: 'provisioned' });
      return true;
    } catch (err) {
      this.o.logger.warn('openrouter key deletion failed', { user_id: userId, error: errorText(err) });
      return false;
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof KeyExchangeError ? err.message : 'unknown';
}
