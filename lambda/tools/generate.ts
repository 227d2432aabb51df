/** The two paid tools: chat completions and legacy text completions. */
import type { ServerContext } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { Generated } from '../openrouter/aggregate.js';
import type { GenerateOptions, RequestBody } from '../openrouter/client.js';
import { PAID_CALL, type ToolDeps } from './context.js';
import { ConversationId, continueConversation, rememberExchange } from './conversations.js';
import { ChatOutput, GenerationOutput, presentGeneration } from './generation-output.js';
import { publishImages } from './image-output.js';
import { ChatParams, ModelId, ProviderPreferences, SamplingParams } from './params.js';
import { progressReporter } from './progress.js';
import { defineTool } from './tool.js';

export const ChatInput = z.strictObject({
  ...ChatParams,
  conversation_id: ConversationId.optional().describe('Continue this conversation: send only the new messages.'),
});

export const CompletionInput = z.strictObject({
  model: ModelId.describe('e.g. "meta-llama/llama-3.1-8b-instruct".'),
  prompt: z.string().min(1).describe('The text to continue (no chat template).'),
  ...SamplingParams,
  provider: ProviderPreferences.optional(),
  user: z.string().max(256).optional(),
});

/**
 * Runs a generation, streaming partial text as progress notifications when the client asked for progress — unless
 * `streamable` is false: the spec's stream chunks carry no images, so a request for images is sent whole.
 */
async function generate(
  deps: ToolDeps,
  ctx: ServerContext,
  call: (body: RequestBody, options: GenerateOptions) => Promise<Generated>,
  body: RequestBody,
  streamable = true,
): Promise<Generated> {
  const reporter = streamable ? progressReporter(ctx, deps.progressIntervalMs) : undefined;
  try {
    return await call(body, { signal: ctx.mcpReq.signal, ...(reporter ? { onDelta: reporter.onDelta } : {}) });
  } finally {
    await reporter?.flush();
  }
}

export const chatTool = defineTool({
  name: 'send_chat_completion_request',
  title: 'Chat with an OpenRouter model',
  description:
    'Send a chat conversation to any OpenRouter model and get its reply, with OpenRouter\'s own parameters: images ' +
    'and files, function calling, structured outputs, reasoning, provider routing, plugins (e.g. web search), ' +
    '`models` fallbacks, image output (`modalities`). Reports the model and provider that served, generation id, tokens and cost in dollars. A ' +
    'progress token streams partial text.',
  input: ChatInput,
  output: ChatOutput,
  annotations: PAID_CALL,
  paid: true,
  needsKey: true,
  logContext: (args, ctx) => ({ model: args.model ?? args.models?.[0], mcp_request_id: ctx.mcpReq.id }),
  // The stored turns are read before anything is judged or sent (so the budget counts them as prompt), and the new
  // ones stored only after an answer.
  prepare: async (args, deps) => {
    const earlier = await continueConversation(deps, args.conversation_id);
    // Stored turns were validated messages or our own answers when they were stored.
    const messages = [...earlier, ...args.messages] as typeof args.messages;
    return { args: earlier.length ? { ...args, messages } : args, carry: args.messages };
  },
  run: async ({ conversation_id: conversationId, ...body }, ctx, deps, carry) => {
    const newMessages = (carry as typeof body.messages | undefined) ?? body.messages;
    const g = await generate(deps, ctx, (b, o) => deps.openRouter.chat(b, o), body, !body.modalities?.includes('image'));
    const outcome = presentGeneration(g, g.images?.length ? await publishImages(g.images, deps) : undefined);
    return rememberExchange(deps, outcome, conversationId, newMessages);
  },
});

export const completionTool = defineTool({
  name: 'send_completion_request',
  title: 'Text completion with an OpenRouter model',
  description:
    'Send a raw text prompt (no chat template) to an OpenRouter model and get the continuation; use ' +
    'send_chat_completion_request for conversations, tools or images. Reports model, provider, generation id, tokens ' +
    'and cost; a progress token streams partial text.',
  input: CompletionInput,
  output: GenerationOutput,
  annotations: PAID_CALL,
  paid: true,
  needsKey: true,
  logContext: (args, ctx) => ({ model: args.model, mcp_request_id: ctx.mcpReq.id }),
  run: async (args, ctx, deps) => presentGeneration(await generate(deps, ctx, (b, o) => deps.openRouter.completion(b, o), args)),
});
