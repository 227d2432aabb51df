/**
 * One CLI invocation: parse, dispatch, map errors to exit codes. Returns the exit code instead of exiting,
 * so tests (and embedders) can call it in-process with their own streams, environment and AWS clients.
 *   0 success · 1 operational error (`ormcp: …` on stderr) · 2 usage error (with a usage hint)
 */
import { SERVER_VERSION } from '../version.js';
import { parseFor, printable, scan } from './args.js';
import { openBackend, stackOutput, type Backend } from './backend/index.js';
import { COMMANDS, GROUPS, findCommand } from './commands/index.js';
import { CliError, UsageError, describeError, redact } from './errors.js';
import { commandHelp, groupHelp, mainHelp, usageLine } from './help.js';
import type { CliIo } from './io.js';
import type { CommandContext, CommandSpec, GlobalOptions, OptionSpec, OptionValues } from './spec.js';

export type { CliIo } from './io.js';

const ALL_OPTIONS: Record<string, OptionSpec> = Object.assign({}, ...COMMANDS.map((c) => c.options));

export async function run(argv: string[], io: CliIo): Promise<number> {
  const secrets = new Set<string>();
  const out = (line: string) => void io.stdout.write(`${line}\n`);
  const err = (line: string) => void io.stderr.write(`${line}\n`);
  let backend: Backend | undefined;
  try {
    const scanned = scan(argv, ALL_OPTIONS);
    if (scanned.version) {
      out(SERVER_VERSION);
      return 0;
    }
    let words = scanned.words;
    let help = scanned.help;
    if (words[0] === 'help') {
      words = words.slice(1);
      help = true;
    }
    const spec = resolve(words, help, out);
    if (typeof spec === 'number') return spec;
    if (help) {
      out(commandHelp(spec));
      return 0;
    }

    const { values, args } = parseFor(spec, argv);
    const globals = globalOptions(values, io.env, spec);
    const ctx: CommandContext = {
      io,
      globals,
      values,
      args,
      async openStore(options) {
        backend ??= await openBackend(globals, io, options);
        return backend.store;
      },
      async openLedger() {
        backend ??= await openBackend(globals, io, { create: false });
        return backend.ledger;
      },
      async stackMcpUrl() {
        if (!globals.stack) return undefined;
        const url = await stackOutput(globals, io, 'McpUrl');
        if (!url) throw new CliError(`stack ${globals.stack} has no McpUrl output: pass --url`);
        return url;
      },
      stackOutput: (key) => stackOutput(globals, io, key),
      handlesSecret: (s) => void secrets.add(s),
      out,
      err,
      now: io.now ?? (() => new Date()),
    };
    return await spec.run(ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`ormcp: ${redact(e.message, secrets)}`);
      err(usageLine(e.command));
      return 2;
    }
    err(`ormcp: ${describeError(e, secrets)}`);
    return 1;
  } finally {
    await backend?.close().catch(() => undefined);
  }
}

/** The command the words name, or an exit code after printing help (or throwing a usage error). */
function resolve(words: string[], help: boolean, out: (line: string) => void): CommandSpec | number {
  const [first, second] = words;
  if (first === undefined) {
    if (help) {
      out(mainHelp());
      return 0;
    }
    throw new UsageError('missing command');
  }
  const spec = findCommand(words);
  if (spec) return spec;
  if (GROUPS[first]) {
    if (help) {
      out(groupHelp(first));
      return 0;
    }
    if (second === undefined) throw new UsageError(`missing ${first} command`, first);
    const shown = printable(second);
    throw new UsageError(`unknown command: ${first}${shown ? ` ${shown}` : ''}`, first);
  }
  const shown = printable(first);
  throw new UsageError(shown ? `unknown command: ${shown}` : 'unknown command');
}

function globalOptions(values: OptionValues, env: Record<string, string | undefined>, spec: CommandSpec): GlobalOptions {
  const command = spec.path.join(' ');
  const stack = values.stack as string | undefined;
  const region = values.region as string | undefined;
  const dataDir = values['data-dir'] as string | undefined;
  if (stack && dataDir) throw new UsageError('--stack and --data-dir exclude each other', command);
  if (region && !stack) throw new UsageError('--region goes with --stack', command);
  if (stack && !/^[A-Za-z][A-Za-z0-9-]{0,127}$|^arn:/.test(stack)) throw new UsageError('--stack takes a CloudFormation stack name (or ARN)', command);
  return {
    dataDir: dataDir ?? (env.ORMCP_DATA_DIR || '.ormcp'),
    ...(stack ? { stack } : {}),
    ...(region ? { region } : {}),
  };
}
