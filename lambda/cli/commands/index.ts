/** Every command, in help order, and the groups ("token", "user") that hold subcommands. */
import type { CommandSpec } from '../spec.js';
import { clientConfig } from './client-config.js';
import { tokenIssue, tokenList, tokenRevoke } from './token.js';
import { userList, userRemove, userResetKey, userSetKey } from './user.js';
import { userSetPassword } from './user-password.js';

export const COMMANDS: CommandSpec[] = [tokenIssue, tokenList, tokenRevoke, userSetKey, userSetPassword, userList, userRemove, userResetKey, clientConfig];

export const GROUPS: Record<string, string> = {
  token: 'issue, list and revoke MCP tokens',
  user: "manage users and their OpenRouter keys",
};

export function findCommand(words: string[]): CommandSpec | undefined {
  return COMMANDS.find((c) => c.path.every((w, i) => words[i] === w));
}
