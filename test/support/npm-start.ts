/** `npm start` as a child process, the way the start script runs it, with its stdout and logs kept for assertions. */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, npmStartNodeArgs } from './harness.js';

export interface NpmStart {
  url: string;
  proc: ChildProcess;
  /** What it printed on stdout so far. */
  stdout(): string;
  /** Its log lines (stderr) so far. */
  logs(): string;
  stop(): Promise<void>;
}

/** Starts the server on a free port with `env` (no ORMCP_OIDC_* unless given) and waits until stdout shows `ready`. */
export async function startNpmStart(env: Record<string, string>, ready = 'listening on'): Promise<NpmStart> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', OPENROUTER_API_KEY: '' };
  for (const name of Object.keys(childEnv)) if (name.startsWith('ORMCP_OIDC_')) delete childEnv[name];
  Object.assign(childEnv, { PORT: String(port) }, env);
  const proc = spawn(process.execPath, npmStartNodeArgs(), { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let logs = '';
  proc.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  await new Promise<void>((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up: ${out}${logs}`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolveStart();
      }
    });
    proc.once('exit', (code) => reject(new Error(`npm start exited ${code}: ${out}${logs}`)));
  });
  return {
    url,
    proc,
    stdout: () => out,
    logs: () => logs,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
