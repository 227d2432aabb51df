/**
 * Command-line parsing with node:util parseArgs. Two passes: a lenient one (every option any command
 * knows, so option values are never mistaken for words) finds the command words; a strict one with the
 * global options plus that command's options checks everything else.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';
import type { CommandSpec, OptionSpec, OptionValues } from './spec.js';

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  'data-dir': { type: 'string' },
  stack: { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
};

export const GLOBAL_OPTION_HELP: [string, string][] = [
  ['--data-dir <dir>', 'local data dir (default: $ORMCP_DATA_DIR, else .ormcp)'],
  ['--stack <name>', 'work on a deployed CloudFormation stack instead of the local data dir'],
  ['--region <region>', 'AWS region of --stack (default: AWS_REGION / your AWS profile)'],
  ['-h, --help', 'show help (also: ormcp <command> --help)'],
  ['--version', 'print the version'],
];

export interface ScannedArgs {
  words: string[];
  help: boolean;
  version: boolean;
}

/** First pass: the positional words (command, subcommand, arguments) and the help/version flags. */
export function scan(argv: string[], allOptions: Record<string, OptionSpec>): ScannedArgs {
  const { values, positionals } = parseArgs({ args: argv, options: { ...allOptions, ...GLOBAL_OPTIONS }, strict: false, allowPositionals: true });
  return { words: positionals, help: values.help === true, version: values.version === true };
}

/** Second pass: strict parse for one command; returns its option values and positionals after the command words. */
export function parseFor(spec: CommandSpec, argv: string[]): { values: OptionValues; args: string[] } {
  const command = spec.path.join(' ');
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...spec.options }, strict: true, allowPositionals: true }) as {
      values: OptionValues;
      positionals: string[];
    };
  } catch (err) {
    throw new UsageError(parseErrorMessage(err), command);
  }
  const args = parsed.positionals.slice(spec.path.length);
  if (args.length < spec.positionals.length) throw new UsageError(`missing ${spec.positionals.slice(args.length).map((p) => `<${p}>`).join(' ')}`, command);
  // Never echo an unexpected argument: it may be a key pasted in the wrong place.
  if (args.length > spec.positionals.length + (spec.optionalPositionals?.length ?? 0)) throw new UsageError('too many arguments', command);
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === '') throw new UsageError(`--${name} needs a non-empty value`, command);
  }
  return { values: parsed.values, args };
}

/** parseArgs' messages, shortened; option values are never echoed (only option names). */
function parseErrorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = /Unknown option '([^'=\s]+)/.exec(message)?.[1] ?? 'option';
    if (/key/i.test(name)) {
      return `unknown option ${name}: the OpenRouter key is never taken from the command line (it would end up in shell history); set OPENROUTER_API_KEY or use --openrouter-key-stdin`;
    }
    return `unknown option ${name}`;
  }
  const first = message.split('\n')[0] ?? message;
  const m = /^Option '([^']+)' argument missing/.exec(first);
  if (m) return `option ${m[1]!.replace(/^-\w, /, '').replace(/ <value>$/, '')} needs a value`;
  const noArg = /^Option '([^']+)' does not take an argument/.exec(first);
  if (noArg) return `option ${noArg[1]!.replace(/^-\w, /, '')} does not take a value`;
  if (/ambiguous/.test(first)) {
    const opt = /Option '([^']+)'/.exec(first)?.[1]?.replace(/^-\w, /, '').replace(/ <value>$/, '') ?? 'an option';
    return `the value of ${opt} starts with "-": write it as ${opt}=<value>`;
  }
  return first.replace(/\.$/, '');
}

/** A word from the command line that is safe to repeat in a message (not a pasted secret). */
export function printable(word: string): string | undefined {
  return /^[a-z][a-z0-9-]{0,31}$/.test(word) ? word : undefined;
}
