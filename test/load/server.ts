/**
 * The local server as `npm start` runs it (the start script's node flags, the tsx loader, lambda/local/main.ts,
 * embedded dynalite on a fresh data dir), as a child process pointed at a given upstream, plus a memory probe
 * (see memory-probe.mjs) reachable over IPC. Logs go to a file in the data dir, as a terminal or journal would take them.
 */
import { resolve } from 'node:path';
import { startLocalServerChild } from '../../bench/lib/local-server.js';
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
  const args = npmStartNodeArgs();
  const script = args.pop()!;
  const { child, url, token, stop } = await startLocalServerChild({
    args: [...args, '--expose-gc', '--import', PROBE, script],
    cwd: resolve(__dirname, '../..'),
    upstreamBaseUrl,
    openRouterKey,
    dataDirPrefix: 'ormcp-load-',
    ipc: true,
  });

  const pending = new Map<number, (m: Omit<MemorySample, 'at'>) => void>();
  child.on('message', (m: { type?: string; id: number } & Omit<MemorySample, 'at'>) => {
    if (m.type === 'memory') pending.get(m.id)?.({ rss: m.rss, heapUsed: m.heapUsed, collected: m.collected });
    pending.delete(m.id);
  });
  let nextId = 0;

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
}
