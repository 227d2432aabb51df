/** Shared steps of the user and token commands: find a user, or create one with their key. */
import type { AccountStore, User } from '../../store/account-store.js';
import { CliError } from '../errors.js';
import type { CommandContext } from '../spec.js';

export async function requireUser(store: AccountStore, name: string): Promise<User> {
  const user = await store.findUserByName(name);
  if (!user) throw new CliError(`no user named "${name}" (see: ormcp user list)`);
  return user;
}

/** The command's <name> argument as an existing user, with the store it is in. */
export async function namedUser(ctx: CommandContext): Promise<{ name: string; store: AccountStore; user: User }> {
  const name = ctx.args[0]!;
  const store = await ctx.openStore({ create: false });
  return { name, store, user: await requireUser(store, name) };
}

/**
 * Creates a user and stores their key. If the key is refused (malformed), the new user is removed again
 * so a failed command leaves nothing behind.
 */
export async function createUserWithKey(store: AccountStore, name: string, key: string): Promise<User> {
  const user = await store.createUser(name);
  try {
    await store.setOpenRouterKey(user.userId, key);
  } catch (err) {
    await store.removeUser(user.userId).catch(() => undefined);
    throw err;
  }
  return { ...user, hasKey: true };
}
