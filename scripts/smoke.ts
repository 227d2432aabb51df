/**
 * `npm run smoke -- <McpUrl> --token <token> [--spend] [--model <id>]`: checks a deployment from the outside, as a
 * client sees it, after `cdk deploy` (or against `npm start`). The token may come from ORMCP_TOKEN instead.
 *
 * Steps, one PASS/FAIL line each: the protected-resource metadata; the 401 challenge without a token; `tools/list`
 * with the token through the 2025-era SDK 1.x client and through the v2 client negotiating 2026-07-28; one catalog
 * call (retrieve_available_models, no OpenRouter spend); and, only with --spend, one streamed generation on a free
 * model. Exit 0 only when every step passed (1 when one failed, 2 for bad arguments). The token is sent only over
 * https or to a loopback address, and never printed.
 */
import { parseArgs } from 'node:util';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';

const USAGE = 'usage: npm run smoke -- <McpUrl> --token <token> [--spend] [--model <free model id>] [--timeout <seconds>]\n' +
  '       (the token may also come from ORMCP_TOKEN)';
const CLIENT_INFO = { name: 'ormcp-smoke', version: '1.0.0' };
const ERA_2026 = '2026-07-28';

interface SmokeOptions {
  url: URL;
  token: string;
  spend: boolean;
  model: string | undefined;
  timeoutMs: number;
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function parseSmokeArgs(argv: string[], env: NodeJS.ProcessEnv): SmokeOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { token: { type: 'string' }, spend: { type: 'boolean', default: false }, model: { type: 'string' }, timeout: { type: 'string', default: '60' } },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : 'bad arguments');
  }
  const [raw, ...extra] = parsed.positionals;
  if (!raw || extra.length) throw new UsageError('give exactly one URL: the stack\'s McpUrl output');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`not a URL: ${raw}`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw new UsageError('the URL must be https (plain http only for localhost), so the token is never sent in the clear');
  const token = parsed.values.token ?? env.ORMCP_TOKEN ?? '';
  if (!token.trim()) throw new UsageError('no token: pass --token or set ORMCP_TOKEN');
  const seconds = Number(parsed.values.timeout);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 900) throw new UsageError('--timeout is seconds, 1–900');
  if (parsed.values.model !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:/@~-]{0,199}$/.test(parsed.values.model)) throw new UsageError('--model is an OpenRouter model id');
  return { url, token: token.trim(), spend: parsed.values.spend ?? false, model: parsed.values.model, timeoutMs: seconds * 1000 };
}

type StepResult = { status: 'pass' | 'fail' | 'skip'; name: string; detail: string };

interface Context {
  options: SmokeOptions;
  fetch: typeof fetch;
  /** A free model seen in the catalog step, for the generation. */
  freeModel?: string;
}

type Step = { name: string; run: (ctx: Context) => Promise<string> };

/** Where the metadata for the MCP endpoint lives (RFC 9728: the well-known path, then the resource's own path). */
function resourceMetadataUrl(mcpUrl: URL): URL {
  const base = mcpUrl.pathname.replace(/\/mcp\/?$/, '');
  return new URL(`${base}/.well-known/oauth-protected-resource/mcp`, mcpUrl);
}

function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

const discovery: Step = {
  name: 'discovery (/.well-known/oauth-protected-resource)',
  run: async ({ options, fetch }) => {
    const res = await fetch(resourceMetadataUrl(options.url), { signal: AbortSignal.timeout(options.timeoutMs) });
    check(res.status === 200, `HTTP ${res.status}`);
    const doc = (await res.json()) as { resource?: unknown; authorization_servers?: unknown };
    check(doc.resource === options.url.href.replace(/\/$/, ''), `resource is ${JSON.stringify(doc.resource)}, not this URL`);
    const servers = Array.isArray(doc.authorization_servers) ? doc.authorization_servers.length : 0;
    return `resource ${String(doc.resource)}, ${servers} authorization server(s)`;
  },
};

const challenge: Step = {
  name: '401 without a token',
  run: async ({ options, fetch }) => {
    const res = await fetch(options.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    check(res.status === 401, `HTTP ${res.status}, expected 401`);
    const header = res.headers.get('www-authenticate') ?? '';
    check(/^Bearer\b/i.test(header), 'no Bearer challenge in WWW-Authenticate');
    const metadata = /resource_metadata="([^"]+)"/.exec(header)?.[1];
    check(metadata === resourceMetadataUrl(options.url).href, `resource_metadata is ${metadata ?? 'missing'}`);
    await res.body?.cancel();
    return 'Bearer challenge with resource_metadata';
  },
};

const list2025: Step = {
  name: 'tools/list, 2025-era client (@modelcontextprotocol/sdk 1.x)',
  run: async ({ options, fetch }) => {
    const client = new ClientV1(CLIENT_INFO);
    await client.connect(new TransportV1(options.url, { requestInit: { headers: { Authorization: `Bearer ${options.token}` } }, fetch }), { timeout: options.timeoutMs });
    try {
      const { tools } = await client.listTools(undefined, { timeout: options.timeoutMs });
      check(tools.some((t) => t.name === 'send_chat_completion_request'), 'send_chat_completion_request is not listed');
      return `${tools.length} tools from ${client.getServerVersion()?.name ?? 'the server'}`;
    } finally {
      await client.close();
    }
  },
};

async function connect2026(options: SmokeOptions, fetchImpl: typeof fetch): Promise<ClientV2> {
  const client = new ClientV2(CLIENT_INFO, { versionNegotiation: { mode: 'auto' } });
  await client.connect(new TransportV2(options.url, { requestInit: { headers: { Authorization: `Bearer ${options.token}` } }, fetch: fetchImpl }), { timeout: options.timeoutMs });
  return client;
}

const list2026: Step = {
  name: `tools/list, ${ERA_2026} client (@modelcontextprotocol/client v2)`,
  run: async ({ options, fetch }) => {
    const client = await connect2026(options, fetch);
    try {
      const version = client.getNegotiatedProtocolVersion();
      check(version === ERA_2026, `negotiated ${version ?? 'nothing'}, expected ${ERA_2026}`);
      const { tools } = await client.listTools(undefined, { timeout: options.timeoutMs });
      check(tools.some((t) => t.name === 'send_chat_completion_request'), 'send_chat_completion_request is not listed');
      return `${tools.length} tools, protocol ${version}`;
    } finally {
      await client.close();
    }
  },
};

type ToolResult = { isError?: boolean; content?: { type: string; text?: string }[]; structuredContent?: Record<string, unknown> };

function resultText(result: ToolResult): string {
  return (result.content ?? []).map((c) => c.text ?? '').join(' ').slice(0, 200);
}

const catalog: Step = {
  name: 'catalog call (retrieve_available_models)',
  run: async (ctx) => {
    const client = await connect2026(ctx.options, ctx.fetch);
    try {
      const result = (await client.callTool({ name: 'retrieve_available_models', arguments: { free_only: true, limit: 5 } }, { timeout: ctx.options.timeoutMs })) as ToolResult;
      check(!result.isError, `tool error: ${resultText(result)}`);
      const page = result.structuredContent as { total?: unknown; models?: { id?: unknown }[] } | undefined;
      check(typeof page?.total === 'number', 'no catalog page in the result');
      const free = page.models?.map((m) => m.id).find((id): id is string => typeof id === 'string');
      if (free) ctx.freeModel = free;
      return `${page.total} free model(s) in the catalog`;
    } finally {
      await client.close();
    }
  },
};

const generation: Step = {
  name: 'streamed generation on a free model (--spend)',
  run: async (ctx) => {
    const model = ctx.options.model ?? ctx.freeModel;
    check(model, 'no free model found in the catalog; pass --model <id>');
    const client = await connect2026(ctx.options, ctx.fetch);
    try {
      const progressAt: number[] = [];
      const started = performance.now();
      const result = (await client.callTool(
        { name: 'send_chat_completion_request', arguments: { model, messages: [{ role: 'user', content: 'Count from 1 to 20, separated by spaces.' }], max_tokens: 64 } },
        { timeout: ctx.options.timeoutMs, onprogress: () => void progressAt.push(performance.now()) },
      )) as ToolResult;
      const finished = performance.now();
      check(!result.isError, `tool error: ${resultText(result)}`);
      check(progressAt.length > 0, 'no progress notification arrived: the response was not streamed');
      // Reported, not judged (a fast model can finish in one burst): a lead near 0 ms on a long answer means
      // something on the way holds the stream back until it ends.
      const lead = Math.round(finished - progressAt[0]!);
      return `${model}: ${progressAt.length} progress notification(s), the first ${lead} ms before the result (${Math.round(finished - started)} ms in all)`;
    } finally {
      await client.close();
    }
  },
};

/** Runs the steps in order (each one whatever the others did) and reports one result per step. */
async function runSmoke(options: SmokeOptions, deps: { fetch: typeof fetch; report: (r: StepResult) => void }): Promise<StepResult[]> {
  const ctx: Context = { options, fetch: deps.fetch };
  const results: StepResult[] = [];
  const steps = [discovery, challenge, list2025, list2026, catalog, ...(options.spend ? [generation] : [])];
  for (const step of steps) {
    let result: StepResult;
    try {
      result = { status: 'pass', name: step.name, detail: await step.run(ctx) };
    } catch (err) {
      result = { status: 'fail', name: step.name, detail: redact(err instanceof Error ? err.message : String(err), options.token) };
    }
    results.push(result);
    deps.report(result);
  }
  if (!options.spend) {
    const skipped: StepResult = { status: 'skip', name: generation.name, detail: 'not run: pass --spend to run one generation on a free model' };
    results.push(skipped);
    deps.report(skipped);
  }
  return results;
}

/** A token must never reach the terminal, even inside a library's error message. */
function redact(message: string, token: string): string {
  return message.split(token).join('<token>').replace(/\s+/g, ' ').slice(0, 300);
}

function formatResult(r: StepResult): string {
  return `${r.status.toUpperCase().padEnd(4)} ${r.name}${r.detail ? ` — ${r.detail}` : ''}`;
}

async function main(): Promise<number> {
  let options: SmokeOptions;
  try {
    options = parseSmokeArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`smoke: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  const results = await runSmoke(options, { fetch: globalThis.fetch, report: (r) => process.stdout.write(`${formatResult(r)}\n`) });
  const failed = results.filter((r) => r.status === 'fail').length;
  const ran = results.filter((r) => r.status !== 'skip').length;
  process.stdout.write(failed ? `smoke: ${failed} of ${ran} step(s) failed\n` : `smoke: all ${ran} step(s) passed\n`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
