/** `ormcp user set-key | list | remove | reset-key`. */
import { json, shortTime, table, tokenStatus } from '../format.js';
import { describeSource, keyForSetKey } from '../key-input.js';
import type { CommandSpec } from '../spec.js';
import { createUserWithKey, namedUser } from './users.js';

export const userSetKey: CommandSpec = {
  path: ['user', 'set-key'],
  summary: "store or replace a user's OpenRouter key (creates the user if missing)",
  synopsis: 'user set-key <name> [--openrouter-key-stdin]',
  positionals: ['name'],
  options: { 'openrouter-key-stdin': { type: 'boolean' } },
  optionHelp: [['--openrouter-key-stdin', 'read the key from stdin (a hidden prompt on a terminal)']],
  details: [
    'The key is taken, in this order, from:',
    '  1. stdin, with --openrouter-key-stdin;',
    '  2. stdin, when it is piped or redirected (not a terminal) and not empty;',
    '  3. OPENROUTER_API_KEY;',
    '  4. a hidden prompt, when stdin is a terminal.',
    'It is never taken from the command line and never printed. It is stored encrypted (AES-256-GCM).',
    '  pass show openrouter/alice | npx ormcp user set-key alice',
  ].join('\n'),
  async run(ctx) {
    const name = ctx.args[0]!;
    const provided = await keyForSetKey(ctx.io, ctx.values['openrouter-key-stdin'] === true);
    ctx.handlesSecret(provided.key);
    const store = await ctx.openStore({ create: true });
    const user = await store.findUserByName(name);
    if (!user) {
      await createUserWithKey(store, name, provided.key);
      ctx.out(`Created user "${name}" with the OpenRouter key ${describeSource(provided.source)}.`);
      ctx.err(`Next: npx ormcp token issue --user ${name}`);
      return 0;
    }
    await store.setOpenRouterKey(user.userId, provided.key);
    ctx.out(`${user.hasKey ? 'Replaced' : 'Stored'} the OpenRouter key of "${name}" (${describeSource(provided.source)}).`);
    return 0;
  },
};

export const userList: CommandSpec = {
  path: ['user', 'list'],
  summary: 'list users: whether they have a key, and their tokens',
  synopsis: 'user list [--json]',
  positionals: [],
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'a JSON array instead of a table']],
  async run(ctx) {
    const store = await ctx.openStore({ create: false });
    const now = ctx.now();
    const users = await Promise.all(
      (await store.listUsers()).map(async (u) => {
        const tokens = await store.listTokens(u.userId);
        return { ...u, tokens: tokens.length, activeTokens: tokens.filter((t) => tokenStatus(t, now) === 'active').length };
      }),
    );
    if (ctx.values.json) {
      ctx.out(
        json(
          users.map((u) => ({
            name: u.name,
            userId: u.userId,
            hasKey: u.hasKey,
            keyUpdatedAt: u.keyUpdatedAt ?? null,
            createdAt: u.createdAt,
            tokens: u.tokens,
            activeTokens: u.activeTokens,
            disabledAt: u.disabledAt ?? null,
            admin: Boolean(u.admin),
          })),
        ),
      );
      return 0;
    }
    if (users.length === 0) {
      ctx.out('No users.');
      return 0;
    }
    ctx.out(
      table(
        ['NAME', 'USER ID', 'KEY', 'CREATED', 'TOKENS', 'ACTIVE', 'STATUS'],
        users.map((u) => [u.name, u.userId, u.hasKey ? 'yes' : 'no', shortTime(u.createdAt), String(u.tokens), String(u.activeTokens), [u.disabledAt ? 'disabled' : 'enabled', ...(u.admin ? ['admin'] : [])].join(', ')]),
      ),
    );
    return 0;
  },
};

export const userRemove: CommandSpec = {
  path: ['user', 'remove'],
  summary: 'revoke all of a user\'s tokens and remove the user (and their stored key)',
  synopsis: 'user remove <name>',
  positionals: ['name'],
  options: {},
  optionHelp: [],
  async run(ctx) {
    const { name, store, user } = await namedUser(ctx);
    const revoked = await store.revokeAllTokens(user.userId);
    await store.removeUser(user.userId);
    ctx.out(`Removed user "${name}" (revoked ${revoked} token${revoked === 1 ? '' : 's'}).`);
    return 0;
  },
};

export const userResetKey: CommandSpec = {
  path: ['user', 'reset-key'],
  summary: 'let a user have an OpenRouter key created for them once more (with the management key)',
  synopsis: 'user reset-key <name>',
  positionals: ['name'],
  options: {},
  optionHelp: [],
  details: [
    'The server creates a key for a user at most once unless ORMCP_ALLOW_REPROVISION is true (the stack: context',
    'allowReprovision). This allows one more: on the next sign-in without a key, or "Create a key for me". A key it',
    'created before is deleted at OpenRouter before the new one is made.',
  ].join('\n'),
  async run(ctx) {
    const { name, store, user } = await namedUser(ctx);
    const changed = await store.allowProvisioningAgain(user.userId);
    ctx.out(changed ? `"${name}" may have one more OpenRouter key created.` : `"${name}" may already have an OpenRouter key created; nothing changed.`);
    return 0;
  },
};
