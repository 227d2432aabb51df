/**
 * OpenRouter quotes prices as decimal strings in dollars per token (or per request / per image).
 * People compare models in dollars per million tokens, so that is what we show.
 */

/** Dollars per token → dollars per million tokens; null for unknown or variable ("-1") prices. */
export function perMillion(price: string | number | null | undefined): number | null {
  const n = toNumber(price);
  if (n === null) return null;
  // toPrecision removes binary noise such as 0.0000001 * 1e6 = 0.09999999999999999.
  return Number((n * 1_000_000).toPrecision(12));
}

/** A flat price (per request, per image, per search) as a number; null when unknown or variable. */
export function flatPrice(price: string | number | null | undefined): number | null {
  const n = toNumber(price);
  return n === null ? null : Number(n.toPrecision(12));
}

function toNumber(price: string | number | null | undefined): number | null {
  if (price === null || price === undefined) return null;
  if (typeof price === 'string' && !/^\d+(\.\d+)?([eE][-+]?\d+)?$/.test(price.trim())) return null;
  const n = typeof price === 'number' ? price : Number(price);
  if (!Number.isFinite(n) || n < 0) return null;
  return n;
}

// Built on first use: the first Intl.NumberFormat of a process loads ICU data (~12 ms), which a cold start that
// never formats a price (tools/list, authentication) should not pay.
let decimal: Intl.NumberFormat | undefined;

/** A number as a plain decimal string, never in exponent notation (1e-7 → "0.0000001"). */
export function decimalString(n: number): string {
  decimal ??= new Intl.NumberFormat('en-US', { useGrouping: false, maximumSignificantDigits: 15, maximumFractionDigits: 20 });
  return decimal.format(n);
}

/** Format a dollar amount for people: enough digits for fractions of a cent. */
export function formatUsd(amount: number | null | undefined): string {
  if (amount === null || amount === undefined) return 'n/a';
  if (amount === 0) return '$0';
  if (Math.abs(amount) >= 1) return `$${amount.toFixed(2)}`;
  // Three significant digits for fractions of a cent, but never fewer than two decimals ($0.60, not $0.6).
  const short = decimalString(Number(amount.toPrecision(3)));
  const decimals = short.split('.')[1]?.length ?? 0;
  return `$${decimals < 2 ? amount.toFixed(2) : short}`;
}
