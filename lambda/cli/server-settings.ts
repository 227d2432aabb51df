/**
 * The operator settings the server reads from its environment (budget defaults, policy), read here from the same
 * variables. Locally `npm start` and `ormcp` share the shell's environment. A deployed stack's function has its
 * own environment, which the CLI does not read (that needs Lambda permissions the table and secret do not): with
 * --stack the commands say so and show what this shell's variables would give.
 */
import { ConfigError, loadConfig } from '../app/config.js';
import type { BudgetCaps } from '../budget/check.js';
import type { PolicySettings } from '../policy/policy.js';
import { CliError } from './errors.js';
import type { CommandContext } from './spec.js';

export interface ServerSettings {
  budgetDefaults: BudgetCaps;
  policy: PolicySettings;
}

export function serverSettings(ctx: CommandContext): ServerSettings {
  try {
    const config = loadConfig(ctx.io.env);
    return { budgetDefaults: config.budgetDefaults, policy: config.policy };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`the server settings in this environment are invalid: ${err.message}`);
    throw err;
  }
}

/** The one-line caveat for --stack runs (on stderr, so --json stays parseable). */
export function noteStackSettings(ctx: CommandContext): void {
  if (ctx.globals.stack) ctx.err('note: budget defaults and policy are read from this shell\'s ORMCP_* variables, not from the deployed function\'s environment.');
}
