/**
 * A tool, declared once: what clients see in tools/list (name, title, description, schemas, annotations), the
 * policy the server applies around it (paid → holds a concurrency slot and counts as spend; needsKey → refused
 * until the user connects an OpenRouter key), and what it does. `createMcpServer` registers the list in index.ts.
 */
import type { ServerContext, ToolAnnotations } from '@modelcontextprotocol/server';
import type * as z from 'zod';
import type { LogFields } from '../observability/logger.js';
import type { ToolDeps } from './context.js';
import type { ToolOutcome, UpstreamRequestKind } from './outcome.js';

/** What runTool needs of a declaration. */
export interface ToolPolicy {
  name: string;
  /**
   * A generation on the user's credit: it holds a concurrency slot while it runs (it keeps a Lambda busy for
   * seconds to minutes; lookups are short and only counted by the rate limit), and its usage is spend.
   */
  paid: boolean;
  /** It calls OpenRouter on the user's own key, so it is refused until one is connected. */
  needsKey: boolean;
  /**
   * What a paid call sends upstream, which decides what team control may rewrite in it and how it bounds its cost:
   * a token-priced generation (the default), or an image request (`POST /images`, priced per image).
   */
  upstream?: UpstreamRequestKind;
}

export interface Tool<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> extends ToolPolicy {
  title: string;
  description: string;
  /** The source of truth for validation; tools/list advertises its (possibly compact) JSON Schema. */
  input: I;
  output: O;
  /**
   * It runs paid generations inside the call, each through runCall as a paid call of its own (compare_models). The
   * call itself is then not `paid` (it holds no slot and writes no ledger record; its generations do), yet it spends
   * the user's credit, so its annotations are a paid call's.
   */
  fansOut?: boolean;
  /** MCP hints; the title is added at registration. */
  annotations: Omit<ToolAnnotations, 'title'>;
  /** Fields known before the call (e.g. the requested model) for the log line. */
  logContext?(args: z.output<I>, ctx: ServerContext): LogFields;
  /**
   * What the tool adds to its arguments before team control judges them (a continued conversation's stored turns),
   * so the policy and the budget see the whole request that will be sent; `carry` reaches `run` unchanged.
   */
  prepare?(args: z.output<I>, deps: ToolDeps): Promise<{ args: z.output<I>; carry?: unknown }>;
  run(args: z.output<I>, ctx: ServerContext, deps: ToolDeps, carry?: unknown): Promise<ToolOutcome<z.output<O>>>;
}

/** Declares a tool; the identity function, there so the arguments of `run` are typed from `input`. */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(tool: Tool<I, O>): Tool<I, O> {
  return tool;
}
