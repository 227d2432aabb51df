/**
 * Users, their unique names and their sign-in identities. No transactions: the embedded DynamoDB (dynalite) lacks
 * them, so every multi-item change is a sequence of single-item conditional writes that is safe to retry.
 */
import { randomUUID } from 'node:crypto';
import { StoreError } from './store-error.js';
import { keys } from './schema.js';
import { ConditionFailedError, type Table } from './table.js';

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

/** The profile item: the user, their encrypted key and the key's lease and provisioning state (see key-store.ts). */
export interface UserItem {
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
  identityLinked?: boolean;
  disabledAt?: string;
  admin?: boolean;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
/** A name reservation without a profile older than this is left over from an interrupted create. */
const STALE_CLAIM_MS = 5 * 60_000;

export function noSuchUser(): StoreError {
  return new StoreError('no_such_user', 'no such user');
}

export class UserStore {
  constructor(
    private readonly table: Table,
    private readonly now: () => Date,
  ) {}

  /**
   * Creates a user; with `userId` (e.g. a Cognito subject) the id is given, otherwise generated.
   * The name is claimed first (conditional put), then the profile written.
   */
  async createUser(name: string, userId: string = randomUUID()): Promise<User> {
    if (!NAME_PATTERN.test(name)) throw new StoreError('invalid_input', 'a user name is 1–128 characters: letters, digits and . _ @ + -');
    const createdAt = this.now().toISOString();
    await this.claimName(name, userId);
    try {
      await this.table.create({ ...keys.user(userId), type: 'user', userId, name, createdAt, gsi1pk: keys.usersIndex(), gsi1sk: name });
    } catch (err) {
      // Give the name back: it must not stay pointing at someone else's id.
      await this.releaseName(name, userId).catch(() => undefined);
      if (err instanceof ConditionFailedError) throw new StoreError('user_exists', `a user with id ${userId} already exists`);
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
    const claim = { ...keys.userName(name), type: 'username', userId, claimedAt: this.now().toISOString() };
    try {
      await this.table.create(claim);
      return;
    } catch (err) {
      if (!(err instanceof ConditionFailedError)) throw err;
    }
    const existing = await this.table.get(keys.userName(name));
    const holder = existing?.userId as string | undefined;
    if (holder === userId) return; // our own claim: a retried create with the same id
    // A claim without a time predates claim times; treat it as old.
    const heldSince = Date.parse(String(existing?.claimedAt ?? '1970-01-01T00:00:00Z'));
    const stale = this.now().getTime() - heldSince > STALE_CLAIM_MS;
    if (!holder || !stale || (await this.getUserItem(holder))) throw new StoreError('user_exists', `a user named "${name}" already exists`);
    try {
      await this.table.put(claim, { condition: 'userId = :holder', values: { ':holder': holder } });
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new StoreError('user_exists', `a user named "${name}" already exists`);
      throw err;
    }
  }

  /** Deletes the name claim if it is still `userId`'s. */
  private async releaseName(name: string, userId: string): Promise<void> {
    await this.table.delete(keys.userName(name), { condition: 'userId = :u', values: { ':u': userId } }).catch((err: unknown) => {
      if (!(err instanceof ConditionFailedError)) throw err;
    });
  }

  async getUser(userId: string): Promise<User | undefined> {
    const item = await this.getUserItem(userId);
    return item ? toUser(item) : undefined;
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
    const changed = await this.table.tryUpdate({
      key: keys.user(userId),
      names: { '#f': name },
      ...(value === undefined
        ? { update: 'REMOVE #f', condition: 'attribute_exists(pk) AND attribute_exists(#f)' }
        : { update: 'SET #f = :v', condition: 'attribute_exists(pk) AND attribute_not_exists(#f)', values: { ':v': value } }),
    });
    if (!changed && !(await this.getUserItem(userId))) throw noSuchUser();
    return changed;
  }

  async getUserItem(userId: string): Promise<UserItem | undefined> {
    return (await this.table.get(keys.user(userId))) as UserItem | undefined;
  }

  /** The profile item, or StoreError no_such_user. */
  async requireUserItem(userId: string): Promise<UserItem> {
    const item = await this.getUserItem(userId);
    if (!item) throw noSuchUser();
    return item;
  }

  async findUserByName(name: string): Promise<User | undefined> {
    const claim = await this.table.get(keys.userName(name));
    const userId = claim?.userId as string | undefined;
    return userId ? this.getUser(userId) : undefined;
  }

  async listUsers(): Promise<User[]> {
    const items = await this.table.query({ partition: keys.usersIndex(), ascending: true });
    return items.map((i) => toUser(i as unknown as UserItem));
  }

  /** Deletes the profile and its name (the caller revoked the user's credentials first). */
  async deleteUser(user: UserItem): Promise<void> {
    await this.table.delete(keys.user(user.userId));
    await this.releaseName(user.name, user.userId);
  }

  // ---- sign-in identities ------------------------------------------------------------------------

  /**
   * The user behind an identity-provider subject, created on first sign-in. The first sign-in with a verified
   * email adopts an existing user of that name that has no identity yet (so an operator can create users with the
   * CLI before they sign in); otherwise the email (or the subject) becomes the new user's name.
   */
  async userForIdentity(identity: { issuer: string; subject: string; email?: string; emailVerified?: boolean }): Promise<User> {
    const key = keys.identity(identity.issuer, identity.subject);
    const linked = (await this.table.get(key))?.userId as string | undefined;
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
    await this.table.put({ ...key, type: 'identity', userId: user.userId, issuer: identity.issuer, subject: identity.subject, linkedAt: this.now().toISOString() });
    await this.markIdentityLinked(user.userId);
    return user;
  }

  /**
   * Links an identity to an existing user, for an identity provider that vouches for this table's own users (the
   * local sign-in of `npm start`), so their first sign-in lands on their account instead of creating one. An
   * identity already linked to another user is never moved.
   */
  async linkIdentity(identity: { issuer: string; subject: string }, userId: string): Promise<void> {
    await this.requireUserItem(userId);
    try {
      await this.table.put(
        { ...keys.identity(identity.issuer, identity.subject), type: 'identity', userId, issuer: identity.issuer, subject: identity.subject, linkedAt: this.now().toISOString() },
        { condition: 'attribute_not_exists(pk) OR userId = :u', values: { ':u': userId } },
      );
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new StoreError('user_exists', 'this identity belongs to another user');
      throw err;
    }
    await this.markIdentityLinked(userId);
  }

  private async markIdentityLinked(userId: string): Promise<void> {
    await this.table.update({ key: keys.user(userId), update: 'SET identityLinked = :t', condition: 'attribute_exists(pk)', values: { ':t': true } });
  }

  private async hasIdentity(userId: string): Promise<boolean> {
    return Boolean((await this.getUserItem(userId))?.identityLinked);
  }
}

export function toUser(item: UserItem): User {
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
