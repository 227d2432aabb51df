/** `ormcp token issue | list | revoke`. */
import { parseToken } from '../../crypto/secrets.js';
import type { AccountStore, TokenInfo, User } from '../../store/account-store.js';
import { CliError, UsageError } from '../errors.js';
import { parseExpiry } from '../expiry.js';
import { json, shortTime, table, tokenStatus } from '../format.js';
import { describeSource, keyForTokenIssue } from '../key-input.js';
import type { CommandSpec } from '../spec.js';
import { createUserWithKey, requireUser } from './users.js';

export const tokenIssue: CommandSpec = {
  path: ['token', 'issue'],
  summary: 'issue a token for a user (created if missing); prints only the token on stdout',
  synopsis: 'token issue --user <name> [--label <text>] [--expires <30d|12h|90m|never>] [--openrouter-key-stdin]',
  positionals: [],
  options: {
    user: { type: 'string' },
    label: { type: 'string' },
    expires: { type: 'string' },
    'openrouter-key-stdin': { type: 'boolean' },
  },
  optionHelp: [
    ['--user <name>', 'the user (required); created if missing, which needs their OpenRouter key'],
    ['--label <text>', 'a note to recognise the token by in `token list` (default: "default")'],
    ['--expires <when>', 'lifetime: Nd, Nh or Nm (e.g. 30d, 12h, 90m), or never (default: never)'],
    ['--openrouter-key-stdin', "read the user's OpenRouter key from stdin instead of OPENROUTER_API_KEY"],
  ],
  details: [
    "The user's OpenRouter key comes from --openrouter-key-stdin (stdin; a hidden prompt on a terminal),",
    'else from OPENROUTER_API_KEY, never from the command line. A new user needs a key; a key given for an',
    "existing user replaces their stored one. Without a key, an existing user keeps theirs.",
    '',
    'stdout carries the token and nothing else (it is shown once and stored only as a hash):',
    '  TOKEN=$(npx ormcp token issue --user alice --label laptop --expires 90d)',
  ].join('\n'),
  async run(ctx) {
    const name = ctx.values.user as string | undefined;
    if (!name) throw new UsageError('missing --user <name>', 'token issue');
    const expiresAt = parseExpiry(ctx.values.expires as string | undefined, ctx.now());
    const provided = await keyForTokenIssue(ctx.io, ctx.values['openrouter-key-stdin'] === true);
    if (provided) ctx.handlesSecret(provided.key);
    // Without a key the user must exist already, so a missing data dir is an error rather than created.
    const store = await ctx.openStore({ create: provided !== undefined });

    let user = await store.findUserByName(name);
    if (!user) {
      if (!provided) {
        throw new CliError(`no user named "${name}"; creating one needs their OpenRouter key: set OPENROUTER_API_KEY or pass --openrouter-key-stdin`);
      }
      user = await createUserWithKey(store, name, provided.key);
      ctx.err(`Created user "${name}" with the OpenRouter key ${describeSource(provided.source)}.`);
    } else if (provided) {
      await store.setOpenRouterKey(user.userId, provided.key);
      ctx.err(`Replaced the OpenRouter key of "${name}" with the one ${describeSource(provided.source)}.`);
    } else if (!user.hasKey) {
      ctx.err(`warning: "${name}" has no OpenRouter key yet; tools will fail until you run: ormcp user set-key ${name}`);
    }

    const label = ctx.values.label as string | undefined;
    const { token, info } = await store.issueToken(user.userId, { ...(label !== undefined ? { label } : {}), ...(expiresAt ? { expiresAt } : {}) });
    ctx.err(`Issued token ${info.tokenId} for "${name}" (label "${info.label}", expires ${info.expiresAt ? shortTime(info.expiresAt) : 'never'}). It is shown once:`);
    ctx.out(token);
    return 0;
  },
};

interface TokenRow extends TokenInfo {
  user: string;
}

export const tokenList: CommandSpec = {
  path: ['token', 'list'],
  summary: "list tokens (ids, labels, status; never the tokens themselves)",
  synopsis: 'token list [--user <name>] [--json]',
  positionals: [],
  options: { user: { type: 'string' }, json: { type: 'boolean' } },
  optionHelp: [
    ['--user <name>', "only this user's tokens (default: every user's)"],
    ['--json', 'a JSON array instead of a table'],
  ],
  details: 'Status is active, revoked or expired. Times are UTC. Revoked and expired tokens are listed for 30 days.',
  async run(ctx) {
    const store = await ctx.openStore({ create: false });
    const name = ctx.values.user as string | undefined;
    const users = name ? [await requireUser(store, name)] : await store.listUsers();
    const rows = (await Promise.all(users.map(async (u) => (await store.listTokens(u.userId)).map((t): TokenRow => ({ ...t, user: u.name }))))).flat();
    const now = ctx.now();
    if (ctx.values.json) {
      ctx.out(
        json(
          rows.map((t) => ({
            tokenId: t.tokenId,
            user: t.user,
            userId: t.userId,
            label: t.label,
            kind: t.kind,
            status: tokenStatus(t, now),
            createdAt: t.createdAt,
            expiresAt: t.expiresAt ?? null,
            lastUsedAt: t.lastUsedAt ?? null,
            revokedAt: t.revokedAt ?? null,
          })),
        ),
      );
      return 0;
    }
    if (rows.length === 0) {
      ctx.out(name ? `No tokens for "${name}".` : 'No tokens.');
      return 0;
    }
    ctx.out(
      table(
        ['TOKEN ID', 'USER', 'LABEL', 'KIND', 'CREATED', 'EXPIRES', 'LAST USED', 'STATUS'],
        rows.map((t) => [t.tokenId, t.user, t.label, t.kind, shortTime(t.createdAt), shortTime(t.expiresAt, 'never'), shortTime(t.lastUsedAt), tokenStatus(t, now)]),
      ),
    );
    return 0;
  },
};

export const tokenRevoke: CommandSpec = {
  path: ['token', 'revoke'],
  summary: 'revoke a token by its id',
  synopsis: 'token revoke <token-id>',
  positionals: ['token-id'],
  options: {},
  optionHelp: [],
  details: [
    'The token id is the 16 hex characters shown by `ormcp token list` (the part after "ormcp_" in the token).',
    'A local server refuses the token within 5 s (its token cache); a deployed one within its token cache time (ORMCP_AUTH_CACHE_SECONDS, 60 s).',
  ].join('\n'),
  async run(ctx) {
    const tokenId = tokenIdFrom(ctx.args[0]!, ctx);
    const store = await ctx.openStore({ create: false });
    const existing = await store.getToken(tokenId);
    if (!existing) throw new CliError(`no token with id ${tokenId} (see: ormcp token list)`);
    const owner = await userName(store, existing.userId);
    if (existing.revokedAt) {
      ctx.out(`Token ${tokenId} (${owner}, "${existing.label}") was already revoked at ${shortTime(existing.revokedAt)}.`);
      return 0;
    }
    await store.revokeToken(tokenId);
    ctx.out(`Revoked token ${tokenId} (${owner}, "${existing.label}").`);
    if (ctx.globals.stack) ctx.err('Warm Lambda instances may still accept it from their token cache for up to ORMCP_AUTH_CACHE_SECONDS (60 s).');
    else ctx.err('A running local server may still accept it from its token cache for up to 5 s.');
    return 0;
  },
};

/** A token id, or (forgivingly) a whole token, of which only the public id is used. */
function tokenIdFrom(arg: string, ctx: { handlesSecret(s: string): void; err(l: string): void }): string {
  if (/^[0-9a-f]{16}$/.test(arg)) return arg;
  const parsed = parseToken(arg);
  if (parsed) {
    ctx.handlesSecret(arg);
    ctx.err(`note: that is a whole token; only its id (${parsed.tokenId}) is needed.`);
    return parsed.tokenId;
  }
  throw new UsageError('a token id is 16 hex characters, as shown by `ormcp token list`', 'token revoke');
}

async function userName(store: AccountStore, userId: string): Promise<string> {
  const user: User | undefined = await store.getUser(userId);
  return user ? `user "${user.name}"` : 'a removed user';
}
