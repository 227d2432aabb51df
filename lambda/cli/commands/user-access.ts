/** `ormcp user disable | enable | admin`: switch a user's access off and on, and mark local admins. */
import type { CommandSpec } from '../spec.js';
import { requireUser } from './users.js';

export const userDisable: CommandSpec = {
  path: ['user', 'disable'],
  summary: "refuse a user's tokens and OAuth grants at once, keeping their data",
  synopsis: 'user disable <name>',
  positionals: ['name'],
  options: {},
  optionHelp: [],
  details: 'Nothing is deleted: ormcp user enable restores access with the same tokens. Written to the audit log.',
  async run(ctx) {
    const name = ctx.args[0]!;
    const store = await ctx.openStore({ create: false });
    const ledger = await ctx.openLedger();
    const user = await requireUser(store, name);
    const changed = await store.setUserDisabled(user.userId, true);
    if (changed) await ledger.recordAdminAction({ time: ctx.now(), actor: 'cli', action: 'user.disable', targetUserId: user.userId });
    ctx.out(changed ? `Disabled "${name}": their tokens and connected applications are refused from now on.` : `"${name}" is already disabled; nothing changed.`);
    return 0;
  },
};

export const userEnable: CommandSpec = {
  path: ['user', 'enable'],
  summary: 'let a disabled user in again',
  synopsis: 'user enable <name>',
  positionals: ['name'],
  options: {},
  optionHelp: [],
  async run(ctx) {
    const name = ctx.args[0]!;
    const store = await ctx.openStore({ create: false });
    const ledger = await ctx.openLedger();
    const user = await requireUser(store, name);
    const changed = await store.setUserDisabled(user.userId, false);
    if (changed) await ledger.recordAdminAction({ time: ctx.now(), actor: 'cli', action: 'user.enable', targetUserId: user.userId });
    ctx.out(changed ? `Enabled "${name}" again.` : `"${name}" is not disabled; nothing changed.`);
    return 0;
  },
};

export const userAdmin: CommandSpec = {
  path: ['user', 'admin'],
  summary: 'let a user open the operator page /admin (local mode), or not',
  synopsis: 'user admin <name> [--off]',
  positionals: ['name'],
  options: { off: { type: 'boolean' } },
  optionHelp: [['--off', 'take the admin role away']],
  details: 'On a deployed stack admins are the members of the Cognito group named by the context key adminGroup (default ormcp-admins). Takes effect at the next sign-in.',
  async run(ctx) {
    const name = ctx.args[0]!;
    const on = ctx.values.off !== true;
    const store = await ctx.openStore({ create: false });
    const ledger = await ctx.openLedger();
    const user = await requireUser(store, name);
    const changed = await store.setUserAdmin(user.userId, on);
    if (changed) await ledger.recordAdminAction({ time: ctx.now(), actor: 'cli', action: on ? 'user.admin' : 'user.admin-off', targetUserId: user.userId });
    ctx.out(changed ? `"${name}" is ${on ? 'now' : 'no longer'} an admin (from their next sign-in).` : `"${name}" ${on ? 'is already' : 'is not'} an admin; nothing changed.`);
    return 0;
  },
};
