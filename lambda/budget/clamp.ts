/**
 * Bounds a call that may start: its worst case is the prompt estimate at the prompt price, plus max_tokens at the
 * completion price, plus any charge known up front (per request, web search). max_tokens is lowered until that
 * worst case fits the remaining budget. What can still overshoot is the prompt estimate's error (see estimate.ts).
 */
import { formatUsd } from './money.js';

export interface ClampInput {
  /** What the tightest capped window has left; null = no cap (nothing to clamp). */
  remainingUsd: number | null;
  promptTokensEstimate: number;
  /** USD per token from the catalog; null when the model's price is unknown or variable (routers). */
  promptPricePerToken: number | null;
  completionPricePerToken: number | null;
  requestedMaxTokens?: number;
  /** Charges known before the call, in USD (per-request price, plugin fees). */
  fixedCostUsd?: number;
  /** The model's own completion limit, when the catalog knows it: the worst case of a call without max_tokens. */
  modelMaxCompletionTokens?: number;
}

export type ClampResult =
  | {
      ok: true;
      /** The max_tokens to send (undefined: leave it out, the worst case is already bounded). */
      maxTokens: number | undefined;
      clamped: boolean;
      /** What to reserve; null when there is no cap and no price to compute it. */
      worstCaseUsd: number | null;
    }
  | { ok: false; reason: 'unknown_price' | 'prompt_exceeds_budget'; message: string };

export function clampMaxTokens(input: ClampInput): ClampResult {
  const { remainingUsd, promptTokensEstimate, promptPricePerToken: pIn, completionPricePerToken: pOut, requestedMaxTokens, modelMaxCompletionTokens } = input;
  const fixed = input.fixedCostUsd ?? 0;
  const completionBound = minDefined(requestedMaxTokens, modelMaxCompletionTokens);

  if (remainingUsd === null) return { ok: true, maxTokens: requestedMaxTokens, clamped: false, worstCaseUsd: unclampedWorstCase(input, completionBound) };
  if (pIn === null || pOut === null) {
    return { ok: false, reason: 'unknown_price', message: "This model's price is unknown or variable, so its cost cannot be bounded by your remaining budget. Choose a model with a listed price." };
  }
  const promptCost = promptTokensEstimate * pIn + fixed;
  if (promptCost >= remainingUsd || (pOut > 0 && promptCost + pOut > remainingUsd)) {
    return {
      ok: false,
      reason: 'prompt_exceeds_budget',
      message: `The prompt alone (about ${promptTokensEstimate} tokens, estimated ${formatUsd(promptCost)}) leaves no room in your remaining budget of ${formatUsd(remainingUsd)}. Shorten it or choose a cheaper model. Nothing was sent to OpenRouter.`,
    };
  }
  if (pOut === 0) return { ok: true, maxTokens: requestedMaxTokens, clamped: false, worstCaseUsd: promptCost };
  let affordable = Math.floor((remainingUsd - promptCost) / pOut);
  // Floating point may round the quotient up by one token; the worst case must fit exactly.
  while (affordable > 0 && promptCost + affordable * pOut > remainingUsd) affordable--;
  if (completionBound !== undefined && completionBound <= affordable) {
    return { ok: true, maxTokens: requestedMaxTokens, clamped: false, worstCaseUsd: promptCost + completionBound * pOut };
  }
  return { ok: true, maxTokens: affordable, clamped: true, worstCaseUsd: promptCost + affordable * pOut };
}

/** Without a cap: the worst case when prices and a completion bound are known (a free completion needs no bound). */
function unclampedWorstCase(input: ClampInput, completionBound: number | undefined): number | null {
  const { promptTokensEstimate, promptPricePerToken: pIn, completionPricePerToken: pOut } = input;
  if (pIn === null || pOut === null) return null;
  const promptCost = promptTokensEstimate * pIn + (input.fixedCostUsd ?? 0);
  if (pOut === 0) return promptCost;
  return completionBound === undefined ? null : promptCost + completionBound * pOut;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
