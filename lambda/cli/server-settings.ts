/**
 * The operator settings the server runs with (budget defaults, policy). Locally `npm start` and `ormcp` share the
 * shell's environment, so they are read from the same ORMCP_* variables. A deployed function has its own
 * environment, which the CLI cannot read without Lambda permissions the table and secret do not need; the stack
 * publishes the same variables as its `TeamControl` output (infra/stack.ts) instead, and --stack reads that. A stack
 * deployed before that output existed: the shell's variables, with a note saying so.
 */
import * as z from 'zod';
import { ConfigError, loadConfig } from '../app/config.js';
import { TEAM_CONTROL_OUTPUT } from '../app/env-contract.js';
import type { BudgetCaps } from '../budget/check.js';
import type { PolicySettings } from '../policy/policy.js';
import { CliError } from './errors.js';
import type { CommandContext } from './spec.js';

export interface ServerSettings {
  budgetDefaults: BudgetCaps;
  policy: PolicySettings;
}

/** What the output may hold: ORMCP_* variables only, so nothing else of the shell or the output reaches loadConfig. */
const TeamControlOutput = z.record(z.string().regex(/^ORMCP_[A-Z0-9_]{1,64}$/), z.string().max(4096));

export async function serverSettings(ctx: CommandContext): Promise<ServerSettings> {
  const published = ctx.globals.stack ? await ctx.stackOutput(TEAM_CONTROL_OUTPUT) : undefined;
  if (ctx.globals.stack && published === undefined) {
    // On stderr, so --json stays parseable.
    ctx.err(`note: stack ${ctx.globals.stack} publishes no ${TEAM_CONTROL_OUTPUT} output (deployed before it existed, or its settings were too long for one): budget defaults and policy are read from this shell's ORMCP_* variables instead.`);
  }
  const env = published === undefined ? ctx.io.env : parsePublished(published, ctx.globals.stack!);
  try {
    const config = loadConfig(env);
    return { budgetDefaults: config.budgetDefaults, policy: config.policy };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`the server settings ${published === undefined ? 'in this environment' : `of stack ${ctx.globals.stack}`} are invalid: ${err.message}`);
    throw err;
  }
}

function parsePublished(value: string, stack: string): Record<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    json = undefined;
  }
  const parsed = TeamControlOutput.safeParse(json);
  if (!parsed.success) throw new CliError(`stack ${stack}'s ${TEAM_CONTROL_OUTPUT} output is not a JSON object of ORMCP_* variables`);
  return parsed.data;
}
