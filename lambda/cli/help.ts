/** Help texts, built from the command specs so they cannot drift from what is parsed. */
import { GLOBAL_OPTION_HELP } from './args.js';
import { COMMANDS, GROUPS } from './commands/index.js';
import type { CommandSpec } from './spec.js';

function columns(rows: [string, string][], indent = '  '): string {
  const width = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `${indent}${a.padEnd(width)}  ${b}`).join('\n');
}

export function mainHelp(): string {
  return [
    'ormcp: operator CLI for the OpenRouter MCP server',
    '',
    'Usage: ormcp <command> [options]',
    '',
    'Commands:',
    columns(COMMANDS.map((c) => [c.path.join(' '), c.summary])),
    '',
    'Global options:',
    columns(GLOBAL_OPTION_HELP),
    '',
    'Works on the local data dir (the one `npm start` uses; fine while it runs), or with --stack on a deployed',
    "stack (the table and secret named by its outputs; your AWS credentials). Run 'ormcp <command> --help' for more.",
    'Exit codes: 0 success, 1 error, 2 usage error.',
  ].join('\n');
}

export function groupHelp(group: string): string {
  const commands = COMMANDS.filter((c) => c.path[0] === group);
  return [
    `ormcp ${group}: ${GROUPS[group] ?? ''}`,
    '',
    `Usage: ormcp ${group} <${commands.map((c) => c.path[1]).join('|')}> [options]`,
    '',
    'Commands:',
    ...commands.map((c) => `  ormcp ${c.synopsis}\n      ${c.summary}`),
    '',
    `Run 'ormcp ${group} <command> --help' for details.`,
  ].join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  const parts = [`Usage: ormcp ${spec.synopsis}`, '', `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`];
  if (spec.optionHelp.length > 0) parts.push('', 'Options:', columns(spec.optionHelp));
  if (spec.details) parts.push('', spec.details);
  parts.push('', 'Global options:', columns(GLOBAL_OPTION_HELP));
  return parts.join('\n');
}

/** The one-line usage shown with a usage error. */
export function usageLine(command: string): string {
  const spec = COMMANDS.find((c) => c.path.join(' ') === command);
  if (spec) return `Usage: ormcp ${spec.synopsis}\nRun 'ormcp ${command} --help' for details.`;
  if (GROUPS[command]) return `Usage: ormcp ${command} <${COMMANDS.filter((c) => c.path[0] === command).map((c) => c.path[1]).join('|')}> [options]\nRun 'ormcp ${command} --help' for details.`;
  return "Usage: ormcp <command> [options]\nRun 'ormcp --help' for the commands.";
}
