/** How a command describes itself: its options (for node:util parseArgs), positionals, help and action. */
import type { AccountStore } from '../store/account-store.js';
import type { LedgerStore } from '../store/ledger-store.js';
import type { CliIo } from './io.js';

export type OptionSpec = { type: 'string' | 'boolean'; short?: string };
export type OptionValues = Record<string, string | boolean | undefined>;

export interface GlobalOptions {
  dataDir: string;
  stack?: string;
  region?: string;
}

export interface CommandContext {
  io: CliIo;
  globals: GlobalOptions;
  values: OptionValues;
  /** The command's positionals, in the order of `CommandSpec.positionals`. */
  args: string[];
  /** Opens the store (local data dir or deployed stack); `create` allows initialising a fresh data dir. */
  openStore(options: { create: boolean }): Promise<AccountStore>;
  /** The usage ledger, budgets and defaults of the same backend (never creates a data dir). */
  openLedger(): Promise<LedgerStore>;
  /** The deployed stack's backend details (MCP URL) without opening the store; undefined in local mode. */
  stackMcpUrl(): Promise<string | undefined>;
  /** One output of the deployed stack; undefined in local mode or when the stack has no such output. */
  stackOutput(key: string): Promise<string | undefined>;
  /** Registers a secret this run handles so no error message can echo it. */
  handlesSecret(secret: string): void;
  out(line: string): void;
  err(line: string): void;
  now(): Date;
}

export interface CommandSpec {
  /** Words that select the command: ["token", "issue"]. */
  path: string[];
  summary: string;
  /** The synopsis after "ormcp ": "token issue --user <name> [--label <text>]". */
  synopsis: string;
  /** Required positionals, by display name. */
  positionals: string[];
  /** Positionals that may be left out, after the required ones. */
  optionalPositionals?: string[];
  options: Record<string, OptionSpec>;
  /** Help lines for the options: [flag text, description]. */
  optionHelp: [string, string][];
  /** Extra help paragraphs. */
  details?: string;
  run(ctx: CommandContext): Promise<number>;
}
