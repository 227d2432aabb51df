/**
 * A fake OpenRouter on loopback that follows the official OpenAPI spec and the documented behaviour:
 * error envelopes with HTTP status = code, SSE streaming with processing comments, role/content/finish/usage
 * chunks and [DONE], mid-stream errors on HTTP 200, `models` fallbacks, per-token decimal-string prices,
 * opt-in paging on /models, and a /generation lookup that 404s briefly. Every request body is validated
 * against the spec; violations are answered with 400 and recorded so tests can assert there were none.
 *
 * Behaviour is chosen by model id, so tests driving the server through real MCP clients can trigger it:
 *   fake/echo (default) · fake/slow (and fake/slow-<name>: several distinct slow models) · fake/length · fake/reasoning-only · fake/tool-call · fake/empty
 *   fake/midstream-error · fake/garbage · fake/truncated · fake/error-<status> (400/401/402/403/408/429/502/503)
 *   fake/unpriced (usage.cost null in the answer, as the spec allows; its /generation lookup has the cost)
 * Images (`POST /images`, and chat with `modalities` including "image"): a real 8×8 PNG per image;
 *   fake/big-image answers with one too large to inline, fake/svg-image with an SVG labelled as PNG.
 *
 * Transport faults on any route (reads have no model id to steer them) come from `fault(path, mode, times)`:
 * the next `times` requests to that path are recorded as usual and then answered by the fault instead.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendJson } from './json-bodies.js';
import { validateAgainst, validateCompletionRequest, validateOperationBody } from './openapi.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  apiKey: string | undefined;
  body: Record<string, unknown> | undefined;
}

export interface FakeKey {
  limit: number | null;
  usage: number;
  is_free_tier: boolean;
}

const CREATED = 1_750_000_000;

/**
 * hang: never answer (the socket stays open) · reset: drop the connection without a response ·
 * status: an error envelope with that HTTP status (and Retry-After) · malformed-json: HTTP 200 whose body is not JSON ·
 * stall-midstream / reset-midstream: HTTP 200 SSE with the first content chunk, then silence or a dropped connection.
 */
export type FaultMode =
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'status'; status: number; retryAfter?: string }
  | { kind: 'malformed-json' }
  | { kind: 'stall-midstream' }
  | { kind: 'reset-midstream' };

function model(id: string, name: string, o: { prompt: string; completion: string; ctx: number; input?: string[]; output?: string[]; params?: string[]; created?: number; description?: string; request?: string }) {
  return {
    id,
    canonical_slug: id,
    name,
    created: o.created ?? CREATED,
    description: o.description ?? `${name} by ${id.split('/')[0]}.`,
    context_length: o.ctx,
    architecture: { modality: `${(o.input ?? ['text']).join('+')}->${(o.output ?? ['text']).join('+')}`, input_modalities: o.input ?? ['text'], output_modalities: o.output ?? ['text'], tokenizer: 'Other', instruct_type: null },
    pricing: { prompt: o.prompt, completion: o.completion, request: o.request ?? '0', image: '0' },
    top_provider: { context_length: o.ctx, max_completion_tokens: 8192, is_moderated: false },
    per_request_limits: null,
    supported_parameters: o.params ?? ['temperature', 'top_p', 'max_tokens', 'stop', 'seed'],
    default_parameters: null,
    supported_voices: null,
    links: { details: `/api/v1/models/${id}/endpoints` },
  };
}

const FULL = ['temperature', 'top_p', 'top_k', 'min_p', 'top_a', 'frequency_penalty', 'presence_penalty', 'repetition_penalty', 'seed', 'stop', 'max_tokens', 'logit_bias', 'logprobs', 'top_logprobs', 'response_format', 'structured_outputs', 'tools', 'tool_choice', 'parallel_tool_calls', 'reasoning', 'include_reasoning'];

export const FAKE_MODELS = [
  model('openai/gpt-4o', 'OpenAI: GPT-4o', { prompt: '0.0000025', completion: '0.00001', ctx: 128_000, input: ['text', 'image', 'file'], params: FULL, created: CREATED + 500, description: 'GPT-4o is OpenAI\'s versatile flagship multimodal model.' }),
  model('openai/gpt-4o-mini', 'OpenAI: GPT-4o-mini', { prompt: '0.00000015', completion: '0.0000006', ctx: 128_000, input: ['text', 'image'], params: FULL, created: CREATED + 400 }),
  model('anthropic/claude-sonnet-4.5', 'Anthropic: Claude Sonnet 4.5', { prompt: '0.000003', completion: '0.000015', ctx: 1_000_000, input: ['text', 'image', 'file'], params: FULL, created: CREATED + 900, description: 'Claude Sonnet 4.5 is Anthropic\'s best coding model.' }),
  model('meta-llama/llama-3.1-8b-instruct:free', 'Meta: Llama 3.1 8B Instruct (free)', { prompt: '0', completion: '0', ctx: 131_072, params: ['temperature', 'top_p', 'top_k', 'max_tokens', 'stop'], created: CREATED + 100 }),
  model('google/gemini-2.5-flash-image', 'Google: Gemini 2.5 Flash Image', { prompt: '0.0000003', completion: '0.0000025', ctx: 32_768, input: ['text', 'image'], output: ['text', 'image'], params: ['temperature', 'max_tokens', 'response_format', 'structured_outputs'], created: CREATED + 800 }),
  model('deepseek/deepseek-r1', 'DeepSeek: R1', { prompt: '0.0000004', completion: '0.000002', ctx: 163_840, params: ['temperature', 'max_tokens', 'reasoning', 'include_reasoning', 'tools'], created: CREATED + 300, description: 'DeepSeek R1 is an open reasoning model.' }),
  model('openrouter/auto', 'Auto Router', { prompt: '-1', completion: '-1', ctx: 2_000_000, params: FULL, created: CREATED + 50, description: 'Routes your prompt to a suitable model.' }),
  model('fake/echo', 'Fake: Echo', { prompt: '0.000001', completion: '0.000002', ctx: 8192, params: FULL, created: CREATED }),
];

const ERROR_BODIES: Record<number, { message: string; metadata?: Record<string, unknown> }> = {
  400: { message: 'fake/error-400 is not a valid model ID' },
  401: { message: 'User not found.' },
  402: { message: 'Insufficient credits. Add more using https://openrouter.ai/credits' },
  403: { message: 'Input was flagged by moderation', metadata: { reasons: ['harassment', 'violence'], flagged_input: 'some flagged words', provider_name: 'OpenAI', model_slug: 'openai/gpt-4o' } },
  408: { message: 'Request timed out' },
  429: { message: 'Rate limit exceeded: free-models-per-min' },
  502: { message: 'Provider returned error', metadata: { provider_name: 'SomeProvider', raw: 'upstream exploded' } },
  503: { message: 'No endpoints found that can handle the requested parameters.' },
};

export class FakeOpenRouter {
  readonly requests: RecordedRequest[] = [];
  /** Spec violations seen in request bodies: must stay empty. */
  readonly violations: { path: string; errors: string[] }[] = [];
  readonly keys = new Map<string, FakeKey>();
  /** Delay between streamed chunks for fake/slow, and before answering when > 0 for everything. */
  slowChunkDelayMs = 150;
  responseDelayMs = 0;
  /** Streamed generations whose caller closed the connection before the last chunk (the generation stopped). */
  abandonedStreams = 0;
  private server: Server | undefined;
  private readonly generations = new Map<string, { model: string; lookups: number; cost: number; prompt: number; completion: number }>();
  private readonly faults = new Map<string, { mode: FaultMode; left: number }>();
  /** Per key: generations being answered now, and the most there ever were at once (what a concurrency limit bounds). */
  private readonly inFlight = new Map<string, number>();
  readonly peakInFlight = new Map<string, number>();
  private counter = 0;
  baseUrl = '';

  constructor(keys: string[] = []) {
    for (const k of keys) this.addKey(k);
  }

  /** The stand-in for https://openrouter.ai/auth (OAuth PKCE consent page), once started. */
  get authUrl(): string {
    return this.baseUrl.replace(/\/api\/v1$/, '/auth');
  }

  /** Keys that may create and delete keys (`POST /keys`, `DELETE /keys/{hash}`), as an operator's management key. */
  readonly managementKeys = new Set<string>();
  /** Keys created with a management key and not deleted since: hash → the key and the name it was created with. */
  readonly provisioned = new Map<string, { key: string; name: string }>();
  /** Guardrails created with a management key: id → the guardrail as `GET /guardrails/{id}` returns it. */
  readonly guardrails = new Map<string, Record<string, unknown>>();
  /** Which guardrail each key is assigned to: key hash → guardrail id (a key holds at most one). */
  readonly guardrailOfKey = new Map<string, string>();
  /** Pending OAuth PKCE codes of the consent page stand-in: code → S256 challenge. */
  private readonly authCodes = new Map<string, string>();

  addKey(key: string, info: Partial<FakeKey> = {}): void {
    this.keys.set(key, { limit: 50, usage: 12.5, is_free_tier: false, ...info });
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      // A bug in the fake must fail the test at once, not hang the client until its timeout.
      this.handle(req, res).catch((err: unknown) => {
        this.violations.push({ path: req.url ?? '', errors: [`fake server error: ${String(err)}`] });
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 500, message: 'fake server error' } }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v1`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Answer the next `times` requests to `path` (e.g. '/models', '/chat/completions') with a fault. */
  fault(path: string, mode: FaultMode, times = Infinity): void {
    this.faults.set(path, { mode, left: times });
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Requests to one route, newest last. */
  calls(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** openrouter.ai/auth: the user "approves" at once and is sent back with a code bound to the challenge. */
  private authorizePage(res: ServerResponse, q: URLSearchParams): void {
    const callback = q.get('callback_url');
    const challenge = q.get('code_challenge');
    if (!callback || !challenge || q.get('code_challenge_method') !== 'S256') {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('callback_url, code_challenge and code_challenge_method=S256 are required');
      return;
    }
    const code = `or_code_${randomBytes(12).toString('hex')}`;
    this.authCodes.set(code, challenge);
    const target = new URL(callback);
    target.searchParams.set('code', code);
    res.writeHead(302, { Location: target.toString() }).end();
  }

  /** POST /auth/keys: a code from the consent page and its PKCE verifier → a new key (single use). */
  private exchangeAuthCode(res: ServerResponse, body: Record<string, unknown> | undefined): void {
    const errors = validateOperationBody('/auth/keys', 'post', body);
    if (errors.length) this.violations.push({ path: '/auth/keys', errors });
    const code = String(body?.code ?? '');
    const challenge = this.authCodes.get(code);
    const verifier = String(body?.code_verifier ?? '');
    if (!challenge || createHash('sha256').update(verifier).digest('base64url') !== challenge) {
      return this.error(res, 403, 'Invalid code or code_verifier');
    }
    this.authCodes.delete(code);
    const key = `sk-or-v1-oauth-${randomBytes(16).toString('hex')}`;
    this.addKey(key, { limit: null, usage: 0 });
    sendJson(res, 200, { key, user_id: 'user_fake' });
  }

  /** POST /keys with a management key: a new key with the requested name and limit. */
  private createKey(res: ServerResponse, apiKey: string | undefined, body: Record<string, unknown> | undefined): void {
    if (!apiKey || !this.managementKeys.has(apiKey)) return this.error(res, 401, 'Management key required');
    const errors = validateOperationBody('/keys', 'post', body);
    if (errors.length) this.violations.push({ path: '/keys', errors });
    const key = `sk-or-v1-provisioned-${randomBytes(16).toString('hex')}`;
    const limit = typeof body?.limit === 'number' ? body.limit : null;
    this.addKey(key, { limit, usage: 0 });
    // Like OpenRouter's: 64 hex characters identifying the key, not derivable back to it.
    const hash = createHash('sha256').update(key).digest('hex');
    this.provisioned.set(hash, { key, name: String(body?.name ?? '') });
    sendJson(res, 201, { data: { name: body?.name, label: 'sk-or-v1-pro...', limit, usage: 0, disabled: false, hash }, key });
  }

  /** DELETE /keys/{hash} with a management key: the key stops working at once; an unknown hash is a 404. */
  private deleteKey(res: ServerResponse, apiKey: string | undefined, hash: string): void {
    if (!apiKey || !this.managementKeys.has(apiKey)) return this.error(res, 401, 'Management key required');
    const created = this.provisioned.get(hash);
    if (!created) return this.error(res, 404, 'Resource not found');
    this.provisioned.delete(hash);
    this.keys.delete(created.key);
    this.guardrailOfKey.delete(hash);
    sendJson(res, 200, { deleted: true });
  }

  /**
   * The `/guardrails` routes (management key only): list (offset/limit paging), create, get, update, delete, and
   * key assignments. Bodies are validated against the spec; a violation is recorded and answered with 400.
   */
  private guardrailRoute(res: ServerResponse, method: string, path: string, q: URLSearchParams, apiKey: string | undefined, body: Record<string, unknown> | undefined): void {
    if (!apiKey || !this.managementKeys.has(apiKey)) return this.error(res, 401, 'Management key required');
    const [, , id, sub, subsub, extra] = path.split('/');
    const specPath = id === undefined ? '/guardrails' : sub === undefined ? '/guardrails/{id}' : `/guardrails/{id}/${sub}/${subsub ?? ''}`;
    const withBody = ['POST /guardrails', 'PATCH /guardrails/{id}', 'POST /guardrails/{id}/assignments/keys'];
    if (extra === undefined && withBody.includes(`${method} ${specPath}`)) {
      const errors = validateOperationBody(specPath, method === 'POST' ? 'post' : 'patch', body);
      if (errors.length) {
        this.violations.push({ path: specPath, errors });
        return this.error(res, 400, 'Invalid request parameters');
      }
    }
    if (id === undefined) {
      if (method === 'GET') {
        const offset = Number(q.get('offset') ?? 0);
        const limit = Number(q.get('limit') ?? 50);
        if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 100) return this.error(res, 400, 'Invalid request parameters');
        const all = [...this.guardrails.values()];
        return sendJson(res, 200, { data: all.slice(offset, offset + limit), total_count: all.length });
      }
      if (method === 'POST') {
        const created = { ...body, id: randomUUID(), created_at: new Date().toISOString(), updated_at: null };
        this.guardrails.set(created.id, created);
        return sendJson(res, 201, { data: created });
      }
    }
    const guardrail = id === undefined ? undefined : this.guardrails.get(decodeURIComponent(id));
    if (!guardrail || extra !== undefined) return this.error(res, 404, 'Resource not found');
    const gid = String(guardrail.id);
    if (sub === undefined) {
      if (method === 'GET') return sendJson(res, 200, { data: guardrail });
      if (method === 'PATCH') {
        Object.assign(guardrail, body, { updated_at: new Date().toISOString() });
        return sendJson(res, 200, { data: guardrail });
      }
      if (method === 'DELETE') {
        this.guardrails.delete(gid);
        for (const [hash, g] of this.guardrailOfKey) if (g === gid) this.guardrailOfKey.delete(hash);
        return sendJson(res, 200, { deleted: true });
      }
    }
    if (sub === 'assignments' && subsub === 'keys' && method === 'POST') {
      const hashes = (body?.key_hashes as string[] | undefined) ?? [];
      if (hashes.some((h) => !this.provisioned.has(h))) return this.error(res, 404, 'Resource not found');
      for (const h of hashes) this.guardrailOfKey.set(h, gid);
      return sendJson(res, 200, { assigned_count: hashes.length });
    }
    if (sub === 'assignments' && subsub === 'keys' && method === 'GET') {
      const data = [...this.guardrailOfKey].filter(([, g]) => g === gid).map(([hash]) => ({ id: randomUUID(), key_hash: hash, guardrail_id: gid, key_name: this.provisioned.get(hash)?.name ?? '', key_label: 'sk-or-v1-pro...', assigned_by: 'user_fake', created_at: new Date().toISOString() }));
      return sendJson(res, 200, { data, total_count: data.length });
    }
    return this.error(res, 404, `Not Found: ${method} ${path}`);
  }

  /** Every `DELETE /keys/{hash}` received (faulted ones included), oldest first. */
  keyDeletions(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith('/keys/'));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (data += c));
      req.on('end', () => resolve(data));
    });
    let body: Record<string, unknown> | undefined;
    if (raw) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return this.error(res, 400, 'Invalid JSON body');
      }
    }
    const auth = req.headers.authorization;
    const apiKey = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    this.requests.push({ method: req.method ?? 'GET', path, query: url.searchParams, headers: req.headers, apiKey, body });
    const fault = this.faults.get(path);
    if (fault && fault.left-- > 0) return this.injectFault(req, res, fault.mode);
    if (this.responseDelayMs) await sleep(this.responseDelayMs);

    if (req.method === 'GET' && path === '/models') return this.models(res, url.searchParams);
    if (req.method === 'GET' && url.pathname === '/auth') return this.authorizePage(res, url.searchParams);
    if (req.method === 'POST' && path === '/auth/keys') return this.exchangeAuthCode(res, body);
    if (req.method === 'POST' && path === '/keys') return this.createKey(res, apiKey, body);
    const keyHash = /^\/keys\/([^/]+)$/.exec(path);
    if (req.method === 'DELETE' && keyHash) return this.deleteKey(res, apiKey, decodeURIComponent(keyHash[1]!));
    if (path === '/guardrails' || path.startsWith('/guardrails/')) return this.guardrailRoute(res, req.method ?? 'GET', path, url.searchParams, apiKey, body);
    if (!apiKey || !this.keys.has(apiKey)) return this.error(res, 401, 'User not found.');
    if (req.method === 'POST' && path === '/chat/completions') return this.counted(apiKey, () => this.generate(res, path, body, 'chat'));
    if (req.method === 'POST' && path === '/completions') return this.counted(apiKey, () => this.generate(res, path, body, 'text'));
    if (req.method === 'POST' && path === '/images') return this.images(res, path, body);
    if (req.method === 'GET' && path === '/key') return this.key(res, apiKey);
    if (req.method === 'GET' && path === '/generation') return this.generation(res, url.searchParams.get('id') ?? '');
    const endpoints = /^\/models\/(.+)\/endpoints$/.exec(path);
    if (req.method === 'GET' && endpoints) return this.endpoints(res, decodeURIComponent(endpoints[1]!));
    return this.error(res, 404, `Not Found: ${req.method} ${path}`);
  }

  private injectFault(req: IncomingMessage, res: ServerResponse, mode: FaultMode): void {
    switch (mode.kind) {
      case 'hang':
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'status':
        return this.error(res, mode.status, `Injected fault: HTTP ${mode.status}`, undefined, mode.retryAfter ? { 'Retry-After': mode.retryAfter } : {});
      case 'malformed-json':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"id":"gen-cut-off","choices":[{"message":');
        return;
      case 'stall-midstream':
      case 'reset-midstream': {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
        const base = { id: `gen-fault-${++this.counter}`, model: 'fake/echo', provider: 'FakeProvider', created: CREATED, object: 'chat.completion.chunk' };
        res.write(': OPENROUTER PROCESSING\n\n');
        res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Partial ' }, finish_reason: null }] })}\n\n`);
        // Destroy only once the chunk has reached the socket, so the client always sees partial output first.
        if (mode.kind === 'reset-midstream') res.write('', () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
    }
  }

  private error(res: ServerResponse, code: number, message: string, metadata?: Record<string, unknown>, headers: Record<string, string> = {}): void {
    sendJson(res, code, { error: { code, message, ...(metadata ? { metadata } : {}) } }, headers);
  }

  private models(res: ServerResponse, q: URLSearchParams): void {
    const wanted = q.get('output_modalities') ?? 'text';
    let list = FAKE_MODELS.filter((m) => wanted === 'all' || wanted.split(',').some((w) => m.architecture.output_modalities.includes(w)));
    if (q.has('limit') || q.has('offset')) {
      const offset = Number(q.get('offset') ?? 0);
      list = list.slice(offset, offset + Number(q.get('limit') ?? 500));
    }
    sendJson(res, 200, { data: list });
  }

  private key(res: ServerResponse, apiKey: string): void {
    const k = this.keys.get(apiKey)!;
    sendJson(res, 200, {
      data: {
        label: `${apiKey.slice(0, 11)}...${apiKey.slice(-3)}`,
        limit: k.limit,
        limit_remaining: k.limit === null ? null : k.limit - k.usage,
        limit_reset: 'monthly',
        usage: k.usage,
        usage_daily: 0.5,
        usage_weekly: 3,
        usage_monthly: k.usage,
        byok_usage: 0,
        byok_usage_daily: 0,
        byok_usage_weekly: 0,
        byok_usage_monthly: 0,
        include_byok_in_limit: false,
        is_free_tier: k.is_free_tier,
        is_management_key: false,
        is_provisioning_key: false,
        expires_at: null,
        rate_limit: { interval: '10s', requests: 100, note: 'deprecated' },
      },
    });
  }

  private generation(res: ServerResponse, id: string): void {
    const g = this.generations.get(id);
    if (!g) return this.error(res, 404, 'Generation not found');
    // OpenRouter writes generation stats a moment after the response; the first lookup misses.
    if (g.lookups++ === 0) return this.error(res, 404, 'Generation not found');
    sendJson(res, 200, {
      data: {
        id, model: g.model, provider_name: 'FakeProvider', created_at: new Date(CREATED * 1000).toISOString(), total_cost: g.cost, usage: g.cost,
        upstream_inference_cost: null, cache_discount: null, tokens_prompt: g.prompt, tokens_completion: g.completion, native_tokens_prompt: g.prompt,
        native_tokens_completion: g.completion, native_tokens_reasoning: 0, native_tokens_cached: 0, latency: 120, generation_time: 480,
        finish_reason: 'stop', native_finish_reason: 'stop', streamed: false, cancelled: false, is_byok: false, api_type: 'completions', origin: '',
      },
    });
  }

  private endpoints(res: ServerResponse, id: string): void {
    const m = FAKE_MODELS.find((x) => x.id === id);
    if (!m) return this.error(res, 404, 'Model not found');
    const endpoint = (provider: string, factor: number, quantization: string, uptime: number) => ({
      name: `${provider} | ${id}`, model_id: id, model_name: m.name, provider_name: provider, tag: provider.toLowerCase(), context_length: m.context_length,
      max_completion_tokens: 8192, max_prompt_tokens: null, quantization, status: 0, uptime_last_30m: uptime, supports_implicit_caching: false,
      supported_parameters: m.supported_parameters, latency_last_30m: { p50: 300 }, throughput_last_30m: { p50: 80 },
      pricing: { prompt: String(Number(m.pricing.prompt) * factor), completion: String(Number(m.pricing.completion) * factor), request: '0', image: '0' },
    });
    sendJson(res, 200, {
      data: {
        id: m.id, name: m.name, created: m.created, description: m.description, architecture: m.architecture,
        endpoints: [endpoint('Pricey', 2, 'fp16', 99.1), endpoint('Cheapo', 1, 'fp8', 97.5)],
      },
    });
  }

  private async counted(key: string, answer: () => Promise<void>): Promise<void> {
    const now = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, now);
    this.peakInFlight.set(key, Math.max(now, this.peakInFlight.get(key) ?? 0));
    try {
      await answer();
    } finally {
      this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
    }
  }

  private async generate(res: ServerResponse, path: string, body: Record<string, unknown> | undefined, kind: 'chat' | 'text'): Promise<void> {
    const errors = kind === 'chat' ? validateAgainst('ChatRequest', body) : validateCompletionRequest(body);
    if (errors.length) {
      this.violations.push({ path, errors });
      return this.error(res, 400, `Invalid request: ${errors.join('; ')}`);
    }
    const b = body!;
    const candidates = [...(typeof b.model === 'string' ? [b.model] : []), ...((b.models as string[] | undefined) ?? [])];
    if (!candidates.length) candidates.push('fake/echo');
    // `models` fallback: the first candidate that is not an error model serves; the response names it.
    const served = candidates.find((m) => !m.startsWith('fake/error-')) ?? candidates[candidates.length - 1]!;
    const status = /^fake\/error-(\d{3})$/.exec(served);
    if (status) {
      const code = Number(status[1]);
      const e = ERROR_BODIES[code] ?? { message: 'error' };
      return this.error(res, code, e.message, e.metadata, code === 429 ? { 'Retry-After': '7' } : {});
    }
    const known = FAKE_MODELS.some((m) => m.id === served) || served.startsWith('fake/');
    if (!known) return this.error(res, 400, `${served} is not a valid model ID`);

    const plan = this.plan(served, b, kind);
    const id = `gen-${Date.now()}-${++this.counter}`;
    const cost = (12 + plan.completionTokens * 2) / 1e6;
    const usage = { prompt_tokens: 12, completion_tokens: plan.completionTokens, total_tokens: 12 + plan.completionTokens, cost: served === 'fake/unpriced' ? null : cost, is_byok: false, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: plan.reasoning ? 7 : 0 } };
    this.generations.set(id, { model: served, lookups: 0, cost, prompt: 12, completion: plan.completionTokens });

    if (served === 'fake/garbage') {
      res.writeHead(200, { 'Content-Type': b.stream ? 'text/event-stream' : 'application/json' });
      res.end(b.stream ? 'data: {not json\n\n' : '<html>oops</html>');
      return;
    }
    const base = { id, model: served, provider: 'FakeProvider', created: CREATED, system_fingerprint: null };
    if (!b.stream) {
      const choice =
        kind === 'chat'
          ? { index: 0, finish_reason: plan.finish, native_finish_reason: plan.finish, message: { role: 'assistant', content: plan.text, ...(plan.reasoning ? { reasoning: plan.reasoning } : {}), ...(plan.toolCalls ? { tool_calls: plan.toolCalls } : {}), ...(wantsImages(b) ? { images: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${imageFor(served).toString('base64')}` } }] } : {}) } }
          : { index: 0, text: plan.text, finish_reason: plan.finish, native_finish_reason: plan.finish };
      if (served === 'fake/midstream-error') return this.error(res, 502, 'Provider returned error');
      // A slow model is slow whether or not it streams.
      if (isSlow(served)) await sleep(this.slowChunkDelayMs * plan.pieces.length);
      return sendJson(res, 200, { ...base, object: kind === 'chat' ? 'chat.completion' : 'text_completion', choices: [choice], usage });
    }

    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.once('close', () => {
      if (!res.writableEnded) this.abandonedStreams++;
    });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      kind === 'chat'
        ? send({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish, native_finish_reason: finish }] })
        : send({ ...base, object: 'text_completion', choices: [{ index: 0, text: (delta.content as string | undefined) ?? '', finish_reason: finish }] });
    res.write(': OPENROUTER PROCESSING\n\n');
    if (kind === 'chat') chunk({ role: 'assistant', content: '' });
    const delay = isSlow(served) ? this.slowChunkDelayMs : 0;
    if (plan.reasoning) chunk({ reasoning: plan.reasoning });
    for (const piece of plan.pieces) {
      if (delay) {
        res.write(': OPENROUTER PROCESSING\n\n');
        await sleep(delay);
      }
      chunk({ content: piece });
    }
    if (served === 'fake/midstream-error') {
      send({ ...base, object: 'chat.completion.chunk', error: { code: 502, message: 'Provider disconnected' }, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] });
      res.end();
      return;
    }
    if (served === 'fake/truncated') {
      res.end();
      return;
    }
    if (plan.toolCalls) {
      plan.toolCalls.forEach((call, index) => {
        chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] });
        const args = call.function.arguments;
        chunk({ tool_calls: [{ index, function: { arguments: args.slice(0, 5) } }] });
        chunk({ tool_calls: [{ index, function: { arguments: args.slice(5) } }] });
      });
    }
    chunk({}, plan.finish);
    send({ ...base, object: 'chat.completion.chunk', choices: [], usage });
    res.write('data: [DONE]\n\n');
    res.end();
  }

  /** POST /images: `n` images (default 1) of the fake PNG, with usage and cost; error models fail as in chat. */
  private images(res: ServerResponse, path: string, body: Record<string, unknown> | undefined): void {
    const errors = validateAgainst('ImageGenerationRequest', body);
    if (errors.length) {
      this.violations.push({ path, errors });
      return this.error(res, 400, `Invalid request: ${errors.join('; ')}`);
    }
    const served = String(body!.model);
    const status = /^fake\/error-(\d{3})$/.exec(served);
    if (status) {
      const code = Number(status[1]);
      return this.error(res, code, (ERROR_BODIES[code] ?? { message: 'error' }).message);
    }
    const n = typeof body!.n === 'number' ? body!.n : 1;
    const image = imageFor(served);
    const data = Array.from({ length: n }, () => ({ b64_json: image.toString('base64'), media_type: 'image/png' }));
    sendJson(res, 200, { created: CREATED, data, usage: { prompt_tokens: 9, completion_tokens: 1290 * n, total_tokens: 9 + 1290 * n, cost: 0.039 * n } });
  }

  private plan(served: string, b: Record<string, unknown>, kind: 'chat' | 'text') {
    const input = kind === 'chat' ? lastUserText(b.messages) : String(b.prompt);
    let text = kind === 'chat' ? `Echo: ${input}` : ` and so on after "${input}"`;
    let finish = 'stop';
    let reasoning: string | undefined;
    let toolCalls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] | undefined;
    if (served === 'fake/length') finish = 'length';
    if (served === 'fake/reasoning-only') {
      text = '';
      reasoning = 'Let me think about this very carefully...';
      finish = 'length';
    }
    if (served === 'fake/empty') text = '';
    if (isSlow(served)) text = 'one two three four five six';
    if (served === 'fake/tool-call') {
      text = '';
      finish = 'tool_calls';
      toolCalls = [{ id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } }];
    }
    let pieces: string[] = text ? text.match(/\S+\s*/g) ?? [text] : [];
    // Like a real provider, stop at max_tokens (one piece is one token here).
    const maxTokens = typeof b.max_tokens === 'number' ? b.max_tokens : undefined;
    if (maxTokens !== undefined && pieces.length > maxTokens) {
      pieces = pieces.slice(0, maxTokens);
      text = pieces.join('');
      finish = 'length';
    }
    return { text, finish, reasoning, toolCalls, pieces, completionTokens: Math.max(1, pieces.length) };
  }
}

function wantsImages(body: Record<string, unknown>): boolean {
  return Array.isArray(body.modalities) && body.modalities.includes('image');
}

/** The image a model "draws": the tiny PNG, a PNG of noise too large to inline, or an SVG posing as a PNG. */
function imageFor(model: string): Buffer {
  if (model === 'fake/big-image') return BIG_PNG;
  if (model === 'fake/svg-image') return Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>');
  return tinyPng();
}

/** A valid PNG (8-bit RGB, filter 0 rows); `noise` fills it with random pixels so it does not compress. */
export function pngImage(width: number, height: number, noise = false): Buffer {
  const row = 1 + width * 3;
  const raw = noise ? randomBytes(row * height) : Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) {
    raw[y * row] = 0;
    if (!noise) for (let x = 0; x < width; x++) raw.set([x * 32, y * 32, 128], y * row + 1 + x * 3);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw, { level: noise ? 0 : 9 })), pngChunk('IEND', Buffer.alloc(0))]);
}

const TINY_PNG = pngImage(8, 8);
/** About 1.5 MB of pixels: more than 1.5 MB once base64-encoded. */
const BIG_PNG = pngImage(720, 720, true);

/** The fake's standard 8×8 PNG. */
export function tinyPng(): Buffer {
  return Buffer.from(TINY_PNG);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function isSlow(model: string): boolean {
  return model === 'fake/slow' || model.startsWith('fake/slow-');
}

function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  const last = [...messages].reverse().find((m: { role?: string }) => m?.role === 'user') as { content?: unknown } | undefined;
  if (typeof last?.content === 'string') return last.content;
  if (Array.isArray(last?.content)) return last.content.map((p: { text?: string }) => p.text ?? '').join(' ').trim();
  return '';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
