/**
 * compare_models: one chat request put to several models at once, their answers reported side by side, and
 * optionally a judge model's comparison of them.
 *
 * Each model's request (and the judge's) runs through runCall as a paid call of its own, exactly as a single
 * send_chat_completion_request would: its own limits check and concurrency slot, the user's defaults, the operator's
 * policy, the budget check and reservation, log line, metrics and ledger record. A refused or failing model is
 * reported as such and the others still run. The call itself holds no slot and writes no record (see Tool.fansOut).
 *
 * Each answer starts a conversation of its own (the question and that model's answer), so the client can go on with
 * any one model through send_chat_completion_request; a `conversation_id` input asks every model a follow-up on one
 * stored conversation, each answer then branching into a new one.
 */
import type { ServerContext } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { formatUsd } from '../catalog/pricing.js';
import { FanOutLimiter } from '../limits/fan-out-limiter.js';
import { NO_LIMITS } from '../limits/limiter.js';
import { advertiseAs, advertisedFor } from './advertised.js';
import { PAID_CALL, type ToolDeps } from './context.js';
import { ConversationId, continueConversation, rememberExchange } from './conversations.js';
import { type ChatOutput, GenerationOutput, presentGeneration } from './generation-output.js';
import type { ToolOutcome } from './outcome.js';
import { ChatParams, Message, ModelId } from './params.js';
import { stepReporter } from './progress.js';
import { runCall, type CallRun } from './run.js';
import { defineTool, type ToolPolicy } from './tool.js';

/** At most this many models per call: the fan-out (requests in flight at once) is bounded by the input. */
export const MAX_COMPARED_MODELS = 8;
/** Characters of each answer in the text output; the whole answer is always in structuredContent. */
const ANSWER_TEXT_CAP = 2_000;
/** The judge's comparison is the point of asking for one: it gets more room in the text output. */
const JUDGE_TEXT_CAP = 6_000;
/** What the judge reads of the request and of each answer, so its prompt stays bounded too. */
const JUDGE_QUESTION_CAP = 16_000;
const JUDGE_ANSWER_CAP = 12_000;
const JUDGE_INSTRUCTIONS_MAX = 2_000;

// The chat tool's fields, one set for every model: `model`/`models` are replaced by the list of models to compare.
const { model: _model, models: _models, ...SharedChatParams } = ChatParams;

const CompareArgs = z
  .strictObject({
    models: z
      .array(ModelId)
      .min(2, 'name at least 2 models to compare')
      .max(MAX_COMPARED_MODELS, `at most ${MAX_COMPARED_MODELS} models per call; split a longer comparison`)
      .refine((ids) => new Set(ids).size === ids.length, 'each model may be listed once; remove the duplicate')
      .describe(`2-${MAX_COMPARED_MODELS} model ids, each sent the same request.`),
    ...SharedChatParams,
    conversation_id: ConversationId.optional().describe('Ask every model a follow-up on this stored conversation.'),
    judge_model: ModelId.optional().describe('Then asks this model to compare the answers.'),
    judge_instructions: z.string().min(1).max(JUDGE_INSTRUCTIONS_MAX).optional().describe('What the judge should look for.'),
  })
  .refine((args) => args.judge_instructions === undefined || args.judge_model !== undefined, {
    message: 'judge_instructions needs judge_model (the model that compares the answers)',
    path: ['judge_instructions'],
  });

/**
 * Advertised without the chat tool's parameters spelled out a second time (they are a third of tools/list): the
 * fields this tool adds, the two a comparison most often sets, and the rest named in the description. Without
 * `additionalProperties: false` this form accepts every field the strict zod schema does.
 */
export const CompareInput = advertiseAs(CompareArgs, {
  type: 'object',
  description:
    'Also every other send_chat_completion_request parameter (top_p, stop, seed, response_format, tools, provider, ' +
    'reasoning, plugins…), the same for each model.',
  properties: {
    models: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: MAX_COMPARED_MODELS, description: `2-${MAX_COMPARED_MODELS} distinct model ids.` },
    messages: { type: 'array', items: advertisedFor(Message), minItems: 1, maxItems: 2000 },
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    max_tokens: { type: 'integer', minimum: 1 },
    // Named only: send_chat_completion_request's own says what it is, and tools/list is short of room.
    conversation_id: { type: 'string' },
    judge_model: { type: 'string', description: 'Then asks this model to compare the answers.' },
    judge_instructions: { type: 'string', maxLength: JUDGE_INSTRUCTIONS_MAX, description: 'What the judge should look for.' },
  },
  required: ['models', 'messages'],
});
export type CompareInput = z.infer<typeof CompareInput>;

const ModelResult = z.object({
  /** As asked (the generation says which model served). */
  model: z.string(),
  status: z.enum(['ok', 'error', 'refused', 'skipped']),
  /** Time of the upstream request. */
  latency_ms: z.number().optional(),
  /** Why it failed, was refused or (the judge) skipped. */
  message: z.string().optional(),
  generation: GenerationOutput.optional(),
  /** The conversation this answer started: continue it with send_chat_completion_request. */
  conversation_id: z.string().optional(),
  /** Why the answer was not stored, or which older turns were dropped. */
  conversation_notice: z.string().optional(),
});
type ModelResult = z.infer<typeof ModelResult>;

export const CompareOutput = advertiseAs(z.object({
  results: z.array(ModelResult),
  total_cost: z.number(),
  judge: ModelResult.optional(),
}), {
  type: 'object',
  description:
    'results (as ordered): {model, status (ok|error|refused), latency_ms?, message? (why not ok), ' +
    'generation? (as send_chat_completion_request returns it), conversation_id? (to continue)}; total_cost ' +
    '(dollars, with judge); judge?: same shape (skipped if <2 answers)',
  required: ['results', 'total_cost'],
});
export type CompareOutput = z.infer<typeof CompareOutput>;

/** What each model's request (and the judge's) is, to runCall: a paid chat call of its own, named after this tool. */
const GENERATION: ToolPolicy = { name: 'compare_models', paid: true, needsKey: true };

type ChatMessage = CompareInput['messages'][number];

export const compareTool = defineTool({
  name: 'compare_models',
  title: 'Ask several models the same question',
  description:
    `Send one chat request (as for send_chat_completion_request) to 2-${MAX_COMPARED_MODELS} models in parallel: ` +
    'answers side by side with served model, provider, finish reason, tokens, cost and latency (or why one failed ' +
    'or was refused), and the total cost. judge_model says where they agree, differ and which to trust. Each ' +
    'model counts as a chat call (limits, budget, policy). A progress token reports each model as it ends.',
  input: CompareInput,
  output: CompareOutput,
  annotations: PAID_CALL,
  paid: false,
  fansOut: true,
  needsKey: true,
  logContext: (args, ctx) => ({ models: args.models.join(','), mcp_request_id: ctx.mcpReq.id }),
  run: (args, ctx, deps) => compare(args, ctx, deps),
});

async function compare(args: CompareInput, ctx: ServerContext, deps: ToolDeps): Promise<ToolOutcome<CompareOutput>> {
  const { models, judge_model: judgeModel, judge_instructions: judgeInstructions, conversation_id: conversationId, ...shared } = args;
  // Read once, before any model's request: each model's team control then judges the whole conversation it is sent
  // (the budget counts the stored turns as prompt), and an unknown id refuses the call with nothing sent.
  const earlier = await continueConversation(deps, conversationId);
  // Stored turns were validated messages or our own answers when they were stored.
  const messages = [...earlier, ...shared.messages] as ChatMessage[];
  const generationDeps: ToolDeps = {
    ...deps,
    // Queue for the user's concurrency slots behind this call's own generations instead of refusing (fan-out-limiter.ts).
    limiter: new FanOutLimiter(deps.limiter ?? NO_LIMITS),
    // The request's upstream counter sees every sibling's calls: per-generation log lines would misreport it.
    upstream: undefined,
  };
  const progress = stepReporter(ctx, models.length + (judgeModel ? 1 : 0));
  try {
    const results = await Promise.all(
      models.map(async (model) => {
        const result = await generateFor(model, { ...shared, messages, model }, ctx, generationDeps, true);
        progress?.step(`${model}: ${result.status}`);
        return result;
      }),
    );
    let judge: ModelResult | undefined;
    if (judgeModel) {
      judge = await judgeAnswers(judgeModel, judgeInstructions, messages, results, ctx, generationDeps);
      progress?.step(`judge ${judgeModel}: ${judge.status}`);
    }
    return presentComparison(results, judge);
  } finally {
    await progress?.flush();
  }
}

/**
 * One model's request through runCall, reported as that model's result; with `remember`, a successful answer starts
 * a new conversation of the messages it was sent (as asked, before team control's rewrite) and the answer.
 */
async function generateFor(model: string, request: { messages: ChatMessage[] } & Record<string, unknown>, ctx: ServerContext, deps: ToolDeps, remember = false): Promise<ModelResult> {
  let latencyMs: number | undefined;
  const run = await runCall(
    GENERATION,
    deps,
    async (admitted) => {
      const started = performance.now();
      let outcome: ToolOutcome<ChatOutput>;
      try {
        outcome = presentGeneration(await deps.openRouter.chat(admitted, { signal: ctx.mcpReq.signal }));
      } finally {
        latencyMs = Math.round(performance.now() - started);
      }
      // Without storage (deps.conversations unset) this is the answer unchanged; a failed store is a notice beside it.
      return remember ? rememberExchange(deps, outcome, undefined, request.messages) : outcome;
    },
    { context: { model, mcp_request_id: ctx.mcpReq.id }, args: request },
  );
  return modelResult(model, run, latencyMs);
}

function modelResult(model: string, run: CallRun<ChatOutput>, latencyMs: number | undefined): ModelResult {
  const timing = latencyMs !== undefined ? { latency_ms: latencyMs } : {};
  if (run.value) {
    const { conversation_id: conversationId, conversation_notice: conversationNotice, ...generation } = run.value.structured;
    const conversation = { ...(conversationId ? { conversation_id: conversationId } : {}), ...(conversationNotice ? { conversation_notice: conversationNotice } : {}) };
    if (run.outcome === 'ok') return { model, status: 'ok', ...timing, generation, ...conversation };
    return { model, status: 'error', ...timing, ...(generation.notice ? { message: generation.notice } : {}), generation };
  }
  const message = textOfResult(run.result.content);
  return { model, status: run.refusal ? 'refused' : 'error', ...timing, ...(message ? { message } : {}) };
}

function textOfResult(content: readonly { type: string; text?: string }[]): string {
  return content.map((c) => (c.type === 'text' ? c.text ?? '' : '')).join('\n').trim();
}

async function judgeAnswers(
  judgeModel: string,
  instructions: string | undefined,
  messages: readonly ChatMessage[],
  results: readonly ModelResult[],
  ctx: ServerContext,
  deps: ToolDeps,
): Promise<ModelResult> {
  const answered = results.filter((r) => r.status === 'ok' && r.generation);
  if (answered.length < 2) {
    return { model: judgeModel, status: 'skipped', message: `Not judged: ${answered.length === 1 ? 'only one model' : 'no model'} answered, and a comparison needs two answers.` };
  }
  return generateFor(judgeModel, { model: judgeModel, messages: judgePrompt(messages, results, instructions) }, ctx, deps);
}

const JUDGE_SYSTEM =
  'You compare answers that several AI models gave to the same request. Say where the answers agree, where they ' +
  'differ (facts, reasoning, completeness), and which answer you would trust most, and why. Refer to each answer by ' +
  'its label. Be concise.';

/** The judge's request: the conversation the models answered and each answer, labelled with its number and model. */
function judgePrompt(messages: readonly ChatMessage[], results: readonly ModelResult[], instructions?: string): ChatMessage[] {
  const question = keepEnd(messages.map(renderMessage).join('\n\n'), JUDGE_QUESTION_CAP, '[earlier messages left out]\n');
  const answers = results
    .map((r, i) => ({ r, label: answerLabel(i, r.model) }))
    .filter(({ r }) => r.status === 'ok' && r.generation)
    .map(({ r, label }) => `${label}:\n<<<\n${keepStart(answerText(r.generation!), JUDGE_ANSWER_CAP, '\n[rest of the answer left out]')}\n>>>`);
  const system = instructions ? `${JUDGE_SYSTEM}\n\nThe user asks you to: ${instructions}` : JUDGE_SYSTEM;
  return [
    { role: 'system', content: system },
    { role: 'user', content: `The request the models answered:\n<<<\n${question}\n>>>\n\n${answers.join('\n\n')}` },
  ];
}

function answerLabel(index: number, model: string): string {
  return `Answer ${index + 1} (${model})`;
}

/** An answer as text: its content, and any tool calls it made instead of (or beside) answering. */
function answerText(g: GenerationOutput): string {
  const calls = (g.tool_calls ?? []).map((c) => `[tool call ${c.function.name}(${c.function.arguments})]`);
  return [g.content, ...calls].filter(Boolean).join('\n');
}

/** A message as the judge reads it: its role and text; images, files and audio are named, not inlined. */
function renderMessage(m: ChatMessage): string {
  const parts: string[] = [];
  const content = m.content;
  if (typeof content === 'string') parts.push(content);
  else if (Array.isArray(content)) {
    for (const part of content) parts.push(part.type === 'text' ? part.text : `[${part.type.replace('_url', '').replace('input_', '')}]`);
  }
  if (m.role === 'assistant') for (const c of m.tool_calls ?? []) parts.push(`[tool call ${c.function.name}(${c.function.arguments})]`);
  return `${m.role}: ${parts.join(' ')}`;
}

function presentComparison(results: ModelResult[], judge: ModelResult | undefined): ToolOutcome<CompareOutput> {
  const costs = results.map(costOf);
  const judgeCost = judge ? costOf(judge) : 0;
  const totalCost = costs.reduce((a, b) => a + b, 0) + judgeCost;
  const structured: CompareOutput = { results, total_cost: totalCost, ...(judge ? { judge } : {}) };
  const count = (status: ModelResult['status']) => results.filter((r) => r.status === status).length;
  const tally = [`${count('ok')} answered`, ...(count('error') ? [`${count('error')} failed`] : []), ...(count('refused') ? [`${count('refused')} refused`] : [])];
  const summary =
    `Compared ${results.length} models: ${tally.join(', ')} · total cost ${formatUsd(totalCost)}` +
    (judge && judge.status !== 'skipped' ? ` (judge ${formatUsd(judgeCost)})` : '');
  return {
    structured,
    text: [
      ...results.map((r, i) => `## ${answerLabel(i, r.model)} — ${r.status}\n${describe(r, ANSWER_TEXT_CAP, `results[${i}]`)}`),
      ...(judge ? [`## Judge (${judge.model}) — ${judge.status}\n${describe(judge, JUDGE_TEXT_CAP, 'judge')}`] : []),
      summary,
    ],
    // Only when nothing came back at all: a partial comparison is still a result.
    ...(count('ok') === 0 ? { isError: true } : {}),
    log: { models: results.length, answered: count('ok'), failed: count('error'), refused: count('refused'), ...(judge ? { judge: judge.status } : {}), cost: totalCost },
  };
}

function costOf(r: ModelResult): number {
  return r.generation?.usage.cost ?? 0;
}

/** One result as text: the answer up to `cap` characters, then one line of facts; or why there is none. */
function describe(r: ModelResult, cap: number, where: string): string {
  const g = r.generation;
  if (!g) return r.message ?? '(no answer)';
  const body: string[] = [];
  if (r.status !== 'ok' && r.message) body.push(`⚠ ${r.message}`);
  else if (g.notice) body.push(`⚠ ${g.notice}`);
  const text = answerText(g);
  if (text.length > cap) {
    body.push(`${keepStart(text, cap, '')}\n… [cut at ${cap} of ${text.length} characters: the whole answer is in structuredContent.${where}.generation.content; generation ${g.id}]`);
  } else if (text) body.push(text);
  const u = g.usage;
  const facts = [
    `served: ${g.model}${g.provider ? ` via ${g.provider}` : ''}`,
    `finish_reason: ${g.finish_reason ?? 'none'}`,
    `tokens: ${u.prompt_tokens} in / ${u.completion_tokens} out`,
    `cost: ${formatUsd(u.cost)}`,
    ...(r.latency_ms !== undefined ? [`latency: ${r.latency_ms} ms`] : []),
    `id: ${g.id}`,
    ...(r.conversation_id ? [`conversation_id: ${r.conversation_id} (continue with send_chat_completion_request)`] : []),
  ].join(' · ');
  const notice = r.conversation_notice ? `\n⚠ ${r.conversation_notice}` : '';
  return `${body.join('\n\n') || '(no text)'}\n\n${facts}${notice}`;
}

/** The first `max` characters (never splitting a surrogate pair), with `marker` appended when cut. */
function keepStart(text: string, max: number, marker: string): string {
  if (text.length <= max) return text;
  const end = isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end) + marker;
}

/** The last `max` characters (never splitting a surrogate pair), with `marker` put first when cut. */
function keepEnd(text: string, max: number, marker: string): string {
  if (text.length <= max) return text;
  const start = isLowSurrogate(text.charCodeAt(text.length - max)) ? text.length - max + 1 : text.length - max;
  return marker + text.slice(start);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
