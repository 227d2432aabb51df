/** Running `ormcp` in tests: as a real child process (bin/ormcp.mjs), or in-process through run(). */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AwsClients } from '../../lambda/cli/io.js';
import { run } from '../../lambda/cli/run.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const BIN = resolve('bin/ormcp.mjs');

// In-process stores construct AWS SDK clients, which warn about the SDK's future Node requirement.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Environment for a child: no ambient OpenRouter key or data dir, no AWS SDK notice. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
  for (const name of ['OPENROUTER_API_KEY', 'ORMCP_DATA_DIR', 'PORT']) if (!(name in extra)) delete env[name];
  return env;
}

/** `node bin/ormcp.mjs …`; `stdin` is written and closed, otherwise stdin is /dev/null. */
export function spawnCli(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<CliResult> {
  return new Promise((resolveResult, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: childEnv(options.env),
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ormcp ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveResult({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A deployed stack's table on dynalite, with the `aws` clients through which run() reaches it in `--stack` mode. */
export interface StackTable {
  dynamo: LocalDynamo;
  aws: AwsClients;
  close(): Promise<void>;
}

export async function startStackTable(tableName: string): Promise<StackTable> {
  const dynamo = await startLocalDynamo({ tableName });
  const dynamoDb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return {
    dynamo,
    aws: { dynamoDb },
    async close() {
      dynamoDb.destroy();
      await dynamo.close();
    },
  };
}

/** run() in-process with captured output. */
export async function runCli(args: string[], options: { env?: Record<string, string>; stdin?: string; aws?: AwsClients; now?: () => Date } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: options.env ?? {},
    ...(options.aws ? { aws: options.aws } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return { code, stdout, stderr };
}

/** Every file under dir (recursively), as raw bytes in latin1 so binary LevelDB files can be searched. */
export function allFileContents(dir: string): { path: string; content: string }[] {
  const out: { path: string; content: string }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...allFileContents(path));
    else out.push({ path, content: readFileSync(path).toString('latin1') });
  }
  return out;
}

export const TOKEN_LINE = /^ormcp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;
