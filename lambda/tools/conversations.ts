/**
 * Conversations that continue: what a generation tool does before its upstream call (prepend the stored turns) and
 * after a successful answer (store the new turns and the answer), and the two tools that list and delete them.
 * `continueConversation` and `rememberExchange` are the small API any generation tool uses (one conversation per
 * model for a tool that asks several).
 */
import * as z from 'zod';
import { formatUsd } from '../catalog/pricing.js';
import { CONVERSATION_ID_PATTERN, ConversationError, type ConversationSummary, type Turn } from '../store/conversation-store.js';
import { advertiseAs } from './advertised.js';
import type { ToolDeps } from './context.js';
import type { ChatOutput } from './generation-output.js';
import type { ToolOutcome } from './outcome.js';
import { ToolInputError } from './run.js';
import { defineTool } from './tool.js';

// Advertised as a plain string: the pattern is the server's to check, and tools/list goes into every model context.
export const ConversationId = advertiseAs(z.string().regex(CONVERSATION_ID_PATTERN, 'a conversation id looks like "conv_…", as an earlier result gave it'), { type: 'string' });

export const STORAGE_OFF =
  'Conversations are not stored on this server (the operator set ORMCP_CONVERSATION_TTL_HOURS=0): send the whole history in messages instead of a conversation_id.';

/** The stored turns to put before the new messages; none for a new conversation. Nothing is sent upstream on a refusal. */
export async function continueConversation(deps: ToolDeps, conversationId: string | undefined): Promise<Turn[]> {
  if (conversationId === undefined) return [];
  if (!deps.conversations) throw new ToolInputError(STORAGE_OFF);
  const found = await deps.conversations.load(deps.principal.userId, conversationId);
  if (!found) {
    throw new ToolInputError(`No conversation "${conversationId}" for this account: it expired, was deleted, or never existed. Nothing was sent to OpenRouter; leave out conversation_id to start a new one.`);
  }
  return found.turns;
}

/** The answer as a turn the next call sends back (content and tool calls; reasoning is not replayed). */
export function answerTurn(output: ChatOutput): Turn {
  return { role: 'assistant', content: output.content, ...(output.tool_calls ? { tool_calls: output.tool_calls } : {}) };
}

/**
 * Stores the new messages and the answer, and says so in the result (`conversation_id`, and a notice when older
 * turns were dropped or the turn could not be kept). A failure to store never hides the answer the user paid for.
 */
export async function rememberExchange(
  deps: ToolDeps,
  outcome: ToolOutcome<ChatOutput>,
  conversationId: string | undefined,
  messages: readonly Turn[],
): Promise<ToolOutcome<ChatOutput>> {
  const store = deps.conversations;
  if (!store || outcome.isError) return outcome;
  const id = conversationId ?? store.newId();
  const out = outcome.structured;
  let notice: string | undefined;
  try {
    const { droppedTurns } = await store.append(
      deps.principal.userId,
      id,
      { turns: [...messages, answerTurn(out)], model: out.model, costUsd: out.usage.cost ?? undefined },
      { create: conversationId === undefined },
    );
    if (droppedTurns > 0) notice = `The conversation reached its size limit: its ${droppedTurns} oldest turns were dropped and will not be sent again.`;
    return withConversation(outcome, id, notice);
  } catch (err) {
    // The answer is already paid for: a storage failure becomes a notice beside it, never an error instead of it.
    const known = err instanceof ConversationError;
    deps.logger.warn('conversation turn not stored', { conversation_error: known ? err.code : err instanceof Error ? err.name : 'unknown' });
    const why = known ? err.message : 'the conversation store is unavailable';
    notice = `This turn was not stored (${why}); ${conversationId ? `conversation ${conversationId} is unchanged` : 'no conversation was started'}.`;
    return { ...outcome, structured: { ...out, conversation_notice: notice }, text: [...outcome.text, `⚠ ${notice}`] };
  }
}

function withConversation(outcome: ToolOutcome<ChatOutput>, id: string, notice: string | undefined): ToolOutcome<ChatOutput> {
  const [main = '', meta = '', ...rest] = outcome.text;
  return {
    ...outcome,
    structured: { ...outcome.structured, conversation_id: id, ...(notice ? { conversation_notice: notice } : {}) },
    text: [main, `${meta} · conversation_id: ${id} (send it with only your next messages to continue)`, ...rest, ...(notice ? [`⚠ ${notice}`] : [])],
  };
}

// ---- list_conversations, delete_conversation ----------------------------------------------------

const OWN_DATA_READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;
const OWN_DATA_DELETE = { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false } as const;

export const ListConversationsInput = z.strictObject({
  limit: z.number().int().min(1).max(100).optional(),
  cursor: ConversationId.optional().describe('next_cursor of the last page.'),
});

const ConversationRow = z.object({
  id: z.string(),
  title: z.string(),
  models: z.array(z.string()),
  turns: z.number(),
  last_used: z.string(),
  cost: z.number(),
});

export const ConversationList = advertiseAs(z.object({ conversations: z.array(ConversationRow), next_cursor: z.string().optional() }), {
  type: 'object',
  description: 'conversations: [{id, title, models, turns, last_used, cost (dollars)}], next_cursor?',
  required: ['conversations'],
});

export const DeleteConversationInput = z.strictObject({ conversation_id: ConversationId });

export const DeletedConversation = advertiseAs(z.object({ conversation_id: z.string(), deleted: z.boolean() }), {
  type: 'object',
  description: 'conversation_id, deleted',
  required: ['conversation_id', 'deleted'],
});

function row(c: ConversationSummary): z.infer<typeof ConversationRow> {
  return { id: c.id, title: c.title, models: c.models, turns: c.turnCount, last_used: c.lastUsedAt, cost: c.costUsd };
}

export const listConversationsTool = defineTool({
  name: 'list_conversations',
  title: 'Your stored conversations',
  description: 'Your conversations kept by send_chat_completion_request, newest first, with models used and cost so far. Paged.',
  input: ListConversationsInput,
  output: ConversationList,
  annotations: OWN_DATA_READ,
  paid: false,
  needsKey: false,
  run: async ({ limit, cursor }, _ctx, deps) => {
    if (!deps.conversations) throw new ToolInputError(STORAGE_OFF);
    const page = await deps.conversations.list(deps.principal.userId, { ...(limit ? { limit } : {}), ...(cursor ? { cursor } : {}) });
    const rows = page.conversations.map(row);
    const lines = rows.map((c) => `${c.id} · ${c.title} · ${c.turns} turns · ${c.models.join(', ')} · ${formatUsd(c.cost)} · last used ${c.last_used}`);
    const text = rows.length ? lines.join('\n') : 'No stored conversations.';
    return {
      structured: { conversations: rows, ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}) },
      text: [page.nextCursor ? `${text}\nMore: cursor "${page.nextCursor}".` : text],
    };
  },
});

export const deleteConversationTool = defineTool({
  name: 'delete_conversation',
  title: 'Delete a stored conversation',
  description: 'Deletes a stored conversation and every turn of it; it can no longer be continued.',
  input: DeleteConversationInput,
  output: DeletedConversation,
  annotations: OWN_DATA_DELETE,
  paid: false,
  needsKey: false,
  run: async ({ conversation_id: id }, _ctx, deps) => {
    if (!deps.conversations) throw new ToolInputError(STORAGE_OFF);
    const deleted = await deps.conversations.delete(deps.principal.userId, id);
    return { structured: { conversation_id: id, deleted }, text: [deleted ? `Deleted conversation ${id}.` : `No conversation "${id}" for this account (already deleted or expired).`] };
  },
});
