/**
 * Money in the budget counters is kept as whole nano-dollars (1e-9 USD): DynamoDB adds integers exactly and a
 * condition then compares exact integers, so twenty concurrent reservations against a $0.10 cap can never slip
 * past it through binary rounding. OpenRouter reports cost to far fewer digits than that.
 */
export const NANOS_PER_USD = 1_000_000_000;

/** USD → nano-dollars, rounded to the nearest (costs, caps). toPrecision strips binary noise (0.1 × 1e9). */
export function toNano(usd: number): number {
  return Math.round(Number((usd * NANOS_PER_USD).toPrecision(15)));
}

/** USD → nano-dollars rounded up (a worst case must never be under-reserved). */
export function toNanoCeil(usd: number): number {
  return Math.ceil(Number((usd * NANOS_PER_USD).toPrecision(15)));
}

export function fromNano(nano: number): number {
  return nano / NANOS_PER_USD;
}

/** Dollars for a message: cents above a dollar, four decimals below (a call often costs fractions of a cent). */
export function formatUsd(usd: number): string {
  return `$${usd.toFixed(usd >= 1 || usd === 0 ? 2 : 4)}`;
}
