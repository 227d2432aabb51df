/** `ormcp user disable | enable | admin`: switch a user's access off and on, and mark local admins. */
import type { AccountStore } from '../../store/account-store.js';
import type { CommandContext, CommandSpec } from '../spec.js';
import { requireUser } from './users.js';

/** Flips one switch on the named user, audit-logs it only when it changed something, and says which it was. */
async function switchUser(
  ctx: CommandContext,
  action: string,
  flip: (store: AccountStore, userId: string) => Promise<boolean>,
  say: (changed: boolean, name: string) => string,
): Promise<number> {
  const name = ctx.args[0]!;
  const store = await ctx.openStore({ create: false });
  const ledger = await ctx.openLedger();
  const user = await requireUser(store, name);
  const changed = await flip(store, user.userId);
  if (changed) await ledger.recordAdminAction({ time: ctx.now(), actor: 'cli', action, targetUserId: user.userId });
  ctx.out(say(changed, name));
  return 0;
}

export const userDisable: CommandSpec = {
  path: ['user', 'disable'],
  summary: "refuse a user's tokens and OAuth grants at once, keeping their data",
  synopsis: 'user disable <name>',
  positionals: ['name'],
  options: {},
  optionHelp: [],
  details: 'Nothing is deleted: ormcp user enable restores access with the same tokens. Written to the audit log.',
  run: (ctx) =>
    switchUser(ctx, 'user.disable', (store, userId) => store.setUserDisabled(userId, true), (changed, name) =>
      changed ? `Disabled "${name}": their tokens and connected applications are refused from now on.` : `"${name}" is already disabled; nothing changed.`,
    ),
};

export const userEnable: CommandSpec = {
  path: ['user', 'enable'],
  summary: 'let a disabled user in again',
  synopsis: 'user enable <name>',
  positionals: ['name'],
  options: {},
  optionHelp: [],
  run: (ctx) =>
    switchUser(ctx, 'user.enable', (store, userId) => store.setUserDisabled(userId, false), (changed, name) =>
      changed ? `Enabled "${name}" again.` : `"${name}" is not disabled; nothing changed.`,
    ),
};

export const userAdmin: CommandSpec = {
  path: ['user', 'admin'],
  summary: 'let a user open the operator page /admin (local mode), or not',
  synopsis: 'user admin <name> [--off]',
  positionals: ['name'],
  options: { off: { type: 'boolean' } },
  optionHelp: [['--off', 'take the admin role away']],
  details: 'On a deployed stack admins are the members of the Cognito group named by the context key adminGroup (default ormcp-admins). Takes effect at the next sign-in.',
  run(ctx) {
    const on = ctx.values.off !== true;
    return switchUser(ctx, on ? 'user.admin' : 'user.admin-off', (store, userId) => store.setUserAdmin(userId, on), (changed, name) =>
      changed ? `"${name}" is ${on ? 'now' : 'no longer'} an admin (from their next sign-in).` : `"${name}" ${on ? 'is already' : 'is not'} an admin; nothing changed.`,
    );
  },
};
