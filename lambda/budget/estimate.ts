/**
 * A prompt-token estimate made before the call, without a tokenizer (each model family has its own, and none
 * belongs in a Lambda bundle). It leans high for ordinary text, because the budget clamp spends what the estimate
 * leaves:
 *   - ASCII: 1 token per 3 characters. Modern BPE tokenizers average about 4 characters per token on English prose
 *     and 3.3-4 on code, so typical text is over-estimated by roughly 10-35 %.
 *   - any other character: 1.5 tokens per code point (CJK runs about 0.7-1.5 tokens per character).
 *   - per message: 4 tokens of chat-template overhead; per image part: 1,600 tokens (a large image at high detail
 *     on the common providers); a data: URL is never counted as text.
 * The error bound: byte-level tokenizers never produce more tokens than the text has UTF-8 bytes, so a call's
 * prompt can exceed this estimate by at most (bytes - estimate) tokens; that happens only for text that
 * tokenizes worse than one token per 3 characters (random strings, base64, long runs of rare symbols).
 * Images larger than the assumed size, PDFs and audio are priced by the provider and may exceed it too.
 */

export const ASCII_CHARS_PER_TOKEN = 3;
export const TOKENS_PER_OTHER_CHAR = 1.5;
export const MESSAGE_OVERHEAD_TOKENS = 4;
export const IMAGE_TOKENS = 1_600;

/** The walk over a request is bounded: deeper or wider structures stop counting (the schema bounds them anyway). */
const MAX_DEPTH = 12;

export function estimateTextTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (const ch of text) {
    if (ch.charCodeAt(0) < 0x80) ascii++;
    else other++;
  }
  return Math.ceil(ascii / ASCII_CHARS_PER_TOKEN + other * TOKENS_PER_OTHER_CHAR);
}

/** The fields of a request that reach the model as input. */
export interface PromptParts {
  prompt?: unknown;
  messages?: readonly unknown[];
  tools?: unknown;
  response_format?: unknown;
}

export function estimatePromptTokens(request: PromptParts): number {
  let tokens = 0;
  if (request.prompt !== undefined) tokens += estimateValue(request.prompt, 0);
  for (const m of request.messages ?? []) tokens += MESSAGE_OVERHEAD_TOKENS + estimateValue(m, 0);
  if (request.tools !== undefined) tokens += estimateValue(request.tools, 0);
  if (request.response_format !== undefined) tokens += estimateValue(request.response_format, 0);
  return tokens;
}

function estimateValue(value: unknown, depth: number): number {
  if (depth > MAX_DEPTH || value === null || value === undefined) return 0;
  if (typeof value === 'string') return value.startsWith('data:') ? 0 : estimateTextTokens(value);
  if (typeof value === 'number' || typeof value === 'boolean') return 1;
  if (Array.isArray(value)) return value.reduce<number>((sum, v) => sum + estimateValue(v, depth + 1), 0);
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o.type === 'image_url') return IMAGE_TOKENS;
    let sum = 0;
    for (const [k, v] of Object.entries(o)) {
      // Keys of JSON the model sees (tool schemas, arguments) are text too; a message's own field names are template.
      if (depth > 0 || (k !== 'role' && k !== 'content')) sum += k === 'type' ? 0 : estimateTextTokens(k);
      sum += estimateValue(v, depth + 1);
    }
    return sum;
  }
  return 0;
}
