/** What a log may say about a caught error: its class name only (messages can quote tokens, keys or ARNs). */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'unknown';
}
