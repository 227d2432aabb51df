/** Every command, in help order, and the groups ("token", "user") that hold subcommands. */
import type { CommandSpec } from '../spec.js';
import { clientConfig } from './client-config.js';
import { tokenIssue, tokenList, tokenRevoke } from './token.js';
import { userList, userRemove, userResetKey, userSetKey } from './user.js';
import { userSetPassword } from './user-password.js';
import { budgetSet, budgetShow } from './budget.js';
import { policyShow } from './policy.js';
import { audit, usage } from './usage.js';
import { userAdmin, userDisable, userEnable } from './user-access.js';

export const COMMANDS: CommandSpec[] = [tokenIssue, tokenList, tokenRevoke, userSetKey, userSetPassword, userList, userRemove, userResetKey, userDisable, userEnable, userAdmin, clientConfig, usage, budgetSet, budgetShow, policyShow, audit];

export const GROUPS: Record<string, string> = {
  token: 'issue, list and revoke MCP tokens',
  user: "manage users and their OpenRouter keys",
  budget: "set and show users' spending caps",
  policy: 'show the operator policy in force',
};

export function findCommand(words: string[]): CommandSpec | undefined {
  return COMMANDS.find((c) => c.path.every((w, i) => words[i] === w));
}
