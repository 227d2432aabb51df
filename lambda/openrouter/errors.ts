/**
 * Upstream failures, typed once and turned into actionable text once. Every message that leaves this
 * module is capped and scrubbed of anything that looks like a key, because OpenRouter (or a provider
 * behind it) may echo request material back.
 */
import { scrub } from '../observability/scrub.js';
import { UpstreamErrorBody } from './schemas.js';

export { scrub };

export type UpstreamErrorKind = 'http' | 'timeout' | 'network' | 'invalid_response' | 'stream';

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    readonly kind: UpstreamErrorKind,
    readonly status: number,
    message: string,
    readonly details: {
      retryAfterSeconds?: number;
      reasons?: string[];
      flaggedInput?: string;
      providerName?: string;
      rawCode?: string;
      /** The failed call was a free, idempotent read (catalog, key, generation lookup): nothing was billed. */
      read?: boolean;
    } = {},
  ) {
    super(scrub(message));
  }
}

/** Parse `Retry-After` (seconds or HTTP date) into whole seconds, or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.max(0, Math.ceil(Number(trimmed)));
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Build an UpstreamError from a non-2xx response body (already read, possibly truncated). */
export function errorFromResponse(status: number, bodyText: string, retryAfter: string | null): UpstreamError {
  let message = '';
  let metadata: Record<string, unknown> | undefined;
  let rawCode: string | undefined;
  try {
    const parsed = UpstreamErrorBody.safeParse(JSON.parse(bodyText));
    if (parsed.success) {
      message = parsed.data.error.message ?? '';
      metadata = parsed.data.error.metadata ?? undefined;
      rawCode = parsed.data.error.code === undefined ? undefined : String(parsed.data.error.code);
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  if (!message) message = bodyText.trim() || `HTTP ${status}`;
  const reasons = Array.isArray(metadata?.reasons) ? metadata.reasons.filter((r): r is string => typeof r === 'string') : undefined;
  const flaggedInput = typeof metadata?.flagged_input === 'string' ? metadata.flagged_input : undefined;
  const providerName = typeof metadata?.provider_name === 'string' ? metadata.provider_name : undefined;
  return new UpstreamError('http', status, message, {
    retryAfterSeconds: parseRetryAfter(retryAfter),
    ...(reasons ? { reasons } : {}),
    ...(flaggedInput ? { flaggedInput: scrub(flaggedInput, 200) } : {}),
    ...(providerName ? { providerName } : {}),
    ...(rawCode ? { rawCode } : {}),
  });
}

/** The one place where an upstream failure becomes the text a user (or model) reads. */
export function describeUpstreamError(err: UpstreamError): string {
  const upstream = err.message ? ` OpenRouter said: ${err.message}` : '';
  switch (err.kind) {
    case 'timeout':
      if (err.details.read) return 'OpenRouter did not answer in time (nothing was billed). Try again in a moment.';
      return 'OpenRouter did not answer in time. The request may still have been billed; check get_generation or try again with a smaller max_tokens.';
    case 'network':
      return 'Could not reach OpenRouter (network error). Try again in a moment.';
    case 'invalid_response':
      return `OpenRouter returned a response this server could not read.${upstream}`;
    case 'stream':
      return `The generation failed part-way through the stream.${upstream} Try again, or pick another provider or model.`;
    case 'http':
      break;
  }
  switch (err.status) {
    case 400:
      if (/model/i.test(err.message) && /(not a valid|invalid|not found|unknown|no endpoints)/i.test(err.message)) {
        return `OpenRouter does not know that model.${upstream} Use retrieve_available_models to find a valid model id.`;
      }
      return `OpenRouter rejected the request as invalid.${upstream} Check the parameters against the tool's input schema.`;
    case 401:
      return 'OpenRouter rejected the OpenRouter API key connected to this account (invalid, disabled or deleted). Connect a new key, then try again.';
    case 402:
      return `The OpenRouter key is out of credits or has reached its spending limit.${upstream} Add credits at https://openrouter.ai/settings/credits or raise the key's limit, or choose a free (":free") model.`;
    case 403: {
      const reasons = err.details.reasons?.length ? ` Reasons: ${err.details.reasons.join(', ')}.` : '';
      const flagged = err.details.flaggedInput ? ` Flagged input: "${err.details.flaggedInput}".` : '';
      return `The input was flagged by moderation and was not sent to the model.${reasons}${flagged} Rephrase the request or choose another model.`;
    }
    case 404:
      return `OpenRouter could not find that.${upstream}`;
    case 408:
      return 'OpenRouter timed out waiting for the model. Try again, or lower max_tokens.';
    case 429: {
      const wait = err.details.retryAfterSeconds;
      return `Rate limited by OpenRouter or the provider.${upstream} Retry after ${wait ?? 'a few'} seconds, or choose another model or provider.`;
    }
    case 502:
      return `The model provider returned an error or an invalid response.${upstream} Try again, or allow fallbacks / pick another provider.`;
    case 503:
      return `No provider is currently available for this model with the requested routing.${upstream} Try again later, relax the provider preferences, or choose another model.`;
    default:
      return `OpenRouter returned HTTP ${err.status}.${upstream}`;
  }
}
