/**
 * The local server as `npm start` runs it, as a child process on a fresh data dir (persisted dynalite, its own
 * token cache) pointed at a given upstream, for the benchmarks and the load test. Its log lines go to a file in the
 * data dir, as a terminal or journal would take them. Kept free of import.meta so jest can load it too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface LocalServerOptions {
  /** node's arguments, the script last. */
  args: string[];
  cwd: string;
  upstreamBaseUrl: string;
  openRouterKey: string;
  /** Prefix of the temporary data dir's name. */
  dataDirPrefix: string;
  /** Opens an IPC channel to the child (for a probe loaded into it). */
  ipc?: boolean;
}

export interface LocalServerChild {
  child: ChildProcess;
  /** The MCP endpoint it printed. */
  url: string;
  /** The first token it printed. */
  token: string;
  /** The end of its log so far. */
  log(): string;
  /** Stops it (SIGKILL after 5 s) and removes its data dir. */
  stop(): Promise<void>;
}

/** Starts the server; resolves once it printed its URL and first token, or stops it and rejects. */
export async function startLocalServerChild(options: LocalServerOptions): Promise<LocalServerChild> {
  const dataDir = mkdtempSync(join(tmpdir(), options.dataDirPrefix));
  const logPath = join(dataDir, 'server.log');
  const logFd = openSync(logPath, 'w');
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd,
    stdio: options.ipc ? ['ignore', 'pipe', logFd, 'ipc'] : ['ignore', 'pipe', logFd],
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      ORMCP_DATA_DIR: dataDir,
      OPENROUTER_API_KEY: options.openRouterKey,
      OPENROUTER_BASE_URL: options.upstreamBaseUrl,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // One user drives every client: per-user limits high enough never to refuse, so their bookkeeping still
      // runs on every call without failing any.
      ORMCP_RATE_LIMIT_PER_MINUTE: '100000',
      ORMCP_MAX_CONCURRENT_PER_USER: '1000',
    },
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = () => readFileSync(logPath, 'utf8').slice(-2000);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const { url, token } = await new Promise<{ url: string; token: string }>((resolve, reject) => {
      let url: string | undefined;
      const timer = setTimeout(() => reject(new Error(`the server did not start in 30 s: ${log()}`)), 30_000);
      child.once('exit', (code) => reject(new Error(`the server exited (${code}): ${log()}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        url ??= /listening on (http:\/\/\S+\/mcp)/.exec(line)?.[1];
        if (url && /^ormcp_\S+$/.test(line.trim())) {
          clearTimeout(timer);
          resolve({ url, token: line.trim() });
        }
      });
    });
    return { child, url, token, log, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
