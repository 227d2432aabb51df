/** Output formatting: plain aligned tables, compact UTC times, token status. */
import type { TokenInfo } from '../store/account-store.js';

export type TokenStatus = 'active' | 'revoked' | 'expired';

export function tokenStatus(token: TokenInfo, now: Date): TokenStatus {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt && Date.parse(token.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}

/** "2026-05-01 12:34Z" (UTC, minute precision), or the fallback for a missing time. */
export function shortTime(iso: string | undefined, fallback = '-'): string {
  if (!iso) return fallback;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return fallback;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** Columns separated by two spaces, each as wide as its widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
