/** The store the CLI works on: the local data dir (default) or a deployed stack (`--stack`). */
import type { CliIo } from '../io.js';
import type { GlobalOptions } from '../spec.js';
import type { Backend } from './backend.js';
import { openLocalBackend } from './local.js';
import { destroyAll, openStackBackend, readStackOutputs } from './stack.js';

export type { Backend };

export function openBackend(globals: GlobalOptions, io: CliIo, options: { create: boolean }): Promise<Backend> {
  if (globals.stack) return openStackBackend(globals.stack, globals.region, io.aws ?? {});
  return openLocalBackend(globals.dataDir, io.cwd ?? process.cwd(), options);
}

/** One output of the deployed stack (McpUrl for client-config, TeamControl for the settings), without touching the secret or the table. */
export async function stackOutput(globals: GlobalOptions, io: CliIo, key: string): Promise<string | undefined> {
  if (!globals.stack) return undefined;
  const created: { destroy(): void }[] = [];
  try {
    return (await readStackOutputs(globals.stack, globals.region, io.aws ?? {}, created))[key];
  } finally {
    destroyAll(created);
  }
}
