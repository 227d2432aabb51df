/**
 * Streams partial text to the client as MCP progress notifications while a generation runs. The first
 * piece goes out at once (time to first token matters most); later pieces are coalesced to at most one
 * notification per interval so a fast model does not flood the connection.
 *
 * Each notification's `message` holds the text generated since the previous one, so concatenating the
 * messages gives the answer so far; `progress` counts characters generated (content and reasoning).
 * A call made of several generations (compare_models) reports steps instead: which one has finished.
 */
import type { ServerContext } from '@modelcontextprotocol/server';
import type { Delta } from '../openrouter/aggregate.js';

export interface ProgressReporter {
  onDelta(delta: Delta): void;
  /** Sends whatever is pending and waits until every notification has been handed to the transport. */
  flush(): Promise<void>;
}

export function progressReporter(ctx: ServerContext, intervalMs: number, now: () => number = () => performance.now()): ProgressReporter | undefined {
  const progressToken = ctx.mcpReq._meta?.progressToken;
  if (progressToken === undefined) return undefined;

  let progress = 0;
  let pendingText = '';
  let pendingReasoning = false;
  let lastSent = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let chain: Promise<void> = Promise.resolve();

  const send = () => {
    timer = undefined;
    if (!pendingText && !pendingReasoning) return;
    const message = pendingText || 'reasoning…';
    pendingText = '';
    pendingReasoning = false;
    lastSent = now();
    const params = { progressToken, progress, message };
    // Notifications are ordered; a failed send (client gone) must not break the generation.
    chain = chain.then(() => ctx.mcpReq.notify({ method: 'notifications/progress', params })).catch(() => undefined);
  };

  return {
    onDelta(delta) {
      progress += (delta.content?.length ?? 0) + (delta.reasoning?.length ?? 0);
      if (delta.content) pendingText += delta.content;
      else if (delta.reasoning) pendingReasoning = true;
      if (timer) return;
      const wait = lastSent + intervalMs - now();
      if (wait <= 0) send();
      else timer = setTimeout(send, wait);
    },
    async flush() {
      if (timer) clearTimeout(timer);
      send();
      await chain;
    },
  };
}

export interface StepReporter {
  /** One more step is done; `message` says which. */
  step(message: string): void;
  /** Waits until every notification has been handed to the transport. */
  flush(): Promise<void>;
}

/**
 * Progress for a call made of a known number of steps (compare_models: one per model, and the judge): each
 * notification counts the steps done out of `total` and names the one that just finished. Steps are few (at most
 * nine), so none is coalesced.
 */
export function stepReporter(ctx: ServerContext, total: number): StepReporter | undefined {
  const progressToken = ctx.mcpReq._meta?.progressToken;
  if (progressToken === undefined) return undefined;
  let progress = 0;
  let chain: Promise<void> = Promise.resolve();
  return {
    step(message) {
      const params = { progressToken, progress: ++progress, total, message };
      // Ordered, like the text reporter's; a failed send (client gone) must not break the call.
      chain = chain.then(() => ctx.mcpReq.notify({ method: 'notifications/progress', params })).catch(() => undefined);
    },
    flush: () => chain,
  };
}
