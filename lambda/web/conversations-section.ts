/**
 * The self-service page's "Conversations" card: the user's stored conversations (title, models, turns, cost, last
 * use) with a delete button each, and the form post that deletes one (CSRF-checked by the web app before it gets here).
 */
import type { ServerUrls } from '../oauth/metadata.js';
import type { Logger } from '../observability/logger.js';
import { CONVERSATION_ID_PATTERN, type ConversationStore, type ConversationSummary } from '../store/conversation-store.js';
import { usd } from './dashboard.js';
import { html, redirect, type Html } from '../ui/html.js';
import { errorPage } from '../ui/pages.js';
import type { Session } from '../ui/session.js';

/** The newest conversations shown on the page; the list_conversations tool pages through all of them. */
export const PAGE_CONVERSATIONS = 50;

export const DELETE_CONVERSATION_PATH = '/app/conversations/delete';

/** The user's newest conversations, or undefined when storage is off (the card is then left out). */
export async function conversationsFor(store: ConversationStore | undefined, userId: string): Promise<ConversationSummary[] | undefined> {
  return store ? (await store.list(userId, { limit: PAGE_CONVERSATIONS })).conversations : undefined;
}

export function conversationsSection(base: string, session: Session, list: ConversationSummary[] | undefined): Html | undefined {
  if (!list) return undefined;
  const csrf = html`<input type="hidden" name="csrf" value="${session.csrf}">`;
  return html`<section class="card" aria-labelledby="conversations-h"><h2 id="conversations-h">Conversations</h2>
<p class="muted">Kept so a client can continue them with only its new messages; each expires after a while unused.</p>
${
  list.length
    ? html`<table><caption class="visually-hidden">Stored conversations</caption><thead><tr><th scope="col">Title</th><th scope="col">Models</th><th scope="col">Turns</th><th scope="col">Cost</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>
${list.map(
  (c) => html`<tr data-conversation-id="${c.id}"><td>${c.title}</td><td>${c.models.join(', ')}</td><td>${c.turnCount}</td><td>${usd(c.costUsd)}</td><td>${c.lastUsedAt.slice(0, 16).replace('T', ' ')}</td>
<td><form method="post" action="${base}${DELETE_CONVERSATION_PATH}" data-confirm="Delete this conversation? It can no longer be continued.">${csrf}<input type="hidden" name="conversation_id" value="${c.id}"><button type="submit" class="danger" aria-label="Delete conversation ${c.title}">Delete</button></form></td></tr>`,
)}</tbody></table>`
    : html`<p data-testid="no-conversations">No stored conversations.</p>`
}
</section>`;
}

/** POST /app/conversations/delete: deletes one of the signed-in user's conversations, then back to the page. */
export async function deleteConversationFromPage(store: ConversationStore | undefined, session: Session, form: URLSearchParams, urls: ServerUrls, logger: Logger): Promise<Response> {
  const id = form.get('conversation_id') ?? '';
  if (!store) return errorPage(urls.base, 'Conversations are off', 'This server does not store conversations. Nothing was changed.', 404);
  if (!CONVERSATION_ID_PATTERN.test(id) || !(await store.delete(session.userId, id))) {
    return errorPage(urls.base, 'No such conversation', 'That conversation does not exist (any more) or is not yours. Nothing was changed.', 404);
  }
  logger.info('conversation deleted', { user_id: session.userId, via: 'web' });
  return redirect(`${urls.base}/app`, [], 303);
}
