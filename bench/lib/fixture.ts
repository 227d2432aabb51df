/**
 * The account side of the benchmarks: dynalite (a real DynamoDB API, in memory) on loopback with the project's
 * table, the real AccountStore under a known keyring, and one user with an OpenRouter key and an MCP token. The
 * stores reach the table through the Lambda's own DynamoDB client (store/dynamo-rpc.ts), as deployed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { newSecretString, parseKeyring, type Keyring } from '../../lambda/crypto/keyring.js';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { localTableClient, localTableRpc, startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { ANSWER } from './upstream.js';

// The AWS SDK warns once per process that its 2027 releases will need Node 22; that note is not a benchmark result.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const PROJECT_ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
export const OPENROUTER_KEY = 'sk-or-v1-bench-0123456789abcdef0123456789abcdef';

export interface Accounts {
  dynamo: LocalDynamo;
  /** The Lambda's DynamoDB client on that table: what every store of a benchmark should use. */
  client: DynamoDBDocumentClient;
  store: AccountStore;
  keyring: Keyring;
  /** The keyring's JSON, as Secrets Manager would hold it. */
  secretString: string;
  token: string;
  close(): Promise<void>;
}

export async function startAccounts(): Promise<Accounts> {
  const dynamo = await startLocalDynamo();
  const rpc = localTableRpc(dynamo.endpoint);
  const client = localTableClient(rpc);
  const secretString = newSecretString();
  const keyring = parseKeyring(secretString);
  const store = new AccountStore({ client, tableName: dynamo.tableName, keyring });
  const { userId } = await store.createUser('bench');
  await store.setOpenRouterKey(userId, OPENROUTER_KEY);
  const { token } = await store.issueToken(userId, { label: 'benchmark' });
  return {
    dynamo,
    client,
    store,
    keyring,
    secretString,
    token,
    close: async () => {
      await store.settle();
      rpc.destroy();
      await dynamo.close();
    },
  };
}

/** Starts the benchmark upstream in its own process; resolves with its base URL. */
export async function startUpstreamChild(): Promise<{ baseUrl: string; child: ChildProcess; close(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/upstream-child.ts'], {
    cwd: PROJECT_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { PATH: process.env.PATH ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the upstream child exited early (${code})`)));
    createInterface({ input: child.stdout! }).once('line', resolve);
  });
  return {
    baseUrl,
    child,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

/** A timed call's answer must be the upstream's fixed one, not an error: a benchmark of failures would time nothing. */
export function checkAnswer(status: number, text: string, where: string): void {
  if (status !== 200 || !text.includes(ANSWER) || text.includes('"isError":true')) {
    throw new Error(`${where}: unexpected answer (HTTP ${status}): ${text.slice(0, 300)}`);
  }
}

/** The chat call made directly upstream, the baseline a server's calls are paired with. */
export function directChatCall(upstreamBaseUrl: string, model: string): () => Promise<void> {
  return async () => {
    const res = await fetch(`${upstreamBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${OPENROUTER_KEY}`, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hello.' }] }),
    });
    const text = await res.text();
    JSON.parse(text);
    checkAnswer(res.status, text, 'direct');
  };
}

/** JSON-RPC tools/call for send_chat_completion_request, as a 2025-era stateless client sends it (no initialize). */
export function chatCall(id: number, model: string, progressToken?: string): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: 'send_chat_completion_request',
      arguments: { model, messages: [{ role: 'user', content: 'Say hello.' }] },
      ...(progressToken ? { _meta: { progressToken } } : {}),
    },
  });
}

export function mcpHeaders(token: string): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    'MCP-Protocol-Version': '2025-11-25',
    Authorization: `Bearer ${token}`,
  };
}

/** The JSON-RPC messages in an MCP answer (a JSON body, or the data lines of an SSE body). */
export function rpcMessages(contentType: string | null, body: string): Record<string, unknown>[] {
  if (!contentType?.startsWith('text/event-stream')) return body ? [JSON.parse(body) as Record<string, unknown>] : [];
  const out: Record<string, unknown>[] = [];
  for (const block of body.split(/\n\n/)) {
    const data = block
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (data) out.push(JSON.parse(data) as Record<string, unknown>);
  }
  return out;
}
