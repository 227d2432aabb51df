/**
 * A small OpenRouter HTTP client bound to one user's key. Paid calls (chat, completions) are sent once and
 * never retried; idempotent reads (catalog, endpoints, generation, key) retry with jittered backoff inside
 * a total time budget.
 */
import { trimTrailingSlashes } from '../http/path.js';
import { StreamAggregator, type Delta, type Generated } from './aggregate.js';
import { UpstreamError, errorFromResponse } from './errors.js';
import { ChatChunk, ChatResult, CompletionResult, EndpointList, Generation, ImageResult, KeyInfo, Model, ModelList } from './schemas.js';
import { sseEvents } from './sse.js';

export interface OpenRouterClientOptions {
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
  /** Attribution headers OpenRouter shows on its app rankings. */
  referer?: string;
  title?: string;
  /** Whole-request limit for generations (streamed or not). */
  generationTimeoutMs?: number;
  /** Per-attempt limit for reads; below the budget, so one stalled connection leaves time for a retry. */
  readTimeoutMs?: number;
  /** Total time budget for a read including retries. */
  readBudgetMs?: number;
}

export type RequestBody = Record<string, unknown>;

export interface GenerateOptions {
  signal?: AbortSignal;
  /** When given, the request is streamed and each piece of text is passed here as it arrives. */
  onDelta?: (delta: Delta) => void;
}

const MAX_ERROR_BODY_BYTES = 16 * 1024;
/** An image answer is base64 and can be large, but not without bound: past this it is refused, not buffered. */
export const MAX_IMAGE_RESPONSE_BYTES = 64 * 1024 * 1024;
/** A read (catalog, key, generation, endpoints) fails within this budget, retries included. */
export const READ_BUDGET_MS = 8_000;
/** Each read attempt; half the budget, so a stalled first attempt still leaves room for a second. */
export const READ_ATTEMPT_TIMEOUT_MS = 4_000;
/** A read is tried at most this often (first attempt included). */
export const READ_MAX_ATTEMPTS = 4;

export class OpenRouterClient {
  private readonly fetchImpl: typeof fetch;
  private readonly baseUrl: string;

  constructor(private readonly options: OpenRouterClientOptions) {
    this.fetchImpl = options.fetch ?? fetch;
    this.baseUrl = trimTrailingSlashes(options.baseUrl);
  }

  chat(body: RequestBody, options: GenerateOptions = {}): Promise<Generated> {
    return this.generate('/chat/completions', ChatResult, body, options);
  }

  /** Legacy text completions: same result shape, the text in `content`. */
  completion(body: RequestBody, options: GenerateOptions = {}): Promise<Generated> {
    return this.generate('/completions', CompletionResult, body, options);
  }

  private async generate(path: string, schema: typeof ChatResult | typeof CompletionResult, body: RequestBody, options: GenerateOptions): Promise<Generated> {
    if (options.onDelta) return this.stream(path, body, options);
    // Bounded like an image answer: a chat answer may carry images too.
    const parsed = parseOrThrow<ChatResult>(schema, await this.send('POST', path, body, options.signal, this.options.generationTimeoutMs ?? 600_000, MAX_IMAGE_RESPONSE_BYTES));
    const { message, finish_reason, native_finish_reason } = parsed.choices[0]!;
    return {
      id: parsed.id,
      model: parsed.model,
      ...(parsed.provider ? { provider: parsed.provider } : {}),
      content: message.content,
      reasoning: message.reasoning ?? '',
      refusal: message.refusal ?? '',
      toolCalls: message.tool_calls ?? [],
      ...(message.images?.length ? { images: message.images.map((i) => i.image_url.url) } : {}),
      finishReason: finish_reason ?? null,
      nativeFinishReason: native_finish_reason ?? null,
      ...(parsed.usage ? { usage: parsed.usage } : {}),
    };
  }

  /** `POST /images`: sent once, never retried (it is paid), and its answer bounded in size. */
  async images(body: RequestBody, signal?: AbortSignal): Promise<ImageResult> {
    const json = await this.send('POST', '/images', body, signal, this.options.generationTimeoutMs ?? 600_000, MAX_IMAGE_RESPONSE_BYTES);
    return parseOrThrow(ImageResult, json);
  }

  /** The whole catalog, every output modality. Entries that do not parse are skipped, not fatal. */
  async models(signal?: AbortSignal): Promise<Model[]> {
    const json = await this.read('/models?output_modalities=all', signal);
    const list = parseOrThrow(ModelList, json);
    const models: Model[] = [];
    for (const item of list.data) {
      const parsed = Model.safeParse(item);
      if (parsed.success) models.push(parsed.data);
    }
    return models;
  }

  async endpoints(modelId: string, signal?: AbortSignal): Promise<EndpointList> {
    const segments = modelId.split('/');
    // Defence in depth (the tool schema already refuses these): never let an id walk out of /models/.
    if (segments.some((s) => s === '' || s === '.' || s === '..')) throw new UpstreamError('http', 400, 'invalid model id');
    const path = `/models/${segments.map(encodeURIComponent).join('/')}/endpoints`;
    return parseOrThrow(EndpointList, await this.read(path, signal));
  }

  /** Generation stats appear a moment after the generation ends, so a 404 is retried within the budget. */
  async generation(id: string, signal?: AbortSignal): Promise<Generation> {
    return parseOrThrow(Generation, await this.read(`/generation?id=${encodeURIComponent(id)}`, signal, [404]));
  }

  async key(signal?: AbortSignal): Promise<KeyInfo> {
    return parseOrThrow(KeyInfo, await this.read('/key', signal));
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = { Authorization: `Bearer ${this.options.apiKey}`, Accept: 'application/json' };
    if (json) h['Content-Type'] = 'application/json';
    if (this.options.referer) h['HTTP-Referer'] = this.options.referer;
    if (this.options.title) h['X-Title'] = this.options.title;
    return h;
  }

  private async stream(path: string, body: RequestBody, options: GenerateOptions): Promise<Generated> {
    const response = await this.open('POST', path, { ...body, stream: true }, options.signal, this.options.generationTimeoutMs ?? 600_000);
    if (!response.body) throw new UpstreamError('invalid_response', 502, 'empty stream');
    const aggregator = new StreamAggregator();
    let done = false;
    try {
      for await (const data of sseEvents(response.body)) {
        if (data === '[DONE]') {
          done = true;
          break;
        }
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch {
          throw new UpstreamError('invalid_response', 502, 'the stream carried an event that is not JSON');
        }
        const delta = aggregator.apply(parseOrThrow(ChatChunk, json));
        if (delta.content || delta.reasoning) options.onDelta?.(delta);
      }
    } catch (err) {
      const e = toUpstreamError(err, options.signal);
      // The request was answered and text may already have reached the user: a dropped connection now is a
      // broken generation (possibly billed), not "could not reach OpenRouter".
      if (e instanceof UpstreamError && e.kind === 'network' && !options.signal?.aborted) throw new UpstreamError('stream', 502, '');
      throw e;
    }
    const result = aggregator.finish();
    if (!done && !result.finishReason) throw new UpstreamError('stream', 502, 'the stream ended before the generation finished');
    return result;
  }

  private async send(method: string, path: string, body: RequestBody | undefined, signal: AbortSignal | undefined, timeoutMs: number, maxBytes?: number) {
    const response = await this.open(method, path, body, signal, timeoutMs);
    let text: string;
    try {
      text = maxBytes === undefined ? await response.text() : await readCapped(response, maxBytes + 1);
    } catch (err) {
      throw toUpstreamError(err, signal);
    }
    if (maxBytes !== undefined && Buffer.byteLength(text) > maxBytes) throw new UpstreamError('invalid_response', 502, `the response is larger than ${maxBytes} bytes`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new UpstreamError('invalid_response', 502, 'the response is not JSON');
    }
  }

  /** One HTTP exchange; non-2xx becomes an UpstreamError with a capped body. */
  private async open(method: string, path: string, body: RequestBody | undefined, signal: AbortSignal | undefined, timeoutMs: number) {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers: this.headers(body !== undefined),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: combined,
      });
    } catch (err) {
      throw toUpstreamError(err, signal);
    }
    if (!response.ok) {
      const text = await readCapped(response, MAX_ERROR_BODY_BYTES).catch(() => '');
      throw errorFromResponse(response.status, text, response.headers.get('retry-after'));
    }
    return response;
  }

  private async read(path: string, signal?: AbortSignal, extraRetryStatuses: number[] = []): Promise<unknown> {
    const budget = this.options.readBudgetMs ?? READ_BUDGET_MS;
    const deadline = Date.now() + budget;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now();
      try {
        return await this.send('GET', path, undefined, signal, Math.max(1, Math.min(this.options.readTimeoutMs ?? READ_ATTEMPT_TIMEOUT_MS, remaining)));
      } catch (err) {
        const retryable = err instanceof UpstreamError && isRetryable(err, extraRetryStatuses) && !signal?.aborted;
        const wait = err instanceof UpstreamError ? backoffMs(attempt, err.details.retryAfterSeconds) : 0;
        if (!retryable || attempt + 1 >= READ_MAX_ATTEMPTS || Date.now() + wait >= deadline) throw asRead(err);
        await sleep(wait, signal);
      }
    }
  }
}

function isRetryable(err: UpstreamError, extra: number[]): boolean {
  if (err.kind === 'network' || err.kind === 'timeout') return true;
  return err.status === 408 || err.status === 429 || err.status >= 500 || extra.includes(err.status);
}

/** Full-jitter exponential backoff, honouring Retry-After when the server names one. */
export function backoffMs(attempt: number, retryAfterSeconds?: number, random = Math.random): number {
  if (retryAfterSeconds !== undefined) return retryAfterSeconds * 1000;
  return Math.round(random() * Math.min(2_000, 150 * 2 ** attempt));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

function parseOrThrow<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UpstreamError('invalid_response', 502, 'unexpected response shape');
  return parsed.data;
}

function toUpstreamError(err: unknown, callerSignal?: AbortSignal): Error {
  if (err instanceof UpstreamError) return err;
  if (callerSignal?.aborted) return new UpstreamError('network', 499, 'the request was cancelled');
  // Match by name: fetch's errors may come from another realm, where instanceof Error fails.
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new UpstreamError('timeout', 504, 'timed out');
  }
  return new UpstreamError('network', 502, 'network error');
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < maxBytes) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, maxBytes));
}

/** Marks a failed read as such, so its message does not warn about billing. */
function asRead(err: unknown): unknown {
  return err instanceof UpstreamError ? new UpstreamError(err.kind, err.status, err.message, { ...err.details, read: true }) : err;
}
