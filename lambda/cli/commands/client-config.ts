/** `ormcp client-config <client>`: the snippet or steps to connect one MCP client. */
import { resolve } from 'node:path';
import { runningServerUrl } from '../../local/server-url.js';
import { MCP_PATH } from '../../oauth/metadata.js';
import { UsageError } from '../errors.js';
import { CLIENTS, DEFAULT_TOKEN_PLACEHOLDER, clientSetup, type ClientName } from '../../mcp-clients/client-snippets.js';
import type { CommandSpec } from '../spec.js';

export const clientConfig: CommandSpec = {
  path: ['client-config'],
  summary: `print the setup snippet for a client: ${CLIENTS.join(', ')}`,
  synopsis: `client-config <${CLIENTS.join('|')}> [--url <url>] [--token <token>]`,
  positionals: ['client'],
  options: { url: { type: 'string' }, token: { type: 'string' } },
  optionHelp: [
    ['--url <url>', "the MCP endpoint (default: the stack's McpUrl output with --stack, else the URL of the server running on the data dir, else http://127.0.0.1:${PORT:-8787}/mcp)"],
    ['--token <token>', `the token to put in the snippet (default: the placeholder ${DEFAULT_TOKEN_PLACEHOLDER})`],
  ],
  details: [
    'The snippet (a command or JSON) goes to stdout and the notes on where to put it to stderr, so',
    '  npx ormcp client-config cursor --token "$TOKEN" > .cursor/mcp.json',
    'writes a new file (merge by hand into an existing one). Pass the token from a variable, as here, or leave',
    '--token out and paste it in, to keep it out of your shell history.',
  ].join('\n'),
  async run(ctx) {
    const client = ctx.args[0]!;
    if (!(CLIENTS as readonly string[]).includes(client)) {
      const shown = /^[a-z][a-z0-9-]{0,31}$/.test(client) ? ` "${client}"` : '';
      throw new UsageError(`unknown client${shown}: choose one of ${CLIENTS.join(', ')}`, 'client-config');
    }
    const token = (ctx.values.token as string | undefined) ?? DEFAULT_TOKEN_PLACEHOLDER;
    if (/[\s"'`\\]/.test(token)) throw new UsageError('--token must not contain spaces, quotes or backslashes', 'client-config');
    if (token !== DEFAULT_TOKEN_PLACEHOLDER) ctx.handlesSecret(token);
    const url =
      (ctx.values.url as string | undefined) ??
      (await ctx.stackMcpUrl()) ??
      (ctx.globals.stack ? undefined : await runningServerUrl(resolve(ctx.io.cwd ?? process.cwd(), ctx.globals.dataDir))) ??
      defaultUrl(ctx.io.env);
    if (!isHttpUrl(url)) throw new UsageError('--url must be an http:// or https:// URL', 'client-config');
    const setup = clientSetup(client as ClientName, url, token);
    for (const line of setup.before) ctx.err(line);
    ctx.out(setup.snippet);
    for (const line of setup.after) ctx.err(line);
    return 0;
  },
};

function defaultUrl(env: Record<string, string | undefined>): string {
  const port = env.PORT && /^\d{1,5}$/.test(env.PORT) ? env.PORT : '8787';
  return `http://127.0.0.1:${port}${MCP_PATH}`;
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !/\s/.test(value);
  } catch {
    return false;
  }
}
