/**
 * The budget step of one call, before anything goes upstream: is any window used up (refuse), and if not, the
 * max_tokens that keeps the worst case inside what the tightest window has left, and the worst case to reserve.
 */
import { checkBudget, type BudgetCaps, type BudgetRefusal, type BudgetUsage } from './check.js';
import { clampMaxTokens, type ClampInput } from './clamp.js';

export interface CallPlanInput extends Omit<ClampInput, 'remainingUsd'> {
  /** Effective caps (operator defaults with the user's override applied). */
  caps: BudgetCaps;
  usage: BudgetUsage;
  now: Date;
}

export type CallPlan =
  | { ok: true; maxTokens: number | undefined; clamped: boolean; worstCaseUsd: number | null; remainingUsd: number | null }
  | { ok: false; reason: 'budget_reached'; message: string; refusal: BudgetRefusal }
  | { ok: false; reason: 'unknown_price' | 'prompt_exceeds_budget'; message: string };

export function planCall(input: CallPlanInput): CallPlan {
  const { caps, usage, now, ...clampInput } = input;
  const check = checkBudget(caps, usage, now);
  if (!check.ok) return { ok: false, reason: 'budget_reached', message: check.message, refusal: check };
  const clamp = clampMaxTokens({ ...clampInput, remainingUsd: check.remainingUsd });
  if (!clamp.ok) return clamp;
  return { ...clamp, remainingUsd: check.remainingUsd };
}
