/**
 * Per-user OpenRouter keys created with the operator's management key: on a user's first sign-in (so a team member
 * never has to find or paste a key) and on request from the page. Each key carries the configured credit limit, so
 * one user cannot spend the operator's whole balance.
 */
import type { Logger } from '../observability/logger.js';
import { KeyExchangeError, createProvisionedKey, type OpenRouterAuthOptions } from '../openrouter/auth-keys.js';
import type { AccountStore } from '../store/account-store.js';

export interface KeyProvisionerOptions {
  accounts: AccountStore;
  openRouter: OpenRouterAuthOptions;
  managementKey: () => Promise<string>;
  limitUsd?: number;
  logger: Logger;
}

export class KeyProvisioner {
  constructor(private readonly o: KeyProvisionerOptions) {}

  /** Creates and stores a key for the user; false (logged, nothing stored) when OpenRouter refuses. */
  async provision(userId: string): Promise<boolean> {
    const user = await this.o.accounts.getUser(userId);
    if (!user) return false;
    try {
      const key = await createProvisionedKey(this.o.openRouter, await this.o.managementKey(), {
        name: `MCP: ${user.name}`,
        ...(this.o.limitUsd !== undefined ? { limitUsd: this.o.limitUsd } : {}),
      });
      await this.o.accounts.setOpenRouterKey(userId, key);
    } catch (err) {
      this.o.logger.warn('openrouter key provisioning failed', { user_id: userId, error: err instanceof KeyExchangeError ? err.message : 'unknown' });
      return false;
    }
    this.o.logger.info('openrouter key connected', { user_id: userId, method: 'provisioned' });
    return true;
  }

  /** After sign-in: a user without a key gets one; a user with a key keeps theirs. */
  async provisionIfMissing(userId: string): Promise<void> {
    const user = await this.o.accounts.getUser(userId);
    if (user && !user.hasKey) await this.provision(userId);
  }
}
