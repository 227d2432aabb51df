/**
 * The local server as `npm start` runs it (the start script's node flags, the tsx loader, lambda/local/main.ts,
 * embedded dynalite on a fresh data dir), as a child process pointed at a given upstream, plus a memory probe
 * (see memory-probe.mjs) reachable over IPC. Logs go to a file in the data dir, as a terminal or journal would take them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { npmStartNodeArgs } from '../support/harness.js';

export interface MemorySample {
  /** ms since the probe was started by the caller's clock. */
  at: number;
  rss: number;
  heapUsed: number;
  /** Whether heapUsed was taken right after a full GC. */
  collected: boolean;
}

export interface LoadServer {
  url: string;
  token: string;
  pid: number;
  memory(): Promise<Omit<MemorySample, 'at'>>;
  stop(): Promise<void>;
}

const PROBE = resolve(__dirname, 'memory-probe.mjs');

export async function startNpmStartServer(upstreamBaseUrl: string, openRouterKey: string): Promise<LoadServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ormcp-load-'));
  const logPath = join(dataDir, 'server.log');
  const logFd = openSync(logPath, 'w');
  const args = npmStartNodeArgs();
  const script = args.pop()!;
  const child: ChildProcess = spawn(process.execPath, [...args, '--expose-gc', '--import', PROBE, script], {
    cwd: resolve(__dirname, '../..'),
    stdio: ['ignore', 'pipe', logFd, 'ipc'],
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      ORMCP_DATA_DIR: dataDir,
      OPENROUTER_API_KEY: openRouterKey,
      OPENROUTER_BASE_URL: upstreamBaseUrl,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // All clients share the one local user: per-user limits high enough never to refuse, so their
      // bookkeeping still runs on every call (and would show in the memory trend) without failing any.
      ORMCP_RATE_LIMIT_PER_MINUTE: '100000',
      ORMCP_MAX_CONCURRENT_PER_USER: '1000',
    },
  });
  closeSync(logFd);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const log = () => readFileSync(logPath, 'utf8').slice(-2000);

  const pending = new Map<number, (m: Omit<MemorySample, 'at'>) => void>();
  child.on('message', (m: { type?: string; id: number } & Omit<MemorySample, 'at'>) => {
    if (m.type === 'memory') pending.get(m.id)?.({ rss: m.rss, heapUsed: m.heapUsed, collected: m.collected });
    pending.delete(m.id);
  });
  let nextId = 0;

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
    const { url, token } = await new Promise<{ url: string; token: string }>((resolveStart, reject) => {
      let url: string | undefined;
      const timer = setTimeout(() => reject(new Error(`the server did not start in 30 s: ${log()}`)), 30_000);
      child.once('exit', (code) => reject(new Error(`the server exited (${code}): ${log()}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        url ??= /listening on (http:\/\/\S+\/mcp)/.exec(line)?.[1];
        if (url && /^ormcp_\S+$/.test(line.trim())) {
          clearTimeout(timer);
          resolveStart({ url, token: line.trim() });
        }
      });
    });
    return {
      url,
      token,
      pid: child.pid!,
      memory: () =>
        new Promise((resolveSample, reject) => {
          const id = ++nextId;
          const timer = setTimeout(() => {
            pending.delete(id);
            reject(new Error('the memory probe did not answer in 10 s'));
          }, 10_000);
          pending.set(id, (m) => {
            clearTimeout(timer);
            resolveSample(m);
          });
          child.send({ type: 'memory', id });
        }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
