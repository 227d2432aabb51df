/**
 * `ormcp user set-password <name>`: the password of the local sign-in (`npm start` without an external identity
 * provider). Read from a hidden prompt on a terminal (asked twice) or from stdin, never from the command line;
 * stored in the data dir as a scrypt hash, never printed. Creates the user if missing.
 */
import { resolve } from 'node:path';
import { LocalPasswords, PasswordError, checkPasswordShape, PASSWORD_MAX } from '../../local/local-passwords.js';
import { CliError } from '../errors.js';
import type { CliIo } from '../io.js';
import { canPrompt, promptHidden } from '../key-input.js';
import type { CommandSpec } from '../spec.js';

export const userSetPassword: CommandSpec = {
  path: ['user', 'set-password'],
  summary: 'set the password a user signs in with on the local server (creates the user if missing)',
  synopsis: 'user set-password <name>',
  positionals: ['name'],
  options: {},
  optionHelp: [],
  details: [
    'For the local sign-in of `npm start` (used when no ORMCP_OIDC_* provider is configured); a deployed',
    'stack signs users in with Cognito instead.',
    'The password is read from a hidden prompt on a terminal (asked twice), otherwise from stdin; never from',
    `the command line, never printed. At least 8 characters. Stored in the data dir as a scrypt hash.`,
    '  printf %s "$PASSWORD" | npx ormcp user set-password alice',
  ].join('\n'),
  async run(ctx) {
    if (ctx.globals.stack) throw new CliError('passwords are for the local sign-in; users of a deployed stack sign in with its Cognito user pool');
    const name = ctx.args[0]!;
    const password = await readPassword(ctx.io);
    ctx.handlesSecret(password);
    try {
      checkPasswordShape(password);
    } catch (err) {
      if (err instanceof PasswordError) throw new CliError(`${err.message}; nothing was changed`);
      throw err;
    }
    const store = await ctx.openStore({ create: true });
    const existing = await store.findUserByName(name);
    const user = existing ?? (await store.createUser(name));
    try {
      await new LocalPasswords(resolve(ctx.io.cwd ?? process.cwd(), ctx.globals.dataDir)).set(user.userId, password, ctx.now());
    } catch (err) {
      if (!existing) await store.removeUser(user.userId).catch(() => undefined);
      throw err;
    }
    ctx.out(`${existing ? 'Set the password of' : 'Created user'} "${name}"${existing ? '' : ' with a password'}.`);
    ctx.err('Sign in at the server\'s /app page (npm start prints its URL).');
    return 0;
  },
};

async function readPassword(io: CliIo): Promise<string> {
  if (canPrompt(io.stdin)) {
    const first = await promptHidden(io, 'New password (input hidden): ');
    const second = await promptHidden(io, 'Repeat the password: ');
    if (first !== second) throw new CliError('the two passwords differ; nothing was changed');
    return first;
  }
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > PASSWORD_MAX + 2) throw new CliError(`stdin holds more than a password (over ${PASSWORD_MAX} bytes); nothing was changed`);
    chunks.push(buf);
  }
  // One trailing newline (from `echo`) is not part of the password; other whitespace is.
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!password) throw new CliError('no password: pipe it on stdin, or run in a terminal to be prompted');
  return password;
}
