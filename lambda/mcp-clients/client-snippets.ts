/**
 * What each MCP client needs to reach this server, as in the README: `snippet` is what to paste (a command
 * or a JSON file; it goes to stdout so it can be redirected), `notes` say where it goes (stderr).
 */
export const CLIENTS = ['claude-code', 'cursor', 'vscode', 'claude-desktop', 'chatgpt'] as const;
export type ClientName = (typeof CLIENTS)[number];

export interface ClientSetup {
  /** Printed before the snippet (stderr). */
  before: string[];
  /** The exact text to paste (stdout). */
  snippet: string;
  /** Printed after the snippet (stderr). */
  after: string[];
}

export const DEFAULT_TOKEN_PLACEHOLDER = '<your-token>';

const SERVER_NAME = 'openrouter';

/**
 * ChatGPT's menu paths, named once: `ormcp client-config chatgpt`, the self-service page and the README's ChatGPT
 * steps all use these (test/cli/readme-clients.test.ts holds the README to them). ChatGPT renames its menus now and
 * then; change them here and the README follows.
 */
export const CHATGPT_MENUS = {
  developerMode: 'Settings → Apps → Advanced settings → Developer mode',
  adminAllows: 'Workspace settings → Permissions & roles',
  createApp: 'Settings → Apps → Create app',
  inChat: '+ → More → Developer mode',
} as const;

export function clientSetup(client: ClientName, url: string, token: string): ClientSetup {
  const bearer = `Bearer ${token}`;
  const publicHttps = isPublicHttps(url);
  switch (client) {
    case 'claude-code':
      return {
        before: ['Claude Code: run'],
        snippet: `claude mcp add --transport http ${SERVER_NAME} ${url} --header "Authorization: ${bearer}"`,
        after: ['(add --scope user to have it in every project; check with: claude mcp list)'],
      };
    case 'cursor':
      return {
        before: ['Cursor: add to ~/.cursor/mcp.json (every project) or .cursor/mcp.json (one project), merged into "mcpServers":'],
        snippet: json({ mcpServers: { [SERVER_NAME]: { url, headers: { Authorization: bearer } } } }),
        after: [],
      };
    case 'vscode':
      return {
        before: ['VS Code: add to .vscode/mcp.json in the workspace (or, for every workspace, the file opened by "MCP: Open User Configuration"), merged into "servers":'],
        snippet: json({ servers: { [SERVER_NAME]: { type: 'http', url, headers: { Authorization: bearer } } } }),
        after: [],
      };
    case 'claude-desktop':
      return {
        before: [
          publicHttps
            ? `Claude Desktop: Settings → Connectors → Add custom connector, name "OpenRouter", URL ${url}; Claude signs you in with OAuth (no token needed).`
            : 'Claude Desktop: Settings → Connectors (OAuth) needs the deployed HTTPS server; for this URL, use a static token instead.',
          'With a static token, bridge through mcp-remote (needs Node.js): add to claude_desktop_config.json',
          '(Settings → Developer → Edit Config; macOS: ~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\), then restart Claude Desktop:',
        ],
        snippet: json({
          mcpServers: {
            [SERVER_NAME]: {
              command: 'npx',
              args: ['-y', 'mcp-remote', url, '--header', 'Authorization: Bearer ${OPENROUTER_MCP_TOKEN}'],
              env: { OPENROUTER_MCP_TOKEN: token },
            },
          },
        }),
        after: [],
      };
    case 'chatgpt':
      return {
        before: publicHttps
          ? []
          : [`warning: ChatGPT connects from OpenAI's servers, so it needs a public HTTPS URL; ${url} is not one. Use the deployed stack's McpUrl (ormcp client-config chatgpt --stack <name>).`],
        snippet: [
          'ChatGPT connects through a developer-mode connector. Connectors sign in with OAuth only: a static token',
          'cannot be used; ChatGPT opens this server\'s sign-in page, where you connect your OpenRouter key.',
          '',
          `1. Turn on developer mode: ${CHATGPT_MENUS.developerMode}`,
          `   (Business/Enterprise/Edu: a workspace admin allows it under ${CHATGPT_MENUS.adminAllows}).`,
          `2. ${CHATGPT_MENUS.createApp}, and fill in:`,
          '     Name:            OpenRouter',
          '     Description:     Chat with any OpenRouter model on my own OpenRouter key',
          `     MCP Server URL:  ${url}`,
          '     Authentication:  OAuth',
          '   Tick "I trust this application", click Create, and sign in when asked.',
          `3. In a chat: ${CHATGPT_MENUS.inChat}, turn on OpenRouter, then ask for a model by name.`,
        ].join('\n'),
        after: token !== DEFAULT_TOKEN_PLACEHOLDER ? ['note: --token is not used for ChatGPT (OAuth only).'] : [],
      };
  }
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** https on a host other than loopback: reachable by hosted clients (ChatGPT, Claude connectors). */
function isPublicHttps(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && !['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}
