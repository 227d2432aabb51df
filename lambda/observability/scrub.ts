/**
 * Redaction of secret-shaped text, shared by the logger and every error message that may carry text from
 * upstream or from a caller: OpenRouter (or a provider behind it) may echo request material back.
 */
const MAX_MESSAGE_CHARS = 500;
const KEY_PATTERNS: RegExp[] = [/sk-or-[A-Za-z0-9_-]{8,}/g, /ormc[pr]_[A-Za-z0-9_-]{8,}/g, /Bearer\s+[A-Za-z0-9._~+/=-]{8,}/gi];

/** Cap and redact a string that came from upstream before it is shown to anyone. */
export function scrub(text: string, max = MAX_MESSAGE_CHARS): string {
  let out = text;
  for (const p of KEY_PATTERNS) out = out.replace(p, '[redacted]');
  return out.length > max ? `${out.slice(0, max)}…` : out;
}
